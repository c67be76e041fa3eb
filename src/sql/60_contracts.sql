-- datacontract install script, part 60: data contracts from SQL.
--
-- A contract is a schema version's metadata (properties, tags, sensitive)
-- and rule set, stored with the version by the registry (part 30).  This
-- part makes them queryable: latest version with metadata, field tags
-- (inline "confluent:tags" and metadata.tags path globs, src/contract_tags.c),
-- and views of contracts and rules.

------------------------------------------------------------------------------
-- Latest with metadata
------------------------------------------------------------------------------

-- The newest version of a subject whose metadata properties contain every
-- given key/value pair (Confluent's GET /subjects/{s}/metadata); with no
-- pairs, the newest version that has metadata at all.  Soft-deleted
-- versions count only with "deleted".  40401 when the subject has no
-- (visible) version, 40403 when none matches.
CREATE FUNCTION datacontract.latest_with_metadata(subject text, properties jsonb DEFAULT '{}',
												  deleted boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	wanted jsonb;
	hit record;
BEGIN
	PERFORM datacontract._check_subject(subject);
	IF properties IS NOT NULL AND jsonb_typeof(properties) <> 'object' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'properties must be a JSON object',
			HINT = 'Pass the wanted properties as {"key": "value", ...}.';
	END IF;
	-- Property values are strings; compare what the caller wrote as text.
	SELECT coalesce(jsonb_object_agg(e.key, e.value #>> '{}'), '{}') INTO wanted
	  FROM jsonb_each(coalesce(properties, '{}')) AS e;
	SELECT sv.version, s AS srow INTO hit
	  FROM datacontract.subject_versions sv
	  JOIN datacontract.schemas s ON s.id = sv.schema_id
	 WHERE sv.subject = latest_with_metadata.subject
	   AND (NOT sv.deleted OR latest_with_metadata.deleted)
	   AND s.metadata IS NOT NULL
	   AND coalesce(s.metadata -> 'properties', '{}') @> wanted
	 ORDER BY sv.version DESC LIMIT 1;
	IF hit.version IS NULL THEN
		IF NOT EXISTS (SELECT 1 FROM datacontract.subject_versions sv
						WHERE sv.subject = latest_with_metadata.subject
						  AND (NOT sv.deleted OR latest_with_metadata.deleted)) THEN
			PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
		END IF;
		PERFORM datacontract._raise(40403, 'Schema not found');
	END IF;
	RETURN datacontract._schema_json(subject, hit.version, hit.srow);
END
$$;

------------------------------------------------------------------------------
-- Tags
------------------------------------------------------------------------------

CREATE FUNCTION datacontract.tag_glob_match(pattern text, path text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'tag_glob_match'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.tag_glob_match(text, text) IS
	'Whether a metadata.tags path glob matches a field''s full name: ? one character, * within one dot-separated element, ** across elements';

CREATE FUNCTION datacontract.schema_fields(schema text,
										   OUT path text, OUT record text, OUT name text,
										   OUT "position" integer, OUT type text, OUT primitive boolean,
										   OUT inline_tags text[], OUT record_tags text[])
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'schema_fields'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION datacontract.schema_fields(text) IS
	'Every field of every record an Avro schema reaches: full name, record, name, position, type, inline confluent:tags of the field and of its record';

-- The external tags (metadata.tags) whose path glob matches a full name,
-- sorted, without duplicates; an empty array when none does.
CREATE FUNCTION datacontract.external_tags(metadata jsonb, path text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(DISTINCT t.tag ORDER BY t.tag), '{}')
	  FROM jsonb_each(CASE WHEN jsonb_typeof($1 -> 'tags') = 'object' THEN $1 -> 'tags' ELSE '{}' END) AS g(glob, tags),
		   jsonb_array_elements_text(CASE WHEN jsonb_typeof(g.tags) = 'array' THEN g.tags ELSE '[]' END) AS t(tag)
	 WHERE datacontract.tag_glob_match(g.glob, $2)
$$;

-- Every field of every subject version with its tags: inline ones, the
-- external ones matched by the version's metadata.tags, and both ("tags",
-- what a field rule targets).  Schemas with references are walked in their
-- resolved form, so fields of referenced records are listed too.
CREATE VIEW datacontract.fields AS
SELECT sv.subject, sv.version, sv.schema_id AS id, sv.deleted,
	   f.path, f.record, f.name, f."position", f.type, f.primitive,
	   f.inline_tags, x.external_tags,
	   ARRAY(SELECT DISTINCT u.tag FROM unnest(f.inline_tags || x.external_tags) AS u(tag) ORDER BY 1) AS tags,
	   f.record_tags
  FROM datacontract.subject_versions sv
  JOIN datacontract.schemas s ON s.id = sv.schema_id
 CROSS JOIN LATERAL datacontract.schema_fields(coalesce(s.resolved, s.schema)) AS f
 CROSS JOIN LATERAL (SELECT datacontract.external_tags(s.metadata, f.path) AS external_tags) AS x
 WHERE s.schema_type = 'AVRO';

-- The fields carrying a tag (inline or external), in live versions unless
-- "deleted"; latest_only keeps each subject's newest such version.
CREATE FUNCTION datacontract.fields_with_tag(tag text, latest_only boolean DEFAULT true,
											 deleted boolean DEFAULT false)
RETURNS TABLE (subject text, version integer, id integer, path text, type text,
			   inline_tags text[], external_tags text[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.subject, f.version, f.id, f.path, f.type, f.inline_tags, f.external_tags
	  FROM datacontract.fields f
	 WHERE $1 = ANY (f.tags) AND (NOT f.deleted OR $3)
	   AND (NOT $2 OR f.version = (SELECT max(sv.version) FROM datacontract.subject_versions sv
								   WHERE sv.subject = f.subject AND (NOT sv.deleted OR $3)))
	 ORDER BY f.subject, f.version, f.path
$$;

-- The subject versions whose schema carries a tag anywhere (Confluent's
-- ParsedSchema.tags(): inline tags of records and fields, and every
-- external tag of the metadata), in live versions unless "deleted";
-- latest_only looks at each subject's newest version only.
CREATE FUNCTION datacontract.subjects_with_tag(tag text, latest_only boolean DEFAULT true,
											   deleted boolean DEFAULT false)
RETURNS TABLE (subject text, version integer, id integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT sv.subject, sv.version, sv.schema_id
	  FROM datacontract.subject_versions sv
	  JOIN datacontract.schemas s ON s.id = sv.schema_id
	 WHERE (NOT sv.deleted OR $3)
	   AND (NOT $2 OR sv.version = (SELECT max(v2.version) FROM datacontract.subject_versions v2
									WHERE v2.subject = sv.subject AND (NOT v2.deleted OR $3)))
	   AND (EXISTS (SELECT 1
					  FROM jsonb_each(CASE WHEN jsonb_typeof(s.metadata -> 'tags') = 'object'
										   THEN s.metadata -> 'tags' ELSE '{}' END) AS g(glob, tags)
					 WHERE jsonb_typeof(g.tags) = 'array' AND g.tags ? $1)
			OR (s.schema_type = 'AVRO'
				AND EXISTS (SELECT 1 FROM datacontract.schema_fields(coalesce(s.resolved, s.schema)) AS f
							 WHERE $1 = ANY (f.inline_tags) OR $1 = ANY (f.record_tags))))
	 ORDER BY sv.subject, sv.version
$$;

------------------------------------------------------------------------------
-- Tag editing and tag queries (schemaTags)
------------------------------------------------------------------------------

-- Every record (sr_record, path = full name) and field (sr_field, path =
-- record full name + "." + field) an Avro schema reaches, with its inline
-- confluent:tags in written order, in Confluent's order (a record, then
-- each field followed by what its type reaches).
CREATE FUNCTION datacontract.schema_entities(schema text,
											 OUT ordinal integer, OUT entity_path text,
											 OUT entity_type text, OUT tags text[])
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'schema_entities'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION datacontract.schema_entities(text) IS
	'Every record and field of an Avro schema as a Confluent schema entity (entityPath, entityType) with its inline confluent:tags';

-- Add and remove inline tags (Confluent's SchemaTags lists:
-- [{"schemaEntity": {"entityPath": "ns.Record[.field]", "entityType":
-- "sr_record" | "sr_field"}, "tags": [...]}]).  An unknown entity is 42201
-- unless missing_ok.  "refs": the stored texts of referenced schemas,
-- dependencies first, when the schema uses their types.  Returns the
-- schema in the registry's stored form.
CREATE FUNCTION datacontract.avro_modify_tags(schema text, tags_to_add jsonb, tags_to_remove jsonb,
											  refs text[] DEFAULT NULL, missing_ok boolean DEFAULT false)
RETURNS text
	AS 'MODULE_PATHNAME', 'avro_modify_tags'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_modify_tags(text, jsonb, jsonb, text[], boolean) IS
	'Add and remove inline confluent:tags on records and fields of an Avro schema (Confluent SchemaTags lists); returns the stored form';

-- The inline tagged entities of a schema as a SchemaTags list (what
-- propagateSchemaTags copies); '[]' when there are none.
CREATE FUNCTION datacontract.schema_inline_tags(schema text)
RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'schemaEntity', jsonb_build_object('entityPath', e.entity_path, 'entityType', e.entity_type),
			'tags', to_jsonb(e.tags)) ORDER BY e.ordinal), '[]')
	  FROM datacontract.schema_entities($1) AS e
	 WHERE cardinality(e.tags) > 0
$$;

-- Confluent's findTags (GET /schemas/ids/{id}, GET /subjects/{s}/versions/{v}):
-- the entities of schema "id" that carry any of "tags" ('*' = any tag) as a
-- SchemaTags list, in schema order.  An entity's tags are its inline ones
-- (written order), then the external ones its path matches in the
-- schema's metadata.tags (sorted).  '[]' when none; 40403 for an unknown id.
CREATE FUNCTION datacontract.schema_tags(id integer, tags text[] DEFAULT ARRAY['*'])
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s datacontract.schemas;
	result jsonb;
BEGIN
	SELECT * INTO s FROM datacontract.schemas x WHERE x.id = schema_tags.id;
	IF NOT FOUND THEN
		PERFORM datacontract._raise(40403, format('Schema %s not found', id));
	END IF;
	IF s.schema_type <> 'AVRO' THEN
		RETURN '[]';
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'schemaEntity', jsonb_build_object('entityPath', t.entity_path, 'entityType', t.entity_type),
			'tags', to_jsonb(t.all_tags)) ORDER BY t.ordinal), '[]')
	  INTO result
	  FROM (SELECT e.ordinal, e.entity_path, e.entity_type,
				   e.tags || ARRAY(SELECT x FROM unnest(
						CASE WHEN e.entity_type = 'sr_field'
							 THEN datacontract.external_tags(s.metadata, e.entity_path)
							 ELSE '{}'::text[] END) AS x
								  WHERE NOT x = ANY (e.tags) ORDER BY x) AS all_tags
			  FROM datacontract.schema_entities(coalesce(s.resolved, s.schema)) AS e) t
	 WHERE cardinality(t.all_tags) > 0
	   AND ('*' = ANY (schema_tags.tags) OR t.all_tags && schema_tags.tags);
	RETURN result;
