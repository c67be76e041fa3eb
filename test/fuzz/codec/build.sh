#!/usr/bin/env bash
# Build the codec's libFuzzer targets into DIR (default test/fuzz/codec/build):
#   fuzz_decode  writer schema NUL [reader schema NUL] body
#   fuzz_schema  schema text
# The backend code (schema parser, codec core) is linked with pg_shim.c.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=${1:-$here/build}
mkdir -p "$out"
cc=${CC_FUZZ:-clang-14}
pglib=$(pg_config --pkglibdir 2>/dev/null)/../lib
[ -f "$pglib/libpgcommon.a" ] || pglib=/usr/lib/postgresql/15/lib
cflags="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
	-Wno-ignored-attributes -I$top/src -I$(pg_config --includedir-server) $(pkg-config --cflags jansson)"
objs=()
for f in "$top"/src/avro_schema_parse.c "$top"/src/avro_schema_json.c "$top"/src/avro_codec_decode.c "$here/pg_shim.c"; do
	o="$out/$(basename "${f%.c}").o"
	$cc $cflags -c "$f" -o "$o"
	objs+=("$o")
done
libs="$pglib/libpgcommon.a $pglib/libpgport.a $(pkg-config --libs jansson) -lcrypto -lm"
for t in decode schema; do
	$cc $cflags -fsanitize=fuzzer -c "$here/fuzz_$t.c" -o "$out/fuzz_$t.o"
	$cc -fsanitize=fuzzer,address,undefined "$out/fuzz_$t.o" "${objs[@]}" $libs -o "$out/fuzz_$t"
done
echo "built $out/fuzz_decode $out/fuzz_schema"
