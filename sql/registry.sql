-- Registry core: every Confluent operation from SQL, with its error paths.
-- a fresh registry: ids and versions below do not depend on other tests
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Run a statement; print "SQLSTATE confluent-code message" if it fails.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE q INTO r;
	RETURN r;
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ' ' || coalesce(datacontract.error_code(SQLSTATE)::text, '-') || ' ' || SQLERRM;
END
$$;

\set v1 '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}'
\set v2 '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":["null","float"],"default":null,"doc":"Battery charge level as a percentage (0.0–100.0)"}]}'
\set v2bad '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":"float"}]}'

------------------------------------------------------------------------------
-- Register, ids and versions
------------------------------------------------------------------------------
SELECT datacontract.register('sensor-events-value', :'v1') AS id;
-- the same schema again: same id, no new version
SELECT datacontract.register('sensor-events-value', :'v1') AS id;
-- the same schema written differently (key order, whitespace): same id
SELECT datacontract.register('sensor-events-value',
  '{ "namespace" : "com.iot.pipeline", "name": "SensorEvent", "type": "record", "fields": [
     {"type": "string", "name": "device_id"}, {"name":"device_name","default":null,"type":["null","string"]},
     {"name":"timestamp","type":{"type":"long"}}, {"name":"temperature","type":"float"},
     {"name":"humidity","type":"float"}, {"name":"location","type":["null","string"],"default":null}]}') AS id;
-- the same content under another subject shares the id
SELECT datacontract.register('other-value', :'v1') AS id;
-- BACKWARD (the default) accepts an optional field with a default ...
SELECT datacontract.register('sensor-events-value', :'v2') AS id;
-- ... and rejects a required one, saying what broke and where
SELECT pg_temp.try(format('SELECT datacontract.register(%L, %L)', 'sensor-events-value', :'v2bad'));
SELECT * FROM datacontract.versions('sensor-events-value');
SELECT datacontract.get_version('sensor-events-value', '1') - 'schema' AS v1;
SELECT datacontract.get_version('sensor-events-value', 'latest') - 'schema' AS latest;
SELECT datacontract.get_version('sensor-events-value', 'LATEST') - 'schema' AS latest;
SELECT datacontract.get_version('sensor-events-value', '-1') - 'schema' AS latest;
-- the stored text is Java Avro's form of the schema
SELECT datacontract.get_version('sensor-events-value', '1') ->> 'schema' AS stored;
SELECT datacontract.get_schema(1) = (datacontract.get_version('sensor-events-value', '1') ->> 'schema') AS same;
SELECT datacontract.schema_by_id(2) - 'schema' AS by_id, datacontract.schema_by_id(2) ? 'schemaType' AS has_type;
SELECT * FROM datacontract.schema_subjects(1);
SELECT * FROM datacontract.schema_versions(1);
SELECT * FROM datacontract.subjects();
SELECT * FROM datacontract.subjects('sensor');
-- bad version segments, unknown subjects, versions and ids
SELECT pg_temp.try($$SELECT datacontract.get_version('sensor-events-value', '0')$$);
SELECT pg_temp.try($$SELECT datacontract.get_version('sensor-events-value', '-2')$$);
SELECT pg_temp.try($$SELECT datacontract.get_version('sensor-events-value', 'abc')$$);
SELECT pg_temp.try($$SELECT datacontract.get_version('sensor-events-value', '2147483648')$$);
SELECT pg_temp.try($$SELECT datacontract.get_version('sensor-events-value', '')$$);
SELECT pg_temp.try($$SELECT datacontract.get_version('sensor-events-value', '7')$$);
SELECT pg_temp.try($$SELECT datacontract.get_version('no-such-subject', '1')$$);
SELECT pg_temp.try($$SELECT datacontract.versions('no-such-subject')::text$$);
SELECT pg_temp.try($$SELECT datacontract.get_schema(999)$$);
SELECT pg_temp.try($$SELECT datacontract.schema_by_id(-1)::text$$);
SELECT pg_temp.try($$SELECT datacontract.schema_subjects(999)$$);
SELECT pg_temp.try($$SELECT datacontract.schema_versions(999)::text$$);
-- explicit versions outside IMPORT must be the next one
SELECT pg_temp.try(format('SELECT datacontract.register_schema(%L, %L)::text', 'sensor-events-value',
  jsonb_build_object('schema', :'v1', 'version', 5)));

