/*-------------------------------------------------------------------------
 *
 * avro_codec.c
 *	  SQL functions of the Avro codec: decode and encode Confluent-framed
 *	  and bare Avro, populate composite types, and the per-backend caches
 *	  of writer schemas and resolution plans behind them.
 *
 * Schemas are looked up by id in datacontract.schemas with one saved SPI
 * plan and parsed once per backend; plans are compiled once per (writer
 * id, reader id) pair, or per (writer text, reader text) for the raw
 * functions.  Everything lives in CodecCacheContext.  Ids are immutable,
 * but DROP/CREATE EXTENSION in one backend can hand out an id again, so a
 * relcache invalidation of datacontract.schemas (which dropping it sends)
 * marks the whole cache stale; it is flushed at the next lookup, never
 * while a caller holds one of its plans.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "avro_codec.h"
#include "datacontract.h"
#include "rules.h"

PG_FUNCTION_INFO_V1(avro_decode);
PG_FUNCTION_INFO_V1(avro_decode_raw);
PG_FUNCTION_INFO_V1(avro_populate_record);
PG_FUNCTION_INFO_V1(avro_schema_id);
PG_FUNCTION_INFO_V1(avro_encode);
PG_FUNCTION_INFO_V1(avro_encode_raw);

/* Raw (text-keyed) cache entries allowed before the cache is flushed. */
#define CODEC_MAX_RAW_ENTRIES	1000

/* A registered schema, by id. */
typedef struct SchemaEntry
{
	int32		id;				/* hash key */
	AvroSchemaTree *tree;
} SchemaEntry;

/* A plan between registered schemas; reader_id -1 means the writer's. */
typedef struct PlanKey
{
	int32		writer_id;
	int32		reader_id;
} PlanKey;

typedef struct PlanEntry
{
	PlanKey		key;
	AvroPlan   *plan;
} PlanEntry;

/*
 * What a call site of avro_decode or avro_populate_record keeps in fn_extra:
 * the plan of the last (writer, reader) pair it saw, so rows of one writer
 * schema skip the cache lookup, and a decode state whose arena is reused
 * by every row.
 */
typedef struct DecodeCallCache
{
	uint64		generation;		/* CacheGeneration the plan belongs to */
	int32		writer_id;
	int32		reader_id;
	const AvroPlan *plan;		/* NULL: none yet */
	bool		rules;			/* migrations or READ rules apply (rules.h) */
	AvroDecodeState state;		/* arena in fn_mcxt */
} DecodeCallCache;

/*
 * avro_populate_record's fn_extra: its decode cache, and a copy of its
 * FmgrInfo for the jsonb_populate_record call, which keeps its own cache in
 * fn_extra.
 */
typedef struct PopulateCallCache
{
	DecodeCallCache *decode;
	FmgrInfo	inner;
} PopulateCallCache;

/* A plan between schema texts (raw functions), chained on hash collision. */
typedef struct RawEntry
{
	uint32		hash;			/* hash key */
	struct RawEntry *chain;
	char	   *writer_text;
	char	   *reader_text;	/* NULL: the writer's */
	AvroSchemaTree *writer;
	AvroSchemaTree *reader;
	AvroPlan   *plan;			/* NULL for encode-only entries */
} RawEntry;

static MemoryContext CodecCacheContext = NULL;
static HTAB *SchemaCache = NULL;
static HTAB *PlanCache = NULL;
static HTAB *RawCache = NULL;
static int	RawCount = 0;
static uint64 CacheGeneration = 0;	/* bumped whenever the caches are flushed */
static bool CacheStale = false;
static bool CallbackRegistered = false;
static Oid	SchemasRelid = InvalidOid;
static SPIPlanPtr SchemaByIdPlan = NULL;
static bool GucsDefined = false;

static void CodecCacheInit(void);
static const AvroPlan *PlanForIds(int32 writer_id, int32 reader_id);
static const AvroSchemaTree *SchemaForId(int32 id);
static const RawEntry *RawLookup(text *writer, text *reader, bool want_plan);
static Jsonb *DecodeFramed(DecodeCallCache **cachep, MemoryContext mcxt,
						   bytea *msg, int32 reader_id, bool has_reader,
						   AvroJsonForm form);
static int32 FrameSchemaId(const uint8 *data, size_t len);
static bytea *EncodeWithSchema(Jsonb *value, const AvroSchema *schema, int32 id);
static Jsonb *ApplyReadRules(int32 writer_id, int32 reader_id, Jsonb *jb,
							 AvroJsonForm form, RuleOutcome *outcome);


