/*-------------------------------------------------------------------------
 *
 * contract_tags.c
 *	  Tags of a data contract: the fields of an Avro schema with their
 *	  inline "confluent:tags", and the path globs of metadata.tags.
 *
 * A field's full name is its record's full name, a dot and the field name
 * ("com.acme.Customer.ssn"); nested records are walked too, each record
 * once (named types may be referenced again, or recursively).  External
 * tags are matched against that full name by the SQL view datacontract.fields.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "avro_schema.h"
#include "contract.h"

PG_FUNCTION_INFO_V1(tag_glob_match);
PG_FUNCTION_INFO_V1(schema_fields);

/* Columns of datacontract.schema_fields(). */
#define SCHEMA_FIELDS_NATTS			8
#define SF_COL_PATH					0
#define SF_COL_RECORD				1
#define SF_COL_NAME					2
#define SF_COL_POSITION				3
#define SF_COL_TYPE					4
#define SF_COL_PRIMITIVE			5
#define SF_COL_INLINE_TAGS			6
#define SF_COL_RECORD_TAGS			7

/* Tokens of a compiled glob. */
typedef enum GlobTokenKind
{
	GLOB_LITERAL,				/* one character, matched byte for byte */
	GLOB_ONE,					/* "?": one character other than "." */
	GLOB_STAR,					/* "*": a run of characters without "." */
	GLOB_DOUBLE_STAR			/* "**": any run of characters */
} GlobTokenKind;

typedef struct GlobToken
{
	GlobTokenKind kind;
	const char *chr;			/* GLOB_LITERAL: the character's bytes */
	int			len;			/* GLOB_LITERAL: their number */
} GlobToken;

/* State of the schema walk behind schema_fields(). */
typedef struct FieldWalk
{
	ReturnSetInfo *rsinfo;
	List	   *seen;			/* records already listed */
} FieldWalk;

static int	CompileGlob(const char *pattern, int len, GlobToken *tokens);
static void WalkSchema(FieldWalk *walk, const AvroSchema *schema, int depth);
static void EmitRecordFields(FieldWalk *walk, const AvroSchema *record);
static void AppendTypeName(StringInfo buf, const AvroSchema *schema, int depth);
static Datum TagsDatum(const AvroJson *props);

/*
 * tag_glob_match(pattern text, path text) RETURNS boolean: whether an
 * external tag's path glob matches a field's full name.
 */
Datum
tag_glob_match(PG_FUNCTION_ARGS)
{
	text	   *pattern = PG_GETARG_TEXT_PP(0);
	text	   *path = PG_GETARG_TEXT_PP(1);

	PG_RETURN_BOOL(ContractGlobMatch(VARDATA_ANY(pattern), VARSIZE_ANY_EXHDR(pattern),
									 VARDATA_ANY(path), VARSIZE_ANY_EXHDR(path)));
}

/*
 * schema_fields(schema text) RETURNS TABLE (path, record, name, position,
 * type, primitive, inline_tags, record_tags): every field of every record
 * an Avro schema reaches, so tags can be listed and matched from SQL.
 */
Datum
schema_fields(PG_FUNCTION_ARGS)
{
	text	   *schema_text = PG_GETARG_TEXT_PP(0);
	const AvroSchemaTree *tree;
	FieldWalk	walk;

	InitMaterializedSRF(fcinfo, 0);
	tree = AvroSchemaCacheGet(VARDATA_ANY(schema_text), VARSIZE_ANY_EXHDR(schema_text));

	walk.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	walk.seen = NIL;
	WalkSchema(&walk, tree->root, 0);
	list_free(walk.seen);
	return (Datum) 0;
}

/*
 * Does a glob match a path?  Both are in the database encoding; "?" takes
 * one whole (possibly multibyte) character.  Dynamic programming over
 * (token, byte offset), so no pattern can make it slow.
 */
