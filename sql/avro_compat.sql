-- Avro reader/writer compatibility (src/avro_compat.c): Java Avro 1.11's
-- SchemaCompatibility rules with Confluent's message texts.
SET client_min_messages = warning;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS datacontract;
RESET client_min_messages;
RESET client_min_messages;
\pset format unaligned

-- the messages of one pair, one per row (reader = new, writer = old)
CREATE FUNCTION pg_temp.msgs(reader text, writer text,
	reader_label text DEFAULT 'new', writer_label text DEFAULT 'old')
RETURNS SETOF text LANGUAGE sql
AS $$ SELECT unnest(datacontract.avro_compatibility_messages(reader, writer, reader_label, writer_label)) $$;

-- Confluent's verdict, one message per row
CREATE FUNCTION pg_temp.verdict(new_schema text, previous text[], versions integer[], level text)
RETURNS SETOF text LANGUAGE sql
AS $$ SELECT unnest(datacontract.avro_check_compatibility(new_schema, previous, versions, level)) $$;

-- the SQLSTATE of an error
CREATE FUNCTION pg_temp.sqlstate(stmt text) RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

-- the SQLSTATE and message of an error, as a NOTICE
CREATE FUNCTION pg_temp.try(stmt text) RETURNS void LANGUAGE plpgsql
AS $$
BEGIN
	EXECUTE stmt;
	RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;

--
-- Primitives: which writer types each reader type can read (promotions:
-- int->long/float/double, long->float/double, float->double, string<->bytes).
--
WITH t(name, ord) AS (VALUES ('null', 1), ('boolean', 2), ('int', 3), ('long', 4),
						   ('float', 5), ('double', 6), ('bytes', 7), ('string', 8))
SELECT r.name AS reader,
	   string_agg(w.name, ',' ORDER BY w.ord) FILTER (
		   WHERE datacontract.avro_compatible(format('"%s"', r.name), format('"%s"', w.name))) AS reads
  FROM t r CROSS JOIN t w
 GROUP BY r.name, r.ord ORDER BY r.ord;

-- TYPE_MISMATCH at the root, with Java's upper-case type names
SELECT * FROM pg_temp.msgs('"boolean"', '"int"');
SELECT * FROM pg_temp.msgs('"int"', '"long"', 'old', 'new');
SELECT * FROM pg_temp.msgs('{"type":"array","items":"int"}', '{"type":"map","values":"int"}');
SELECT * FROM pg_temp.msgs('{"type":"record","name":"R","fields":[]}', '{"type":"enum","name":"R","symbols":["A"]}');
SELECT * FROM pg_temp.msgs('{"type":"fixed","name":"F","size":4}', '"bytes"');
SELECT datacontract.avro_compatible('"string"', '"int"') AS string_reads_int,
	   datacontract.avro_compatibility_messages('"long"', '"int"') AS long_reads_int;

-- array items and map values
SELECT * FROM pg_temp.msgs('{"type":"array","items":"int"}', '{"type":"array","items":"long"}');
SELECT * FROM pg_temp.msgs('{"type":"map","values":"string"}', '{"type":"map","values":"double"}');
SELECT datacontract.avro_compatible('{"type":"array","items":"double"}', '{"type":"array","items":"float"}') AS array_promotion,
	   datacontract.avro_compatible('{"type":"map","values":"bytes"}', '{"type":"map","values":"string"}') AS map_promotion;

-- logical types compare as their underlying types
SELECT datacontract.avro_compatible('{"type":"long","logicalType":"timestamp-millis"}', '"long"') AS ts_reads_long,
	   datacontract.avro_compatible('{"type":"long","logicalType":"timestamp-micros"}', '{"type":"int","logicalType":"date"}') AS ts_reads_date,
	   datacontract.avro_compatible('{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}', '"string"') AS decimal_reads_string;
SELECT * FROM pg_temp.msgs('{"type":"int","logicalType":"date"}', '{"type":"long","logicalType":"timestamp-millis"}');

--
-- Records: fields matched by name or reader alias; a reader field missing
-- from the writer needs a default.
--
-- the seed example: an optional field with a default is BACKWARD compatible
SELECT datacontract.avro_check_compatibility(
	'{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":["null","float"],"default":null}]}',
	ARRAY['{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}'],
	ARRAY[1], 'BACKWARD') AS optional_field;
-- ... a required one is not
SELECT * FROM pg_temp.verdict(
	'{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":"float"}]}',
	ARRAY['{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}'],
	ARRAY[1], 'BACKWARD');
-- ... but is FORWARD compatible (the old schema ignores the new field)
SELECT datacontract.avro_check_compatibility(
	'{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":"float"}]}',
	ARRAY['{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}'],
	ARRAY[1], 'FORWARD') AS forward;