/* ----------------------------------------------------------------
 * SQL functions
 * ----------------------------------------------------------------
 */

/* avro_decode(message, reader_schema_id, avro_json): framed Avro to jsonb. */
Datum
avro_decode(PG_FUNCTION_ARGS)
{
	bytea	   *msg;
	bool		has_reader = !PG_ARGISNULL(1);
	int32		reader_id = has_reader ? PG_GETARG_INT32(1) : -1;
	bool		avro_json = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	msg = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_JSONB_P(DecodeFramed((DecodeCallCache **) &fcinfo->flinfo->fn_extra,
								   fcinfo->flinfo->fn_mcxt, msg, reader_id, has_reader,
								   avro_json ? AVRO_FORM_AVRO_JSON : AVRO_FORM_NATURAL));
}

/* avro_decode_raw(data, writer_schema, reader_schema, avro_json): bare body. */
Datum
avro_decode_raw(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	const RawEntry *entry;
	AvroDecodeState state;
	AvroValue	value;
	bool		avro_json = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	entry = RawLookup(PG_GETARG_TEXT_PP(1),
					  PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2), true);
	AvroDecodeStateInit(&state, CurrentMemoryContext, 0, 0);
	if (!AvroPlanDecode(entry->plan, &state, (const uint8 *) VARDATA_ANY(data),
						VARSIZE_ANY_EXHDR(data), 0, &value))
		AvroReportDecodeError(&state);
	PG_RETURN_JSONB_P(AvroPlanValueToJsonb(entry->plan, &value,
										   avro_json ? AVRO_FORM_AVRO_JSON : AVRO_FORM_NATURAL));
}

/*
 * avro_populate_record(base, message, reader_schema_id): fields to the
 * same-named columns of base's composite type.  The message is decoded in
 * the natural form, whose strings for logical types are what timestamptz,
 * date, time, uuid, numeric and interval read, and handed to
 * jsonb_populate_record with our call's own argument types.
 */
Datum
avro_populate_record(PG_FUNCTION_ARGS)
{
	LOCAL_FCINFO(inner, 2);
	PopulateCallCache *pc = (PopulateCallCache *) fcinfo->flinfo->fn_extra;
	Jsonb	   *jb;
	Datum		result;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (pc == NULL)
	{
		pc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PopulateCallCache));
		pc->inner = *fcinfo->flinfo;
		pc->inner.fn_extra = NULL;
		fcinfo->flinfo->fn_extra = pc;
	}
	jb = DecodeFramed(&pc->decode, fcinfo->flinfo->fn_mcxt, PG_GETARG_BYTEA_PP(1),
					  PG_ARGISNULL(2) ? -1 : PG_GETARG_INT32(2),
					  !PG_ARGISNULL(2), AVRO_FORM_NATURAL);
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("Avro value is not a record"),
				 errhint("avro_populate_record needs a record schema; use avro_decode for others.")));

	InitFunctionCallInfoData(*inner, &pc->inner, 2, fcinfo->fncollation,
							 NULL, NULL);
	inner->args[0] = fcinfo->args[0];
	inner->args[1].value = JsonbPGetDatum(jb);
	inner->args[1].isnull = false;
	result = jsonb_populate_record(inner);
	fcinfo->isnull = inner->isnull;
	return result;
}

/* avro_schema_id(message): the schema id of a Confluent-framed message. */
Datum
avro_schema_id(PG_FUNCTION_ARGS)
{
	bytea	   *msg = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_INT32(FrameSchemaId((const uint8 *) VARDATA_ANY(msg),
								  VARSIZE_ANY_EXHDR(msg)));
}

