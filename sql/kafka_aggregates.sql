-- Hourly aggregates of the Kafka sink: written in C for tables like the ones
-- kafka_create_sink_tables makes, through SQL otherwise; the same results
-- either way, nulls, late events, a concurrent writer and constraints included.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS datacontract CASCADE;
CREATE EXTENSION datacontract;
DROP EXTENSION IF EXISTS dblink;
CREATE EXTENSION dblink;
RESET client_min_messages;

SELECT datacontract.register('agg-value', '{"type":"record","name":"Reading","fields":[
 {"name":"device_id","type":"string"},{"name":"timestamp","type":"long"},
 {"name":"temperature","type":"float"},{"name":"battery","type":["null","float"],"default":null}]}') AS id;
-- three streams of the same messages: a table as made, one with a trigger,
-- one with a column of its own
INSERT INTO datacontract.kafka_streams (name, topic, subject, events_table, aggregates_table,
		dead_letters_table, aggregate_fields)
SELECT 'agg-' || t, 'agg-' || t, 'agg-value', format('public.agg_%s_events', t), format('public.agg_%s_hourly', t),
	   format('public.agg_%s_dead', t), '{temperature,battery}'
  FROM unnest(ARRAY['made', 'trig', 'extra']) t;
SELECT datacontract.kafka_create_sink_tables('agg-' || t) FROM unnest(ARRAY['made', 'trig', 'extra']) t;
SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'agg\_%\_hourly' ORDER BY 1;

CREATE TABLE public.agg_trig_fired (op text, device_id text, hour timestamptz);
CREATE FUNCTION public.agg_trig_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.agg_trig_fired VALUES (TG_OP, NEW.device_id, NEW.hour);
	RETURN NEW;
END $$;
CREATE TRIGGER note BEFORE INSERT OR UPDATE ON public.agg_trig_hourly
	FOR EACH ROW EXECUTE FUNCTION public.agg_trig_note();
ALTER TABLE public.agg_extra_hourly ADD COLUMN note text DEFAULT 'made through SQL';

-- messages i in [first, first + n): 7 devices, a minute apart, battery
-- null in a third of them and always for d6; values exact in binary
CREATE FUNCTION pg_temp.messages(first integer, n integer) RETURNS bytea[] LANGUAGE sql AS $$
SELECT array_agg(datacontract.avro_encode('agg-value',
		 jsonb_build_object('device_id', 'd' || (i % 7), 'timestamp', 1700000000000::bigint + i * 60000::bigint,
							'temperature', (i % 40) / 4.0,
							'battery', CASE WHEN i % 3 = 0 OR i % 7 = 6 THEN NULL ELSE (i % 10) * 0.5 END))
		 ORDER BY i)
  FROM generate_series(first, first + n - 1) i
$$;
-- five batches, the last of them late (events of the first hours again)
SELECT t, sum(r.inserted) AS inserted
  FROM unnest(ARRAY['made', 'trig', 'extra']) t,
	   LATERAL (SELECT * FROM generate_series(0, 3) b,
					LATERAL datacontract._kafka_ingest('agg-' || t, 0, b * 40, pg_temp.messages(b * 40, 40))
				UNION ALL
				SELECT 4, * FROM datacontract._kafka_ingest('agg-' || t, 0, 160, pg_temp.messages(3, 20))) r
 GROUP BY t ORDER BY t;

-- each aggregates table equals the aggregates recomputed from its events
CREATE FUNCTION pg_temp.differences(t text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			SELECT device_id, date_trunc('hour', event_time, 'UTC') AS hour, count(*) AS count,
				   sum(temperature::float8) AS ts, min(temperature::float8) AS tmin, max(temperature::float8) AS tmax,
				   sum(battery::float8) AS bs, min(battery::float8) AS bmin, max(battery::float8) AS bmax
			  FROM public.agg_%1$s_events GROUP BY 1, 2) r
		FULL JOIN public.agg_%1$s_hourly a USING (device_id, hour)
		WHERE (r.count, r.ts, r.tmin, r.tmax, r.bs, r.bmin, r.bmax) IS DISTINCT FROM
			  (a.count, a.temperature_sum, a.temperature_min, a.temperature_max, a.battery_sum, a.battery_min, a.battery_max)$q$, t)
	INTO n;
	RETURN n;