-- the worked example of the reference (section 4.1), as the 409 message
SELECT format('Schema being registered is incompatible with an earlier schema for subject "%s", details: [%s]',
			  'test', array_to_string(datacontract.avro_check_compatibility(
				  '{"type":"record","name":"myrecord","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"string"}]}',
				  ARRAY['{"type":"record","name":"myrecord","fields":[{"name":"f1","type":"string"}]}'],
				  ARRAY[1], 'BACKWARD'), ', ')) AS message;

-- a default of null counts as a default; field order does not matter
SELECT datacontract.avro_compatible(
	'{"type":"record","name":"R","fields":[{"name":"b","type":["null","int"],"default":null},{"name":"a","type":"int"}]}',
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"string"}]}') AS with_null_default;
-- nested record: the location runs through fields/type
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"x","type":"int"},{"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}}]}',
	'{"type":"record","name":"R","fields":[{"name":"x","type":"int"},{"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"a","type":"int"}]}}]}');
-- field aliases of the reader
SELECT datacontract.avro_compatible(
	'{"type":"record","name":"R","fields":[{"name":"renamed","type":"long","aliases":["old_name"]}]}',
	'{"type":"record","name":"R","fields":[{"name":"old_name","type":"int"}]}') AS reader_field_alias,
	   datacontract.avro_compatible(
	'{"type":"record","name":"R","fields":[{"name":"old_name","type":"int"}]}',
	'{"type":"record","name":"R","fields":[{"name":"renamed","type":"int","aliases":["old_name"]}]}') AS writer_field_alias_ignored;
-- a reader field matching two writer fields: Java throws, Confluent reports it
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int","aliases":["b"]}]}',
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}');
-- every incompatibility is reported, in walk order
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"},{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}},{"name":"f","type":{"type":"fixed","name":"F","size":2}}]}',
	'{"type":"record","name":"Q","fields":[{"name":"a","type":"long"},{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y","Z"]}},{"name":"f","type":{"type":"fixed","name":"G","size":4}}]}');

--
-- Names of records, enums and fixed: simple names compare (Java 1.11), or
-- a reader alias names the writer's full name.
--
SELECT * FROM pg_temp.msgs('{"type":"record","name":"A","fields":[]}', '{"type":"record","name":"B","namespace":"com.x","fields":[]}');
SELECT datacontract.avro_compatible('{"type":"record","name":"A","namespace":"n1","fields":[]}',
								   '{"type":"record","name":"A","namespace":"n2","fields":[]}') AS namespace_change,
	   datacontract.avro_compatible('{"type":"record","name":"n1.A","fields":[]}',
								   '{"type":"record","name":"A","fields":[]}') AS dotted_name,
	   datacontract.avro_compatible('{"type":"record","name":"B2","namespace":"n1","aliases":["B"],"fields":[]}',
								   '{"type":"record","name":"B","namespace":"n1","fields":[]}') AS simple_alias,
	   datacontract.avro_compatible('{"type":"record","name":"B2","namespace":"n1","aliases":["n2.B"],"fields":[]}',
								   '{"type":"record","name":"B","namespace":"n2","fields":[]}') AS full_alias,
	   datacontract.avro_compatible('{"type":"record","name":"B","fields":[]}',
								   '{"type":"record","name":"B2","aliases":["B"],"fields":[]}') AS writer_alias_ignored;
SELECT * FROM pg_temp.msgs('{"type":"record","name":"B2","namespace":"n1","aliases":["B"],"fields":[]}',
						   '{"type":"record","name":"B","namespace":"n2","fields":[]}');
SELECT * FROM pg_temp.msgs('{"type":"enum","name":"E","symbols":["A"]}', '{"type":"enum","name":"ns.E2","symbols":["A"]}');

--
-- Enums: writer symbols must be reader symbols unless the reader has a
-- default.  The missing symbols print as Java's sorted set.
--
SELECT * FROM pg_temp.msgs('{"type":"enum","name":"E","symbols":["A","B"]}', '{"type":"enum","name":"E","symbols":["A","B","D","C"]}');
SELECT * FROM pg_temp.msgs('{"type":"enum","name":"E","symbols":["A","B"]}', '{"type":"enum","name":"E","symbols":["A","B","D","C"]}', 'old', 'new');
SELECT datacontract.avro_compatible('{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}',
								   '{"type":"enum","name":"E","symbols":["A","B","C"]}') AS reader_default,
	   datacontract.avro_compatible('{"type":"enum","name":"E","symbols":["A","B","C"]}',
								   '{"type":"enum","name":"E","symbols":["C","A"]}') AS fewer_writer_symbols;
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"s","type":{"type":"enum","name":"E","symbols":["A"]}}]}',
	'{"type":"record","name":"R","fields":[{"name":"s","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}');