/* avro_encode(subject, value, version): framed Avro of a subject's schema. */
Datum
avro_encode(PG_FUNCTION_ARGS)
{
	text	   *subject;
	Jsonb	   *value;
	int32		id = 0;
	bool		found = false;
	Datum		args[2];
	int			ret;
	const AvroSchemaTree *tree;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	subject = PG_GETARG_TEXT_PP(0);
	value = PG_GETARG_JSONB_P(1);

	args[0] = PointerGetDatum(subject);
	SPI_connect();
	if (PG_ARGISNULL(2))
		ret = SPI_execute_with_args("SELECT schema_id FROM datacontract.subject_versions "
									"WHERE subject = $1 AND NOT deleted "
									"ORDER BY version DESC LIMIT 1",
									1, (Oid[]) {TEXTOID}, args, NULL, true, 1);
	else
	{
		args[1] = Int32GetDatum(PG_GETARG_INT32(2));
		ret = SPI_execute_with_args("SELECT schema_id FROM datacontract.subject_versions "
									"WHERE subject = $1 AND version = $2 AND NOT deleted",
									2, (Oid[]) {TEXTOID, INT4OID}, args, NULL, true, 1);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		bool		isnull;

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
		found = true;
	}
	SPI_finish();

	if (!found && PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_DC_SUBJECT_NOT_FOUND),
				 errmsg("subject \"%s\" not found", text_to_cstring(subject)),
				 errdetail_dc(40401)));
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_DC_VERSION_NOT_FOUND),
				 errmsg("version %d of subject \"%s\" not found",
						PG_GETARG_INT32(2), text_to_cstring(subject)),
				 errdetail_dc(40402)));

	tree = SchemaForId(id);
	/*
	 * WRITE rules of the version: they see the value in the natural form
	 * (so a value given in the Avro JSON form is converted first), and what
	 * their transforms return is what gets encoded.
	 */
	if (RulesExistForMode(id, RULE_WRITE))
	{
		AvroValue	v;
		RuleOutcome outcome;

		AvroValueFromJsonb(value, tree->root, CurrentMemoryContext, &v);
		value = AvroValueToJsonb(&v, AVRO_FORM_NATURAL);
		if (!RulesApply(id, RULE_WRITE, &value, &outcome))
			RulesReportFailure(&outcome);
		tree = SchemaForId(id);
	}
	PG_RETURN_BYTEA_P(EncodeWithSchema(value, tree->root, id));
}

/* avro_encode_raw(value, schema): bare Avro body of a value. */
Datum
avro_encode_raw(PG_FUNCTION_ARGS)
{
	const RawEntry *entry;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	entry = RawLookup(PG_GETARG_TEXT_PP(1), NULL, false);
	PG_RETURN_BYTEA_P(EncodeWithSchema(PG_GETARG_JSONB_P(0),
									   entry->writer->root, -1));
}


/* ----------------------------------------------------------------
 * Decoding and encoding helpers (also the C API of the Kafka worker)
 * ----------------------------------------------------------------
 */

/* The schema id of a framed message, or ereport on bad framing. */
static int32
FrameSchemaId(const uint8 *data, size_t len)
{
	if (len < AVRO_CONFLUENT_HEADER)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("truncated Avro message"),
				 errdetail("At byte offset %d: a Confluent-framed message needs at least 5 bytes, this one has %d.",
						   (int) len, (int) len)));
	if (data[0] != AVRO_CONFLUENT_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("wrong magic byte in Avro message"),
				 errdetail("At byte offset 0: the byte is 0x%02x; the Confluent wire format starts with 0x00.",
						   data[0])));
	return (int32) (((uint32) data[1] << 24) | ((uint32) data[2] << 16) |
					((uint32) data[3] << 8) | (uint32) data[4]);
}

/*
 * Decode a framed message with the writer schema its id names, read as
 * reader_id (or the writer's own schema), into jsonb.
 */
Jsonb *
AvroDecodeFramedToJsonb(const char *data, size_t len, int32 reader_id,
						AvroJsonForm form)
{
	const uint8 *bytes = (const uint8 *) data;
	int32		writer_id = FrameSchemaId(bytes, len);
	const AvroPlan *plan = PlanForIds(writer_id, reader_id);
	AvroDecodeState state;
	AvroValue	value;

	AvroDecodeStateInit(&state, CurrentMemoryContext, 0, 0);
	if (!AvroPlanDecode(plan, &state, bytes, len, AVRO_CONFLUENT_HEADER, &value))
		AvroReportDecodeError(&state);
	return AvroPlanValueToJsonb(plan, &value, form);
}

/*
 * Decode a framed bytea (reader_id -1: the writer's schema) for a call
 * site, with the plan and decode state it keeps in *cachep (created in
 * mcxt, the call site's fn_mcxt, on first use).
 */
