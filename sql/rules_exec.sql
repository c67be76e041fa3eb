SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;

-- Rule execution in the database (Confluent's §4.9 semantics): WRITE rules
-- in avro_encode, migrations and READ rules in avro_decode and
-- avro_populate_record, run_rules and migrate.
\set SHOW_CONTEXT never
-- the schema id of a subject version (readers are given by id)
CREATE FUNCTION pg_temp.sid(s text, v integer) RETURNS integer LANGUAGE sql
  AS 'SELECT schema_id FROM datacontract.subject_versions WHERE subject = s AND version = v';

------------------------------------------------------------------------------
-- Quick start: a CEL condition on WRITE
------------------------------------------------------------------------------
SELECT datacontract.register('test-value',
  '{"type":"record","name":"myrecord","fields":[{"name":"f1","type":"string"}]}',
  rule_set => '{"domainRules": [{"name": "checkLen", "kind": "CONDITION", "type": "CEL",
     "mode": "WRITE", "expr": "size(message.f1) < 10", "onFailure": "ERROR"}]}') AS qs1;
SELECT datacontract.avro_decode(datacontract.avro_encode('test-value', '{"f1": "success"}'));
SELECT datacontract.avro_encode('test-value', '{"f1": "this will fail"}');
-- the same rule reported, never raised
SELECT * FROM datacontract.run_rules('test-value', '{"f1": "this will fail"}');
SELECT position, rule, outcome, action FROM datacontract.run_rules('test-value', '{"f1": "ok"}');
-- not a WRITE rule: nothing runs on READ
SELECT position, rule, outcome, reason FROM datacontract.run_rules('test-value', '{"f1": "this will fail"}', 'READ');

------------------------------------------------------------------------------
-- checkSsnLen with a DLQ action: in SQL an error that says DLQ
------------------------------------------------------------------------------
SELECT datacontract.register('ssn-value',
  '{"type":"record","name":"MyRecord","fields":[{"name":"ssn","type":"string","confluent:tags":["PII","PRIVATE"]}]}',
  rule_set => '{"domainRules": [{"name": "checkSsnLen", "kind": "CONDITION", "type": "CEL", "mode": "WRITE",
     "expr": "size(message.ssn) == 9", "params": {"dlq.topic": "bad-data"}, "onFailure": "DLQ"}]}') AS ssn1;
SELECT datacontract.avro_decode(datacontract.avro_encode('ssn-value', '{"ssn": "123456789"}'));
SELECT datacontract.avro_encode('ssn-value', '{"ssn": "12345"}');
SELECT rule, kind, type, mode, outcome, action, result, reason
  FROM datacontract.run_rules('ssn-value', '{"ssn": "12345"}');

------------------------------------------------------------------------------
-- populateDefault: CEL_FIELD transforms
------------------------------------------------------------------------------
SELECT datacontract.register('person-value',
  '{"type":"record","name":"Person","namespace":"acme","fields":[
     {"name":"name","type":"string"},{"name":"occupation","type":"string"},
     {"name":"nickname","type":["null","string"],"default":null},{"name":"age","type":"int"}]}',
  rule_set => '{"domainRules": [{"name": "populateDefault", "kind": "TRANSFORM", "type": "CEL_FIELD",
     "mode": "WRITE", "expr": "name == ''occupation'' ; value == '''' ? ''unspecified'' : value"}]}') AS person1;
SELECT datacontract.avro_decode(datacontract.avro_encode('person-value',
  '{"name": "", "occupation": "", "nickname": "", "age": 0}'));
SELECT datacontract.avro_decode(datacontract.avro_encode('person-value',
  '{"name": "Ann", "occupation": "pilot", "nickname": null, "age": 40}'));
