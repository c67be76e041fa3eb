-- datacontract install script, part 30: the registry's SQL API.
--
-- One function per Confluent Schema Registry operation; the REST layer calls
-- the same functions.  Errors carry the Confluent error code: SQLSTATE
-- "D" + the last four digits for 4xxxx codes (40401 -> D0401), "E" + the last
-- four for 5xxxx, D0901 for an incompatible schema (Confluent 409/40901), and
-- the DETAIL line "Confluent error code N.".  Messages are Confluent's own
-- text, so REST answers and SQL errors read the same.
--
-- Functions that write run as the extension owner (SECURITY DEFINER) with a
-- fixed search_path; who may call them is decided by GRANTs in part 90.

------------------------------------------------------------------------------
-- Internal helpers
------------------------------------------------------------------------------

-- Raise a registry error with Confluent's code and message.
CREATE FUNCTION datacontract._raise(code integer, message text, hint text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	state text;
BEGIN
	state := CASE
		WHEN code IN (409, 40901) THEN 'D0901'
		WHEN code BETWEEN 40000 AND 49999 THEN 'D' || substr(code::text, 2)
		WHEN code BETWEEN 50000 AND 59999 THEN 'E' || substr(code::text, 2)
		ELSE 'E0000'
	END;
	IF hint IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message,
			DETAIL = format('Confluent error code %s.', code);
	ELSE
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message,
			DETAIL = format('Confluent error code %s.', code), HINT = hint;
	END IF;
END
$$;

-- The Confluent error code carried by a SQLSTATE raised by the registry, or NULL.
CREATE FUNCTION datacontract.error_code(sqlstate text)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN sqlstate = 'D0901' THEN 409
		WHEN sqlstate ~ '^D[0-9]{4}$' THEN ('4' || substr(sqlstate, 2))::integer
		WHEN sqlstate ~ '^E[0-9]{4}$' THEN ('5' || substr(sqlstate, 2))::integer
	END
$$;

-- Refuse subjects Confluent refuses (42208): control characters, reserved names.
CREATE FUNCTION datacontract._check_subject(subject text)
RETURNS void LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF subject IS NULL OR subject ~ '[\u0001-\u001f\u007f-\u009f]'
		OR subject IN ('__GLOBAL', '__EMPTY') THEN
		PERFORM datacontract._raise(42208,
			format('The specified subject ''%s'' is not a valid.', subject));
	END IF;
END
$$;

-- Parse a version path segment: an integer in [1, 2^31-1], "latest" or -1
-- (both returned as -1); anything else is Confluent error 42202.
CREATE FUNCTION datacontract._parse_version(version text)
RETURNS integer LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint;
BEGIN
	IF version IS NULL OR lower(version) = 'latest' THEN
		RETURN -1;
	END IF;
	IF version ~ '^[+-]?[0-9]{1,18}$' THEN
		v := version::bigint;
		IF v = -1 THEN
			RETURN -1;
		ELSIF v BETWEEN 1 AND 2147483647 THEN
			RETURN v::integer;
		END IF;
	END IF;
	PERFORM datacontract._raise(42202,
		format('The specified version ''%s'' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"', version));
	RETURN NULL;
END
$$;

-- Serialise the registry's subject lock for registration and deletes.
CREATE FUNCTION datacontract._lock_subject(subject text)
RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_advisory_xact_lock(1684234849, hashtext(subject))
$$;

-- The level names Confluent accepts, upper case; NULL when unknown.
CREATE FUNCTION datacontract._normalize_level(level text)
RETURNS text LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN upper(level) IN ('NONE', 'BACKWARD', 'FORWARD', 'FULL',
			'BACKWARD_TRANSITIVE', 'FORWARD_TRANSITIVE', 'FULL_TRANSITIVE')
		THEN upper(level) END
$$;

-- The configuration in force for a subject (Confluent's getConfigInScope):
-- a subject config takes its level and default/override metadata and rule
-- sets from itself only (level defaulting to BACKWARD), the other settings
-- fall back to the global config; without a subject config the global
-- config applies.  NULL subject: the global config.
CREATE FUNCTION datacontract._effective_config(subject text)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g jsonb;
	s jsonb;
	k text;
BEGIN
	SELECT c.config INTO g FROM datacontract.config c WHERE c.subject IS NULL;
	g := coalesce(g, '{}');
	IF subject IS NOT NULL THEN
		SELECT c.config INTO s FROM datacontract.config c WHERE c.subject = _effective_config.subject;
	END IF;
	IF s IS NULL THEN
		s := g;
	ELSE
		FOREACH k IN ARRAY ARRAY['normalize', 'validateFields', 'validateNewSchemas',
			'validateRules', 'compatibilityPolicy', 'compatibilityGroup', 'alias'] LOOP
			IF NOT s ? k AND g ? k THEN
				s := s || jsonb_build_object(k, g -> k);
			END IF;
		END LOOP;
	END IF;
	IF NOT s ? 'compatibilityLevel' THEN
		s := s || '{"compatibilityLevel": "BACKWARD"}';
	END IF;
	RETURN s;
END
$$;

-- The mode in force for a subject: its own, else the global one, else READWRITE.
CREATE FUNCTION datacontract._effective_mode(subject text)
RETURNS text LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		(SELECT m.mode FROM datacontract.mode m WHERE m.subject = $1),
		(SELECT m.mode FROM datacontract.mode m WHERE m.subject IS NULL),
		'READWRITE')
$$;

-- Merge two metadata layers (Confluent Metadata.mergeMetadata): properties
-- and tags by key with the newer layer winning, sensitive as a set union.
-- A NULL layer is skipped.
CREATE FUNCTION datacontract._merge_metadata(older jsonb, newer jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result jsonb := '{}';
	props jsonb;
	tags jsonb;
	sens jsonb;
BEGIN
	IF older IS NULL OR jsonb_typeof(older) <> 'object' THEN
		RETURN newer;
	ELSIF newer IS NULL OR jsonb_typeof(newer) <> 'object' THEN
		RETURN older;
	END IF;
	props := coalesce(older -> 'properties', '{}') || coalesce(newer -> 'properties', '{}');
	tags := coalesce(older -> 'tags', '{}') || coalesce(newer -> 'tags', '{}');
	SELECT jsonb_agg(DISTINCT x ORDER BY x) INTO sens
	  FROM (SELECT jsonb_array_elements_text(coalesce(older -> 'sensitive', '[]')) AS x
			UNION
			SELECT jsonb_array_elements_text(coalesce(newer -> 'sensitive', '[]'))) u;
	IF tags <> '{}' THEN result := result || jsonb_build_object('tags', tags); END IF;
	IF props <> '{}' THEN result := result || jsonb_build_object('properties', props); END IF;
	IF sens IS NOT NULL THEN result := result || jsonb_build_object('sensitive', sens); END IF;
	RETURN result;
END
$$;

-- Merge two rule sets (Confluent RuleSet.mergeRuleSets): in each list the
-- older rules whose names the newer list redefines are dropped and the newer
-- rules follow the surviving older ones; the newer enableAt wins.
CREATE FUNCTION datacontract._merge_rule_set(older jsonb, newer jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result jsonb := '{}';
	k text;
	merged jsonb;
BEGIN
	IF older IS NULL OR jsonb_typeof(older) <> 'object' THEN
		RETURN newer;
	ELSIF newer IS NULL OR jsonb_typeof(newer) <> 'object' THEN
		RETURN older;
	END IF;
	FOREACH k IN ARRAY ARRAY['migrationRules', 'domainRules', 'encodingRules'] LOOP
		SELECT jsonb_agg(r ORDER BY pos) INTO merged
		  FROM (SELECT o.r, o.n AS pos
				  FROM jsonb_array_elements(coalesce(older -> k, '[]')) WITH ORDINALITY AS o(r, n)
				 WHERE NOT EXISTS (SELECT 1
									 FROM jsonb_array_elements(coalesce(newer -> k, '[]')) AS x(r)
									WHERE x.r ->> 'name' = o.r ->> 'name')
				UNION ALL
				SELECT w.r, 1000000 + w.n
				  FROM jsonb_array_elements(coalesce(newer -> k, '[]')) WITH ORDINALITY AS w(r, n)) m;
		IF merged IS NOT NULL THEN
			result := result || jsonb_build_object(k, merged);
		END IF;
	END LOOP;
	IF newer ? 'enableAt' AND newer -> 'enableAt' <> 'null' THEN
		result := result || jsonb_build_object('enableAt', newer -> 'enableAt');
	ELSIF older ? 'enableAt' AND older -> 'enableAt' <> 'null' THEN
		result := result || jsonb_build_object('enableAt', older -> 'enableAt');
	END IF;
	RETURN result;
END
$$;

-- Check a rule set as Confluent's RuleSet.validate() and Rule.validate() do,
-- raising 42210 with their messages: in each list (migration, domain,
-- encoding) a rule's name must be new across the whole set, then well
-- formed, then the rule needs a type, may carry "A,B" actions only with
-- WRITEREAD or UPDOWN, and must have a mode its list allows.  Modes
-- default to WRITEREAD, kinds to TRANSFORM.
CREATE FUNCTION datacontract._validate_rule_set(rule_set jsonb)
RETURNS void LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	names text[] := '{}';
	k text;
	r jsonb;
	name text;
	mode text;
	modes text[];
	only_msg text;
	expr_err text;
BEGIN
	IF rule_set IS NULL OR jsonb_typeof(rule_set) = 'null' THEN
		RETURN;
	END IF;
	IF jsonb_typeof(rule_set) <> 'object' THEN
		PERFORM datacontract._raise(42210, 'Invalid rule set: expected a JSON object');
	END IF;
	IF rule_set ? 'enableAt' AND jsonb_typeof(rule_set -> 'enableAt') <> 'null'
		AND rule_set ->> 'enableAt' NOT IN ('ALL', 'CLIENT', 'GATEWAY', 'SERVER', 'NONE') THEN
		PERFORM datacontract._raise(42210,
			format('Invalid enableAt ''%s''. Valid values are ALL, CLIENT, GATEWAY, SERVER and NONE', rule_set ->> 'enableAt'));
	END IF;
	FOREACH k IN ARRAY ARRAY['migrationRules', 'domainRules', 'encodingRules'] LOOP
		IF k = 'migrationRules' THEN
			modes := ARRAY['UPGRADE', 'DOWNGRADE', 'UPDOWN'];
			only_msg := 'Migration rules can only be UPGRADE, DOWNGRADE, UPDOWN';
		ELSE
			modes := ARRAY['WRITE', 'READ', 'WRITEREAD'];
			only_msg := CASE k WHEN 'domainRules' THEN 'Domain' ELSE 'Encoding' END
						|| ' rules can only be WRITE, READ, WRITEREAD';
		END IF;
		IF jsonb_typeof(rule_set -> k) IS NULL OR jsonb_typeof(rule_set -> k) = 'null' THEN
			CONTINUE;
		ELSIF jsonb_typeof(rule_set -> k) <> 'array' THEN
			PERFORM datacontract._raise(42210, format('Invalid rule set: %s must be an array', k));
		END IF;
		FOR r IN SELECT e FROM jsonb_array_elements(rule_set -> k) AS t(e) LOOP
			IF jsonb_typeof(r) <> 'object' THEN
				PERFORM datacontract._raise(42210, 'Invalid rule set: each rule must be a JSON object');
			END IF;
			name := CASE WHEN jsonb_typeof(r -> 'name') = 'string' THEN r ->> 'name' END;
			IF name IS NOT NULL AND name = ANY (names) THEN
				PERFORM datacontract._raise(42210, format('Found rule with duplicate name ''%s''', name));
			END IF;
			names := names || name;
			-- Rule.validate(): the name, the type, the actions.
			IF name IS NULL THEN
				PERFORM datacontract._raise(42210, 'Missing rule name');
			ELSIF name = '' THEN
				PERFORM datacontract._raise(42210, 'Empty rule name');
			ELSIF char_length(name) > 256 THEN
				PERFORM datacontract._raise(42210, 'Rule name too long');
			ELSIF name !~ '^([A-Za-z_]|[^\x01-\x7f])' THEN
				PERFORM datacontract._raise(42210, 'Illegal initial character in rule name: ' || name);
			ELSIF name !~ '^.([A-Za-z0-9_-]|[^\x01-\x7f])*$' THEN
				PERFORM datacontract._raise(42210, 'Illegal character in rule name: ' || name);
			END IF;
			IF r ? 'kind' AND jsonb_typeof(r -> 'kind') <> 'null'
				AND (jsonb_typeof(r -> 'kind') <> 'string' OR r ->> 'kind' NOT IN ('TRANSFORM', 'CONDITION')) THEN
				PERFORM datacontract._raise(42210,
					format('Invalid rule kind %s. Valid values are TRANSFORM and CONDITION', r -> 'kind'));
			END IF;
			IF r ? 'mode' AND jsonb_typeof(r -> 'mode') <> 'null'
				AND (jsonb_typeof(r -> 'mode') <> 'string' OR r ->> 'mode' NOT IN
					 ('UPGRADE', 'DOWNGRADE', 'UPDOWN', 'WRITE', 'READ', 'WRITEREAD')) THEN
				PERFORM datacontract._raise(42210,
					format('Invalid rule mode %s. Valid values are UPGRADE, DOWNGRADE, UPDOWN, WRITE, READ and WRITEREAD', r -> 'mode'));
			END IF;
			IF jsonb_typeof(r -> 'type') IS NULL OR jsonb_typeof(r -> 'type') = 'null' THEN
				PERFORM datacontract._raise(42210, 'Missing rule type');
			END IF;
			mode := coalesce(r ->> 'mode', 'WRITEREAD');
			IF mode NOT IN ('WRITEREAD', 'UPDOWN')
				AND (position(',' IN coalesce(r ->> 'onSuccess', '')) > 0
					 OR position(',' IN coalesce(r ->> 'onFailure', '')) > 0) THEN
				PERFORM datacontract._raise(42210, 'Multiple actions only valid with WRITEREAD and UPDOWN');
			END IF;
			IF NOT mode = ANY (modes) THEN
				PERFORM datacontract._raise(42210, only_msg);
			END IF;
			-- The expressions of the rules the database runs must compile
			-- (CEL and CEL_FIELD with the guard form unless the rule's params
			-- set cel.ignore.guard.separator; JSONATA).
			IF jsonb_typeof(r -> 'expr') = 'string' AND r ->> 'type' IN ('CEL', 'CEL_FIELD', 'JSONATA') THEN
				expr_err := datacontract._rule_expr_error(r ->> 'type', r ->> 'expr',
					lower(coalesce(r -> 'params' ->> 'cel.ignore.guard.separator', 'false')) <> 'true');
				IF expr_err IS NOT NULL THEN
					PERFORM datacontract._raise(42210,
						format('Invalid %s expression in rule ''%s'': %s',
							   CASE r ->> 'type' WHEN 'JSONATA' THEN 'JSONata' ELSE 'CEL' END, name, expr_err));
				END IF;
			END IF;
		END LOOP;
	END LOOP;
END
$$;

-- A rule set as Confluent keeps it (its Rule and RuleSet beans): every rule
-- with its kind (default TRANSFORM), mode (default WRITEREAD) and disabled
-- flag, empty or null fields dropped, empty lists dropped.  Two requests
-- that differ only by spelled-out defaults so have the same identity.
CREATE FUNCTION datacontract._normalize_rule_set(rule_set jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN $1 IS NULL OR jsonb_typeof($1) <> 'object' THEN $1 ELSE
		coalesce((SELECT jsonb_object_agg(l.k, l.rules)
					FROM (SELECT k, jsonb_agg(
								jsonb_strip_nulls(r.e
									|| jsonb_build_object(
										'kind', coalesce(nullif(r.e -> 'kind', 'null'), '"TRANSFORM"'),
										'mode', coalesce(nullif(r.e -> 'mode', 'null'), '"WRITEREAD"'),
										'disabled', coalesce(nullif(r.e -> 'disabled', 'null'), 'false'),
										'doc', nullif(r.e -> 'doc', '""'),
										'tags', nullif(r.e -> 'tags', '[]'),
										'params', nullif(r.e -> 'params', '{}')))
								ORDER BY r.n) AS rules
							FROM unnest(ARRAY['migrationRules', 'domainRules', 'encodingRules']) AS k,
								 jsonb_array_elements(CASE WHEN jsonb_typeof($1 -> k) = 'array' THEN $1 -> k
													  ELSE '[]' END) WITH ORDINALITY AS r(e, n)
						   GROUP BY k) l), '{}')
		|| CASE WHEN jsonb_typeof($1 -> 'enableAt') = 'string'
				THEN jsonb_build_object('enableAt', $1 -> 'enableAt') ELSE '{}' END
	END
$$;

-- Metadata without its confluent:version property (NULL stays NULL; an
-- emptied property map is dropped), to compare versions that differ only by it.
CREATE FUNCTION datacontract._strip_confluent_version(metadata jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN $1 IS NULL OR jsonb_typeof($1) <> 'object' THEN $1
		WHEN coalesce($1 -> 'properties', '{}') - 'confluent:version' = '{}' THEN $1 - 'properties'
		ELSE jsonb_set($1, '{properties}', ($1 -> 'properties') - 'confluent:version') END
$$;

-- The identity digest of a schema: what decides that two registrations are
-- the same schema (and so share an id).  Subject and version are not part of it.
CREATE FUNCTION datacontract._identity(schema_type text, schema text, refs jsonb,
									   metadata jsonb, rule_set jsonb)
RETURNS bytea LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT sha256(convert_to(
		schema_type || E'\x01' || schema || E'\x01' ||
		coalesce(refs::text, '') || E'\x01' ||
		CASE WHEN metadata IS NULL THEN '' ELSE E'\x02' || metadata::text END || E'\x01' ||
		CASE WHEN rule_set IS NULL THEN '' ELSE E'\x02' || rule_set::text END, 'UTF8'))
$$;

-- Confluent's Schema object for a subject version, as jsonb (keys omitted when
-- empty, schemaType omitted for Avro as Confluent 7.x does).
CREATE FUNCTION datacontract._schema_json(subject text, version integer, s datacontract.schemas)
RETURNS jsonb LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object(
		'subject', subject,
		'version', version,
		'id', s.id,
		'schemaType', CASE WHEN s.schema_type <> 'AVRO' THEN s.schema_type END,
		'references', CASE WHEN jsonb_array_length(coalesce(s."references", '[]')) > 0 THEN s."references" END,
		'metadata', s.metadata,
		'ruleSet', s.rule_set,
		'schema', s.schema))
$$;

-- Parse a schema once (C): an error message or its stored form, resolved
-- form and fingerprint.  "refs" are the referenced schemas' stored texts,
-- dependencies first.
CREATE FUNCTION datacontract._avro_prepare(schema text, "normalize" boolean, refs text[],
										   OUT error text, OUT stored text, OUT resolved text,
										   OUT fingerprint bigint)
RETURNS record AS 'MODULE_PATHNAME', '_avro_prepare'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The stored texts of every schema a reference list reaches, transitively,
-- dependencies first (a type is defined before the schemas that use it).
CREATE FUNCTION datacontract._reference_texts(refs jsonb)
RETURNS text[] LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE reach (subject, version, depth) AS (
		SELECT e ->> 'subject', (e ->> 'version')::integer, 1
		  FROM jsonb_array_elements(coalesce($1, '[]')) AS t(e)
		UNION ALL
		SELECT sr.subject, sr.version, reach.depth + 1
		  FROM reach
		  JOIN datacontract.subject_versions sv
			ON sv.subject = reach.subject AND sv.version = reach.version
		  JOIN datacontract.schema_references sr ON sr.schema_id = sv.schema_id
		 WHERE reach.depth < 32
	)
	SELECT array_agg(s.schema ORDER BY r.depth DESC, r.subject, r.version)
	  FROM (SELECT subject, version, max(depth) AS depth FROM reach GROUP BY 1, 2) r
	  JOIN datacontract.subject_versions sv ON sv.subject = r.subject AND sv.version = r.version
	  JOIN datacontract.schemas s ON s.id = sv.schema_id
$$;

-- Parse, validate and print a schema in the registry's stored form.
-- Invalid schemas raise Confluent error 42201 in Confluent's message format.
CREATE FUNCTION datacontract._canonicalize(subject text, schema_type text, schema text,
										   refs jsonb, "normalize" boolean,
										   OUT stored text, OUT resolved text, OUT fingerprint bigint)
RETURNS record LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
	limit_bytes bigint;
BEGIN
	IF schema_type <> 'AVRO' THEN
		PERFORM datacontract._raise(42201, format('Invalid schema type %s', schema_type),
			'This registry stores Avro schemas only.');
	END IF;
	-- The GUC exists once the library is loaded; until then its default applies.
	limit_bytes := pg_size_bytes(coalesce(current_setting('datacontract.max_schema_size', true), '1MB'));
	IF octet_length(schema) > limit_bytes THEN
		PERFORM datacontract._raise(42209, 'Register operation failed because schema is too large',
			format('The schema has %s bytes; datacontract.max_schema_size allows %s.',
				   octet_length(schema), limit_bytes));
	END IF;
	p := datacontract._avro_prepare(schema, coalesce("normalize", false),
									CASE WHEN refs IS NOT NULL THEN datacontract._reference_texts(refs) END);
	IF p.error IS NOT NULL THEN
		PERFORM datacontract._raise(42201,
			format('Invalid schema {subject=%s, schemaType=%s, references=%s, schema=%s}, details: %s',
				   subject, schema_type, coalesce(refs::text, '[]'), schema, p.error));
	END IF;
	stored := p.stored;
	resolved := p.resolved;
	fingerprint := p.fingerprint;
END
$$;

------------------------------------------------------------------------------
-- Registration and lookup
------------------------------------------------------------------------------

-- Register a schema under a subject, Confluent's POST /subjects/{s}/versions.
-- "request" is Confluent's RegisterSchemaRequest (schema, schemaType,
-- references, metadata, ruleSet, version, id, schemaTagsToAdd,
-- schemaTagsToRemove, propagateSchemaTags).  Returns the Schema object of
-- the registered (or already existing) version.
CREATE FUNCTION datacontract.register_schema(subject text, request jsonb,
											 "normalize" boolean DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cfg jsonb;
	mode text;
	req_schema text := request ->> 'schema';
	req_type text := upper(coalesce(request ->> 'schemaType', 'AVRO'));
	req_refs jsonb := nullif(request -> 'references', 'null');
	req_meta jsonb := nullif(request -> 'metadata', 'null');
	req_rules jsonb := nullif(coalesce(request -> 'ruleSet', request -> 'ruleset'), 'null');
	req_version integer := coalesce((request ->> 'version')::integer, 0);
	req_id integer := coalesce((request ->> 'id')::integer, -1);
	prev record;
	stored text;
	prepared record;
	meta jsonb;
	rules jsonb;
	ident bytea;
	sid integer;
	existing record;
	next_version integer;
	group_key text;
	group_val text;
	prev_texts text[];
	prev_versions integer[];
	level text;
	msgs text[];
	refs jsonb := NULL;
	r record;
	n integer := 0;
	meta_pre jsonb;
	version_set boolean := false;
	asked_version text;
	same record;
	tags_add jsonb := nullif(request -> 'schemaTagsToAdd', 'null');
	tags_remove jsonb := nullif(request -> 'schemaTagsToRemove', 'null');
	edit_tags boolean;
	propagate jsonb;
BEGIN
	PERFORM datacontract._check_subject(subject);
	IF jsonb_typeof(request) IS DISTINCT FROM 'object' THEN
		PERFORM datacontract._raise(42201, 'Invalid schema request: expected a JSON object');
	END IF;
	-- Rule sets are checked as sent (Confluent's resource does so before
	-- registering) and kept with their defaults spelled out.
	PERFORM datacontract._validate_rule_set(req_rules);
	req_rules := datacontract._normalize_rule_set(req_rules);

	-- Inline tag edits (schemaTagsToAdd/Remove): without an explicit
	-- version the request counts as "latest" (-1), so the new version gets
	-- confluent:version as Confluent does.
	edit_tags := (tags_add IS NOT NULL AND (jsonb_typeof(tags_add) <> 'array' OR jsonb_array_length(tags_add) > 0))
		OR (tags_remove IS NOT NULL AND (jsonb_typeof(tags_remove) <> 'array' OR jsonb_array_length(tags_remove) > 0));
	IF edit_tags AND jsonb_typeof(request -> 'version') IS DISTINCT FROM 'number' THEN
		req_version := -1;
	END IF;

	mode := datacontract._effective_mode(subject);
	IF mode IN ('READONLY', 'READONLY_OVERRIDE') THEN
		PERFORM datacontract._raise(42205,
			format('Subject %s in context . is in read-only mode', subject));
	ELSIF mode = 'IMPORT' AND req_id < 0 THEN
		PERFORM datacontract._raise(42205,
			format('Subject %s in context . is not in read-write mode', subject));
	ELSIF mode NOT IN ('IMPORT', 'FORWARD') AND req_id >= 0 THEN
		PERFORM datacontract._raise(42205,
			format('Subject %s in context . is not in import mode', subject));
	END IF;

	PERFORM datacontract._lock_subject(subject);
	cfg := datacontract._effective_config(subject);

	-- The latest live version: inheritance source for an empty schema and for
	-- metadata and rule sets the request leaves out.
	SELECT sv.version, s.* INTO prev
	  FROM datacontract.subject_versions sv
	  JOIN datacontract.schemas s ON s.id = sv.schema_id
	 WHERE sv.subject = register_schema.subject AND NOT sv.deleted
	 ORDER BY sv.version DESC LIMIT 1;

	IF req_schema IS NULL OR req_schema = '' THEN
		IF prev.id IS NULL THEN
			PERFORM datacontract._raise(42201, 'Empty schema');
		END IF;
		req_schema := prev.schema;
		req_type := prev.schema_type;
		req_refs := prev."references";
	END IF;

	IF mode = 'IMPORT' THEN
		meta := req_meta;
		rules := req_rules;
	ELSE
		meta := datacontract._merge_metadata(
			datacontract._merge_metadata(cfg -> 'defaultMetadata', coalesce(req_meta, prev.metadata)),
			cfg -> 'overrideMetadata');
		rules := datacontract._merge_rule_set(
			datacontract._merge_rule_set(cfg -> 'defaultRuleSet', coalesce(req_rules, prev.rule_set)),
			cfg -> 'overrideRuleSet');

		-- confluent:version: set to the new version number when the request
		-- names a version (-1 included) or the merged metadata has the
		-- property already (sent, inherited or from the config).
		IF req_version <> 0 OR coalesce(meta -> 'properties', '{}') ? 'confluent:version' THEN
			SELECT coalesce(max(sv.version), 0) + 1 INTO next_version
			  FROM datacontract.subject_versions sv WHERE sv.subject = register_schema.subject;
			meta_pre := meta;
			meta := datacontract._merge_metadata(meta,
				jsonb_build_object('properties', jsonb_build_object('confluent:version', next_version::text)));
			version_set := true;
		END IF;
		asked_version := req_meta -> 'properties' ->> 'confluent:version';
	END IF;

	-- References: each names an existing version (-1 = latest live).
	IF req_refs IS NOT NULL AND jsonb_typeof(req_refs) = 'array' AND jsonb_array_length(req_refs) > 0 THEN
		refs := '[]';
		FOR r IN SELECT e FROM jsonb_array_elements(req_refs) AS t(e) LOOP
			DECLARE
				rv integer := coalesce((r.e ->> 'version')::integer, -1);
				found_version integer;
			BEGIN
				IF rv = -1 THEN
					SELECT max(sv.version) INTO found_version FROM datacontract.subject_versions sv
					 WHERE sv.subject = r.e ->> 'subject' AND NOT sv.deleted;
				ELSE
					SELECT sv.version INTO found_version FROM datacontract.subject_versions sv
					 WHERE sv.subject = r.e ->> 'subject' AND sv.version = rv;
				END IF;
				IF found_version IS NULL OR r.e ->> 'name' IS NULL THEN
					PERFORM datacontract._raise(42201,
						format('Invalid schema {subject=%s, references=%s}, details: reference "%s" to subject ''%s'' version %s does not exist',
							   subject, req_refs::text, r.e ->> 'name', r.e ->> 'subject', r.e ->> 'version'));
				END IF;
				refs := refs || jsonb_build_array(jsonb_build_object(
					'name', r.e ->> 'name', 'subject', r.e ->> 'subject', 'version', found_version));
			END;
		END LOOP;
	END IF;

	-- Tags (Confluent's register(): the request's edits, then, with
	-- propagateSchemaTags, the previous version's inline tags on the
	-- entities the new schema still has), applied to a valid schema.
	IF req_type = 'AVRO' AND (edit_tags OR (coalesce(request ->> 'propagateSchemaTags', '') = 'true' AND prev.id IS NOT NULL)) THEN
		req_schema := (datacontract._canonicalize(subject, req_type, req_schema, refs, false)).stored;
		IF edit_tags THEN
			req_schema := datacontract.avro_modify_tags(req_schema, tags_add, tags_remove,
														datacontract._reference_texts(refs));
		END IF;
		IF coalesce(request ->> 'propagateSchemaTags', '') = 'true' AND prev.id IS NOT NULL
			AND prev.schema_type = 'AVRO' THEN
			propagate := datacontract.schema_inline_tags(coalesce(prev.resolved, prev.schema));
			IF propagate <> '[]' THEN
				req_schema := datacontract.avro_modify_tags(req_schema, propagate, NULL,
															datacontract._reference_texts(refs), true);
			END IF;
		END IF;
	END IF;

	prepared := datacontract._canonicalize(subject, req_type, req_schema, refs,
										   coalesce(normalize, (cfg ->> 'normalize')::boolean, false));
	stored := prepared.stored;
	ident := datacontract._identity(req_type, stored, refs, meta, rules);

	-- Re-registering what the subject already has returns it, unchecked.
	SELECT sv.version, sv.schema_id, sv.deleted INTO existing
	  FROM datacontract.subject_versions sv
	  JOIN datacontract.schemas s ON s.id = sv.schema_id
	 WHERE sv.subject = register_schema.subject AND s.identity = ident
	 ORDER BY sv.deleted, sv.version DESC LIMIT 1;
	IF existing.version IS NOT NULL AND NOT existing.deleted
		AND (req_id < 0 OR req_id = existing.schema_id)
		AND (req_version <= 0 OR req_version = existing.version) THEN
		RETURN datacontract._schema_json(subject, existing.version,
			(SELECT s FROM datacontract.schemas s WHERE s.id = existing.schema_id));
	END IF;

	-- A live version that differs only by confluent:version is the same
	-- schema (Confluent's canLookupIgnoringVersion): one whose property
	-- holds its own version number, or one without metadata when only the
	-- property was added.  A confluent:version in the request asks for that
	-- version exactly; 0, -1 or a version without this content mean "new".
	IF mode <> 'IMPORT' AND req_version <= 0 AND req_id < 0 THEN
		SELECT sv.version, s AS srow INTO same
		  FROM datacontract.subject_versions sv
		  JOIN datacontract.schemas s ON s.id = sv.schema_id
		 WHERE sv.subject = register_schema.subject AND NOT sv.deleted
		   AND s.schema_type = req_type AND s.schema = stored
		   AND s."references" IS NOT DISTINCT FROM refs
		   AND s.rule_set IS NOT DISTINCT FROM rules
		   AND coalesce(datacontract._strip_confluent_version(s.metadata), '{}')
			   = coalesce(datacontract._strip_confluent_version(meta), '{}')
		   AND CASE WHEN asked_version IS NOT NULL THEN sv.version::text = asked_version
					ELSE s.metadata -> 'properties' ->> 'confluent:version' = sv.version::text
						 OR (version_set AND s.metadata IS NULL AND meta_pre IS NULL) END
		 ORDER BY sv.version DESC LIMIT 1;
		IF same.version IS NOT NULL THEN
			RETURN datacontract._schema_json(subject, same.version, same.srow);
		END IF;
	END IF;

	-- Compatibility against the live versions the level demands, within the
	-- compatibilityGroup if one is configured.
	level := coalesce(datacontract._normalize_level(cfg ->> 'compatibilityLevel'), 'BACKWARD');
	IF mode NOT IN ('IMPORT', 'FORWARD') AND level <> 'NONE' THEN
		group_key := nullif(cfg ->> 'compatibilityGroup', '');
		group_val := meta -> 'properties' ->> group_key;
		SELECT array_agg(t.schema ORDER BY t.version DESC), array_agg(t.version ORDER BY t.version DESC)
		  INTO prev_texts, prev_versions
		  FROM (SELECT coalesce(s.resolved, s.schema) AS schema, sv.version
				  FROM datacontract.subject_versions sv
				  JOIN datacontract.schemas s ON s.id = sv.schema_id
				 WHERE sv.subject = register_schema.subject AND NOT sv.deleted
				   AND (group_key IS NULL
						OR (s.metadata -> 'properties' ->> group_key) IS NOT DISTINCT FROM group_val)
				 ORDER BY sv.version DESC
				 LIMIT CASE WHEN level LIKE '%TRANSITIVE' THEN NULL ELSE 1 END) t;
		IF prev_texts IS NOT NULL THEN
			msgs := datacontract.avro_check_compatibility(coalesce(prepared.resolved, stored),
				prev_texts, prev_versions, level, coalesce((cfg ->> 'validateFields')::boolean, false));
			IF cardinality(msgs) > 0 THEN
				PERFORM datacontract._raise(409,
					format('Schema being registered is incompatible with an earlier schema for subject "%s", details: [%s]',
						   subject, array_to_string(msgs, ', ')));
			END IF;
		END IF;
	END IF;

	-- The version number: max of every version (soft-deleted included) + 1.
	SELECT coalesce(max(sv.version), 0) + 1 INTO next_version
	  FROM datacontract.subject_versions sv WHERE sv.subject = register_schema.subject;
	IF req_version > 0 THEN
		IF mode = 'IMPORT' THEN
			next_version := req_version;
		ELSIF req_version <> next_version THEN
			PERFORM datacontract._raise(42201, 'Version is not one more than previous version');
		END IF;
	END IF;

	-- The id: the existing one for identical content, the requested one in
	-- IMPORT mode, else the next from the sequence.
	PERFORM pg_advisory_xact_lock(1684234850, hashtext(encode(ident, 'hex')));
	IF req_id >= 0 THEN
		SELECT s.id INTO sid FROM datacontract.schemas s WHERE s.id = req_id;
		IF sid IS NOT NULL AND (SELECT s.identity FROM datacontract.schemas s WHERE s.id = sid) <> ident THEN
			PERFORM datacontract._raise(42205,
				format('Overwrite new schema with id %s in context . is not permitted.', req_id));
		END IF;
		IF sid IS NULL THEN
			INSERT INTO datacontract.schemas (id, identity, schema_type, schema, resolved,
											  fingerprint, "references", metadata, rule_set)
			VALUES (req_id, ident, req_type, stored, prepared.resolved, prepared.fingerprint,
					refs, meta, rules);
			sid := req_id;
		END IF;
		-- Keep the sequence ahead of every imported id.
		PERFORM setval('datacontract.schema_id_seq',
			greatest(sid, (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
							 FROM datacontract.schema_id_seq)), true);
	ELSE
		SELECT s.id INTO sid FROM datacontract.schemas s WHERE s.identity = ident ORDER BY s.id LIMIT 1;
		IF sid IS NULL THEN
			sid := nextval('datacontract.schema_id_seq');
			INSERT INTO datacontract.schemas (id, identity, schema_type, schema, resolved,
											  fingerprint, "references", metadata, rule_set)
			VALUES (sid, ident, req_type, stored, prepared.resolved, prepared.fingerprint,
					refs, meta, rules);
		END IF;
	END IF;

	IF refs IS NOT NULL THEN
		INSERT INTO datacontract.schema_references (schema_id, ordinal, name, subject, version)
		SELECT sid, t.n, t.e ->> 'name', t.e ->> 'subject', (t.e ->> 'version')::integer
		  FROM jsonb_array_elements(refs) WITH ORDINALITY AS t(e, n)
		ON CONFLICT DO NOTHING;
	END IF;

	-- In IMPORT mode an explicit version may already be there.
	IF EXISTS (SELECT 1 FROM datacontract.subject_versions sv
				WHERE sv.subject = register_schema.subject AND sv.version = next_version) THEN
		IF (SELECT sv.schema_id FROM datacontract.subject_versions sv
			 WHERE sv.subject = register_schema.subject AND sv.version = next_version) <> sid THEN
			PERFORM datacontract._raise(42205,
				format('Overwrite new schema with id %s in context . is not permitted.', sid));
		END IF;
		UPDATE datacontract.subject_versions sv SET deleted = false
		 WHERE sv.subject = register_schema.subject AND sv.version = next_version;
	ELSE
		INSERT INTO datacontract.subject_versions (subject, version, schema_id)
		VALUES (subject, next_version, sid);
	END IF;

	-- Content that matches a soft-deleted version of this subject comes back
	-- as a new version with the same id; the soft-deleted one goes (CSR#4277),
	-- unless something still references it.
	DELETE FROM datacontract.subject_versions sv
	 WHERE sv.subject = register_schema.subject AND sv.deleted AND sv.schema_id = sid
	   AND sv.version <> next_version
	   AND NOT EXISTS (SELECT 1 FROM datacontract.schema_references sr
					    WHERE sr.subject = sv.subject AND sr.version = sv.version);

	RETURN datacontract._schema_json(subject, next_version,
		(SELECT s FROM datacontract.schemas s WHERE s.id = sid));
END
$$;

-- Register a schema and return its global id (the fixed-signature entry point).
CREATE FUNCTION datacontract.register(subject text, schema text, schema_type text DEFAULT 'AVRO',
									  "references" jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL,
									  rule_set jsonb DEFAULT NULL, "normalize" boolean DEFAULT false)
RETURNS integer LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (datacontract.register_schema($1,
		jsonb_strip_nulls(jsonb_build_object('schema', $2, 'schemaType', $3,
			'references', $4, 'metadata', $5, 'ruleSet', $6)), $7) ->> 'id')::integer
$$;

-- Find a schema under a subject (POST /subjects/{s}): the version that
-- registered the same schema.  Without metadata or a rule set in the request
-- any version with the same schema text matches, newest first.
CREATE FUNCTION datacontract.lookup_schema(subject text, schema text, schema_type text DEFAULT 'AVRO',
										   "references" jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL,
										   rule_set jsonb DEFAULT NULL, "normalize" boolean DEFAULT NULL,
										   deleted boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stored text;
	cfg jsonb;
	typ text := upper(coalesce(schema_type, 'AVRO'));
	hit record;
BEGIN
	PERFORM datacontract._check_subject(subject);
	cfg := datacontract._effective_config(subject);
	stored := (datacontract._canonicalize(subject, typ, schema, lookup_schema."references",
										   coalesce(normalize, (cfg ->> 'normalize')::boolean, false))).stored;
	SELECT sv.version, s AS srow INTO hit
	  FROM datacontract.subject_versions sv
	  JOIN datacontract.schemas s ON s.id = sv.schema_id
	 WHERE sv.subject = lookup_schema.subject
	   AND (NOT sv.deleted OR lookup_schema.deleted)
	   AND s.schema = stored AND s.schema_type = typ
	   AND (lookup_schema.metadata IS NULL OR s.metadata = lookup_schema.metadata)
	   AND (lookup_schema.rule_set IS NULL OR s.rule_set = lookup_schema.rule_set)
	 ORDER BY sv.version DESC LIMIT 1;
	IF hit.version IS NULL THEN
		IF EXISTS (SELECT 1 FROM datacontract.subject_versions sv
					WHERE sv.subject = lookup_schema.subject AND (NOT sv.deleted OR lookup_schema.deleted)) THEN
			PERFORM datacontract._raise(40403, 'Schema not found');
		END IF;
		PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
	END IF;
	RETURN datacontract._schema_json(subject, hit.version, hit.srow);
END
$$;

------------------------------------------------------------------------------
-- Reading schemas, subjects and versions
------------------------------------------------------------------------------

-- The schema text registered under a global id (GET /schemas/ids/{id}/schema),
-- 40403 if none.  In C: a direct primary-key lookup, checking the caller's
-- SELECT privilege on datacontract.schemas.
CREATE FUNCTION datacontract.get_schema(id integer)
RETURNS text AS 'MODULE_PATHNAME', 'get_schema'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Confluent's SchemaString for an id (GET /schemas/ids/{id}): schema,
-- schemaType (non-Avro only), references, metadata, ruleSet.
CREATE FUNCTION datacontract.schema_by_id(id integer)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s datacontract.schemas;
BEGIN
	SELECT * INTO s FROM datacontract.schemas x WHERE x.id = schema_by_id.id;
	IF NOT FOUND THEN
		PERFORM datacontract._raise(40403, format('Schema %s not found', id));
	END IF;
	RETURN datacontract._schema_json(NULL, NULL, s) - 'id';
END
$$;

-- The subjects that use a schema id (GET /schemas/ids/{id}/subjects).
CREATE FUNCTION datacontract.schema_subjects(id integer, deleted boolean DEFAULT false)
RETURNS SETOF text LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM datacontract.schemas s WHERE s.id = schema_subjects.id) THEN
		PERFORM datacontract._raise(40403, 'Schema not found');
	END IF;
	RETURN QUERY
		SELECT DISTINCT sv.subject FROM datacontract.subject_versions sv
		 WHERE sv.schema_id = schema_subjects.id AND (NOT sv.deleted OR schema_subjects.deleted)
		 ORDER BY 1;
END
$$;

-- The subject versions that use a schema id (GET /schemas/ids/{id}/versions).
CREATE FUNCTION datacontract.schema_versions(id integer, deleted boolean DEFAULT false)
RETURNS TABLE (subject text, version integer) LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM datacontract.schemas s WHERE s.id = schema_versions.id) THEN
		PERFORM datacontract._raise(40403, 'Schema not found');
	END IF;
	RETURN QUERY
		SELECT sv.subject, sv.version FROM datacontract.subject_versions sv
		 WHERE sv.schema_id = schema_versions.id AND (NOT sv.deleted OR schema_versions.deleted)
		 ORDER BY 1, 2;
END
$$;

-- Subjects, sorted (GET /subjects).  A subject counts as deleted when all of
-- its versions are soft-deleted; deleted_only wins over deleted.
CREATE FUNCTION datacontract.subjects(subject_prefix text DEFAULT NULL, deleted boolean DEFAULT false,
									  deleted_only boolean DEFAULT false)
RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT sv.subject
	  FROM datacontract.subject_versions sv
	 WHERE $1 IS NULL OR starts_with(sv.subject, $1)
	 GROUP BY sv.subject
	HAVING CASE WHEN $3 THEN bool_and(sv.deleted)
				WHEN $2 THEN true
				ELSE NOT bool_and(sv.deleted) END
	 ORDER BY sv.subject
$$;

-- Version numbers of a subject (GET /subjects/{s}/versions).
CREATE FUNCTION datacontract.versions(subject text, deleted boolean DEFAULT false,
									  deleted_only boolean DEFAULT false)
RETURNS SETOF integer LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	found_any boolean := false;
	v integer;
BEGIN
	FOR v IN
		SELECT sv.version FROM datacontract.subject_versions sv
		 WHERE sv.subject = versions.subject
		   AND CASE WHEN versions.deleted_only THEN sv.deleted WHEN versions.deleted THEN true ELSE NOT sv.deleted END
		 ORDER BY sv.version
	LOOP
		found_any := true;
		RETURN NEXT v;
	END LOOP;
	IF NOT found_any AND NOT EXISTS (
		SELECT 1 FROM datacontract.subject_versions sv
		 WHERE sv.subject = versions.subject AND (NOT sv.deleted OR versions.deleted OR versions.deleted_only)) THEN
		PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
	END IF;
END
$$;

-- The version row a version segment names ("latest"/-1 = highest live, or
-- highest of all with include_deleted), raising 40401/40402/42202.
CREATE FUNCTION datacontract._find_version(subject text, version text, include_deleted boolean)
RETURNS datacontract.subject_versions LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v integer := datacontract._parse_version(version);
	vrow datacontract.subject_versions;
BEGIN
	IF v = -1 THEN
		SELECT * INTO vrow FROM datacontract.subject_versions sv
		 WHERE sv.subject = _find_version.subject AND (NOT sv.deleted OR include_deleted)
		 ORDER BY sv.version DESC LIMIT 1;
	ELSE
		SELECT * INTO vrow FROM datacontract.subject_versions sv
		 WHERE sv.subject = _find_version.subject AND sv.version = v
		   AND (NOT sv.deleted OR include_deleted);
	END IF;
	IF vrow.subject IS NULL THEN
		IF NOT EXISTS (SELECT 1 FROM datacontract.subject_versions sv
						WHERE sv.subject = _find_version.subject AND (NOT sv.deleted OR include_deleted)) THEN
			PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
		END IF;
		PERFORM datacontract._raise(40402, format('Version %s not found.', version));
	END IF;
	RETURN vrow;
END
$$;

-- One version of a subject as Confluent's Schema object
-- (GET /subjects/{s}/versions/{v}).
CREATE FUNCTION datacontract.get_version(subject text, version text DEFAULT 'latest',
										 deleted boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	vrow datacontract.subject_versions;
BEGIN
	vrow := datacontract._find_version(subject, version, deleted);
	RETURN datacontract._schema_json(vrow.subject, vrow.version,
		(SELECT s FROM datacontract.schemas s WHERE s.id = vrow.schema_id));
END
$$;

-- Ids of the schemas that reference a subject version
-- (GET /subjects/{s}/versions/{v}/referencedby); soft-deleted targets allowed.
CREATE FUNCTION datacontract.referenced_by(subject text, version text DEFAULT 'latest')
RETURNS SETOF integer LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	vrow datacontract.subject_versions;
BEGIN
	vrow := datacontract._find_version(subject, version, true);
	RETURN QUERY
		SELECT DISTINCT sr.schema_id FROM datacontract.schema_references sr
		 WHERE sr.subject = vrow.subject AND sr.version = vrow.version
		 ORDER BY 1;
END
$$;

------------------------------------------------------------------------------
-- Deletes
------------------------------------------------------------------------------

-- Drop schema rows no version uses any more: their ids stay burnt.
CREATE FUNCTION datacontract._drop_orphans(ids integer[])
RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	DELETE FROM datacontract.schemas s
	 WHERE s.id = ANY ($1)
	   AND NOT EXISTS (SELECT 1 FROM datacontract.subject_versions sv WHERE sv.schema_id = s.id)
$$;

-- Refuse writes in read-only mode (42205).
CREATE FUNCTION datacontract._check_writable(subject text)
RETURNS void LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF datacontract._effective_mode(subject) IN ('READONLY', 'READONLY_OVERRIDE') THEN
		PERFORM datacontract._raise(42205,
			format('Subject %s in context . is in read-only mode', subject));
	END IF;
END
$$;

-- Delete a subject (DELETE /subjects/{s}): soft first, then permanent.
-- Returns the version numbers deleted.
CREATE FUNCTION datacontract._delete_subject(subject text, permanent boolean)
RETURNS integer[] LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	live integer;
	total integer;
	result integer[];
	ids integer[];
	ref record;
BEGIN
	PERFORM datacontract._check_subject(subject);
	PERFORM datacontract._check_writable(subject);
	PERFORM datacontract._lock_subject(subject);
	SELECT count(*) FILTER (WHERE NOT sv.deleted), count(*) INTO live, total
	  FROM datacontract.subject_versions sv WHERE sv.subject = _delete_subject.subject;
	IF total = 0 THEN
		PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
	END IF;

	-- Versions referenced by other subjects' schemas cannot go.
	SELECT sr.subject, sr.version INTO ref
	  FROM datacontract.schema_references sr
	  JOIN datacontract.subject_versions holder ON holder.schema_id = sr.schema_id
	 WHERE sr.subject = _delete_subject.subject AND holder.subject <> _delete_subject.subject
	   AND (permanent OR NOT holder.deleted)
	 LIMIT 1;
	IF ref.subject IS NOT NULL THEN
		PERFORM datacontract._raise(42206,
			format('One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%s}.',
				   ref.subject, ref.version));
	END IF;

	IF NOT permanent THEN
		IF live = 0 THEN
			PERFORM datacontract._raise(40404,
				format('Subject ''%s'' was soft deleted.Set permanent=true to delete permanently', subject));
		END IF;
		WITH d AS (
			UPDATE datacontract.subject_versions sv SET deleted = true
			 WHERE sv.subject = _delete_subject.subject AND NOT sv.deleted
			RETURNING sv.version)
		SELECT array_agg(d.version ORDER BY d.version) INTO result FROM d;
		RETURN result;
	END IF;

	IF live > 0 THEN
		PERFORM datacontract._raise(40405,
			format('Subject ''%s'' was not deleted first before being permanently deleted', subject));
	END IF;
	WITH d AS (
		DELETE FROM datacontract.subject_versions sv
		 WHERE sv.subject = _delete_subject.subject
		RETURNING sv.version, sv.schema_id)
	SELECT array_agg(d.version ORDER BY d.version), array_agg(d.schema_id) INTO result, ids FROM d;
	PERFORM datacontract._drop_orphans(ids);
	DELETE FROM datacontract.config c WHERE c.subject = _delete_subject.subject;
	DELETE FROM datacontract.mode m WHERE m.subject = _delete_subject.subject;
	RETURN result;
END
$$;

-- Delete one version (DELETE /subjects/{s}/versions/{v}): soft first, then
-- permanent.  Returns the version number.
CREATE FUNCTION datacontract._delete_version(subject text, version text, permanent boolean)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	vrow datacontract.subject_versions;
	v integer;
BEGIN
	PERFORM datacontract._check_subject(subject);
	v := datacontract._parse_version(version);
	PERFORM datacontract._check_writable(subject);
	PERFORM datacontract._lock_subject(subject);
	IF NOT EXISTS (SELECT 1 FROM datacontract.subject_versions sv WHERE sv.subject = _delete_version.subject) THEN
		PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
	END IF;
	IF v = -1 THEN
		SELECT * INTO vrow FROM datacontract.subject_versions sv
		 WHERE sv.subject = _delete_version.subject AND (NOT sv.deleted OR permanent)
		 ORDER BY sv.version DESC LIMIT 1;
	ELSE
		SELECT * INTO vrow FROM datacontract.subject_versions sv
		 WHERE sv.subject = _delete_version.subject AND sv.version = v;
	END IF;
	IF vrow.subject IS NULL THEN
		PERFORM datacontract._raise(40402, format('Version %s not found.', version));
	END IF;

	-- A version that live schemas reference (any schema, for a permanent delete) stays.
	IF EXISTS (SELECT 1 FROM datacontract.schema_references sr
				 JOIN datacontract.subject_versions holder ON holder.schema_id = sr.schema_id
				WHERE sr.subject = vrow.subject AND sr.version = vrow.version
				  AND (permanent OR NOT holder.deleted)) THEN
		PERFORM datacontract._raise(42206,
			format('One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%s}.',
				   vrow.subject, vrow.version));
	END IF;

	IF NOT permanent THEN
		IF vrow.deleted THEN
			PERFORM datacontract._raise(40406,
				format('Subject ''%s'' Version %s was soft deleted.Set permanent=true to delete permanently',
					   subject, vrow.version));
		END IF;
		UPDATE datacontract.subject_versions sv SET deleted = true
		 WHERE sv.subject = vrow.subject AND sv.version = vrow.version;
		RETURN vrow.version;
	END IF;

	IF NOT vrow.deleted THEN
		PERFORM datacontract._raise(40407,
			format('Subject ''%s'' Version %s was not deleted first before being permanently deleted',
				   subject, vrow.version));
	END IF;
	DELETE FROM datacontract.subject_versions sv
	 WHERE sv.subject = vrow.subject AND sv.version = vrow.version;
	PERFORM datacontract._drop_orphans(ARRAY[vrow.schema_id]);
	IF NOT EXISTS (SELECT 1 FROM datacontract.subject_versions sv WHERE sv.subject = vrow.subject) THEN
		DELETE FROM datacontract.config c WHERE c.subject = vrow.subject;
		DELETE FROM datacontract.mode m WHERE m.subject = vrow.subject;
	END IF;
	RETURN vrow.version;
END
$$;

-- Soft deletes, callable by writers; the permanent forms are granted to
-- admins only (part 90), so a writer cannot reach them directly either.
CREATE FUNCTION datacontract._soft_delete_subject(subject text)
RETURNS integer[] LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT datacontract._delete_subject($1, false) $$;

CREATE FUNCTION datacontract._soft_delete_version(subject text, version text)
RETURNS integer LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT datacontract._delete_version($1, $2, false) $$;

-- Permanent deletes are for datacontract_admin; the check runs as the caller.
CREATE FUNCTION datacontract._require_admin_for(permanent boolean)
RETURNS void LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF permanent AND NOT pg_has_role(current_user, 'datacontract_admin', 'USAGE') THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = 'permission denied for a permanent delete',
			HINT = 'Permanent deletes need the datacontract_admin role.';
	END IF;
END
$$;

-- Delete a subject (DELETE /subjects/{s}): soft first, then permanent.
-- Returns the version numbers deleted.
CREATE FUNCTION datacontract.delete_subject(subject text, permanent boolean DEFAULT false)
RETURNS integer[] LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM datacontract._require_admin_for(coalesce(permanent, false));
	IF permanent THEN
		RETURN datacontract._delete_subject(subject, true);
	END IF;
	RETURN datacontract._soft_delete_subject(subject);
END
$$;

-- Delete one version (DELETE /subjects/{s}/versions/{v}): soft first, then
-- permanent.  Returns the version number.
CREATE FUNCTION datacontract.delete_version(subject text, version text, permanent boolean DEFAULT false)
RETURNS integer LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM datacontract._require_admin_for(coalesce(permanent, false));
	IF permanent THEN
		RETURN datacontract._delete_version(subject, version, true);
	END IF;
	RETURN datacontract._soft_delete_version(subject, version);
END
$$;

------------------------------------------------------------------------------
-- Config
------------------------------------------------------------------------------

-- A subject's config (GET /config/{s}) or the global one (subject NULL).
-- With default_to_global the effective merged config; a subject without its
-- own config is 40408 otherwise.
CREATE FUNCTION datacontract.get_config(subject text DEFAULT NULL, default_to_global boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result jsonb;
BEGIN
	IF subject IS NULL OR default_to_global THEN
		RETURN datacontract._effective_config(subject);
	END IF;
	PERFORM datacontract._check_subject(subject);
	SELECT c.config INTO result FROM datacontract.config c WHERE c.subject = get_config.subject;
	IF result IS NULL THEN
		PERFORM datacontract._raise(40408,
			format('Subject ''%s'' does not have subject-level compatibility configured', subject));
	END IF;
	IF NOT result ? 'compatibilityLevel' THEN
		result := result || '{"compatibilityLevel": "BACKWARD"}';
	END IF;
	RETURN result;
END
$$;

-- Update a config with PATCH semantics (PUT /config[/{s}]): keys present in
-- "config" replace the stored ones, explicit nulls clear them, absent keys
-- stay.  The level key may be "compatibility" (Confluent's request form) or
-- "compatibilityLevel".  Returns the stored config in the request form.
CREATE FUNCTION datacontract.set_config(subject text, config jsonb)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old jsonb;
	patch jsonb := config;
	result jsonb;
	k text;
	level text;
BEGIN
	IF subject IS NOT NULL THEN
		PERFORM datacontract._check_subject(subject);
	END IF;
	IF jsonb_typeof(patch) IS DISTINCT FROM 'object' THEN
		PERFORM datacontract._raise(42203,
			'Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive');
	END IF;
	PERFORM datacontract._check_writable(subject);
	IF patch ? 'compatibility' THEN
		patch := (patch - 'compatibility') || jsonb_build_object('compatibilityLevel', patch -> 'compatibility');
	END IF;
	IF patch ? 'compatibilityLevel' AND patch -> 'compatibilityLevel' <> 'null' THEN
		level := datacontract._normalize_level(patch ->> 'compatibilityLevel');
		IF level IS NULL OR jsonb_typeof(patch -> 'compatibilityLevel') <> 'string' THEN
			PERFORM datacontract._raise(42203,
				'Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive');
		END IF;
		patch := patch || jsonb_build_object('compatibilityLevel', level);
	END IF;
	FOR k IN SELECT jsonb_object_keys(patch) LOOP
		IF k NOT IN ('alias', 'aliasForDeks', 'normalize', 'validateFields', 'validateNewSchemas',
					 'validateRules', 'compatibilityLevel', 'compatibilityPolicy', 'compatibilityGroup',
					 'defaultMetadata', 'overrideMetadata', 'defaultRuleSet', 'overrideRuleSet') THEN
			patch := patch - k;
		END IF;
	END LOOP;
	-- Default and override rule sets are checked as at registration (42210).
	FOREACH k IN ARRAY ARRAY['defaultRuleSet', 'overrideRuleSet'] LOOP
		IF patch ? k AND patch -> k <> 'null' THEN
			PERFORM datacontract._validate_rule_set(patch -> k);
			patch := patch || jsonb_build_object(k, datacontract._normalize_rule_set(patch -> k));
		END IF;
	END LOOP;

	SELECT c.config INTO old FROM datacontract.config c WHERE c.subject IS NOT DISTINCT FROM set_config.subject;
	result := jsonb_strip_nulls(coalesce(old, '{}') || patch);
	INSERT INTO datacontract.config AS c (subject, config) VALUES (subject, result)
	ON CONFLICT ON CONSTRAINT config_subject_key DO UPDATE SET config = excluded.config, updated_at = pg_catalog.now();

	IF result ? 'compatibilityLevel' THEN
		result := (result - 'compatibilityLevel') || jsonb_build_object('compatibility', result -> 'compatibilityLevel');
	END IF;
	RETURN result;
END
$$;

-- Set the compatibility level of a subject, or the global one (NULL subject).
CREATE FUNCTION datacontract.set_compatibility(subject text, level text)
RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NULL::void FROM datacontract.set_config($1, jsonb_build_object('compatibility', $2))
$$;

-- Remove a subject's config (or reset the global one); returns the old config.
CREATE FUNCTION datacontract.delete_config(subject text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old jsonb;
BEGIN
	PERFORM datacontract._check_writable(subject);
	DELETE FROM datacontract.config c WHERE c.subject IS NOT DISTINCT FROM delete_config.subject
	RETURNING c.config INTO old;
	IF old IS NULL THEN
		IF subject IS NOT NULL THEN
			PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
		END IF;
		old := '{}';
	END IF;
	IF NOT old ? 'compatibilityLevel' THEN
		old := old || '{"compatibilityLevel": "BACKWARD"}';
	END IF;
	RETURN old;
END
$$;

------------------------------------------------------------------------------
-- Modes
------------------------------------------------------------------------------

-- A subject's mode (GET /mode/{s}), or the global one (NULL subject);
-- 40409 for a subject without its own mode unless default_to_global.
CREATE FUNCTION datacontract.get_mode(subject text DEFAULT NULL, default_to_global boolean DEFAULT false)
RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result text;
BEGIN
	IF subject IS NULL OR default_to_global THEN
		RETURN datacontract._effective_mode(subject);
	END IF;
	SELECT m.mode INTO result FROM datacontract.mode m WHERE m.subject = get_mode.subject;
	IF result IS NULL THEN
		PERFORM datacontract._raise(40409,
			format('Subject ''%s'' does not have subject-level mode configured', subject));
	END IF;
	RETURN result;
END
$$;

-- Set a mode (PUT /mode[/{s}]).  Entering IMPORT needs an empty registry (or
-- subject) unless force; soft-deleted versions are then removed for good.
CREATE FUNCTION datacontract.set_mode(subject text, mode text, force boolean DEFAULT false)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text := upper(mode);
	ids integer[];
BEGIN
	IF subject IS NOT NULL THEN
		PERFORM datacontract._check_subject(subject);
	END IF;
	IF m IS NULL OR m NOT IN ('READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT', 'FORWARD') THEN
		PERFORM datacontract._raise(42204,
			'Invalid mode. Valid values are READWRITE, READONLY, IMPORT and FORWARD.');
	END IF;
	IF m = 'FORWARD' AND subject IS NOT NULL THEN
		PERFORM datacontract._raise(42204, 'Forward mode only supported on global level');
	END IF;
	IF m = 'IMPORT' AND datacontract._effective_mode(subject) <> 'IMPORT' THEN
		IF NOT force AND EXISTS (
			SELECT 1 FROM datacontract.subject_versions sv
			 WHERE NOT sv.deleted AND (set_mode.subject IS NULL OR sv.subject = set_mode.subject)) THEN
			PERFORM datacontract._raise(42205, 'Cannot import since found existing subjects');
		END IF;
		WITH d AS (
			DELETE FROM datacontract.subject_versions sv
			 WHERE sv.deleted AND (set_mode.subject IS NULL OR sv.subject = set_mode.subject)
			   AND NOT EXISTS (SELECT 1 FROM datacontract.schema_references sr
								WHERE sr.subject = sv.subject AND sr.version = sv.version)
			RETURNING sv.schema_id)
		SELECT array_agg(d.schema_id) INTO ids FROM d;
		PERFORM datacontract._drop_orphans(ids);
	END IF;
	INSERT INTO datacontract.mode AS x (subject, mode) VALUES (subject, m)
	ON CONFLICT ON CONSTRAINT mode_subject_key DO UPDATE SET mode = excluded.mode, updated_at = pg_catalog.now();
	RETURN m;
END
$$;

-- Remove a subject's mode (or reset the global one); returns the old mode.
CREATE FUNCTION datacontract.delete_mode(subject text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old text;
BEGIN
	DELETE FROM datacontract.mode m WHERE m.subject IS NOT DISTINCT FROM delete_mode.subject
	RETURNING m.mode INTO old;
	IF old IS NULL THEN
		IF subject IS NOT NULL THEN
			PERFORM datacontract._raise(40401, format('Subject ''%s'' not found.', subject));
		END IF;
		old := 'READWRITE';
	END IF;
	RETURN old;
END
$$;

------------------------------------------------------------------------------
-- Compatibility
------------------------------------------------------------------------------

-- Check a schema against a subject (POST /compatibility/subjects/{s}/versions[/{v}]).
-- NULL version: every live version the configured level demands; a named
-- version: that version only, whatever the level.  "latest" on an unknown
-- subject is compatible; an explicit missing version is 40402.
CREATE FUNCTION datacontract.check_compatibility(subject text, schema text, version text DEFAULT NULL)
RETURNS TABLE (is_compatible boolean, messages text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cfg jsonb := datacontract._effective_config(subject);
	level text := coalesce(datacontract._normalize_level(cfg ->> 'compatibilityLevel'), 'BACKWARD');
	stored text;
	v integer;
	prev_texts text[];
	prev_versions integer[];
	msgs text[];
BEGIN
	PERFORM datacontract._check_subject(subject);
	IF version IS NOT NULL THEN
		v := datacontract._parse_version(version);
	END IF;
	stored := (datacontract._canonicalize(subject, 'AVRO', schema, NULL,
										   coalesce((cfg ->> 'normalize')::boolean, false))).stored;
	IF version IS NULL THEN
		SELECT array_agg(t.schema ORDER BY t.version DESC), array_agg(t.version ORDER BY t.version DESC)
		  INTO prev_texts, prev_versions
		  FROM (SELECT coalesce(s.resolved, s.schema) AS schema, sv.version
				  FROM datacontract.subject_versions sv
				  JOIN datacontract.schemas s ON s.id = sv.schema_id
				 WHERE sv.subject = check_compatibility.subject AND NOT sv.deleted
				 ORDER BY sv.version DESC
				 LIMIT CASE WHEN level LIKE '%TRANSITIVE' THEN NULL ELSE 1 END) t;
	ELSE
		SELECT ARRAY[coalesce(s.resolved, s.schema)], ARRAY[sv.version] INTO prev_texts, prev_versions
		  FROM datacontract.subject_versions sv
		  JOIN datacontract.schemas s ON s.id = sv.schema_id
		 WHERE sv.subject = check_compatibility.subject AND NOT sv.deleted
		   AND (sv.version = v OR v = -1)
		 ORDER BY sv.version DESC LIMIT 1;
		IF prev_texts IS NULL AND v <> -1 THEN
			PERFORM datacontract._raise(40402, format('Version %s not found.', version));
		END IF;
		-- A single named version is checked as the non-transitive level.
		level := replace(level, '_TRANSITIVE', '');
	END IF;
	IF prev_texts IS NULL OR level = 'NONE' THEN
		RETURN QUERY SELECT true, '{}'::text[];
		RETURN;
	END IF;
	msgs := datacontract.avro_check_compatibility(stored, prev_texts, prev_versions, level,
				coalesce((cfg ->> 'validateFields')::boolean, false));
	RETURN QUERY SELECT coalesce(cardinality(msgs), 0) = 0, coalesce(msgs, '{}');
END
$$;
