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