-- all strings (nullable ones too), other types untouched
SELECT datacontract.register('person-value',
  '{"type":"record","name":"Person","namespace":"acme","fields":[
     {"name":"name","type":"string"},{"name":"occupation","type":"string"},
     {"name":"nickname","type":["null","string"],"default":null},{"name":"age","type":"int"}]}',
  rule_set => '{"domainRules": [{"name": "populateDefault", "kind": "TRANSFORM", "type": "CEL_FIELD",
     "mode": "WRITE", "expr": "typeName == ''STRING'' ; value == '''' ? ''unspecified'' : value"}]}') AS person2;
SELECT datacontract.avro_decode(datacontract.avro_encode('person-value',
  '{"name": "", "occupation": "", "nickname": "", "age": 0}'));
SELECT datacontract.avro_decode(datacontract.avro_encode('person-value',
  '{"name": "", "occupation": "x", "nickname": null, "age": 7}'));
SELECT rule, outcome, action, result FROM datacontract.run_rules('person-value',
  '{"name": "", "occupation": "x", "nickname": null, "age": 7}');
-- the version-1 rule is still what version 1 runs
SELECT datacontract.avro_decode(datacontract.avro_encode('person-value',
  '{"name": "", "occupation": "", "nickname": "", "age": 0}', 1));
-- the other variables, and a result of the wrong type is a failure
SELECT datacontract.register('fields-value',
  '{"type":"record","name":"R","namespace":"n","fields":[
     {"name":"a","type":"string"},{"name":"n","type":"long"},
     {"name":"inner","type":{"type":"record","name":"In","fields":[{"name":"b","type":"string"}]}},
     {"name":"list","type":{"type":"array","items":"string"}}]}',
  rule_set => '{"domainRules": [{"name": "describe", "kind": "TRANSFORM", "type": "CEL_FIELD", "mode": "WRITE",
     "expr": "typeName == ''STRING'' ; fullName + ''/'' + name + ''/'' + typeName + ''/'' + string(size(message))"},
     {"name": "double", "kind": "TRANSFORM", "type": "CEL_FIELD", "mode": "WRITE",
     "expr": "typeName == ''LONG'' ; value * 2"}]}') AS fields1;
SELECT datacontract.avro_decode(datacontract.avro_encode('fields-value',
  '{"a": "x", "n": 21, "inner": {"b": "y"}, "list": ["p", "q"]}'));
SELECT datacontract.register('fields-value',
  '{"type":"record","name":"R","namespace":"n","fields":[
     {"name":"a","type":"string"},{"name":"n","type":"long"},
     {"name":"inner","type":{"type":"record","name":"In","fields":[{"name":"b","type":"string"}]}},
     {"name":"list","type":{"type":"array","items":"string"}}]}',
  rule_set => '{"domainRules": [{"name": "wrongType", "kind": "TRANSFORM", "type": "CEL_FIELD", "mode": "WRITE",
     "expr": "name == ''n'' ; ''text''"}]}') AS fields2;
SELECT datacontract.avro_encode('fields-value', '{"a": "x", "n": 21, "inner": {"b": "y"}, "list": []}');

------------------------------------------------------------------------------
-- Tags: a field rule targets the fields whose tags (inline and
-- metadata.tags globs) meet its tags
------------------------------------------------------------------------------
SELECT datacontract.register('tags-value',
  '{"type":"record","name":"Cust","namespace":"acme","fields":[
     {"name":"ssn","type":"string","confluent:tags":["PII"]},{"name":"email","type":"string"},
     {"name":"city","type":"string"},{"name":"score","type":"int","confluent:tags":["PII"]}]}',
  metadata => '{"tags": {"**.email": ["PII"], "acme.Cust.c*": ["PUBLIC"]}}',
  rule_set => '{"domainRules": [
     {"name": "mask", "kind": "TRANSFORM", "type": "CEL_FIELD", "mode": "WRITE", "tags": ["PII"],
      "expr": "typeName == ''STRING'' ; ''***''"},
     {"name": "tagsSeen", "kind": "CONDITION", "type": "CEL_FIELD", "mode": "WRITE", "tags": ["PUBLIC"],
      "expr": "tags == [''PUBLIC''] && name == ''city''"}]}') AS tags1;
