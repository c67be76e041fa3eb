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
 * Tags are also edited here: avro_modify_tags() adds and removes inline
 * tags on records and fields (Confluent's schemaTagsToAdd/Remove and
 * POST /subjects/{s}/versions/{v}/tags), and schema_entities() lists the
 * entities (records and fields) with their inline tags, in Confluent's
 * order, for findTags and propagateSchemaTags.
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
/* fmgrprotos.h declares the SQL function json_object(), as jansson does. */
#define json_object pg_fmgr_json_object
#include "utils/builtins.h"
#undef json_object
#include "utils/jsonb.h"

#include <jansson.h>

#include "avro_schema.h"
#include "contract.h"
#include "datacontract.h"

PG_FUNCTION_INFO_V1(tag_glob_match);
PG_FUNCTION_INFO_V1(schema_fields);
PG_FUNCTION_INFO_V1(schema_entities);
PG_FUNCTION_INFO_V1(avro_modify_tags);

/* Columns of datacontract.schema_entities(). */
#define SCHEMA_ENTITIES_NATTS		4
#define SE_COL_ORDINAL				0
#define SE_COL_PATH					1
#define SE_COL_TYPE					2
#define SE_COL_TAGS					3

/* The inline tags attribute of records and fields. */
#define CONFLUENT_TAGS				"confluent:tags"

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

/* State of the walk behind schema_entities(). */
typedef struct EntityWalk
{
	ReturnSetInfo *rsinfo;
	List	   *seen;			/* records already listed */
	int			ordinal;
} EntityWalk;

/* One entity to edit: its path, what to add and what to remove. */
typedef struct TagEdit
{
	char	   *path;			/* entityPath as given */
	bool		is_field;		/* sr_field (else sr_record) */
	char	   *record;			/* full name of the record */
	char	   *field;			/* field name (sr_field) */
	List	   *add;			/* of char *, in order */
	List	   *remove;			/* of char * */
} TagEdit;

static void WalkEntities(EntityWalk *walk, const AvroSchema *schema);
static void EmitEntity(EntityWalk *walk, const char *path, const char *type,
					   const AvroJson *props);
static Datum OrderedTagsDatum(const AvroJson *props);
static List *ParseTagList(List *edits, Jsonb *list, bool adding, const char *what);
static json_t *FindEntity(json_t *node, const char *ns, const TagEdit *edit, int depth);
static void ApplyTagEdit(json_t *node, const TagEdit *edit);
static bool StrListMember(List *list, const char *s);

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

/*
 * schema_entities(schema text) RETURNS TABLE (ordinal, entity_path,
 * entity_type, tags): every record ("sr_record", path = full name) and
 * field ("sr_field", path = record full name + "." + field) an Avro schema
 * reaches, with its inline confluent:tags in their written order (without
 * duplicates).  The order is Confluent's AvroSchema.inlineTaggedEntities():
 * a record, then each of its fields followed by what the field's type
 * reaches; each record once.
 */
Datum
schema_entities(PG_FUNCTION_ARGS)
{
	text	   *schema_text = PG_GETARG_TEXT_PP(0);
	const AvroSchemaTree *tree;
	EntityWalk	walk;

	InitMaterializedSRF(fcinfo, 0);
	tree = AvroSchemaCacheGet(VARDATA_ANY(schema_text), VARSIZE_ANY_EXHDR(schema_text));

	walk.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	walk.seen = NIL;
	walk.ordinal = 0;
	WalkEntities(&walk, tree->root);
	list_free(walk.seen);
	return (Datum) 0;
}

static void
WalkEntities(EntityWalk *walk, const AvroSchema *schema)
{
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	switch (schema->type)
	{
		case AVRO_RECORD:
			if (list_member_ptr(walk->seen, schema))
				return;
			walk->seen = lappend(walk->seen, (void *) schema);
			EmitEntity(walk, schema->fullname, "sr_record", schema->props_json);
			for (int i = 0; i < schema->nfields; i++)
			{
				const AvroField *field = &schema->fields[i];
				char	   *path = psprintf("%s.%s", schema->fullname, field->name);

				EmitEntity(walk, path, "sr_field", field->props_json);
				pfree(path);
				WalkEntities(walk, field->type);
			}
			break;
		case AVRO_ARRAY:
		case AVRO_MAP:
			WalkEntities(walk, schema->items);
			break;
		case AVRO_UNION:
			for (int i = 0; i < schema->nbranches; i++)
				WalkEntities(walk, schema->branches[i]);
			break;
		default:
			break;
	}
}

