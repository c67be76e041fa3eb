/*-------------------------------------------------------------------------
 *
 * avro_compat.c
 *	  Avro reader/writer compatibility checking with Confluent's messages.
 *
 * The walk follows Apache Avro Java's SchemaCompatibility (1.11) rule for
 * rule, including its quirks, because Confluent Schema Registry reports
 * whatever that class reports:
 *
 *	- every incompatibility found in one direction is collected, in walk
 *	  order;
 *	- (reader, writer) pairs are memoized by node identity: a pair being
 *	  checked counts as compatible when met again (recursive types), and a
 *	  finished pair met again yields its first result, locations included;
 *	- a writer union read by a non-union reader, and each writer branch of
 *	  a union read by a reader union, are checked with a fresh location
 *	  stack, so their inner locations are relative to "/";
 *	- a reader field whose name and aliases match more than one writer
 *	  field makes Java throw, which Confluent turns into a single
 *	  "Unexpected exception" message.
 *
 * Pairs where either side is a primitive are not memoized: Java creates a
 * distinct node for every primitive occurrence, so such pairs never repeat
 * there, whereas our parser may share primitive nodes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "avro_compat.h"
#include "avro_schema.h"
#include "datacontract.h"

PG_FUNCTION_INFO_V1(avro_compatible);
PG_FUNCTION_INFO_V1(avro_compatibility_messages);
PG_FUNCTION_INFO_V1(avro_check_compatibility);

/* Confluent truncates an old schema longer than this in its messages. */
#define OLD_SCHEMA_MAX_CHARS	(10 * 1024)

/* Java's SchemaIncompatibilityType. */
typedef enum IncompatType
{
	INCOMPAT_NAME_MISMATCH,
	INCOMPAT_FIXED_SIZE_MISMATCH,
	INCOMPAT_MISSING_ENUM_SYMBOLS,
	INCOMPAT_READER_FIELD_MISSING_DEFAULT_VALUE,
	INCOMPAT_TYPE_MISMATCH,
	INCOMPAT_MISSING_UNION_BRANCH
} IncompatType;

static const char *const incompat_type_names[] = {
	"NAME_MISMATCH",
	"FIXED_SIZE_MISMATCH",
	"MISSING_ENUM_SYMBOLS",
	"READER_FIELD_MISSING_DEFAULT_VALUE",
	"TYPE_MISMATCH",
	"MISSING_UNION_BRANCH"
};

/* Java's Schema.Type names, indexed by AvroType. */
static const char *const java_type_names[] = {
	"NULL", "BOOLEAN", "INT", "LONG", "FLOAT", "DOUBLE", "BYTES", "STRING",
	"RECORD", "ENUM", "ARRAY", "MAP", "UNION", "FIXED"
};

static const char *const compat_level_names[] = {
	"NONE",
	"BACKWARD",
	"BACKWARD_TRANSITIVE",
	"FORWARD",
	"FORWARD_TRANSITIVE",
	"FULL",
	"FULL_TRANSITIVE"
};

/* One incompatibility: Java's Incompatibility without the fragments. */
typedef struct Incompat
{
	IncompatType type;
	char	   *message;		/* Java's getMessage(): "additionalInfo" */
	char	   *location;		/* Java's getLocation(): a JSON pointer */
} Incompat;

/* The location stack: reference tokens from the root down. */
typedef struct LocStack
{
	const char **tokens;
	int			n;
	int			cap;
} LocStack;

typedef struct MemoKey
{
	const AvroSchema *reader;
	const AvroSchema *writer;
} MemoKey;

typedef struct MemoEntry
{
	MemoKey		key;
	bool		in_progress;
	List	   *result;			/* of Incompat *, NIL = compatible */
} MemoEntry;

/* State of one checker run (Java's ReaderWriterCompatibilityChecker). */
typedef struct Checker
{
	MemoryContext cxt;			/* everything below lives here */
	HTAB	   *memo;
	char	   *exception;		/* set when Java would have thrown */
} Checker;

static List *get_compatibility(Checker *ck, const char *token,
							   const AvroSchema *reader,
							   const AvroSchema *writer, LocStack *loc);
static List *get_compatibility_fresh(Checker *ck, const AvroSchema *reader,
									 const AvroSchema *writer);
static List *calculate_compatibility(Checker *ck, const AvroSchema *reader,
									 const AvroSchema *writer, LocStack *loc);
