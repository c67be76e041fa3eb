SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
-- Tag editing and tag queries: avro_modify_tags, schemaTagsToAdd/Remove and
-- propagateSchemaTags at registration, POST .../versions/{v}/tags
-- (modify_schema_tags), findTags (schema_tags).
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
-- One SchemaTags list entry.
CREATE FUNCTION pg_temp.st(path text, type text, VARIADIC tags text[]) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('schemaEntity', jsonb_build_object('entityPath', path, 'entityType', type),
							  'tags', to_jsonb(tags))
$$;

\set cust '{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"ssn","type":"string"},{"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"street","type":"string"},{"name":"zip","type":"string","confluent:tags":["LOCATION"]}]}},{"name":"emails","type":{"type":"array","items":{"type":"record","name":"Email","namespace":"com.mail","fields":[{"name":"addr","type":"string"}]}}},{"name":"alt","type":["null","Address"],"default":null}]}'

------------------------------------------------------------------------------
-- schema_entities: records and fields in Confluent's order
------------------------------------------------------------------------------
SELECT * FROM datacontract.schema_entities(:'cust');
SELECT datacontract.schema_inline_tags(:'cust');
SELECT datacontract.schema_inline_tags('"string"');

------------------------------------------------------------------------------
-- avro_modify_tags
------------------------------------------------------------------------------
-- add to a field, a nested record (inherited namespace) and a record with
-- its own namespace; tags keep their order, duplicates dropped
SELECT datacontract.avro_modify_tags(:'cust',
	jsonb_build_array(pg_temp.st('com.acme.Customer.ssn', 'sr_field', 'PII', 'SENSITIVE', 'PII'),
					  pg_temp.st('com.acme.Address.zip', 'sr_field', 'PII', 'LOCATION'),
					  pg_temp.st('com.mail.Email', 'sr_record', 'CONTACT'),
					  pg_temp.st('com.acme.Customer', 'sr_record', 'GDPR')),
	NULL);
-- remove: an emptied list drops the attribute; removing an absent tag is fine
SELECT datacontract.avro_modify_tags(:'cust', NULL,
	jsonb_build_array(pg_temp.st('com.acme.Address.zip', 'sr_field', 'LOCATION', 'NOPE')));
-- add then remove on one entity, both lists
SELECT datacontract.avro_modify_tags(:'cust',
	jsonb_build_array(pg_temp.st('com.acme.Customer.id', 'sr_field', 'A', 'B')),
	jsonb_build_array(pg_temp.st('com.acme.Customer.id', 'sr_field', 'A')));
-- no edits: the stored form
SELECT datacontract.avro_modify_tags('{"type": "record", "name": "R", "fields": []}', '[]', NULL);
SELECT datacontract.avro_modify_tags(NULL, '[]', '[]') IS NULL AS null_schema;
-- the null namespace, a dotted record name
SELECT datacontract.avro_modify_tags('{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}',
	jsonb_build_array(pg_temp.st('R.a', 'sr_field', 'X'), pg_temp.st('R', 'sr_record', 'Y')), NULL);
SELECT datacontract.avro_modify_tags('{"type":"record","name":"x.y.R","namespace":"ignored","fields":[{"name":"a","type":"int"}]}',
	jsonb_build_array(pg_temp.st('x.y.R.a', 'sr_field', 'X')), NULL);
-- errors: unknown entities (42201), bad lists
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('$$ || :'cust' || $$',
	jsonb_build_array(pg_temp.st('com.acme.Customer.nope', 'sr_field', 'PII')), NULL)$$);
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('$$ || :'cust' || $$',
	jsonb_build_array(pg_temp.st('Customer.ssn', 'sr_field', 'PII')), NULL)$$);
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('$$ || :'cust' || $$', NULL,
	jsonb_build_array(pg_temp.st('com.acme.Customer.ssn', 'sr_record', 'PII')))$$);
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('$$ || :'cust' || $$',
	'[{"schemaEntity": {"entityPath": "com.acme.Customer", "entityType": "sr_schema"}, "tags": ["X"]}]', NULL)$$);
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('$$ || :'cust' || $$', '{"a": 1}', NULL)$$);
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('$$ || :'cust' || $$',
	'[{"schemaEntity": {"entityPath": "com.acme.Customer", "entityType": "sr_record"}, "tags": [1]}]', NULL)$$);
SELECT pg_temp.try($$SELECT datacontract.avro_modify_tags('{"type":', '[{"schemaEntity": {"entityPath": "R", "entityType": "sr_record"}, "tags": ["X"]}]', NULL)$$);
-- numbers, unicode and other attributes survive the rewrite
SELECT datacontract.avro_modify_tags('{"type":"record","name":"N","doc":"für \u00e9","fields":[{"name":"d","type":"double","default":0.1},{"name":"l","type":"long","default":9007199254740993},{"name":"x","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2},"aliases":["y"],"custom":{"k":[1.5e300,true,null]}}]}',
	jsonb_build_array(pg_temp.st('N.x', 'sr_field', 'ü')), NULL);
