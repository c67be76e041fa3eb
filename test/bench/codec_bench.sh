#!/usr/bin/env bash
# Benchmarks of the Avro codec (not part of the test suite; prints figures,
# asserts nothing).  Needs the extension installed; installs libavro-dev and
# valgrind when missing (as root).
#   (a) the seed's SensorEvent: our plan decoder vs avro-c's generic decoder on
#       the same 1M messages, then instructions per message under callgrind;
#   (b) SELECT datacontract.avro_decode(m) FROM t vs SELECT j::jsonb FROM t2
#       over 1M stored messages / the same records as JSON text.
#   CODEC_BENCH_N (default 1000000), CODEC_BENCH_CALLGRIND_N (default 20000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
n=${CODEC_BENCH_N:-1000000}
cn=${CODEC_BENCH_CALLGRIND_N:-20000}
work=$(mktemp -d /tmp/dc-bench.XXXXXX)
chmod 755 "$work"

# avro-c and valgrind from Debian, installed when missing (as root)
missing=()
[ -f /usr/include/avro.h ] || missing+=(libavro-dev)
command -v valgrind >/dev/null || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "codec_bench.sh needs ${missing[*]}: run it as root to install them" >&2
		exit 1
	fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== (a) decoder: ours vs avro-c ($n messages)"
pglib=/usr/lib/postgresql/15/lib
cflags="-O2 -g -Wno-ignored-attributes -I$top/src -I$(pg_config --includedir-server) $(pkg-config --cflags jansson)"
for f in "$top"/src/avro_schema_parse.c "$top"/src/avro_schema_json.c "$top"/src/avro_codec_decode.c \
	"$top"/test/fuzz/codec/pg_shim.c "$here/codec_decode_bench.c" "$here/codec_decode_avroc.c"; do
	gcc $cflags -c "$f" -o "$work/$(basename "${f%.c}").o"
done
gcc "$work"/*.o -o "$work/bench" $pglib/libpgcommon.a $pglib/libpgport.a \
	$(pkg-config --libs jansson) -lavro -lcrypto -lm
"$work/bench" "$n" both

echo "== (a) instructions per message (callgrind, $cn messages, minus a 0-message run)"
ir() {
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$work/bench" "$1" "$2" >/dev/null 2>"$work/cg.log"
	grep -o 'Collected : [0-9]*' "$work/cg.log" | grep -o '[0-9]*$'
}
for w in ours avroc; do
	base=$(ir 1 "$w")
	full=$(ir "$cn" "$w")
	gen=$(ir "$cn" none)
	gen1=$(ir 1 none)
	echo "$w: $(( (full - base - (gen - gen1)) / (cn - 1) )) instructions/message"
done

echo "== (b) SQL: avro_decode over $n stored messages vs j::jsonb over the same records as JSON"
rm -rf "$work"/*.o
. "$top/test/lib/pgcluster.sh"
trap 'dc_pg_stop; rm -rf "$work"' EXIT
dc_pg_start "shared_preload_libraries = 'datacontract'" "shared_buffers = 512MB" "max_parallel_workers_per_gather = 0" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION datacontract;
SELECT datacontract.register('bench-sensor-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}') AS id \gset
CREATE TABLE t2 AS SELECT json_build_object('device_id', 'sensor-' || lpad((i % 10000)::text, 5, '0'),
	'device_name', CASE WHEN i % 2 = 0 THEN 'Device ' || (i % 977) END,
	'timestamp', 1700000000000 + i * 1000, 'temperature', 15 + (i % 2000) / 100.0,
	'humidity', 30 + (i % 5000) / 100.0, 'location', 'building-' || (i % 12) || '/floor-' || (i % 7))::text AS j
	FROM generate_series(1, $n) i;
CREATE TABLE t AS SELECT datacontract.avro_encode('bench-sensor-value', j::jsonb) AS m FROM t2;
VACUUM ANALYZE t; VACUUM ANALYZE t2;
SELECT avg(length(m))::numeric(6,1) AS avg_message_bytes, avg(length(j))::numeric(6,1) AS avg_json_bytes FROM t, LATERAL (SELECT j FROM t2 LIMIT 1) x;
SQL
run() { # best of 3, ms
	best=
	for _ in 1 2 3; do
		ms=$(psql -X -At -c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
		best=$(/usr/bin/python3 -c "print(min(float('$ms'), float('${best:-1e18}')))")
	done
	echo "$best"
}
a=$(run "SELECT datacontract.avro_decode(m) FROM t")
b=$(run "SELECT j::jsonb FROM t2")
/usr/bin/python3 -c "a=$a; b=$b; n=$n; print('avro_decode(m): %.0f ms (%.0f ns/row); j::jsonb: %.0f ms (%.0f ns/row); ratio %.2fx' % (a, a*1e6/n, b, b*1e6/n, b/a))"