-- Java's quirk: a missing reader field of an enum type with a default (and no
-- field default) is compared as that enum against the writer record
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"s","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}}]}',
	'{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}');
-- a named type met twice: Java memoizes the pair, so the second meeting
-- repeats the first result, location included
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"E","symbols":["X"]}},{"name":"b","type":"E"}]}',
	'{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"E","symbols":["X","Y"]}},{"name":"b","type":"E"}]}');

--
-- Fixed: names and sizes.
--
SELECT * FROM pg_temp.msgs('{"type":"fixed","name":"F","size":8}', '{"type":"fixed","name":"F","size":16}');
SELECT * FROM pg_temp.msgs('{"type":"fixed","name":"F","size":8}', '{"type":"fixed","name":"G","size":16}', 'old', 'new');
SELECT datacontract.avro_compatible('{"type":"fixed","name":"F","size":16,"logicalType":"decimal","precision":4}',
								   '{"type":"fixed","name":"F","size":16}') AS fixed_decimal;

--
-- Unions.
--
-- writer union: every branch must be readable; the failing branch's index
SELECT * FROM pg_temp.msgs('["null","string"]', '["null","string","int"]');
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"u","type":["null","string"]}]}',
	'{"type":"record","name":"R","fields":[{"name":"u","type":["int","null","boolean"]}]}');
SELECT datacontract.avro_compatible('["null","long"]', '["int","null"]') AS promoted_branches,
	   datacontract.avro_compatible('["null","string","int"]', '["null","string"]') AS reader_adds_branch;
-- a branch's inner problems are not reported, only the branch
SELECT * FROM pg_temp.msgs(
	'["null",{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}]',
	'["null",{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}]');
-- reader union, writer not a union: some branch must read it
SELECT * FROM pg_temp.msgs('["null","string"]', '"int"');
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"u","type":["null","string"]}]}',
	'{"type":"record","name":"R","fields":[{"name":"u","type":"int"}]}');
SELECT datacontract.avro_compatible('["null","double"]', '"int"') AS union_reads_promoted;
-- writer union, reader not a union: each branch is checked with a fresh
-- location stack, so the locations are relative to the root (Java 1.11)
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"R","fields":[{"name":"u","type":"string"}]}',
	'{"type":"record","name":"R","fields":[{"name":"u","type":["null","string","int"]}]}');
SELECT datacontract.avro_compatible('"long"', '["int","long"]') AS long_reads_int_or_long;
SELECT * FROM pg_temp.msgs('"int"', '["int","long"]');

--
-- Recursive types: a pair met again while being checked counts as compatible.
--
SELECT datacontract.avro_compatible(
	'{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"],"default":null}]}',
	'{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}') AS list_promotion;
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null},{"name":"kids","type":{"type":"array","items":"Node"}}]}',
	'{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"],"default":null},{"name":"kids","type":{"type":"array","items":"Node"}}]}');
SELECT * FROM pg_temp.msgs(
	'{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null},{"name":"w","type":"int"}]}',
	'{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}');