static void
EmitEntity(EntityWalk *walk, const char *path, const char *type, const AvroJson *props)
{
	Datum		values[SCHEMA_ENTITIES_NATTS];
	bool		nulls[SCHEMA_ENTITIES_NATTS] = {0};

	values[SE_COL_ORDINAL] = Int32GetDatum(++walk->ordinal);
	values[SE_COL_PATH] = CStringGetTextDatum(path);
	values[SE_COL_TYPE] = CStringGetTextDatum(type);
	values[SE_COL_TAGS] = OrderedTagsDatum(props);
	tuplestore_putvalues(walk->rsinfo->setResult, walk->rsinfo->setDesc, values, nulls);
}

/*
 * The string members of a "confluent:tags" attribute as text[], in their
 * written order without duplicates (Confluent's LinkedHashSet).
 */
static Datum
OrderedTagsDatum(const AvroJson *props)
{
	const AvroJson *tags = props ? AvroJsonObjectGet(props, CONFLUENT_TAGS) : NULL;
	Datum	   *elems;
	const char **seen;
	int			n = 0;

	if (tags == NULL || tags->kind != AVRO_JSON_ARRAY || tags->len == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));

	elems = palloc(sizeof(Datum) * tags->len);
	seen = palloc(sizeof(char *) * tags->len);
	for (int i = 0; i < tags->len; i++)
	{
		const AvroJson *tag = tags->elems[i];
		bool		dup = false;

		if (tag->kind != AVRO_JSON_STRING)
			continue;
		for (int j = 0; j < n && !dup; j++)
			dup = strcmp(seen[j], tag->str) == 0;
		if (dup)
			continue;
		seen[n] = tag->str;
		elems[n++] = CStringGetTextDatum(tag->str);
	}
	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Raise Confluent's 42201 (invalid schema) with a message. */
#define TAGS_ERROR(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_DC_INVALID_SCHEMA), \
			 errmsg(__VA_ARGS__), \
			 errdetail_dc(42201)))

/*
 * avro_modify_tags(schema text, tags_to_add jsonb, tags_to_remove jsonb,
 *					refs text[] DEFAULT NULL, missing_ok boolean DEFAULT false)
 *	 RETURNS text
 *
 * Add and remove inline "confluent:tags" on records and fields, as
 * Confluent's AvroSchema.copy(tagsToAdd, tagsToRemove) does.  Each list is
 * [{"schemaEntity": {"entityPath": "ns.Record" | "ns.Record.field",
 * "entityType": "sr_record" | "sr_field"}, "tags": ["PII", ...]}].  An
 * entity's tags keep their order; added ones are appended, removed ones
 * dropped, and an entity left without tags loses the attribute.  Only the
 * schema's own text is searched (not referenced schemas, whose stored
 * texts "refs" are only needed to parse the result).  An entity that is
 * not there is error 42201, or skipped with missing_ok.  The result is the
 * registry's stored form of the modified schema.
 */
