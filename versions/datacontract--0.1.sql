-- datacontract install script, part 00: the registry's catalog.
-- The Makefile concatenates src/sql/*.sql in name order into datacontract--<version>.sql.

\echo Use "CREATE EXTENSION datacontract" to load this file. \quit

-- Roles are cluster-wide: create them only when they do not exist yet.
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'datacontract_reader') THEN
		CREATE ROLE datacontract_reader NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'datacontract_writer') THEN
		CREATE ROLE datacontract_writer NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'datacontract_admin') THEN
		CREATE ROLE datacontract_admin NOLOGIN;
	END IF;
END
$roles$;
GRANT datacontract_reader TO datacontract_writer;
GRANT datacontract_writer TO datacontract_admin;

-- Global schema ids.  Never reused: a hard-deleted schema's id stays burnt,
-- and IMPORT mode moves the sequence past every imported id.
CREATE SEQUENCE datacontract.schema_id_seq AS integer MINVALUE 1 NO CYCLE;

-- Schema content, stored once.  "identity" is the digest that decides whether
-- two registrations are the same schema: stored text, type, references,
-- metadata and rule set (Confluent's MD5 identity, §4.6 of the reference).
CREATE TABLE datacontract.schemas (
	id				integer PRIMARY KEY,
	identity		bytea NOT NULL,
	schema_type		text NOT NULL DEFAULT 'AVRO'
					CHECK (schema_type IN ('AVRO', 'JSON', 'PROTOBUF')),
	schema			text NOT NULL,	-- the stored form (Java Avro's), as Confluent returns it
	resolved		text,			-- self-contained form with referenced types inlined;
									-- NULL when the schema has no references
	fingerprint		bigint,			-- CRC-64-AVRO of the Parsing Canonical Form
	"references"	jsonb,			-- [{"name","subject","version"}] or NULL
	metadata		jsonb,			-- {"properties","tags","sensitive"} or NULL
	rule_set		jsonb,			-- {"domainRules","migrationRules",...} or NULL
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- Not unique: IMPORT mode may bring the same content under two ids.
-- Ordinary registration takes an advisory lock per identity, so it never
-- creates a second id for content that has one.
CREATE INDEX schemas_identity_idx ON datacontract.schemas (identity);
CREATE INDEX schemas_fingerprint_idx ON datacontract.schemas (fingerprint);

-- Versions of subjects.  Soft delete sets "deleted"; hard delete removes the
-- row, so a version number can come back but an id cannot.
CREATE TABLE datacontract.subject_versions (
	subject			text NOT NULL,
	version			integer NOT NULL CHECK (version > 0),
	schema_id		integer NOT NULL REFERENCES datacontract.schemas (id),
	deleted			boolean NOT NULL DEFAULT false,
	registered_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (subject, version)
);
CREATE INDEX subject_versions_schema_id_idx ON datacontract.subject_versions (schema_id);

-- References a schema makes to other subjects' versions (for referenced-by
-- and for refusing deletes of referenced versions).
CREATE TABLE datacontract.schema_references (
	schema_id		integer NOT NULL REFERENCES datacontract.schemas (id) ON DELETE CASCADE,
	ordinal			integer NOT NULL,
	name			text NOT NULL,
	subject			text NOT NULL,
	version			integer NOT NULL,
	PRIMARY KEY (schema_id, ordinal)
);
CREATE INDEX schema_references_target_idx ON datacontract.schema_references (subject, version);

-- Compatibility configuration; subject NULL is the global row.  The config is
-- kept as Confluent's Config object (keys compatibilityLevel, normalize,
-- compatibilityGroup, defaultMetadata, ...), absent keys meaning "unset".
CREATE TABLE datacontract.config (
	subject			text UNIQUE NULLS NOT DISTINCT,
	config			jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(config) = 'object'),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Modes; subject NULL is the global row (absent means READWRITE).
CREATE TABLE datacontract.mode (
	subject			text UNIQUE NULLS NOT DISTINCT,
	mode			text NOT NULL
					CHECK (mode IN ('READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT', 'FORWARD')),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- pg_dump keeps the registry, ids included.
SELECT pg_catalog.pg_extension_config_dump('datacontract.schema_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('datacontract.schemas', '');
SELECT pg_catalog.pg_extension_config_dump('datacontract.subject_versions', '');
SELECT pg_catalog.pg_extension_config_dump('datacontract.schema_references', '');
SELECT pg_catalog.pg_extension_config_dump('datacontract.config', '');
SELECT pg_catalog.pg_extension_config_dump('datacontract.mode', '');
-- Avro schema model (src/avro_schema*.c): canonical form, fingerprints,
-- the stored (Java) form and validation.

CREATE FUNCTION datacontract.avro_canonical(schema text) RETURNS text
    AS 'MODULE_PATHNAME', 'avro_canonical'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_canonical(text) IS
    'Parsing Canonical Form of an Avro schema, as the Avro specification defines it';

CREATE FUNCTION datacontract.avro_fingerprint64(schema text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'avro_fingerprint64'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_fingerprint64(text) IS
    'CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form, as a signed bigint';

CREATE FUNCTION datacontract.avro_fingerprint(schema text, algorithm text DEFAULT 'sha256') RETURNS bytea
    AS 'MODULE_PATHNAME', 'avro_fingerprint'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_fingerprint(text, text) IS
    'Fingerprint of the Parsing Canonical Form: crc64 (8 bytes, little-endian), md5 or sha256';

CREATE FUNCTION datacontract.avro_normalize(schema text, "normalize" boolean DEFAULT false) RETURNS text
    AS 'MODULE_PATHNAME', 'avro_normalize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_normalize(text, boolean) IS
    'The schema as Confluent Schema Registry stores it (Java Avro''s Schema.toString()), optionally with Confluent''s normalization';

CREATE FUNCTION datacontract.avro_validate(schema text) RETURNS text
    AS 'MODULE_PATHNAME', 'avro_validate'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_validate(text) IS
    'NULL if the Avro schema is valid, else why it is not';
-- datacontract install script, part 20: Avro reader/writer compatibility
-- (src/avro_compat.c), with Apache Avro Java 1.11's rules and Confluent's
-- message texts.

-- Whether data written with "writer" can always be read with "reader".
CREATE FUNCTION datacontract.avro_compatible(reader text, writer text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'avro_compatible'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Confluent's messages for reading "writer" data with "reader", empty when
-- compatible.  The labels fill the descriptions' placeholders: Confluent
-- says 'new'/'old' when checking BACKWARD and 'old'/'new' when FORWARD.
CREATE FUNCTION datacontract.avro_compatibility_messages(reader text, writer text,
	reader_label text DEFAULT 'new', writer_label text DEFAULT 'old')
RETURNS text[]
AS 'MODULE_PATHNAME', 'avro_compatibility_messages'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Confluent's verdict on a new schema under a compatibility level, given the
-- previous versions' stored texts and numbers newest first: an empty array
-- when compatible, else the message list of the 409 error (trailer
-- included).  NULL previous_versions: versions unknown.
CREATE FUNCTION datacontract.avro_check_compatibility(new_schema text,
	previous_schemas text[], previous_versions integer[], level text,
	validate_fields boolean DEFAULT false)
RETURNS text[]
AS 'MODULE_PATHNAME', 'avro_check_compatibility'
LANGUAGE C STABLE PARALLEL SAFE;
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
-- datacontract install script, part 35: views for people at psql.

-- Every subject with its latest live version (deleted: every version soft-deleted).
CREATE VIEW datacontract.subject_latest AS
SELECT sv.subject,
	   count(*) FILTER (WHERE NOT sv.deleted) AS live_versions,
	   count(*) AS all_versions,
	   max(sv.version) FILTER (WHERE NOT sv.deleted) AS latest_version,
	   (array_agg(sv.schema_id ORDER BY sv.version DESC) FILTER (WHERE NOT sv.deleted))[1] AS latest_schema_id,
	   bool_and(sv.deleted) AS deleted,
	   coalesce(c.config ->> 'compatibilityLevel', 'BACKWARD (default)') AS compatibility,
	   m.mode
  FROM datacontract.subject_versions sv
  LEFT JOIN datacontract.config c ON c.subject = sv.subject
  LEFT JOIN datacontract.mode m ON m.subject = sv.subject
 GROUP BY sv.subject, c.config, m.mode;

-- Every version of every subject with its id, schema and contract parts.
CREATE VIEW datacontract.versions_all AS
SELECT sv.subject, sv.version, sv.schema_id AS id, sv.deleted, sv.registered_at,
	   s.schema_type, s.fingerprint, s.schema, s."references", s.metadata, s.rule_set,
	   s.metadata -> 'properties' AS properties
  FROM datacontract.subject_versions sv
  JOIN datacontract.schemas s ON s.id = sv.schema_id;
-- datacontract install script, part 40: the Avro binary codec.
-- Decoding returns jsonb in the natural form by default (unions unwrapped,
-- bytes and fixed as "\x" hex, logical types as ISO-8601 strings and exact
-- numbers, NaN/Infinity as strings); avro_json => true gives the Avro
-- specification's JSON encoding.  Encoding accepts both forms.

CREATE FUNCTION datacontract.avro_decode(message bytea, reader_schema_id integer DEFAULT NULL,
		avro_json boolean DEFAULT false)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'avro_decode'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_decode(bytea, integer, boolean) IS
	'Decode a Confluent-framed Avro message with the writer schema its id names, read as reader_schema_id (default: the writer schema)';

CREATE FUNCTION datacontract.avro_decode_raw(data bytea, writer_schema text, reader_schema text DEFAULT NULL,
		avro_json boolean DEFAULT false)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'avro_decode_raw'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_decode_raw(bytea, text, text, boolean) IS
	'Decode a bare Avro body written with writer_schema, read as reader_schema (default: the writer schema)';

CREATE FUNCTION datacontract.avro_populate_record(base anyelement, message bytea,
		reader_schema_id integer DEFAULT NULL)
	RETURNS anyelement
	AS 'MODULE_PATHNAME', 'avro_populate_record'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_populate_record(anyelement, bytea, integer) IS
	'Decode a Confluent-framed Avro record into the same-named columns of base''s composite type, as jsonb_populate_record does';

CREATE FUNCTION datacontract.avro_schema_id(message bytea)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'avro_schema_id'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_schema_id(bytea) IS
	'The schema id of a Confluent-framed message';

CREATE FUNCTION datacontract.avro_encode(subject text, value jsonb, version integer DEFAULT NULL)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'avro_encode'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_encode(text, jsonb, integer) IS
	'Encode a value as a Confluent-framed Avro message with the subject''s latest (or given) live version';

CREATE FUNCTION datacontract.avro_encode_raw(value jsonb, schema text)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'avro_encode_raw'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.avro_encode_raw(jsonb, text) IS
	'Encode a value as a bare Avro body of the given schema';
-- datacontract install script, part 50: SQL the REST API needs beyond the
-- registry's own functions (part 30).  The HTTP workers call these through
-- SPI; they hold no registry logic of their own, only listings Confluent's
-- API has and the SQL API does not.

-- Every schema version as Confluent's Schema object (GET /schemas), ordered
-- by subject and version; latest_only keeps each subject's newest version.
-- "limit" NULL means all.
CREATE FUNCTION datacontract._http_list_schemas(subject_prefix text DEFAULT NULL,
												deleted boolean DEFAULT false,
												latest_only boolean DEFAULT false,
												"offset" integer DEFAULT 0,
												"limit" integer DEFAULT NULL)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(t.j ORDER BY t.subject, t.version), '[]')
	  FROM (SELECT datacontract._schema_json(sv.subject, sv.version, s) AS j,
				   sv.subject, sv.version
			  FROM datacontract.subject_versions sv
			  JOIN datacontract.schemas s ON s.id = sv.schema_id
			 WHERE ($1 IS NULL OR starts_with(sv.subject, $1))
			   AND (NOT sv.deleted OR $2)
			   AND (NOT $3 OR sv.version = (SELECT max(v2.version)
											  FROM datacontract.subject_versions v2
											 WHERE v2.subject = sv.subject
											   AND (NOT v2.deleted OR $2)))
			 ORDER BY sv.subject, sv.version
			OFFSET coalesce($4, 0) LIMIT $5) t
$$;

-- The newest version of a subject whose metadata properties contain every
-- requested key/value pair (GET /subjects/{s}/metadata); keys and values
-- pair up by position, extras ignored.  With no pairs, the newest version
-- that has metadata at all.  40401 for an unknown subject, 40403 otherwise.
CREATE FUNCTION datacontract._http_latest_with_metadata(subject text, keys text[],
														vals text[], deleted boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- key and value query parameters pair up by position; extras are ignored
	n integer := least(coalesce(cardinality(keys), 0), coalesce(cardinality(vals), 0));
BEGIN
	RETURN datacontract.latest_with_metadata(subject,
		CASE WHEN n > 0 THEN jsonb_object(keys[1:n], vals[1:n]) ELSE '{}' END, deleted);
END
$$;

-- Readers may list; part 90 grants underscore functions to admins only.
GRANT EXECUTE ON FUNCTION
	datacontract._http_list_schemas(text, boolean, boolean, integer, integer),
	datacontract._http_latest_with_metadata(text, text[], text[], boolean)
	TO datacontract_reader;

------------------------------------------------------------------------------
-- Import from another Confluent-compatible registry
------------------------------------------------------------------------------

-- GET a URL (http or https): the status and the body.  Admins only (part 90
-- grants underscore functions to datacontract_admin alone).
CREATE FUNCTION datacontract._http_get(url text, userpwd text DEFAULT NULL,
									   OUT status integer, OUT body text)
RETURNS record LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'datacontract_http_get';

-- Percent-encode a path segment (RFC 3986 unreserved characters stay).
CREATE FUNCTION datacontract._http_urlencode(segment text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(string_agg(CASE WHEN t.c ~ '^[A-Za-z0-9._~-]$' THEN t.c
		ELSE upper(regexp_replace(encode(convert_to(t.c, 'UTF8'), 'hex'), '(..)', '%\1', 'g')) END,
		'' ORDER BY t.i), '')
	  FROM regexp_split_to_table($1, '') WITH ORDINALITY AS t(c, i)
$$;

-- GET a registry resource as jsonb; NULL for a 404, an error otherwise.
CREATE FUNCTION datacontract._http_fetch(url text, userpwd text)
RETURNS jsonb LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
BEGIN
	SELECT * INTO r FROM datacontract._http_get(url, userpwd);
	IF r.status = 404 THEN
		RETURN NULL;
	ELSIF r.status <> 200 THEN
		RAISE EXCEPTION USING ERRCODE = 'connection_failure',
			MESSAGE = format('registry answered HTTP %s for %s', r.status, url),
			DETAIL = left(r.body, 1000);
	END IF;
	RETURN r.body::jsonb;
END
$$;

-- Copy a whole registry from a Confluent-compatible REST API at "url":
-- every subject's versions (soft-deleted ones too) with their ids and
-- version numbers, metadata, rule sets and references, the global and
-- subject configs and the subject modes.  Runs through IMPORT mode, so this
-- registry must have no live subjects; the global mode is restored after.
-- "userpwd" is "user:password" for HTTP Basic.  Returns counts.
CREATE FUNCTION datacontract.import_registry(url text, userpwd text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	base text := rtrim(url, '/');
	old_mode text;
	subj text;
	path text;
	v integer;
	sv jsonb;
	live jsonb;
	cfg jsonb;
	m jsonb;
	modes jsonb := '{}';
	n_subjects integer := 0;
	n_versions integer := 0;
	n_deleted integer := 0;
BEGIN
	IF NOT pg_has_role(current_user, 'datacontract_admin', 'USAGE') THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = 'permission denied for datacontract.import_registry',
			HINT = 'Importing a registry needs the datacontract_admin role.';
	END IF;
	old_mode := datacontract.get_mode(NULL);
	PERFORM datacontract.set_mode(NULL, 'IMPORT', false);

	FOR subj IN SELECT jsonb_array_elements_text(
			coalesce(datacontract._http_fetch(base || '/subjects?deleted=true', userpwd), '[]'))
	LOOP
		path := base || '/subjects/' || datacontract._http_urlencode(subj);
		n_subjects := n_subjects + 1;
		FOR v IN SELECT (jsonb_array_elements_text(
				coalesce(datacontract._http_fetch(path || '/versions?deleted=true', userpwd), '[]')))::integer
		LOOP
			sv := datacontract._http_fetch(path || '/versions/' || v || '?deleted=true', userpwd);
			CONTINUE WHEN sv IS NULL;
			PERFORM datacontract.register_schema(subj, jsonb_strip_nulls(jsonb_build_object(
				'schema', sv ->> 'schema', 'schemaType', sv ->> 'schemaType',
				'references', sv -> 'references', 'metadata', sv -> 'metadata',
				'ruleSet', sv -> 'ruleSet', 'version', v, 'id', (sv ->> 'id')::integer)));
			n_versions := n_versions + 1;
		END LOOP;
		-- Versions the source lists only with deleted=true were soft-deleted.
		live := coalesce(datacontract._http_fetch(path || '/versions', userpwd), '[]');
		FOR v IN SELECT sv2.version FROM datacontract.subject_versions sv2
				  WHERE sv2.subject = subj AND NOT sv2.deleted
					AND NOT live @> to_jsonb(sv2.version)
		LOOP
			PERFORM datacontract.delete_version(subj, v::text, false);
			n_deleted := n_deleted + 1;
		END LOOP;
		cfg := datacontract._http_fetch(base || '/config/' || datacontract._http_urlencode(subj), userpwd);
		IF cfg IS NOT NULL THEN
			PERFORM datacontract.set_config(subj, cfg);
		END IF;
		m := datacontract._http_fetch(base || '/mode/' || datacontract._http_urlencode(subj), userpwd);
		IF m IS NOT NULL AND m ->> 'mode' IS NOT NULL THEN
			modes := modes || jsonb_build_object(subj, m ->> 'mode');
		END IF;
	END LOOP;

	cfg := datacontract._http_fetch(base || '/config', userpwd);
	IF cfg IS NOT NULL THEN
		PERFORM datacontract.set_config(NULL, cfg);
	END IF;
	PERFORM datacontract.set_mode(NULL, old_mode, true);
	FOR subj IN SELECT jsonb_object_keys(modes) LOOP
		PERFORM datacontract.set_mode(subj, modes ->> subj, true);
	END LOOP;
	RETURN jsonb_build_object('subjects', n_subjects, 'versions', n_versions,
							  'soft_deleted', n_deleted, 'subject_modes', (SELECT count(*) FROM jsonb_object_keys(modes)));
END
$$;
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
-- datacontract install script, part 70: Kafka ingestion.
--
-- A stream is a row of datacontract.kafka_streams: a topic read with a
-- subject's reader schema into a table of events, an optional table of
-- hourly aggregates and a table of dead letters.  With
-- shared_preload_libraries = 'datacontract', a launcher starts one consumer
-- worker per enabled, unpaused stream that has brokers (the row's own, or
-- datacontract.kafka_brokers) and restarts it when it dies or its row
-- changes.  Offsets live in datacontract.kafka_offsets and are written in
-- the same transaction as the rows they produced: exactly once.
--
-- The sink tables hold users' data, so they are not members of the
-- extension: datacontract.kafka_create_sink_tables() creates them with
-- IF NOT EXISTS (the worker calls it at start), and DROP EXTENSION keeps them.

CREATE TABLE datacontract.kafka_streams (
	name				text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,63}$'),
	brokers				text,			-- NULL: datacontract.kafka_brokers
	topic				text NOT NULL,
	subject				text NOT NULL,
	reader_version		text NOT NULL DEFAULT 'latest'
						CHECK (reader_version = 'latest' OR reader_version ~ '^[1-9][0-9]{0,8}$'),
	events_table		text NOT NULL,	-- qualified names, as to_regclass reads them
	aggregates_table	text,			-- NULL: no hourly aggregates
	dead_letters_table	text NOT NULL,
	time_field			text DEFAULT 'timestamp',	-- epoch ms (or a timestamp logical type): event_time
	group_field			text DEFAULT 'device_id',	-- aggregates per (group_field, hour of event_time)
	aggregate_fields	text[] NOT NULL DEFAULT '{}',	-- numeric fields: count, sum, min, max per hour
	batch_size			integer CHECK (batch_size BETWEEN 1 AND 1000000),	-- NULL: datacontract.kafka_batch_size
	batch_time_ms		integer CHECK (batch_time_ms BETWEEN 0 AND 600000),	-- NULL: datacontract.kafka_batch_time
	partitions			integer[],		-- partitions this server owns; NULL: all
	options				jsonb NOT NULL DEFAULT '{}'
						CHECK (pg_catalog.jsonb_typeof(options) = 'object'),	-- librdkafka properties
	enabled				boolean NOT NULL DEFAULT true,
	paused				boolean NOT NULL DEFAULT false,
	generation			integer NOT NULL DEFAULT 0,	-- bumped by kafka_restart: the worker restarts
	reset_to			text CHECK (reset_to IN ('earliest', 'latest', 'timestamp')),
	reset_at			timestamptz,	-- pending reset, applied by the next worker start
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE datacontract.kafka_streams IS
	'Kafka streams ingested by the datacontract workers: one consumer worker per enabled row';

-- The shipped default: the seed's IoT pipeline, started by setting
-- datacontract.kafka_brokers.
INSERT INTO datacontract.kafka_streams (name, topic, subject, events_table, aggregates_table,
		dead_letters_table, aggregate_fields)
	VALUES ('sensor-events', 'sensor-events', 'sensor-events-value', 'public.sensor_events',
			'public.hourly_aggregates', 'public.dead_letters', '{temperature,humidity}');

-- The next offset to read per partition; written only by the workers, in the
-- transaction of the batch that consumed up to it.
CREATE TABLE datacontract.kafka_offsets (
	stream				text NOT NULL REFERENCES datacontract.kafka_streams (name)
						ON UPDATE CASCADE ON DELETE CASCADE,
	topic				text NOT NULL,
	"partition"			integer NOT NULL CHECK ("partition" >= 0),
	next_offset			bigint NOT NULL CHECK (next_offset >= 0),
	updated_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (stream, topic, "partition")
);
COMMENT ON TABLE datacontract.kafka_offsets IS
	'Committed Kafka positions of each stream: the next offset to ingest per partition';

-- pg_dump keeps user-defined streams (the shipped row comes back with
-- CREATE EXTENSION) and every stream's offsets, which belong with its rows.
SELECT pg_catalog.pg_extension_config_dump('datacontract.kafka_streams', $$WHERE name <> 'sensor-events'$$);
SELECT pg_catalog.pg_extension_config_dump('datacontract.kafka_offsets', '');

-- Live status of the running workers (empty without shared_preload_libraries).
CREATE FUNCTION datacontract.kafka_workers(OUT stream text, OUT pid integer, OUT state text,
		OUT last_error text, OUT last_error_at timestamptz, OUT started_at timestamptz,
		OUT batches bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'kafka_workers'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION datacontract.kafka_workers() IS
	'The running Kafka consumer workers and their state';

CREATE FUNCTION datacontract.kafka_partitions(OUT stream text, OUT "partition" integer,
		OUT committed_offset bigint, OUT high_watermark bigint, OUT messages bigint,
		OUT bytes bigint, OUT dead_letters bigint, OUT messages_per_second double precision,
		OUT bytes_per_second double precision)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'kafka_partitions'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION datacontract.kafka_partitions() IS
	'Per-partition counters of the running Kafka consumer workers (since each worker started)';

-- One row per stream and partition: committed offset, high watermark, lag,
-- throughput, dead letters, last error and state.
CREATE VIEW datacontract.kafka_stream_status AS
SELECT s.name AS stream,
	   s.topic,
	   p."partition",
	   coalesce(o.next_offset, k.committed_offset) AS committed_offset,
	   k.high_watermark,
	   CASE WHEN k.high_watermark >= 0
			THEN GREATEST(k.high_watermark - coalesce(o.next_offset, k.committed_offset, 0), 0)
	   END AS lag,
	   pg_catalog.round(k.messages_per_second::numeric, 1) AS messages_per_second,
	   pg_catalog.round(k.bytes_per_second::numeric, 0) AS bytes_per_second,
	   k.messages,
	   k.dead_letters,
	   w.last_error,
	   w.last_error_at,
	   CASE WHEN NOT s.enabled THEN 'disabled'
			WHEN s.paused THEN 'paused'
			WHEN coalesce(NULLIF(s.brokers, ''),
						  pg_catalog.current_setting('datacontract.kafka_brokers', true), '') = ''
				THEN 'no brokers configured'
			WHEN w.pid IS NULL THEN 'not running'
			ELSE w.state
	   END AS state,
	   w.pid
  FROM datacontract.kafka_streams s
  LEFT JOIN LATERAL (SELECT k2."partition" FROM datacontract.kafka_partitions() k2 WHERE k2.stream = s.name
					 UNION
					 SELECT o2."partition" FROM datacontract.kafka_offsets o2
					  WHERE o2.stream = s.name AND o2.topic = s.topic) p ON true
  LEFT JOIN datacontract.kafka_offsets o
		 ON o.stream = s.name AND o.topic = s.topic AND o."partition" = p."partition"
  LEFT JOIN datacontract.kafka_partitions() k
		 ON k.stream = s.name AND k."partition" = p."partition"
  LEFT JOIN datacontract.kafka_workers() w ON w.stream = s.name;
COMMENT ON VIEW datacontract.kafka_stream_status IS
	'Each Kafka stream and partition: committed offset, high watermark, lag, rates, dead letters, state';

-- Create a stream's sink tables when they do not exist: events (columns from
-- the reader schema, the Kafka position under a unique constraint, the
-- writer's schema id, event_time, and "extra" for fields without a column),
-- hourly aggregates and dead letters.  Runs as the caller; the tables are
-- ordinary tables that DROP EXTENSION leaves alone.
CREATE FUNCTION datacontract.kafka_create_sink_tables(stream text DEFAULT 'sensor-events')
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s datacontract.kafka_streams;
	sid integer;
	fields jsonb;
	f jsonb;
	t jsonb;
	nullable boolean;
	col text;
	cols text := '';
	ev regclass;
	fld text;
	aggcols text := '';
	tbl text;
BEGIN
	SELECT * INTO s FROM datacontract.kafka_streams k WHERE k.name = stream;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'Kafka stream "%" does not exist', stream USING ERRCODE = 'undefined_object';
	END IF;

	ev := to_regclass(s.events_table);
	IF ev IS NULL THEN
		SELECT sv.schema_id INTO sid
		  FROM datacontract.subject_versions sv
		 WHERE sv.subject = s.subject AND NOT sv.deleted
		   AND (s.reader_version = 'latest' OR sv.version = s.reader_version::integer)
		 ORDER BY sv.version DESC LIMIT 1;
		IF sid IS NULL THEN
			RAISE EXCEPTION 'subject "%" has no version "%" to derive table % from',
				s.subject, s.reader_version, s.events_table
				USING ERRCODE = 'D0401',
					  HINT = 'Register the reader schema first, or create the table yourself.';
		END IF;
		SELECT coalesce(sc.resolved, sc.schema)::jsonb -> 'fields' INTO fields
		  FROM datacontract.schemas sc WHERE sc.id = sid;
		FOR f IN SELECT * FROM jsonb_array_elements(coalesce(fields, '[]'))
		LOOP
			t := f -> 'type';
			nullable := false;
			-- a union with null: the other branch's type, nullable
			IF jsonb_typeof(t) = 'array' THEN
				nullable := t @> '["null"]';
				SELECT e INTO t FROM jsonb_array_elements(t) e WHERE e <> '"null"' LIMIT 1;
				IF jsonb_array_length(f -> 'type') - (CASE WHEN nullable THEN 1 ELSE 0 END) > 1 THEN
					t := '"__json"';
				END IF;
			END IF;
			IF jsonb_typeof(t) = 'object' AND t ? 'logicalType'
			   AND t ->> 'logicalType' IN ('timestamp-millis', 'timestamp-micros') THEN
				col := 'timestamptz';
			ELSIF jsonb_typeof(t) = 'object' AND t ->> 'type' = 'enum' THEN
				col := 'text';
			ELSE
				col := CASE coalesce(t ->> 'type', t #>> '{}')
						WHEN 'string' THEN 'text' WHEN 'long' THEN 'bigint' WHEN 'int' THEN 'integer'
						WHEN 'float' THEN 'real' WHEN 'double' THEN 'double precision'
						WHEN 'boolean' THEN 'boolean' WHEN 'bytes' THEN 'bytea' WHEN 'fixed' THEN 'bytea'
						ELSE 'jsonb' END;
			END IF;
			IF f ->> 'name' IN ('topic', 'partition', 'offset', 'schema_id', 'event_time', 'extra', 'ingested_at') THEN
				CONTINUE;
			END IF;
			cols := cols || format(', %I %s%s', f ->> 'name', col,
								   CASE WHEN nullable OR t = '"null"' THEN '' ELSE ' NOT NULL' END);
		END LOOP;
		EXECUTE format('CREATE TABLE IF NOT EXISTS %s (topic text NOT NULL, "partition" integer NOT NULL, '
					   '"offset" bigint NOT NULL, schema_id integer NOT NULL%s%s, extra jsonb, '
					   'ingested_at timestamptz NOT NULL DEFAULT now(), '
					   'UNIQUE (topic, "partition", "offset"))',
					   s.events_table, cols,
					   CASE WHEN s.time_field IS NOT NULL THEN ', event_time timestamptz' ELSE '' END);
		EXECUTE format('COMMENT ON TABLE %s IS %L', s.events_table,
					   format('Events of Kafka stream %s (topic %s), one row per message; '
							  '(topic, partition, offset) is unique: exactly once', s.name, s.topic));
		IF s.time_field IS NOT NULL THEN
			EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (event_time)',
						   split_part(s.events_table, '.', 2) || '_event_time_idx', s.events_table);
		END IF;
	END IF;

	IF s.aggregates_table IS NOT NULL AND s.group_field IS NOT NULL AND s.time_field IS NOT NULL
	   AND to_regclass(s.aggregates_table) IS NULL THEN
		FOREACH fld IN ARRAY s.aggregate_fields
		LOOP
			aggcols := aggcols || format(', %I double precision, %I double precision, %I double precision',
										 fld || '_sum', fld || '_min', fld || '_max');
		END LOOP;
		EXECUTE format('CREATE TABLE IF NOT EXISTS %s (%I text NOT NULL, hour timestamptz NOT NULL, '
					   'count bigint NOT NULL%s, updated_at timestamptz NOT NULL DEFAULT now(), '
					   'PRIMARY KEY (%I, hour))',
					   s.aggregates_table, s.group_field, aggcols, s.group_field);
		EXECUTE format('COMMENT ON TABLE %s IS %L', s.aggregates_table,
					   format('Hourly aggregates (UTC hours) of Kafka stream %s, upserted with each batch', s.name));
	END IF;

	tbl := s.dead_letters_table;
	IF to_regclass(tbl) IS NULL THEN
		EXECUTE format('CREATE TABLE IF NOT EXISTS %s (id bigserial PRIMARY KEY, stream text NOT NULL, '
					   'topic text NOT NULL, "partition" integer NOT NULL, "offset" bigint NOT NULL, '
					   'key bytea, value bytea, schema_id integer, error_code text NOT NULL, '
					   'sqlstate text, reason text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), '
					   'UNIQUE (topic, "partition", "offset"))', tbl);
		EXECUTE format('COMMENT ON TABLE %s IS %L', tbl,
					   'Kafka messages that could not be ingested: bytes, position and reason');
	END IF;
END
$$;
COMMENT ON FUNCTION datacontract.kafka_create_sink_tables(text) IS
	'Create a Kafka stream''s events, hourly aggregates and dead letters tables if they do not exist';

-- Operations.  The worker picks each change up within a second: the
-- launcher restarts it when its row changes.
CREATE FUNCTION datacontract._kafka_stream_update(stream text, paused boolean, restart boolean,
		reset_to text, reset_at timestamptz)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE datacontract.kafka_streams k
	   SET paused = coalesce(_kafka_stream_update.paused, k.paused),
		   generation = k.generation + CASE WHEN restart OR _kafka_stream_update.reset_to IS NOT NULL THEN 1 ELSE 0 END,
		   reset_to = coalesce(_kafka_stream_update.reset_to, k.reset_to),
		   reset_at = CASE WHEN _kafka_stream_update.reset_to IS NOT NULL THEN _kafka_stream_update.reset_at ELSE k.reset_at END
	 WHERE k.name = stream;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'Kafka stream "%" does not exist', stream USING ERRCODE = 'undefined_object';
	END IF;
END
$$;

CREATE FUNCTION datacontract.kafka_pause(stream text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$ SELECT datacontract._kafka_stream_update(stream, true, false, NULL, NULL) $$;
COMMENT ON FUNCTION datacontract.kafka_pause(text) IS 'Stop consuming a stream (its worker stops; offsets stay)';

CREATE FUNCTION datacontract.kafka_resume(stream text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$ SELECT datacontract._kafka_stream_update(stream, false, false, NULL, NULL) $$;
COMMENT ON FUNCTION datacontract.kafka_resume(text) IS 'Consume a paused stream again, from its committed offsets';

CREATE FUNCTION datacontract.kafka_restart(stream text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$ SELECT datacontract._kafka_stream_update(stream, NULL, true, NULL, NULL) $$;
COMMENT ON FUNCTION datacontract.kafka_restart(text) IS 'Restart a stream''s worker (it resumes from its committed offsets)';

-- Move a stream's committed offsets to the earliest or latest available
-- message, or to the first message at or after a time.  Messages already
-- ingested that come again are recognised by the unique constraint on their
-- position and skipped.
CREATE FUNCTION datacontract.kafka_reset_offsets(stream text, "to" text DEFAULT 'earliest',
		at timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF "to" IS NULL OR "to" NOT IN ('earliest', 'latest', 'timestamp') THEN
		RAISE EXCEPTION 'invalid offset reset target "%"', "to"
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use earliest, latest or timestamp (with at).';
	END IF;
	IF ("to" = 'timestamp') <> (at IS NOT NULL) THEN
		RAISE EXCEPTION 'a reset to a timestamp needs "at", and only it takes one'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM datacontract._kafka_stream_update(stream, NULL, true, "to", at);
END
$$;
COMMENT ON FUNCTION datacontract.kafka_reset_offsets(text, text, timestamptz) IS
	'Reset a stream''s offsets to earliest, latest or a timestamp (applied when its worker restarts)';

-- The sink path without a broker: ingest framed messages as if they had been
-- read from topic/partition at first_offset, first_offset + 1, ...  Rows,
-- aggregates, dead letters and offsets are written in the caller's
-- transaction.  For tests, benchmarks and replays of recorded batches.
CREATE FUNCTION datacontract._kafka_ingest(stream text, "partition" integer, first_offset bigint,
		messages bytea[], keys bytea[] DEFAULT NULL,
		OUT inserted bigint, OUT skipped bigint, OUT dead_letters bigint)
	RETURNS record
	AS 'MODULE_PATHNAME', 'kafka_ingest'
	LANGUAGE C VOLATILE;
-- datacontract install script, part 80: the CEL interpreter for data-quality
-- rules (src/rules_cel*.c).
--
-- An expression may have a guard, "guard ; body": the body runs only when
-- the guard is true (a guard error counts as false); otherwise the result
-- is NULL (the rule does not apply).  Compile errors raise 42601 with the
-- position; runtime errors raise a data exception (22xxx) with CEL's
-- message, or 54000 when the evaluation exceeds its step bound.

CREATE FUNCTION datacontract.cel_eval(expr text, message jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'cel_eval'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.cel_eval(text, jsonb) IS
	'Evaluate a CEL expression (optionally "guard ; expr") with the variable message; NULL when the guard is not true';

CREATE FUNCTION datacontract.cel_eval_vars(expr text, vars jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'cel_eval_vars'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.cel_eval_vars(text, jsonb) IS
	'Evaluate a CEL expression with the variables of a JSON object (name -> value), e.g. CEL_FIELD''s value, name, typeName, fullName, tags, message';

CREATE FUNCTION datacontract.cel_check(expr text) RETURNS text
	AS 'MODULE_PATHNAME', 'cel_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.cel_check(text) IS
	'NULL when a CEL expression (optionally "guard ; expr") compiles, else the error message with its position';
-- datacontract install script, part 81: the JSONata interpreter that runs
-- JSONATA rules (migration rules such as renaming a field) on the JSON form
-- of messages.  Evaluation is bounded by datacontract.jsonata_timeout (ms)
-- and datacontract.jsonata_max_depth (nesting of evaluations).

CREATE FUNCTION datacontract.jsonata_eval(expr text, input jsonb)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'jsonata_eval'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.jsonata_eval(text, jsonb) IS
	'Evaluate a JSONata expression on input (NULL input is undefined); NULL when the result is undefined';

CREATE FUNCTION datacontract.jsonata_check(expr text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'jsonata_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.jsonata_check(text) IS
	'NULL when expr is a valid JSONata expression, else the syntax error with its position';
-- datacontract install script, part 85: running a contract's rules in the
-- database (src/rules_exec.c).  avro_encode runs the WRITE rules of the
-- version it encodes with; avro_decode and avro_populate_record run the
-- migrations between the writer's and the reader's versions and the READ
-- rules.  A failing rule whose action is ERROR or DLQ raises
-- "Rule failed: <name>" (SQLSTATE 23514) with the reason in the detail.

CREATE FUNCTION datacontract.run_rules(subject text, value jsonb, mode text DEFAULT 'WRITE',
									   version integer DEFAULT NULL)
RETURNS TABLE("position" integer, rule text, kind text, type text, mode text,
			  outcome text, action text, result jsonb, reason text)
	AS 'MODULE_PATHNAME', 'run_rules'
	LANGUAGE C STABLE CALLED ON NULL INPUT ROWS 10;
COMMENT ON FUNCTION datacontract.run_rules(text, jsonb, text, integer) IS
	'Run the rules of a subject version (default: latest) for a mode (WRITE, READ, UPGRADE, DOWNGRADE) on a value and report each rule''s outcome (passed, failed, skipped, not applicable), action, result and reason; never raises for rule failures';

CREATE FUNCTION datacontract.migrate(subject text, value jsonb, from_version integer,
									 to_version integer)
RETURNS jsonb
	AS 'MODULE_PATHNAME', 'rules_migrate'
	LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION datacontract.migrate(text, jsonb, integer, integer) IS
	'A value of one version of a subject migrated to another: UPGRADE runs the migration rules of versions from+1..to ascending, DOWNGRADE those of from..to+1 descending';

-- Registration (_validate_rule_set) checks rule expressions with this: NULL
-- when the expression of a CEL, CEL_FIELD or JSONATA rule compiles, else
-- the compiler's message with its position.
CREATE FUNCTION datacontract._rule_expr_error(type text, expr text, allow_guard boolean)
RETURNS text
	AS 'MODULE_PATHNAME', 'rule_expr_error'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- datacontract install script, part 90: who may do what.  Must come last.
--
-- datacontract_reader: read the registry and use the pure schema functions.
-- datacontract_writer: also register and soft-delete.
-- datacontract_admin:  everything, including config, modes and permanent deletes.
-- Nobody but the extension owner writes the catalog tables directly: writes go
-- through SECURITY DEFINER functions with a fixed search_path.

REVOKE ALL ON ALL TABLES IN SCHEMA datacontract FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA datacontract FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA datacontract FROM PUBLIC;

GRANT USAGE ON SCHEMA datacontract TO datacontract_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA datacontract TO datacontract_reader;

-- Read functions and pure functions: readers (and so writers and admins).
DO $grants$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace = 'datacontract'::regnamespace
		   AND p.proname NOT LIKE '\_%'
		   AND p.proname NOT IN ('register', 'register_schema', 'modify_schema_tags',
								 'delete_subject', 'delete_version',
								 'set_config', 'set_compatibility', 'delete_config',
								 'set_mode', 'delete_mode',
								 'kafka_pause', 'kafka_resume', 'kafka_restart',
								 'kafka_reset_offsets', 'kafka_create_sink_tables')
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO datacontract_reader', f);
	END LOOP;
END
$grants$;

-- Internal helpers are called from the SECURITY DEFINER functions, which run
-- as the owner; SQL-language wrappers run as the caller and need them too.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA datacontract TO datacontract_admin;

GRANT EXECUTE ON FUNCTION datacontract.register(text, text, text, jsonb, jsonb, jsonb, boolean),
	datacontract.register_schema(text, jsonb, boolean),
	datacontract.modify_schema_tags(text, text, jsonb),
	datacontract.delete_subject(text, boolean),
	datacontract.delete_version(text, text, boolean),
	datacontract._soft_delete_subject(text),
	datacontract._soft_delete_version(text, text),
	datacontract._require_admin_for(boolean)
	TO datacontract_writer;