--
-- Compatibility levels (avro_check_compatibility): previous versions newest
-- first.
--
-- v1 {f1}, v2 {f1, f2 with default}, v3 {f1, f2 with default, f3 with default}
\set v1 '{"type":"record","name":"r","fields":[{"name":"f1","type":"string"}]}'
\set v2 '{"type":"record","name":"r","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"string","default":"x"}]}'
\set v3 '{"type":"record","name":"r","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"string","default":"x"},{"name":"f3","type":"int","default":0}]}'
-- new: f2 without default; readable against v2 and v3, not against v1
\set n '{"type":"record","name":"r","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"string"},{"name":"f3","type":"int","default":0}]}'
-- NONE never fails
SELECT datacontract.avro_check_compatibility(:'n', ARRAY['"int"'], ARRAY[1], 'NONE') AS none;
-- non-transitive levels look at the newest only
SELECT datacontract.avro_check_compatibility(:'n', ARRAY[:'v2', :'v1'], ARRAY[2, 1], 'BACKWARD') AS backward;
-- transitive levels go back to v1
SELECT * FROM pg_temp.verdict(:'n', ARRAY[:'v3', :'v2', :'v1'], ARRAY[3, 2, 1], 'BACKWARD_TRANSITIVE');
-- ... and stop at the first failing version: only v2's messages
\set n2 '{"type":"record","name":"r","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"string"},{"name":"f3","type":"int"}]}'
SELECT * FROM pg_temp.verdict(:'n2', ARRAY[:'v3', :'v2', :'v1'], ARRAY[3, 2, 1], 'backward_transitive');
-- ... while the non-transitive level reports the newest only
SELECT * FROM pg_temp.verdict(:'n2', ARRAY[:'v3', :'v2', :'v1'], ARRAY[3, 2, 1], 'BACKWARD');
-- FORWARD: the old schema reads the new one; labels swap
\set a_b '{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}'
\set a '{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}'
\set a_c '{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"c","type":"int"}]}'
SELECT * FROM pg_temp.verdict(:'a', ARRAY[:'a_b'], ARRAY[7], 'FORWARD');
SELECT datacontract.avro_check_compatibility(:'a', ARRAY[:'a_b'], ARRAY[7], 'BACKWARD') AS backward;
SELECT datacontract.avro_check_compatibility(:'a', ARRAY[:'a', :'a_b'], ARRAY[8, 7], 'FORWARD') AS forward_newest_only;
SELECT * FROM pg_temp.verdict(:'a', ARRAY[:'a', :'a_b'], ARRAY[8, 7], 'FORWARD_TRANSITIVE');
-- FULL: old-reads-new messages first (no schema appended), then
-- new-reads-old with the old schema
SELECT * FROM pg_temp.verdict(:'a_c', ARRAY[:'a_b'], ARRAY[1], 'FULL');
-- FULL failing in the old-reads-new direction only: no old schema appended
SELECT * FROM pg_temp.verdict(:'a', ARRAY[:'a_b'], ARRAY[1], 'FULL');
SELECT * FROM pg_temp.verdict(:'a_c', ARRAY[:'a_c', :'a'], ARRAY[2, 1], 'FULL_TRANSITIVE');
SELECT datacontract.avro_check_compatibility(:'a_c', ARRAY[:'a_c', :'a'], ARRAY[2, 1], 'FULL') AS full_newest_only;
-- unknown versions, validateFields, no previous versions
SELECT * FROM pg_temp.verdict(:'a', ARRAY[:'a_b'], NULL, 'FORWARD');
SELECT unnest(datacontract.avro_check_compatibility(:'a', ARRAY[:'a_b'], ARRAY[3], 'FORWARD', true)) AS m;
SELECT datacontract.avro_check_compatibility(:'a', ARRAY[]::text[], ARRAY[]::integer[], 'FULL_TRANSITIVE') AS no_history,
	   datacontract.avro_check_compatibility(:'a', NULL, NULL, 'FULL') AS null_history;
-- an old schema longer than 10240 characters is truncated in the message
SELECT left(m, 60) AS head, right(m, 12) AS tail, length(m) AS length
  FROM pg_temp.verdict('{"type":"record","name":"Big","fields":[{"name":"a","type":"string"}]}',
					   ARRAY['{"type":"record","name":"Big","doc":"' || repeat('x', 11000) || '","fields":[{"name":"a","type":"int"}]}'],
					   ARRAY[1], 'BACKWARD') AS m;

--
-- Errors.
--
SELECT pg_temp.try($$SELECT datacontract.avro_check_compatibility('"int"', ARRAY['"int"'], ARRAY[1], 'SIDEWAYS')$$);
SELECT pg_temp.try($$SELECT datacontract.avro_check_compatibility('"int"', ARRAY[]::text[], NULL, 'backward_transitively')$$);
-- the DETAIL line carries Confluent's error code
SELECT datacontract.avro_check_compatibility('"int"', ARRAY['"int"'], ARRAY[1], 'SIDEWAYS');
-- invalid schemas: Confluent error 42201 (the parser's message is tested
-- with the parser)
SELECT pg_temp.sqlstate($$SELECT datacontract.avro_compatible('{"type":"nope"}', '"int"')$$) AS reader_invalid;
SELECT pg_temp.sqlstate($$SELECT datacontract.avro_compatibility_messages('"int"', 'not json')$$) AS writer_invalid;
SELECT pg_temp.sqlstate($$SELECT datacontract.avro_check_compatibility('{"type":"record"}', ARRAY['"int"'], ARRAY[1], 'BACKWARD')$$) AS new_invalid;
SELECT pg_temp.sqlstate($$SELECT datacontract.avro_check_compatibility('"int"', ARRAY['[]x'], ARRAY[1], 'BACKWARD')$$) AS old_invalid;
-- mismatched arrays
SELECT pg_temp.sqlstate($$SELECT datacontract.avro_check_compatibility('"int"', ARRAY['"int"','"long"'], ARRAY[1], 'BACKWARD')$$) AS versions_mismatch;