------------------------------------------------------------------------------
-- Lookup
------------------------------------------------------------------------------
SELECT datacontract.lookup_schema('sensor-events-value', :'v1') - 'schema' AS found;
SELECT datacontract.lookup_schema('sensor-events-value', :'v2') - 'schema' AS found;
SELECT pg_temp.try($$SELECT datacontract.lookup_schema('sensor-events-value', '"int"')::text$$);
SELECT pg_temp.try($$SELECT datacontract.lookup_schema('no-such-subject', '"int"')::text$$);

------------------------------------------------------------------------------
-- Invalid input: nothing changes
------------------------------------------------------------------------------
SELECT count(*) AS schemas_before FROM datacontract.schemas;
SELECT pg_temp.try($$SELECT datacontract.register('bad', '{"type": "record", "name": "X"')$$) LIKE 'D2201 42201 Invalid schema %' AS not_json;
SELECT pg_temp.try($$SELECT datacontract.register('bad', '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}')$$) LIKE 'D2201 42201 Invalid schema %' AS unknown_type;
SELECT pg_temp.try($$SELECT datacontract.register('bad', '{"type": "enum", "name": "E", "symbols": ["A", "A"]}')$$) LIKE 'D2201 42201 Invalid schema %' AS dup_symbol;
SELECT pg_temp.try($$SELECT datacontract.register('bad', '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", "default": "x"}]}')$$) LIKE 'D2201 42201 Invalid schema %' AS bad_default;
SELECT pg_temp.try($$SELECT datacontract.register('bad', '')$$);
SELECT pg_temp.try($$SELECT datacontract.register('bad', '{"type":"object"}', 'JSON')$$);
SELECT pg_temp.try($$SELECT datacontract.register('bad', '"string"', 'XML')$$);
SELECT pg_temp.try($$SELECT datacontract.register(E'bad\x01subject', '"string"')$$);
SELECT pg_temp.try($$SELECT datacontract.register('__GLOBAL', '"string"')$$);
SELECT pg_temp.try($$SELECT datacontract.register(NULL, '"string"')$$);
-- oversized schemas: a limit, a GUC
SET datacontract.max_schema_size = '2kB';
SELECT pg_temp.try(format('SELECT datacontract.register(%L, %L)', 'big',
  '{"type":"record","name":"Big","doc":"' || repeat('x', 3000) || '","fields":[]}'));
RESET datacontract.max_schema_size;
-- nesting deeper than the limit
SET datacontract.max_schema_depth = 8;
SELECT pg_temp.try(format('SELECT datacontract.register(%L, %L)', 'deep',
  repeat('{"type":"array","items":', 20) || '"int"' || repeat('}', 20))) LIKE 'D2201 42201 Invalid schema %' AS too_deep;
RESET datacontract.max_schema_depth;
SELECT count(*) AS schemas_after FROM datacontract.schemas;
SELECT count(*) AS bad_subjects FROM datacontract.subject_versions WHERE subject IN ('bad', 'big', 'deep');

------------------------------------------------------------------------------
-- Compatibility checks
------------------------------------------------------------------------------
SELECT is_compatible, cardinality(messages) FROM datacontract.check_compatibility('sensor-events-value', :'v2');
-- against the latest (v2, battery_level optional): the union's null branch cannot be read
SELECT is_compatible, messages[1], messages[2], messages[cardinality(messages)] AS trailer
  FROM datacontract.check_compatibility('sensor-events-value', :'v2bad');
-- against v1 (no battery_level): a required field without a default
SELECT is_compatible, messages[1], messages[2]
  FROM datacontract.check_compatibility('sensor-events-value', :'v2bad', '1');
SELECT is_compatible FROM datacontract.check_compatibility('sensor-events-value', :'v1', 'latest');
SELECT pg_temp.try(format('SELECT (datacontract.check_compatibility(%L, %L, %L)).is_compatible', 'sensor-events-value', :'v1', '9'));
SELECT pg_temp.try(format('SELECT (datacontract.check_compatibility(%L, %L, %L)).is_compatible', 'sensor-events-value', :'v1', 'x'));
-- latest on an unknown subject is compatible
SELECT is_compatible FROM datacontract.check_compatibility('nobody', :'v1', 'latest');
SELECT is_compatible FROM datacontract.check_compatibility('nobody', :'v1');

