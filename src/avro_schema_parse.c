/*-------------------------------------------------------------------------
 *
 * avro_schema_parse.c
 *	  Parse and validate an Avro schema (JSON text) into an AvroSchemaTree,
 *	  following the specification and, where they differ, Java Avro 1.11.
 *
 * jansson decodes the text; its malloc'd tree is copied into a scratch
 * palloc context at once and released, so no library memory survives an
 * error.  The walk over the copy reports the first problem as a message
 * that says what is wrong and where ("field "x" of record "a.B": ..."), and
 * never throws for bad input.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <jansson.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "avro_schema.h"
#include "datacontract.h"

/* One step of the location an error message names. */
typedef enum PathKind
{
	PATH_FIELD,					/* a record field */
	PATH_NAMED,					/* a named type being defined */
	PATH_ITEMS,					/* array items */
	PATH_VALUES,				/* map values */
	PATH_BRANCH					/* a union branch */
} PathKind;

typedef struct PathFrame
{
	struct PathFrame *up;
	PathKind	kind;
	const char *name;			/* field name, or the named type's full name */
	const char *owner;			/* record of a field; "record"/"enum"/"fixed" */
	int			index;			/* union branch */
} PathFrame;

/* Open-addressing index of named types by full name. */
typedef struct NameIndex
{
	int			size;			/* power of two */
	int			used;
	AvroSchema **slots;
} NameIndex;

/* Open-addressing set of strings, for duplicate checks. */
typedef struct StrSet
{
	int			size;			/* power of two */
	int			used;
	const char **slots;
	int		   *values;			/* a number stored with each string */
} StrSet;

typedef struct ParseState
{
	AvroSchemaTree *tree;
	MemoryContext caller_cxt;	/* where the error message goes */
	MemoryContext scratch_cxt;	/* the decoded JSON */
	PathFrame  *path;
	int			depth;
	int			max_depth;
	char	   *error;			/* first error, or NULL */
	int			named_alloc;
	AvroSchema **defining;		/* records whose fields are being parsed */
	int			ndefining;
	int			defining_alloc;
} ParseState;

static const char *const schema_reserved[] = {
	"doc", "fields", "items", "name", "namespace", "size", "symbols",
	"values", "type", "aliases", NULL
};
static const char *const enum_reserved[] = {
	"doc", "fields", "items", "name", "namespace", "size", "symbols",
	"values", "type", "aliases", "default", NULL
};
static const char *const field_reserved[] = {
	"default", "doc", "name", "order", "type", "aliases", NULL
};

static AvroJson *json_from_jansson(json_t *j);
static AvroJson *avrojson_copy(const AvroJson *v);
static void parse_error(ParseState *ps, const char *fmt,...) pg_attribute_printf(2, 3);
static AvroSchema *parse_type(ParseState *ps, const AvroJson *j, const char *ns);
static AvroSchema *parse_object(ParseState *ps, const AvroJson *j, const char *ns);
static AvroSchema *parse_union(ParseState *ps, const AvroJson *j, const char *ns);
static AvroSchema *parse_named(ParseState *ps, const AvroJson *j, const char *ns,
							   AvroType type, bool is_error);
static bool parse_record_fields(ParseState *ps, AvroSchema *rec, const AvroJson *j);
static bool parse_field(ParseState *ps, AvroSchema *rec, AvroField *f,
						const AvroJson *fj, int pos, StrSet *names);
static bool parse_enum_body(ParseState *ps, AvroSchema *e, const AvroJson *j);
static bool parse_fixed_body(ParseState *ps, AvroSchema *f, const AvroJson *j);
static bool collect_props(ParseState *ps, const AvroJson *obj,
						  const char *const *reserved,
						  const char **text, const AvroJson **parsed);
static void apply_logical_type(AvroSchema *s);
static AvroSchema *resolve_name(ParseState *ps, const char *name, const char *ns);
static bool valid_name(const char *name);
static bool valid_namespace(const char *ns);
static bool register_named(ParseState *ps, AvroSchema *s);
static bool default_valid(ParseState *ps, const AvroSchema *s, const AvroJson *v,
						  int depth);
static bool java_parse_double(const char *str, double *result);
static AvroSchema *new_schema(AvroType type);
static int	strset_add(StrSet *set, const char *str, int value);

/*
 * Parse and validate a schema; on bad input return NULL with *errmsg set.
 */
AvroSchemaTree *
AvroParseSchema(const char *json, size_t len, MemoryContext parent, char **errmsg)
{
	return AvroParseSchemaWithRefs(json, len, NULL, NULL, 0, parent, errmsg);
}

/*
 * Decode one JSON text into an AvroJson tree in the current memory context;
 * NULL with *errmsg set (in caller_cxt) when it is not JSON.
 */
static AvroJson *
decode_json_text(const char *json, size_t len, MemoryContext caller_cxt,
				 const char *what, char **errmsg)
{
	json_t	   *volatile jroot = NULL;
	AvroJson   *volatile root = NULL;
	json_error_t jerr;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		memset(&jerr, 0, sizeof(jerr));
		jroot = json_loadb(json, len,
						   JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
		if (jroot != NULL)
			root = json_from_jansson(jroot);
	}
	PG_FINALLY();
	{
		if (jroot != NULL)
			json_decref(jroot);
	}
	PG_END_TRY();

	if (root == NULL)
	{
		MemoryContextSwitchTo(caller_cxt);
		if (len == 0)
			*errmsg = psprintf("%sschema is empty", what);
		else if (json_error_code(&jerr) == json_error_null_character)
			*errmsg = psprintf("%sinvalid JSON: strings containing \\u0000 are not supported (line %d, column %d)",
							   what, jerr.line, jerr.column);
		else
			*errmsg = psprintf("%sinvalid JSON: %s (line %d, column %d)",
							   what, jerr.text, jerr.line, jerr.column);
		MemoryContextSwitchTo(cxt);
	}
	return root;
}

/*
 * Parse a schema that may use named types defined by referenced schemas
 * (Confluent schema references): each referenced text is parsed first, in
 * order, into the same tree, so the main schema can name their types.  The
 * referenced named types are the first tree->nexternal entries of
 * tree->named; tree->root is the main schema.  Bad input: NULL and *errmsg.
 */
