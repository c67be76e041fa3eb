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
