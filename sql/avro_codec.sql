-- The Avro binary codec: framing, every type, logical types, resolution,
-- encoding, and errors.
-- a fresh registry: ids below do not depend on other tests
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
SET extra_float_digits = 0;

-- The seed's SensorEvent, v1 and v2 (adds battery_level).
SELECT datacontract.register('codec-sensor-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}') AS v1_id \gset
SELECT datacontract.register('codec-sensor-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":["null","float"],"default":null,"doc":"Battery charge level as a percentage (0.0–100.0)"}]}') AS v2_id \gset

-- Encode with v1 (version 1) and with v2 (latest).
SELECT datacontract.avro_encode('codec-sensor-value', '{"device_id":"sensor-001","device_name":"Lab","timestamp":1700000000000,"temperature":21.5,"humidity":40.25,"location":null}', 1) AS m1 \gset
SELECT datacontract.avro_encode('codec-sensor-value', '{"device_id":"sensor-002","timestamp":1700000000001,"temperature":-3.25,"humidity":99.5,"location":"roof","battery_level":87.5}') AS m2 \gset
SELECT datacontract.avro_schema_id(:'m1') = :v1_id AS v1_framed, datacontract.avro_schema_id(:'m2') = :v2_id AS v2_framed;
SELECT encode(substring(:'m1'::bytea from 6), 'hex') AS v1_body;
SELECT datacontract.avro_decode(:'m1');
SELECT datacontract.avro_decode(:'m2');
-- v1 bytes read as v2: battery_level takes its default
SELECT datacontract.avro_decode(:'m1', :v2_id);
-- v2 bytes read as v1: battery_level is skipped
SELECT datacontract.avro_decode(:'m2', :v1_id);
SELECT datacontract.avro_decode(:'m2', avro_json => true);

-- populate_record into a composite type
CREATE TYPE codec_sensor AS (device_id text, device_name text, "timestamp" bigint,
	temperature real, humidity double precision, location text, battery_level real, extra int);
SELECT * FROM datacontract.avro_populate_record(NULL::codec_sensor, :'m1', :v2_id);
SELECT * FROM datacontract.avro_populate_record(NULL::codec_sensor, :'m2');

-- Primitives round trip through encode_raw and decode_raw.
CREATE TEMP TABLE prim(schema text, value jsonb);
INSERT INTO prim VALUES
	('"null"', 'null'), ('"boolean"', 'true'), ('"boolean"', 'false'),
	('"int"', '0'), ('"int"', '-1'), ('"int"', '2147483647'), ('"int"', '-2147483648'),
	('"long"', '9223372036854775807'), ('"long"', '-9223372036854775808'), ('"long"', '300'),
	('"float"', '3.14'), ('"float"', '"NaN"'), ('"float"', '"-Infinity"'), ('"double"', '0.1'),
	('"double"', '1e300'), ('"double"', '"Infinity"'), ('"double"', '-0.000001'),
	('"string"', '""'), ('"string"', '"héllo wörld ✓ 🎉"'), ('"bytes"', '"\\x7fff10"'),
	('"bytes"', '"\\x"'),
	('{"type":"fixed","name":"F4","size":4}', '"\\xdeadbeef"'),
	('{"type":"enum","name":"Suit","symbols":["SPADES","HEARTS"]}', '"HEARTS"'),
	('{"type":"array","items":"long"}', '[1,-2,3]'), ('{"type":"array","items":"int"}', '[]'),
	('{"type":"map","values":"string"}', '{"a":"x","b":"y"}'),
	('["null","int","string"]', '"s"'), ('["null","int","string"]', '7'), ('["null","int","string"]', 'null');
SELECT schema, value, encode(datacontract.avro_encode_raw(value, schema), 'hex') AS hex,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw(value, schema), schema) AS natural,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw(value, schema), schema, NULL, true) AS avro_json
FROM prim;

-- Avro JSON input is accepted too: wrapped unions, bytes as code points.
SELECT encode(datacontract.avro_encode_raw('{"string":"s"}', '["null","int","string"]'), 'hex'),
	encode(datacontract.avro_encode_raw('"\u00ff\u0001"', '"bytes"'), 'hex'),
	encode(datacontract.avro_encode_raw('{"R":{"a":1}}', '["null",{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}]'), 'hex');

-- Recursive types.
SELECT datacontract.avro_decode_raw(datacontract.avro_encode_raw(
	'{"value":1,"next":{"value":2,"next":{"value":3,"next":null}}}', s), s),
	datacontract.avro_decode_raw(datacontract.avro_encode_raw(
	'{"value":1,"next":{"value":2,"next":null}}', s), s, NULL, true)
