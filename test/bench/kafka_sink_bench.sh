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
# (alternating the modes), from one run of this script.
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
		OUT batches integer, OUT inserted bigint, OUT dead_letters bigint, OUT sink_ms float8)
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
# batch; the sink's own time is summed.  Prints "sink_ms wall_ms".
run_sink() {
	reset
	local t0=$(ms) out
	out=$(for ((b = 0; b < N; b += 10000)); do
		echo "SELECT sink_ms, inserted FROM public.kafka_sink_replay('sensor-events', 'SELECT * FROM rec WHERE \"offset\" >= $b AND \"offset\" < $((b + 10000)) ORDER BY \"offset\"');"
	done | q)
	local wall=$(( ($(ms) - t0) / 1000000 ))
	echo "$out" | awk -F'|' -v n="$N" -v w="$wall" '{ ms += $1; rows += $2 }
		END { if (rows != n) { print "sink inserted " rows " rows, expected " n > "/dev/stderr"; exit 1 }
			  printf "%.0f %d\n", ms, w }'
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
noagg=() agg=() noagg_wall=() agg_wall=()
for r in $(seq "$R"); do
	q -c "UPDATE datacontract.kafka_streams SET aggregates_table = NULL" >/dev/null
	read -r s w < <(run_sink); noagg+=("$s"); noagg_wall+=("$w")
	q -c "UPDATE datacontract.kafka_streams SET aggregates_table = 'public.hourly_aggregates'" >/dev/null
	read -r s w < <(run_sink); agg+=("$s"); agg_wall+=("$w")
done
agg_rows=$(q -c "SELECT sum(count) FROM public.hourly_aggregates")
[ "$agg_rows" = "$N" ] || { echo "aggregates count $agg_rows rows, expected $N" >&2; exit 1; }
rows=$(q -c "SELECT count(*) FROM public.sensor_events")
q -c "COPY public.sensor_events TO '$DC_PGDIR/rows.bin' (FORMAT binary)"
copy=()
for r in $(seq "$R"); do
	reset
	t0=$(ms)
	q -c "COPY public.sensor_events FROM '$DC_PGDIR/rows.bin' (FORMAT binary)"
	copy+=($(( ($(ms) - t0) / 1000000 )))
done
sink_noagg=$(echo "${noagg[*]}" | median)
sink_agg=$(echo "${agg[*]}" | median)
copy_ms=$(echo "${copy[*]}" | median)
echo "rows: $rows, runs: $R (median; all runs in brackets)"
echo "sink path without aggregates: ${sink_noagg} ms ($(( rows * 1000 / sink_noagg )) rows/s) [${noagg[*]}; wall incl. reading the recording: ${noagg_wall[*]}]"
echo "sink path with aggregates:    ${sink_agg} ms ($(( rows * 1000 / sink_agg )) rows/s) [${agg[*]}; wall: ${agg_wall[*]}]"
echo "COPY (FORMAT binary):         ${copy_ms} ms ($(( rows * 1000 / copy_ms )) rows/s) [${copy[*]}]"
awk -v a="$sink_noagg" -v b="$sink_agg" -v c="$copy_ms" 'BEGIN {
	printf "sink/COPY throughput ratio (no aggregates): %.2fx (target >= 0.9x)\n", c / a;
	printf "sink/COPY throughput ratio (aggregates):    %.2fx\n", c / b;
	printf "aggregates overhead: %.1f%% (target <= 10%%)\n", (b - a) * 100 / a }'
