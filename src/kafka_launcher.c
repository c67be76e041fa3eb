/*-------------------------------------------------------------------------
 *
 * kafka_launcher.c
 *	  Kafka ingestion: GUCs, the shared status slots, the launcher that
 *	  starts one consumer worker per configured stream, and the status
 *	  functions.
 *
 * The launcher (a static background worker, like pg_cron's) reads
 * datacontract.kafka_streams every second.  A stream that is enabled, not
 * paused and has brokers gets a dynamic worker; when the worker dies the
 * launcher starts it again (after a delay that grows while it keeps dying),
 * and when the stream's row, the broker GUC or its subject's latest version
 * changes it stops the worker, waits for it to exit and starts a new one, so
 * two workers of one stream never overlap.  Without brokers, or without the
 * extension, the launcher idles quietly.
 *
 * Shared memory: kafka_max_streams KafkaSlots, each guarded by its own
 * spinlock.  The launcher assigns slots (in_use, stream) and only it does;
 * a worker writes its own slot's state and counters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "datacontract.h"
#include "kafka.h"

PG_FUNCTION_INFO_V1(kafka_workers);
PG_FUNCTION_INFO_V1(kafka_partitions);

/* GUCs */
char	   *kafka_brokers = NULL;
int			kafka_batch_size = 10000;
int			kafka_batch_time = 20;
int			kafka_max_streams = 8;
int			kafka_retry_max_delay = 30000;

static KafkaSlot *KafkaSlots = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* What the launcher knows about one stream's worker (launcher memory). */
typedef struct LauncherEntry
{
	char		stream[KAFKA_NAME_LEN];
	char		config_hash[33];	/* md5 of what the worker was started with */
	int			slot;
	BackgroundWorkerHandle *handle; /* NULL: not running */
	TimestampTz next_start;		/* do not start before (crash backoff) */
	int			delay_ms;		/* current crash backoff */
	TimestampTz started_at;
	bool		seen;			/* still configured (per reconcile pass) */
} LauncherEntry;

static void kafka_shmem_request(void);
static void kafka_shmem_startup(void);
static Size kafka_shmem_size(void);
static bool launcher_extension_ready(bool *logged);
static void launcher_reconcile(LauncherEntry *entries, int *nentries);
static void launcher_stop(LauncherEntry *e);
static bool launcher_start(LauncherEntry *e);
static void launcher_stop_all(LauncherEntry *entries, int *nentries);


/* ----------------------------------------------------------------
 * SQL functions
 * ----------------------------------------------------------------
 */