Datum
avro_modify_tags(PG_FUNCTION_ARGS)
{
	text	   *schema;
	List	   *edits = NIL;
	const char **refs = NULL;
	size_t	   *ref_lens = NULL;
	int			nrefs = 0;
	bool		missing_ok = PG_NARGS() > 4 && !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	json_t	   *volatile root = NULL;
	char	   *volatile dumped = NULL;
	char	   *modified = NULL;
	AvroSchemaTree *tree;
	char	   *msg;
	char	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	schema = PG_GETARG_TEXT_PP(0);

	if (!PG_ARGISNULL(1))
		edits = ParseTagList(edits, PG_GETARG_JSONB_P(1), true, "tags to add");
	if (!PG_ARGISNULL(2))
		edits = ParseTagList(edits, PG_GETARG_JSONB_P(2), false, "tags to remove");

	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(3);
		Datum	   *elems;
		bool	   *elnulls;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elnulls, &nrefs);
		refs = palloc(sizeof(char *) * Max(nrefs, 1));
		ref_lens = palloc(sizeof(size_t) * Max(nrefs, 1));
		for (int i = 0; i < nrefs; i++)
		{
			text	   *t;

			if (elnulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("referenced schema %d is null", i + 1)));
			t = DatumGetTextPP(elems[i]);
			refs[i] = VARDATA_ANY(t);
			ref_lens[i] = VARSIZE_ANY_EXHDR(t);
		}
	}

	if (edits == NIL)
	{
		/* Nothing to change: still the stored form, as Confluent re-prints. */
		modified = text_to_cstring(schema);
	}
	else
	{
		PG_TRY();
		{
			json_error_t jerr;
			ListCell   *lc;

			memset(&jerr, 0, sizeof(jerr));
			root = json_loadb(VARDATA_ANY(schema), VARSIZE_ANY_EXHDR(schema),
							  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
			if (root == NULL)
				TAGS_ERROR("Invalid schema: invalid JSON: %s (line %d, column %d)",
						   jerr.text, jerr.line, jerr.column);

			foreach(lc, edits)
			{
				TagEdit    *edit = lfirst(lc);
				json_t	   *node = FindEntity(root, NULL, edit, 0);

				if (node == NULL)
				{
					if (missing_ok)
						continue;
					ereport(ERROR,
							(errcode(ERRCODE_DC_INVALID_SCHEMA),
							 errmsg("No matching path '%s' found in the schema", edit->path),
							 errdetail_dc(42201),
							 errhint("An %s entity path is %s.",
									 edit->is_field ? "sr_field" : "sr_record",
									 edit->is_field ? "the record's full name, a dot and the field name"
									 : "the record's full name")));
				}
				ApplyTagEdit(node, edit);
			}
			dumped = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
			if (dumped == NULL)
				elog(ERROR, "could not print the modified schema");
			modified = pstrdup(dumped);
		}
		PG_FINALLY();
		{
			if (root != NULL)
				json_decref(root);
			if (dumped != NULL)
				free(dumped);
		}
		PG_END_TRY();
	}

	tree = AvroParseSchemaWithRefs(modified, strlen(modified), refs, ref_lens, nrefs,
								   CurrentMemoryContext, &msg);
	if (tree == NULL)
		TAGS_ERROR("Invalid schema: %s", msg);
	result = AvroSchemaTreeToJson(tree, false);
	AvroFreeSchemaTree(tree);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * Read one list of SchemaTags into the edits (one edit per entity, merged
 * across both lists, in order of first appearance).
 */
static List *
ParseTagList(List *edits, Jsonb *list, bool adding, const char *what)
{
	char	   *buf = JsonbToCString(NULL, &list->root, VARSIZE(list));
	json_t	   *volatile root = NULL;

	PG_TRY();
	{
		json_error_t jerr;
		size_t		i;
		json_t	   *item;

		root = json_loads(buf, JSON_DECODE_ANY, &jerr);
		if (root == NULL)
			elog(ERROR, "could not read the %s: %s", what, jerr.text);
		if (json_is_null(root))
		{
			/* no tags */
		}
		else if (!json_is_array(root))
			TAGS_ERROR("Invalid %s: expected a JSON array of {\"schemaEntity\": {...}, \"tags\": [...]}",
					   what);
		else
			json_array_foreach(root, i, item)
		{
			json_t	   *entity = json_object_get(item, "schemaEntity");
			json_t	   *jpath = json_object_get(entity, "entityPath");
			json_t	   *jtype = json_object_get(entity, "entityType");
			json_t	   *jtags = json_object_get(item, "tags");
			const char *path;
			const char *dot;
			bool		is_field;
			TagEdit    *edit = NULL;
			ListCell   *lc;
			size_t		k;
			json_t	   *tag;

			if (!json_is_object(item) || !json_is_object(entity))
				TAGS_ERROR("Invalid %s: each entry needs a \"schemaEntity\" object", what);
			if (!json_is_string(jpath) || json_string_length(jpath) == 0)
				TAGS_ERROR("Invalid %s: \"entityPath\" must be a non-empty string", what);
			if (!json_is_string(jtype) ||
				(pg_strcasecmp(json_string_value(jtype), "sr_record") != 0 &&
				 pg_strcasecmp(json_string_value(jtype), "sr_field") != 0))
				TAGS_ERROR("Invalid %s: \"entityType\" must be \"sr_record\" or \"sr_field\"", what);
			if (jtags != NULL && !json_is_null(jtags) && !json_is_array(jtags))
				TAGS_ERROR("Invalid %s: \"tags\" must be an array of strings", what);

			path = json_string_value(jpath);
			is_field = pg_strcasecmp(json_string_value(jtype), "sr_field") == 0;
			foreach(lc, edits)
			{
				TagEdit    *e = lfirst(lc);

				if (e->is_field == is_field && strcmp(e->path, path) == 0)
				{
					edit = e;
					break;
				}
			}
			if (edit == NULL)
			{
				edit = palloc0(sizeof(TagEdit));
				edit->path = pstrdup(path);
				edit->is_field = is_field;
				dot = strrchr(path, '.');
				if (is_field)
				{
					/* "Record.field": a field needs its record's name */
					edit->record = dot ? pnstrdup(path, dot - path) : pstrdup("");
					edit->field = pstrdup(dot ? dot + 1 : path);
				}
				else
					edit->record = pstrdup(path);
				edits = lappend(edits, edit);
			}
			json_array_foreach(jtags, k, tag)
			{
				const char *t;

				if (!json_is_string(tag))
					TAGS_ERROR("Invalid %s: \"tags\" must be an array of strings", what);
				t = json_string_value(tag);
				if (adding && !StrListMember(edit->add, t))
					edit->add = lappend(edit->add, pstrdup(t));
				else if (!adding && !StrListMember(edit->remove, t))
					edit->remove = lappend(edit->remove, pstrdup(t));
			}
		}
	}
	PG_FINALLY();
	{
		if (root != NULL)
			json_decref(root);
	}
	PG_END_TRY();
	pfree(buf);
	return edits;
}

static bool
StrListMember(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp((const char *) lfirst(lc), s) == 0)
			return true;
	return false;
}