static Jsonb *
DecodeFramed(DecodeCallCache **cachep, MemoryContext mcxt, bytea *msg,
			 int32 reader_id, bool has_reader, AvroJsonForm form)
{
	const uint8 *data = (const uint8 *) VARDATA_ANY(msg);
	size_t		len = VARSIZE_ANY_EXHDR(msg);
	int32		writer_id = FrameSchemaId(data, len);
	DecodeCallCache *cc = *cachep;
	AvroValue	value;

	if (!has_reader)
		reader_id = -1;
	if (cc == NULL)
	{
		cc = MemoryContextAllocZero(mcxt, sizeof(DecodeCallCache));
		AvroDecodeStateInit(&cc->state, mcxt, 0, 0);
		*cachep = cc;
	}
	/* a stale cache is flushed by the next lookup, so look up then too */
	if (cc->plan == NULL || cc->generation != CacheGeneration || CacheStale ||
		cc->writer_id != writer_id || cc->reader_id != reader_id)
	{
		/*
		 * Rules are checked once per (writer, reader) pair here, never per
		 * row: when migrations apply, the data is decoded with the writer's
		 * own schema and migrated to the reader's.
		 */
		const RulesReadPlan *rp;

		cc->plan = NULL;
		rp = RulesPlanRead(writer_id, reader_id);
		cc->rules = rp->active;
		cc->plan = PlanForIds(writer_id, rp->migrate ? -1 : reader_id);
		cc->generation = CacheGeneration;
		cc->writer_id = writer_id;
		cc->reader_id = reader_id;
	}
	/* the limits as they are now (SET may change them between calls) */
	cc->state.max_depth = datacontract_max_value_depth;
	cc->state.max_size = datacontract_max_value_size;
	if (!AvroPlanDecode(cc->plan, &cc->state, data, len, AVRO_CONFLUENT_HEADER, &value))
		AvroReportDecodeError(&cc->state);
	if (cc->rules)
	{
		RuleOutcome outcome;
		Jsonb	   *jb = ApplyReadRules(writer_id, reader_id,
										AvroPlanValueToJsonb(cc->plan, &value, AVRO_FORM_NATURAL),
										form, &outcome);

		if (jb == NULL)
			RulesReportFailure(&outcome);
		return jb;
	}
	return AvroPlanValueToJsonb(cc->plan, &value, form);
}

/*
 * Migrations and READ rules on a value decoded in the natural form (with
 * the writer's schema when migrating); the result in the asked form,
 * conformed to the reader's schema after a migration.  NULL with *outcome
 * when a rule's action is ERROR or DLQ.
 */
static Jsonb *
ApplyReadRules(int32 writer_id, int32 reader_id, Jsonb *jb, AvroJsonForm form,
			   RuleOutcome *outcome)
{
	const RulesReadPlan *rp = RulesPlanRead(writer_id, reader_id);
	bool		migrate = rp->migrate;
	int32		target = rp->target_id;

	if (!RulesApplyReadPlan(rp, &jb, outcome))
		return NULL;
	if (migrate || form != AVRO_FORM_NATURAL)
	{
		const AvroSchemaTree *tree = SchemaForId(target);
		AvroValue	v;

		AvroValueFromJsonb(jb, tree->root, CurrentMemoryContext, &v);
		jb = AvroValueToJsonb(&v, form);
	}
	return jb;
}

/*
 * For the Kafka worker (declared in rules.h): decode a framed message as
 * reader_id (-1: the writer's) in the natural form, with migrations and
 * READ rules; NULL with *outcome when a rule's action is ERROR or DLQ.
 */
Jsonb *
AvroDecodeFramedWithRules(const char *data, size_t len, int32 reader_id,
						  RuleOutcome *outcome)
{
	const uint8 *bytes = (const uint8 *) data;
	int32		writer_id = FrameSchemaId(bytes, len);
	const RulesReadPlan *rp = RulesPlanRead(writer_id, reader_id);
	bool		active = rp->active;
	const AvroPlan *plan = PlanForIds(writer_id, rp->migrate ? -1 : reader_id);
	AvroDecodeState state;
	AvroValue	value;
	Jsonb	   *jb;

	memset(outcome, 0, sizeof(*outcome));
	AvroDecodeStateInit(&state, CurrentMemoryContext, 0, 0);
	if (!AvroPlanDecode(plan, &state, bytes, len, AVRO_CONFLUENT_HEADER, &value))
		AvroReportDecodeError(&state);
	jb = AvroPlanValueToJsonb(plan, &value, AVRO_FORM_NATURAL);
	if (!active)
		return jb;
	return ApplyReadRules(writer_id, reader_id, jb, AVRO_FORM_NATURAL, outcome);
}