END
$$;

-- The RegisterSchemaRequest that POST /subjects/{s}/versions/{v}/tags
-- registers (Confluent's modifySchemaTags), from a TagSchemaRequest
-- {newVersion, tagsToAdd, tagsToRemove, metadata, ruleSet, rulesToMerge,
-- rulesToRemove}: version v's schema with the tag changes, the request's
-- metadata (else v's) with confluent:version, and the request's ruleSet,
-- or the rule set of version newVersion - 1 (else the latest) with
-- rulesToMerge merged and rulesToRemove removed.  40401/40402/42202 for the
-- version, 42210 for rule sets, 42201 for an unknown entity.
CREATE FUNCTION datacontract.tag_schema_request(subject text, version text, request jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	vrow datacontract.subject_versions;
	s datacontract.schemas;
	req_rules jsonb := nullif(coalesce(request -> 'ruleSet', request -> 'ruleset'), 'null');
	merge_rules jsonb := nullif(request -> 'rulesToMerge', 'null');
	remove_rules jsonb := nullif(request -> 'rulesToRemove', 'null');
	tags_add jsonb := nullif(request -> 'tagsToAdd', 'null');
	tags_remove jsonb := nullif(request -> 'tagsToRemove', 'null');
	new_version integer;
	remove_names text[];
	meta jsonb;
	rules jsonb;
	k text;
	schema_text text;
	result jsonb;
BEGIN
	PERFORM datacontract._check_subject(subject);
	IF jsonb_typeof(request) IS DISTINCT FROM 'object' THEN
		PERFORM datacontract._raise(42201, 'Invalid tag schema request: expected a JSON object');
	END IF;
	vrow := datacontract._find_version(subject, version, false);
	SELECT * INTO s FROM datacontract.schemas x WHERE x.id = vrow.schema_id;

	IF request ? 'newVersion' AND jsonb_typeof(request -> 'newVersion') <> 'null' THEN
		IF jsonb_typeof(request -> 'newVersion') <> 'number'
			OR (request ->> 'newVersion') !~ '^-?[0-9]{1,10}$'
			OR (request ->> 'newVersion')::bigint NOT BETWEEN -2147483648 AND 2147483647 THEN
			PERFORM datacontract._raise(42201, 'Invalid tag schema request: newVersion must be an integer');
		END IF;
		new_version := (request ->> 'newVersion')::integer;
	END IF;

	-- Rule sets, as Confluent's resource checks them.
	IF (merge_rules IS NOT NULL OR remove_rules IS NOT NULL) AND req_rules IS NOT NULL THEN
		PERFORM datacontract._raise(42210, 'ruleSet should be omitted if specifying rulesToMerge or rulesToRemove');
	END IF;
	PERFORM datacontract._validate_rule_set(merge_rules);
	PERFORM datacontract._validate_rule_set(req_rules);
	IF remove_rules IS NOT NULL THEN
		IF jsonb_typeof(remove_rules) <> 'array'
			OR EXISTS (SELECT 1 FROM jsonb_array_elements(remove_rules) AS e WHERE jsonb_typeof(e) <> 'string') THEN
			PERFORM datacontract._raise(42210, 'Invalid rule set: rulesToRemove must be an array of rule names');
		END IF;
		remove_names := ARRAY(SELECT jsonb_array_elements_text(remove_rules));
	END IF;

	IF merge_rules IS NULL AND remove_rules IS NULL THEN
		rules := req_rules;
	ELSE
		-- The rule set of the version before the new one (the latest without
		-- newVersion), not of version v.
		SELECT x.rule_set INTO rules
		  FROM datacontract.subject_versions sv
		  JOIN datacontract.schemas x ON x.id = sv.schema_id
		 WHERE sv.subject = tag_schema_request.subject AND NOT sv.deleted
		   AND (new_version IS NULL OR sv.version = new_version - 1)
		 ORDER BY sv.version DESC LIMIT 1;
		IF merge_rules IS NOT NULL THEN
			rules := datacontract._merge_rule_set(rules, datacontract._normalize_rule_set(merge_rules));
		END IF;
		IF rules IS NOT NULL AND remove_names IS NOT NULL THEN
			FOREACH k IN ARRAY ARRAY['migrationRules', 'domainRules', 'encodingRules'] LOOP
				IF jsonb_typeof(rules -> k) = 'array' THEN
					rules := jsonb_set(rules, ARRAY[k],
						coalesce((SELECT jsonb_agg(e ORDER BY n)
									FROM jsonb_array_elements(rules -> k) WITH ORDINALITY AS t(e, n)
								   WHERE (e ->> 'name') IS NULL OR NOT (e ->> 'name') = ANY (remove_names)), '[]'));
				END IF;
			END LOOP;
			rules := datacontract._normalize_rule_set(rules);
		END IF;
	END IF;

	-- Metadata: the request's, else version v's, with confluent:version.
	meta := datacontract._merge_metadata(coalesce(nullif(request -> 'metadata', 'null'), s.metadata),
		jsonb_build_object('properties',
			jsonb_build_object('confluent:version', coalesce(new_version, 0)::text)));

	schema_text := s.schema;
	IF coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(tags_add) = 'array' THEN tags_add END), 0) > 0
		OR coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(tags_remove) = 'array' THEN tags_remove END), 0) > 0
		OR (tags_add IS NOT NULL AND jsonb_typeof(tags_add) <> 'array')
		OR (tags_remove IS NOT NULL AND jsonb_typeof(tags_remove) <> 'array') THEN
		IF s.schema_type <> 'AVRO' THEN
			PERFORM datacontract._raise(42201, format('Invalid schema type %s', s.schema_type));
		END IF;
		schema_text := datacontract.avro_modify_tags(s.schema, tags_add, tags_remove,
													 datacontract._reference_texts(s."references"));
	END IF;

	result := jsonb_build_object('schema', schema_text, 'metadata', meta);
	IF s.schema_type <> 'AVRO' THEN
		result := result || jsonb_build_object('schemaType', s.schema_type);
	END IF;
	IF jsonb_array_length(coalesce(s."references", '[]')) > 0 THEN
		result := result || jsonb_build_object('references', s."references");
	END IF;
	IF rules IS NOT NULL THEN
		result := result || jsonb_build_object('ruleSet', rules);
	END IF;
	IF new_version IS NOT NULL THEN
		result := result || jsonb_build_object('version', new_version);
	END IF;
	RETURN result;