AvroSchemaTree *
AvroParseSchemaWithRefs(const char *json, size_t len,
						const char *const *refs, const size_t *ref_lens, int nrefs,
						MemoryContext parent, char **errmsg)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	MemoryContext tree_cxt;
	MemoryContext scratch_cxt;
	MemoryContext oldcxt;
	ParseState	ps;
	AvroSchemaTree *tree;
	AvroSchema *schema = NULL;
	AvroJson   *root;
	int			i;

	*errmsg = NULL;

	if (len > (size_t) datacontract_max_schema_size)
	{
		*errmsg = psprintf("schema is %zu bytes, more than the limit of %d bytes (datacontract.max_schema_size)",
						   len, datacontract_max_schema_size);
		return NULL;
	}

	tree_cxt = AllocSetContextCreate(parent, "avro schema",
									 ALLOCSET_DEFAULT_SIZES);
	scratch_cxt = AllocSetContextCreate(tree_cxt, "avro schema JSON",
										ALLOCSET_DEFAULT_SIZES);

	oldcxt = MemoryContextSwitchTo(tree_cxt);
	tree = palloc0(sizeof(AvroSchemaTree));
	tree->cxt = tree_cxt;

	memset(&ps, 0, sizeof(ps));
	ps.tree = tree;
	ps.caller_cxt = caller_cxt;
	ps.scratch_cxt = scratch_cxt;
	ps.max_depth = datacontract_max_schema_depth;

	/* The referenced schemas first: they define names the main one uses. */
	for (i = 0; i < nrefs; i++)
	{
		char	   *what;

		MemoryContextSwitchTo(scratch_cxt);
		what = psprintf("reference %d: ", i + 1);
		root = decode_json_text(refs[i], ref_lens[i], caller_cxt, what, errmsg);
		MemoryContextSwitchTo(tree_cxt);
		if (root == NULL || parse_type(&ps, root, NULL) == NULL)
		{
			if (*errmsg == NULL)
			{
				MemoryContextSwitchTo(caller_cxt);
				*errmsg = psprintf("reference %d: %s", i + 1,
								   ps.error ? ps.error : "invalid schema");
			}
			MemoryContextSwitchTo(oldcxt);
			MemoryContextDelete(tree_cxt);
			return NULL;
		}
	}
	tree->nexternal = tree->nnamed;

	MemoryContextSwitchTo(scratch_cxt);
	root = decode_json_text(json, len, caller_cxt, "", errmsg);
	MemoryContextSwitchTo(tree_cxt);
	if (root != NULL)
		schema = parse_type(&ps, root, NULL);
	MemoryContextSwitchTo(oldcxt);

	if (schema == NULL)
	{
		if (*errmsg == NULL)
			*errmsg = ps.error ? ps.error : pstrdup("invalid schema");
		MemoryContextDelete(tree_cxt);
		return NULL;
	}

	MemoryContextDelete(scratch_cxt);
	tree->root = schema;
	return tree;
}

/*
 * Parse a schema and report an invalid one as a registry error (42201).
 */
AvroSchemaTree *
AvroParseSchemaOrError(const char *json, size_t len, MemoryContext parent)
{
	AvroSchemaTree *tree;
	char	   *msg;

	if (len > (size_t) datacontract_max_schema_size)
		ereport(ERROR,
				(errcode(ERRCODE_DC_SCHEMA_TOO_LARGE),
				 errmsg("schema is too large: %zu bytes, the limit is %d bytes",
						len, datacontract_max_schema_size),
				 errdetail_dc(42209),
				 errhint("The limit is set by datacontract.max_schema_size.")));

	tree = AvroParseSchema(json, len, parent, &msg);
	if (tree == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DC_INVALID_SCHEMA),
				 errmsg("invalid Avro schema: %s", msg),
				 errdetail_dc(42201)));
	return tree;
}

/* Free a tree and everything in it. */
void
AvroFreeSchemaTree(AvroSchemaTree *tree)
{
	if (tree != NULL)
		MemoryContextDelete(tree->cxt);
}

/* Look a named type up by full name in a tree's index. */
AvroSchema *
AvroFindNamed(const AvroSchemaTree *tree, const char *fullname)
{
	NameIndex  *idx = (NameIndex *) tree->name_index;
	uint32		h;
	int			i;

	if (idx == NULL)
		return NULL;
	h = hash_bytes((const unsigned char *) fullname, strlen(fullname));
	for (i = h & (idx->size - 1);; i = (i + 1) & (idx->size - 1))
	{
		AvroSchema *s = idx->slots[i];

		if (s == NULL)
			return NULL;
		if (strcmp(s->fullname, fullname) == 0)
			return s;
	}
}

/* Copy jansson's value into palloc memory in the current context. */
static AvroJson *
json_from_jansson(json_t *j)
{
	AvroJson   *v = palloc0(sizeof(AvroJson));

	check_stack_depth();

	switch (json_typeof(j))
	{
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *val;
				int			n = 0;

				v->kind = AVRO_JSON_OBJECT;
				v->len = (int) json_object_size(j);
				v->keys = palloc(sizeof(char *) * Max(v->len, 1));
				v->elems = palloc(sizeof(AvroJson *) * Max(v->len, 1));
				json_object_foreach(j, key, val)
				{
					v->keys[n] = pstrdup(key);
					v->elems[n] = json_from_jansson(val);
					n++;
				}
				v->len = n;
				break;
			}
		case JSON_ARRAY:
			{
				size_t		i;

				v->kind = AVRO_JSON_ARRAY;
				v->len = (int) json_array_size(j);
				v->elems = palloc(sizeof(AvroJson *) * Max(v->len, 1));
				for (i = 0; i < json_array_size(j); i++)
				{
					if ((i & 1023) == 0)
						CHECK_FOR_INTERRUPTS();
					v->elems[i] = json_from_jansson(json_array_get(j, i));
				}
				break;
			}
		case JSON_STRING:
			v->kind = AVRO_JSON_STRING;
			v->len = (int) json_string_length(j);
			v->str = pnstrdup(json_string_value(j), v->len);
			break;
		case JSON_INTEGER:
			v->kind = AVRO_JSON_INT;
			v->intval = (int64) json_integer_value(j);
			break;
		case JSON_REAL:
			v->kind = AVRO_JSON_REAL;
			v->realval = json_real_value(j);
			break;
		case JSON_TRUE:
			v->kind = AVRO_JSON_BOOL;
			v->boolval = true;
			break;
		case JSON_FALSE:
			v->kind = AVRO_JSON_BOOL;
			v->boolval = false;
			break;
		case JSON_NULL:
			v->kind = AVRO_JSON_NULL;
			break;
	}
	return v;
}

/* Deep copy of a JSON value into the current context. */
static AvroJson *
avrojson_copy(const AvroJson *v)
{
	AvroJson   *c = palloc(sizeof(AvroJson));
	int			i;

	check_stack_depth();
	*c = *v;
	if (v->kind == AVRO_JSON_STRING)
		c->str = pnstrdup(v->str, v->len);
	else if (v->kind == AVRO_JSON_ARRAY || v->kind == AVRO_JSON_OBJECT)
	{
		c->elems = palloc(sizeof(AvroJson *) * Max(v->len, 1));
		if (v->kind == AVRO_JSON_OBJECT)
			c->keys = palloc(sizeof(char *) * Max(v->len, 1));
		for (i = 0; i < v->len; i++)
		{
			c->elems[i] = avrojson_copy(v->elems[i]);
			if (v->kind == AVRO_JSON_OBJECT)
				c->keys[i] = pstrdup(v->keys[i]);
		}
	}
	return c;
}

