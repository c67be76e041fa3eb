#!/usr/bin/env bash
# Build the CEL libFuzzer target into DIR (default test/fuzz/cel/build):
#   fuzz_cel  expression text (guard form allowed), evaluated over a fixed message
# and cel_cli, the same harness as a command-line driver (expressions as
# arguments).  The parser and evaluator are linked with the codec's pg_shim.c.
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
for f in "$top"/src/rules_cel_parse.c "$top"/src/rules_cel_eval.c "$top/test/fuzz/codec/pg_shim.c"; do
	o="$out/$(basename "${f%.c}").o"
	$cc $cflags -c "$f" -o "$o"
	objs+=("$o")
done
libs="$pglib/libpgcommon.a $pglib/libpgport.a -lm"
$cc $cflags -fsanitize=fuzzer -c "$here/fuzz_cel.c" -o "$out/fuzz_cel.o"
$cc -fsanitize=fuzzer,address,undefined "$out/fuzz_cel.o" "${objs[@]}" $libs -o "$out/fuzz_cel"
$cc $cflags -DCEL_CLI -c "$here/fuzz_cel.c" -o "$out/cel_cli.o"
$cc -fsanitize=address,undefined "$out/cel_cli.o" "${objs[@]}" $libs -o "$out/cel_cli"
echo "built $out/fuzz_cel $out/cel_cli"
