#!/usr/bin/env bash
# The IoT pipeline demo: librdkafka's mock cluster as the Kafka broker, the
# SensorEvent schemas registered, v1 events, then v2 events with
# battery_level, plus a few poison messages, ingested exactly once by the
# datacontract Kafka worker into sensor_events / hourly_aggregates /
# dead_letters.  Starts its own throw-away cluster (with
# shared_preload_libraries) and removes it on exit.  Run by demo/run.sh
# after the extension is built and installed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/lib/pgcluster.sh
unset PGHOST PGPORT DC_PGDATA DC_PGDIR

work=$(mktemp -d /tmp/dc-demo-kafka.XXXXXX)
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
	dc_pg_stop || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== a Kafka broker: librdkafka's mock cluster on loopback (topic sensor-events, 4 partitions)"
gcc -O2 -o "$work/mock_broker" test/kafka/mock_broker.c $(pkg-config --cflags --libs rdkafka)
mkfifo "$work/ctl"
"$work/mock_broker" "$work/bootstrap" "$work/ctl" sensor-events 4 1 2>/dev/null &
broker_pid=$!
for _ in $(seq 50); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$work/bootstrap")
echo "   bootstrap $BOOT"

echo "== PostgreSQL with shared_preload_libraries = 'datacontract'"
dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = 0"
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE EXTENSION datacontract" >/dev/null
V1=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent.avsc)\$\$)")
V2=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent-v2.avsc)\$\$)")
echo "   sensor-events-value: v1 id $V1, v2 id $V2 (battery_level)"
# the sink tables (the worker would create them too) and a CHECK that a poison message breaks
q -c "SELECT datacontract.kafka_create_sink_tables()" \
  -c "ALTER TABLE public.sensor_events ADD CONSTRAINT humidity_range CHECK (humidity BETWEEN 0 AND 100)" >/dev/null
q -c "ALTER SYSTEM SET datacontract.kafka_brokers = '$BOOT'" -c "SELECT pg_reload_conf()" >/dev/null
echo "   datacontract.kafka_brokers set: the launcher starts the sensor-events worker"

echo "== producing: 3000 v1 events, then 3000 v2 events with battery_level and 2 of each poison kind"
/usr/bin/python3 test/kafka/producer.py "$BOOT" sensor-events 3000 --id "$V1" --seed 1 --devices 5 | sed 's/^/   v1: /'
/usr/bin/python3 test/kafka/producer.py "$BOOT" sensor-events 3000 --id "$V2" --v2 --seed 2 --devices 5 --poison 2 | sed 's/^/   v2: /'

for _ in $(seq 60); do
	n=$(q -c "SELECT (SELECT count(*) FROM public.sensor_events) + (SELECT count(*) FROM public.dead_letters)" 2>/dev/null || echo 0)
	[ "$n" = 6016 ] && break
	sleep 0.5
done
sleep 1.5	# the status view's rates and watermarks refresh every second

psql -X -q <<'SQL' 2>&1 | sed 's/^/   /'
\pset footer off
\echo
\echo '-- the worker in pg_stat_activity'
SELECT pid, backend_type, query AS activity FROM pg_stat_activity WHERE backend_type LIKE 'datacontract kafka%';
\echo '-- events per writer schema (v1 read with the v2 reader: battery_level NULL)'
SELECT schema_id, count(*), count(battery_level) AS with_battery_level FROM public.sensor_events GROUP BY 1 ORDER BY 1;
\echo '-- hourly aggregates (UTC hours; averages = sum / count)'
SELECT device_id, hour, count,
	   round((temperature_sum / count)::numeric, 2) AS avg_temperature, temperature_min, temperature_max,
	   round((humidity_sum / count)::numeric, 2) AS avg_humidity
  FROM public.hourly_aggregates ORDER BY device_id, hour LIMIT 12;
\echo '-- dead letters: every message the pipeline could not ingest, with its bytes and why'
SELECT "partition", "offset", schema_id, error_code, left(reason, 70) AS reason, length(value) AS bytes
  FROM public.dead_letters ORDER BY "partition", "offset";
\echo '-- stream status per partition'
SELECT stream, "partition", committed_offset, high_watermark, lag, messages, dead_letters, state
  FROM datacontract.kafka_stream_status ORDER BY "partition";
\echo '-- exactly once: rows = distinct Kafka positions'
SELECT count(*) AS rows, count(DISTINCT (topic, "partition", "offset")) AS positions FROM public.sensor_events;
SQL
echo
echo "== pipeline demo finished; the broker and the cluster are removed"