/* kafka_workers(): one row per running consumer worker. */
Datum
kafka_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (KafkaSlots == NULL)
		return (Datum) 0;
	for (int i = 0; i < kafka_max_streams; i++)
	{
		KafkaSlot  *slot = &KafkaSlots[i];
		KafkaSlot	copy;
		Datum		values[7];
		bool		nulls[7] = {0};

		SpinLockAcquire(&slot->mutex);
		memcpy(&copy, slot, offsetof(KafkaSlot, npartitions));
		SpinLockRelease(&slot->mutex);
		if (!copy.in_use || copy.pid == 0)
			continue;
		values[0] = CStringGetTextDatum(copy.stream);
		values[1] = Int32GetDatum(copy.pid);
		values[2] = CStringGetTextDatum(copy.state);
		if (copy.last_error[0])
		{
			values[3] = CStringGetTextDatum(copy.last_error);
			values[4] = TimestampTzGetDatum(copy.last_error_at);
		}
		else
			nulls[3] = nulls[4] = true;
		values[5] = TimestampTzGetDatum(copy.started_at);
		values[6] = Int64GetDatum(copy.batches);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* kafka_partitions(): one row per partition a running worker owns. */
Datum
kafka_partitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KafkaSlot  *copy;

	InitMaterializedSRF(fcinfo, 0);
	if (KafkaSlots == NULL)
		return (Datum) 0;
	copy = palloc(sizeof(KafkaSlot));
	for (int i = 0; i < kafka_max_streams; i++)
	{
		KafkaSlot  *slot = &KafkaSlots[i];

		SpinLockAcquire(&slot->mutex);
		memcpy(copy, slot, sizeof(KafkaSlot));
		SpinLockRelease(&slot->mutex);
		if (!copy->in_use || copy->pid == 0)
			continue;
		for (int p = 0; p < copy->npartitions; p++)
		{
			KafkaPartitionStatus *ps = &copy->parts[p];
			Datum		values[9];
			bool		nulls[9] = {0};

			values[0] = CStringGetTextDatum(copy->stream);
			values[1] = Int32GetDatum(ps->partition);
			values[2] = Int64GetDatum(ps->committed);
			nulls[2] = ps->committed < 0;
			values[3] = Int64GetDatum(ps->high_watermark);
			nulls[3] = ps->high_watermark < 0;
			values[4] = Int64GetDatum(ps->messages);
			values[5] = Int64GetDatum(ps->bytes);
			values[6] = Int64GetDatum(ps->dead_letters);
			values[7] = Float8GetDatum(ps->msg_rate);
			values[8] = Float8GetDatum(ps->byte_rate);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	pfree(copy);
	return (Datum) 0;
}


/* ----------------------------------------------------------------
 * Initialisation and shared memory
 * ----------------------------------------------------------------
 */

/* Define the Kafka GUCs and, when preloaded, register the launcher. */
void
KafkaInit(void)
{
	DefineCustomStringVariable("datacontract.kafka_brokers",
							   "Bootstrap brokers of the Kafka streams that name none (host:port,...).",
							   "Empty: streams without their own brokers are not consumed.",
							   &kafka_brokers,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("datacontract.kafka_batch_size",
							"Messages per batch (one transaction) of a Kafka stream that sets none.",
							NULL,
							&kafka_batch_size,
							10000, 1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("datacontract.kafka_batch_time",
							"Longest time a Kafka batch waits to fill up after its first message.",
							NULL,
							&kafka_batch_time,
							20, 0, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("datacontract.kafka_retry_max_delay",
							"Longest wait between retries of a batch the database failed to write.",
							NULL,
							&kafka_retry_max_delay,
							30000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("datacontract.kafka_max_streams",
							"Most Kafka streams consumed at once (one worker each).",
							"Each needs a background worker: see max_worker_processes.",
							&kafka_max_streams,
							8, 0, 256,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = kafka_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = kafka_shmem_startup;

	if (kafka_max_streams > 0)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 1;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "datacontract");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "KafkaLauncherMain");
		snprintf(worker.bgw_name, BGW_MAXLEN, "datacontract kafka launcher");
		snprintf(worker.bgw_type, BGW_MAXLEN, "datacontract kafka launcher");
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * Crash memory.  A worker that crashes (a signal, not an exit) makes the
 * postmaster restart the whole server, launcher and shared memory included,
 * so the launcher's own backoff is lost and a worker that crashes at once
 * would take the server down again and again.  The postmaster process
 * survives: just before it throws the old shared memory away, it notes the
 * streams whose workers had started less than a minute before, with a
 * doubled delay, and puts the notes in the new shared memory, where the new
 * launcher reads them before starting those workers.  Any crash counts,
 * ours or not: a worker started just before it waits a little.
 */
typedef struct KafkaCrashNote
{
	char		stream[KAFKA_NAME_LEN];
	int			delay_ms;		/* 0: none */
} KafkaCrashNote;

static KafkaCrashNote *KafkaCrashNotes = NULL;	/* in shared memory */
static KafkaCrashNote *PostmasterNotes = NULL;	/* the postmaster's copy */
static KafkaCrashNote *PostmasterScratch = NULL;

/* a worker that dies within a minute of its start waits longer each time */
#define SHORT_LIVED_MS			60000
#define EXIT_MAX_DELAY_MS		30000
#define CRASH_MAX_DELAY_MS		60000

/* The next restart delay after prev: 1 s, then doubling up to max. */
static int
restart_delay(int prev, int max)
{
	return Min(Max(prev * 2, 1000), max);
}

static Size
kafka_shmem_size(void)
{
	return add_size(mul_size(Max(kafka_max_streams, 1), sizeof(KafkaSlot)),
					mul_size(Max(kafka_max_streams, 1), sizeof(KafkaCrashNote)));
}

/*
 * In the postmaster, as it resets shared memory (after a crash, or at
 * shutdown): note the workers that had started less than a minute before.
 */
static void
kafka_note_crash(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();
	KafkaCrashNote *notes;

	if (KafkaSlots == NULL || PostmasterNotes == NULL || PostmasterScratch == NULL)
		return;
	notes = PostmasterScratch;
	memset(notes, 0, sizeof(KafkaCrashNote) * Max(kafka_max_streams, 1));
	for (int i = 0; i < kafka_max_streams; i++)
	{
		KafkaSlot  *slot = &KafkaSlots[i];
		char		stream[KAFKA_NAME_LEN];
		int			prev = 0;

		/* plain bounded reads: the memory may be in any state after a crash */
		if (!slot->in_use || slot->started_at == 0 ||
			TimestampDifferenceExceeds(slot->started_at, now, SHORT_LIVED_MS))
			continue;
		memcpy(stream, slot->stream, sizeof(stream));
		stream[sizeof(stream) - 1] = '\0';
		for (int k = 0; k < kafka_max_streams; k++)
			if (PostmasterNotes[k].delay_ms > 0 && strcmp(PostmasterNotes[k].stream, stream) == 0)
				prev = PostmasterNotes[k].delay_ms;
		strlcpy(notes[i].stream, stream, sizeof(notes[i].stream));
		notes[i].delay_ms = restart_delay(prev, CRASH_MAX_DELAY_MS);
	}
	memcpy(PostmasterNotes, notes, sizeof(KafkaCrashNote) * Max(kafka_max_streams, 1));
}

static void
kafka_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(kafka_shmem_size());
}

/* Create or attach the status slots. */
static void
kafka_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	KafkaSlots = ShmemInitStruct("datacontract kafka slots", kafka_shmem_size(), &found);
	KafkaCrashNotes = (KafkaCrashNote *) (KafkaSlots + Max(kafka_max_streams, 1));
	if (!found)
	{
		memset(KafkaSlots, 0, kafka_shmem_size());
		for (int i = 0; i < kafka_max_streams; i++)
			SpinLockInit(&KafkaSlots[i].mutex);
		if (PostmasterNotes != NULL)
			memcpy(KafkaCrashNotes, PostmasterNotes, sizeof(KafkaCrashNote) * Max(kafka_max_streams, 1));
	}
	LWLockRelease(AddinShmemInitLock);
	if (!IsUnderPostmaster)
	{
		/* allocated now, so that the exit callback does not allocate */
		if (PostmasterNotes == NULL)
		{
			PostmasterNotes = MemoryContextAllocZero(TopMemoryContext,
													 sizeof(KafkaCrashNote) * Max(kafka_max_streams, 1));
			PostmasterScratch = MemoryContextAllocZero(TopMemoryContext,
													   sizeof(KafkaCrashNote) * Max(kafka_max_streams, 1));
		}
		on_shmem_exit(kafka_note_crash, (Datum) 0);
	}
}

/* A slot by index (the worker's main_arg). */
KafkaSlot *
KafkaGetSlot(int index)
{
	if (KafkaSlots == NULL || index < 0 || index >= kafka_max_streams)
		elog(ERROR, "invalid Kafka status slot %d", index);
	return &KafkaSlots[index];
}

/* Publish a worker's state in its slot. */
void
KafkaSlotSetState(KafkaSlot *slot, const char *state)
{
	SpinLockAcquire(&slot->mutex);
	strlcpy(slot->state, state, sizeof(slot->state));
	SpinLockRelease(&slot->mutex);
}

/* Publish a worker's last error in its slot. */
void
KafkaSlotSetError(KafkaSlot *slot, const char *error)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&slot->mutex);
	strlcpy(slot->last_error, error, sizeof(slot->last_error));
	slot->last_error_at = now;
	SpinLockRelease(&slot->mutex);
}


/* ----------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------
 */

/* A launcher entry for a stream, not running. */
static LauncherEntry *
launcher_new_entry(LauncherEntry *entries, int *nentries, const char *stream)
{
	LauncherEntry *e = &entries[(*nentries)++];

	memset(e, 0, sizeof(*e));
	strlcpy(e->stream, stream, sizeof(e->stream));
	e->slot = -1;
	return e;
}

/* Entry point of the launcher: reconcile workers with the streams table. */
void
KafkaLauncherMain(Datum main_arg)
{
	LauncherEntry *entries;
	int			nentries = 0;
	bool		logged = false;
	bool		ready = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(datacontract_database, NULL, 0);
	pgstat_report_appname("datacontract kafka launcher");

	entries = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(LauncherEntry) * Max(kafka_max_streams, 1));

	/* Slots of a previous launcher's workers: those workers are gone or going. */
	for (int i = 0; i < kafka_max_streams; i++)
	{
		SpinLockAcquire(&KafkaSlots[i].mutex);
		KafkaSlots[i].in_use = false;
		SpinLockRelease(&KafkaSlots[i].mutex);
	}

	/* workers started shortly before the server restarted after a crash wait */
	for (int i = 0; i < kafka_max_streams; i++)
	{
		KafkaCrashNote *note = &KafkaCrashNotes[i];
		LauncherEntry *e;

		if (note->delay_ms <= 0 || note->stream[0] == '\0')
			continue;
		e = launcher_new_entry(entries, &nentries, note->stream);
		e->delay_ms = note->delay_ms;
		e->next_start = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), note->delay_ms);
		ereport(LOG,
				(errmsg("datacontract Kafka worker of stream \"%s\" had started less than a minute before the server restarted after a crash; starting it in %d ms",
						note->stream, note->delay_ms)));
		note->delay_ms = 0;
	}

	for (;;)
	{
		bool		now_ready;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now_ready = launcher_extension_ready(&logged);
		if (now_ready)
			launcher_reconcile(entries, &nentries);
		else if (ready)
			launcher_stop_all(entries, &nentries);
		ready = now_ready;

		pgstat_report_activity(STATE_IDLE, ready ? NULL : "waiting for CREATE EXTENSION datacontract");
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Is the extension installed (log once while it is not)? */
static bool
launcher_extension_ready(bool *logged)
{
	bool		installed;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("datacontract", true));
	CommitTransactionCommand();
	if (!installed && !*logged)
	{
		ereport(LOG,
				(errmsg("datacontract Kafka launcher waiting: extension \"datacontract\" is not installed in database \"%s\"",
						datacontract_database)));
		*logged = true;
	}
	if (installed)
		*logged = false;
	return installed;
}

