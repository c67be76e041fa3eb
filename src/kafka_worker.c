/*-------------------------------------------------------------------------
 *
 * kafka_worker.c
 *	  Kafka ingestion: the consumer worker of one stream.
 *
 * The worker assigns itself the stream's partitions at the offsets stored
 * in datacontract.kafka_offsets (rd_kafka_assign with explicit offsets; no
 * consumer group offsets), gathers a batch (up to batch_size messages or
 * batch_time after the first), and hands it to the sink, which writes rows,
 * aggregates, dead letters and next offsets in one transaction.  A batch the
 * database fails to write is retried with growing delays; the messages stay
 * in memory until their transaction commits, so after any crash the next
 * worker starts from the last committed batch.  The worker waits on
 * librdkafka's queue (through a pipe librdkafka writes to when messages
 * arrive) and its latch together.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "datacontract.h"
#include "kafka.h"

static KafkaSlot *MySlot = NULL;
static KafkaStream *Stream = NULL;
static KafkaSink *Sink = NULL;
static MemoryContext SinkContext = NULL;	/* the sink's memory */
static MemoryContext WorkerContext = NULL;
static rd_kafka_t *Rk = NULL;
static rd_kafka_queue_t *Queue = NULL;
static int	WakePipe[2] = {-1, -1};
static char LastLoggedError[256];

static void worker_on_exit(int code, Datum arg);
static void worker_state(const char *fmt,...) pg_attribute_printf(1, 2);
static void worker_error(bool log, const char *fmt,...) pg_attribute_printf(2, 3);
static void worker_sleep(long ms);
static rd_kafka_t *worker_connect(void);
static int	worker_partitions(int32 *parts);
static void worker_apply_reset(int32 *parts, int nparts);
static void worker_assign(int32 *parts, int nparts);
static void worker_loop(void);
static void worker_write_batch(rd_kafka_message_t **msgs, int n);
static void worker_stats(rd_kafka_message_t **msgs, int n, const uint8 *status);
static void worker_publish_rates(TimestampTz now, TimestampTz *last);

#define BEGIN_TXN() \
	do { \
		SetCurrentStatementStartTimestamp(); \
		StartTransactionCommand(); \
		SPI_connect(); \
		PushActiveSnapshot(GetTransactionSnapshot()); \
	} while (0)

#define END_TXN() \
	do { \
		PopActiveSnapshot(); \
		SPI_finish(); \
		CommitTransactionCommand(); \
		MemoryContextSwitchTo(WorkerContext); \
	} while (0)

