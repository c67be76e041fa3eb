-- Avro schema model: parsing, validation, canonical form, fingerprints and
-- the stored (Java Schema.toString) form.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS datacontract;
RESET client_min_messages;

--
-- Parsing Canonical Form and CRC-64-AVRO fingerprints: the cases of the
-- Avro specification's share/test/data/schema-tests.txt.  Case 026 has a
-- default "true" (a string) for a boolean, which Java Avro 1.11 rejects
-- when it validates defaults; it is tested here with true.
--
CREATE TEMP TABLE spec_cases (id text, input text, canonical text, fingerprint bigint);
INSERT INTO spec_cases VALUES
('000', '"null"', '"null"', 7195948357588979594),
('001', '{"type":"null"}', '"null"', 7195948357588979594),
('002', '"boolean"', '"boolean"', -6970731678124411036),
('003', '{"type":"boolean"}', '"boolean"', -6970731678124411036),
('004', '"int"', '"int"', 8247732601305521295),
('005', '{"type":"int"}', '"int"', 8247732601305521295),
('006', '"long"', '"long"', -3434872931120570953),
('007', '{"type":"long"}', '"long"', -3434872931120570953),
('008', '"float"', '"float"', 5583340709985441680),
('009', '{"type":"float"}', '"float"', 5583340709985441680),
('010', '"double"', '"double"', -8181574048448539266),
('011', '{"type":"double"}', '"double"', -8181574048448539266),
('012', '"bytes"', '"bytes"', 5746618253357095269),
('013', '{"type":"bytes"}', '"bytes"', 5746618253357095269),
('014', '"string"', '"string"', -8142146995180207161),
('015', '{"type":"string"}', '"string"', -8142146995180207161),
('016', '[  ]', '[]', -1241056759729112623),
('017', '[ "int"  ]', '["int"]', -5232228896498058493),
('018', '[ "int" , {"type":"boolean"} ]', '["int","boolean"]', 5392556393470105090),
('019', '{"fields":[], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
('020', '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', '{"name":"x.y.foo","type":"record","fields":[]}', 5916914534497305771),
('021', '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}', '{"name":"a.b.foo","type":"record","fields":[]}', -4616218487480524110),
('022', '{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
('023', '{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
('024', '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
('025', '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', 7843277075252814651),
('026', E'{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true},\n            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],\n  "type":"record", "name":"foo"\n}', '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}', -4860222112080293046),
('027', '{"type":"enum", "name":"foo", "symbols":["A1"]}', '{"name":"foo","type":"enum","symbols":["A1"]}', -6342190197741309591),
('028', '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}', '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}', -4448647247586288245),
('029', '{"name":"foo","type":"fixed","size":15}', '{"name":"foo","type":"fixed","size":15}', 1756455273707447556),
('030', '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}', '{"name":"x.y.z.foo","type":"fixed","size":32}', -3064184465700546786),
('031', '{ "items":{"type":"null"}, "type":"array"}', '{"type":"array","items":"null"}', -589620603366471059),
('032', '{ "values":"string", "type":"map"}', '{"type":"map","values":"string"}', -8732877298790414990),
('033', E'  {"name":"PigValue","type":"record",\n   "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}', '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}', -1759257747318642341);

SELECT id,
       datacontract.avro_canonical(input) = canonical AS canonical_ok,
       datacontract.avro_fingerprint64(input) = fingerprint AS fingerprint_ok,
       datacontract.avro_fingerprint64(input) AS fingerprint
FROM spec_cases ORDER BY id;

-- the canonical form of a canonical form is itself
SELECT count(*) AS stable FROM spec_cases
WHERE datacontract.avro_canonical(canonical) = canonical;

-- the spec's case 026 as written: a string default for a boolean
SELECT datacontract.avro_validate(E'{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},\n {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo"}');

-- fingerprints as bytea: crc64 is little-endian, md5 and sha256 of the canonical form
SELECT datacontract.avro_fingerprint('"int"', 'crc64') AS crc64,
       datacontract.avro_fingerprint('{"type":"int"}', 'md5') AS md5,
       datacontract.avro_fingerprint('"int"', 'md5') = decode(md5('"int"'), 'hex') AS md5_ok,
       datacontract.avro_fingerprint('"int"') = sha256('"int"'::bytea) AS sha256_ok,
       datacontract.avro_fingerprint('"int"', 'SHA256') = sha256('"int"'::bytea) AS case_ok;
SELECT datacontract.avro_fingerprint('"int"', 'sha1');

--
-- The seed schema (the product's example).
--
CREATE TEMP TABLE seed (s text);
INSERT INTO seed VALUES ('{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}');
SELECT datacontract.avro_validate(s) IS NULL AS valid FROM seed;
SELECT datacontract.avro_normalize(s) = s AS stored_as_sent FROM seed;
SELECT datacontract.avro_normalize(s, true) = s AS normalized_as_sent FROM seed;
SELECT datacontract.avro_canonical(s) FROM seed;
SELECT datacontract.avro_fingerprint64(s),
       encode(datacontract.avro_fingerprint(s, 'md5'), 'hex') AS md5
FROM seed;
-- the same schema pretty-printed with keys in another order is stored identically
SELECT datacontract.avro_normalize(E'{\n  "namespace" : "com.iot.pipeline",\n  "name" : "SensorEvent",\n  "type" : "record",\n  "fields" : [\n    {"type" : "string", "name" : "device_id"},\n    {"default" : null, "name" : "device_name", "type" : [ "null", "string" ]},\n    {"name" : "timestamp", "type" : {"type" : "long"}},\n    {"name" : "temperature", "type" : "float"},\n    {"name" : "humidity", "type" : "float"},\n    {"type" : ["null", {"type": "string"}], "default" : null, "name" : "location"}\n  ]\n}\n')
       = s AS identical FROM seed;

--
-- Every type, printed in Java's Schema.toString() form.
--
SELECT datacontract.avro_normalize(t) FROM (VALUES
  ('"null"'), ('"boolean"'), ('"int"'), ('"long"'), ('"float"'), ('"double"'),
  ('"bytes"'), ('"string"'),
  ('{"type":"string"}'),
  ('{"type":"string","doc":"dropped: reserved, not a property","x-prop":[1,2.50,"z"]}'),
  ('{"type":"array","items":"int"}'),
  ('{"items":{"type":"map","values":["null","long"]},"type":"array","custom":true}'),
  ('["null","int",{"type":"array","items":"string"},{"type":"map","values":"bytes"}]'),
  ('{"type":"enum","name":"Suit","symbols":["SPADES","HEARTS"],"default":"HEARTS","doc":"card suits","aliases":["Color"],"x":1}'),
  ('{"size":16,"type":"fixed","name":"md5","namespace":"org.x","aliases":["org.y.Hash","Digest"],"doc":"hash"}'),
  ('{"type":"error","name":"Failure","fields":[{"name":"message","type":"string"}]}'),
  ('{"type":"record","name":"R","doc":"a record","fields":[{"name":"a","type":"int","doc":"field a","default":42,"order":"descending","aliases":["b","c"],"confluent:tags":["PII"]},{"name":"b","type":"string","order":"ascending"},{"name":"c","type":"long","order":"IGNORE"}],"aliases":["Old"],"confluent:tags":["T"]}')
) AS v(t);

-- Jackson's escaping and Java's number formatting
SELECT datacontract.avro_normalize(E'{"type":"record","name":"E","doc":"quote \\" backslash \\\\ tab \\t nl \\n cr \\r bs \\b ff \\f ctl \\u0001 slash / \\u00e9 \\u20ac \\ud83d\\ude00","fields":[]}');
SELECT datacontract.avro_normalize('{"type":"record","name":"N","fields":['
  '{"name":"d1","type":"double","default":1},'
  '{"name":"d2","type":"double","default":1.0},'
  '{"name":"d3","type":"double","default":1.50},'
  '{"name":"d4","type":"double","default":1e7},'
  '{"name":"d5","type":"double","default":12345678.9},'
  '{"name":"d6","type":"double","default":0.001},'
  '{"name":"d7","type":"double","default":0.0001},'
  '{"name":"d8","type":"double","default":-0.0},'
  '{"name":"d9","type":"double","default":1E-10},'
  '{"name":"d10","type":"double","default":"NaN"},'
  '{"name":"d11","type":"float","default":"-Infinity"},'
  '{"name":"d12","type":"float","default":" 2.5 "},'
  '{"name":"d13","type":"double","default":0.1},'
  '{"name":"d14","type":"double","default":123456.789e3},'
  '{"name":"l1","type":"long","default":-9223372036854775808},'
  '{"name":"i1","type":"int","default":-0}'
  ']}');

--
-- Logical types.  Valid ones are recognized (with normalization their
-- attributes are written first, except for duration, which Java Avro does
-- not know); invalid ones are plain properties.
--
SELECT t AS input, datacontract.avro_normalize(t, true) AS normalized FROM (VALUES
  ('{"type":"bytes","scale":2,"z":1,"precision":4,"a":1,"logicalType":"decimal"}'),
  ('{"type":"bytes","logicalType":"decimal","precision":4}'),
  ('{"type":"bytes","logicalType":"decimal","precision":4,"scale":0,"a":0}'),
  ('{"type":"bytes","a":1,"logicalType":"decimal","precision":0}'),
  ('{"type":"bytes","a":1,"logicalType":"decimal"}'),
  ('{"type":"bytes","a":1,"logicalType":"decimal","precision":4,"scale":5}'),
  ('{"type":"bytes","a":1,"logicalType":"decimal","precision":4,"scale":-1}'),
  ('{"type":"bytes","a":1,"logicalType":"decimal","precision":4.0}'),
  ('{"type":"bytes","a":1,"logicalType":"decimal","precision":"4"}'),
  ('{"type":"string","a":1,"logicalType":"decimal","precision":4}'),
  ('{"type":"fixed","name":"d","size":4,"a":1,"logicalType":"decimal","precision":9}'),
  ('{"type":"fixed","name":"d","size":4,"a":1,"logicalType":"decimal","precision":10}'),
  ('{"type":"fixed","name":"d","size":16,"a":1,"logicalType":"decimal","precision":38,"scale":38}'),
  ('{"type":"fixed","name":"d","size":16,"a":1,"logicalType":"decimal","precision":39}'),
  ('{"type":"string","a":1,"logicalType":"uuid"}'),
  ('{"type":"int","a":1,"logicalType":"uuid"}'),
  ('{"type":"int","a":1,"logicalType":"date"}'),
  ('{"type":"long","a":1,"logicalType":"date"}'),
  ('{"type":"int","a":1,"logicalType":"time-millis"}'),
  ('{"type":"long","a":1,"logicalType":"time-micros"}'),
  ('{"type":"int","a":1,"logicalType":"time-micros"}'),
  ('{"type":"long","a":1,"logicalType":"timestamp-millis"}'),
  ('{"type":"long","a":1,"logicalType":"timestamp-micros"}'),
  ('{"type":"long","a":1,"logicalType":"local-timestamp-millis"}'),
  ('{"type":"long","a":1,"logicalType":"local-timestamp-micros"}'),
  ('{"type":"int","a":1,"logicalType":"timestamp-millis"}'),
  ('{"type":"fixed","name":"dur","size":12,"a":1,"logicalType":"duration"}'),
  ('{"type":"fixed","name":"dur","size":11,"a":1,"logicalType":"duration"}'),
  ('{"type":"long","a":1,"logicalType":"no-such-type"}'),
  ('{"type":"long","a":1,"logicalType":7}')
) AS v(t);
-- without normalization the attributes keep their input order
SELECT datacontract.avro_normalize('{"precision":4,"type":"bytes","scale":2,"logicalType":"decimal"}');
-- logical types do not change the canonical form
SELECT datacontract.avro_canonical('{"type":"int","logicalType":"date"}'),
       datacontract.avro_canonical('{"type":"fixed","name":"d","size":8,"logicalType":"decimal","precision":10,"scale":2}');
-- a logicalType next to a field's type is a field property, not a logical type
SELECT datacontract.avro_normalize('{"type":"record","name":"R","fields":[{"name":"ts","type":"long","logicalType":"timestamp-millis"}]}');

--
-- Namespaces, references and aliases.
--
-- nested types inherit the namespace; references by short and full name;
-- a dotted name carries its own namespace; "" is the null namespace
SELECT datacontract.avro_normalize(
  '{"type":"record","name":"Outer","namespace":"a.b","fields":['
  '{"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},'
  '{"name":"e2","type":"Color"},'
  '{"name":"e3","type":"a.b.Color"},'
  '{"name":"f","type":{"type":"fixed","name":"x.y.Hash","size":4}},'
  '{"name":"f2","type":"x.y.Hash"},'
  '{"name":"g","type":{"type":"record","name":"Inner","namespace":"","fields":[{"name":"h","type":{"type":"enum","name":"Kind","symbols":["K"]}}]}},'
  '{"name":"g2","type":"Inner"},'
  '{"name":"g3","type":"Kind"},'
  '{"name":"n","type":{"type":"record","name":"Nested","namespace":"a.b","fields":[]}},'
  '{"name":"r","type":{"type":"record","name":"record","namespace":"a.b","fields":[]}},'
  '{"name":"r2","type":"record"}'
  ']}');
SELECT datacontract.avro_canonical(
  '{"type":"record","name":"Outer","namespace":"a.b","fields":['
  '{"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},'
  '{"name":"e2","type":"Color"},'
  '{"name":"f","type":{"type":"fixed","name":"x.y.Hash","size":4}},'
  '{"name":"g","type":{"type":"record","name":"Inner","namespace":"","fields":[]}},'
  '{"name":"g2","type":"Inner"}]}');
-- a short name does not reach into another namespace
SELECT datacontract.avro_validate(
  '{"type":"record","name":"Outer","namespace":"a.b","fields":['
  '{"name":"f","type":{"type":"fixed","name":"x.y.Hash","size":4}},'
  '{"name":"f2","type":"Hash"}]}');
-- {"type": "Name"} refers to a named type too
SELECT datacontract.avro_normalize('[{"type":"enum","name":"E","symbols":["A"]},{"type":"array","items":{"type":"E"}}]');
-- aliases are resolved against the type's namespace and printed relative to it
SELECT datacontract.avro_normalize('{"type":"record","name":"R","namespace":"n.s","aliases":["Z","n.s.Y","o.X","Y"],"fields":[{"name":"f","type":"int","aliases":["z","a","z"]}]}');
SELECT datacontract.avro_normalize('{"type":"record","name":"R","namespace":"n.s","aliases":["Z","n.s.Y","o.X"],"fields":[{"name":"f","type":"int","aliases":["z","a"]}]}', true);

--
-- Recursion: a linked list, and mutually recursive records.
--
SELECT datacontract.avro_normalize(t), datacontract.avro_canonical(t), datacontract.avro_fingerprint64(t)
FROM (VALUES ('{"type":"record","name":"LongList","aliases":["LinkedLongs"],"fields":[{"name":"value","type":"long"},{"name":"next","type":["null","LongList"],"default":null}]}')) AS v(t);
SELECT datacontract.avro_normalize('{"type":"record","name":"Tree","namespace":"t","fields":[{"name":"children","type":{"type":"array","items":{"type":"record","name":"Node","fields":[{"name":"tree","type":"Tree"},{"name":"label","type":"string"}]}}},{"name":"first","type":["null","Node"]}]}');
-- a default can not use the record that is still being defined
SELECT datacontract.avro_validate('{"type":"record","name":"Loop","fields":[{"name":"self","type":"Loop","default":{}}]}');

--
-- Field defaults are checked against their type (as Java Avro 1.11 does;
-- union defaults against the first branch).
--
SELECT d AS default_, t AS type_, coalesce(datacontract.avro_validate(
  '{"type":"record","name":"R","namespace":"ns","fields":[{"name":"f","type":' || t || ',"default":' || d || '}]}'), 'valid') AS result
FROM (VALUES
  ('null', '"null"'), ('0', '"null"'),
  ('true', '"boolean"'), ('1', '"boolean"'),
  ('2147483647', '"int"'), ('2147483648', '"int"'), ('-2147483648', '"int"'), ('1.0', '"int"'), ('"1"', '"int"'),
  ('9223372036854775807', '"long"'), ('1.5', '"long"'),
  ('1', '"float"'), ('1.5', '"double"'), ('"NaN"', '"double"'), ('"Infinity"', '"float"'), ('"1e3"', '"double"'), ('"abc"', '"double"'), ('true', '"double"'),
  ('""', '"bytes"'), ('"\u00ff\u0001x"', '"bytes"'), ('"\u0000"', '"bytes"'), ('1', '"bytes"'),
  ('"héllo"', '"string"'), ('null', '"string"'),
  ('"AB"', '{"type":"fixed","name":"F","size":2}'), ('"\u00ff\u00fe"', '{"type":"fixed","name":"F","size":2}'),
  ('"ABC"', '{"type":"fixed","name":"F","size":2}'), ('"A€"', '{"type":"fixed","name":"F","size":2}'),
  ('"B"', '{"type":"enum","name":"E","symbols":["A","B"]}'), ('"C"', '{"type":"enum","name":"E","symbols":["A","B"]}'),
  ('[]', '{"type":"array","items":"int"}'), ('[1,2,3]', '{"type":"array","items":"int"}'), ('[1,"x"]', '{"type":"array","items":"int"}'), ('{}', '{"type":"array","items":"int"}'),
  ('{"a":1}', '{"type":"map","values":"long"}'), ('{"a":"x"}', '{"type":"map","values":"long"}'), ('[]', '{"type":"map","values":"long"}'),
  ('null', '["null","string"]'), ('"x"', '["null","string"]'), ('"x"', '["string","null"]'), ('null', '["string","null"]'), ('null', '[]'),
  ('{"a":1,"b":"x"}', '{"type":"record","name":"S","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}'),
  ('{"a":1}', '{"type":"record","name":"S","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"d"}]}'),
  ('{"a":1}', '{"type":"record","name":"S","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}'),
  ('{"a":1,"b":2}', '{"type":"record","name":"S","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}'),
  ('{"a":{"x":[1]}}', '{"type":"record","name":"S","fields":[{"name":"a","type":{"type":"map","values":{"type":"array","items":"int"}}}]}'),
  ('"x"', '{"type":"record","name":"S","fields":[]}')
) AS v(d, t);
-- defaults are printed as given without normalization; typed with it
SELECT datacontract.avro_normalize(t), datacontract.avro_normalize(t, true) FROM (VALUES
  ('{"type":"record","name":"R","fields":[{"name":"f","type":"float","default":0.1},{"name":"d","type":"double","default":10000000000},{"name":"g","type":["float","null"],"default":3}]}'),
  ('{"type":"record","name":"R","fields":[{"name":"m","type":{"type":"map","values":{"type":"array","items":"double"}},"default":{"z":[1,2],"a":[]}},{"name":"b","type":"bytes","default":"\u00ff\u0100"}]}'),
  ('{"type":"record","name":"R","fields":[{"name":"s","type":{"type":"record","name":"S","fields":[{"name":"y","type":"double"},{"name":"x","type":"int"}]},"default":{"y":2,"x":1}}]}'),
  ('{"type":"record","name":"R","doc":"","fields":[{"name":"f","type":"int","doc":"","x":{"b":1,"a":{"d":1,"c":2}},"a":1}],"z":1,"b":2}'),
  ('{"type":"error","name":"E","fields":[]}'),
  ('{"type":"enum","name":"E","doc":"","symbols":["A"],"z":1,"default":"A","b":2,"aliases":["Y","X"]}')
) AS v(t);

--
-- Validation errors: each class, with where it was found.
--
SELECT t AS schema_, datacontract.avro_validate(t) AS error FROM (VALUES
  -- JSON
  (''), ('   '), ('not json'), ('{"type":"int"'), ('{"type":"int"} x'), ('{"type":"int","type":"long"}'),
  ('42'), ('1.5'), ('null'), ('true'),
  -- type names
  ('"Foo"'), ('"integer"'), ('{"type":"Foo"}'), ('{"type":"record"}'), ('{"name":"x"}'), ('{"type":["int"]}'), ('{"type":{"type":"int"}}'),
  -- names
  ('{"type":"record","name":"1abc","fields":[]}'), ('{"type":"record","name":"a-b","fields":[]}'), ('{"type":"record","name":"","fields":[]}'),
  ('{"type":"record","name":"ok","namespace":"bad-ns","fields":[]}'), ('{"type":"record","name":"x..y","fields":[]}'), ('{"type":"record","name":"a.","fields":[]}'),
  ('{"type":"record","name":7,"fields":[]}'), ('{"type":"record","name":"int","fields":[]}'), ('{"type":"enum","name":"string","symbols":[]}'),
  -- redefinition
  ('["null",{"type":"enum","name":"E","symbols":["A"]},{"type":"enum","name":"E","symbols":["B"]}]'),
  ('{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"record","name":"R","fields":[]}}]}'),
  -- records and fields
  ('{"type":"record","name":"R"}'), ('{"type":"record","name":"R","fields":{}}'), ('{"type":"record","name":"R","fields":["int"]}'),
  ('{"type":"record","name":"R","fields":[{"type":"int"}]}'), ('{"type":"record","name":"R","fields":[{"name":"a"}]}'),
  ('{"type":"record","name":"R","fields":[{"name":"a b","type":"int"}]}'), ('{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]}'),
  ('{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"up"}]}'), ('{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":1}]}'),
  ('{"type":"record","name":"R","fields":[{"name":"a","type":"int","aliases":"b"}]}'), ('{"type":"record","name":"R","fields":[{"name":"a","type":"int","aliases":[1]}]}'),
  ('{"type":"record","name":"R","aliases":"S","fields":[]}'), ('{"type":"record","name":"R","aliases":["in valid"],"fields":[]}'),
  ('{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"array","items":["null",{"type":"map","values":"Nope"}]}}]}'),
  -- enums
  ('{"type":"enum","name":"E"}'), ('{"type":"enum","name":"E","symbols":"A"}'), ('{"type":"enum","name":"E","symbols":["A","A"]}'),
  ('{"type":"enum","name":"E","symbols":["A","1B"]}'), ('{"type":"enum","name":"E","symbols":["A",null]}'), ('{"type":"enum","name":"E","symbols":["A"],"default":"B"}'),
  -- arrays, maps, fixed
  ('{"type":"array"}'), ('{"type":"map","items":"int"}'), ('{"type":"array","items":"Foo"}'),
  ('{"type":"fixed","name":"F"}'), ('{"type":"fixed","name":"F","size":-1}'), ('{"type":"fixed","name":"F","size":1.5}'), ('{"type":"fixed","name":"F","size":"16"}'), ('{"type":"fixed","name":"F","size":2147483647}'),
  -- unions
  ('["int",["null","int"]]'), ('[["int"]]'), ('["int","int"]'), ('["null",{"type":"int","logicalType":"date"},"int"]'),
  ('[{"type":"array","items":"int"},{"type":"array","items":"long"}]'), ('[{"type":"map","values":"int"},{"type":"map","values":"long"}]'),
  ('[{"type":"fixed","name":"A","size":1},{"type":"fixed","name":"B","size":1}]'), ('[{"type":"fixed","name":"A","size":1},"A"]'),
  ('[{"type":"record","name":"array","fields":[]},{"type":"array","items":"int"}]'),
  ('[1]'), ('[null]'), ('[[]]')
) AS v(t);

--
-- Depth and size limits.
--
SET datacontract.max_schema_depth = 5;
SELECT datacontract.avro_validate('{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"array","items":"int"}}}}') AS depth_5;
SELECT datacontract.avro_validate('{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"array","items":"int"}}}}}') AS depth_6;
SELECT datacontract.avro_canonical('{"type":"record","name":"R","fields":[{"name":"a","type":["null",{"type":"map","values":{"type":"array","items":{"type":"array","items":"int"}}}]}]}');
RESET datacontract.max_schema_depth;
-- deeply nested garbage is rejected, not crashed on
SELECT datacontract.avro_validate(repeat('[', 100000) || repeat(']', 100000)) AS deep_json;
SELECT datacontract.avro_validate(repeat('{"type":"array","items":', 1000) || '"int"' || repeat('}', 1000)) AS deep_schema;
SELECT left(datacontract.avro_validate(repeat('["int",', 5000) || '"null"' || repeat(']', 5000)), 90) AS deep_unions;
SET datacontract.max_schema_size = 1024;
SELECT datacontract.avro_validate('{"type":"record","name":"R","doc":"' || repeat('x', 2000) || '","fields":[]}') AS too_large;
SELECT datacontract.avro_canonical('{"type":"record","name":"R","doc":"' || repeat('x', 2000) || '","fields":[]}');
\set VERBOSITY sqlstate
SELECT datacontract.avro_canonical('{"type":"record","name":"R","doc":"' || repeat('x', 2000) || '","fields":[]}');
\set VERBOSITY default
RESET datacontract.max_schema_size;

-- invalid schemas raise Confluent's 42201 from every function but avro_validate
SELECT datacontract.avro_canonical('{"type":"record","name":"R","fields":[{"name":"a","type":"strin"}]}');
SELECT datacontract.avro_fingerprint64('not json');
SELECT datacontract.avro_normalize('');
\set VERBOSITY sqlstate
SELECT datacontract.avro_fingerprint('[1]');
\set VERBOSITY default

--
-- Whitespace and key order do not change the stored form.
--
SELECT count(DISTINCT datacontract.avro_normalize(t)) AS distinct_forms,
       min(datacontract.avro_normalize(t)) AS stored
FROM (VALUES
  ('{"type":"record","name":"User","namespace":"com.example","doc":"a user","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null,"doc":"mail"},{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}}],"confluent:tags":["PII"]}'),
  (E'{\n\t"fields" : [ { "type" : "long", "name" : "id" },\n\t\t{ "doc" : "mail", "default" : null, "type" : [ "null", "string" ], "name" : "email" },\n\t\t{ "name" : "kind", "type" : { "symbols" : [ "A", "B" ], "name" : "Kind", "type" : "enum" } } ],\n\t"confluent:tags" : [ "PII" ],\n\t"doc" : "a user", "namespace" : "com.example", "name" : "User", "type" : "record"\n}'),
  ('{"type":"record","name":"com.example.User","doc":"a user","fields":[{"name":"id","type":{"type":"long"}},{"name":"email","type":["null",{"type":"string"}],"default":null,"doc":"mail"},{"name":"kind","type":{"type":"enum","name":"com.example.Kind","symbols":["A","B"]}}],"confluent:tags":["PII"]}')
) AS v(t);
-- ... but property order does, unless normalized
SELECT datacontract.avro_normalize('{"type":"string","b":1,"a":2}') AS plain,
       datacontract.avro_normalize('{"type":"string","a":2,"b":1}', true) AS normalized_1,
       datacontract.avro_normalize('{"type":"string","b":1,"a":2}', true) AS normalized_2;
-- the stored form parses back to itself
SELECT count(*) AS round_trips FROM spec_cases
WHERE datacontract.avro_normalize(datacontract.avro_normalize(input)) = datacontract.avro_normalize(input);
