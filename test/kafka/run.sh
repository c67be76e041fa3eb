#!/usr/bin/env bash
# Kafka ingestion end to end: librdkafka's mock cluster as the broker, the
# seed's producers (v1 and v2 at once, poison messages), the worker under
# faults (kill -9, PostgreSQL restarts fast and immediate, broker down and
# up, injected fetch errors), and the exactly-once checks: rows = produced,
# no duplicates, every poison message in dead_letters, hourly_aggregates =
# the aggregates recomputed from sensor_events.  Network: 127.0.0.1 only.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/lib/pgcluster.sh
. test/lib/tap.sh

work=$(mktemp -d /tmp/dc-kafka.XXXXXX)
chmod 755 "$work"
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	[ -n "${DC_PGDIR:-}" ] && cp "$DC_PGDIR/server.log" /tmp/dc-kafka-last-server.log 2>/dev/null
	dc_pg_stop
	rm -rf "$work"
}
trap cleanup EXIT

PY=/usr/bin/python3
gcc -O2 -o "$work/mock_broker" test/kafka/mock_broker.c $(pkg-config --cflags --libs rdkafka) || {
	dc_not_ok "mock broker builds"; exit 1; }
mkfifo "$work/ctl"
"$work/mock_broker" "$work/bootstrap" "$work/ctl" sensor-events 4 3 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 50); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$work/bootstrap")
dc_check "mock broker is up" test -n "$BOOT"
ctl() { echo "$*" >"$work/ctl"; }

dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = 0" \
	"datacontract.kafka_batch_time = 20ms" "log_min_messages = log" || { dc_not_ok "cluster starts"; exit 1; }
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }

# 1. No extension, no brokers: the launcher idles quietly.
sleep 2
dc_is "launcher idles without the extension" \
	"$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract kafka launcher'")" 1
q -c "CREATE EXTENSION datacontract" >/dev/null
# Brokers set before the subject has a version: the worker waits for it (it
# once crashed in a loop here, taking every backend down with it).
q -c "ALTER SYSTEM SET datacontract.kafka_brokers = '$BOOT'" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
	grep -q 'cannot start: subject "sensor-events-value" has no version' "$DC_PGDIR/server.log" && break
	sleep 0.2
done
dc_check "a stream whose subject has no version yet waits for one" \
	grep -q 'cannot start: subject "sensor-events-value" has no version' "$DC_PGDIR/server.log"
sleep 1
dc_is "... without crashing" "$(grep -c 'terminated by signal' "$DC_PGDIR/server.log")" 0
q -c "ALTER SYSTEM RESET datacontract.kafka_brokers" -c "SELECT pg_reload_conf()" >/dev/null
V1=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent.avsc)\$\$)")
V2=$(q -c "SELECT datacontract.register('sensor-events-value', \$\$$(cat schemas/SensorEvent-v2.avsc)\$\$)")
dc_check "schemas registered (v1 id $V1, v2 id $V2)" test -n "$V1" -a -n "$V2"
for _ in $(seq 1 50); do
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract kafka worker'")" = 0 ] && break
	sleep 0.2
done
dc_is "no worker without brokers" \
	"$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract kafka worker'")" 0
dc_is "status says no brokers" \
	"$(q -c "SELECT state FROM datacontract.kafka_stream_status WHERE stream = 'sensor-events'")" "no brokers configured"
# the sink tables, with a CHECK that makes one kind of poison a row rejected by PostgreSQL
q -c "SELECT datacontract.kafka_create_sink_tables()" \
  -c "ALTER TABLE public.sensor_events ADD CONSTRAINT humidity_range CHECK (humidity BETWEEN 0 AND 100)" >/dev/null

# 2. Brokers set by reload: the worker starts; v1 and v2 producers at once.
q -c "ALTER SYSTEM SET datacontract.kafka_brokers = '$BOOT'" -c "SELECT pg_reload_conf()" >/dev/null
$PY test/kafka/producer.py "$BOOT" sensor-events 20000 --id "$V1" --seed 1 --poison 3 >"$work/p1.out" 2>&1 &
p1=$!
$PY test/kafka/producer.py "$BOOT" sensor-events 20000 --id "$V2" --v2 --seed 2 --poison 2 >"$work/p2.out" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
dc_check "producers v1 and v2 delivered" test "$r1" = 0 -a "$r2" = 0
good=40000
poison=40

# wait until everything produced so far is accounted for
wait_for() {	# wait_for EXPECTED_GOOD EXPECTED_DEAD SECONDS
	local deadline=$((SECONDS + $3)) got
	while [ $SECONDS -lt $deadline ]; do
		got=$(q -c "SELECT (SELECT count(*) FROM public.sensor_events) || ' ' || (SELECT count(*) FROM public.dead_letters)" 2>/dev/null)
		[ "$got" = "$1 $2" ] && return 0
		sleep 0.5
	done
	echo "# waited for '$1 $2', have '$got'"
	return 1
}
dc_check "all 40000 good events ingested and 40 poison messages dead-lettered" wait_for $good $poison 60
dc_is "both writer schemas ingested" \
	"$(q -c "SELECT string_agg(schema_id || ':' || n, ',' ORDER BY schema_id) FROM (SELECT schema_id, count(*) n FROM public.sensor_events GROUP BY 1) t")" \
	"$V1:20000,$V2:20000"