/*
 * One pass: read the streams that should run with a hash of everything
 * their worker depends on, stop workers whose stream went away or changed,
 * start the missing ones.
 */
static void
launcher_reconcile(LauncherEntry *entries, int *nentries)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "kafka launcher pass",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old;
	List	   *names = NIL;
	List	   *hashes = NIL;
	ListCell   *lc1,
			   *lc2;
	TimestampTz now = GetCurrentTimestamp();

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "reading datacontract.kafka_streams");
		if (SPI_execute("SELECT s.name, md5((to_jsonb(s) - 'reset_to' - 'reset_at')::text || '|' || "
						"  coalesce(nullif(s.brokers, ''), current_setting('datacontract.kafka_brokers')) || '|' || "
						"  coalesce((SELECT max(v.schema_id) FILTER (WHERE v.version = (SELECT max(version) FROM datacontract.subject_versions w WHERE w.subject = s.subject AND NOT w.deleted)) "
						"            FROM datacontract.subject_versions v WHERE v.subject = s.subject AND NOT v.deleted)::text, '-')) "
						"FROM datacontract.kafka_streams s "
						"WHERE s.enabled AND NOT s.paused "
						"  AND coalesce(nullif(s.brokers, ''), current_setting('datacontract.kafka_brokers')) <> '' "
						"ORDER BY s.name", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read datacontract.kafka_streams");
		old = MemoryContextSwitchTo(cxt);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			hashes = lappend(hashes, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		}
		MemoryContextSwitchTo(old);
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/* e.g. the extension being dropped under us: try again next second */
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextDelete(cxt);
		return;
	}
	PG_END_TRY();

	for (int i = 0; i < *nentries; i++)
		entries[i].seen = false;

	forboth(lc1, names, lc2, hashes)
	{
		const char *name = lfirst(lc1);
		const char *hash = lfirst(lc2);
		LauncherEntry *e = NULL;

		for (int i = 0; i < *nentries; i++)
			if (strcmp(entries[i].stream, name) == 0)
				e = &entries[i];
		if (e == NULL)
		{
			if (*nentries >= kafka_max_streams)
			{
				ereport(WARNING,
						(errmsg("Kafka stream \"%s\" is not consumed: datacontract.kafka_max_streams (%d) streams already run",
								name, kafka_max_streams)));
				continue;
			}
			e = launcher_new_entry(entries, nentries, name);
		}
		e->seen = true;

		/* a changed configuration: stop the old worker, start afresh */
		if (e->handle != NULL && strcmp(e->config_hash, hash) != 0)
		{
			ereport(LOG, (errmsg("datacontract Kafka stream \"%s\" changed, restarting its worker", name)));
			launcher_stop(e);
			e->next_start = 0;
			e->delay_ms = 0;
		}

		/* a worker that died: start it again after a backoff */
		if (e->handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(e->handle, &pid) == BGWH_STOPPED)
			{
				bool		short_lived = TimestampDifferenceExceeds(e->started_at, now, SHORT_LIVED_MS) == false;

				launcher_stop(e);
				e->delay_ms = short_lived ? restart_delay(e->delay_ms, EXIT_MAX_DELAY_MS) : 1000;
				e->next_start = TimestampTzPlusMilliseconds(now, e->delay_ms);
				ereport(LOG,
						(errmsg("datacontract Kafka worker of stream \"%s\" exited, restarting it in %d ms",
								name, e->delay_ms)));
			}
		}

		if (e->handle == NULL && now >= e->next_start)
		{
			strlcpy(e->config_hash, hash, sizeof(e->config_hash));
			(void) launcher_start(e);
		}
	}

	/* streams gone, disabled, paused or without brokers */
	for (int i = 0; i < *nentries; i++)
	{
		if (entries[i].seen)
			continue;
		if (entries[i].handle != NULL)
			ereport(LOG, (errmsg("datacontract Kafka stream \"%s\" stopped", entries[i].stream)));
		launcher_stop(&entries[i]);
		entries[i] = entries[--(*nentries)];
		i--;
	}
	MemoryContextDelete(cxt);
}