/* Entry point of a consumer worker; bgw_extra names its stream. */
void
KafkaWorkerMain(Datum main_arg)
{
	char		name[KAFKA_NAME_LEN];
	int32	   *parts;
	int			nparts;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	strlcpy(name, MyBgworkerEntry->bgw_extra, sizeof(name));
	MySlot = KafkaGetSlot(DatumGetInt32(main_arg));
	SpinLockAcquire(&MySlot->mutex);
	MySlot->pid = MyProcPid;
	MySlot->started_at = GetCurrentTimestamp();
	MySlot->batches = 0;
	MySlot->npartitions = 0;
	SpinLockRelease(&MySlot->mutex);
	before_shmem_exit(worker_on_exit, (Datum) 0);

	BackgroundWorkerInitializeConnection(datacontract_database, NULL, 0);
	pgstat_report_appname("datacontract kafka worker");
	WorkerContext = AllocSetContextCreate(TopMemoryContext, "datacontract kafka worker",
										  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(WorkerContext);

	/*
	 * The stream and its sink; retried while e.g. the subject is missing.
	 * (No continue or break inside PG_TRY/PG_CATCH: they expand inside a
	 * do-while of their own, so a flag says how it went.)
	 */
	for (;;)
	{
		MemoryContext cxt = AllocSetContextCreate(WorkerContext, "kafka stream", ALLOCSET_DEFAULT_SIZES);
		volatile bool opened = false;

		SinkContext = AllocSetContextCreate(cxt, "kafka sink", ALLOCSET_DEFAULT_SIZES);
		PG_TRY();
		{
			BEGIN_TXN();
			Stream = KafkaLoadStream(name, false, cxt);
			Sink = KafkaSinkOpen(Stream, SinkContext);
			END_TXN();
			opened = true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(WorkerContext);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(WorkerContext);
			MemoryContextDelete(cxt);
			Stream = NULL;
			Sink = NULL;
			worker_error(true, "stream \"%s\" cannot start: %s", name, edata->message);
			worker_state("waiting: %s", edata->message);
			FreeErrorData(edata);
		}
		PG_END_TRY();
		if (opened)
			break;
		worker_sleep(5000);
	}

	Rk = worker_connect();
	parts = palloc(sizeof(int32) * KAFKA_MAX_PARTITIONS);
	nparts = worker_partitions(parts);
	if (Stream->reset_to)
		worker_apply_reset(parts, nparts);
	worker_assign(parts, nparts);
	ereport(LOG,
			(errmsg("datacontract Kafka worker of stream \"%s\" consuming topic \"%s\" (%d partitions) with reader schema %d",
					Stream->name, Stream->topic, nparts, KafkaSinkReaderId(Sink))));
	worker_loop();
}

/* Leave the status slot; the launcher frees it. */
static void
worker_on_exit(int code, Datum arg)
{
	if (MySlot == NULL)
		return;
	SpinLockAcquire(&MySlot->mutex);
	MySlot->pid = 0;
	SpinLockRelease(&MySlot->mutex);
}

/* Publish the state in the slot and in pg_stat_activity. */
static void
worker_state(const char *fmt,...)
{
	char		buf[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	KafkaSlotSetState(MySlot, buf);
	pgstat_report_activity(STATE_IDLE, buf);
}

/* Record the last error; log it unless it is the same as the last one logged. */
static void
worker_error(bool log, const char *fmt,...)
{
	char		buf[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	KafkaSlotSetError(MySlot, buf);
	if (log && strcmp(buf, LastLoggedError) != 0)
	{
		ereport(LOG, (errmsg("datacontract Kafka worker: %s", buf)));
		strlcpy(LastLoggedError, buf, sizeof(LastLoggedError));
	}
}

/* Sleep, waking for the latch; process interrupts and reloads. */
static void
worker_sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

static void
conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid librdkafka property \"%s\" of Kafka stream \"%s\"", key, Stream->name),
				 errdetail("%s", errstr)));
}

/* librdkafka's own log lines come from its threads: drop them (errors come as events). */
static void
rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
}