static List *check_record_fields(Checker *ck, const AvroSchema *reader,
								 const AvroSchema *writer, LocStack *loc);
static List *check_enum_symbols(const AvroSchema *reader,
								const AvroSchema *writer, LocStack *loc);
static List *check_fixed_size(const AvroSchema *reader,
							  const AvroSchema *writer, LocStack *loc);
static List *check_schema_names(const AvroSchema *reader,
								const AvroSchema *writer, LocStack *loc);
static List *type_mismatch(const AvroSchema *reader, const AvroSchema *writer,
						   LocStack *loc);
static List *incompatible(IncompatType type, char *message, LocStack *loc);
static const AvroField *lookup_writer_field(Checker *ck,
											const AvroSchema *writer,
											const AvroField *reader_field);
static void loc_push(LocStack *loc, const char *token);
static void loc_pop(LocStack *loc);
static char *loc_pointer(const LocStack *loc);
static List *run_checker(const AvroSchema *reader, const AvroSchema *writer,
						 const char *reader_label, const char *writer_label);
static char *format_difference(const Incompat *inc, const char *reader_label,
							   const char *writer_label);
static List *validate_one(const AvroSchema *new_schema,
						  const AvroSchema *old_schema, const char *old_text,
						  int old_version, CompatLevel level);
static List *append_old_schema(List *messages, const char *old_text,
							   int old_version);
static const char *java_type_name(AvroType type);
static int	cmp_cstring(const void *a, const void *b);
static ArrayType *text_list_to_array(List *messages);
static CompatLevel compat_level_from_text(text *t);


/*
 * avro_compatible(reader text, writer text) returns boolean: whether data
 * written with "writer" can be read with "reader".
 */
Datum
avro_compatible(PG_FUNCTION_ARGS)
{
	text	   *reader_text = PG_GETARG_TEXT_PP(0);
	text	   *writer_text = PG_GETARG_TEXT_PP(1);
	MemoryContext cxt;
	MemoryContext oldcxt;
	AvroSchemaTree *reader;
	AvroSchemaTree *writer;
	bool		result;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "avro_compatible",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	reader = AvroParseSchemaOrError(VARDATA_ANY(reader_text),
									VARSIZE_ANY_EXHDR(reader_text), cxt);
	writer = AvroParseSchemaOrError(VARDATA_ANY(writer_text),
									VARSIZE_ANY_EXHDR(writer_text), cxt);
	result = AvroIsReaderWriterCompatible(reader->root, writer->root);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);

	PG_RETURN_BOOL(result);
}

/*
 * avro_compatibility_messages(reader text, writer text, reader_label text,
 * writer_label text) returns text[]: Confluent's messages for the pair, an
 * empty array when compatible.
 */