/* Encode jsonb with a schema; framed with id unless id is -1. */
static bytea *
EncodeWithSchema(Jsonb *value, const AvroSchema *schema, int32 id)
{
	AvroValue	v;
	StringInfoData buf;

	AvroValueFromJsonb(value, schema, CurrentMemoryContext, &v);
	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	if (id >= 0)
	{
		appendStringInfoChar(&buf, AVRO_CONFLUENT_MAGIC);
		appendStringInfoChar(&buf, (char) (id >> 24));
		appendStringInfoChar(&buf, (char) (id >> 16));
		appendStringInfoChar(&buf, (char) (id >> 8));
		appendStringInfoChar(&buf, (char) id);
	}
	AvroValueWrite(&buf, schema, &v);
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}


/* ----------------------------------------------------------------
 * Caches
 * ----------------------------------------------------------------
 */

/* Relcache callback: a change to datacontract.schemas makes ids suspect. */
static void
CodecRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == SchemasRelid)
		CacheStale = true;
}

/* Create (or, when stale or full, recreate) the caches. */
static void
CodecCacheInit(void)
{
	HASHCTL		ctl;

	if (CodecCacheContext != NULL && !CacheStale && RawCount < CODEC_MAX_RAW_ENTRIES)
		return;
	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(CodecRelcacheCallback, (Datum) 0);
		CallbackRegistered = true;
	}
	if (CodecCacheContext == NULL)
		CodecCacheContext = AllocSetContextCreate(TopMemoryContext,
												  "datacontract Avro codec cache",
												  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(CodecCacheContext);
	CacheStale = false;
	CacheGeneration++;
	RawCount = 0;
	SchemasRelid = InvalidOid;

	memset(&ctl, 0, sizeof(ctl));
	ctl.hcxt = CodecCacheContext;
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(SchemaEntry);
	SchemaCache = hash_create("datacontract Avro schemas by id", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(PlanKey);
	ctl.entrysize = sizeof(PlanEntry);
	PlanCache = hash_create("datacontract Avro plans by id", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(uint32);
	ctl.entrysize = sizeof(RawEntry);
	RawCache = hash_create("datacontract Avro plans by text", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Parse schema text into the cache context, reporting errors as ereport. */
static AvroSchemaTree *
ParseIntoCache(const char *json, size_t len)
{
	return AvroParseSchemaOrError(json, len, CodecCacheContext);
}

/* The parsed schema registered under id (loaded with SPI on first use). */
static const AvroSchemaTree *
SchemaForId(int32 id)
{
	SchemaEntry *entry;
	bool		found;
	char	   *json = NULL;
	char	   *type = NULL;
	int			ret;
	Datum		arg = Int32GetDatum(id);
	AvroSchemaTree *tree;

	CodecCacheInit();
	entry = hash_search(SchemaCache, &id, HASH_FIND, NULL);
	if (entry)
		return entry->tree;

	SPI_connect();
	if (SchemaByIdPlan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT coalesce(resolved, schema), schema_type FROM datacontract.schemas WHERE id = $1",
									   1, (Oid[]) {INT4OID});

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		SchemaByIdPlan = plan;
	}
	ret = SPI_execute_plan(SchemaByIdPlan, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(CodecCacheContext);

		json = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		MemoryContextSwitchTo(old);
	}
	if (!OidIsValid(SchemasRelid))
	{
		Oid			nsp = get_namespace_oid("datacontract", true);

		SchemasRelid = OidIsValid(nsp) ? get_relname_relid("schemas", nsp) : InvalidOid;
	}
	SPI_finish();

	if (json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DC_SCHEMA_NOT_FOUND),
				 errmsg("schema %d not found", id),
				 errdetail_dc(40403)));
	if (type != NULL && strcmp(type, "AVRO") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("schema %d is a %s schema, not Avro", id, type)));

	/* the relcache callback may have fired during SPI: start afresh */
	if (CacheStale)
	{
		json = pstrdup(json);
		CodecCacheInit();
		json = MemoryContextStrdup(CodecCacheContext, json);
	}
	tree = ParseIntoCache(json, strlen(json));
	entry = hash_search(SchemaCache, &id, HASH_ENTER, &found);
	entry->tree = tree;
	return tree;
}

