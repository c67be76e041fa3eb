/*-------------------------------------------------------------------------
 *
 * kafka.h
 *	  Kafka ingestion: the launcher, the consumer workers, the sink that
 *	  turns a batch of Confluent-framed Avro messages into rows, aggregate
 *	  updates, dead letters and committed offsets in one transaction.
 *
 * Shared memory holds one status slot per running consumer worker; each
 * slot is written by its worker (and the launcher when it assigns the slot)
 * under the slot's spinlock and read by the status functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_KAFKA_H
#define DATACONTRACT_KAFKA_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/spin.h"

#define KAFKA_NAME_LEN			64		/* stream names, as CHECKed in SQL */
#define KAFKA_MAX_PARTITIONS	256		/* partitions one worker may own */

/* GUCs (kafka_launcher.c) */
extern char *kafka_brokers;
extern int	kafka_batch_size;
extern int	kafka_batch_time;
extern int	kafka_max_streams;
extern int	kafka_retry_max_delay;

/* What a worker reports about one partition it owns. */
typedef struct KafkaPartitionStatus
{
	int32		partition;
	int64		committed;		/* next offset, as committed by the worker */
	int64		high_watermark; /* -1: unknown */
	int64		messages;		/* since the worker started */
	int64		bytes;
	int64		dead_letters;
	double		msg_rate;		/* messages per second, last interval */
	double		byte_rate;
} KafkaPartitionStatus;

/* One consumer worker's status (guarded by mutex). */
typedef struct KafkaSlot
{
	slock_t		mutex;
	bool		in_use;			/* assigned to a stream by the launcher */
	char		stream[KAFKA_NAME_LEN];
	int			pid;			/* 0 until the worker runs */
	char		state[64];
	char		last_error[256];
	TimestampTz last_error_at;
	TimestampTz started_at;
	int64		batches;
	int			npartitions;
	KafkaPartitionStatus parts[KAFKA_MAX_PARTITIONS];
} KafkaSlot;

/* kafka_launcher.c */
extern void KafkaInit(void);
extern KafkaSlot *KafkaGetSlot(int index);
extern void KafkaSlotSetState(KafkaSlot *slot, const char *state);
extern void KafkaSlotSetError(KafkaSlot *slot, const char *error);

/* A stream's configuration, one row of datacontract.kafka_streams. */
typedef struct KafkaStream
{
	char	   *name;
	char	   *brokers;		/* the effective list (GUC when the row has none) */
	char	   *topic;
	char	   *subject;
	char	   *reader_version; /* "latest" or a number */
	char	   *events_table;
	char	   *aggregates_table;	/* NULL: none */
	char	   *dead_letters_table;
	char	   *time_field;		/* NULL: no event_time */
	char	   *group_field;	/* NULL: no aggregates */
	List	   *aggregate_fields;	/* of char * */
	int			batch_size;
	int			batch_time_ms;
	List	   *partitions;		/* of int; NIL: all */
	List	   *options;		/* alternating keys and values (char *) */
	bool		paused;
	char	   *reset_to;		/* NULL, "earliest", "latest" or "timestamp" */
	int64		reset_at_ms;	/* for "timestamp": epoch milliseconds */
} KafkaStream;

/* One message of a batch; the bytes belong to the caller. */
typedef struct KafkaMessage
{
	int32		partition;
	int64		offset;
	const char *key;
	size_t		key_len;
	const char *value;
	size_t		value_len;
} KafkaMessage;

/* What became of each message of a batch. */
#define KAFKA_MSG_INSERTED	0
#define KAFKA_MSG_SKIPPED	1	/* already ingested (a replay after a reset) */
#define KAFKA_MSG_DEAD		2	/* went to the dead letters */

typedef struct KafkaBatchResult
{
	int64		inserted;
	int64		skipped;
	int64		dead_letters;
	int64		agg_rows;		/* aggregate rows written */
	int64		agg_direct;		/* of those, written in C */
	int64		agg_remembered;	/* found where the previous batch left them */
	double		agg_ms;			/* time spent writing them */
	uint8	   *status;			/* per message, KAFKA_MSG_* (caller's array) */
} KafkaBatchResult;

typedef struct KafkaSink KafkaSink;

/* kafka_sink.c: all need a transaction, SPI connected */
extern KafkaStream *KafkaLoadStream(const char *name, bool for_update, MemoryContext cxt);
extern KafkaSink *KafkaSinkOpen(KafkaStream *stream, MemoryContext cxt);
extern int32 KafkaSinkReaderId(KafkaSink *sink);
extern KafkaStream *KafkaSinkStream(KafkaSink *sink);
extern const char *KafkaSinkStale(KafkaSink *sink);
extern void KafkaSinkWriteBatch(KafkaSink *sink, const char *topic,
								KafkaMessage *msgs, int nmsgs, KafkaBatchResult *result);
extern void KafkaSinkClose(KafkaSink *sink);
extern List *KafkaLoadOffsets(const char *stream, const char *topic);	/* of KafkaOffset */
extern void KafkaStoreOffsets(const char *stream, const char *topic,
							  int n, const int32 *partitions, const int64 *offsets);

typedef struct KafkaOffset
{
	int32		partition;
	int64		next_offset;
} KafkaOffset;

/* kafka_worker.c */
extern PGDLLEXPORT void KafkaWorkerMain(Datum main_arg);
extern PGDLLEXPORT void KafkaLauncherMain(Datum main_arg);

#endif							/* DATACONTRACT_KAFKA_H */