dc_is "v1 events read with battery_level null, v2 events keep it" \
	"$(q -c "SELECT count(*) FILTER (WHERE schema_id = $V1 AND battery_level IS NOT NULL) || ' ' || (count(*) FILTER (WHERE schema_id = $V2 AND battery_level IS NOT NULL) > 15000) FROM public.sensor_events")" "0 true"
dc_is "event_time derived from timestamp" \
	"$(q -c "SELECT count(*) FROM public.sensor_events WHERE event_time <> to_timestamp(\"timestamp\" / 1000.0)")" 0
dc_is "every poison kind in dead_letters" \
	"$(q -c "SELECT string_agg(error_code || '=' || n, ',' ORDER BY error_code) FROM (SELECT error_code, count(*) n FROM public.dead_letters GROUP BY 1) t")" \
	"bad_magic_byte=5,corrupt_body=5,null_value=5,row_rejected=5,truncated_frame=5,unknown_schema_id=5,value_rejected=10"
dc_is "dead letters keep bytes, position, schema id and reason" \
	"$(q -c "SELECT count(*) FROM public.dead_letters WHERE topic = 'sensor-events' AND \"offset\" >= 0 AND reason <> '' AND (value IS NOT NULL OR error_code = 'null_value') AND (schema_id IS NOT NULL OR error_code IN ('bad_magic_byte', 'truncated_frame', 'null_value'))")" 40
dc_is "row rejected by a CHECK has its SQLSTATE" \
	"$(q -c "SELECT DISTINCT sqlstate FROM public.dead_letters WHERE error_code = 'row_rejected'")" 23514

check_aggregates() {
	q -c "WITH r AS (SELECT device_id, date_bin('1 hour', event_time, '2000-01-01 00:00+00') AS hour, count(*) AS count,
		sum(temperature::float8) ts, min(temperature::float8) tmin, max(temperature::float8) tmax,
		sum(humidity::float8) hs, min(humidity::float8) hmin, max(humidity::float8) hmax
		FROM public.sensor_events GROUP BY 1, 2)
	SELECT count(*) FROM r FULL JOIN public.hourly_aggregates a USING (device_id, hour)
	 WHERE a.count IS DISTINCT FROM r.count OR abs(a.temperature_sum - r.ts) > 1e-6 * greatest(abs(r.ts), 1)
	    OR a.temperature_min IS DISTINCT FROM r.tmin OR a.temperature_max IS DISTINCT FROM r.tmax
	    OR abs(a.humidity_sum - r.hs) > 1e-6 * greatest(abs(r.hs), 1)
	    OR a.humidity_min IS DISTINCT FROM r.hmin OR a.humidity_max IS DISTINCT FROM r.hmax
	    OR a.count IS NULL OR r.count IS NULL"
}
dc_is "hourly_aggregates = aggregates recomputed from sensor_events" "$(check_aggregates)" 0
status_now() { q -c "SELECT count(*) || ' ' || sum(lag) || ' ' || min(state) FROM datacontract.kafka_stream_status WHERE stream = 'sensor-events'"; }
for _ in $(seq 20); do [ "$(status_now)" = "4 0 consuming sensor-events" ] && break; sleep 0.5; done
dc_is "status view: 4 partitions, no lag" "$(status_now)" "4 0 consuming sensor-events"
dc_is "committed offsets = high watermarks" \
	"$(q -c "SELECT sum(next_offset) FROM datacontract.kafka_offsets")" $((good + poison))
dc_is "worker visible in pg_stat_activity" \
	"$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract kafka worker' AND query LIKE 'consuming%'")" 1