END $$;
SELECT t, pg_temp.differences(t) AS differences FROM unnest(ARRAY['made', 'trig', 'extra']) t;
-- d0's count in an hour of table t minus the events it counts: what another
-- writer added to the row
CREATE FUNCTION pg_temp.added_by_others(t text, h timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
		SELECT a.count - (SELECT count(*) FROM public.agg_%1$s_events
						   WHERE device_id = 'd0' AND date_trunc('hour', event_time, 'UTC') = $1)
		  FROM public.agg_%1$s_hourly a WHERE a.device_id = 'd0' AND a.hour = $1$q$, t)
	INTO n USING h;
	RETURN n;
END $$;
SELECT count(*) AS hourly_rows, sum(count) AS events, count(*) FILTER (WHERE battery_sum IS NULL) AS no_battery
  FROM public.agg_made_hourly;
-- the same rows in all three
SELECT count(*) AS rows_not_in_all_three FROM (
	(SELECT device_id, hour, count, temperature_sum, battery_sum FROM public.agg_made_hourly
	 EXCEPT SELECT device_id, hour, count, temperature_sum, battery_sum FROM public.agg_trig_hourly)
	UNION ALL
	(SELECT device_id, hour, count, temperature_sum, battery_sum FROM public.agg_made_hourly
	 EXCEPT SELECT device_id, hour, count, temperature_sum, battery_sum FROM public.agg_extra_hourly)) x;
-- the trigger saw every write (rows went through SQL), the extra column got
-- its default on every new row
SELECT op, count(*) FROM public.agg_trig_fired GROUP BY op ORDER BY op;
SELECT (SELECT count(*) FROM public.agg_trig_hourly) AS rows,
	   (SELECT count(DISTINCT (device_id, hour)) FROM public.agg_trig_fired WHERE op = 'INSERT') AS inserted_by_sql;
SELECT note, count(*) FROM public.agg_extra_hourly GROUP BY note;