Datum
avro_compatibility_messages(PG_FUNCTION_ARGS)
{
	text	   *reader_text = PG_GETARG_TEXT_PP(0);
	text	   *writer_text = PG_GETARG_TEXT_PP(1);
	char	   *reader_label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *writer_label = text_to_cstring(PG_GETARG_TEXT_PP(3));
	MemoryContext cxt;
	MemoryContext oldcxt;
	AvroSchemaTree *reader;
	AvroSchemaTree *writer;
	List	   *messages;

	cxt = AllocSetContextCreate(CurrentMemoryContext,
								"avro_compatibility_messages",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	reader = AvroParseSchemaOrError(VARDATA_ANY(reader_text),
									VARSIZE_ANY_EXHDR(reader_text), cxt);
	writer = AvroParseSchemaOrError(VARDATA_ANY(writer_text),
									VARSIZE_ANY_EXHDR(writer_text), cxt);
	MemoryContextSwitchTo(oldcxt);

	messages = AvroCheckReaderWriter(reader->root, writer->root,
									 reader_label, writer_label);
	MemoryContextDelete(cxt);

	PG_RETURN_ARRAYTYPE_P(text_list_to_array(messages));
}

/*
 * avro_check_compatibility(new_schema text, previous_schemas text[],
 * previous_versions integer[], level text, validate_fields boolean) returns
 * text[]: Confluent's verdict on registering new_schema under "level" given
 * the previous versions, newest first; an empty array when compatible.
 */
Datum
avro_check_compatibility(PG_FUNCTION_ARGS)
{
	text	   *new_text;
	CompatLevel level;
	bool		validate_fields = false;
	Datum	   *schema_datums = NULL;
	bool	   *schema_nulls = NULL;
	int			nprev = 0;
	const char **prev_schemas = NULL;
	int		   *prev_versions = NULL;
	List	   *messages;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	new_text = PG_GETARG_TEXT_PP(0);
	level = compat_level_from_text(PG_GETARG_TEXT_PP(3));
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		validate_fields = PG_GETARG_BOOL(4);

	if (!PG_ARGISNULL(1))
	{
		ArrayType  *schemas = PG_GETARG_ARRAYTYPE_P(1);

		if (ARR_NDIM(schemas) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("previous_schemas must be a one-dimensional array")));
		deconstruct_array_builtin(schemas, TEXTOID, &schema_datums,
								  &schema_nulls, &nprev);
	}

	if (nprev > 0)
	{
		prev_schemas = palloc(sizeof(char *) * nprev);
		for (int i = 0; i < nprev; i++)
		{
			if (schema_nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("previous_schemas must not contain nulls")));
			prev_schemas[i] = TextDatumGetCString(schema_datums[i]);
		}
	}

	if (!PG_ARGISNULL(2) && nprev > 0)
	{
		ArrayType  *versions = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *version_datums;
		bool	   *version_nulls;
		int			nversions;

		if (ARR_NDIM(versions) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("previous_versions must be a one-dimensional array")));
		deconstruct_array_builtin(versions, INT4OID, &version_datums,
								  &version_nulls, &nversions);
		if (nversions != nprev)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("previous_versions has %d elements but previous_schemas has %d",
							nversions, nprev)));
		prev_versions = palloc(sizeof(int) * nprev);
		for (int i = 0; i < nprev; i++)
			prev_versions[i] = version_nulls[i] ? 0 : DatumGetInt32(version_datums[i]);
	}

	messages = AvroCheckCompatibility(text_to_cstring(new_text), nprev,
									  prev_schemas, prev_versions, level,
									  validate_fields);

	PG_RETURN_ARRAYTYPE_P(text_list_to_array(messages));
}

/* Parse a compatibility level name, case-insensitively. */
bool
CompatLevelFromString(const char *s, CompatLevel *level)
{
	if (s == NULL)
		return false;
	for (int i = 0; i < lengthof(compat_level_names); i++)
	{
		if (pg_strcasecmp(s, compat_level_names[i]) == 0)
		{
			*level = (CompatLevel) i;
			return true;
		}
	}
	return false;
}

/* The level's name as Confluent prints it. */
const char *
CompatLevelName(CompatLevel level)
{
	if ((int) level < 0 || (int) level >= lengthof(compat_level_names))
		elog(ERROR, "unknown compatibility level %d", (int) level);
	return compat_level_names[level];
}

/* All of Confluent's incompatibility messages for one reader/writer pair. */
List *
AvroCheckReaderWriter(const AvroSchema *reader, const AvroSchema *writer,
					  const char *reader_label, const char *writer_label)
{
	return run_checker(reader, writer, reader_label, writer_label);
}

/* Whether data written with "writer" can always be read with "reader". */
bool
AvroIsReaderWriterCompatible(const AvroSchema *reader,
							 const AvroSchema *writer)
{
	return run_checker(reader, writer, NULL, NULL) == NIL;
}

/* Confluent's check of a new schema text against previous versions. */
List *
AvroCheckCompatibility(const char *new_schema, int nprev,
					   const char *const *prev_schemas,
					   const int *prev_versions,
					   CompatLevel level, bool validate_fields)
{
	MemoryContext cxt;
	AvroSchemaTree *tree;
	List	   *result;

	if (level == COMPAT_NONE)
		return NIL;

	cxt = AllocSetContextCreate(CurrentMemoryContext,
								"avro compatibility new schema",
								ALLOCSET_DEFAULT_SIZES);
	tree = AvroParseSchemaOrError(new_schema, strlen(new_schema), cxt);
	result = AvroCheckCompatibilityParsed(tree->root, nprev, prev_schemas,
										  prev_versions, level,
										  validate_fields);
	MemoryContextDelete(cxt);
	return result;
}