bool
ContractGlobMatch(const char *pattern, int pattern_len, const char *path, int path_len)
{
	GlobToken  *tokens;
	int			ntokens;
	bool	   *cur;
	bool	   *next;
	bool		result;

	tokens = palloc(sizeof(GlobToken) * (pattern_len + 1));
	ntokens = CompileGlob(pattern, pattern_len, tokens);

	/*
	 * next[j]: tokens[t+1..] match path[j..]; computed for t from the last
	 * token down to the first.  Offsets j that are not character starts are
	 * never reached from offset 0, so treating them loosely is harmless.
	 */
	cur = palloc0(sizeof(bool) * (path_len + 1));
	next = palloc0(sizeof(bool) * (path_len + 1));
	next[path_len] = true;		/* no tokens match only the empty rest */

	for (int t = ntokens - 1; t >= 0; t--)
	{
		const GlobToken *tok = &tokens[t];
		bool	   *swap;

		CHECK_FOR_INTERRUPTS();
		for (int j = path_len; j >= 0; j--)
		{
			bool		m = false;

			switch (tok->kind)
			{
				case GLOB_LITERAL:
					m = j + tok->len <= path_len &&
						memcmp(path + j, tok->chr, tok->len) == 0 &&
						next[j + tok->len];
					break;
				case GLOB_ONE:
					if (j < path_len && path[j] != '.')
					{
						int			l = pg_mblen(path + j);

						m = j + l <= path_len && next[j + l];
					}
					break;
				case GLOB_STAR:
					/* zero characters, or one non-dot byte and the star again */
					m = next[j] || (j < path_len && path[j] != '.' && cur[j + 1]);
					break;
				case GLOB_DOUBLE_STAR:
					m = next[j] || (j < path_len && cur[j + 1]);
					break;
			}
			cur[j] = m;
		}
		swap = next;
		next = cur;
		cur = swap;
	}
	result = next[0];

	pfree(tokens);
	pfree(cur);
	pfree(next);
	return result;
}

/*
 * Compile a glob into tokens (the array has room for one per byte).
 * "**.*" is read as "**", as Confluent rewrites it before matching.
 */
static int
CompileGlob(const char *pattern, int len, GlobToken *tokens)
{
	int			n = 0;
	int			i = 0;

	while (i < len)
	{
		if (pattern[i] == '*' && i + 1 < len && pattern[i + 1] == '*')
		{
			tokens[n++].kind = GLOB_DOUBLE_STAR;
			i += 2;
			if (i + 1 < len && pattern[i] == '.' && pattern[i + 1] == '*')
				i += 2;
		}
		else if (pattern[i] == '*')
		{
			tokens[n++].kind = GLOB_STAR;
			i++;
		}
		else if (pattern[i] == '?')
		{
			tokens[n++].kind = GLOB_ONE;
			i++;
		}
		else
		{
			int			l = Min(pg_mblen(pattern + i), len - i);

			tokens[n].kind = GLOB_LITERAL;
			tokens[n].chr = pattern + i;
			tokens[n].len = l;
			n++;
			i += l;
		}
	}
	return n;
}

/* Walk a schema node, listing the fields of each record it reaches once. */
static void
WalkSchema(FieldWalk *walk, const AvroSchema *schema, int depth)
{
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	switch (schema->type)
	{
		case AVRO_RECORD:
			if (list_member_ptr(walk->seen, schema))
				return;
			walk->seen = lappend(walk->seen, (void *) schema);
			EmitRecordFields(walk, schema);
			for (int i = 0; i < schema->nfields; i++)
				WalkSchema(walk, schema->fields[i].type, depth + 1);
			break;
		case AVRO_ARRAY:
		case AVRO_MAP:
			WalkSchema(walk, schema->items, depth + 1);
			break;
		case AVRO_UNION:
			for (int i = 0; i < schema->nbranches; i++)
				WalkSchema(walk, schema->branches[i], depth + 1);
			break;
		default:
			break;
	}
}