SELECT datacontract.avro_decode(datacontract.avro_encode('tags-value',
  '{"ssn": "123456789", "email": "a@b.c", "city": "Paris", "score": 5}'));

------------------------------------------------------------------------------
-- Migrations: ssn <-> socialSecurityNumber with JSONata, both ways
------------------------------------------------------------------------------
SELECT datacontract.set_config('mig-value', '{"compatibility": "NONE"}') IS NOT NULL AS config_set;
SELECT datacontract.register('mig-value',
  '{"type":"record","name":"MyRecord","fields":[{"name":"ssn","type":"string","confluent:tags":["PII","PRIVATE"]}]}') AS mig1;
SELECT datacontract.register('mig-value',
  '{"type":"record","name":"MyRecord","fields":[{"name":"socialSecurityNumber","type":"string","confluent:tags":["PII","PRIVATE"]}]}',
  rule_set => '{"migrationRules": [
     {"name": "changeSsnToSocialSecurityNumber", "kind": "TRANSFORM", "type": "JSONATA", "mode": "UPGRADE",
      "expr": "$merge([$sift($, function($v, $k) {$k != ''ssn''}), {''socialSecurityNumber'': $.''ssn''}])"},
     {"name": "changeSocialSecurityNumberToSsn", "kind": "TRANSFORM", "type": "JSONATA", "mode": "DOWNGRADE",
      "expr": "$merge([$sift($, function($v, $k) {$k != ''socialSecurityNumber''}), {''ssn'': $.''socialSecurityNumber''}])"}]}') AS mig2;
CREATE TEMP TABLE mig AS
SELECT datacontract.avro_encode('mig-value', '{"ssn": "123-45-6789"}', 1) AS v1msg,
       datacontract.avro_encode('mig-value', '{"socialSecurityNumber": "987-65-4321"}', 2) AS v2msg;
-- a new consumer (version 2) reads old messages, an old one (version 1) new messages
SELECT datacontract.avro_decode(v1msg, pg_temp.sid('mig-value', 2)) AS upgraded,
       datacontract.avro_decode(v2msg, pg_temp.sid('mig-value', 1)) AS downgraded,
       datacontract.avro_decode(v1msg, pg_temp.sid('mig-value', 1)) AS same_v1,
       datacontract.avro_decode(v2msg) AS writer_v2
  FROM mig;
SELECT datacontract.avro_decode(v1msg, pg_temp.sid('mig-value', 2), true) AS avro_json FROM mig;
CREATE TYPE mig_v1 AS (ssn text);
CREATE TYPE mig_v2 AS ("socialSecurityNumber" text);
SELECT (datacontract.avro_populate_record(NULL::mig_v1, v2msg, pg_temp.sid('mig-value', 1))).*,
       (datacontract.avro_populate_record(NULL::mig_v2, v1msg, pg_temp.sid('mig-value', 2))).*
  FROM mig;
-- avro_decode_raw has no ids: no rules
SELECT datacontract.avro_decode_raw(substring(v1msg from 6),
         '{"type":"record","name":"MyRecord","fields":[{"name":"ssn","type":"string"}]}') FROM mig;
SELECT datacontract.migrate('mig-value', '{"ssn": "1"}', 1, 2) AS up,
       datacontract.migrate('mig-value', '{"socialSecurityNumber": "2"}', 2, 1) AS down,
       datacontract.migrate('mig-value', '{"ssn": "3"}', 1, 1) AS same;
SELECT position, rule, outcome, result FROM datacontract.run_rules('mig-value', '{"ssn": "1"}', 'UPGRADE');
SELECT position, rule, outcome, result FROM datacontract.run_rules('mig-value', '{"socialSecurityNumber": "2"}', 'DOWNGRADE');
SELECT datacontract.migrate('mig-value', '{"ssn": "1"}', 1, 5);
SELECT datacontract.migrate('nosuch-value', '{"ssn": "1"}', 1, 2);