/* Confluent's check of a parsed new schema against previous versions. */
List *
AvroCheckCompatibilityParsed(const AvroSchema *new_schema, int nprev,
							 const char *const *prev_schemas,
							 const int *prev_versions,
							 CompatLevel level, bool validate_fields)
{
	List	   *messages = NIL;
	bool		transitive;

	if (level == COMPAT_NONE || nprev <= 0)
		return NIL;

	transitive = (level == COMPAT_BACKWARD_TRANSITIVE ||
				  level == COMPAT_FORWARD_TRANSITIVE ||
				  level == COMPAT_FULL_TRANSITIVE);

	/* validateLatest looks at the newest only; validateAll stops at a fault */
	for (int i = 0; i < (transitive ? nprev : 1); i++)
	{
		const AvroSchemaTree *old_tree;

		CHECK_FOR_INTERRUPTS();
		old_tree = AvroSchemaCacheGet(prev_schemas[i], strlen(prev_schemas[i]));
		messages = validate_one(new_schema, old_tree->root, prev_schemas[i],
								prev_versions ? prev_versions[i] : 0, level);
		if (messages != NIL)
			break;
	}

	if (messages != NIL)
		messages = lappend(messages,
						   psprintf("{validateFields: '%s', compatibility: '%s'}",
									validate_fields ? "true" : "false",
									CompatLevelName(level)));
	return messages;
}

/*
 * One SchemaValidationStrategy run against one previous version: BACKWARD
 * is canReadStrategy, FORWARD canBeReadStrategy, FULL mutualReadStrategy.
 */
static List *
validate_one(const AvroSchema *new_schema, const AvroSchema *old_schema,
			 const char *old_text, int old_version, CompatLevel level)
{
	List	   *messages = NIL;
	List	   *m;

	switch (level)
	{
		case COMPAT_BACKWARD:
		case COMPAT_BACKWARD_TRANSITIVE:
			m = run_checker(new_schema, old_schema, "new", "old");
			if (m != NIL)
				messages = append_old_schema(m, old_text, old_version);
			break;
		case COMPAT_FORWARD:
		case COMPAT_FORWARD_TRANSITIVE:
			m = run_checker(old_schema, new_schema, "old", "new");
			if (m != NIL)
				messages = append_old_schema(m, old_text, old_version);
			break;
		case COMPAT_FULL:
		case COMPAT_FULL_TRANSITIVE:
			/* old-reads-new without the schema, then new-reads-old with it */
			messages = run_checker(old_schema, new_schema, "old", "new");
			m = run_checker(new_schema, old_schema, "new", "old");
			if (m != NIL)
				messages = list_concat(messages,
									   append_old_schema(m, old_text, old_version));
			break;
		case COMPAT_NONE:
			break;
	}
	return messages;
}

/*
 * Append {oldSchemaVersion: N} (when known) and {oldSchema: '...'}, the
 * latter truncated as Confluent does past 10240 UTF-16 code units.
 */
static List *
append_old_schema(List *messages, const char *old_text, int old_version)
{
	size_t		units = 0;
	const unsigned char *p;
	size_t		cut = 0;

	if (old_version > 0)
		messages = lappend(messages,
						   psprintf("{oldSchemaVersion: %d}", old_version));

	/* count UTF-16 code units; remember where the first 10240 end */
	for (p = (const unsigned char *) old_text; *p;)
	{
		int			len = pg_utf_mblen(p);
		size_t		w = (len == 4) ? 2 : 1;

		if (units + w <= OLD_SCHEMA_MAX_CHARS)
			cut = (p - (const unsigned char *) old_text) + len;
		units += w;
		p += len;
	}

	if (units <= OLD_SCHEMA_MAX_CHARS)
		messages = lappend(messages, psprintf("{oldSchema: '%s'}", old_text));
	else
		messages = lappend(messages,
						   psprintf("{oldSchema: <truncated to %d characters> '%.*s'}",
									OLD_SCHEMA_MAX_CHARS, (int) cut, old_text));
	return messages;
}

/*
 * Run one checker over a pair and word its findings; with NULL labels only
 * the verdict matters and the result is a non-NIL dummy list if
 * incompatible.
 */
