#!/usr/bin/env bash
# Real Kafka and Schema Registry clients through our REST API and the Kafka
# worker: Debian python3-confluent-kafka's legacy AvroProducer/AvroConsumer
# and npm kafkajs + @kafkajs/confluent-schema-registry register, produce and
# consume SensorEvent v1 and v2 through librdkafka's mock cluster, with
# schema.registry.url pointing at the extension; the datacontract Kafka
# worker ingests what they produce into public.sensor_events.
# Network: 127.0.0.1 only.
#
# Needs: gcc + librdkafka-dev (the mock broker), /usr/bin/python3 with
# python3-confluent-kafka and python3-avro, node 20 (test/rest/node_modules).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/test/rest_kafka
cd "$top"
. test/lib/pgcluster.sh
. test/lib/tap.sh

work=$(mktemp -d /tmp/dc-rest-kafka.XXXXXX)
chmod 755 "$work"
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	[ -n "${DC_PGDIR:-}" ] && cp "$DC_PGDIR/server.log" /tmp/dc-rest-kafka-last-server.log 2>/dev/null
	dc_pg_stop
	rm -rf "$work"
}
trap cleanup EXIT

PY=/usr/bin/python3
TOPIC=sensor-events
N=50	# records per schema version from the python producer
J=30	# records from the kafkajs producer

if [ ! -d "$top/test/rest/node_modules/kafkajs" ] || [ ! -d "$top/test/rest/node_modules/@kafkajs/confluent-schema-registry" ]; then
	(cd "$top/test/rest" && npm ci --silent >/dev/null 2>&1) || { dc_not_ok "npm modules for the node clients"; exit 1; }
fi
export NODE_PATH=$top/test/rest/node_modules

# -- Broker and server -----------------------------------------------------------
gcc -O2 -o "$work/mock_broker" test/kafka/mock_broker.c $(pkg-config --cflags --libs rdkafka) || {
	dc_not_ok "mock broker builds"; exit 1; }
mkfifo "$work/ctl"
"$work/mock_broker" "$work/bootstrap" "$work/ctl" "$TOPIC" 4 1 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 50); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$work/bootstrap" 2>/dev/null)
dc_check "mock broker is up" test -n "$BOOT"
[ -n "$BOOT" ] || exit 1

port=$(dc_free_port)
dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = $port" \
	"datacontract.kafka_brokers = '$BOOT'" "datacontract.kafka_batch_time = 20ms" || {
	dc_not_ok "cluster starts"; exit 1; }
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
# The shipped stream reads with the latest version of sensor-events-value,
# which the Avro producer registers below: keep the stream paused until then
# (in CREATE EXTENSION's own transaction, so the launcher never sees it run).
q -c "CREATE EXTENSION datacontract; SELECT datacontract.kafka_pause('$TOPIC')" >/dev/null
REG=http://localhost:$port
for _ in $(seq 100); do curl -s -o /dev/null "$REG/" && break; sleep 0.1; done
dc_is "registry answers on $REG" "$(curl -s -m 5 "$REG/subjects")" "[]"

# wait_rows SQL_WHERE COUNT SECONDS: until public.sensor_events has COUNT rows matching
wait_rows() {
	local deadline=$((SECONDS + $3)) got
	while [ $SECONDS -lt $deadline ]; do
		got=$(q -c "SELECT count(*) FROM public.sensor_events WHERE $1" 2>/dev/null)
		[ "$got" = "$2" ] && return 0
		sleep 0.3
	done
	echo "# waited for $2 rows where $1, have '$got'"
	return 1
}

# -- python3-confluent-kafka: AvroProducer registers and produces ---------------
timeout 60 $PY "$here/avro_clients.py" produce "$BOOT" "$REG" "$TOPIC" $N \
	schemas/SensorEvent.avsc schemas/SensorEvent-v2.avsc >"$work/py-produce.out" 2>&1
rc=$?
dc_check "AvroProducer produced $N v1 and $N v2 records through our registry" test $rc = 0
[ $rc = 0 ] || sed 's/^/# /' "$work/py-produce.out" | tail -5
V1=$(curl -s "$REG/subjects/$TOPIC-value/versions/1" | jq -r .id)
V2=$(curl -s "$REG/subjects/$TOPIC-value/versions/2" | jq -r .id)
dc_is "AvroProducer registered v1 and v2 as versions 1 and 2 of $TOPIC-value" \
	"$(curl -s "$REG/subjects/$TOPIC-value/versions")" "[1,2]"
dc_is "... and the registry has the v2 schema with battery_level" \
	"$(curl -s "$REG/schemas/ids/$V2" | jq -r .schema | jq -r '[.fields[].name] | last')" "battery_level"

q -c "SELECT datacontract.kafka_create_sink_tables()" -c "SELECT datacontract.kafka_resume('$TOPIC')" >/dev/null
dc_check "the Kafka worker ingested the $((2 * N)) python records" wait_rows "device_id LIKE 'py-%'" $((2 * N)) 60
dc_is "schema ids in sensor_events are the registry's ids (v1 $V1, v2 $V2)" \
	"$(q -c "SELECT string_agg(schema_id || ':' || n, ',' ORDER BY schema_id) FROM (SELECT schema_id, count(*) n FROM public.sensor_events WHERE device_id LIKE 'py-%' GROUP BY 1) t")" \
	"$V1:$N,$V2:$N"
dc_is "battery_level is NULL for v1 records and set for v2 records" \
	"$(q -c "SELECT count(*) FILTER (WHERE device_id LIKE 'py-v1-%' AND battery_level IS NULL) || ' ' || count(*) FILTER (WHERE device_id LIKE 'py-v2-%' AND battery_level = 50 + (substr(device_id, 7)::int % 50)) FROM public.sensor_events")" \
	"$N $N"