END
$$;

-- POST /subjects/{s}/versions/{v}/tags: register the new version built by
-- tag_schema_request (compatibility, modes and ids as for any
-- registration: 409, 42205, 42201 "Version is not one more than previous
-- version" for a wrong newVersion) and answer Confluent's
-- RegisterSchemaResponse (id, version, schema, references, metadata,
-- ruleSet).  Runs as the caller: registering needs datacontract_writer.
CREATE FUNCTION datacontract.modify_schema_tags(subject text, version text, request jsonb)
RETURNS jsonb LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT datacontract.register_schema($1, datacontract.tag_schema_request($1, $2, $3)) - 'subject'
$$;

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------

-- Every rule of every subject version: which list it is in, its position
-- there and every field, with Confluent's defaults (kind TRANSFORM, mode
-- WRITEREAD, onSuccess NONE, onFailure ERROR) filled in where unset.
CREATE VIEW datacontract.rules AS
SELECT sv.subject, sv.version, sv.schema_id AS id, sv.deleted,
	   l.list AS rule_list, r.n::integer AS ordinal,
	   r.e ->> 'name' AS name,
	   coalesce(r.e ->> 'kind', 'TRANSFORM') AS kind,
	   r.e ->> 'type' AS type,
	   coalesce(r.e ->> 'mode', 'WRITEREAD') AS mode,
	   ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(r.e -> 'tags') = 'array'
												   THEN r.e -> 'tags' ELSE '[]' END)) AS tags,
	   r.e -> 'params' AS params,
	   r.e ->> 'expr' AS expr,
	   coalesce(r.e ->> 'onSuccess', 'NONE') AS on_success,
	   coalesce(r.e ->> 'onFailure', 'ERROR') AS on_failure,
	   coalesce((r.e ->> 'disabled')::boolean, false) AS disabled,
	   r.e ->> 'doc' AS doc,
	   s.rule_set ->> 'enableAt' AS enable_at
  FROM datacontract.subject_versions sv
  JOIN datacontract.schemas s ON s.id = sv.schema_id
 CROSS JOIN LATERAL (VALUES ('migration', 'migrationRules'), ('domain', 'domainRules'),
							('encoding', 'encodingRules')) AS l(list, key)
 CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(s.rule_set -> l.key) = 'array'
											  THEN s.rule_set -> l.key ELSE '[]' END) WITH ORDINALITY AS r(e, n);