static List *
run_checker(const AvroSchema *reader, const AvroSchema *writer,
			const char *reader_label, const char *writer_label)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext oldcxt;
	Checker		ck;
	HASHCTL		ctl;
	List	   *found;
	List	   *messages = NIL;
	ListCell   *lc;

	ck.cxt = AllocSetContextCreate(caller, "avro compatibility check",
								   ALLOCSET_DEFAULT_SIZES);
	ck.exception = NULL;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(MemoKey);
	ctl.entrysize = sizeof(MemoEntry);
	ctl.hcxt = ck.cxt;
	oldcxt = MemoryContextSwitchTo(ck.cxt);
	ck.memo = hash_create("avro compatibility memo", 64, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	found = get_compatibility_fresh(&ck, reader, writer);
	MemoryContextSwitchTo(caller);

	if (ck.exception != NULL)
	{
		/* Confluent's AvroSchema.isBackwardCompatible catch clause */
		messages = list_make1(psprintf("Unexpected exception during compatibility check: %s",
									   ck.exception));
	}
	else if (reader_label == NULL)
	{
		if (found != NIL)
			messages = list_make1(pstrdup("incompatible"));
	}
	else
	{
		foreach(lc, found)
			messages = lappend(messages,
							   format_difference((Incompat *) lfirst(lc),
												 reader_label, writer_label));
	}

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(ck.cxt);
	return messages;
}

/*
 * Word one incompatibility as Confluent's avro/Difference.toString() does,
 * with the %s placeholders filled as SchemaValidatorBuilder fills them.
 */
static char *
format_difference(const Incompat *inc, const char *reader_label,
				  const char *writer_label)
{
	StringInfoData buf;
	const char *path = inc->location;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{errorType:'%s', description:'",
					 incompat_type_names[inc->type]);
	switch (inc->type)
	{
		case INCOMPAT_FIXED_SIZE_MISMATCH:
			appendStringInfo(&buf, "The size of FIXED type field at path '%s' in the %s schema does not match with the %s schema",
							 path, reader_label, writer_label);
			break;
		case INCOMPAT_TYPE_MISMATCH:
			appendStringInfo(&buf, "The type (path '%s') of a field in the %s schema does not match with the %s schema",
							 path, reader_label, writer_label);
			break;
		case INCOMPAT_NAME_MISMATCH:
			appendStringInfo(&buf, "The name of the schema has changed (path '%s')",
							 path);
			break;
		case INCOMPAT_MISSING_ENUM_SYMBOLS:
			appendStringInfo(&buf, "The %s schema is missing enum symbols '%s' at path '%s' in the %s schema",
							 reader_label, inc->message, path, writer_label);
			break;
		case INCOMPAT_MISSING_UNION_BRANCH:
			appendStringInfo(&buf, "The %s schema is missing a type inside a union field at path '%s' in the %s schema",
							 reader_label, path, writer_label);
			break;
		case INCOMPAT_READER_FIELD_MISSING_DEFAULT_VALUE:
			appendStringInfo(&buf, "The field '%s' at path '%s' in the %s schema has no default value and is missing in the %s schema",
							 inc->message, path, reader_label, writer_label);
			break;
	}
	appendStringInfo(&buf, "', additionalInfo:'%s'}", inc->message);
	return buf.data;
}

/* Java's getCompatibility(reader, writer): a walk with a fresh location. */
static List *
get_compatibility_fresh(Checker *ck, const AvroSchema *reader,
						const AvroSchema *writer)
{
	LocStack	loc = {0};

	return get_compatibility(ck, "", reader, writer, &loc);
}

/*
 * Check one pair at location token, memoizing non-primitive pairs by node
 * identity so recursive types terminate (Java's getCompatibility).
 */
static List *
get_compatibility(Checker *ck, const char *token, const AvroSchema *reader,
				  const AvroSchema *writer, LocStack *loc)
{
	List	   *result;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (ck->exception != NULL)
		return NIL;

	loc_push(loc, token);
	if (AVRO_TYPE_IS_PRIMITIVE(reader->type) ||
		AVRO_TYPE_IS_PRIMITIVE(writer->type))
		result = calculate_compatibility(ck, reader, writer, loc);
	else
	{
		MemoKey		key;
		MemoEntry  *entry;
		bool		found;

		key.reader = reader;
		key.writer = writer;
		entry = hash_search(ck->memo, &key, HASH_ENTER, &found);
		if (found)
		{
			/* in progress: compatible unless proven otherwise */
			result = entry->in_progress ? NIL : entry->result;
		}
		else
		{
			entry->in_progress = true;
			entry->result = NIL;
			result = calculate_compatibility(ck, reader, writer, loc);
			/* dynahash entries do not move, but look it up to be safe */
			entry = hash_search(ck->memo, &key, HASH_FIND, NULL);
			entry->in_progress = false;
			entry->result = result;
		}
	}
	loc_pop(loc);
	return result;
}