------------------------------------------------------------------------------
-- Config: global and per subject, PATCH semantics, default to global
------------------------------------------------------------------------------
SELECT datacontract.get_config();
SELECT pg_temp.try($$SELECT datacontract.get_config('sensor-events-value')::text$$);
SELECT datacontract.get_config('sensor-events-value', true);
SELECT datacontract.set_config(NULL, '{"compatibility": "full", "normalize": true}');
SELECT datacontract.get_config();
SELECT datacontract.set_config('sensor-events-value', '{"compatibilityGroup": "application.major.version"}');
-- a subject config without a level takes BACKWARD, not the global level
SELECT datacontract.get_config('sensor-events-value');
SELECT datacontract.get_config('sensor-events-value', true);
SELECT datacontract.set_compatibility('sensor-events-value', 'none');
SELECT datacontract.get_config('sensor-events-value');
-- an explicit null clears a key
SELECT datacontract.set_config('sensor-events-value', '{"compatibilityGroup": null}');
SELECT pg_temp.try($$SELECT datacontract.set_compatibility(NULL, 'SIDEWAYS')::text$$);
SELECT pg_temp.try($$SELECT datacontract.set_config('x', '{"compatibility": 3}')::text$$);
SELECT datacontract.delete_config('sensor-events-value');
SELECT pg_temp.try($$SELECT datacontract.delete_config('sensor-events-value')::text$$);
SELECT datacontract.delete_config();
SELECT datacontract.get_config();
SELECT * FROM datacontract.config;

