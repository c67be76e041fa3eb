#!/usr/bin/env bash
# Kafka whole-pipeline benchmark (standalone, never in tests): N sensor events
# produced (lz4, batched, P partitions) into librdkafka's mock cluster
# (test/kafka/mock_broker.c), then a PostgreSQL cluster with datacontract
# preloaded starts consuming them: mock broker -> worker -> events table,
# hourly aggregates and offsets.  Throughput is N over the span from the
# first batch's start (the rows' ingested_at) to the last batch's commit
# (track_commit_timestamp), compared with server-side COPY ... (FORMAT binary)
# of the same rows into the same table in the same run; also in CPU time (the
# worker's main thread against COPY's backend), steadier than wall-clock time
# on a machine shared with other work.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/lib/pgcluster.sh
N=${N:-1000000}
P=${P:-16}
AGG=${AGG:-1}	# 0: the stream without its hourly aggregates

work=$(mktemp -d /tmp/dc-kbench.XXXXXX)
chmod 755 "$work"
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	dc_pg_stop
	rm -rf "$work"
}
trap cleanup EXIT
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
ms() { date +%s%N | cut -c1-13; }

cflags=$(pkg-config --cflags --libs rdkafka)
gcc -O2 -o "$work/mock_broker" test/kafka/mock_broker.c $cflags
gcc -O2 -o "$work/kafka_produce" test/bench/kafka_produce.c $cflags
mkfifo "$work/ctl"
"$work/mock_broker" "$work/bootstrap" "$work/ctl" sensor-events "$P" 1 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$work/bootstrap")

dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = 0" \
	"shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
	"track_commit_timestamp = on" >/dev/null
q -c "CREATE EXTENSION datacontract" >/dev/null
V1=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent.avsc)\$\$)")
V2=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent-v2.avsc)\$\$)")
q -c "SELECT datacontract.kafka_create_sink_tables()" >/dev/null
[ "$AGG" = 1 ] || q -c "UPDATE datacontract.kafka_streams SET aggregates_table = NULL" >/dev/null

echo "producing $N messages to $P partitions..."
timeout 120 "$work/kafka_produce" "$BOOT" sensor-events "$P" "$N" "$V1" "$V2"

q -c "CHECKPOINT" -c "ALTER SYSTEM SET datacontract.kafka_brokers = '$BOOT'" -c "SELECT pg_reload_conf()" >/dev/null
deadline=$(( $(date +%s) + 180 ))
while :; do
	done_=$(q -c "SELECT coalesce(sum(next_offset), 0) FROM datacontract.kafka_offsets")
	[ "$done_" -ge "$N" ] && break
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "timed out: $done_ of $N messages committed" >&2
		exit 1
	fi
	sleep 0.05
done
wpid=$(q -c "SELECT pid FROM datacontract.kafka_stream_status WHERE pid IS NOT NULL LIMIT 1")
# the worker's main thread (the one writing to the database) in CPU time;
# its start-up before the first batch is included
worker_cpu_ms=$(( $(cut -d' ' -f1 "/proc/$wpid/task/$wpid/schedstat") / 1000000 ))
worker_mem=$(awk '/^(VmHWM|RssAnon)/ { printf "%s %s MB  ", $1, int($2 / 1024) }' "/proc/$wpid/status")
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo "?"; }
cpu_line="CPU seconds used: worker ${wpid:+$(cpu "$wpid")} (its librdkafka threads included), mock broker $(cpu "$broker_pid"), $(nproc) cores"
read -r rows dead span_ms batches < <(q -F' ' -c "
	SELECT (SELECT count(*) FROM public.sensor_events),
	       (SELECT count(*) FROM public.dead_letters),
	       round(extract(epoch FROM max(pg_xact_commit_timestamp(xmin)) - min(ingested_at)) * 1000),
	       count(DISTINCT xmin::text)
	  FROM public.sensor_events")
[ "$rows" = "$N" ] || { echo "$rows rows for $N messages ($dead dead letters)" >&2; exit 1; }
[ "$AGG" = 1 ] && { [ "$(q -c "SELECT sum(count) FROM public.hourly_aggregates")" = "$N" ] || {
	echo "hourly aggregates do not count $N events" >&2; exit 1; }; }

# COPY runs alone: the worker stopped, the broker gone
q -c "SELECT datacontract.kafka_pause('sensor-events')" >/dev/null
kill "$broker_pid" && wait "$broker_pid" 2>/dev/null || true
broker_pid=
for _ in $(seq 100); do
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract kafka worker'")" = 0 ] && break
	sleep 0.1
done
q -c "COPY public.sensor_events TO '$DC_PGDIR/rows.bin' (FORMAT binary)"
copy=() copy_cpu=()
for r in 1 2 3; do
	q -c "TRUNCATE public.sensor_events" -c "CHECKPOINT" >/dev/null
	t0=$(ms)
	read -r c0 c1 < <(q -c "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)" \
		-c "COPY public.sensor_events FROM '$DC_PGDIR/rows.bin' (FORMAT binary)" \
		-c "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)" | paste -sd ' ')
	copy+=($(( $(ms) - t0 )))
	copy_cpu+=($(( (c1 - c0) / 1000000 )))
done
copy_ms=$(printf '%s\n' "${copy[@]}" | sort -n | sed -n 2p)
copy_cpu_ms=$(printf '%s\n' "${copy_cpu[@]}" | sort -n | sed -n 2p)
echo "rows: $rows in $batches transactions, $P partitions, aggregates: $([ "$AGG" = 1 ] && echo on || echo off)"
echo "pipeline (first batch start to last commit): ${span_ms} ms ($(( rows * 1000 / span_ms )) rows/s)"
echo "COPY (FORMAT binary), median of 3:            ${copy_ms} ms ($(( rows * 1000 / copy_ms )) rows/s) [${copy[*]}]"
echo "$cpu_line"
echo "worker memory at the end (librdkafka's prefetch queue included): $worker_mem"
echo "CPU time: worker's main thread ${worker_cpu_ms} ms, COPY's backend ${copy_cpu_ms} ms (median) [${copy_cpu[*]}]"
awk -v a="$span_ms" -v c="$copy_ms" -v wc="$worker_cpu_ms" -v cc="$copy_cpu_ms" 'BEGIN {
	printf "pipeline/COPY throughput ratio: %.2fx wall-clock (target >= 0.5x), %.2fx CPU time\n", c / a, cc / wc }'