/* Create the consumer handle and the wake-up pipe for its queue. */
static rd_kafka_t *
worker_connect(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char		errstr[512];
	ListCell   *lc;

	conf_set(conf, "bootstrap.servers", Stream->brokers);
	conf_set(conf, "group.id", psprintf("datacontract-%s", Stream->name));
	conf_set(conf, "client.id", psprintf("datacontract-%s", Stream->name));
	conf_set(conf, "enable.auto.commit", "false");
	conf_set(conf, "enable.auto.offset.store", "false");
	conf_set(conf, "auto.offset.reset", "earliest");
	conf_set(conf, "enable.partition.eof", "false");
	conf_set(conf, "fetch.wait.max.ms", "10");

	/*
	 * Prefetch about 30 batches.  librdkafka 2.0 counts queued.min.messages
	 * over the consumer queue of all partitions, and once the queue holds
	 * more it looks at the partitions again only on its broker thread's
	 * idle tick, up to a second later: with its default of 100000 a worker
	 * that ingests 200000 messages a second idles half the time.  Memory:
	 * about half a kilobyte per queued message, only while behind.
	 */
	conf_set(conf, "queued.min.messages",
			 psprintf("%d", Min(Max(Stream->batch_size * 30, 100000), 1000000)));
	conf_set(conf, "log.connection.close", "false");
	conf_set(conf, "reconnect.backoff.max.ms", "1000");
	for (lc = list_head(Stream->options); lc != NULL; lc = lnext(Stream->options, lc))
	{
		const char *key = lfirst(lc);

		lc = lnext(Stream->options, lc);
		if (lc == NULL)
			break;
		conf_set(conf, key, lfirst(lc));
	}
	rd_kafka_conf_set_log_cb(conf, rk_log);

	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		ereport(ERROR,
				(errmsg("could not create the Kafka consumer of stream \"%s\"", Stream->name),
				 errdetail("%s", errstr)));
	rd_kafka_poll_set_consumer(rk);
	Queue = rd_kafka_queue_get_consumer(rk);

	if (pipe(WakePipe) != 0 ||
		fcntl(WakePipe[0], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(WakePipe[1], F_SETFL, O_NONBLOCK) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not create a pipe: %m")));
	rd_kafka_queue_io_event_enable(Queue, WakePipe[1], "1", 1);
	return rk;
}

/* The partitions this worker owns: the configured ones that exist, or all. */
static int
worker_partitions(int32 *parts)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(Rk, Stream->topic, NULL);

	for (;;)
	{
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t err;
		int			n = 0;

		worker_state("connecting to %s", Stream->brokers);
		err = rd_kafka_metadata(Rk, 0, rkt, &md, 2000);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
			md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0)
		{
			for (int i = 0; i < md->topics[0].partition_cnt && n < KAFKA_MAX_PARTITIONS; i++)
			{
				int32		p = md->topics[0].partitions[i].id;

				if (Stream->partitions == NIL || list_member_int(Stream->partitions, p))
					parts[n++] = p;
			}
			rd_kafka_metadata_destroy(md);
			rd_kafka_topic_destroy(rkt);
			return n;
		}
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			worker_error(true, "topic \"%s\" not available: %s", Stream->topic,
						 rd_kafka_err2str(md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
			rd_kafka_metadata_destroy(md);
		}
		else
			worker_error(true, "brokers %s: %s", Stream->brokers, rd_kafka_err2str(err));
		worker_state("waiting for topic %s", Stream->topic);
		worker_sleep(1000);
	}
}

/* Apply a pending offset reset and clear it, in one transaction. */
static void
worker_apply_reset(int32 *parts, int nparts)
{
	int64	   *offsets = palloc(sizeof(int64) * Max(nparts, 1));

	worker_state("resetting offsets to %s", Stream->reset_to);
	for (int i = 0; i < nparts; i++)
	{
		int64		lo = 0,
					hi = 0;
		rd_kafka_resp_err_t err;

		for (;;)
		{
			err = rd_kafka_query_watermark_offsets(Rk, Stream->topic, parts[i], &lo, &hi, 5000);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			worker_error(true, "could not read the watermarks of partition %d: %s", parts[i], rd_kafka_err2str(err));
			worker_sleep(1000);
		}
		offsets[i] = strcmp(Stream->reset_to, "latest") == 0 ? hi : lo;
	}
	if (strcmp(Stream->reset_to, "timestamp") == 0 && nparts > 0)
	{
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
		rd_kafka_resp_err_t err;

		for (int i = 0; i < nparts; i++)
			rd_kafka_topic_partition_list_add(l, Stream->topic, parts[i])->offset = Stream->reset_at_ms;
		err = rd_kafka_offsets_for_times(Rk, l, 10000);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			ereport(ERROR,
					(errmsg("could not look up the offsets of stream \"%s\" at a time", Stream->name),
					 errdetail("%s", rd_kafka_err2str(err))));
		for (int i = 0; i < l->cnt; i++)
		{
			for (int j = 0; j < nparts; j++)
				if (parts[j] == l->elems[i].partition && l->elems[i].offset >= 0)
					offsets[j] = l->elems[i].offset;
				else if (parts[j] == l->elems[i].partition)
				{
					int64		lo,
								hi;

					/* no message at or after the time: the end */
					if (rd_kafka_query_watermark_offsets(Rk, Stream->topic, parts[j], &lo, &hi, 5000) == 0)
						offsets[j] = hi;
				}
		}
		rd_kafka_topic_partition_list_destroy(l);
	}

	BEGIN_TXN();
	(void) KafkaLoadStream(Stream->name, true, CurrentMemoryContext);	/* lock the row */
	KafkaStoreOffsets(Stream->name, Stream->topic, nparts, parts, offsets);
	if (SPI_execute_with_args("UPDATE datacontract.kafka_streams SET reset_to = NULL, reset_at = NULL WHERE name = $1",
							  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(Stream->name)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not clear the offset reset");
	END_TXN();
	ereport(LOG, (errmsg("datacontract Kafka stream \"%s\": offsets reset to %s", Stream->name, Stream->reset_to)));
}

/* Assign the partitions at our committed offsets (the beginning when none). */
static void
worker_assign(int32 *parts, int nparts)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(Max(nparts, 1));
	List	   *stored;
	ListCell   *lc;
	rd_kafka_resp_err_t err;

	BEGIN_TXN();
	stored = KafkaLoadOffsets(Stream->name, Stream->topic);
	SpinLockAcquire(&MySlot->mutex);
	MySlot->npartitions = nparts;
	for (int i = 0; i < nparts; i++)
	{
		int64		next = RD_KAFKA_OFFSET_BEGINNING;

		foreach(lc, stored)
		{
			KafkaOffset *o = lfirst(lc);

			if (o->partition == parts[i])
				next = o->next_offset;
		}
		rd_kafka_topic_partition_list_add(l, Stream->topic, parts[i])->offset = next;
		memset(&MySlot->parts[i], 0, sizeof(KafkaPartitionStatus));
		MySlot->parts[i].partition = parts[i];
		MySlot->parts[i].committed = next >= 0 ? next : -1;
		MySlot->parts[i].high_watermark = -1;
	}
	SpinLockRelease(&MySlot->mutex);
	END_TXN();

	err = rd_kafka_assign(Rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR,
				(errmsg("could not assign the partitions of stream \"%s\"", Stream->name),
				 errdetail("%s", rd_kafka_err2str(err))));
}

static void
drain_pipe(void)
{
	char		buf[256];

	while (read(WakePipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Gather batches and write them, forever. */
static void
worker_loop(void)
{
	WaitEventSet *set;
	WaitEvent	events[4];
	int			max = Stream->batch_size;
	rd_kafka_message_t **msgs = MemoryContextAlloc(WorkerContext, sizeof(rd_kafka_message_t *) * max);
	int			n = 0;
	TimestampTz first_at = 0;
	TimestampTz last_rates = GetCurrentTimestamp();
	char		idle_state[128];

	set = CreateWaitEventSet(WorkerContext, 3);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE, WakePipe[0], NULL, NULL);
	snprintf(idle_state, sizeof(idle_state), "consuming %s", Stream->topic);
	worker_state("%s", idle_state);

	for (;;)
	{
		ssize_t		got;
		TimestampTz now;
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		drain_pipe();
		got = rd_kafka_consume_batch_queue(Queue, 0, msgs + n, max - n);
		for (ssize_t i = 0; i < got; i++)
		{
			rd_kafka_message_t *m = msgs[n + i];

			if (m->err)
			{
				/* broker and transport errors: librdkafka retries by itself */
				if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
					worker_error(m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
								 m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
								 "%s", rd_kafka_message_errstr(m));
				rd_kafka_message_destroy(m);
				memmove(&msgs[n + i], &msgs[n + i + 1], sizeof(*msgs) * (got - i - 1));
				got--;
				i--;
			}
		}
		if (n == 0 && got > 0)
			first_at = GetCurrentTimestamp();
		n += Max(got, 0);

		now = GetCurrentTimestamp();
		if (n > 0 && (n >= max || TimestampDifferenceExceeds(first_at, now, Stream->batch_time_ms)))
		{
			worker_write_batch(msgs, n);
			n = 0;
			worker_state("%s", idle_state);
			continue;
		}
		if (TimestampDifferenceExceeds(last_rates, now, 1000))
			worker_publish_rates(now, &last_rates);
		if (got > 0 && n < max)
			continue;			/* the queue may hold more */

		if (n > 0)
		{
			long		elapsed = (long) ((now - first_at) / 1000);

			timeout = Max(Stream->batch_time_ms - elapsed, 0);
		}
		else
			timeout = 1000;
		(void) WaitEventSetWait(set, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Open the sink again when it no longer matches its tables or its reader
 * schema (a column added for a field, a new latest version): the new one
 * first, so that a failure keeps the old one for the retry.
 */
static void
worker_check_sink(void)
{
	const char *why = KafkaSinkStale(Sink);
	MemoryContext cxt;
	KafkaSink  *fresh;

	if (why == NULL)
		return;
	cxt = AllocSetContextCreate(WorkerContext, "kafka sink", ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		fresh = KafkaSinkOpen(Stream, cxt);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ereport(LOG,
			(errmsg("datacontract Kafka stream \"%s\": %s; its sink is open again with reader schema %d",
					Stream->name, why, KafkaSinkReaderId(fresh))));
	KafkaSinkClose(Sink);
	MemoryContextDelete(SinkContext);
	SinkContext = cxt;
	Sink = fresh;
}

/* Write a batch, retrying with growing delays while the database fails. */
static void
worker_write_batch(rd_kafka_message_t **rkm, int n)
{
	MemoryContext batch_cxt = AllocSetContextCreate(WorkerContext, "kafka batch messages",
													ALLOCSET_DEFAULT_SIZES);
	KafkaMessage *msgs;
	KafkaBatchResult res;
	long		delay = 100;
	int			attempt = 0;
	char		activity[128];

	MemoryContextSwitchTo(batch_cxt);
	msgs = palloc(sizeof(KafkaMessage) * n);
	memset(&res, 0, sizeof(res));
	res.status = palloc(n);
	for (int i = 0; i < n; i++)
	{
		msgs[i].partition = rkm[i]->partition;
		msgs[i].offset = rkm[i]->offset;
		msgs[i].key = rkm[i]->key;
		msgs[i].key_len = rkm[i]->key_len;
		msgs[i].value = rkm[i]->payload;
		msgs[i].value_len = rkm[i]->len;
	}
	snprintf(activity, sizeof(activity), "ingesting %d messages of %s", n, Stream->topic);

	for (;;)
	{
		volatile bool ok = false;

		KafkaSlotSetState(MySlot, attempt ? "retrying a batch" : "ingesting");
		pgstat_report_activity(STATE_RUNNING, activity);
		PG_TRY();
		{
			BEGIN_TXN();
			worker_check_sink();
			MemoryContextSwitchTo(batch_cxt);
			KafkaSinkWriteBatch(Sink, Stream->topic, msgs, n, &res);
			END_TXN();
			ok = true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(batch_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(batch_cxt);
			/* a SIGTERM or a cancel during the batch ends the worker */
			if (edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
				proc_exit(1);
			worker_error(true, "batch of %d messages of stream \"%s\" failed, retrying in %ld ms: %s",
						 n, Stream->name, delay, edata->message);
			FreeErrorData(edata);
		}
		PG_END_TRY();
		if (ok)
			break;
		attempt++;
		worker_state("batch failed, retrying");
		worker_sleep(delay);
		delay = Min(delay * 2, kafka_retry_max_delay);
	}
	if (attempt > 0)
		ereport(LOG, (errmsg("datacontract Kafka stream \"%s\": batch written after %d retries",
							 Stream->name, attempt)));

	worker_stats(rkm, n, res.status);
	for (int i = 0; i < n; i++)
		rd_kafka_message_destroy(rkm[i]);
	MemoryContextSwitchTo(WorkerContext);
	MemoryContextDelete(batch_cxt);
}

/* Count a committed batch in the slot. */
static void
worker_stats(rd_kafka_message_t **msgs, int n, const uint8 *status)
{
	SpinLockAcquire(&MySlot->mutex);
	MySlot->batches++;
	for (int i = 0; i < n; i++)
	{
		for (int p = 0; p < MySlot->npartitions; p++)
		{
			KafkaPartitionStatus *ps = &MySlot->parts[p];

			if (ps->partition != msgs[i]->partition)
				continue;
			ps->messages++;
			ps->bytes += msgs[i]->len;
			if (status[i] == KAFKA_MSG_DEAD)
				ps->dead_letters++;
			if (msgs[i]->offset + 1 > ps->committed)
				ps->committed = msgs[i]->offset + 1;
			break;
		}
	}
	SpinLockRelease(&MySlot->mutex);
}

/* Rates over the last interval and the high watermarks librdkafka has seen. */
static void
worker_publish_rates(TimestampTz now, TimestampTz *last)
{
	static int64 prev_msgs[KAFKA_MAX_PARTITIONS];
	static int64 prev_bytes[KAFKA_MAX_PARTITIONS];
	double		secs = (double) (now - *last) / 1000000.0;
	int64		hw[KAFKA_MAX_PARTITIONS];
	int			np = MySlot->npartitions;

	for (int p = 0; p < np; p++)
	{
		int64		lo = -1,
					hi = -1;

		if (rd_kafka_get_watermark_offsets(Rk, Stream->topic, MySlot->parts[p].partition, &lo, &hi) != 0)
			hi = -1;
		hw[p] = hi;
	}
	SpinLockAcquire(&MySlot->mutex);
	for (int p = 0; p < np; p++)
	{
		KafkaPartitionStatus *ps = &MySlot->parts[p];

		ps->msg_rate = (ps->messages - prev_msgs[p]) / secs;
		ps->byte_rate = (ps->bytes - prev_bytes[p]) / secs;
		prev_msgs[p] = ps->messages;
		prev_bytes[p] = ps->bytes;
		if (hw[p] >= 0)
			ps->high_watermark = hw[p];
	}
	SpinLockRelease(&MySlot->mutex);
	*last = now;
}