------------------------------------------------------------------------------
-- Modes
------------------------------------------------------------------------------
SELECT datacontract.get_mode();
SELECT pg_temp.try($$SELECT datacontract.get_mode('sensor-events-value')$$);
SELECT datacontract.get_mode('sensor-events-value', true);
SELECT datacontract.set_mode('other-value', 'READONLY');
SELECT pg_temp.try(format('SELECT datacontract.register(%L, %L)', 'other-value', :'v2'));
SELECT pg_temp.try($$SELECT datacontract.delete_subject('other-value')::text$$);
SELECT pg_temp.try($$SELECT datacontract.set_mode('other-value', 'SLEEPY')$$);
SELECT pg_temp.try($$SELECT datacontract.set_mode('other-value', 'FORWARD')$$);
SELECT datacontract.delete_mode('other-value');
SELECT pg_temp.try($$SELECT datacontract.delete_mode('other-value')$$);
-- IMPORT needs an empty registry unless forced, then takes explicit ids
SELECT pg_temp.try($$SELECT datacontract.set_mode(NULL, 'IMPORT')$$);
SELECT datacontract.set_mode('imported', 'IMPORT');
SELECT datacontract.register_schema('imported', '{"schema": "\"bytes\"", "id": 100, "version": 7}') - 'schema';
SELECT datacontract.register_schema('imported', '{"schema": "\"bytes\"", "id": 100, "version": 7}') - 'schema';
SELECT pg_temp.try($$SELECT datacontract.register_schema('imported', '{"schema": "\"double\"", "id": 100, "version": 8}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.register('imported', '"double"')::text$$);
SELECT pg_temp.try($$SELECT datacontract.register_schema('sensor-events-value', '{"schema": "\"double\"", "id": 300}')::text$$);
SELECT datacontract.delete_mode('imported');
-- the id sequence stays ahead of imported ids
SELECT datacontract.register('after-import', '"boolean"') AS id;

------------------------------------------------------------------------------
-- Deletes: soft, then permanent; every wrong order has its code
------------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT datacontract.delete_version('sensor-events-value', '2', true)::text$$);
SELECT datacontract.delete_version('sensor-events-value', '2');
SELECT pg_temp.try($$SELECT datacontract.delete_version('sensor-events-value', '2')::text$$);
SELECT pg_temp.try($$SELECT datacontract.delete_version('sensor-events-value', '9')::text$$);
SELECT pg_temp.try($$SELECT datacontract.delete_version('nobody', '1')::text$$);
SELECT pg_temp.try($$SELECT datacontract.delete_version('sensor-events-value', '0')::text$$);
-- a soft-deleted version is gone from latest and listings, but its id still reads
SELECT * FROM datacontract.versions('sensor-events-value');
SELECT * FROM datacontract.versions('sensor-events-value', deleted => true);
SELECT * FROM datacontract.versions('sensor-events-value', deleted_only => true);
SELECT datacontract.get_version('sensor-events-value', 'latest') ->> 'version' AS latest;
SELECT datacontract.get_version('sensor-events-value', '2', deleted => true) ->> 'id' AS deleted_v2;
SELECT datacontract.get_schema(2) IS NOT NULL AS id_2_readable;
-- registering the soft-deleted content again: a new version with the same id
SELECT datacontract.register('sensor-events-value', :'v2') AS id;
SELECT * FROM datacontract.versions('sensor-events-value', deleted => true);
-- subjects
SELECT pg_temp.try($$SELECT datacontract.delete_subject('other-value', true)::text$$);
SELECT datacontract.delete_subject('other-value');
SELECT pg_temp.try($$SELECT datacontract.delete_subject('other-value')::text$$);
SELECT * FROM datacontract.subjects();
SELECT * FROM datacontract.subjects(deleted => true);
SELECT * FROM datacontract.subjects(deleted_only => true);
SELECT datacontract.delete_subject('other-value', true);
SELECT pg_temp.try($$SELECT datacontract.delete_subject('other-value')::text$$);
-- version numbers come back after a permanent delete, ids never do
SELECT datacontract.delete_subject('after-import');
SELECT datacontract.delete_subject('after-import', true);
SELECT pg_temp.try($$SELECT datacontract.get_schema(101)$$);
SELECT datacontract.register_schema('after-import', '{"schema": "\"boolean\""}') - 'schema';

------------------------------------------------------------------------------
-- References and referenced-by
------------------------------------------------------------------------------
SELECT datacontract.register('address-value',
  '{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]}') AS id;
SELECT datacontract.register('customer-value',
  '{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"com.acme.Address"}]}',
  "references" => '[{"name": "com.acme.Address", "subject": "address-value", "version": 1}]') AS id;
SELECT datacontract.get_version('customer-value', '1') -> 'references' AS refs;
-- stored as written (the referenced type by name); resolved inlines it
SELECT schema, resolved FROM datacontract.schemas
 WHERE id = (datacontract.get_version('customer-value', '1') ->> 'id')::integer;
-- compatibility of schemas with references uses the resolved forms
SELECT datacontract.register('customer-value',
  '{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"com.acme.Address"},{"name":"vip","type":"boolean","default":false}]}',
  "references" => '[{"name": "com.acme.Address", "subject": "address-value", "version": -1}]') > 0 AS evolved;
SELECT pg_temp.try($$SELECT datacontract.register('customer-value',
  '{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"com.acme.Address"},{"name":"tier","type":"int"}]}',
  "references" => '[{"name": "com.acme.Address", "subject": "address-value", "version": 1}]')::text$$) LIKE 'D0901 409 %READER_FIELD_MISSING_DEFAULT_VALUE%' AS refused;
-- a schema that uses a referenced type without declaring the reference is invalid
SELECT pg_temp.try($$SELECT datacontract.register('customer-value',
  '{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"com.acme.Address"}]}')::text$$) LIKE 'D2201 42201 Invalid schema %' AS missing_reference;
SELECT * FROM datacontract.referenced_by('address-value', '1');
SELECT pg_temp.try($$SELECT datacontract.delete_version('address-value', '1')::text$$);
SELECT pg_temp.try($$SELECT datacontract.delete_subject('address-value')::text$$);
SELECT pg_temp.try($$SELECT datacontract.register('bad-ref', '"string"', "references" => '[{"name": "x", "subject": "nobody", "version": 1}]')::text$$);
-- once the referencing subject is gone for good, the target can go
SELECT datacontract.delete_subject('customer-value');
SELECT datacontract.delete_subject('customer-value', true);
SELECT * FROM datacontract.referenced_by('address-value', '1');
SELECT datacontract.delete_subject('address-value');

------------------------------------------------------------------------------
-- Metadata and rule sets are part of the identity
------------------------------------------------------------------------------
SELECT datacontract.register('meta-value', '"string"') AS id_plain;
SELECT datacontract.register('meta-value', '"string"', metadata => '{"properties": {"owner": "iot-team"}}') AS id_meta;
-- plain text after a version with metadata inherits it: same id
SELECT datacontract.register('meta-value', '"string"') AS id_inherited;
SELECT datacontract.get_version('meta-value', 'latest') - 'schema' AS latest;

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------
SELECT subject, live_versions, all_versions, latest_version, deleted, compatibility
  FROM datacontract.subject_latest ORDER BY subject;
SELECT subject, version, id, deleted, schema_type FROM datacontract.versions_all ORDER BY subject, version;