/* Member of a JSON object by key, or NULL. */
const AvroJson *
AvroJsonObjectGet(const AvroJson *object, const char *key)
{
	int			i;

	if (object == NULL || object->kind != AVRO_JSON_OBJECT)
		return NULL;
	for (i = 0; i < object->len; i++)
		if (strcmp(object->keys[i], key) == 0)
			return object->elems[i];
	return NULL;
}

/* The string value of an object member, or NULL if absent or not a string. */
static const char *
get_string(const AvroJson *obj, const char *key)
{
	const AvroJson *v = AvroJsonObjectGet(obj, key);

	return (v != NULL && v->kind == AVRO_JSON_STRING) ? v->str : NULL;
}

/* Name of a JSON value's kind, for messages. */
static const char *
json_kind_name(const AvroJson *v)
{
	switch (v->kind)
	{
		case AVRO_JSON_NULL:
			return "null";
		case AVRO_JSON_BOOL:
			return "a boolean";
		case AVRO_JSON_INT:
		case AVRO_JSON_REAL:
			return "a number";
		case AVRO_JSON_STRING:
			return "a string";
		case AVRO_JSON_ARRAY:
			return "an array";
		case AVRO_JSON_OBJECT:
			return "an object";
	}
	return "a value";
}

/* A JSON value as compact text, shortened for use in a message. */
static char *
json_snippet(const AvroJson *v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	AvroJsonAppend(&buf, v, false);
	if (buf.len > 80)
	{
		int			cut = pg_mbcliplen(buf.data, buf.len, 77);

		buf.data[cut] = '\0';
		buf.len = cut;
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/* Quote a name or string for a message, shortened if very long. */
static char *
quoted(const char *s)
{
	size_t		len = strlen(s);

	if (len > 200)
		return psprintf("\"%.*s...\"", pg_mbcliplen(s, len, 197), s);
	return psprintf("\"%s\"", s);
}

/*
 * Record the first error, prefixed with where in the schema it was found.
 */
static void
parse_error(ParseState *ps, const char *fmt,...)
{
	MemoryContext oldcxt;
	StringInfoData where;
	StringInfoData msg;
	PathFrame  *f;
	int			nsteps = 0;
	va_list		args;

	if (ps->error != NULL)
		return;

	oldcxt = MemoryContextSwitchTo(ps->caller_cxt);

	/*
	 * Innermost first, up to the nearest field or named type; a long run of
	 * anonymous steps (array items, map values, union branches) is cut short.
	 */
	initStringInfo(&where);
	for (f = ps->path; f != NULL; f = f->up)
	{
		if (where.len > 0)
			appendStringInfoString(&where, " in ");
		if (++nsteps > 3 && f->kind != PATH_FIELD && f->kind != PATH_NAMED &&
			f->up != NULL && f->up->kind != PATH_FIELD && f->up->kind != PATH_NAMED)
		{
			appendStringInfoString(&where, "...");
			while (f->up != NULL && f->up->kind != PATH_FIELD && f->up->kind != PATH_NAMED)
				f = f->up;
			continue;
		}
		if (f->kind == PATH_FIELD)
		{
			appendStringInfo(&where, "field %s of record %s",
							 quoted(f->name), quoted(f->owner));
			break;
		}
		else if (f->kind == PATH_NAMED)
		{
			appendStringInfo(&where, "%s %s", f->owner, quoted(f->name));
			break;
		}
		else if (f->kind == PATH_ITEMS)
			appendStringInfoString(&where, "array items");
		else if (f->kind == PATH_VALUES)
			appendStringInfoString(&where, "map values");
		else
			appendStringInfo(&where, "union branch %d", f->index);
	}

	initStringInfo(&msg);
	if (where.len > 0)
		appendStringInfo(&msg, "%s: ", where.data);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	ps->error = msg.data;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Add a string to a set with a number; if it was already there, return
 * that string's number instead (else -1).
 */
static int
strset_add(StrSet *set, const char *str, int value)
{
	uint32		h;
	int			i;

	if (set->size == 0 || (set->used + 1) * 2 > set->size)
	{
		StrSet		n;
		int			k;

		n.size = set->size ? set->size * 2 : 64;
		n.used = 0;
		n.slots = palloc0(sizeof(char *) * n.size);
		n.values = palloc(sizeof(int) * n.size);
		for (k = 0; k < set->size; k++)
			if (set->slots[k] != NULL)
				strset_add(&n, set->slots[k], set->values[k]);
		if (set->slots)
		{
			pfree(set->slots);
			pfree(set->values);
		}
		*set = n;
	}
	h = hash_bytes((const unsigned char *) str, strlen(str));
	for (i = h & (set->size - 1); set->slots[i] != NULL; i = (i + 1) & (set->size - 1))
		if (strcmp(set->slots[i], str) == 0)
			return set->values[i];
	set->slots[i] = str;
	set->values[i] = value;
	set->used++;
	return -1;
}

/* Free a set's arrays (not the strings). */
static void
strset_free(StrSet *set)
{
	if (set->slots)
	{
		pfree(set->slots);
		pfree(set->values);
	}
	memset(set, 0, sizeof(StrSet));
}

/* Allocate a schema node of the given type. */
static AvroSchema *
new_schema(AvroType type)
{
	AvroSchema *s = palloc0(sizeof(AvroSchema));

	s->type = type;
	s->logical = AVRO_LOGICAL_NONE;
	return s;
}

/* The primitive type a name denotes, or -1. */
static int
primitive_type(const char *name)
{
	static const struct
	{
		const char *name;
		AvroType	type;
	}			prims[] = {
		{"null", AVRO_NULL}, {"boolean", AVRO_BOOLEAN}, {"int", AVRO_INT},
		{"long", AVRO_LONG}, {"float", AVRO_FLOAT}, {"double", AVRO_DOUBLE},
		{"bytes", AVRO_BYTES}, {"string", AVRO_STRING}
	};
	int			i;

	for (i = 0; i < lengthof(prims); i++)
		if (strcmp(name, prims[i].name) == 0)
			return prims[i].type;
	return -1;
}

/*
 * Parse one schema: a type name, a type object or a union; ns is the
 * enclosing namespace (NULL for the null namespace).
 */
static AvroSchema *
parse_type(ParseState *ps, const AvroJson *j, const char *ns)
{
	AvroSchema *result = NULL;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (++ps->depth > ps->max_depth)
	{
		parse_error(ps, "schema is nested more than %d levels deep (datacontract.max_schema_depth)",
					ps->max_depth);
		ps->depth--;
		return NULL;
	}

	switch (j->kind)
	{
		case AVRO_JSON_STRING:
			result = resolve_name(ps, j->str, ns);
			if (result == NULL)
				parse_error(ps, "unknown type %s", quoted(j->str));
			break;
		case AVRO_JSON_OBJECT:
			result = parse_object(ps, j, ns);
			break;
		case AVRO_JSON_ARRAY:
			result = parse_union(ps, j, ns);
			break;
		default:
			parse_error(ps, "a schema must be a JSON string, object or array, not %s",
						json_kind_name(j));
			break;
	}
	ps->depth--;
	return result;
}

/* Parse a schema given as a JSON object: {"type": ...}. */
static AvroSchema *
parse_object(ParseState *ps, const AvroJson *j, const char *ns)
{
	const AvroJson *typej = AvroJsonObjectGet(j, "type");
	const char *type;
	int			prim;
	AvroSchema *s;

	if (typej == NULL)
	{
		parse_error(ps, "schema object has no \"type\" attribute");
		return NULL;
	}
	if (typej->kind != AVRO_JSON_STRING)
	{
		/* Java Avro 1.11 requires a string here, too. */
		parse_error(ps, "the \"type\" attribute of a schema object must be a string naming a type, not %s",
					json_kind_name(typej));
		return NULL;
	}
	type = typej->str;

	prim = primitive_type(type);
	if (prim >= 0)
	{
		s = new_schema((AvroType) prim);
		if (!collect_props(ps, j, schema_reserved, &s->props, &s->props_json))
			return NULL;
		apply_logical_type(s);
		return s;
	}
	if (strcmp(type, "record") == 0)
		return parse_named(ps, j, ns, AVRO_RECORD, false);
	if (strcmp(type, "error") == 0)
		return parse_named(ps, j, ns, AVRO_RECORD, true);
	if (strcmp(type, "enum") == 0)
		return parse_named(ps, j, ns, AVRO_ENUM, false);
	if (strcmp(type, "fixed") == 0)
		return parse_named(ps, j, ns, AVRO_FIXED, false);
	if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0)
	{
		bool		is_array = (type[0] == 'a');
		const char *attr = is_array ? "items" : "values";
		const AvroJson *sub = AvroJsonObjectGet(j, attr);
		PathFrame	frame;

		if (sub == NULL)
		{
			parse_error(ps, "%s has no \"%s\" attribute", type, attr);
			return NULL;
		}
		s = new_schema(is_array ? AVRO_ARRAY : AVRO_MAP);
		frame.up = ps->path;
		frame.kind = is_array ? PATH_ITEMS : PATH_VALUES;
		ps->path = &frame;
		s->items = parse_type(ps, sub, ns);
		ps->path = frame.up;
		if (s->items == NULL)
			return NULL;
		if (!collect_props(ps, j, schema_reserved, &s->props, &s->props_json))
			return NULL;
		return s;
	}

	/* {"type": "SomeName"}: a reference to a named type; other attributes are ignored. */
	s = resolve_name(ps, type, ns);
	if (s == NULL)
		parse_error(ps, "unknown type %s", quoted(type));
	return s;
}

/* Parse a union given as a JSON array. */
static AvroSchema *
parse_union(ParseState *ps, const AvroJson *j, const char *ns)
{
	AvroSchema *s = new_schema(AVRO_UNION);
	StrSet		keys = {0};
	PathFrame	frame;
	int			i;
	int			k;

	s->nbranches = j->len;
	s->branches = palloc0(sizeof(AvroSchema *) * Max(j->len, 1));

	frame.up = ps->path;
	frame.kind = PATH_BRANCH;
	for (i = 0; i < j->len; i++)
	{
		AvroSchema *b;
		const char *key;

		frame.index = i;
		ps->path = &frame;
		b = parse_type(ps, j->elems[i], ns);
		if (b == NULL)
		{
			ps->path = frame.up;
			return NULL;
		}
		if (b->type == AVRO_UNION)
		{
			parse_error(ps, "a union may not directly contain another union");
			ps->path = frame.up;
			return NULL;
		}
		ps->path = frame.up;

		/* Java keys branches by full name for named types, else type name. */
		key = AVRO_TYPE_IS_NAMED(b->type) ? b->fullname : AvroTypeName(b->type);
		k = strset_add(&keys, key, i);
		if (k >= 0)
		{
			if (AVRO_TYPE_IS_NAMED(b->type))
				parse_error(ps, "union contains type %s more than once (branches %d and %d)",
							quoted(key), k, i);
			else
				parse_error(ps, "union contains more than one branch of type %s (branches %d and %d)",
							quoted(key), k, i);
			return NULL;
		}
		s->branches[i] = b;
	}
	strset_free(&keys);
	return s;
}

/* Describe the kind of a named type for messages. */
static const char *
named_kind(AvroType type, bool is_error)
{
	if (type == AVRO_RECORD)
		return is_error ? "error" : "record";
	return type == AVRO_ENUM ? "enum" : "fixed";
}

/*
 * Parse a record, error, enum or fixed: its name, namespace and aliases,
 * then the type-specific body.
 */
static AvroSchema *
parse_named(ParseState *ps, const AvroJson *j, const char *ns,
			AvroType type, bool is_error)
{
	const AvroJson *namej = AvroJsonObjectGet(j, "name");
	const char *kind = named_kind(type, is_error);
	const char *name;
	const char *space;
	const char *dot;
	const AvroJson *aliasesj;
	AvroSchema *s;
	PathFrame	frame;
	bool		ok;

	if (namej == NULL)
	{
		parse_error(ps, "%s has no \"name\" attribute", kind);
		return NULL;
	}
	if (namej->kind != AVRO_JSON_STRING)
	{
		parse_error(ps, "the \"name\" of a %s must be a string, not %s",
					kind, json_kind_name(namej));
		return NULL;
	}
	name = namej->str;

	/* A dotted name carries its own namespace; else "namespace", else inherited. */
	dot = strrchr(name, '.');
	if (dot != NULL)
	{
		space = pnstrdup(name, dot - name);
		name = dot + 1;
	}
	else
	{
		/* Java ignores a "namespace" that is not a string. */
		const char *nsattr = get_string(j, "namespace");

		space = nsattr != NULL ? nsattr : ns;
	}
	if (space != NULL && space[0] == '\0')
		space = NULL;

	if (!valid_name(name))
	{
		parse_error(ps, "invalid %s name %s: a name must start with [A-Za-z_] and contain only [A-Za-z0-9_]",
					kind, quoted(namej->str));
		return NULL;
	}
	if (space != NULL && !valid_namespace(space))
	{
		parse_error(ps, "invalid namespace %s of %s %s: a namespace is a dot-separated sequence of names",
					quoted(space), kind, quoted(name));
		return NULL;
	}

	s = new_schema(type);
	s->is_error = is_error;
	s->name = pstrdup(name);
	s->namespace = space ? pstrdup(space) : NULL;
	s->fullname = space ? psprintf("%s.%s", space, name) : s->name;
	s->doc = get_string(j, "doc") ? pstrdup(get_string(j, "doc")) : NULL;

	if (primitive_type(s->fullname) >= 0)
	{
		parse_error(ps, "%s may not be named after the primitive type %s",
					kind, quoted(s->fullname));
		return NULL;
	}
	if (!register_named(ps, s))
		return NULL;

	frame.up = ps->path;
	frame.kind = PATH_NAMED;
	frame.name = s->fullname;
	frame.owner = kind;
	ps->path = &frame;

	/* Aliases, resolved against this type's namespace, without duplicates. */
	ok = true;
	aliasesj = AvroJsonObjectGet(j, "aliases");
	if (aliasesj != NULL)
	{
		int			i;

		if (aliasesj->kind != AVRO_JSON_ARRAY)
		{
			parse_error(ps, "\"aliases\" must be an array of names, not %s",
						json_kind_name(aliasesj));
			ok = false;
		}
		else
		{
			s->aliases = palloc(sizeof(char *) * Max(aliasesj->len, 1));
			for (i = 0; ok && i < aliasesj->len; i++)
			{
				const AvroJson *a = aliasesj->elems[i];
				const char *aname;
				const char *aspace;
				const char *afull;
				int			k;

				if (a->kind != AVRO_JSON_STRING)
				{
					parse_error(ps, "alias %d is not a string", i);
					ok = false;
					break;
				}
				dot = strrchr(a->str, '.');
				if (dot != NULL)
				{
					aspace = pnstrdup(a->str, dot - a->str);
					aname = dot + 1;
				}
				else
				{
					aspace = s->namespace;
					aname = a->str;
				}
				if (aspace != NULL && aspace[0] == '\0')
					aspace = NULL;
				if (!valid_name(aname) ||
					(aspace != NULL && !valid_namespace(aspace)))
				{
					parse_error(ps, "invalid alias %s", quoted(a->str));
					ok = false;
					break;
				}
				afull = aspace ? psprintf("%s.%s", aspace, aname) : pstrdup(aname);
				for (k = 0; k < s->naliases; k++)
					if (strcmp(s->aliases[k], afull) == 0)
						break;
				if (k == s->naliases)
					s->aliases[s->naliases++] = afull;
			}
		}
	}

	if (ok)
	{
		if (type == AVRO_RECORD)
			ok = parse_record_fields(ps, s, j);
		else if (type == AVRO_ENUM)
			ok = parse_enum_body(ps, s, j);
		else
			ok = parse_fixed_body(ps, s, j);
	}
	if (ok)
		ok = collect_props(ps, j, type == AVRO_ENUM ? enum_reserved : schema_reserved,
						   &s->props, &s->props_json);
	ps->path = frame.up;
	if (!ok)
		return NULL;
	apply_logical_type(s);
	return s;
}

/* Parse a record's "fields"; the record is already registered (recursion). */
static bool
parse_record_fields(ParseState *ps, AvroSchema *rec, const AvroJson *j)
{
	const AvroJson *fieldsj = AvroJsonObjectGet(j, "fields");
	StrSet		names = {0};
	bool		ok = true;
	int			i;

	if (fieldsj == NULL || fieldsj->kind != AVRO_JSON_ARRAY)
	{
		if (fieldsj == NULL)
			parse_error(ps, "no \"fields\" attribute");
		else
			parse_error(ps, "\"fields\" must be an array, not %s",
						json_kind_name(fieldsj));
		return false;
	}

	rec->fields = palloc0(sizeof(AvroField) * Max(fieldsj->len, 1));
	rec->nfields = 0;

	if (ps->ndefining >= ps->defining_alloc)
	{
		ps->defining_alloc = Max(16, ps->defining_alloc * 2);
		if (ps->defining == NULL)
			ps->defining = palloc(sizeof(AvroSchema *) * ps->defining_alloc);
		else
			ps->defining = repalloc(ps->defining,
									sizeof(AvroSchema *) * ps->defining_alloc);
	}
	ps->defining[ps->ndefining++] = rec;

	for (i = 0; i < fieldsj->len; i++)
	{
		if (!parse_field(ps, rec, &rec->fields[i], fieldsj->elems[i], i, &names))
		{
			ok = false;
			break;
		}
		rec->nfields++;
	}
	ps->ndefining--;
	strset_free(&names);
	return ok;
}

/* Parse one field of a record and check its default. */
static bool
parse_field(ParseState *ps, AvroSchema *rec, AvroField *f,
			const AvroJson *fj, int pos, StrSet *names)
{
	const AvroJson *namej;
	const AvroJson *typej;
	const AvroJson *orderj;
	const AvroJson *defj;
	const AvroJson *aliasesj;
	PathFrame	frame;
	bool		ok = false;
	int			i;

	if (fj->kind != AVRO_JSON_OBJECT)
	{
		parse_error(ps, "field %d is not a JSON object", pos);
		return false;
	}
	namej = AvroJsonObjectGet(fj, "name");
	if (namej == NULL || namej->kind != AVRO_JSON_STRING)
	{
		if (namej == NULL)
			parse_error(ps, "field %d has no \"name\" attribute", pos);
		else
			parse_error(ps, "the \"name\" of field %d must be a string, not %s",
						pos, json_kind_name(namej));
		return false;
	}
	if (!valid_name(namej->str))
	{
		parse_error(ps, "invalid field name %s: a name must start with [A-Za-z_] and contain only [A-Za-z0-9_]",
					quoted(namej->str));
		return false;
	}
	f->name = pstrdup(namej->str);
	i = strset_add(names, f->name, pos);
	if (i >= 0)
	{
		parse_error(ps, "duplicate field name %s (fields %d and %d)",
					quoted(f->name), i, pos);
		return false;
	}

	f->position = pos;
	f->order = AVRO_ORDER_ASCENDING;

	frame.up = ps->path;
	frame.kind = PATH_FIELD;
	frame.name = f->name;
	frame.owner = rec->fullname;
	ps->path = &frame;

	typej = AvroJsonObjectGet(fj, "type");
	if (typej == NULL)
	{
		parse_error(ps, "no \"type\" attribute");
		goto done;
	}
	/* Types nested in a record inherit the record's namespace. */
	f->type = parse_type(ps, typej, rec->namespace);
	if (f->type == NULL)
		goto done;

	f->doc = get_string(fj, "doc") ? pstrdup(get_string(fj, "doc")) : NULL;

	orderj = AvroJsonObjectGet(fj, "order");
	if (orderj != NULL)
	{
		/* Java accepts the order in any case (Order.valueOf(toUpperCase)). */
		if (orderj->kind == AVRO_JSON_STRING && pg_strcasecmp(orderj->str, "ascending") == 0)
			f->order = AVRO_ORDER_ASCENDING;
		else if (orderj->kind == AVRO_JSON_STRING && pg_strcasecmp(orderj->str, "descending") == 0)
			f->order = AVRO_ORDER_DESCENDING;
		else if (orderj->kind == AVRO_JSON_STRING && pg_strcasecmp(orderj->str, "ignore") == 0)
			f->order = AVRO_ORDER_IGNORE;
		else
		{
			parse_error(ps, "\"order\" must be \"ascending\", \"descending\" or \"ignore\", not %s",
						json_snippet(orderj));
			goto done;
		}
		f->order_given = true;
	}

	aliasesj = AvroJsonObjectGet(fj, "aliases");
	if (aliasesj != NULL)
	{
		if (aliasesj->kind != AVRO_JSON_ARRAY)
		{
			parse_error(ps, "\"aliases\" must be an array of names, not %s",
						json_kind_name(aliasesj));
			goto done;
		}
		f->aliases = palloc(sizeof(char *) * Max(aliasesj->len, 1));
		for (i = 0; i < aliasesj->len; i++)
		{
			const AvroJson *a = aliasesj->elems[i];
			int			k;

			if (a->kind != AVRO_JSON_STRING)
			{
				parse_error(ps, "alias %d is not a string", i);
				goto done;
			}
			for (k = 0; k < f->naliases; k++)
				if (strcmp(f->aliases[k], a->str) == 0)
					break;
			if (k == f->naliases)
				f->aliases[f->naliases++] = pstrdup(a->str);
		}
	}

	defj = AvroJsonObjectGet(fj, "default");
	if (defj != NULL)
	{
		AvroJson   *def = avrojson_copy(defj);
		StringInfoData buf;

		/* Java reads a string default of a float or double as a number. */
		if ((f->type->type == AVRO_FLOAT || f->type->type == AVRO_DOUBLE) &&
			def->kind == AVRO_JSON_STRING)
		{
			double		d;

			if (!java_parse_double(def->str, &d))
			{
				parse_error(ps, "default value %s is not a number",
							json_snippet(defj));
				goto done;
			}
			def->kind = AVRO_JSON_REAL;
			def->realval = d;
			def->str = NULL;
			def->len = 0;
		}
		if (!default_valid(ps, f->type, def, 0))
		{
			if (ps->error != NULL)
				goto done;
			if (f->type->type == AVRO_UNION && f->type->nbranches > 0)
				parse_error(ps, "default value %s does not match the union's first type %s (a union default must match the first type of the union)",
							json_snippet(defj),
							quoted(AvroSchemaDescribe(f->type->branches[0])));
			else
				parse_error(ps, "default value %s does not match type %s",
							json_snippet(defj),
							quoted(AvroSchemaDescribe(f->type)));
			goto done;
		}
		f->has_default = true;
		f->default_value = def;
		initStringInfo(&buf);
		AvroJsonAppend(&buf, def, false);
		f->default_json = buf.data;
	}

	if (!collect_props(ps, fj, field_reserved, &f->props, &f->props_json))
		goto done;
	ok = true;

done:
	ps->path = frame.up;
	return ok;
}

/* Parse an enum's symbols and default. */
static bool
parse_enum_body(ParseState *ps, AvroSchema *e, const AvroJson *j)
{
	const AvroJson *symj = AvroJsonObjectGet(j, "symbols");
	StrSet		symbols = {0};
	const char *def;
	int			i;
	int			k;

	if (symj == NULL || symj->kind != AVRO_JSON_ARRAY)
	{
		if (symj == NULL)
			parse_error(ps, "no \"symbols\" attribute");
		else
			parse_error(ps, "\"symbols\" must be an array, not %s",
						json_kind_name(symj));
		return false;
	}
	e->symbols = palloc(sizeof(char *) * Max(symj->len, 1));
	for (i = 0; i < symj->len; i++)
	{
		const AvroJson *sym = symj->elems[i];

		if (sym->kind != AVRO_JSON_STRING)
		{
			parse_error(ps, "symbol %d is not a string", i);
			return false;
		}
		if (!valid_name(sym->str))
		{
			parse_error(ps, "invalid symbol %s: a symbol must start with [A-Za-z_] and contain only [A-Za-z0-9_]",
						quoted(sym->str));
			return false;
		}
		e->symbols[i] = pstrdup(sym->str);
		if (strset_add(&symbols, e->symbols[i], i) >= 0)
		{
			parse_error(ps, "duplicate symbol %s", quoted(sym->str));
			return false;
		}
		e->nsymbols++;
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	/* As in Java, a "default" that is not a string is ignored. */
	def = get_string(j, "default");
	if (def != NULL)
	{
		k = strset_add(&symbols, def, -1);
		if (k < 0)
		{
			parse_error(ps, "default %s is not one of the enum's symbols",
						quoted(def));
			return false;
		}
		e->enum_default = e->symbols[k];
	}
	strset_free(&symbols);
	return true;
}

/* Parse a fixed's size. */
static bool
parse_fixed_body(ParseState *ps, AvroSchema *f, const AvroJson *j)
{
	const AvroJson *sizej = AvroJsonObjectGet(j, "size");

	if (sizej == NULL)
	{
		parse_error(ps, "no \"size\" attribute");
		return false;
	}
	/* Java: an int, and at most Integer.MAX_VALUE - 8 (its array limit). */
	if (sizej->kind != AVRO_JSON_INT || sizej->intval < 0 ||
		sizej->intval > PG_INT32_MAX - 8)
	{
		parse_error(ps, "\"size\" must be a non-negative integer, not %s",
					json_snippet(sizej));
		return false;
	}
	f->size = (int) sizej->intval;
	return true;
}

/* Is a reserved attribute name in the list? */
static bool
is_reserved(const char *key, const char *const *reserved)
{
	for (; *reserved != NULL; reserved++)
		if (strcmp(key, *reserved) == 0)
			return true;
	return false;
}

/*
 * Keep the attributes that are not reserved, in input order, as a parsed
 * object and as JSON text.
 */
static bool
collect_props(ParseState *ps, const AvroJson *obj, const char *const *reserved,
			  const char **text, const AvroJson **parsed)
{
	AvroJson   *props;
	StringInfoData buf;
	int			i;
	int			n = 0;

	for (i = 0; i < obj->len; i++)
		if (!is_reserved(obj->keys[i], reserved))
			n++;
	*text = NULL;
	*parsed = NULL;
	if (n == 0)
		return true;

	props = palloc0(sizeof(AvroJson));
	props->kind = AVRO_JSON_OBJECT;
	props->keys = palloc(sizeof(char *) * n);
	props->elems = palloc(sizeof(AvroJson *) * n);
	for (i = 0; i < obj->len; i++)
	{
		if (is_reserved(obj->keys[i], reserved))
			continue;
		props->keys[props->len] = pstrdup(obj->keys[i]);
		props->elems[props->len] = avrojson_copy(obj->elems[i]);
		props->len++;
	}
	initStringInfo(&buf);
	AvroJsonAppend(&buf, props, false);
	*text = buf.data;
	*parsed = props;
	return true;
}

/* An int32 property of a schema, as Java's LogicalTypes reads it. */
static bool
int_prop(const AvroSchema *s, const char *key, int *result)
{
	const AvroJson *v = AvroJsonObjectGet(s->props_json, key);

	if (v == NULL || v->kind != AVRO_JSON_INT ||
		v->intval < PG_INT32_MIN || v->intval > PG_INT32_MAX)
		return false;
	*result = (int) v->intval;
	return true;
}

/* Java's Decimal.maxPrecision for a fixed of the given size. */
static int
decimal_max_precision(int size)
{
	double		m = floor(log10(pow(2.0, 8.0 * size - 1) - 1));

	if (isnan(m))
		return 0;				/* Math.round(NaN) */
	if (isinf(m))
		return -1;				/* (int) Long.MAX_VALUE */
	return (int) m;
}

/*
 * Recognize the logicalType attribute; an unknown or invalid one leaves the
 * schema as its underlying type (logical_name and the property are kept).
 */
static void
apply_logical_type(AvroSchema *s)
{
	const char *lt = get_string(s->props_json, "logicalType");
	AvroType	t = s->type;

	s->logical = AVRO_LOGICAL_NONE;
	s->logical_name = lt ? pstrdup(lt) : NULL;
	if (lt == NULL)
		return;

	if (strcmp(lt, "decimal") == 0)
	{
		int			precision;
		int			scale = 0;

		if (t != AVRO_BYTES && t != AVRO_FIXED)
			return;
		if (!int_prop(s, "precision", &precision) || precision <= 0)
			return;
		if (AvroJsonObjectGet(s->props_json, "scale") != NULL &&
			!int_prop(s, "scale", &scale))
			return;
		if (scale < 0 || scale > precision)
			return;
		if (t == AVRO_FIXED && precision > decimal_max_precision(s->size))
			return;
		s->logical = AVRO_LOGICAL_DECIMAL;
		s->precision = precision;
		s->scale = scale;
	}
	else if (strcmp(lt, "uuid") == 0 && t == AVRO_STRING)
		s->logical = AVRO_LOGICAL_UUID;
	else if (strcmp(lt, "date") == 0 && t == AVRO_INT)
		s->logical = AVRO_LOGICAL_DATE;
	else if (strcmp(lt, "time-millis") == 0 && t == AVRO_INT)
		s->logical = AVRO_LOGICAL_TIME_MILLIS;
	else if (strcmp(lt, "time-micros") == 0 && t == AVRO_LONG)
		s->logical = AVRO_LOGICAL_TIME_MICROS;
	else if (strcmp(lt, "timestamp-millis") == 0 && t == AVRO_LONG)
		s->logical = AVRO_LOGICAL_TIMESTAMP_MILLIS;
	else if (strcmp(lt, "timestamp-micros") == 0 && t == AVRO_LONG)
		s->logical = AVRO_LOGICAL_TIMESTAMP_MICROS;
	else if (strcmp(lt, "local-timestamp-millis") == 0 && t == AVRO_LONG)
		s->logical = AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS;
	else if (strcmp(lt, "local-timestamp-micros") == 0 && t == AVRO_LONG)
		s->logical = AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS;
	else if (strcmp(lt, "duration") == 0 && t == AVRO_FIXED && s->size == 12)
		s->logical = AVRO_LOGICAL_DURATION;
}

/*
 * Resolve a type name: a primitive, or a named type defined earlier, looked
 * up in the enclosing namespace and then in the null namespace (Java's
 * Names.get).  Returns NULL if undefined.
 */
static AvroSchema *
resolve_name(ParseState *ps, const char *name, const char *ns)
{
	int			prim = primitive_type(name);
	const char *dot;
	AvroSchema *s;

	if (prim >= 0)
		return new_schema((AvroType) prim);

	dot = strrchr(name, '.');
	if (dot != NULL)
	{
		/* A leading dot names the null namespace. */
		return AvroFindNamed(ps->tree, dot == name ? name + 1 : name);
	}
	if (ns != NULL)
	{
		char	   *full = psprintf("%s.%s", ns, name);

		s = AvroFindNamed(ps->tree, full);
		pfree(full);
		if (s != NULL)
			return s;
	}
	return AvroFindNamed(ps->tree, name);
}

/* Does the string match [A-Za-z_][A-Za-z0-9_]*? */
static bool
valid_name(const char *name)
{
	const char *p;

	if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
		  name[0] == '_'))
		return false;
	for (p = name + 1; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Is the string a dot-separated sequence of valid names? */
static bool
valid_namespace(const char *ns)
{
	char	   *copy = pstrdup(ns);
	char	   *part = copy;
	bool		ok = true;

	for (;;)
	{
		char	   *dot = strchr(part, '.');

		if (dot != NULL)
			*dot = '\0';
		if (!valid_name(part))
		{
			ok = false;
			break;
		}
		if (dot == NULL)
			break;
		part = dot + 1;
	}
	pfree(copy);
	return ok;
}

/* Add a named type to the tree and its index; reject a redefinition. */
static bool
register_named(ParseState *ps, AvroSchema *s)
{
	AvroSchemaTree *tree = ps->tree;
	NameIndex  *idx = (NameIndex *) tree->name_index;
	uint32		h;
	int			i;

	if (AvroFindNamed(tree, s->fullname) != NULL)
	{
		parse_error(ps, "type %s is defined more than once", quoted(s->fullname));
		return false;
	}

	if (tree->nnamed >= ps->named_alloc)
	{
		ps->named_alloc = Max(16, ps->named_alloc * 2);
		if (tree->named == NULL)
			tree->named = palloc(sizeof(AvroSchema *) * ps->named_alloc);
		else
			tree->named = repalloc(tree->named, sizeof(AvroSchema *) * ps->named_alloc);
	}
	tree->named[tree->nnamed++] = s;

	/* Keep the index at most half full. */
	if (idx == NULL || (idx->used + 1) * 2 > idx->size)
	{
		NameIndex  *nidx = palloc(sizeof(NameIndex));
		int			k;

		nidx->size = idx ? idx->size * 2 : 64;
		nidx->used = 0;
		nidx->slots = palloc0(sizeof(AvroSchema *) * nidx->size);
		for (k = 0; k < tree->nnamed - 1; k++)
		{
			AvroSchema *o = tree->named[k];

			h = hash_bytes((const unsigned char *) o->fullname, strlen(o->fullname));
			for (i = h & (nidx->size - 1); nidx->slots[i] != NULL; i = (i + 1) & (nidx->size - 1))
				;
			nidx->slots[i] = o;
			nidx->used++;
		}
		tree->name_index = nidx;
		idx = nidx;
	}
	h = hash_bytes((const unsigned char *) s->fullname, strlen(s->fullname));
	for (i = h & (idx->size - 1); idx->slots[i] != NULL; i = (i + 1) & (idx->size - 1))
		;
	idx->slots[i] = s;
	idx->used++;
	return true;
}

/* Number of code points in a UTF-8 string, and whether all are <= 0xFF. */
static int
utf8_codepoints(const char *s, int len, bool *all_latin1)
{
	int			n = 0;
	int			i = 0;

	*all_latin1 = true;
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			l = pg_utf_mblen((const unsigned char *) s + i);

		if (c >= 0x80 && utf8_to_unicode((const unsigned char *) s + i) > 0xFF)
			*all_latin1 = false;
		i += l;
		n++;
	}
	return n;
}

/*
 * Does a default value match a schema?  Java Avro 1.11's rules
 * (Schema.isValidDefault): a union default matches its first branch; a
 * record default is an object whose members, or else the fields' own
 * defaults, match the fields.  Stricter than Java: an enum default must be
 * a symbol, and a fixed default must have exactly "size" code points each
 * at most U+00FF.
 */
static bool
default_valid(ParseState *ps, const AvroSchema *s, const AvroJson *v, int depth)
{
	int			i;

	check_stack_depth();
	if ((depth & 255) == 0)
		CHECK_FOR_INTERRUPTS();
	if (v == NULL)
		return false;

	switch (s->type)
	{
		case AVRO_NULL:
			return v->kind == AVRO_JSON_NULL;
		case AVRO_BOOLEAN:
			return v->kind == AVRO_JSON_BOOL;
		case AVRO_INT:
			return v->kind == AVRO_JSON_INT &&
				v->intval >= PG_INT32_MIN && v->intval <= PG_INT32_MAX;
		case AVRO_LONG:
			return v->kind == AVRO_JSON_INT;
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			return v->kind == AVRO_JSON_INT || v->kind == AVRO_JSON_REAL;
		case AVRO_STRING:
		case AVRO_BYTES:
			return v->kind == AVRO_JSON_STRING;
		case AVRO_ENUM:
			if (v->kind != AVRO_JSON_STRING)
				return false;
			for (i = 0; i < s->nsymbols; i++)
				if (strcmp(s->symbols[i], v->str) == 0)
					return true;
			return false;
		case AVRO_FIXED:
			{
				bool		latin1;

				if (v->kind != AVRO_JSON_STRING)
					return false;
				return utf8_codepoints(v->str, v->len, &latin1) == s->size && latin1;
			}
		case AVRO_ARRAY:
			if (v->kind != AVRO_JSON_ARRAY)
				return false;
			for (i = 0; i < v->len; i++)
				if (!default_valid(ps, s->items, v->elems[i], depth + 1))
					return false;
			return true;
		case AVRO_MAP:
			if (v->kind != AVRO_JSON_OBJECT)
				return false;
			for (i = 0; i < v->len; i++)
				if (!default_valid(ps, s->items, v->elems[i], depth + 1))
					return false;
			return true;
		case AVRO_UNION:
			if (s->nbranches == 0)
				return false;
			return default_valid(ps, s->branches[0], v, depth + 1);
		case AVRO_RECORD:
			if (v->kind != AVRO_JSON_OBJECT)
				return false;
			for (i = 0; i < ps->ndefining; i++)
			{
				if (ps->defining[i] == s)
				{
					parse_error(ps, "default value %s needs record %s, which is still being defined",
								json_snippet(v), quoted(s->fullname));
					return false;
				}
			}
			for (i = 0; i < s->nfields; i++)
			{
				const AvroField *f = &s->fields[i];
				const AvroJson *m = AvroJsonObjectGet(v, f->name);

				if (!default_valid(ps, f->type, m ? m : f->default_value, depth + 1))
					return false;
			}
			return true;
	}
	return false;
}

/*
 * Parse a string as Java's Double.parseDouble would (decimal forms, "NaN",
 * "Infinity", an optional f/F/d/D suffix, surrounding whitespace).
 */
static bool
java_parse_double(const char *str, double *result)
{
	const char *p = str;
	const char *end;
	const char *q;
	char	   *num;
	char	   *endptr;
	bool		neg = false;
	bool		digits = false;

	while (*p && (unsigned char) *p <= ' ')
		p++;
	end = p + strlen(p);
	while (end > p && (unsigned char) end[-1] <= ' ')
		end--;
	if (end == p)
		return false;

	q = p;
	if (*q == '+' || *q == '-')
		neg = (*q++ == '-');
	if (end - q == 3 && strncmp(q, "NaN", 3) == 0)
	{
		*result = get_float8_nan();
		return true;
	}
	if (end - q == 8 && strncmp(q, "Infinity", 8) == 0)
	{
		*result = neg ? -get_float8_infinity() : get_float8_infinity();
		return true;
	}
	if (end[-1] == 'f' || end[-1] == 'F' || end[-1] == 'd' || end[-1] == 'D')
		end--;

	/* [digits][.digits][(e|E)[+-]digits], with at least one digit */
	while (q < end && isdigit((unsigned char) *q))
		q++, digits = true;
	if (q < end && *q == '.')
	{
		q++;
		while (q < end && isdigit((unsigned char) *q))
			q++, digits = true;
	}
	if (!digits)
		return false;
	if (q < end && (*q == 'e' || *q == 'E'))
	{
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || !isdigit((unsigned char) *q))
			return false;
		while (q < end && isdigit((unsigned char) *q))
			q++;
	}
	if (q != end)
		return false;

	num = pnstrdup(p, end - p);
	*result = strtod(num, &endptr);
	pfree(num);
	return true;
}
