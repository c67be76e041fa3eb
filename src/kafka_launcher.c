/*-------------------------------------------------------------------------
 *
 * kafka_launcher.c
 *	  Kafka ingestion: the launcher that starts one consumer worker per
 *	  configured stream.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "kafka.h"

/* Define the Kafka GUCs and, when preloaded, register the launcher. */
void
KafkaInit(void)
{
}