/* The compiled plan for (writer id, reader id); reader_id -1: the writer's. */
static const AvroPlan *
PlanForIds(int32 writer_id, int32 reader_id)
{
	PlanKey		key;
	PlanEntry  *entry;
	const AvroSchemaTree *writer;
	const AvroSchemaTree *reader;
	AvroPlan   *plan;
	char	   *err = NULL;
	bool		found;

	CodecCacheInit();
	memset(&key, 0, sizeof(key));
	key.writer_id = writer_id;
	key.reader_id = reader_id == writer_id ? -1 : reader_id;
	entry = hash_search(PlanCache, &key, HASH_FIND, NULL);
	if (entry)
		return entry->plan;

	writer = SchemaForId(writer_id);
	reader = key.reader_id >= 0 ? SchemaForId(reader_id) : writer;
	/* loading the reader may have flushed a stale cache: reload both */
	if (hash_search(SchemaCache, &writer_id, HASH_FIND, NULL) == NULL)
	{
		writer = SchemaForId(writer_id);
		reader = key.reader_id >= 0 ? SchemaForId(reader_id) : writer;
	}
	plan = AvroPlanCompile(writer->root, reader->root, CodecCacheContext, &err);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("data written with schema %d cannot be read with schema %d",
						writer_id, reader_id),
				 errdetail("%s.", err)));
	entry = hash_search(PlanCache, &key, HASH_ENTER, &found);
	entry->plan = plan;
	return plan;
}

/* The cache entry for raw schema texts; with want_plan, compiles the plan. */
static const RawEntry *
RawLookup(text *writer, text *reader, bool want_plan)
{
	const char *wt = VARDATA_ANY(writer);
	int			wlen = VARSIZE_ANY_EXHDR(writer);
	const char *rt = reader ? VARDATA_ANY(reader) : NULL;
	int			rlen = reader ? VARSIZE_ANY_EXHDR(reader) : 0;
	uint32		h;
	RawEntry   *head;
	RawEntry   *e;
	bool		found;
	MemoryContext old;
	char	   *err = NULL;

	CodecCacheInit();
	h = hash_bytes((const unsigned char *) wt, wlen);
	if (rt)
		h = hash_combine(h, hash_bytes((const unsigned char *) rt, rlen) ^ 0x5bd1e995);
	head = hash_search(RawCache, &h, HASH_ENTER, &found);
	if (!found)
	{
		head->chain = NULL;
		head->writer_text = NULL;
	}
	for (e = head; e != NULL; e = e->chain)
	{
		if (e->writer_text == NULL)
			continue;
		if (strlen(e->writer_text) == wlen && memcmp(e->writer_text, wt, wlen) == 0 &&
			((rt == NULL && e->reader_text == NULL) ||
			 (rt != NULL && e->reader_text != NULL &&
			  strlen(e->reader_text) == rlen && memcmp(e->reader_text, rt, rlen) == 0)))
			break;
	}

	if (e == NULL)
	{
		AvroSchemaTree *wtree = ParseIntoCache(wt, wlen);
		AvroSchemaTree *rtree = rt ? ParseIntoCache(rt, rlen) : wtree;

		old = MemoryContextSwitchTo(CodecCacheContext);
		if (head->writer_text == NULL)
			e = head;
		else
		{
			e = palloc0(sizeof(RawEntry));
			e->chain = head->chain;
			head->chain = e;
		}
		e->writer = wtree;
		e->reader = rtree;
		e->plan = NULL;
		e->reader_text = rt ? pnstrdup(rt, rlen) : NULL;
		e->writer_text = pnstrdup(wt, wlen);
		MemoryContextSwitchTo(old);
		RawCount++;
	}
	if (want_plan && e->plan == NULL)
	{
		e->plan = AvroPlanCompile(e->writer->root, e->reader->root,
								  CodecCacheContext, &err);
		if (e->plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("data written with the writer schema cannot be read with the reader schema"),
					 errdetail("%s.", err)));
	}
	return e;
}

/* Define the codec's GUCs; called from _PG_init. */
void
AvroCodecDefineGucs(void)
{
	if (GucsDefined)
		return;
	GucsDefined = true;
	DefineCustomIntVariable("datacontract.max_value_size",
							"Largest decoded Avro value, in bytes of memory.",
							"Bodies whose values would need more are rejected.",
							&datacontract_max_value_size,
							64 * 1024 * 1024, 1024, MaxAllocSize / 2,
							PGC_USERSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("datacontract.max_value_depth",
							"Deepest nesting of records, arrays, maps and unions in a decoded Avro value.",
							NULL,
							&datacontract_max_value_depth,
							64, 4, 1000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}