FROM (VALUES ('{"type":"record","name":"Node","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"]}]}')) v(s);

-- Logical types, natural form and Avro JSON form.
CREATE TEMP TABLE logical(schema text, value jsonb);
INSERT INTO logical VALUES
	('{"type":"int","logicalType":"date"}', '"2024-02-29"'),
	('{"type":"int","logicalType":"date"}', '"1969-12-31"'),
	('{"type":"int","logicalType":"time-millis"}', '"12:34:56.789"'),
	('{"type":"long","logicalType":"time-micros"}', '"23:59:59.999999"'),
	('{"type":"long","logicalType":"timestamp-millis"}', '"2024-02-29T12:34:56.789Z"'),
	('{"type":"long","logicalType":"timestamp-millis"}', '"1969-12-31T23:59:59.999Z"'),
	('{"type":"long","logicalType":"timestamp-micros"}', '"2024-02-29T14:34:56.123456+02:00"'),
	('{"type":"long","logicalType":"timestamp-micros"}', '0'),
	('{"type":"long","logicalType":"local-timestamp-millis"}', '"2024-02-29T12:34:56"'),
	('{"type":"long","logicalType":"local-timestamp-micros"}', '"2024-02-29 12:34:56.5"'),
	('{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}', '12345.67'),
	('{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}', '-0.01'),
	('{"type":"bytes","logicalType":"decimal","precision":40,"scale":0}', '-123456789012345678901234567890123456789'),
	('{"type":"fixed","name":"Dec","size":8,"logicalType":"decimal","precision":12,"scale":4}', '-3.5'),
	('{"type":"string","logicalType":"uuid"}', '"123e4567-e89b-12d3-a456-426614174000"'),
	('{"type":"fixed","name":"U","size":16,"logicalType":"uuid"}', '"123e4567-e89b-12d3-a456-426614174000"'),
	('{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}', '"P14M3DT4.005S"');
SELECT schema::jsonb->>'logicalType' AS logical, value, encode(datacontract.avro_encode_raw(value, schema), 'hex') AS hex,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw(value, schema), schema) AS natural,
	CASE WHEN schema::jsonb->>'type' <> 'fixed' AND schema::jsonb->>'type' <> 'bytes' THEN
	datacontract.avro_decode_raw(datacontract.avro_encode_raw(value, schema), schema, NULL, true) END AS avro_json
FROM logical;
-- Avro JSON shows decimals as their bytes
SELECT datacontract.avro_decode_raw('\x04ffff', '{"type":"bytes","logicalType":"decimal","precision":4,"scale":1}', NULL, true) AS bytes_form,
	datacontract.avro_decode_raw('\x04ffff', '{"type":"bytes","logicalType":"decimal","precision":4,"scale":1}') AS natural;

-- populate_record maps logical types to PostgreSQL types.
SELECT datacontract.register('codec-logical-value', '{"type":"record","name":"L","fields":[{"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},{"name":"d","type":{"type":"int","logicalType":"date"}},{"name":"t","type":{"type":"int","logicalType":"time-millis"}},{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}},{"name":"id","type":{"type":"string","logicalType":"uuid"}},{"name":"dur","type":{"type":"fixed","name":"D","size":12,"logicalType":"duration"}},{"name":"raw","type":"bytes"},{"name":"tags","type":{"type":"array","items":"string"}}]}') AS l_id \gset
CREATE TYPE codec_logical AS (ts timestamptz, d date, t time, amount numeric, id uuid, dur interval, raw bytea, tags text[]);
SET timezone = 'UTC';
SELECT * FROM datacontract.avro_populate_record(NULL::codec_logical,
	datacontract.avro_encode('codec-logical-value', '{"ts":"2024-05-01T10:00:00.000001Z","d":"2024-05-01","t":"08:30:00.250","amount":-42.125,"id":"123e4567-e89b-12d3-a456-426614174000","dur":"P1M2DT3.5S","raw":"\\x0102","tags":["a","b"]}'));
RESET timezone;

-- Resolution: promotions.
SELECT datacontract.avro_decode_raw(datacontract.avro_encode_raw('123', '"int"'), '"int"', '"long"') AS int_long,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('123', '"int"'), '"int"', '"float"') AS int_float,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('123', '"int"'), '"int"', '"double"') AS int_double,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('1234567890123', '"long"'), '"long"', '"double"') AS long_double,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('16777217', '"long"'), '"long"', '"float"') AS long_float,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('0.1', '"float"'), '"float"', '"double"') AS float_double,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('"abc"', '"string"'), '"string"', '"bytes"') AS string_bytes,
	datacontract.avro_decode_raw(datacontract.avro_encode_raw('"\\x616263"', '"bytes"'), '"bytes"', '"string"') AS bytes_string;

