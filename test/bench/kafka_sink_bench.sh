#!/usr/bin/env bash
# Kafka sink path benchmark (standalone, never in tests): N recorded sensor
# events (Confluent-framed Avro, v1 and v2 mixed) through the sink path
# (decode + rows + offsets, batches of 10000, one sink kept open as the worker
# keeps it) with and without hourly aggregates, against server-side
# COPY ... (FORMAT binary) of the same rows into the same table.
#
# The sink is timed inside C around each KafkaSinkWriteBatch call (through
# kafka_sink_replay, which this script declares), one transaction per batch
# as in the worker: reading the recording is the broker's part, not the
# sink's.  Each figure is the median of R runs
# (alternating the modes), from one run of this script, in wall-clock time
# and in the backend's CPU time (the sink's from clock_gettime in C, COPY's
# from /proc/self/schedstat): on a machine shared with other work the
# wall-clock figures swing by tens of percent between runs, CPU time far
# less.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/lib/pgcluster.sh
N=${N:-1000000}
R=${R:-3}
dc_pg_start "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" >/dev/null
trap dc_pg_stop EXIT
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE EXTENSION datacontract" >/dev/null
q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent.avsc)\$\$)" >/dev/null
q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent-v2.avsc)\$\$)" >/dev/null
q -c "SELECT datacontract.kafka_create_sink_tables()" >/dev/null
q <<'SQL' >/dev/null
CREATE FUNCTION public.kafka_sink_replay(stream text, query text, batch_size integer DEFAULT 10000,
		OUT batches integer, OUT inserted bigint, OUT dead_letters bigint, OUT sink_ms float8,
		OUT sink_cpu_ms float8, OUT agg_rows bigint, OUT agg_direct bigint, OUT agg_ms float8,
		OUT agg_remembered bigint)
	RETURNS record AS '$libdir/datacontract', 'kafka_sink_replay' LANGUAGE C VOLATILE;
SQL
echo "recording $N messages..."
q <<SQL
CREATE TABLE rec ("partition" integer, "offset" bigint PRIMARY KEY, key bytea, value bytea);
INSERT INTO rec
SELECT 0, i, NULL, CASE WHEN i % 2 = 0 THEN
      '\x0000000001'::bytea || datacontract.avro_encode_raw(jsonb_build_object('device_id', 'sensor-' || (i % 500),
        'device_name', jsonb_build_object('string', 'Sensor ' || (i % 500)), 'timestamp', 1700000000000 + i * 100,
        'temperature', (i % 400) / 10.0, 'humidity', (i % 900) / 10.0, 'location', jsonb_build_object('string', 'Lisbon')),
        datacontract.get_schema(1))
    ELSE
      '\x0000000002'::bytea || datacontract.avro_encode_raw(jsonb_build_object('device_id', 'sensor-' || (i % 500),
        'device_name', jsonb_build_object('string', 'Sensor ' || (i % 500)), 'timestamp', 1700000000000 + i * 100,
        'temperature', (i % 400) / 10.0, 'humidity', (i % 900) / 10.0, 'location', jsonb_build_object('string', 'Lisbon'),
        'battery_level', jsonb_build_object('float', (i % 100)::float)), datacontract.get_schema(2))
    END
  FROM generate_series(0, $N - 1) i;