/* Java's calculateCompatibility: the rules for one pair. */
static List *
calculate_compatibility(Checker *ck, const AvroSchema *reader,
						const AvroSchema *writer, LocStack *loc)
{
	List	   *result = NIL;

	if (reader->type == writer->type)
	{
		switch (reader->type)
		{
			case AVRO_NULL:
			case AVRO_BOOLEAN:
			case AVRO_INT:
			case AVRO_LONG:
			case AVRO_FLOAT:
			case AVRO_DOUBLE:
			case AVRO_BYTES:
			case AVRO_STRING:
				return NIL;
			case AVRO_ARRAY:
				return list_concat_copy(NIL,
										get_compatibility(ck, "items",
														  reader->items,
														  writer->items, loc));
			case AVRO_MAP:
				return list_concat_copy(NIL,
										get_compatibility(ck, "values",
														  reader->items,
														  writer->items, loc));
			case AVRO_FIXED:
				result = check_schema_names(reader, writer, loc);
				return list_concat(result, check_fixed_size(reader, writer, loc));
			case AVRO_ENUM:
				result = check_schema_names(reader, writer, loc);
				return list_concat(result, check_enum_symbols(reader, writer, loc));
			case AVRO_RECORD:
				result = check_schema_names(reader, writer, loc);
				return list_concat(result,
								   check_record_fields(ck, reader, writer, loc));
			case AVRO_UNION:
				/* each writer branch must be readable by the reader union */
				for (int i = 0; i < writer->nbranches; i++)
				{
					const AvroSchema *branch = writer->branches[i];
					char		index[16];

					snprintf(index, sizeof(index), "%d", i);
					loc_push(loc, index);
					if (get_compatibility_fresh(ck, reader, branch) != NIL)
						result = list_concat(result,
											 incompatible(INCOMPAT_MISSING_UNION_BRANCH,
														  psprintf("reader union lacking writer type: %s",
																   java_type_name(branch->type)),
														  loc));
					loc_pop(loc);
					if (ck->exception != NULL)
						return NIL;
				}
				return result;
		}
		elog(ERROR, "unknown Avro type %d", (int) reader->type);
	}

	/* a writer union: every branch must be readable, fresh locations */
	if (writer->type == AVRO_UNION)
	{
		for (int i = 0; i < writer->nbranches; i++)
		{
			result = list_concat(result,
								 get_compatibility_fresh(ck, reader,
														 writer->branches[i]));
			if (ck->exception != NULL)
				return NIL;
		}
		return result;
	}

	switch (reader->type)
	{
		case AVRO_NULL:
		case AVRO_BOOLEAN:
		case AVRO_INT:
			return type_mismatch(reader, writer, loc);
		case AVRO_LONG:
			if (writer->type == AVRO_INT)
				return NIL;
			return type_mismatch(reader, writer, loc);
		case AVRO_FLOAT:
			if (writer->type == AVRO_INT || writer->type == AVRO_LONG)
				return NIL;
			return type_mismatch(reader, writer, loc);
		case AVRO_DOUBLE:
			if (writer->type == AVRO_INT || writer->type == AVRO_LONG ||
				writer->type == AVRO_FLOAT)
				return NIL;
			return type_mismatch(reader, writer, loc);
		case AVRO_BYTES:
			if (writer->type == AVRO_STRING)
				return NIL;
			return type_mismatch(reader, writer, loc);
		case AVRO_STRING:
			if (writer->type == AVRO_BYTES)
				return NIL;
			return type_mismatch(reader, writer, loc);
		case AVRO_ARRAY:
		case AVRO_MAP:
		case AVRO_FIXED:
		case AVRO_ENUM:
		case AVRO_RECORD:
			return type_mismatch(reader, writer, loc);
		case AVRO_UNION:
			/* some reader branch must read the writer */
			for (int i = 0; i < reader->nbranches; i++)
			{
				if (get_compatibility_fresh(ck, reader->branches[i], writer) == NIL)
					return NIL;	/* also when an exception is pending */
			}
			return incompatible(INCOMPAT_MISSING_UNION_BRANCH,
								psprintf("reader union lacking writer type: %s",
										 java_type_name(writer->type)),
								loc);
	}
	elog(ERROR, "unknown Avro type %d", (int) reader->type);
	return NIL;					/* keep compiler quiet */
}

/*
 * Every reader field must be filled from a writer field (by name or reader
 * alias) or from its default.
 */