------------------------------------------------------------------------------
-- A chain 1 -> 2 -> 3 and back (CEL and JSONata transforms), with a
-- compatibility group of major versions
------------------------------------------------------------------------------
SELECT datacontract.set_config('chain-value', '{"compatibilityGroup": "application.major.version"}') IS NOT NULL AS config_set;
SELECT datacontract.register('chain-value',
  '{"type":"record","name":"C","fields":[{"name":"a","type":"string"},{"name":"n","type":"int"}]}',
  metadata => '{"properties": {"application.major.version": "1"}}') AS chain1;
SELECT datacontract.register('chain-value',
  '{"type":"record","name":"C","fields":[{"name":"b","type":"string"},{"name":"n","type":"int"}]}',
  metadata => '{"properties": {"application.major.version": "2"}}',
  rule_set => '{"migrationRules": [
     {"name": "aToB", "kind": "TRANSFORM", "type": "CEL", "mode": "UPGRADE", "expr": "{''b'': message.a, ''n'': message.n + 1}"},
     {"name": "bToA", "kind": "TRANSFORM", "type": "CEL", "mode": "DOWNGRADE", "expr": "{''a'': message.b, ''n'': message.n - 1}"}]}') AS chain2;
SELECT datacontract.register('chain-value',
  '{"type":"record","name":"C","fields":[{"name":"c","type":"string"},{"name":"n","type":"int"}]}',
  metadata => '{"properties": {"application.major.version": "3"}}',
  rule_set => '{"migrationRules": [
     {"name": "bToC", "kind": "TRANSFORM", "type": "JSONATA", "mode": "UPGRADE", "expr": "{\"c\": b & \"!\", \"n\": n * 10}"},
     {"name": "cToB", "kind": "TRANSFORM", "type": "JSONATA", "mode": "DOWNGRADE", "expr": "{\"b\": $substringBefore(c, \"!\"), \"n\": n / 10}"}]}') AS chain3;
CREATE TEMP TABLE chain AS
SELECT datacontract.avro_encode('chain-value', '{"a": "x", "n": 1}', 1) AS m1,
       datacontract.avro_encode('chain-value', '{"b": "y", "n": 2}', 2) AS m2,
       datacontract.avro_encode('chain-value', '{"c": "z!", "n": 30}', 3) AS m3;
SELECT datacontract.avro_decode(m1, pg_temp.sid('chain-value', 3)) AS "1to3",
       datacontract.avro_decode(m3, pg_temp.sid('chain-value', 1)) AS "3to1",
       datacontract.avro_decode(m1, pg_temp.sid('chain-value', 2)) AS "1to2",
       datacontract.avro_decode(m2, pg_temp.sid('chain-value', 3)) AS "2to3",
       datacontract.avro_decode(m3, pg_temp.sid('chain-value', 2)) AS "3to2",
       datacontract.avro_decode(m2, pg_temp.sid('chain-value', 1)) AS "2to1"
  FROM chain;
SELECT datacontract.migrate('chain-value', '{"a": "x", "n": 1}', 1, 3) AS up,
       datacontract.migrate('chain-value', datacontract.migrate('chain-value', '{"a": "x", "n": 1}', 1, 3), 3, 1) AS round_trip;
-- rows of several writer versions read as one version
SELECT w, datacontract.avro_decode(m, pg_temp.sid('chain-value', 2))
  FROM chain, LATERAL (VALUES (1, m1), (2, m2), (3, m3), (1, m1)) AS t(w, m);
-- a failing migration rule names the rule
SELECT datacontract.register('chain-value',
  '{"type":"record","name":"C","fields":[{"name":"d","type":"string"},{"name":"n","type":"int"}]}',
  metadata => '{"properties": {"application.major.version": "4"}}',
  rule_set => '{"migrationRules": [{"name": "cToD", "kind": "TRANSFORM", "type": "CEL", "mode": "UPDOWN",
     "expr": "message.nope"}]}') AS chain4;
