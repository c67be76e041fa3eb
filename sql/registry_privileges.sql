-- Roles: reader reads, writer also registers and soft-deletes, admin does
-- everything; nobody writes the catalog directly; no superuser at run time.
-- a fresh registry: ids and versions below do not depend on other tests
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE q INTO r;
	RETURN coalesce(r, 'ok');
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

CREATE ROLE dc_test_reader LOGIN IN ROLE datacontract_reader;
CREATE ROLE dc_test_writer LOGIN IN ROLE datacontract_writer;
CREATE ROLE dc_test_admin LOGIN IN ROLE datacontract_admin;
CREATE ROLE dc_test_nobody LOGIN;

SELECT datacontract.register('priv-value', '"string"') IS NOT NULL AS registered;
SELECT datacontract.set_compatibility('priv-value', 'NONE');

-- nobody: no access at all
SET ROLE dc_test_nobody;
SELECT pg_temp.try($$SELECT datacontract.get_schema(1)$$);
SELECT pg_temp.try($$SELECT count(*) FROM datacontract.schemas$$);
RESET ROLE;

-- reader: reads, cannot write
SET ROLE dc_test_reader;
SELECT pg_temp.try($$SELECT datacontract.get_version('priv-value', '1') ->> 'version'$$) AS read_version;
SELECT pg_temp.try($$SELECT count(*) FROM datacontract.subject_versions WHERE subject = 'priv-value'$$) AS read_table;
SELECT pg_temp.try($$SELECT datacontract.get_config()::text$$) AS read_config;
SELECT pg_temp.try($$SELECT datacontract.avro_canonical('{"type":"int"}')$$) AS pure_function;
SELECT pg_temp.try($$SELECT datacontract.register('priv-value', '"int"')$$) AS register;
SELECT pg_temp.try($$SELECT datacontract.delete_version('priv-value', '1')$$) AS soft_delete;
SELECT pg_temp.try($$SELECT datacontract.set_compatibility(NULL, 'NONE')::text$$) AS set_config;
SELECT pg_temp.try($$DELETE FROM datacontract.subject_versions$$) AS direct_write;
RESET ROLE;

-- writer: registers and soft-deletes; no config, modes or permanent deletes
SET ROLE dc_test_writer;
SELECT pg_temp.try($$SELECT datacontract.register('priv-value', '{"type":"record","name":"R","fields":[]}') > 0$$) AS register;
SELECT pg_temp.try($$SELECT datacontract.register('priv-other', '"long"') > 0$$) AS register_other;
SELECT pg_temp.try($$SELECT datacontract.delete_version('priv-value', '2')$$) AS soft_delete;
SELECT pg_temp.try($$SELECT datacontract.delete_version('priv-value', '2', true)$$) AS permanent_delete;
SELECT pg_temp.try($$SELECT datacontract._delete_version('priv-value', '2', true)$$) AS permanent_delete_internal;
SELECT pg_temp.try($$SELECT datacontract._delete_subject('priv-value', true)$$) AS permanent_delete_internal;
SELECT pg_temp.try($$SELECT datacontract.set_compatibility('priv-value', 'NONE')::text$$) AS set_config;
SELECT pg_temp.try($$SELECT datacontract.set_mode('priv-value', 'READONLY')$$) AS set_mode;
SELECT pg_temp.try($$INSERT INTO datacontract.config (subject, config) VALUES ('x', '{}')$$) AS direct_write;
SELECT pg_temp.try($$SELECT nextval('datacontract.schema_id_seq')$$) AS burn_id;
RESET ROLE;

-- admin: everything
SET ROLE dc_test_admin;
SELECT pg_temp.try($$SELECT datacontract.set_compatibility('priv-value', 'FULL')::text$$) AS set_config;
SELECT pg_temp.try($$SELECT datacontract.set_mode('priv-value', 'READWRITE')$$) AS set_mode;
SELECT pg_temp.try($$SELECT datacontract.delete_version('priv-value', '2', true)$$) AS permanent_delete;
SELECT pg_temp.try($$SELECT datacontract.delete_subject('priv-other')::text$$) AS soft_delete_subject;
SELECT pg_temp.try($$SELECT datacontract.delete_subject('priv-other', true)::text$$) AS permanent_delete_subject;
SELECT pg_temp.try($$SELECT datacontract.delete_mode('priv-value')$$) AS delete_mode;
SELECT pg_temp.try($$SELECT datacontract.delete_config('priv-value')::text$$) AS delete_config;
SELECT pg_temp.try($$UPDATE datacontract.schemas SET schema = 'x'$$) AS direct_write;
RESET ROLE;

SELECT subject, version, deleted FROM datacontract.subject_versions
 WHERE subject LIKE 'priv-%' ORDER BY 1, 2;

-- writing functions run with a fixed search_path
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'datacontract'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);

DROP OWNED BY dc_test_reader, dc_test_writer, dc_test_admin, dc_test_nobody;
DROP ROLE dc_test_reader, dc_test_writer, dc_test_admin, dc_test_nobody;