/*
 * Find the JSON object of an entity: the record whose full name is
 * edit->record (names resolved as Avro does: a dotted name is full, else
 * the "namespace" attribute or the enclosing namespace applies), or that
 * record's field.  Named types used again by name are not entered: each
 * is defined once, where the walk meets it.
 */
static json_t *
FindEntity(json_t *node, const char *ns, const TagEdit *edit, int depth)
{
	json_t	   *type;
	const char *t;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (json_is_array(node))
	{
		size_t		i;
		json_t	   *branch;

		json_array_foreach(node, i, branch)
		{
			json_t	   *hit = FindEntity(branch, ns, edit, depth + 1);

			if (hit != NULL)
				return hit;
		}
		return NULL;
	}
	if (!json_is_object(node))
		return NULL;

	type = json_object_get(node, "type");
	if (!json_is_string(type))
		return type ? FindEntity(type, ns, edit, depth + 1) : NULL;
	t = json_string_value(type);

	if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0)
	{
		json_t	   *jname = json_object_get(node, "name");
		json_t	   *jns = json_object_get(node, "namespace");
		json_t	   *fields = json_object_get(node, "fields");
		const char *name = json_is_string(jname) ? json_string_value(jname) : "";
		const char *dot = strrchr(name, '.');
		char	   *fullname;
		char	   *own_ns;
		size_t		i;
		json_t	   *field;

		if (dot != NULL)
		{
			own_ns = pnstrdup(name, dot - name);
			fullname = pstrdup(name);
		}
		else
		{
			if (json_is_string(jns))
				own_ns = pstrdup(json_string_value(jns));
			else
				own_ns = ns ? pstrdup(ns) : pstrdup("");
			fullname = own_ns[0] ? psprintf("%s.%s", own_ns, name) : pstrdup(name);
		}

		if (strcmp(fullname, edit->record) == 0)
		{
			if (!edit->is_field)
				return node;
			json_array_foreach(fields, i, field)
			{
				json_t	   *fname = json_object_get(field, "name");

				if (json_is_string(fname) && strcmp(json_string_value(fname), edit->field) == 0)
					return field;
			}
			return NULL;
		}
		json_array_foreach(fields, i, field)
		{
			json_t	   *hit = FindEntity(json_object_get(field, "type"), own_ns, edit, depth + 1);

			if (hit != NULL)
				return hit;
		}
		return NULL;
	}
	if (strcmp(t, "array") == 0)
		return FindEntity(json_object_get(node, "items"), ns, edit, depth + 1);
	if (strcmp(t, "map") == 0)
		return FindEntity(json_object_get(node, "values"), ns, edit, depth + 1);
	return NULL;
}

/* Apply one entity's additions, then its removals, to its JSON object. */
static void
ApplyTagEdit(json_t *node, const TagEdit *edit)
{
	json_t	   *old = json_object_get(node, CONFLUENT_TAGS);
	List	   *tags = NIL;
	ListCell   *lc;
	json_t	   *arr;
	size_t		i;
	json_t	   *tag;

	if (json_is_array(old))
		json_array_foreach(old, i, tag)
	{
		if (json_is_string(tag) && !StrListMember(tags, json_string_value(tag)))
			tags = lappend(tags, pstrdup(json_string_value(tag)));
	}
	foreach(lc, edit->add)
		if (!StrListMember(tags, lfirst(lc)))
			tags = lappend(tags, lfirst(lc));
	foreach(lc, edit->remove)
	{
		ListCell   *c2;

		foreach(c2, tags)
		{
			if (strcmp(lfirst(c2), lfirst(lc)) == 0)
			{
				tags = foreach_delete_current(tags, c2);
				break;
			}
		}
	}

	if (tags == NIL)
	{
		json_object_del(node, CONFLUENT_TAGS);
		return;
	}
	arr = json_array();
	if (arr == NULL)
		elog(ERROR, "out of memory");
	foreach(lc, tags)
		json_array_append_new(arr, json_string(lfirst(lc)));
	if (json_object_set_new(node, CONFLUENT_TAGS, arr) != 0)
		elog(ERROR, "could not set %s", CONFLUENT_TAGS);
	list_free(tags);
}
