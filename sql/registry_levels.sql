-- Compatibility levels as the registry applies them: which previous versions
-- are compared, transitivity, soft-deleted versions, re-registration,
-- compatibilityGroup and checks against one named version.
-- a fresh registry: ids and versions below do not depend on other tests
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE q INTO r;
	RETURN r;
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ' ' || left(SQLERRM, 160);
END
$$;

-- r(fields...): a record "R" with the given field list
CREATE FUNCTION pg_temp.r(fields text) RETURNS text LANGUAGE sql AS $$
	SELECT '{"type":"record","name":"R","fields":[' || fields || ']}'
$$;
-- reg(subject, fields): register, returning "v<version> id<id>" or the error
CREATE FUNCTION pg_temp.reg(subject text, fields text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	j jsonb;
BEGIN
	j := datacontract.register_schema(subject, jsonb_build_object('schema', pg_temp.r(fields)));
	RETURN 'v' || (j ->> 'version') || ' id' || (j ->> 'id');
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ' ' || coalesce(substring(SQLERRM from 'errorType:''([A-Z_]+)'''), left(SQLERRM, 120));
END
$$;

\set a '{"name":"a","type":"int"}'
\set a_long '{"name":"a","type":"long"}'
\set b_def '{"name":"b","type":"string","default":"x"}'
\set b_req '{"name":"b","type":"string"}'
\set c_def '{"name":"c","type":"int","default":0}'

------------------------------------------------------------------------------
-- BACKWARD: the new schema reads data written with the latest
------------------------------------------------------------------------------
SELECT datacontract.set_compatibility('bw', 'BACKWARD');
SELECT pg_temp.reg('bw', :'a');
SELECT pg_temp.reg('bw', :'a' || ',' || :'b_def');     -- add with default: ok
SELECT pg_temp.reg('bw', :'a' || ',' || :'c_def' || ',' || '{"name":"d","type":"int"}');  -- add required: no
SELECT pg_temp.reg('bw', :'a_long' || ',' || :'b_def'); -- promote int -> long: ok
SELECT pg_temp.reg('bw', :'a' || ',' || :'b_def');     -- the text of v2: returned unchecked
SELECT pg_temp.reg('bw', :'a' || ',' || :'b_def' || ',' || :'c_def');  -- demote long -> int: no
-- re-registering an existing version returns it without a check
SELECT pg_temp.reg('bw', :'a');

------------------------------------------------------------------------------
-- FORWARD: the latest reads data written with the new schema
------------------------------------------------------------------------------
SELECT datacontract.set_compatibility('fw', 'FORWARD');
SELECT pg_temp.reg('fw', :'a' || ',' || :'b_def');
SELECT pg_temp.reg('fw', :'a');                        -- remove a field with default: ok
SELECT pg_temp.reg('fw', :'a_long');                   -- int -> long: old reader cannot read long
SELECT pg_temp.reg('fw', :'a' || ',' || :'b_req');     -- add a required field: ok for FORWARD

------------------------------------------------------------------------------
-- FULL: both directions
------------------------------------------------------------------------------
SELECT datacontract.set_compatibility('full', 'FULL');
SELECT pg_temp.reg('full', :'a');
SELECT pg_temp.reg('full', :'a' || ',' || :'b_req');   -- not backward
SELECT pg_temp.reg('full', :'a' || ',' || :'b_def');   -- both ways
SELECT pg_temp.reg('full', :'a');                      -- existing v1: returned unchecked

------------------------------------------------------------------------------
-- Transitive levels check every live version, newest first
------------------------------------------------------------------------------
-- bwt: v1 {a}, v2 {c default}, then under BACKWARD_TRANSITIVE a reader with a
-- required "a" fails against v2, and one with a default for "a" reads both.
SELECT datacontract.set_compatibility('bwt', 'NONE');
SELECT pg_temp.reg('bwt', :'a');
SELECT pg_temp.reg('bwt', :'c_def');
SELECT datacontract.set_compatibility('bwt', 'BACKWARD_TRANSITIVE');
-- {a int, c default}: reads v2 data? v2 lacks a, a has no default: fails against v2
SELECT pg_temp.reg('bwt', :'a' || ',' || :'c_def');
-- the same with a default for a: reads v2 and v1
SELECT pg_temp.reg('bwt', '{"name":"a","type":"int","default":1},' || :'c_def');
-- non-transitive BACKWARD would only compare with the latest
SELECT datacontract.set_compatibility('bwt2', 'NONE');
SELECT pg_temp.reg('bwt2', :'a_long');
SELECT pg_temp.reg('bwt2', :'a');
SELECT datacontract.set_compatibility('bwt2', 'BACKWARD');
SELECT pg_temp.reg('bwt2', '{"name":"a","type":"float"}');   -- float reads int (latest): ok
SELECT datacontract.delete_version('bwt2', '3');
SELECT datacontract.set_compatibility('bwt2', 'BACKWARD_TRANSITIVE');
SELECT pg_temp.reg('bwt2', '{"name":"a","type":"float"}');   -- float reads long too: ok
SELECT pg_temp.reg('bwt2', :'a');                             -- existing v2: unchecked
SELECT datacontract.delete_version('bwt2', '4');
-- newest first, the messages come from the first failing version: int reads
-- v2 (int) but not v1 (long)
SELECT messages[cardinality(messages) - 2] AS failing_version
  FROM datacontract.check_compatibility('bwt2', '{"type":"record","name":"R","fields":[{"name":"a","type":"int","doc":"new"}]}');
SELECT datacontract.set_compatibility('fwt', 'FORWARD_TRANSITIVE');
SELECT pg_temp.reg('fwt', :'a' || ',' || :'b_def');
SELECT pg_temp.reg('fwt', :'a');
SELECT pg_temp.reg('fwt', :'b_def');   -- v2 reader {a} cannot read it
SELECT datacontract.set_compatibility('flt', 'FULL_TRANSITIVE');
SELECT pg_temp.reg('flt', :'a' || ',' || :'c_def');
SELECT pg_temp.reg('flt', :'c_def' || ',' || :'b_def');   -- v1 reader needs "a"
SELECT pg_temp.reg('flt', '{"name":"a","type":"int","default":5},' || :'c_def' || ',' || :'b_def');

------------------------------------------------------------------------------
-- Soft-deleted versions are never compared
------------------------------------------------------------------------------
SELECT datacontract.set_compatibility('soft', 'BACKWARD');
SELECT pg_temp.reg('soft', :'a');
SELECT pg_temp.reg('soft', '{"name":"z","type":"string"}');   -- no
SELECT datacontract.delete_version('soft', '1');
SELECT pg_temp.reg('soft', '{"name":"z","type":"string"}');   -- nothing live to compare: ok

------------------------------------------------------------------------------
-- NONE accepts anything
------------------------------------------------------------------------------
SELECT datacontract.set_compatibility('none', 'NONE');
SELECT pg_temp.reg('none', :'a');
SELECT pg_temp.reg('none', '{"name":"q","type":"bytes"}');

------------------------------------------------------------------------------
-- A named version checks that version only, whatever the level
------------------------------------------------------------------------------
SELECT is_compatible FROM datacontract.check_compatibility('bwt', pg_temp.r(:'a'), '1');
SELECT is_compatible FROM datacontract.check_compatibility('bwt', pg_temp.r(:'a'), '2');
SELECT is_compatible FROM datacontract.check_compatibility('bwt', pg_temp.r(:'a'));

------------------------------------------------------------------------------
-- compatibilityGroup: versions compete only within their group
------------------------------------------------------------------------------
SELECT datacontract.set_config('grp', '{"compatibility": "BACKWARD", "compatibilityGroup": "application.major.version"}');
SELECT datacontract.register('grp', pg_temp.r(:'a'), metadata => '{"properties": {"application.major.version": "1"}}');
-- incompatible within major version 1
SELECT pg_temp.try(format('SELECT datacontract.register(%L, %L, metadata => %L)', 'grp', pg_temp.r('{"name":"a","type":"string"}'),
  '{"properties": {"application.major.version": "1"}}')) LIKE 'D0901 %' AS refused_in_group;
-- a new major version starts a fresh lineage
SELECT datacontract.register('grp', pg_temp.r('{"name":"a","type":"string"}'), metadata => '{"properties": {"application.major.version": "2"}}');
-- without metadata the previous version's is inherited: group 2
SELECT datacontract.register('grp', pg_temp.r('{"name":"a","type":"string"},' || :'b_def'));
SELECT version, id, metadata -> 'properties' ->> 'application.major.version' AS major
  FROM datacontract.versions_all WHERE subject = 'grp' ORDER BY version;
-- a version of major 1 is still checked against major 1's versions
SELECT pg_temp.try(format('SELECT datacontract.register(%L, %L, metadata => %L)', 'grp', pg_temp.r('{"name":"a","type":"boolean"}'),
  '{"properties": {"application.major.version": "1"}}')) LIKE 'D0901 %' AS refused_against_major_1;

------------------------------------------------------------------------------
-- Imports skip the checks
------------------------------------------------------------------------------
SELECT datacontract.set_mode('imp', 'IMPORT');
SELECT datacontract.set_compatibility('imp', 'FULL_TRANSITIVE');
SELECT datacontract.register_schema('imp', jsonb_build_object('schema', pg_temp.r(:'a'), 'id', 5000, 'version', 1)) ->> 'id';
SELECT datacontract.register_schema('imp', jsonb_build_object('schema', pg_temp.r('{"name":"a","type":"string"}'), 'id', 5001, 'version', 2)) ->> 'id';
SELECT datacontract.delete_mode('imp');
