-- Upgrade from the released 0.1: the registry's data survives, and the
-- upgraded extension is object for object the one a fresh install makes.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
DROP TABLE IF EXISTS public.sensor_events, public.hourly_aggregates, public.dead_letters;
CREATE EXTENSION datacontract VERSION '0.1';
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'datacontract';

-- a registry with some history, and a stream's sink tables made by 0.1
SELECT datacontract.register('sensor-events-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[
 {"name":"device_id","type":"string"},{"name":"timestamp","type":"long"},
 {"name":"temperature","type":"float"},{"name":"humidity","type":"float"}]}') AS v1_id;
SELECT datacontract.register('sensor-events-value', '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[
 {"name":"device_id","type":"string"},{"name":"timestamp","type":"long"},
 {"name":"temperature","type":"float"},{"name":"humidity","type":"float"},
 {"name":"battery_level","type":["null","float"],"default":null}]}') AS v2_id;
SELECT datacontract.register('other', '{"type":"string"}') AS other_id;
SELECT datacontract.delete_version('other', '1') AS soft_deleted;
SELECT datacontract.set_compatibility('sensor-events-value', 'FULL');
SELECT datacontract.kafka_create_sink_tables();
SELECT c.relname, c.reloptions FROM pg_class c WHERE c.oid = 'public.hourly_aggregates'::regclass;

-- the upgrade leaves users' tables alone
ALTER EXTENSION datacontract UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'datacontract';
SELECT c.relname, c.reloptions FROM pg_class c WHERE c.oid = 'public.hourly_aggregates'::regclass;

-- the data is all there, and ids go on after it
SELECT subject, version, schema_id, deleted FROM datacontract.subject_versions ORDER BY subject, version;
SELECT datacontract.get_config('sensor-events-value');
SELECT datacontract.get_schema(2) = (SELECT schema FROM datacontract.schemas WHERE id = 2) AS same_schema;
SELECT datacontract.register('other', '{"type":"int"}') AS next_id;

-- the new sink tables' layout
DROP TABLE public.hourly_aggregates;
SELECT datacontract.kafka_create_sink_tables();
SELECT c.relname, c.reloptions FROM pg_class c WHERE c.oid = 'public.hourly_aggregates'::regclass;

-- Every member of the extension, with what defines it: functions (body,
-- security, settings, privileges), tables (columns, defaults, constraints,
-- indexes, options, privileges), views, sequences, types, comments, and the
-- tables pg_dump saves.
CREATE FUNCTION pg_temp.extension_objects() RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
SELECT pg_describe_object(d.classid, d.objid, 0),
	   concat_ws(E'\n',
		 CASE WHEN d.classid = 'pg_proc'::regclass THEN
			(SELECT concat_ws(' ', CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END,
							  p.prokind, p.proacl::text)
			   FROM pg_proc p WHERE p.oid = d.objid)
		 WHEN d.classid = 'pg_class'::regclass THEN
			(SELECT concat_ws(E'\n', c.relkind, c.reloptions::text, c.relacl::text,
				 CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
				 (SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
											  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
											  a.attacl::text, col_description(c.oid, a.attnum)),
									', ' ORDER BY a.attnum)
					FROM pg_attribute a
					LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
				   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
				 (SELECT string_agg(co.conname || ' ' || pg_get_constraintdef(co.oid), ', ' ORDER BY co.conname)
					FROM pg_constraint co WHERE co.conrelid = c.oid),
				 (SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
					FROM pg_index i WHERE i.indrelid = c.oid),
				 (SELECT string_agg(pg_get_triggerdef(t.oid), ', ' ORDER BY 1)
					FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
				 (SELECT concat_ws(' ', s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin,
								   s.seqcache, s.seqcycle)
					FROM pg_sequence s WHERE s.seqrelid = c.oid))
			   FROM pg_class c WHERE c.oid = d.objid)
		 WHEN d.classid = 'pg_type'::regclass THEN
			(SELECT concat_ws(' ', t.typtype, format_type(t.typbasetype, t.typtypmod), t.typacl::text,
							  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
								 FROM pg_enum e WHERE e.enumtypid = t.oid))
			   FROM pg_type t WHERE t.oid = d.objid)
		 END,
		 obj_description(d.objid, d.classid::regclass::name))
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'datacontract')
UNION ALL
SELECT 'saved by pg_dump', string_agg(c::regclass::text || ' ' || coalesce(w, ''), ', ' ORDER BY c::regclass::text)
  FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS u(c, w)
 WHERE x.extname = 'datacontract'
UNION ALL
SELECT 'extension', obj_description(oid, 'pg_extension') FROM pg_extension WHERE extname = 'datacontract'
$$;
CREATE TEMP TABLE upgraded AS SELECT * FROM pg_temp.extension_objects();

SET client_min_messages = warning;
DROP EXTENSION datacontract;
CREATE EXTENSION datacontract;
RESET client_min_messages;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.extension_objects();

-- what is compared
SELECT split_part(object, ' ', 1) AS kind, count(*), count(definition) AS defined
  FROM fresh GROUP BY 1 ORDER BY 1;
-- no differences
(SELECT 'only after the upgrade' AS side, * FROM upgraded EXCEPT SELECT 'only after the upgrade', * FROM fresh)
UNION ALL
(SELECT 'only in a fresh install', * FROM fresh EXCEPT SELECT 'only in a fresh install', * FROM upgraded)
ORDER BY 2, 1;

DROP TABLE public.sensor_events, public.hourly_aggregates, public.dead_letters;
