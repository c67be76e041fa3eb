SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
-- Data contracts: metadata and rule sets at registration (defaults,
-- overrides, inheritance, confluent:version), rule set validation, latest
-- with metadata, tags (inline, external globs), the contract views.
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
-- Register a request; "v<version> id<id> <metadata> <ruleSet>".
CREATE FUNCTION pg_temp.reg(subject text, request jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	j jsonb;
BEGIN
	j := datacontract.register_schema(subject, request);
	RETURN 'v' || (j ->> 'version') || ' id' || (j ->> 'id')
		|| coalesce(' metadata=' || (j -> 'metadata')::text, '')
		|| coalesce(' ruleSet=' || (j -> 'ruleSet')::text, '');
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ' ' || coalesce(datacontract.error_code(SQLSTATE)::text, '-') || ' ' || SQLERRM;
END
$$;
-- A record schema named R with the given fields.
CREATE FUNCTION pg_temp.r(fields text) RETURNS text LANGUAGE sql AS $$
	SELECT '{"type":"record","name":"R","fields":[' || fields || ']}'
$$;
\set f1 '{"name":"f1","type":"string"}'
\set f2 '{"name":"f2","type":"string","default":"x"}'
\set f3 '{"name":"f3","type":"int","default":0}'

------------------------------------------------------------------------------
-- Metadata and rule sets are part of the identity
------------------------------------------------------------------------------
SELECT pg_temp.reg('ident', jsonb_build_object('schema', pg_temp.r(:'f1')));
-- same text, metadata: a new id
SELECT pg_temp.reg('ident', jsonb_build_object('schema', pg_temp.r(:'f1'),
  'metadata', '{"properties": {"owner": "Bob Jones", "email": "bob@acme.com"}}'::jsonb));
-- same text, rule set (metadata inherited): another id
SELECT pg_temp.reg('ident', jsonb_build_object('schema', pg_temp.r(:'f1'),
  'ruleSet', '{"domainRules": [{"name": "checkLen", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "size(message.f1) < 10"}]}'::jsonb));
-- the defaults spelled out or left out: the same rule, the same id
SELECT pg_temp.reg('ident', jsonb_build_object('schema', pg_temp.r(:'f1'),
  'ruleSet', '{"domainRules": [{"name": "checkLen", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "size(message.f1) < 10", "disabled": false, "tags": [], "params": {}}]}'::jsonb));
-- the same content in another subject shares the id
SELECT pg_temp.reg('ident-copy', jsonb_build_object('schema', pg_temp.r(:'f1'),
  'metadata', '{"properties": {"owner": "Bob Jones", "email": "bob@acme.com"}}'::jsonb,
  'ruleSet', '{"domainRules": [{"name": "checkLen", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "size(message.f1) < 10"}]}'::jsonb));
-- a different rule field (disabled) is a different schema
SELECT pg_temp.reg('ident', jsonb_build_object('schema', pg_temp.r(:'f1'),
  'ruleSet', '{"domainRules": [{"name": "checkLen", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "size(message.f1) < 10", "disabled": true}]}'::jsonb));
-- every rule field is kept
SELECT datacontract.get_version('ident', '4') -> 'ruleSet' AS rule_set;
SELECT pg_temp.reg('all-fields', jsonb_build_object('schema', '"string"',
  'metadata', '{"properties": {"owner": "x"}, "tags": {"**.ssn": ["PII"]}, "sensitive": ["owner"]}'::jsonb,
  'ruleSet', '{"migrationRules": [{"name": "m1", "doc": "rename", "kind": "TRANSFORM", "type": "JSONATA", "mode": "UPDOWN", "tags": ["PII"], "params": {"p": "v"}, "expr": "$", "onSuccess": "NONE,NONE", "onFailure": "DLQ,ERROR", "disabled": false}], "domainRules": [{"name": "d1", "type": "CEL"}], "enableAt": "ALL"}'::jsonb));

------------------------------------------------------------------------------
-- Merging with the config: default, request, inheritance, override
------------------------------------------------------------------------------
SELECT datacontract.set_config('merge', '{"compatibility": "NONE",
  "defaultMetadata": {"properties": {"owner": "default-team", "tier": "gold"}, "tags": {"R.f1": ["DEFAULT"]}},
  "defaultRuleSet": {"domainRules": [{"name": "dflt", "type": "CEL", "expr": "true"}]}}') ->> 'compatibility';
-- default only
SELECT pg_temp.reg('merge', jsonb_build_object('schema', pg_temp.r(:'f1')));
-- request on top of the default: properties by key, rules by name (request after default)
SELECT pg_temp.reg('merge', jsonb_build_object('schema', pg_temp.r(:'f1' || ',' || :'f2'),
  'metadata', '{"properties": {"owner": "req-team"}, "sensitive": ["owner"]}'::jsonb,
  'ruleSet', '{"domainRules": [{"name": "mine", "type": "CEL", "expr": "1 == 1"}]}'::jsonb));
-- nothing in the request: the previous version's metadata and rules are inherited
SELECT pg_temp.reg('merge', jsonb_build_object('schema', pg_temp.r(:'f1' || ',' || :'f2' || ',' || :'f3')));
-- an override wins over request and default; a rule of the same name is replaced
SELECT datacontract.set_config('merge', '{"overrideMetadata": {"properties": {"owner": "override-team"}, "tags": {"R.f1": ["OVERRIDE"]}},
  "overrideRuleSet": {"domainRules": [{"name": "dflt", "type": "CEL", "expr": "false"}]}}') ? 'overrideMetadata' AS set;
SELECT pg_temp.reg('merge', jsonb_build_object('schema', pg_temp.r(:'f1'),
  'metadata', '{"properties": {"owner": "req-team-2", "extra": "y"}}'::jsonb));
-- an empty object stops inheritance (the config still applies)
SELECT pg_temp.reg('merge', jsonb_build_object('schema', pg_temp.r(:'f1' || ',' || :'f2'),
  'metadata', '{}'::jsonb, 'ruleSet', '{}'::jsonb));
-- request only, on a subject without config
SELECT pg_temp.reg('plain', jsonb_build_object('schema', '"int"',
  'metadata', '{"properties": {"owner": "solo"}}'::jsonb));
-- without schema text: the new metadata and rules go on the latest schema
SELECT pg_temp.reg('plain', jsonb_build_object(
  'ruleSet', '{"domainRules": [{"name": "positive", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "message > 0"}]}'::jsonb));
SELECT version, schema FROM datacontract.versions_all WHERE subject = 'plain' ORDER BY version;
-- ... and on an unknown subject that is "Empty schema"
SELECT pg_temp.reg('nobody', '{"metadata": {"properties": {"a": "b"}}}');

------------------------------------------------------------------------------
-- confluent:version
------------------------------------------------------------------------------
\set cv '"long"'
-- no version: no property
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv'));
-- version -1 on the same text: the existing version
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'version', -1));
-- an explicit next version: a new version carrying confluent:version
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'version', 2));
-- -1 and no version find it again (it carries its own version number)
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'version', -1));
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv'));
-- an explicit version that is not the next one
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'version', 2));
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'version', 3));
-- confluent:version in the request: an existing version with that content ...
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'metadata', '{"properties": {"confluent:version": "2"}}'::jsonb));
-- ... or, for -1 and 0, a new version
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'metadata', '{"properties": {"confluent:version": "-1"}}'::jsonb));
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'metadata', '{"properties": {"confluent:version": "0"}}'::jsonb));
-- empty properties: the latest version, whose metadata differs only by confluent:version
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'metadata', '{"properties": {}}'::jsonb));
-- other metadata: a new version without confluent:version
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'metadata', '{"properties": {"mykey": "myvalue"}}'::jsonb));
-- version -1 then adds it again, as a new version
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv', 'version', -1));
SELECT pg_temp.reg('cv', jsonb_build_object('schema', :'cv'));
SELECT version, id, metadata FROM datacontract.versions_all WHERE subject = 'cv' ORDER BY version;

