/*-------------------------------------------------------------------------
 *
 * avro_compat.h
 *	  Avro reader/writer compatibility checking, with the results worded
 *	  exactly as Confluent Schema Registry words them.
 *
 * The rules are those of Apache Avro Java's SchemaCompatibility (1.11),
 * which Confluent delegates to; the message shapes are those of Confluent's
 * avro/Difference.java and SchemaValidatorBuilder.java.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_AVRO_COMPAT_H
#define DATACONTRACT_AVRO_COMPAT_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "avro_schema.h"

/* Confluent's compatibility levels. */
typedef enum CompatLevel
{
	COMPAT_NONE,
	COMPAT_BACKWARD,
	COMPAT_BACKWARD_TRANSITIVE,
	COMPAT_FORWARD,
	COMPAT_FORWARD_TRANSITIVE,
	COMPAT_FULL,
	COMPAT_FULL_TRANSITIVE
} CompatLevel;

/* Confluent's message for an unknown level (error 42203). */
#define COMPAT_INVALID_LEVEL_MESSAGE \
	"Invalid compatibility level. Valid values are none, backward, forward, " \
	"full, backward_transitive, forward_transitive, and full_transitive"

/* Parse "BACKWARD" etc. case-insensitively; false if unknown. */
extern bool CompatLevelFromString(const char *s, CompatLevel *level);

/* The level's name as Confluent prints it ("BACKWARD_TRANSITIVE"). */
extern const char *CompatLevelName(CompatLevel level);

/*
 * All incompatibilities of reading data written with "writer" using
 * "reader", each a palloc'd string in Confluent's form
 * {errorType:'...', description:'...', additionalInfo:'...'} with the
 * description's two placeholders filled with reader_label / writer_label
 * (Confluent uses "new"/"old" for BACKWARD and "old"/"new" for FORWARD).
 * Returns NIL when compatible.
 */
extern List *AvroCheckReaderWriter(const AvroSchema *reader,
								   const AvroSchema *writer,
								   const char *reader_label,
								   const char *writer_label);

/* As AvroCheckReaderWriter, but only says whether the pair is compatible. */
extern bool AvroIsReaderWriterCompatible(const AvroSchema *reader,
										 const AvroSchema *writer);

/*
 * Confluent's check of a new schema against the previous versions of a
 * subject, given newest first as their stored schema texts and version
 * numbers (prev_versions may be NULL when unknown; an element <= 0 also
 * means unknown).  Non-transitive levels look only at the first element;
 * transitive ones go newest to oldest and stop at the first failing
 * version.  Returns NIL when compatible, otherwise the message list exactly
 * as Confluent builds it: the per-direction messages, {oldSchemaVersion: N}
 * and {oldSchema: '...'} for the failing version, and the trailer
 * {validateFields: '...', compatibility: 'LEVEL'}.  The previous schemas are
 * parsed through the per-backend schema cache.  An invalid schema text is
 * reported with ereport(ERROR).
 */
extern List *AvroCheckCompatibility(const char *new_schema, int nprev,
									const char *const *prev_schemas,
									const int *prev_versions,
									CompatLevel level, bool validate_fields);

/* As AvroCheckCompatibility, for a new schema that is already parsed. */
extern List *AvroCheckCompatibilityParsed(const AvroSchema *new_schema,
										  int nprev,
										  const char *const *prev_schemas,
										  const int *prev_versions,
										  CompatLevel level,
										  bool validate_fields);

#endif							/* DATACONTRACT_AVRO_COMPAT_H */