-- The contract of each subject's latest live version: its owner and other
-- properties, its major version (application.major.version), tags,
-- sensitive properties, and how many rules it has by list and by kind.
CREATE VIEW datacontract.contracts AS
SELECT sv.subject, sv.version, sv.schema_id AS id,
	   s.metadata -> 'properties' ->> 'owner' AS owner,
	   s.metadata -> 'properties' ->> 'application.major.version' AS major_version,
	   s.metadata -> 'properties' AS properties,
	   s.metadata -> 'tags' AS tags,
	   ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(s.metadata -> 'sensitive') = 'array'
												   THEN s.metadata -> 'sensitive' ELSE '[]' END)) AS sensitive,
	   coalesce(rc.domain_rules, 0) AS domain_rules,
	   coalesce(rc.migration_rules, 0) AS migration_rules,
	   coalesce(rc.encoding_rules, 0) AS encoding_rules,
	   coalesce(rc.condition_rules, 0) AS condition_rules,
	   coalesce(rc.transform_rules, 0) AS transform_rules,
	   s.rule_set ->> 'enableAt' AS enable_at,
	   s.metadata, s.rule_set
  FROM datacontract.subject_versions sv
  JOIN datacontract.schemas s ON s.id = sv.schema_id
  LEFT JOIN LATERAL (
	SELECT count(*) FILTER (WHERE r.rule_list = 'domain') AS domain_rules,
		   count(*) FILTER (WHERE r.rule_list = 'migration') AS migration_rules,
		   count(*) FILTER (WHERE r.rule_list = 'encoding') AS encoding_rules,
		   count(*) FILTER (WHERE r.kind = 'CONDITION') AS condition_rules,
		   count(*) FILTER (WHERE r.kind = 'TRANSFORM') AS transform_rules
	  FROM datacontract.rules r
	 WHERE r.subject = sv.subject AND r.version = sv.version) rc ON true
 WHERE NOT sv.deleted
   AND sv.version = (SELECT max(v2.version) FROM datacontract.subject_versions v2
					  WHERE v2.subject = sv.subject AND NOT v2.deleted);
