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
