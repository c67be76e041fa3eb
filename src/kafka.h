/*-------------------------------------------------------------------------
 *
 * kafka.h
 *	  Kafka ingestion: the launcher and consumer workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_KAFKA_H
#define DATACONTRACT_KAFKA_H

/* Define the Kafka GUCs and, when preloaded, register the launcher. */
extern void KafkaInit(void);

#endif							/* DATACONTRACT_KAFKA_H */