-- missing_ok skips unknown entities
SELECT datacontract.avro_modify_tags('{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}',
	jsonb_build_array(pg_temp.st('R.gone', 'sr_field', 'X'), pg_temp.st('R.a', 'sr_field', 'Y')), NULL, NULL, true);
-- types from references: only the schema's own entities, parsed with the refs
SELECT datacontract.avro_modify_tags('{"type":"record","name":"Holder","fields":[{"name":"c","type":"com.acme.Address"}]}',
	jsonb_build_array(pg_temp.st('Holder.c', 'sr_field', 'REF')), NULL,
	ARRAY['{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]}']);

------------------------------------------------------------------------------
-- Registration with schemaTagsToAdd / schemaTagsToRemove / propagateSchemaTags
------------------------------------------------------------------------------
SELECT datacontract.set_compatibility(NULL, 'BACKWARD');
-- tags edited before canonicalisation; confluent:version set (version "latest")
SELECT jsonb_pretty(datacontract.register_schema('cust-value', jsonb_build_object('schema', :'cust',
	'schemaTagsToAdd', jsonb_build_array(pg_temp.st('com.acme.Customer.ssn', 'sr_field', 'PII')),
	'schemaTagsToRemove', jsonb_build_array(pg_temp.st('com.acme.Address.zip', 'sr_field', 'LOCATION')))) - 'schema');
SELECT schema FROM datacontract.schemas WHERE id = 1;
-- the same request again: the same version
SELECT datacontract.register_schema('cust-value', jsonb_build_object('schema', :'cust',
	'schemaTagsToAdd', jsonb_build_array(pg_temp.st('com.acme.Customer.ssn', 'sr_field', 'PII')),
	'schemaTagsToRemove', jsonb_build_array(pg_temp.st('com.acme.Address.zip', 'sr_field', 'LOCATION')))) ->> 'version' AS version;
-- an unknown entity: 42201, nothing registered
SELECT pg_temp.try($$SELECT datacontract.register_schema('cust-value', jsonb_build_object('schema', '$$ || :'cust' || $$',
	'schemaTagsToAdd', jsonb_build_array(pg_temp.st('com.acme.Customer.nope', 'sr_field', 'PII'))))::text$$);
-- an invalid schema still reports the parser's message
SELECT pg_temp.try($$SELECT datacontract.register_schema('cust-value', jsonb_build_object('schema', '{"type":"record"}',
	'schemaTagsToAdd', jsonb_build_array(pg_temp.st('R', 'sr_record', 'X'))))::text$$);
-- empty schema: tags apply to the inherited one
SELECT datacontract.register_schema('cust-value', jsonb_build_object(
	'schemaTagsToAdd', jsonb_build_array(pg_temp.st('com.acme.Customer.id', 'sr_field', 'KEY'),
										 pg_temp.st('com.acme.Customer.alt', 'sr_field', 'OLD')))) - 'schema';
SELECT * FROM datacontract.schema_entities((SELECT schema FROM datacontract.schemas WHERE id = 2))
 WHERE cardinality(tags) > 0;
-- propagateSchemaTags: the new schema (a field added, "alt" dropped) gets
-- the previous version's inline tags where it still has the entities
\set cust2 '{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"ssn","type":"string"},{"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"street","type":"string"},{"name":"zip","type":"string"}]}},{"name":"emails","type":{"type":"array","items":{"type":"record","name":"Email","namespace":"com.mail","fields":[{"name":"addr","type":"string"}]}}},{"name":"phone","type":"string","default":""}]}'
SELECT datacontract.set_compatibility('cust-value', 'NONE');
SELECT datacontract.register_schema('cust-value', jsonb_build_object('schema', :'cust2',
	'propagateSchemaTags', true)) - 'schema';
SELECT * FROM datacontract.schema_entities((SELECT schema FROM datacontract.schemas WHERE id = 3))
 WHERE cardinality(tags) > 0;
-- without it, nothing is propagated
SELECT datacontract.register_schema('cust-plain', jsonb_build_object('schema', :'cust2')) ->> 'id' AS id;
SELECT datacontract.register_schema('cust-plain', jsonb_build_object('schema', :'cust2',
	'propagateSchemaTags', true)) ->> 'version' AS version;
-- other registrations are unchanged
SELECT datacontract.register('plain', '{"type":"record","name":"P","fields":[{"name":"a","type":"int"}]}');
SELECT datacontract.get_version('plain', '1') - 'schema';