-- Resolution: records (reader defaults, writer-only fields skipped, field aliases, reordering).
SELECT datacontract.avro_decode_raw(
	datacontract.avro_encode_raw('{"a":1,"skip":{"x":[1,2],"y":"zz"},"b":"two","old":true}',
		'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"skip","type":{"type":"record","name":"S","fields":[{"name":"x","type":{"type":"array","items":"int"}},{"name":"y","type":"string"}]}},{"name":"b","type":"string"},{"name":"old","type":"boolean"}]}'),
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"skip","type":{"type":"record","name":"S","fields":[{"name":"x","type":{"type":"array","items":"int"}},{"name":"y","type":"string"}]}},{"name":"b","type":"string"},{"name":"old","type":"boolean"}]}',
	'{"type":"record","name":"R","fields":[{"name":"b","type":"string"},{"name":"new","type":"boolean","aliases":["old"]},{"name":"a","type":"long"},{"name":"c","type":{"type":"array","items":"int"},"default":[7]},{"name":"m","type":["null","string"],"default":null},{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]},"default":"Y"},{"name":"r","type":{"type":"record","name":"Inner","fields":[{"name":"q","type":"double","default":1.5}]},"default":{}}]}');
-- a reader field without default that the writer lacks: an error at plan time
SELECT datacontract.avro_decode_raw('\x02', '{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}',
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}');
-- incompatible types
SELECT datacontract.avro_decode_raw('\x02', '"int"', '"string"');

-- Resolution: enums (symbol mapping by name, reader default for unknown symbols).
SELECT datacontract.avro_decode_raw('\x04', '{"type":"enum","name":"E","symbols":["A","B","C"]}',
	'{"type":"enum","name":"E","symbols":["C","B","A"]}') AS mapped,
	datacontract.avro_decode_raw('\x02', '{"type":"enum","name":"E","symbols":["A","NEW"]}',
	'{"type":"enum","name":"E","symbols":["A","UNKNOWN"],"default":"UNKNOWN"}') AS defaulted;
SELECT datacontract.avro_decode_raw('\x02', '{"type":"enum","name":"E","symbols":["A","NEW"]}',
	'{"type":"enum","name":"E","symbols":["A"]}');

-- Resolution: unions.
-- writer union to reader union, branches reordered
SELECT datacontract.avro_decode_raw('\x0406616263', '["null","int","string"]', '["string","null"]', true);
-- writer union to a non-union reader
SELECT datacontract.avro_decode_raw('\x0254', '["null","int"]', '"long"');
-- a writer branch the reader lacks fails only when written
SELECT datacontract.avro_decode_raw('\x00', '["null","int"]', '"long"');
-- non-union writer to union reader: exact match first, then Java's promotion order
SELECT datacontract.avro_decode_raw('\x54', '"int"', '["null","double","long","int"]', true) AS exact,
	datacontract.avro_decode_raw('\x54', '"int"', '["null","double","long"]', true) AS promoted,
	datacontract.avro_decode_raw('\x54', '"int"', '["null","float"]', true) AS float_last,
	datacontract.avro_decode_raw('\x06616263', '"string"', '["null","bytes"]', true) AS string_bytes;
-- records in unions by name, and by reader alias
SELECT datacontract.avro_decode_raw('\x02', '{"type":"record","name":"a.B","fields":[{"name":"x","type":"int"}]}',
	'["null",{"type":"record","name":"a.A","fields":[{"name":"x","type":"int"}]},{"type":"record","name":"a.B","fields":[{"name":"x","type":"long"}]}]', true) AS by_name,
	datacontract.avro_decode_raw('\x02', '{"type":"record","name":"a.Old","fields":[{"name":"x","type":"int"}]}',
	'["null",{"type":"record","name":"a.New","aliases":["Old"],"fields":[{"name":"x","type":"int"}]}]', true) AS by_alias;

