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
