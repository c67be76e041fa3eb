#!/usr/bin/env bash
# Build the JSONata interpreter's libFuzzer target into DIR (default
# test/fuzz/jsonata/build): fuzz_jsonata takes an expression's text.  The
# core (rules_jsonata_core.c) is linked with test/fuzz/codec/pg_shim.c and
# jsonata_shim.c instead of the backend.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=${1:-$here/build}
mkdir -p "$out"
cc=${CC_FUZZ:-clang-14}
pglib=$(pg_config --pkglibdir 2>/dev/null)/../lib
[ -f "$pglib/libpgcommon.a" ] || pglib=/usr/lib/postgresql/15/lib
cflags="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
	-Wno-ignored-attributes -I$top/src -I$(pg_config --includedir-server)"
objs=()
for f in "$top/src/rules_jsonata_core.c" "$top/test/fuzz/codec/pg_shim.c" "$here/jsonata_shim.c"; do
	o="$out/$(basename "${f%.c}").o"
	$cc $cflags -c "$f" -o "$o"
	objs+=("$o")
done
$cc $cflags -fsanitize=fuzzer -c "$here/fuzz_jsonata.c" -o "$out/fuzz_jsonata.o"
$cc -fsanitize=fuzzer,address,undefined "$out/fuzz_jsonata.o" "${objs[@]}" \
	"$pglib/libpgcommon.a" "$pglib/libpgport.a" -lm -o "$out/fuzz_jsonata"
echo "built $out/fuzz_jsonata"
