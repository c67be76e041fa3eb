#!/usr/bin/env bash
# Kafka latency and worker memory benchmark (standalone, never in tests),
# through librdkafka's mock cluster (test/kafka/mock_broker.c):
#  1. event-to-visible latency at RATE messages/s for LAT_SECS: each event's
#     timestamp is its producer send time; its latency is the commit time of
#     the transaction that made its row visible (track_commit_timestamp)
#     minus that; p50, p99 and max.
#  2. the worker's memory over SOAK_SECS at SOAK_RATE messages/s: VmRSS and
#     RssAnon (private memory; VmRSS also counts shared buffers the worker
#     touches) from /proc/<pid>/status at the start, every 20 s, and the end.
# Bounded to about LAT_SECS + SOAK_SECS + 30 s.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/lib/pgcluster.sh
RATE=${RATE:-100}
LAT_SECS=${LAT_SECS:-30}
SOAK_RATE=${SOAK_RATE:-20000}
SOAK_SECS=${SOAK_SECS:-120}
P=${P:-8}

work=$(mktemp -d /tmp/dc-kbench.XXXXXX)
chmod 755 "$work"
broker_pid=
prod_pid=
cleanup() {
	[ -n "$prod_pid" ] && kill "$prod_pid" 2>/dev/null
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	dc_pg_stop
	rm -rf "$work"
}
trap cleanup EXIT
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }

cflags=$(pkg-config --cflags --libs rdkafka)
gcc -O2 -o "$work/mock_broker" test/kafka/mock_broker.c $cflags
gcc -O2 -o "$work/kafka_produce" test/bench/kafka_produce.c $cflags
mkfifo "$work/ctl"
"$work/mock_broker" "$work/bootstrap" "$work/ctl" sensor-events "$P" 1 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$work/bootstrap")

dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = 0" \
	"shared_buffers = 256MB" "max_wal_size = 4GB" "track_commit_timestamp = on" >/dev/null
q -c "CREATE EXTENSION datacontract" >/dev/null
V1=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent.avsc)\$\$)")
V2=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent-v2.avsc)\$\$)")
q -c "SELECT datacontract.kafka_create_sink_tables()" >/dev/null
q -c "ALTER SYSTEM SET datacontract.kafka_brokers = '$BOOT'" -c "SELECT pg_reload_conf()" >/dev/null
pid=
for _ in $(seq 100); do
	pid=$(q -c "SELECT pid FROM datacontract.kafka_stream_status WHERE state LIKE 'consuming%' LIMIT 1")
	[ -n "$pid" ] && break
	sleep 0.1
done
[ -n "$pid" ] || { echo "the worker did not start" >&2; exit 1; }

wait_for() {	# wait until $1 rows are in, for at most 30 s
	for _ in $(seq 600); do
		[ "$(q -c "SELECT coalesce(sum(next_offset), 0) FROM datacontract.kafka_offsets")" -ge "$1" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $1 rows" >&2
	exit 1
}

# 1. latency
n1=$(( RATE * LAT_SECS ))
echo "latency: $n1 messages at $RATE/s..."
timeout $(( LAT_SECS + 30 )) "$work/kafka_produce" "$BOOT" sensor-events "$P" "$n1" "$V1" "$V2" "$RATE" >/dev/null
wait_for "$n1"
q -F' ' -c "
	SELECT 'event-to-visible latency (ms): p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1)
	       || ', p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1)
	       || ' (target <= 100), max ' || round(max(l)::numeric, 1) || ', ' || count(*) || ' events in '
	       || count(DISTINCT x) || ' batches'
	  FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - event_time) * 1000 AS l, xmin::text AS x
	          FROM public.sensor_events) t"

# 2. memory over a long run
mem() { awk '/^VmRSS|^RssAnon/ { printf "%s %s kB  ", $1, $2 }' "/proc/$pid/status"; }
n2=$(( SOAK_RATE * SOAK_SECS ))
echo "memory: $n2 messages at $SOAK_RATE/s over ${SOAK_SECS}s, worker pid $pid"
echo "  start: $(mem)"
"$work/kafka_produce" "$BOOT" sensor-events "$P" "$n2" "$V1" "$V2" "$SOAK_RATE" >"$work/soak.out" &
prod_pid=$!
t=0
while kill -0 "$prod_pid" 2>/dev/null && [ "$t" -lt $(( SOAK_SECS + 20 )) ]; do
	sleep 5
	t=$(( t + 5 ))
	[ $(( t % 20 )) = 0 ] && echo "  ${t}s: $(mem) rows $(q -c "SELECT coalesce(sum(next_offset), 0) FROM datacontract.kafka_offsets")"
done
wait "$prod_pid" || { echo "producer failed" >&2; exit 1; }
prod_pid=
wait_for $(( n1 + n2 ))
echo "  end:   $(mem) rows $(q -c "SELECT count(*) FROM public.sensor_events")"
[ "$(q -c "SELECT pid FROM datacontract.kafka_stream_status LIMIT 1")" = "$pid" ] || echo "the worker restarted during the run"