/* Start a worker for an entry, in a free slot. */
static bool
launcher_start(LauncherEntry *e)
{
	BackgroundWorker worker;
	int			slot = -1;

	for (int i = 0; i < kafka_max_streams && slot < 0; i++)
	{
		SpinLockAcquire(&KafkaSlots[i].mutex);
		if (!KafkaSlots[i].in_use)
		{
			KafkaSlots[i].in_use = true;
			strlcpy(KafkaSlots[i].stream, e->stream, KAFKA_NAME_LEN);
			KafkaSlots[i].pid = 0;
			KafkaSlots[i].npartitions = 0;
			KafkaSlots[i].started_at = GetCurrentTimestamp();
			KafkaSlots[i].last_error[0] = '\0';
			strlcpy(KafkaSlots[i].state, "starting", sizeof(KafkaSlots[i].state));
			slot = i;
		}
		SpinLockRelease(&KafkaSlots[i].mutex);
	}
	if (slot < 0)
		return false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "datacontract");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "KafkaWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "datacontract kafka worker %s", e->stream);
	snprintf(worker.bgw_type, BGW_MAXLEN, "datacontract kafka worker");
	worker.bgw_main_arg = Int32GetDatum(slot);
	worker.bgw_notify_pid = MyProcPid;
	strlcpy(worker.bgw_extra, e->stream, BGW_EXTRALEN);

	if (!RegisterDynamicBackgroundWorker(&worker, &e->handle))
	{
		SpinLockAcquire(&KafkaSlots[slot].mutex);
		KafkaSlots[slot].in_use = false;
		SpinLockRelease(&KafkaSlots[slot].mutex);
		e->handle = NULL;
		e->next_start = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 5000);
		ereport(LOG,
				(errmsg("could not start the datacontract Kafka worker of stream \"%s\": no free background worker slot",
						e->stream),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	e->slot = slot;
	e->started_at = GetCurrentTimestamp();
	return true;
}

/* Stop an entry's worker and wait until it has exited; free its slot. */
static void
launcher_stop(LauncherEntry *e)
{
	if (e->handle != NULL)
	{
		TerminateBackgroundWorker(e->handle);
		(void) WaitForBackgroundWorkerShutdown(e->handle);
		pfree(e->handle);
		e->handle = NULL;
	}
	if (e->slot >= 0)
	{
		SpinLockAcquire(&KafkaSlots[e->slot].mutex);
		KafkaSlots[e->slot].in_use = false;
		KafkaSlots[e->slot].pid = 0;
		SpinLockRelease(&KafkaSlots[e->slot].mutex);
		e->slot = -1;
	}
}

static void
launcher_stop_all(LauncherEntry *entries, int *nentries)
{
	for (int i = 0; i < *nentries; i++)
		launcher_stop(&entries[i]);
	*nentries = 0;
}
