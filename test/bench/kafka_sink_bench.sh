#!/usr/bin/env bash
# Kafka sink path benchmark (standalone, never in tests): N recorded sensor
# events (Confluent-framed Avro, v1 and v2 mixed) through the sink path
# (decode + rows + offsets, in batches of 10000, via datacontract._kafka_ingest)
# with and without hourly aggregates, against server-side
# COPY ... (FORMAT binary) of the same rows into the same table.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/lib/pgcluster.sh
N=${N:-1000000}
dc_pg_start "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" >/dev/null
trap dc_pg_stop EXIT
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE EXTENSION datacontract" >/dev/null
q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent.avsc)\$\$)" >/dev/null
q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent-v2.avsc)\$\$)" >/dev/null
q -c "SELECT datacontract.kafka_create_sink_tables()" >/dev/null
echo "recording $N messages..."
q <<SQL
CREATE TABLE rec (batch int, msgs bytea[]);
INSERT INTO rec
SELECT i / 10000, array_agg(m ORDER BY i) FROM (
  SELECT i, CASE WHEN i % 2 = 0 THEN
      '\x0000000001'::bytea || datacontract.avro_encode_raw(jsonb_build_object('device_id', 'sensor-' || (i % 500),
        'device_name', jsonb_build_object('string', 'Sensor ' || (i % 500)), 'timestamp', 1700000000000 + i * 100,
        'temperature', (i % 400) / 10.0, 'humidity', (i % 900) / 10.0, 'location', jsonb_build_object('string', 'Lisbon')),
        datacontract.get_schema(1))
    ELSE
      '\x0000000002'::bytea || datacontract.avro_encode_raw(jsonb_build_object('device_id', 'sensor-' || (i % 500),
        'device_name', jsonb_build_object('string', 'Sensor ' || (i % 500)), 'timestamp', 1700000000000 + i * 100,
        'temperature', (i % 400) / 10.0, 'humidity', (i % 900) / 10.0, 'location', jsonb_build_object('string', 'Lisbon'),
        'battery_level', jsonb_build_object('float', (i % 100)::float)), datacontract.get_schema(2))
    END AS m
  FROM generate_series(0, $N - 1) i) t GROUP BY 1;
SQL
ms() { date +%s%N; }
run_sink() {
	q -c "TRUNCATE public.sensor_events, public.hourly_aggregates; DELETE FROM datacontract.kafka_offsets; CHECKPOINT" >/dev/null
	local t0=$(ms)
	q -c "SELECT sum((datacontract._kafka_ingest('sensor-events', 0, batch * 10000, msgs)).inserted) FROM rec" >/dev/null
	echo $(( ($(ms) - t0) / 1000000 ))
}
q -c "UPDATE datacontract.kafka_streams SET aggregates_table = NULL" >/dev/null
sink_noagg=$(run_sink)
q -c "UPDATE datacontract.kafka_streams SET aggregates_table = 'public.hourly_aggregates'" >/dev/null
sink_agg=$(run_sink)
rows=$(q -c "SELECT count(*) FROM public.sensor_events")
q -c "COPY public.sensor_events TO '$DC_PGDIR/rows.bin' (FORMAT binary)"
q -c "TRUNCATE public.sensor_events; CHECKPOINT" >/dev/null
t0=$(ms)
q -c "COPY public.sensor_events FROM '$DC_PGDIR/rows.bin' (FORMAT binary)"
copy=$(( ($(ms) - t0) / 1000000 ))
echo "rows: $rows"
echo "sink path without aggregates: ${sink_noagg} ms ($(( rows * 1000 / sink_noagg )) rows/s)"
echo "sink path with aggregates:    ${sink_agg} ms ($(( rows * 1000 / sink_agg )) rows/s)"
echo "COPY (FORMAT binary):         ${copy} ms ($(( rows * 1000 / copy )) rows/s)"
awk -v a="$sink_noagg" -v b="$sink_agg" -v c="$copy" 'BEGIN {
	printf "sink/COPY throughput ratio (no aggregates): %.2fx (target >= 0.9x)\n", c / a;
	printf "sink/COPY throughput ratio (aggregates):    %.2fx\n", c / b;
	printf "aggregates overhead: %.1f%% (target <= 10%%)\n", (b - a) * 100 / a }'
