-- Kafka ingestion: the SQL surface that works without a broker.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
DROP TABLE IF EXISTS public.sensor_events, public.hourly_aggregates, public.dead_letters;

-- the shipped stream
SELECT name, topic, subject, reader_version, events_table, aggregates_table, dead_letters_table,
	   aggregate_fields, enabled, paused
  FROM datacontract.kafka_streams;

-- no workers without shared_preload_libraries and brokers
SELECT stream, "partition", state FROM datacontract.kafka_stream_status;

-- sink tables need the reader schema
SELECT datacontract.kafka_create_sink_tables();
SELECT datacontract.register('sensor-events-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[
 {"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},
 {"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},
 {"name":"location","type":["null","string"],"default":null}]}') AS v1;
SELECT datacontract.register('sensor-events-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[
 {"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},
 {"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},
 {"name":"location","type":["null","string"],"default":null},
 {"name":"battery_level","type":["null","float"],"default":null}]}') AS v2;
SELECT datacontract.kafka_create_sink_tables();
SELECT datacontract.kafka_create_sink_tables();	-- idempotent
SELECT attname, format_type(atttypid, atttypmod), attnotnull
  FROM pg_attribute WHERE attrelid = 'public.sensor_events'::regclass AND attnum > 0 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'public.hourly_aggregates'::regclass AND attnum > 0 ORDER BY attnum;
-- not members of the extension
SELECT count(*) FROM pg_depend WHERE objid IN ('public.sensor_events'::regclass, 'public.dead_letters'::regclass)
   AND deptype = 'e';

-- the sink path: v1 and v2 messages, a late event, and poison
ALTER TABLE public.sensor_events ADD CONSTRAINT humidity_range CHECK (humidity BETWEEN 0 AND 100);
SELECT * FROM datacontract._kafka_ingest('sensor-events', 0, 0, ARRAY[
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d1","device_name":"One","timestamp":1700000000000,"temperature":20.5,"humidity":40,"location":"Lisbon"}', 1),
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d1","timestamp":1700000100000,"temperature":21.5,"humidity":42,"battery_level":80.5}', 2),
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d2","timestamp":1700003600000,"temperature":-3,"humidity":90}', 2),
	'\x0100000001'::bytea || '\x02'::bytea,											-- bad magic byte
	'\x00000003e7'::bytea || '\x02'::bytea,											-- unknown schema id 999
	'\x0000000001'::bytea || '\x0664'::bytea,										-- corrupt body (truncated)
	'\x0000'::bytea,																-- truncated frame
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d3","timestamp":4611686018427387904,"temperature":1,"humidity":1}', 1),	-- timestamp out of range
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d4","timestamp":1700000000000,"temperature":1,"humidity":150}', 1),		-- CHECK violation
	NULL																			-- tombstone
], ARRAY['k1', 'k2', 'k3', 'k4']::bytea[]);
SELECT "partition", "offset", schema_id, device_id, device_name, temperature, humidity, location, battery_level,
	   event_time, extra
  FROM public.sensor_events ORDER BY "offset";
SELECT "partition", "offset", key, schema_id, error_code, sqlstate,
	   regexp_replace(reason, ': Failing row contains.*', '') AS reason
  FROM public.dead_letters ORDER BY "offset";
SELECT device_id, hour, count, temperature_sum, temperature_min, temperature_max, humidity_sum, humidity_min, humidity_max
  FROM public.hourly_aggregates ORDER BY 1, 2;
SELECT stream, topic, "partition", next_offset FROM datacontract.kafka_offsets;

-- a late event updates its hour; a replay of the same positions is skipped
SELECT * FROM datacontract._kafka_ingest('sensor-events', 0, 10, ARRAY[
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d1","timestamp":1700000200000,"temperature":19,"humidity":41}', 2)]);
SELECT * FROM datacontract._kafka_ingest('sensor-events', 0, 0, ARRAY[
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d1","device_name":"One","timestamp":1700000000000,"temperature":20.5,"humidity":40,"location":"Lisbon"}', 1),
	datacontract.avro_encode('sensor-events-value', '{"device_id":"d9","timestamp":1700000000000,"temperature":1,"humidity":1}', 1)]);
SELECT device_id, hour, count, temperature_sum, temperature_min FROM public.hourly_aggregates ORDER BY 1, 2;
SELECT count(*), count(DISTINCT (topic, "partition", "offset")) FROM public.sensor_events;

-- operations
SELECT datacontract.kafka_pause('sensor-events');
SELECT paused, generation FROM datacontract.kafka_streams;
SELECT stream, state FROM datacontract.kafka_stream_status WHERE "partition" IS NOT DISTINCT FROM 0;
SELECT datacontract.kafka_resume('sensor-events');
SELECT datacontract.kafka_restart('sensor-events');
SELECT datacontract.kafka_reset_offsets('sensor-events', 'latest');
SELECT datacontract.kafka_reset_offsets('sensor-events', 'timestamp', '2024-01-01 00:00+00');
SELECT paused, generation, reset_to, reset_at FROM datacontract.kafka_streams;
SELECT datacontract.kafka_reset_offsets('sensor-events', 'nowhere');
SELECT datacontract.kafka_reset_offsets('sensor-events', 'timestamp');
SELECT datacontract.kafka_pause('no-such-stream');

-- a stream with its own tables and no aggregates; unknown field names in extra
SELECT datacontract.register('plain-value', '{"type":"record","name":"P","fields":[{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}') > 0;
INSERT INTO datacontract.kafka_streams (name, topic, subject, events_table, dead_letters_table, time_field, group_field)
	VALUES ('plain', 'plain', 'plain-value', 'public.plain_events', 'public.plain_dead', NULL, NULL);
SELECT * FROM datacontract._kafka_ingest('plain', 3, 100, ARRAY[
	datacontract.avro_encode('plain-value', '{"id":7,"tags":["a","b"],"ts":1700000000000}')]);
SELECT "partition", "offset", id, tags, ts FROM public.plain_events;
SELECT stream, "partition", next_offset FROM datacontract.kafka_offsets ORDER BY 1;

-- the contract's READ rules run in the sink: a failing condition (DLQ) is a
-- dead letter naming the rule, a transform changes what is stored
SELECT datacontract.register('ruled-value', '{"type":"record","name":"Reading","fields":[{"name":"device_id","type":"string"},{"name":"temperature","type":"double"}]}',
  rule_set => '{"domainRules":[{"name":"checkTemp","kind":"CONDITION","type":"CEL","mode":"READ","expr":"message.temperature < 100.0","onFailure":"DLQ"},{"name":"upperId","kind":"TRANSFORM","type":"CEL_FIELD","mode":"READ","expr":"name == ''device_id'' ; value.upperAscii()"}]}') > 0;
INSERT INTO datacontract.kafka_streams (name, topic, subject, events_table, dead_letters_table, time_field, group_field)
	VALUES ('ruled', 'ruled', 'ruled-value', 'public.ruled_events', 'public.ruled_dead', NULL, NULL);
SELECT * FROM datacontract._kafka_ingest('ruled', 0, 0, ARRAY[
	datacontract.avro_encode('ruled-value', '{"device_id":"ok-1","temperature":21.5}'),
	datacontract.avro_encode('ruled-value', '{"device_id":"hot-1","temperature":250}'),
	datacontract.avro_encode('ruled-value', '{"device_id":"ok-2","temperature":-4}')]);
SELECT "offset", device_id, temperature FROM public.ruled_events ORDER BY 1;
SELECT "offset", schema_id IS NOT NULL AS has_id, error_code, reason FROM public.ruled_dead ORDER BY 1;

-- dropping the extension keeps the users' data
DROP EXTENSION datacontract;
SELECT count(*) FROM public.sensor_events;
DROP TABLE IF EXISTS public.sensor_events, public.hourly_aggregates, public.dead_letters, public.plain_events, public.plain_dead,
	public.ruled_events, public.ruled_dead;
CREATE EXTENSION datacontract;
