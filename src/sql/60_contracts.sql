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
