/*-------------------------------------------------------------------------
 *
 * avro_codec.h
 *	  The Avro binary codec: Confluent framing, writer-to-reader resolution
 *	  plans, decoding into values, encoding from values, jsonb conversion.
 *
 * The hot path is AvroPlanDecode(): a plan compiled once per (writer,
 * reader) pair interprets the body with no schema work per message.  The
 * core (plan, decode, write) reports bad input through AvroDecodeState
 * rather than ereport, so the SQL wrappers, the Kafka worker and the fuzz
 * harness each choose how to report it; it allocates with palloc in the
 * memory context it is given.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_AVRO_CODEC_H
#define DATACONTRACT_AVRO_CODEC_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "avro_schema.h"

/* Confluent wire format: magic byte 0, 4-byte big-endian schema id, body. */
#define AVRO_CONFLUENT_MAGIC	0
#define AVRO_CONFLUENT_HEADER	5

/* GUCs (defined in avro_codec.c by AvroCodecDefineGucs) */
extern int	datacontract_max_value_size;	/* bytes of one decoded value */
extern int	datacontract_max_value_depth;	/* nesting of one decoded value */

/*
 * A decoded value, shaped by the reader's schema.  "schema" is the reader's
 * (non-union) schema node for this value; "branch" is the reader union
 * branch it was resolved to, or -1 when the reader's schema is not a union.
 * Strings and bytes point into the input buffer (zero copy) or into plan
 * memory (defaults); records hold nfields values in reader field order;
 * maps hold 2*len values, key (a string) then value.
 */
typedef struct AvroValue
{
	uint8		kind;			/* AvroType (never AVRO_UNION) */
	int16		branch;			/* reader union branch, or -1 */
	int32		len;			/* bytes, string, fixed: bytes; array, map:
								 * entries; record: fields; enum: unused */
	const AvroSchema *schema;	/* reader schema node (not a union) */
	union
	{
		bool		b;
		int64		i;			/* int, long, enum index */
		float		f;
		double		d;
		const char *p;			/* bytes, string, fixed */
		struct AvroValue *v;	/* record, array, map */
	}			u;
} AvroValue;

/* Why decoding stopped; AVRO_OK when it did not. */
typedef enum AvroDecodeError
{
	AVRO_OK = 0,
	AVRO_ERR_TRUNCATED,			/* body ends inside a value */
	AVRO_ERR_VARINT,			/* varint longer than its type allows */
	AVRO_ERR_NEGATIVE_LENGTH,	/* negative byte length */
	AVRO_ERR_TOO_LARGE,			/* past datacontract.max_value_size */
	AVRO_ERR_UNION_INDEX,		/* union branch index out of range */
	AVRO_ERR_ENUM_INDEX,		/* enum symbol index out of range */
	AVRO_ERR_BOOLEAN,			/* boolean byte other than 0 or 1 */
	AVRO_ERR_UTF8,				/* invalid UTF-8 in a string */
	AVRO_ERR_TRAILING,			/* bytes left after the value */
	AVRO_ERR_DEPTH,				/* nesting past datacontract.max_value_depth */
	AVRO_ERR_RESOLUTION			/* writer value the reader cannot accept */
} AvroDecodeError;

/*
 * Progress and outcome of one decode; reused across messages.  The values
 * of a decode live in the state's arena, a buffer (allocated in cxt) that
 * the next decode with the same state overwrites: keep values across
 * decodes with separate states.  Resetting cxt frees the arena, so
 * initialize the state again after that.
 */
typedef struct AvroDecodeState
{
	const uint8 *start;			/* message start (offsets are from here) */
	const uint8 *pos;
	const uint8 *end;
	MemoryContext cxt;			/* where the arena is allocated */
	int			depth;
	int			max_depth;
	int64		max_size;		/* bytes of values one decode may take */
	int64		budget;			/* bytes of values still allowed */
	char	   *arena;			/* values of the last decode */
	Size		arena_size;
	Size		arena_used;
	void	   *arena_old;		/* outgrown buffers, freed by the next decode */
	AvroDecodeError error;
	int64		error_offset;	/* byte offset into the message */
	char		error_msg[256]; /* what went wrong, for errmsg/errdetail */
} AvroDecodeState;