SELECT datacontract.avro_decode(m1, pg_temp.sid('chain-value', 4)) FROM chain;
SELECT datacontract.avro_decode(datacontract.avro_encode('chain-value', '{"d": "w", "n": 4}', 4),
                                pg_temp.sid('chain-value', 3));

------------------------------------------------------------------------------
-- Disabled rules, enableAt NONE
------------------------------------------------------------------------------
SELECT datacontract.register('disabled-value', '"string"',
  rule_set => '{"domainRules": [{"name": "never", "kind": "CONDITION", "type": "CEL", "mode": "WRITEREAD",
     "expr": "false", "disabled": true}, {"name": "short", "kind": "CONDITION", "type": "CEL", "mode": "WRITE",
     "expr": "size(message) < 5"}]}') AS disabled1;
SELECT datacontract.avro_decode(datacontract.avro_encode('disabled-value', '"abc"'));
SELECT datacontract.avro_encode('disabled-value', '"abcdef"');
SELECT position, rule, outcome, action, reason FROM datacontract.run_rules('disabled-value', '"abcdef"');
SELECT datacontract.register('disabled-value', '"string"',
  rule_set => '{"enableAt": "NONE", "domainRules": [{"name": "short", "kind": "CONDITION", "type": "CEL",
     "mode": "WRITE", "expr": "size(message) < 5"}]}') AS disabled2;
SELECT datacontract.avro_decode(datacontract.avro_encode('disabled-value', '"abcdef"'));
SELECT position, rule, outcome, reason FROM datacontract.run_rules('disabled-value', '"abcdef"');

------------------------------------------------------------------------------
-- "A,B" actions: A on WRITE, B on READ
------------------------------------------------------------------------------
SELECT datacontract.register('ab-value',
  '{"type":"record","name":"AB","fields":[{"name":"x","type":"int"}]}',
  rule_set => '{"domainRules": [{"name": "positive", "kind": "CONDITION", "type": "CEL", "mode": "WRITEREAD",
     "expr": "message.x > 0", "onFailure": "NONE,ERROR"}]}') AS ab1;
CREATE TEMP TABLE ab AS SELECT datacontract.avro_encode('ab-value', '{"x": -1}') AS m;
SELECT datacontract.avro_decode(m) FROM ab;
SELECT datacontract.avro_decode(datacontract.avro_encode('ab-value', '{"x": 1}'));
SELECT rule, outcome, action FROM datacontract.run_rules('ab-value', '{"x": -1}', 'WRITE');
SELECT rule, outcome, action FROM datacontract.run_rules('ab-value', '{"x": -1}', 'READ');

------------------------------------------------------------------------------
-- READ runs the domain rules in reverse order
------------------------------------------------------------------------------
SELECT datacontract.register('order-value', '"string"',
  rule_set => '{"domainRules": [
     {"name": "appendA", "kind": "TRANSFORM", "type": "CEL", "mode": "WRITEREAD", "expr": "message + ''a''"},
     {"name": "appendB", "kind": "TRANSFORM", "type": "CEL", "mode": "WRITEREAD", "expr": "message + ''b''"}]}') AS order1;
SELECT datacontract.avro_decode_raw(substring(datacontract.avro_encode('order-value', '"x"') from 6), '"string"') AS written,
       datacontract.avro_decode(datacontract.avro_encode('order-value', '"x"')) AS read;
SELECT position, rule, outcome, result FROM datacontract.run_rules('order-value', '"x"', 'READ');

------------------------------------------------------------------------------
-- onSuccess actions, JSONata conditions
------------------------------------------------------------------------------
SELECT datacontract.register('success-value', '"int"',
  rule_set => '{"domainRules": [
     {"name": "noted", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "message > 0", "onSuccess": "NONE"},
     {"name": "bigIsBad", "kind": "CONDITION", "type": "JSONATA", "mode": "WRITE", "expr": "$ > 100", "onSuccess": "ERROR", "onFailure": "NONE"}]}') AS success1;
