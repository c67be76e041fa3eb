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