typedef struct AvroPlan AvroPlan;

/*
 * Compile the resolution of data written with "writer" and read with
 * "reader" (the same schema when reader is NULL) into a plan allocated in
 * cxt.  A pair that can never be resolved yields NULL with *errmsg set;
 * pairs resolvable only for some data (a union branch the reader lacks, an
 * enum symbol without reader default) compile and fail when that data
 * arrives.  Plans point into both trees; keep the trees alive with them.
 */
extern AvroPlan *AvroPlanCompile(const AvroSchema *writer, const AvroSchema *reader,
								 MemoryContext cxt, char **errmsg);

/* The reader schema a plan produces values of. */
extern const AvroSchema *AvroPlanReader(const AvroPlan *plan);

/* A record field in jsonb's key order (shorter names first, then bytewise). */
typedef struct AvroJsonKey
{
	const char *name;
	int			len;			/* strlen(name) */
	int			field;			/* index in the record's fields */
} AvroJsonKey;

/*
 * The fields of a reader record the plan decodes, in jsonb key order
 * (record->nfields of them), or NULL when the plan never decodes it.
 */
extern const AvroJsonKey *AvroPlanJsonKeys(const AvroPlan *plan,
										   const AvroSchema *record);

/*
 * Decode one value that must span exactly [data + offset, data + len).
 * Values go to the state's arena (replacing the previous decode's) and
 * point into data for strings, bytes and fixed.  Returns false with
 * state->error set on bad input; never reads outside the buffer.
 */
extern bool AvroPlanDecode(const AvroPlan *plan, AvroDecodeState *state,
						   const uint8 *data, size_t len, size_t offset,
						   AvroValue *out);

/* Initialize a decode state (limits from the GUCs unless given). */
extern void AvroDecodeStateInit(AvroDecodeState *state, MemoryContext cxt,
								int max_depth, int64 max_size);

/*
 * Convert a JSON value (a field default) to a value of the given schema;
 * false with *errmsg set when it does not conform.
 */
extern bool AvroValueFromDefault(const AvroJson *json, const AvroSchema *schema,
								 MemoryContext cxt, AvroValue *out, char **errmsg);

/* Append the Avro binary encoding of a value of "schema" (may be a union). */
extern void AvroValueWrite(StringInfo buf, const AvroSchema *schema,
						   const AvroValue *value);

/* Output form of decoded values as jsonb. */
typedef enum AvroJsonForm
{
	AVRO_FORM_NATURAL,			/* unions unwrapped, logical types rendered */
	AVRO_FORM_AVRO_JSON			/* the specification's JSON encoding */
} AvroJsonForm;

/* A decoded value as jsonb (ereports on values jsonb cannot hold). */
extern Jsonb *AvroValueToJsonb(const AvroValue *value, AvroJsonForm form);

/*
 * The same for a value the plan decoded; records take their key order from
 * the plan instead of sorting keys per value.
 */
extern Jsonb *AvroPlanValueToJsonb(const AvroPlan *plan, const AvroValue *value,
								   AvroJsonForm form);

/*
 * Convert jsonb (natural or Avro JSON form) to a value of "schema" for
 * encoding; ereports a non-conforming value with its path and the expected
 * type.
 */
extern void AvroValueFromJsonb(Jsonb *jb, const AvroSchema *schema,
							   MemoryContext cxt, AvroValue *out);

/*
 * Decode a Confluent-framed message with the registered writer schema its
 * id names, read as registered schema reader_id (-1: the writer's), to
 * jsonb; plans are cached per backend.  ereports bad input.
 */
extern Jsonb *AvroDecodeFramedToJsonb(const char *data, size_t len,
									  int32 reader_id, AvroJsonForm form);

/* Report a failed decode with ereport(ERROR). */
extern void AvroReportDecodeError(const AvroDecodeState *state) pg_attribute_noreturn();

/* Define the codec's GUCs; call from _PG_init. */
extern void AvroCodecDefineGucs(void);

#endif							/* DATACONTRACT_AVRO_CODEC_H */