-- Framing and corrupt bodies: each error says where.
SELECT datacontract.avro_decode('\x0000'::bytea);
SELECT datacontract.avro_decode('\x01000000010000'::bytea);
SELECT datacontract.avro_decode('\x00000f4240'::bytea);
SELECT datacontract.avro_schema_id('\x0100000001');
SELECT datacontract.avro_decode(substring(:'m1'::bytea from 1 for 15));
SELECT datacontract.avro_decode(:'m1'::bytea || '\x00'::bytea);
SELECT datacontract.avro_decode_raw('\xffffffffffffffffff01', '"long"') AS long_min,
	datacontract.avro_decode_raw('\xfeffffff0f', '"int"') AS int_max;
SELECT datacontract.avro_decode_raw('\xffffffffffffffffffff02', '"long"');
SELECT datacontract.avro_decode_raw('\xffffffff1f', '"int"');
SELECT datacontract.avro_decode_raw('\x8080', '"long"');
SELECT datacontract.avro_decode_raw('\x01', '"string"');
SELECT datacontract.avro_decode_raw('\x0a6162', '"bytes"');
SELECT datacontract.avro_decode_raw('\x0461ff', '"string"');
SELECT datacontract.avro_decode_raw('\x04eda080', '"string"');
SELECT datacontract.avro_decode_raw('\x06', '["null","int","string"]');
SELECT datacontract.avro_decode_raw('\x01', '["null","int"]');
SELECT datacontract.avro_decode_raw('\x04', '{"type":"enum","name":"E","symbols":["A","B"]}');
SELECT datacontract.avro_decode_raw('\x02', '"boolean"');
SELECT datacontract.avro_decode_raw('\x0102', '{"type":"fixed","name":"F","size":3}');
SELECT datacontract.avro_decode_raw('\x03', '{"type":"array","items":"int"}');
SELECT datacontract.avro_decode_raw('\x0302', '{"type":"array","items":"int"}');
SELECT datacontract.avro_decode_raw('\x010202', '{"type":"array","items":"int"}');
SELECT datacontract.avro_decode_raw('\x0102020304040600', '{"type":"array","items":"int"}') AS sized_blocks;
SELECT datacontract.avro_decode_raw('\x01050200', '{"type":"array","items":"int"}');
SELECT datacontract.avro_decode_raw('\x0200', '{"type":"array","items":"float"}');
SELECT datacontract.avro_decode_raw('\x040200', '"string"');
-- a string with U+0000 cannot be jsonb
SELECT datacontract.avro_decode_raw('\x0400ff', '"bytes"', NULL, true);
-- huge block counts of empty items hit the size limit, not memory
SELECT datacontract.avro_decode_raw('\xfeffffffffffffffff0100', '{"type":"array","items":"null"}');
SET datacontract.max_value_size = 1024;
SELECT datacontract.avro_decode_raw('\xa01f' || decode(repeat('61', 2000), 'hex'), '"string"');
RESET datacontract.max_value_size;
-- nesting past the depth limit
SET datacontract.max_value_depth = 5;
SELECT datacontract.avro_decode_raw('\x020202020202020200', '{"type":"record","name":"N","fields":[{"name":"n","type":["null","N"]}]}');
RESET datacontract.max_value_depth;

-- Encoding errors name the path and the expected type.
SELECT datacontract.avro_encode('codec-sensor-value', '{"device_id":"d","timestamp":"soon","temperature":1,"humidity":2}');
SELECT datacontract.avro_encode('codec-sensor-value', '{"device_id":"d","timestamp":1,"temperature":1}');
SELECT datacontract.avro_encode('codec-sensor-value', '{"device_id":"d","timestamp":1,"temperature":1,"humidity":2,"color":"red"}');
SELECT datacontract.avro_encode('codec-sensor-value', '{"device_id":"d","timestamp":1,"temperature":1,"humidity":2,"location":5}');
SELECT datacontract.avro_encode_raw('{"a":[1,2,"x"]}', '{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"}}]}');
SELECT datacontract.avro_encode_raw('3000000000', '"int"');
SELECT datacontract.avro_encode_raw('1.5', '"long"');
SELECT datacontract.avro_encode_raw('"C"', '{"type":"enum","name":"E","symbols":["A","B"]}');
SELECT datacontract.avro_encode_raw('"\\x0102"', '{"type":"fixed","name":"F","size":3}');
SELECT datacontract.avro_encode_raw('1.234', '{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}');
SELECT datacontract.avro_encode_raw('"2024-13-01"', '{"type":"int","logicalType":"date"}');
SELECT datacontract.avro_encode('codec-no-such-subject', '{}');
SELECT datacontract.avro_encode('codec-sensor-value', '{}', 9);
SELECT datacontract.avro_decode_raw('\x00', '{"type":"nope"}');