------------------------------------------------------------------------------
-- Rule set validation (42210), at registration and in the config
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.rules(rule_set text) RETURNS text LANGUAGE sql AS $$
	SELECT pg_temp.reg('rules', jsonb_build_object('schema', '"string"', 'ruleSet', rule_set::jsonb))
$$;
SELECT pg_temp.rules('{"domainRules": [{"name": "a", "type": "CEL"}, {"name": "a", "type": "CEL"}]}');
SELECT pg_temp.rules('{"migrationRules": [{"name": "a", "type": "CEL", "mode": "UPGRADE"}], "domainRules": [{"name": "a", "type": "CEL"}]}');
SELECT pg_temp.rules('{"domainRules": [{"type": "CEL"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "", "type": "CEL"}]}');
SELECT pg_temp.rules(jsonb_build_object('domainRules', jsonb_build_array(jsonb_build_object('name', repeat('x', 257), 'type', 'CEL')))::text);
SELECT pg_temp.rules('{"domainRules": [{"name": "1abc", "type": "CEL"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "-abc", "type": "CEL"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "ab c", "type": "CEL"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "ab.c", "type": "CEL"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "a"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "a", "type": "CEL", "mode": "WRITE", "onFailure": "DLQ,ERROR"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "a", "type": "CEL", "mode": "READ", "onSuccess": "NONE,NONE"}]}');
SELECT pg_temp.rules('{"migrationRules": [{"name": "a", "type": "JSONATA", "mode": "UPGRADE", "onFailure": "DLQ,ERROR"}]}');
SELECT pg_temp.rules('{"migrationRules": [{"name": "a", "type": "JSONATA"}]}');
SELECT pg_temp.rules('{"migrationRules": [{"name": "a", "type": "JSONATA", "mode": "WRITE"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "a", "type": "CEL", "mode": "UPGRADE"}]}');
SELECT pg_temp.rules('{"encodingRules": [{"name": "a", "type": "ENCRYPT_PAYLOAD", "mode": "UPDOWN"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "a", "type": "CEL", "mode": "write"}]}');
SELECT pg_temp.rules('{"domainRules": [{"name": "a", "type": "CEL", "kind": "CHECK"}]}');
-- valid: the pairs are allowed for WRITEREAD (the default mode) and UPDOWN; names take _ - digits, non-ASCII letters
SELECT pg_temp.rules('{"domainRules": [{"name": "_a-1", "type": "CEL", "onSuccess": "NONE,DLQ"}, {"name": "Prüfung", "type": "CEL"}], "migrationRules": [{"name": "m", "type": "JSONATA", "mode": "UPDOWN", "onFailure": "ERROR,NONE"}]}');
-- the config's rule sets are checked too, and stored with their defaults
SELECT pg_temp.try($$SELECT datacontract.set_config('rules', '{"defaultRuleSet": {"domainRules": [{"name": "x y", "type": "CEL"}]}}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.set_config('rules', '{"overrideRuleSet": {"migrationRules": [{"name": "m", "type": "CEL"}]}}')::text$$);
SELECT datacontract.set_config('rules', '{"defaultRuleSet": {"domainRules": [{"name": "ok", "type": "CEL"}]}}') -> 'defaultRuleSet';

------------------------------------------------------------------------------
-- Latest with metadata
------------------------------------------------------------------------------
SELECT datacontract.set_config('lwm', '{"compatibility": "NONE"}') ->> 'compatibility';
SELECT pg_temp.reg('lwm', jsonb_build_object('schema', '"int"'));
SELECT pg_temp.reg('lwm', jsonb_build_object('schema', '"long"', 'metadata', '{"properties": {"major": "1", "env": "prod"}}'::jsonb));
SELECT pg_temp.reg('lwm', jsonb_build_object('schema', '"float"', 'metadata', '{"properties": {"major": "1", "env": "test"}}'::jsonb));
SELECT pg_temp.reg('lwm', jsonb_build_object('schema', '"double"', 'metadata', '{"properties": {"major": "2"}}'::jsonb));
SELECT datacontract.latest_with_metadata('lwm', '{"major": "1"}') - 'schema' AS major_1;
SELECT datacontract.latest_with_metadata('lwm', '{"major": "1", "env": "prod"}') - 'schema' AS major_1_prod;
-- non-string values are compared as text
SELECT datacontract.latest_with_metadata('lwm', '{"major": 2}') ->> 'version' AS major_2;
-- no pairs: the newest version with any metadata
SELECT datacontract.latest_with_metadata('lwm') ->> 'version' AS any_metadata;
SELECT pg_temp.try($$SELECT datacontract.latest_with_metadata('lwm', '{"major": "3"}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.latest_with_metadata('nobody', '{"major": "1"}')::text$$);
-- soft-deleted versions only when asked
SELECT datacontract.delete_version('lwm', '4');
SELECT pg_temp.try($$SELECT datacontract.latest_with_metadata('lwm', '{"major": "2"}')::text$$);
SELECT datacontract.latest_with_metadata('lwm', '{"major": "2"}', deleted => true) ->> 'version' AS deleted_major_2;

------------------------------------------------------------------------------
-- The seed's application major version scenario: an override sets the
-- major version, compatibilityGroup keeps lineages apart, consumers pin a
-- major version with latest-with-metadata
------------------------------------------------------------------------------
\set ssn1 '{"type":"record","name":"MyRecord","fields":[{"name":"ssn","type":"string","confluent:tags":["PII","PRIVATE"]}]}'
\set ssn2 '{"type":"record","name":"MyRecord","fields":[{"name":"ssn","type":"string","confluent:tags":["PII","PRIVATE"]},{"name":"age","type":"int","default":0}]}'
\set ssn3 '{"type":"record","name":"MyRecord","fields":[{"name":"socialSecurityNumber","type":"string","confluent:tags":["PII","PRIVATE"]}]}'
SELECT datacontract.set_config('major-value', '{"compatibility": "BACKWARD", "compatibilityGroup": "application.major.version",
  "overrideMetadata": {"properties": {"application.major.version": "1"}}}') ->> 'compatibilityGroup';
SELECT pg_temp.reg('major-value', jsonb_build_object('schema', :'ssn1'));
SELECT pg_temp.reg('major-value', jsonb_build_object('schema', :'ssn2'));
-- the rename breaks major version 1
SELECT pg_temp.reg('major-value', jsonb_build_object('schema', :'ssn3')) LIKE 'D0901 409 %' AS refused_in_major_1;
-- major version 2, with migration rules, starts a new lineage
SELECT datacontract.set_config('major-value', '{"overrideMetadata": {"properties": {"application.major.version": "2"}}}') ? 'overrideMetadata' AS set;
SELECT pg_temp.reg('major-value', jsonb_build_object('schema', :'ssn3',
  'ruleSet', '{"migrationRules": [{"name": "changeSsnToSocialSecurityNumber", "kind": "TRANSFORM", "type": "JSONATA", "mode": "UPGRADE", "expr": "$merge([$sift($, function($v, $k) {$k != ''ssn''}), {''socialSecurityNumber'': $.''ssn''}])"}, {"name": "changeSocialSecurityNumberToSsn", "kind": "TRANSFORM", "type": "JSONATA", "mode": "DOWNGRADE", "expr": "$merge([$sift($, function($v, $k) {$k != ''socialSecurityNumber''}), {''ssn'': $.''socialSecurityNumber''}])"}]}'::jsonb));
SELECT datacontract.latest_with_metadata('major-value', '{"application.major.version": "1"}') ->> 'version' AS pinned_1;
SELECT datacontract.latest_with_metadata('major-value', '{"application.major.version": "2"}') ->> 'version' AS pinned_2;
SELECT subject, version, major_version, migration_rules, transform_rules FROM datacontract.contracts WHERE subject = 'major-value';

------------------------------------------------------------------------------
-- Tag path globs
------------------------------------------------------------------------------
SELECT p AS pattern, datacontract.tag_glob_match(p, 'alice.bob.eve') AS matches_alice_bob_eve
  FROM unnest(ARRAY['a*.bob.eve', 'a**', 'a*', 'alice.bob*', 'alice.bob.*', 'alic?.bob.eve', 'alice?bob.eve',
					'**.eve', '**.*', '**', '*', '*.*.*', '*.*', 'alice.bob.eve', 'alice.bob.ev', 'ALICE.bob.eve',
					'a**.eve', '**.bob.**', '?????.bob.eve', '????.bob.eve', 'alice.b?b.*']) AS p;
SELECT datacontract.tag_glob_match('a*.bob', 'alice.bob') AS star, datacontract.tag_glob_match('a**', 'alice.bob') AS double_star,
	   datacontract.tag_glob_match('alic?.bob', 'alice.bob') AS question;
-- the seed's glob
SELECT p AS path, datacontract.tag_glob_match('**.ssn', p) AS ssn
  FROM unnest(ARRAY['MyRecord.ssn', 'com.acme.MyRecord.ssn', 'ssn', 'MyRecord.ssn2', 'MyRecord.xssn']) AS p;
-- regex specials are literal
SELECT datacontract.tag_glob_match('a+b.c', 'a+b.c') AS plus, datacontract.tag_glob_match('a+b.c', 'aab.c') AS plus_is_literal,
	   datacontract.tag_glob_match('a[b].c', 'a[b].c') AS brackets, datacontract.tag_glob_match('a.c', 'abc') AS dot_is_literal,
	   datacontract.tag_glob_match('(x|y)$', '(x|y)$') AS others, datacontract.tag_glob_match('\d', '\d') AS backslash;
-- "?" is one character, multibyte included
SELECT datacontract.tag_glob_match('r?sum?.x', 'résumé.x') AS multibyte, datacontract.tag_glob_match('?', '') AS empty_path;

------------------------------------------------------------------------------
-- Fields and tags
------------------------------------------------------------------------------
SELECT * FROM datacontract.schema_fields('{"type":"record","name":"Customer","namespace":"com.acme","confluent:tags":["ENTITY"],"fields":[
  {"name":"ssn","type":"string","confluent:tags":["PRIVATE","PII","PII"]},
  {"name":"born","type":{"type":"int","logicalType":"date"}},
  {"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"street","type":"string","confluent:tags":["PII"]},
    {"name":"next","type":["null","Address"],"default":null}]}},
  {"name":"phones","type":{"type":"array","items":{"type":"record","name":"Phone","namespace":"com.acme.contact","fields":[{"name":"number","type":"string"}]}}},
  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
  {"name":"extra","type":{"type":"map","values":["null","long"]}}]}');
-- a schema that is not a record has no fields
SELECT count(*) FROM datacontract.schema_fields('"string"');
SELECT pg_temp.try($$SELECT count(*) FROM datacontract.schema_fields('{"type":"nope"}')$$);
-- external tags: the seed's MyRecord.ssn and **.ssn
SELECT pg_temp.reg('tags-value', jsonb_build_object('schema', '{"type":"record","name":"MyRecord","namespace":"com.acme","fields":[{"name":"ssn","type":"string","confluent:tags":["PRIVATE"]},{"name":"name","type":"string"},{"name":"inner","type":{"type":"record","name":"Inner","fields":[{"name":"ssn","type":"string"}]}}]}',
  'metadata', '{"tags": {"**.ssn": ["PII"], "com.acme.MyRecord.name": ["NAME"], "com.acme.*.name": ["ONE_LEVEL"]}}'::jsonb));
SELECT subject, version, path, type, primitive, inline_tags, external_tags, tags FROM datacontract.fields WHERE subject = 'tags-value' ORDER BY path;
SELECT * FROM datacontract.fields_with_tag('PII');
SELECT * FROM datacontract.fields_with_tag('PRIVATE');
SELECT * FROM datacontract.subjects_with_tag('PII');
SELECT * FROM datacontract.subjects_with_tag('PRIVATE', latest_only => false);
SELECT * FROM datacontract.subjects_with_tag('NOPE');

------------------------------------------------------------------------------
-- Contracts and rules views
------------------------------------------------------------------------------
SELECT subject, version, owner, major_version, properties, sensitive, domain_rules, migration_rules, condition_rules, transform_rules, enable_at
  FROM datacontract.contracts WHERE subject IN ('all-fields', 'merge', 'plain', 'ident') ORDER BY subject;
SELECT subject, version, rule_list, ordinal, name, kind, type, mode, tags, params, on_success, on_failure, disabled, doc
  FROM datacontract.rules WHERE subject IN ('all-fields', 'merge') ORDER BY subject, version, rule_list, ordinal;

------------------------------------------------------------------------------
-- IMPORT mode takes metadata and rules as given: no config, no inheritance
------------------------------------------------------------------------------
SELECT datacontract.set_mode('imported', 'IMPORT');
SELECT datacontract.set_config('imported', '{"defaultMetadata": {"properties": {"owner": "d"}}}') ? 'defaultMetadata' AS set;
SELECT pg_temp.reg('imported', '{"schema": "\"int\"", "id": 900, "version": 1}');
SELECT datacontract.delete_mode('imported');

-- readers may use the read functions and views
SET ROLE datacontract_reader;
SELECT datacontract.latest_with_metadata('lwm', '{"major": "1"}') ->> 'version' AS reader_lwm;
SELECT count(*) > 0 AS reader_fields FROM datacontract.fields;
SELECT count(*) > 0 AS reader_rules FROM datacontract.rules;
SELECT count(*) > 0 AS reader_contracts FROM datacontract.contracts;
SELECT count(*) AS reader_tagged FROM datacontract.subjects_with_tag('PII');
RESET ROLE;