-- How many sessions running a query like pattern wait for another
-- transaction; waits up to 10 s for one.
CREATE FUNCTION pg_temp.sessions_waiting_for_a_transaction(pattern text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	FOR i IN 1..1000 LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT count(*) INTO n FROM pg_stat_activity
		 WHERE wait_event = 'transactionid' AND query LIKE pattern AND pid <> pg_backend_pid();
		EXIT WHEN n > 0;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN n;
END $$;

-- a concurrent writer: the sink's update waits for it, then adds to the row
-- it left instead of overwriting it
SELECT dblink_connect('other', format('dbname=%s host=%s port=%s', current_database(),
	   split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')));
BEGIN;
UPDATE public.agg_made_hourly SET count = count + 1000 WHERE device_id = 'd0' AND hour = '2023-11-14 22:00+00';
SELECT dblink_send_query('other', format(
	'SELECT inserted FROM datacontract._kafka_ingest(%L, 0, 500, %L::bytea[])', 'agg-made', pg_temp.messages(0, 7)));
SELECT pg_temp.sessions_waiting_for_a_transaction('%_kafka_ingest%') AS ingest_waiting;
COMMIT;
SELECT * FROM dblink_get_result('other') AS r(inserted bigint);
SELECT dblink_disconnect('other');
SELECT pg_temp.added_by_others('made', '2023-11-14 22:00+00') AS added_by_the_other_writer;
UPDATE public.agg_made_hourly SET count = count - 1000 WHERE device_id = 'd0' AND hour = '2023-11-14 22:00+00';
SELECT pg_temp.differences('made') AS differences;

-- a constraint on the aggregates holds for rows written in C, new or updated;
-- the batch fails as a whole (the worker retries it)
ALTER TABLE public.agg_made_hourly ADD CONSTRAINT sane CHECK (temperature_max < 1000);
\set VERBOSITY terse
SELECT inserted FROM datacontract._kafka_ingest('agg-made', 0, 600, ARRAY[
	datacontract.avro_encode('agg-value', '{"device_id":"d0","timestamp":1700000000000,"temperature":5000}')]);
SELECT inserted FROM datacontract._kafka_ingest('agg-made', 0, 600, ARRAY[
	datacontract.avro_encode('agg-value', '{"device_id":"new","timestamp":1700000000000,"temperature":5000}')]);
\set VERBOSITY default
SELECT count(*) AS rows_of_the_failed_batches FROM public.agg_made_events WHERE "offset" >= 600;
SELECT pg_temp.differences('made') AS differences;

-- A sink kept open across batches, as the worker keeps it, finds the rows
-- where its previous batch left them; a position gone stale (the row updated
-- by someone else since) falls back to the index, and a writer still in
-- progress on a remembered row makes the sink wait and add to its version.
CREATE FUNCTION public.kafka_sink_replay(stream text, query text, batch_size integer DEFAULT 10000,
		OUT batches integer, OUT inserted bigint, OUT dead_letters bigint, OUT sink_ms float8,
		OUT sink_cpu_ms float8, OUT agg_rows bigint, OUT agg_direct bigint, OUT agg_ms float8,
		OUT agg_remembered bigint)
	RETURNS record AS '$libdir/datacontract', 'kafka_sink_replay' LANGUAGE C VOLATILE;
INSERT INTO datacontract.kafka_streams (name, topic, subject, events_table, aggregates_table,
		dead_letters_table, aggregate_fields)
	VALUES ('agg-kept', 'agg-kept', 'agg-value', 'public.agg_kept_events', 'public.agg_kept_hourly',
			'public.agg_kept_dead', '{temperature,battery}');
SELECT datacontract.kafka_create_sink_tables('agg-kept');
-- the last 21 messages of the first 180 three times more, at new positions
CREATE TABLE public.agg_recorded AS
SELECT 0 AS "partition", o AS "offset", NULL::bytea AS key, m AS value
  FROM unnest(pg_temp.messages(0, 180) || pg_temp.messages(159, 21) || pg_temp.messages(159, 21) ||
			  pg_temp.messages(159, 21)) WITH ORDINALITY u(m, o);
SELECT batches, inserted, agg_rows, agg_direct, agg_remembered
  FROM public.kafka_sink_replay('agg-kept', 'SELECT * FROM public.agg_recorded WHERE "offset" <= 180 ORDER BY "offset"', 30);
SELECT pg_temp.differences('kept') AS differences;
-- committed by someone else in between: d0's position is stale
UPDATE public.agg_kept_hourly SET count = count + 1000 WHERE device_id = 'd0' AND hour = '2023-11-15 01:00+00';
SELECT batches, inserted, agg_rows, agg_direct, agg_remembered
  FROM public.kafka_sink_replay('agg-kept', 'SELECT * FROM public.agg_recorded WHERE "offset" BETWEEN 181 AND 201 ORDER BY "offset"', 30);
SELECT pg_temp.added_by_others('kept', '2023-11-15 01:00+00') AS added_by_the_other_writer;
UPDATE public.agg_kept_hourly SET count = count - 1000 WHERE device_id = 'd0' AND hour = '2023-11-15 01:00+00';
SELECT pg_temp.differences('kept') AS differences;
-- in progress while the sink, in another session, writes the same rows
SELECT dblink_connect('other', format('dbname=%s host=%s port=%s', current_database(),
	   split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')));
SELECT * FROM dblink('other', $$SELECT agg_rows, agg_remembered FROM public.kafka_sink_replay('agg-kept',
	'SELECT * FROM public.agg_recorded WHERE "offset" BETWEEN 202 AND 222 ORDER BY "offset"', 30)$$)
	AS r(agg_rows bigint, remembered bigint);
BEGIN;
UPDATE public.agg_kept_hourly SET count = count + 1000 WHERE device_id = 'd0' AND hour = '2023-11-15 01:00+00';
SELECT dblink_send_query('other', $$SELECT agg_rows, agg_remembered FROM public.kafka_sink_replay('agg-kept',
	'SELECT * FROM public.agg_recorded WHERE "offset" BETWEEN 223 AND 243 ORDER BY "offset"', 30)$$);
SELECT pg_temp.sessions_waiting_for_a_transaction('%kafka_sink_replay%') AS sink_waiting;
COMMIT;
SELECT * FROM dblink_get_result('other') AS r(agg_rows bigint, remembered bigint);
SELECT dblink_disconnect('other');
SELECT pg_temp.added_by_others('kept', '2023-11-15 01:00+00') AS added_by_the_other_writer;
UPDATE public.agg_kept_hourly SET count = count - 1000 WHERE device_id = 'd0' AND hour = '2023-11-15 01:00+00';
SELECT pg_temp.differences('kept') AS differences;
SELECT count(*) AS events, count(DISTINCT "offset") AS positions FROM public.agg_kept_events;

-- The kept sink follows its subject's latest version and its table's columns,
-- as the worker's does: a new field goes to extra until a column of its name
-- is added.
SELECT datacontract.register('agg-value', '{"type":"record","name":"Reading","fields":[
 {"name":"device_id","type":"string"},{"name":"timestamp","type":"long"},
 {"name":"temperature","type":"float"},{"name":"battery","type":["null","float"],"default":null},
 {"name":"firmware","type":"string","default":"unknown"}]}') AS v2_id;
CREATE FUNCTION pg_temp.v2_messages(first integer, firmware text) RETURNS SETOF record LANGUAGE sql AS $$
SELECT 0, first + i, NULL::bytea, datacontract.avro_encode('agg-value',
		 jsonb_build_object('device_id', 'd' || i, 'timestamp', 1700000000000::bigint + i * 60000::bigint,
							'temperature', 10, 'firmware', firmware), 2)
  FROM generate_series(0, 2) i
$$;
INSERT INTO public.agg_recorded SELECT * FROM pg_temp.v2_messages(1001, '2.0') AS (p int, o bigint, k bytea, v bytea);
SELECT batches, inserted FROM public.kafka_sink_replay('agg-kept',
	'SELECT * FROM public.agg_recorded WHERE "offset" BETWEEN 1001 AND 1003 ORDER BY "offset"', 30);
ALTER TABLE public.agg_kept_events ADD COLUMN firmware text;
-- and a v1 message, read through the new reader, gets the field's default
INSERT INTO public.agg_recorded SELECT * FROM pg_temp.v2_messages(1004, '2.1') AS (p int, o bigint, k bytea, v bytea)
UNION ALL SELECT 0, 1007, NULL, datacontract.avro_encode('agg-value',
	'{"device_id":"d3","timestamp":1700000000000,"temperature":10}', 1);
SELECT batches, inserted FROM public.kafka_sink_replay('agg-kept',
	'SELECT * FROM public.agg_recorded WHERE "offset" BETWEEN 1004 AND 1007 ORDER BY "offset"', 30);
SELECT "offset", schema_id, device_id, firmware, extra FROM public.agg_kept_events WHERE "offset" > 1000 ORDER BY 1;
SELECT pg_temp.differences('kept') AS differences;

-- the sink writes the aggregates with the caller's rights: without UPDATE on
-- the table, neither path writes them
CREATE ROLE agg_limited;
GRANT datacontract_admin TO agg_limited;
GRANT SELECT, INSERT ON public.agg_made_events, public.agg_made_dead TO agg_limited;
GRANT SELECT, INSERT ON public.agg_made_hourly TO agg_limited;
SET ROLE agg_limited;
\set VERBOSITY terse
SELECT inserted FROM datacontract._kafka_ingest('agg-made', 0, 700, pg_temp.messages(0, 3));
\set VERBOSITY default
RESET ROLE;
SELECT count(*) AS rows_of_the_refused_batch FROM public.agg_made_events WHERE "offset" >= 700;

SET client_min_messages = warning;
DROP OWNED BY agg_limited;
DROP ROLE agg_limited;
DROP FUNCTION public.kafka_sink_replay(text, text, integer);
DROP TABLE public.agg_kept_events, public.agg_kept_hourly, public.agg_kept_dead, public.agg_recorded;
DROP TABLE public.agg_made_events, public.agg_made_hourly, public.agg_made_dead,
	public.agg_trig_events, public.agg_trig_hourly, public.agg_trig_dead, public.agg_trig_fired,
	public.agg_extra_events, public.agg_extra_hourly, public.agg_extra_dead;
DROP FUNCTION public.agg_trig_note();
DROP EXTENSION dblink;
DELETE FROM datacontract.kafka_streams WHERE name LIKE 'agg-%';
RESET client_min_messages;