SELECT datacontract.avro_decode(datacontract.avro_encode('success-value', '5'));
SELECT datacontract.avro_encode('success-value', '500');
SELECT datacontract.avro_encode('success-value', '-5');
SELECT rule, outcome, action, result FROM datacontract.run_rules('success-value', '500');
SELECT datacontract.register('success-value', '"int"',
  rule_set => '{"domainRules": [{"name": "toDlq", "kind": "CONDITION", "type": "CEL", "mode": "WRITE",
     "expr": "message > 0", "onSuccess": "DLQ"}, {"name": "undefinedIsTrue", "kind": "CONDITION", "type": "JSONATA",
     "mode": "WRITE", "expr": "$.nothing"}]}') AS success2;
SELECT datacontract.avro_encode('success-value', '5');
SELECT rule, outcome, action, result FROM datacontract.run_rules('success-value', '5');

------------------------------------------------------------------------------
-- Rule types without executor fail; a CEL guard that is not true does not apply
------------------------------------------------------------------------------
SELECT datacontract.register('unknown-value', '"string"',
  rule_set => '{"domainRules": [{"name": "encryptIt", "kind": "TRANSFORM", "type": "ENCRYPT", "mode": "WRITEREAD", "tags": ["PII"]}]}') AS unknown1;
SELECT datacontract.avro_encode('unknown-value', '"secret"');
SELECT datacontract.register('unknown-value', '"string"',
  rule_set => '{"domainRules": [{"name": "encryptIt", "kind": "TRANSFORM", "type": "ENCRYPT", "mode": "WRITEREAD",
     "onFailure": "NONE"}, {"name": "guarded", "kind": "CONDITION", "type": "CEL", "mode": "WRITE",
     "expr": "message == ''checked'' ; false"}, {"name": "nullIsFailure", "kind": "TRANSFORM", "type": "CEL",
     "mode": "READ", "expr": "null", "onFailure": "NONE"}]}') AS unknown2;
SELECT datacontract.avro_decode(datacontract.avro_encode('unknown-value', '"secret"'));
SELECT datacontract.avro_encode('unknown-value', '"checked"');
SELECT position, rule, outcome, action, result, reason FROM datacontract.run_rules('unknown-value', '"secret"', 'WRITE');
SELECT position, rule, outcome, action, result, reason FROM datacontract.run_rules('unknown-value', '"secret"', 'READ');

------------------------------------------------------------------------------
-- Registration refuses expressions that do not compile (42210)
------------------------------------------------------------------------------
SELECT datacontract.register('bad-value', '"string"',
  rule_set => '{"domainRules": [{"name": "broken", "kind": "CONDITION", "type": "CEL", "expr": "size(message) <"}]}');
SELECT datacontract.register('bad-value', '"string"',
  rule_set => '{"domainRules": [{"name": "brokenField", "type": "CEL_FIELD", "expr": "name == ''x'' ; value +"}]}');
SELECT datacontract.register('bad-value', '"string"',
  rule_set => '{"domainRules": [{"name": "noGuard", "type": "CEL", "expr": "true ; message",
     "params": {"cel.ignore.guard.separator": "true"}}]}');
SELECT datacontract.register('bad-value', '"string"',
  rule_set => '{"migrationRules": [{"name": "brokenJsonata", "type": "JSONATA", "mode": "UPGRADE", "expr": "$merge([$"}]}');
SELECT datacontract.versions('bad-value');

------------------------------------------------------------------------------
-- Errors
------------------------------------------------------------------------------
SELECT * FROM datacontract.run_rules('nosuch-value', '{}');
SELECT * FROM datacontract.run_rules('test-value', '{}', 'WRITE', 9);
SELECT * FROM datacontract.run_rules('test-value', '{}', 'SIDEWAYS');
SELECT * FROM datacontract.run_rules('test-value', NULL);