static List *
check_record_fields(Checker *ck, const AvroSchema *reader,
					const AvroSchema *writer, LocStack *loc)
{
	List	   *result = NIL;

	loc_push(loc, "fields");
	for (int i = 0; i < reader->nfields; i++)
	{
		const AvroField *rf = &reader->fields[i];
		const AvroField *wf;
		char		index[16];

		snprintf(index, sizeof(index), "%d", rf->position);
		loc_push(loc, index);
		wf = lookup_writer_field(ck, writer, rf);
		if (ck->exception != NULL)
		{
			loc_pop(loc);
			break;
		}
		if (wf == NULL)
		{
			if (!rf->has_default)
			{
				/* Java compares an enum with a default against the record */
				if (rf->type->type == AVRO_ENUM && rf->type->enum_default != NULL)
					result = list_concat(result,
										 get_compatibility(ck, "type", rf->type,
														   writer, loc));
				else
					result = list_concat(result,
										 incompatible(INCOMPAT_READER_FIELD_MISSING_DEFAULT_VALUE,
													  pstrdup(rf->name), loc));
			}
		}
		else
			result = list_concat(result,
								 get_compatibility(ck, "type", rf->type,
												   wf->type, loc));
		loc_pop(loc);
		if (ck->exception != NULL)
			break;
	}
	loc_pop(loc);
	return ck->exception != NULL ? NIL : result;
}

/*
 * Find the writer field for a reader field by name and reader aliases
 * (Java's lookupWriterField); more than one match is Java's exception.
 */
static const AvroField *
lookup_writer_field(Checker *ck, const AvroSchema *writer,
					const AvroField *reader_field)
{
	const AvroField *match = NULL;
	int			nmatches = 0;

	/* fast path: same position, same name */
	if (reader_field->position < writer->nfields &&
		strcmp(writer->fields[reader_field->position].name,
			   reader_field->name) == 0)
	{
		match = &writer->fields[reader_field->position];
		nmatches = 1;
	}
	else
	{
		for (int j = 0; j < writer->nfields; j++)
		{
			if (strcmp(writer->fields[j].name, reader_field->name) == 0)
			{
				match = &writer->fields[j];
				nmatches = 1;
				break;
			}
		}
	}

	for (int a = 0; a < reader_field->naliases; a++)
	{
		for (int j = 0; j < writer->nfields; j++)
		{
			if (strcmp(writer->fields[j].name, reader_field->aliases[a]) == 0)
			{
				if (match == NULL)
					match = &writer->fields[j];
				nmatches++;
				break;
			}
		}
	}

	if (nmatches > 1)
	{
		/* Java: Field.toString() and Schema.toString() */
		ck->exception = psprintf("Reader record field %s type:%s pos:%d matches multiple fields in writer record schema %s",
								 reader_field->name,
								 java_type_name(reader_field->type->type),
								 reader_field->position,
								 AvroSchemaToJson(writer, false));
		return NULL;
	}
	return match;
}

/*
 * Every writer symbol must be a reader symbol, unless the reader enum has
 * a default.
 */
static List *
check_enum_symbols(const AvroSchema *reader, const AvroSchema *writer,
				   LocStack *loc)
{
	const char **missing;
	int			nmissing = 0;
	StringInfoData buf;
	List	   *result;

	missing = palloc(sizeof(char *) * Max(writer->nsymbols, 1));
	for (int i = 0; i < writer->nsymbols; i++)
	{
		bool		present = false;

		for (int j = 0; j < reader->nsymbols && !present; j++)
			present = strcmp(writer->symbols[i], reader->symbols[j]) == 0;
		if (!present)
			missing[nmissing++] = writer->symbols[i];
	}
	if (nmissing == 0)
		return NIL;

	if (reader->enum_default != NULL)
	{
		for (int j = 0; j < reader->nsymbols; j++)
			if (strcmp(reader->symbols[j], reader->enum_default) == 0)
				return NIL;
	}

	/* Java's TreeSet<String>.toString(): sorted, "[A, B]" */
	qsort(missing, nmissing, sizeof(char *), cmp_cstring);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < nmissing; i++)
	{
		if (i > 0 && strcmp(missing[i], missing[i - 1]) == 0)
			continue;
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, missing[i]);
	}
	appendStringInfoChar(&buf, ']');

	loc_push(loc, "symbols");
	result = incompatible(INCOMPAT_MISSING_ENUM_SYMBOLS, buf.data, loc);
	loc_pop(loc);
	return result;
}