------------------------------------------------------------------------------
-- POST /subjects/{s}/versions/{v}/tags: modify_schema_tags
------------------------------------------------------------------------------
SELECT datacontract.register_schema('tagged', jsonb_build_object(
	'schema', '{"type":"record","name":"T","namespace":"n","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}',
	'metadata', '{"properties": {"owner": "ann"}, "tags": {"n.T.b": ["EXT"]}}'::jsonb,
	'ruleSet', '{"domainRules": [{"name": "r1", "type": "CEL", "mode": "WRITE", "expr": "true"}, {"name": "r2", "type": "CEL", "mode": "WRITE", "expr": "true"}]}'::jsonb));
-- tags added: a new version with version 1's metadata, confluent:version, and the latest rule set
SELECT datacontract.tag_schema_request('tagged', '1', jsonb_build_object(
	'tagsToAdd', jsonb_build_array(pg_temp.st('n.T.a', 'sr_field', 'PII'))));
SELECT datacontract.modify_schema_tags('tagged', '1', jsonb_build_object(
	'tagsToAdd', jsonb_build_array(pg_temp.st('n.T.a', 'sr_field', 'PII'), pg_temp.st('n.T', 'sr_record', 'REC')))) - 'ruleSet';
-- newVersion, tags removed, metadata replaced, rulesToMerge and rulesToRemove
SELECT datacontract.modify_schema_tags('tagged', 'latest', jsonb_build_object(
	'newVersion', 3,
	'tagsToRemove', jsonb_build_array(pg_temp.st('n.T', 'sr_record', 'REC')),
	'metadata', '{"properties": {"owner": "bob"}}'::jsonb,
	'rulesToMerge', '{"domainRules": [{"name": "r3", "type": "CEL", "mode": "READ", "expr": "false"}]}'::jsonb,
	'rulesToRemove', '["r1"]'::jsonb));
-- newVersion not the next one: 42201
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '1', '{"newVersion": 9}')::text$$);
-- ruleSet with rulesToMerge: 42210; an invalid rule: 42210
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '1',
	'{"ruleSet": {}, "rulesToRemove": ["r1"]}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '1',
	'{"rulesToMerge": {"domainRules": [{"name": "1bad", "type": "CEL"}]}}')::text$$);
-- unknown subject 40401, unknown version 40402, bad version 42202, unknown entity 42201
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('ghost', '1', '{}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '42', '{}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '0', '{}')::text$$);
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '1',
	jsonb_build_object('tagsToAdd', jsonb_build_array(pg_temp.st('n.T.zz', 'sr_field', 'X'))))::text$$);
-- incompatible under the subject's level: 409 (version 1's schema cannot
-- be read by version 2, which added a field without a default)
SELECT datacontract.set_compatibility('compat', 'NONE');
SELECT datacontract.register_schema('compat', jsonb_build_object('schema',
	'{"type":"record","name":"C","fields":[{"name":"a","type":"int"}]}')) ->> 'version' AS version;
SELECT datacontract.register_schema('compat', jsonb_build_object('schema',
	'{"type":"record","name":"C","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}')) ->> 'version' AS version;
SELECT datacontract.set_compatibility('compat', 'FORWARD');
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('compat', '1', '{}')::text$$);
-- from version 2 it is compatible: a new version 3 with version 2's schema
SELECT datacontract.modify_schema_tags('compat', '2', '{}') - 'schema';
-- read-only subject: 42205
SELECT datacontract.set_mode('tagged', 'READONLY');
SELECT pg_temp.try($$SELECT datacontract.modify_schema_tags('tagged', '1', '{}')::text$$);
SELECT datacontract.delete_mode('tagged');
SELECT subject, version, schema_id FROM datacontract.subject_versions WHERE subject = 'tagged' ORDER BY version;

------------------------------------------------------------------------------
-- findTags: schema_tags (inline and external)
------------------------------------------------------------------------------
SELECT datacontract.schema_tags(1);
SELECT datacontract.schema_tags(1, ARRAY['PII']);
SELECT datacontract.schema_tags(1, ARRAY['NONE']);
-- version 2 of "tagged": inline PII/REC and the external EXT on n.T.b
SELECT datacontract.schema_tags((datacontract.get_version('tagged', '2') ->> 'id')::integer);
SELECT datacontract.schema_tags((datacontract.get_version('tagged', '2') ->> 'id')::integer, ARRAY['EXT']);
-- version 3 replaced the metadata: no external tags any more
SELECT datacontract.schema_tags((datacontract.get_version('tagged', '3') ->> 'id')::integer, ARRAY['*']);
-- an external tag also given inline is listed once
SELECT datacontract.register_schema('both', jsonb_build_object(
	'schema', '{"type":"record","name":"B","fields":[{"name":"a","type":"string","confluent:tags":["PII"]}]}',
	'metadata', '{"tags": {"B.*": ["PII", "ALL"]}}'::jsonb)) ->> 'id' AS id;
SELECT datacontract.schema_tags((datacontract.get_version('both', '1') ->> 'id')::integer);
SELECT pg_temp.try($$SELECT datacontract.schema_tags(9999)::text$$);