/* One row per field of a record. */
static void
EmitRecordFields(FieldWalk *walk, const AvroSchema *record)
{
	Datum		record_tags = TagsDatum(record->props_json);

	for (int i = 0; i < record->nfields; i++)
	{
		const AvroField *field = &record->fields[i];
		Datum		values[SCHEMA_FIELDS_NATTS];
		bool		nulls[SCHEMA_FIELDS_NATTS] = {0};
		StringInfoData type;

		initStringInfo(&type);
		AppendTypeName(&type, field->type, 0);

		values[SF_COL_PATH] = CStringGetTextDatum(psprintf("%s.%s", record->fullname, field->name));
		values[SF_COL_RECORD] = CStringGetTextDatum(record->fullname);
		values[SF_COL_NAME] = CStringGetTextDatum(field->name);
		values[SF_COL_POSITION] = Int32GetDatum(field->position);
		values[SF_COL_TYPE] = CStringGetTextDatum(type.data);
		values[SF_COL_PRIMITIVE] = BoolGetDatum(AVRO_TYPE_IS_PRIMITIVE(field->type->type));
		values[SF_COL_INLINE_TAGS] = TagsDatum(field->props_json);
		values[SF_COL_RECORD_TAGS] = record_tags;

		tuplestore_putvalues(walk->rsinfo->setResult, walk->rsinfo->setDesc, values, nulls);
		pfree(type.data);
	}
}

/*
 * A readable type: primitives by name (with their logical type, as in
 * "long(timestamp-millis)"), named types by full name, "array<T>",
 * "map<T>" and "union<T1,T2>".  Named types are never expanded, so the
 * text stays short and recursion ends.
 */
static void
AppendTypeName(StringInfo buf, const AvroSchema *schema, int depth)
{
	check_stack_depth();
	switch (schema->type)
	{
		case AVRO_RECORD:
		case AVRO_ENUM:
		case AVRO_FIXED:
			appendStringInfoString(buf, schema->fullname);
			break;
		case AVRO_ARRAY:
		case AVRO_MAP:
			appendStringInfo(buf, "%s<", schema->type == AVRO_ARRAY ? "array" : "map");
			AppendTypeName(buf, schema->items, depth + 1);
			appendStringInfoChar(buf, '>');
			break;
		case AVRO_UNION:
			appendStringInfoString(buf, "union<");
			for (int i = 0; i < schema->nbranches; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				AppendTypeName(buf, schema->branches[i], depth + 1);
			}
			appendStringInfoChar(buf, '>');
			break;
		default:
			appendStringInfoString(buf, AvroTypeName(schema->type));
			if (schema->logical != AVRO_LOGICAL_NONE && schema->logical_name != NULL)
				appendStringInfo(buf, "(%s)", schema->logical_name);
			break;
	}
}

/*
 * The string members of a "confluent:tags" attribute as text[], sorted and
 * without duplicates (Confluent keeps tags as a sorted set); an empty
 * array when there are none.
 */
static Datum
TagsDatum(const AvroJson *props)
{
	const AvroJson *tags = props ? AvroJsonObjectGet(props, "confluent:tags") : NULL;
	Datum	   *elems;
	int			n = 0;

	if (tags == NULL || tags->kind != AVRO_JSON_ARRAY || tags->len == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));

	elems = palloc(sizeof(Datum) * tags->len);
	for (int i = 0; i < tags->len; i++)
	{
		const AvroJson *tag = tags->elems[i];
		bool		dup = false;
		int			pos;

		if (tag->kind != AVRO_JSON_STRING)
			continue;
		/* insertion sort by byte order, skipping duplicates */
		for (pos = 0; pos < n; pos++)
		{
			int			c = strcmp(TextDatumGetCString(elems[pos]), tag->str);

			if (c == 0)
				dup = true;
			if (c >= 0)
				break;
		}
		if (dup)
			continue;
		memmove(elems + pos + 1, elems + pos, sizeof(Datum) * (n - pos));
		elems[pos] = CStringGetTextDatum(tag->str);
		n++;
	}
	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