# 3. Faults while a producer runs: kill -9 (three times), broker down and up,
# fetch errors, PostgreSQL restarts fast and immediate.
$PY test/kafka/producer.py "$BOOT" sensor-events 60000 --id "$V2" --v2 --seed 3 --rate 6000 >"$work/p3.out" 2>&1 &
p3=$!
worker_pid() { q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'datacontract kafka worker'" 2>/dev/null; }
kills=0
for i in 1 2 3; do
	sleep 1.5
	pid=""
	for _ in $(seq 40); do pid=$(worker_pid); [ -n "$pid" ] && break; sleep 0.25; done
	[ -n "$pid" ] && kill -9 "$pid" && kills=$((kills + 1))
	# the postmaster reinitialises after a crashed child: wait for it to accept connections
	for _ in $(seq 60); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.25; done
done
dc_is "worker killed with SIGKILL 3 times mid-stream" "$kills" 3
# Each kill makes the postmaster restart the server; it remembers workers
# started less than a minute before and the new launcher waits longer each
# time (the first kill may come more than a minute after that worker started).
delays=$(grep -o 'after a crash; starting it in [0-9]* ms' "$DC_PGDIR/server.log" | grep -o '[0-9][0-9]*' | paste -sd ' ')
dc_check "crash restarts delay the worker more each time ($delays)" \
	test "$delays" = "1000 2000 4000" -o "$delays" = "1000 2000"
sleep 1
ctl "down 1"; sleep 1.5; ctl "up 1"
ctl "errors 1 6 10"		# NOT_LEADER_FOR_PARTITION on the next 10 fetches
ctl "errors 1 7 10"		# REQUEST_TIMED_OUT
sleep 1
dc_pg_restart fast; r_fast=$?
sleep 1.5
dc_pg_restart immediate; r_imm=$?
dc_check "PostgreSQL restarted fast and immediate mid-stream" test "$r_fast" = 0 -a "$r_imm" = 0
wait $p3
dc_check "faulted producer delivered" test $? = 0
good=$((good + 60000))
dc_check "after the faults: all $good good events ingested, $poison dead letters" wait_for $good $poison 90
dc_is "no duplicates: rows = distinct positions = produced" \
	"$(q -c "SELECT count(*) || ' ' || count(DISTINCT (topic, \"partition\", \"offset\")) FROM public.sensor_events")" "$good $good"
dc_is "hourly_aggregates still equal the recomputed aggregates" "$(check_aggregates)" 0
dc_is "the unique constraint on the position is there to prove it" \
	"$(q -c "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.sensor_events'::regclass AND contype = 'u'")" 1

# 4. Operations: pause, resume, reset to earliest (a replay is skipped, not duplicated).
q -c "SELECT datacontract.kafka_pause('sensor-events')" >/dev/null
sleep 2
dc_is "paused: no worker, state paused" \
	"$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract kafka worker'")/$(q -c "SELECT DISTINCT state FROM datacontract.kafka_stream_status WHERE stream = 'sensor-events'")" "0/paused"
$PY test/kafka/producer.py "$BOOT" sensor-events 1000 --id "$V1" --seed 4 >/dev/null 2>&1
good=$((good + 1000))
q -c "SELECT datacontract.kafka_resume('sensor-events')" >/dev/null
dc_check "resumed: the 1000 events produced while paused arrive" wait_for $good $poison 30
before=$(q -c "SELECT sum(count) FROM public.hourly_aggregates")
q -c "SELECT datacontract.kafka_reset_offsets('sensor-events', 'earliest')" >/dev/null
sleep 6
dc_check "reset to earliest: replayed messages skipped, nothing duplicated" wait_for $good $poison 30
dc_is "aggregates not counted twice after the replay" \
	"$(q -c "SELECT sum(count) FROM public.hourly_aggregates")" "$before"
dc_is "offsets back at the end after the replay" \
	"$(q -c "SELECT sum(next_offset) FROM datacontract.kafka_offsets")" $((good + poison))

# A column dropped and one added while the worker runs: it opens its sink
# again (the old one would name a column that no longer exists), and the
# dropped column's field goes to extra.
mark=$(wc -l <"$DC_PGDIR/server.log")
q -c "ALTER TABLE public.sensor_events DROP COLUMN location, ADD COLUMN note text" >/dev/null
$PY test/kafka/producer.py "$BOOT" sensor-events 500 --id "$V2" --v2 --seed 5 >/dev/null 2>&1
good=$((good + 500))
dc_check "a column dropped while running: the next 500 events arrive" wait_for $good $poison 30
dc_is "... with the dropped column's field in extra" \
	"$(q -c "SELECT count(*) > 0 FROM public.sensor_events WHERE extra ? 'location'")" t
since_alter=$(tail -n +$((mark + 1)) "$DC_PGDIR/server.log")
dc_check "... and the worker said why it opened its sink again" \
	grep -q "the columns of its events table changed; its sink is open again" <<<"$since_alter"
dc_is "... without a failed batch or a restart" \
	"$(grep -cE "failed, retrying|exited, restarting it" <<<"$since_alter")" 0

# 5. Clear logs: no flood of repeated lines.
lines=$(grep -c "datacontract Kafka" "$DC_PGDIR/server.log")
dc_check "server log has few Kafka lines ($lines)" test "$lines" -lt 80
q -c "DROP EXTENSION datacontract" >/dev/null
dc_is "DROP EXTENSION keeps the sink tables" \
	"$(q -c "SELECT count(*) FROM pg_class WHERE oid IN ('public.sensor_events'::regclass, 'public.hourly_aggregates'::regclass, 'public.dead_letters'::regclass)")" 3