VACUUM ANALYZE rec;
SQL
reset() {
	q -c "TRUNCATE public.sensor_events, public.hourly_aggregates; DELETE FROM datacontract.kafka_offsets" \
	  -c "VACUUM datacontract.kafka_offsets" -c "CHECKPOINT" >/dev/null
}
ms() { date +%s%N; }
# One statement, so one transaction, per batch, as the worker commits each
# batch; the sink's own time is summed.  Prints "sink_ms cpu_ms wall_ms
# agg_rows agg_direct agg_ms agg_remembered".
run_sink() {
	reset
	local t0=$(ms) out
	out=$(for ((b = 0; b < N; b += 10000)); do
		echo "SELECT sink_ms, sink_cpu_ms, inserted, agg_rows, agg_direct, agg_ms, agg_remembered FROM public.kafka_sink_replay('sensor-events', 'SELECT * FROM rec WHERE \"offset\" >= $b AND \"offset\" < $((b + 10000)) ORDER BY \"offset\"');"
	done | q)
	local wall=$(( ($(ms) - t0) / 1000000 ))
	echo "$out" | awk -F'|' -v n="$N" -v w="$wall" '{ ms += $1; cpu += $2; rows += $3; ar += $4; at += $5; am += $6; rm += $7 }
		END { if (rows != n) { print "sink inserted " rows " rows, expected " n > "/dev/stderr"; exit 1 }
			  printf "%.0f %.0f %d %d %d %.0f %d\n", ms, cpu, w, ar, at, am, rm }'
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
noagg=() agg=() noagg_cpu=() agg_cpu=() noagg_wall=() agg_wall=() agg_own=()
for r in $(seq "$R"); do
	q -c "UPDATE datacontract.kafka_streams SET aggregates_table = NULL" >/dev/null
	read -r s c w _ _ _ _ < <(run_sink); noagg+=("$s"); noagg_cpu+=("$c"); noagg_wall+=("$w")
	q -c "UPDATE datacontract.kafka_streams SET aggregates_table = 'public.hourly_aggregates'" >/dev/null
	read -r s c w agg_written agg_direct a agg_remembered < <(run_sink); agg+=("$s"); agg_cpu+=("$c"); agg_wall+=("$w"); agg_own+=("$a")
done
agg_rows=$(q -c "SELECT sum(count) FROM public.hourly_aggregates")
[ "$agg_rows" = "$N" ] || { echo "aggregates count $agg_rows rows, expected $N" >&2; exit 1; }
rows=$(q -c "SELECT count(*) FROM public.sensor_events")
q -c "COPY public.sensor_events TO '$DC_PGDIR/rows.bin' (FORMAT binary)"
# COPY's backend CPU time from /proc/self/schedstat (nanoseconds on CPU)
copy=() copy_cpu=()
for r in $(seq "$R"); do
	reset
	t0=$(ms)
	read -r c0 c1 < <(q -c "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)" \
		-c "COPY public.sensor_events FROM '$DC_PGDIR/rows.bin' (FORMAT binary)" \
		-c "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)" | paste -sd ' ')
	copy+=($(( ($(ms) - t0) / 1000000 )))
	copy_cpu+=($(( (c1 - c0) / 1000000 )))
done
sink_noagg=$(echo "${noagg[*]}" | median)
sink_agg=$(echo "${agg[*]}" | median)
copy_ms=$(echo "${copy[*]}" | median)
cpu_noagg=$(echo "${noagg_cpu[*]}" | median)
cpu_agg=$(echo "${agg_cpu[*]}" | median)
cpu_copy=$(echo "${copy_cpu[*]}" | median)
echo "rows: $rows, runs: $R (median; all runs in brackets)"
echo "wall-clock time:"
echo "  sink path without aggregates: ${sink_noagg} ms ($(( rows * 1000 / sink_noagg )) rows/s) [${noagg[*]}; wall incl. reading the recording: ${noagg_wall[*]}]"
echo "  sink path with aggregates:    ${sink_agg} ms ($(( rows * 1000 / sink_agg )) rows/s) [${agg[*]}; wall: ${agg_wall[*]}]"
echo "  COPY (FORMAT binary):         ${copy_ms} ms ($(( rows * 1000 / copy_ms )) rows/s) [${copy[*]}]"
echo "backend CPU time (steadier on a shared machine):"
echo "  sink path without aggregates: ${cpu_noagg} ms [${noagg_cpu[*]}]"
echo "  sink path with aggregates:    ${cpu_agg} ms [${agg_cpu[*]}]"
echo "  COPY (FORMAT binary):         ${cpu_copy} ms [${copy_cpu[*]}]"
own=$(echo "${agg_own[*]}" | median)
echo "time writing the aggregates, inside the sink with aggregates: ${own} ms [${agg_own[*]}] = $(awk -v a="$own" -v b="$sink_agg" 'BEGIN { printf "%.1f", a * 100 / (b - a) }')% over the rest of that sink"
echo "aggregate rows written per run: $agg_written ($(( agg_direct * 100 / agg_written ))% of them in C, the rest through SQL; $(( agg_remembered * 100 / agg_written ))% found where the previous batch left them)"
awk -v a="$sink_noagg" -v b="$sink_agg" -v c="$copy_ms" -v ca="$cpu_noagg" -v cb="$cpu_agg" -v cc="$cpu_copy" 'BEGIN {
	printf "sink/COPY throughput ratio (no aggregates): %.2fx wall, %.2fx CPU (target >= 0.9x)\n", c / a, cc / ca;
	printf "sink/COPY throughput ratio (aggregates):    %.2fx wall, %.2fx CPU\n", c / b, cc / cb;
	printf "aggregates overhead: %.1f%% wall, %.1f%% CPU (target <= 10%%)\n", (b - a) * 100 / a, (cb - ca) * 100 / ca }'