dc_is "v1 records were written with schema v1, v2 records with v2" \
	"$(q -c "SELECT count(*) FROM public.sensor_events WHERE (device_id LIKE 'py-v1-%' AND schema_id <> $V1) OR (device_id LIKE 'py-v2-%' AND schema_id <> $V2)")" 0
dc_is "field values survive (name, timestamp, temperature, humidity, location)" \
	"$(q -c "SELECT count(*) FROM public.sensor_events e, LATERAL (SELECT substr(e.device_id, 7)::int AS i) x
	          WHERE e.device_id LIKE 'py-%'
	            AND e.device_name IS NOT DISTINCT FROM CASE WHEN x.i % 3 = 0 THEN NULL ELSE 'sensor ' || x.i END
	            AND e.\"timestamp\" = 1700000000000 + x.i * 1000
	            AND e.temperature = 20.0 + (x.i % 10) * 0.5 AND e.humidity = 40.0 + (x.i % 20)
	            AND e.location IS NOT DISTINCT FROM CASE WHEN x.i % 2 = 1 THEN 'hall' END")" $((2 * N))

# -- python3-confluent-kafka: AvroConsumer decodes through our registry ---------
timeout 60 $PY "$here/avro_clients.py" consume "$BOOT" "$REG" "$TOPIC" $((2 * N)) py-group \
	>"$work/py-consume.out" 2>"$work/py-consume.err"
rc=$?
dc_check "AvroConsumer read the $((2 * N)) records back" test $rc = 0
[ $rc = 0 ] || sed 's/^/# /' "$work/py-consume.err" | tail -5
dc_is "AvroConsumer: v1 records decoded without battery_level" \
	"$(grep -c '"device_id": "py-v1-' "$work/py-consume.out") $(grep '"device_id": "py-v1-' "$work/py-consume.out" | grep -c battery_level)" "$N 0"
dc_is "AvroConsumer: v2 records decoded with battery_level" \
	"$(jq -s -c '[.[] | select(.device_id | startswith("py-v2-"))] | [length, ([.[] | select(.battery_level == 50 + ((.device_id[6:] | tonumber) % 50))] | length)]' "$work/py-consume.out")" "[$N,$N]"
dc_is "AvroConsumer: one decoded record in full" \
	"$(grep '"device_id": "py-v1-0007"' "$work/py-consume.out")" \
	'{"device_id": "py-v1-0007", "device_name": "sensor 7", "humidity": 47.0, "location": "hall", "temperature": 23.5, "timestamp": 1700000007000}'

# -- kafkajs + @kafkajs/confluent-schema-registry ---------------------------------
timeout 60 node "$here/kafkajs_clients.js" produce "$BOOT" "$REG" "$TOPIC" $J schemas/SensorEvent-v2.avsc \
	>"$work/js-produce.out" 2>&1
rc=$?
dc_check "kafkajs registered, encoded and produced $J records" test $rc = 0
[ $rc = 0 ] || sed 's/^/# /' "$work/js-produce.out" | tail -5
dc_is "kafkajs: registering v2 again gave the existing id" "$(jq -c .id "$work/js-produce.out" 2>/dev/null)" "$V2"
dc_is "kafkajs: no new version" "$(curl -s "$REG/subjects/$TOPIC-value/versions")" "[1,2]"
dc_check "the Kafka worker ingested the $J kafkajs records" wait_rows "device_id LIKE 'js-%'" $J 60
dc_is "kafkajs records: schema id, values and battery_level" \
	"$(q -c "SELECT count(*) FROM public.sensor_events WHERE device_id LIKE 'js-%' AND schema_id = $V2
	           AND battery_level = 75.5 AND humidity = 30.5 AND temperature = 15.25 + substr(device_id, 4)::int
	           AND \"timestamp\" = 1700000500000 + substr(device_id, 4)::int * 1000
	           AND device_name IS NOT DISTINCT FROM CASE WHEN substr(device_id, 4)::int % 2 = 1 THEN 'node ' || substr(device_id, 4)::int END")" $J
dc_is "nothing went to dead_letters" "$(q -c "SELECT count(*) FROM public.dead_letters")" 0

total=$((2 * N + J))
timeout 60 node "$here/kafkajs_clients.js" consume "$BOOT" "$REG" "$TOPIC" $total js-group \
	>"$work/js-consume.out" 2>"$work/js-consume.err"
rc=$?
dc_check "kafkajs consumed and decoded all $total records (python's and its own)" test $rc = 0
[ $rc = 0 ] || sed 's/^/# /' "$work/js-consume.err" | tail -5
dc_is "kafkajs: decoded v1 records have no battery_level, v2 and its own have it" \
	"$(jq -s -c '[([.[] | select(.device_id | startswith("py-v1-")) | has("battery_level")] | unique), ([.[] | select(.device_id | startswith("py-v2-")) | .battery_level != null] | unique), ([.[] | select(.device_id | startswith("js-")) | .battery_level] | unique)]' "$work/js-consume.out")" \
	'[[false],[true],[75.5]]'
dc_is "kafkajs: one of its own records decoded in full" \
	"$(jq -c 'select(.device_id == "js-0003")' "$work/js-consume.out")" \
	'{"device_id":"js-0003","device_name":"node 3","timestamp":1700000503000,"temperature":18.25,"humidity":30.5,"location":null,"battery_level":75.5}'
dc_is "rows in sensor_events = records produced" "$(q -c "SELECT count(*) FROM public.sensor_events")" $total
! grep -qE "terminated by signal" "$DC_PGDIR/server.log"
dc_check "no worker crashed" test $? = 0
