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