/* Fixed sizes must be equal. */
static List *
check_fixed_size(const AvroSchema *reader, const AvroSchema *writer,
				 LocStack *loc)
{
	List	   *result;

	if (reader->size == writer->size)
		return NIL;
	loc_push(loc, "size");
	result = incompatible(INCOMPAT_FIXED_SIZE_MISMATCH,
						  psprintf("expected: %d, found: %d",
								   writer->size, reader->size),
						  loc);
	loc_pop(loc);
	return result;
}

/*
 * Named types match on their simple names (Java 1.11's schemaNameEquals
 * compares getName()) or when a reader alias is the writer's full name.
 */
static List *
check_schema_names(const AvroSchema *reader, const AvroSchema *writer,
				   LocStack *loc)
{
	List	   *result;

	if (strcmp(reader->name, writer->name) == 0)
		return NIL;
	for (int i = 0; i < reader->naliases; i++)
		if (strcmp(reader->aliases[i], writer->fullname) == 0)
			return NIL;

	loc_push(loc, "name");
	result = incompatible(INCOMPAT_NAME_MISMATCH,
						  psprintf("expected: %s", writer->fullname), loc);
	loc_pop(loc);
	return result;
}

/* A TYPE_MISMATCH at the current location. */
static List *
type_mismatch(const AvroSchema *reader, const AvroSchema *writer,
			  LocStack *loc)
{
	return incompatible(INCOMPAT_TYPE_MISMATCH,
						psprintf("reader type: %s not compatible with writer type: %s",
								 java_type_name(reader->type),
								 java_type_name(writer->type)),
						loc);
}

/* A one-element result for an incompatibility at the current location. */
static List *
incompatible(IncompatType type, char *message, LocStack *loc)
{
	Incompat   *inc = palloc(sizeof(Incompat));

	inc->type = type;
	inc->message = message;
	inc->location = loc_pointer(loc);
	return list_make1(inc);
}

/* Push a reference token. */
static void
loc_push(LocStack *loc, const char *token)
{
	if (loc->n == loc->cap)
	{
		loc->cap = loc->cap ? loc->cap * 2 : 16;
		if (loc->tokens == NULL)
			loc->tokens = palloc(sizeof(char *) * loc->cap);
		else
			loc->tokens = repalloc(loc->tokens, sizeof(char *) * loc->cap);
	}
	loc->tokens[loc->n++] = pstrdup(token);
}

/* Pop a reference token. */
static void
loc_pop(LocStack *loc)
{
	Assert(loc->n > 0);
	pfree((void *) loc->tokens[--loc->n]);
}

/*
 * The location as a JSON pointer, root token dropped and "~" and "/"
 * escaped (Java's Incompatibility.getLocation()).
 */
static char *
loc_pointer(const LocStack *loc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '/');
	for (int i = 1; i < loc->n; i++)
	{
		if (i > 1)
			appendStringInfoChar(&buf, '/');
		for (const char *c = loc->tokens[i]; *c; c++)
		{
			if (*c == '~')
				appendStringInfoString(&buf, "~0");
			else if (*c == '/')
				appendStringInfoString(&buf, "~1");
			else
				appendStringInfoChar(&buf, *c);
		}
	}
	return buf.data;
}

/* Java's Schema.Type name ("RECORD", "INT", ...). */
static const char *
java_type_name(AvroType type)
{
	if ((int) type < 0 || (int) type >= lengthof(java_type_names))
		elog(ERROR, "unknown Avro type %d", (int) type);
	return java_type_names[type];
}

/* qsort comparator for C strings (Java String order for ASCII names). */
static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A List of C strings as a text[] (empty array for NIL). */
static ArrayType *
text_list_to_array(List *messages)
{
	Datum	   *elems;
	int			n = list_length(messages);
	int			i = 0;
	ListCell   *lc;

	if (n == 0)
		return construct_empty_array(TEXTOID);
	elems = palloc(sizeof(Datum) * n);
	foreach(lc, messages)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return construct_array_builtin(elems, n, TEXTOID);
}

/* Parse a level argument, raising Confluent's error 42203 if unknown. */
static CompatLevel
compat_level_from_text(text *t)
{
	char	   *s = text_to_cstring(t);
	CompatLevel level;

	if (!CompatLevelFromString(s, &level))
		ereport(ERROR,
				(errcode(ERRCODE_DC_INVALID_COMPATIBILITY_LEVEL),
				 errmsg(COMPAT_INVALID_LEVEL_MESSAGE),
				 errdetail_dc(42203)));
	return level;
}
