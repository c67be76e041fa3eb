-- datacontract 0.1 -> 0.2
\echo Use "ALTER EXTENSION datacontract UPDATE TO '0.2'" to load this file. \quit

-- kafka_create_sink_tables makes hourly aggregates tables WITH (fillfactor =
-- 50): every batch updates the rows of its hours, and half-empty pages keep
-- those updates HOT.  CREATE OR REPLACE keeps the function's privileges and
-- comment.  Aggregates tables that 0.1 made are users' tables: the upgrade
-- leaves them alone, and the Kafka worker logs how to change their layout.
CREATE OR REPLACE FUNCTION datacontract.kafka_create_sink_tables(stream text DEFAULT 'sensor-events')
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
		-- every batch updates the rows of its hours: half-empty pages keep
		-- those updates HOT (no new index entries, old versions pruned)
		EXECUTE format('CREATE TABLE IF NOT EXISTS %s (%I text NOT NULL, hour timestamptz NOT NULL, '
					   'count bigint NOT NULL%s, updated_at timestamptz NOT NULL DEFAULT now(), '
					   'PRIMARY KEY (%I, hour)) WITH (fillfactor = 50)',
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

