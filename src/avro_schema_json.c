/*-------------------------------------------------------------------------
 *
 * avro_schema_json.c
 *	  Write a parsed Avro schema back out: the specification's Parsing
 *	  Canonical Form, and the text Java Avro's Schema.toString() prints
 *	  (what Confluent stores), optionally with Confluent's normalization.
 *
 * Identity in the registry is computed over the Java form, so it must be
 * byte-for-byte what Java prints: Jackson's string escaping, Java's
 * Double.toString for numbers, and Schema.java's attribute order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "avro_schema.h"

/* A set of schema nodes already written (named types print once). */
typedef struct PtrSet
{
	int			size;			/* power of two */
	int			used;
	const void **slots;
} PtrSet;

typedef struct JavaWriter
{
	StringInfo	buf;
	PtrSet		seen;
	bool		normalize;
} JavaWriter;

static void append_json_string(StringInfo buf, const char *s);
static void append_java_number(StringInfo buf, double d, bool is_float);
static void write_canonical(StringInfo buf, const AvroSchema *s, PtrSet *seen);
static void write_java(JavaWriter *w, const AvroSchema *s, const char *ns);
static void write_props(JavaWriter *w, const AvroJson *props, const AvroSchema *logical);
static void write_default(JavaWriter *w, const AvroSchema *s, const AvroJson *v);

/* Add a pointer to the set; false if it was already there. */
static bool
ptrset_add(PtrSet *set, const void *p)
{
	uint32		h;
	int			i;

	if (set->size == 0 || (set->used + 1) * 2 > set->size)
	{
		PtrSet		n;
		int			k;

		n.size = set->size ? set->size * 2 : 32;
		n.used = 0;
		n.slots = palloc0(sizeof(void *) * n.size);
		for (k = 0; k < set->size; k++)
			if (set->slots[k] != NULL)
				ptrset_add(&n, set->slots[k]);
		if (set->slots)
			pfree(set->slots);
		*set = n;
	}
	h = hash_bytes((const unsigned char *) &p, sizeof(p));
	for (i = h & (set->size - 1); set->slots[i] != NULL; i = (i + 1) & (set->size - 1))
		if (set->slots[i] == p)
			return false;
	set->slots[i] = p;
	set->used++;
	return true;
}

/* Name of a type as the specification spells it. */
const char *
AvroTypeName(AvroType type)
{
	switch (type)
	{
		case AVRO_NULL:
			return "null";
		case AVRO_BOOLEAN:
			return "boolean";
		case AVRO_INT:
			return "int";
		case AVRO_LONG:
			return "long";
		case AVRO_FLOAT:
			return "float";
		case AVRO_DOUBLE:
			return "double";
		case AVRO_BYTES:
			return "bytes";
		case AVRO_STRING:
			return "string";
		case AVRO_RECORD:
			return "record";
		case AVRO_ENUM:
			return "enum";
		case AVRO_ARRAY:
			return "array";
		case AVRO_MAP:
			return "map";
		case AVRO_UNION:
			return "union";
		case AVRO_FIXED:
			return "fixed";
	}
	return "unknown";
}

/* Short description of a schema for messages. */
const char *
AvroSchemaDescribe(const AvroSchema *schema)
{
	if (AVRO_TYPE_IS_NAMED(schema->type))
		return schema->fullname;
	return AvroTypeName(schema->type);
}

/* Append a JSON string literal with Jackson's escaping. */
static void
append_json_string(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	appendStringInfoChar(buf, '"');
	for (p = (const unsigned char *) s; *p; p++)
	{
		switch (*p)
		{
			case '"':
				appendBinaryStringInfo(buf, "\\\"", 2);
				break;
			case '\\':
				appendBinaryStringInfo(buf, "\\\\", 2);
				break;
			case '\b':
				appendBinaryStringInfo(buf, "\\b", 2);
				break;
			case '\f':
				appendBinaryStringInfo(buf, "\\f", 2);
				break;
			case '\n':
				appendBinaryStringInfo(buf, "\\n", 2);
				break;
			case '\r':
				appendBinaryStringInfo(buf, "\\r", 2);
				break;
			case '\t':
				appendBinaryStringInfo(buf, "\\t", 2);
				break;
			default:
				if (*p < 0x20)
				{
					appendBinaryStringInfo(buf, "\\u00", 4);
					appendStringInfoChar(buf, hex[*p >> 4]);
					appendStringInfoChar(buf, hex[*p & 15]);
				}
				else
					appendStringInfoChar(buf, (char) *p);
				break;
		}
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Append a number as Java's Double.toString (or Float.toString) prints it:
 * the shortest digits that read back to the same value, plain notation for
 * 1e-3 <= |d| < 1e7 ("100.0", "0.001"), else "1.0E10", "1.5E-5".
 * Jackson writes NaN and the infinities as strings.
 */
static void
append_java_number(StringInfo buf, double d, bool is_float)
{
	char		tmp[64];
	char		digits[32];
	int			ndigits = 0;
	int			exp10;
	int			prec;
	int			maxprec = is_float ? 9 : 17;
	char	   *p;
	int			i;

	if (isnan(d))
	{
		appendStringInfoString(buf, "\"NaN\"");
		return;
	}
	if (isinf(d))
	{
		appendStringInfoString(buf, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	if (d == 0)
	{
		appendStringInfoString(buf, signbit(d) ? "-0.0" : "0.0");
		return;
	}

	for (prec = 1; prec <= maxprec; prec++)
	{
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (is_float ? (strtof(tmp, NULL) == (float) d) : (strtod(tmp, NULL) == d))
			break;
	}
	if (prec > maxprec)
		snprintf(tmp, sizeof(tmp), "%.*e", maxprec - 1, d);

	/* tmp is [-]D[.DDD]e(+|-)XX */
	p = tmp;
	if (*p == '-')
	{
		appendStringInfoChar(buf, '-');
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (isdigit((unsigned char) *p))
			digits[ndigits++] = *p;
	exp10 = atoi(p + 1);
	while (ndigits > 1 && digits[ndigits - 1] == '0')
		ndigits--;

	if (exp10 >= -3 && exp10 < 7)
	{
		if (exp10 >= 0)
		{
			for (i = 0; i <= exp10; i++)
				appendStringInfoChar(buf, i < ndigits ? digits[i] : '0');
			appendStringInfoChar(buf, '.');
			if (ndigits > exp10 + 1)
				appendBinaryStringInfo(buf, digits + exp10 + 1, ndigits - exp10 - 1);
			else
				appendStringInfoChar(buf, '0');
		}
		else
		{
			appendStringInfoString(buf, "0.");
			for (i = 0; i < -exp10 - 1; i++)
				appendStringInfoChar(buf, '0');
			appendBinaryStringInfo(buf, digits, ndigits);
		}
	}
	else
	{
		appendStringInfoChar(buf, digits[0]);
		appendStringInfoChar(buf, '.');
		if (ndigits > 1)
			appendBinaryStringInfo(buf, digits + 1, ndigits - 1);
		else
			appendStringInfoChar(buf, '0');
		appendStringInfo(buf, "E%d", exp10);
	}
}

/* Compare two object members by key, for sorting (Java's TreeMap). */
static int
key_index_cmp(const void *a, const void *b, void *arg)
{
	const AvroJson *obj = (const AvroJson *) arg;

	return strcmp(obj->keys[*(const int *) a], obj->keys[*(const int *) b]);
}

/* Indexes of an object's members, sorted by key or in input order. */
static int *
member_order(const AvroJson *obj, bool sort_keys)
{
	int		   *order = palloc(sizeof(int) * Max(obj->len, 1));
	int			i;

	for (i = 0; i < obj->len; i++)
		order[i] = i;
	if (sort_keys && obj->len > 1)
		qsort_arg(order, obj->len, sizeof(int), key_index_cmp, (void *) obj);
	return order;
}

/* Append a JSON value as Jackson writes it. */
void
AvroJsonAppend(StringInfo buf, const AvroJson *v, bool sort_keys)
{
	int			i;

	check_stack_depth();
	switch (v->kind)
	{
		case AVRO_JSON_NULL:
			appendStringInfoString(buf, "null");
			break;
		case AVRO_JSON_BOOL:
			appendStringInfoString(buf, v->boolval ? "true" : "false");
			break;
		case AVRO_JSON_INT:
			appendStringInfo(buf, INT64_FORMAT, v->intval);
			break;
		case AVRO_JSON_REAL:
			append_java_number(buf, v->realval, false);
			break;
		case AVRO_JSON_STRING:
			append_json_string(buf, v->str);
			break;
		case AVRO_JSON_ARRAY:
			appendStringInfoChar(buf, '[');
			for (i = 0; i < v->len; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				AvroJsonAppend(buf, v->elems[i], sort_keys);
			}
			appendStringInfoChar(buf, ']');
			break;
		case AVRO_JSON_OBJECT:
			{
				int		   *order = member_order(v, sort_keys);

				appendStringInfoChar(buf, '{');
				for (i = 0; i < v->len; i++)
				{
					if (i > 0)
						appendStringInfoChar(buf, ',');
					append_json_string(buf, v->keys[order[i]]);
					appendStringInfoChar(buf, ':');
					AvroJsonAppend(buf, v->elems[order[i]], sort_keys);
				}
				appendStringInfoChar(buf, '}');
				pfree(order);
				break;
			}
	}
}

/*
 * Parsing Canonical Form (specification, "Transforming into Parsing
 * Canonical Form"): primitives as bare names, full names, only the
 * attributes type/name/fields/symbols/items/values/size in the order
 * name,type,fields,symbols,items,values,size, no whitespace; a named type
 * written before is written as its full name.
 */
char *
AvroCanonicalForm(const AvroSchema *schema)
{
	StringInfoData buf;
	PtrSet		seen = {0};

	initStringInfo(&buf);
	write_canonical(&buf, schema, &seen);
	if (seen.slots)
		pfree(seen.slots);
	return buf.data;
}

/* Write one schema in Parsing Canonical Form. */
static void
write_canonical(StringInfo buf, const AvroSchema *s, PtrSet *seen)
{
	int			i;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (AVRO_TYPE_IS_NAMED(s->type))
	{
		if (!ptrset_add(seen, s))
		{
			append_json_string(buf, s->fullname);
			return;
		}
		appendStringInfoString(buf, "{\"name\":");
		append_json_string(buf, s->fullname);
		/* an "error" is a record here, as in Java's SchemaNormalization */
		appendStringInfo(buf, ",\"type\":\"%s\"", AvroTypeName(s->type));
	}

	switch (s->type)
	{
		case AVRO_RECORD:
			appendStringInfoString(buf, ",\"fields\":[");
			for (i = 0; i < s->nfields; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				appendStringInfoString(buf, "{\"name\":");
				append_json_string(buf, s->fields[i].name);
				appendStringInfoString(buf, ",\"type\":");
				write_canonical(buf, s->fields[i].type, seen);
				appendStringInfoChar(buf, '}');
			}
			appendStringInfoString(buf, "]}");
			break;
		case AVRO_ENUM:
			appendStringInfoString(buf, ",\"symbols\":[");
			for (i = 0; i < s->nsymbols; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				append_json_string(buf, s->symbols[i]);
			}
			appendStringInfoString(buf, "]}");
			break;
		case AVRO_FIXED:
			appendStringInfo(buf, ",\"size\":%d}", s->size);
			break;
		case AVRO_ARRAY:
			appendStringInfoString(buf, "{\"type\":\"array\",\"items\":");
			write_canonical(buf, s->items, seen);
			appendStringInfoChar(buf, '}');
			break;
		case AVRO_MAP:
			appendStringInfoString(buf, "{\"type\":\"map\",\"values\":");
			write_canonical(buf, s->items, seen);
			appendStringInfoChar(buf, '}');
			break;
		case AVRO_UNION:
			appendStringInfoChar(buf, '[');
			for (i = 0; i < s->nbranches; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				write_canonical(buf, s->branches[i], seen);
			}
			appendStringInfoChar(buf, ']');
			break;
		default:
			append_json_string(buf, AvroTypeName(s->type));
			break;
	}
}

/*
 * The schema as Java Avro's Schema.toString() prints it; with normalize,
 * as Confluent stores it after AvroSchema.normalize().
 *
 * Confluent's normalize() (AvroSchemaUtils.toNormalizedString, adapted from
 * Avro's SchemaNormalization) writes the schema with full names, sorted
 * properties, sorted aliases and typed defaults; the result is parsed again
 * and stored as Schema.toString() of that.  The net effect on the stored
 * text, which is what we produce directly, is:
 *	- custom properties of every schema and field are sorted by key, and
 *	  objects nested in property values have their keys sorted too; for a
 *	  logical type Java knows (all of ours but "duration"), "logicalType",
 *	  "precision" and a non-zero "scale" come first;
 *	- aliases of named types and fields are sorted;
 *	- an empty "doc" of a named type is dropped (a field's is kept);
 *	- an "error" becomes a "record";
 *	- field defaults are rewritten as values of their type (union: its
 *	  first branch): a number for a float or double prints as a floating
 *	  point number ("1" becomes "1.0", a float is rounded to single
 *	  precision), objects get sorted keys, and characters of a bytes or
 *	  fixed default above U+00FF become '?' (Java's ISO-8859-1 encoding).
 * Everything else (namespaces, references by name, attribute order) is as
 * without normalization.  Not reproduced: Confluent's round trip writes a
 * null-namespace type nested in a namespaced one without a namespace, so
 * it wrongly moves into the enclosing namespace; we keep its real name.
 */
char *
AvroSchemaToJson(const AvroSchema *schema, bool normalize)
{
	StringInfoData buf;
	JavaWriter	w;

	initStringInfo(&buf);
	memset(&w, 0, sizeof(w));
	w.buf = &buf;
	w.normalize = normalize;
	write_java(&w, schema, NULL);
	if (w.seen.slots)
		pfree(w.seen.slots);
	return buf.data;
}

/*
 * The main schema of a tree as Confluent stores it: types defined by the
 * referenced schemas are already known, so they are written by name.
 */
char *
AvroSchemaTreeToJson(const AvroSchemaTree *tree, bool normalize)
{
	StringInfoData buf;
	JavaWriter	w;
	int			i;

	initStringInfo(&buf);
	memset(&w, 0, sizeof(w));
	w.buf = &buf;
	w.normalize = normalize;
	for (i = 0; i < tree->nexternal; i++)
		ptrset_add(&w.seen, tree->named[i]);
	write_java(&w, tree->root, NULL);
	if (w.seen.slots)
		pfree(w.seen.slots);
	return buf.data;
}

/* Is the name that of a Java Schema.Type ("record", "int", ...)? */
static bool
is_java_type_name(const char *name)
{
	static const char *const names[] = {
		"record", "enum", "array", "map", "union", "fixed", "string",
		"bytes", "int", "long", "float", "double", "boolean", "null"
	};
	int			i;

	for (i = 0; i < lengthof(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * Write a full name as Java's Name.getQualified(ns): the simple name when
 * the namespace is the current one (and the name is not a type name).
 */
static void
write_qualified(StringInfo buf, const char *fullname, const char *ns)
{
	const char *dot = strrchr(fullname, '.');

	if (dot != NULL && ns != NULL &&
		strlen(ns) == (size_t) (dot - fullname) &&
		strncmp(fullname, ns, dot - fullname) == 0 &&
		!is_java_type_name(dot + 1))
		append_json_string(buf, dot + 1);
	else
		append_json_string(buf, fullname);
}

/* Write "name" and, when it differs from the current one, "namespace". */
static void
write_name(StringInfo buf, const AvroSchema *s, const char *ns)
{
	appendStringInfoString(buf, ",\"name\":");
	append_json_string(buf, s->name);
	if (s->namespace != NULL)
	{
		if (ns == NULL || strcmp(s->namespace, ns) != 0)
		{
			appendStringInfoString(buf, ",\"namespace\":");
			append_json_string(buf, s->namespace);
		}
	}
	else if (ns != NULL)
		appendStringInfoString(buf, ",\"namespace\":\"\"");
}

/* Java's getAliases() spelling of an alias, used as the sort key. */
static const char *
alias_sort_key(const AvroSchema *s, const char *alias)
{
	if (strchr(alias, '.') == NULL && s->namespace != NULL)
		return psprintf(".%s", alias);
	return alias;
}

/* qsort comparator for C strings. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* qsort comparator for pairs (sort key, alias). */
static int
pair_cmp(const void *a, const void *b)
{
	return strcmp(((const char *const *) a)[0], ((const char *const *) b)[0]);
}

/* Write a named type's "aliases", relative to its namespace. */
static void
write_type_aliases(JavaWriter *w, const AvroSchema *s)
{
	const char **pairs;
	int			i;

	if (s->naliases == 0)
		return;
	pairs = palloc(sizeof(char *) * 2 * s->naliases);
	for (i = 0; i < s->naliases; i++)
	{
		pairs[2 * i] = alias_sort_key(s, s->aliases[i]);
		pairs[2 * i + 1] = s->aliases[i];
	}
	if (w->normalize)
		qsort(pairs, s->naliases, sizeof(char *) * 2, pair_cmp);
	appendStringInfoString(w->buf, ",\"aliases\":[");
	for (i = 0; i < s->naliases; i++)
	{
		if (i > 0)
			appendStringInfoChar(w->buf, ',');
		write_qualified(w->buf, pairs[2 * i + 1], s->namespace);
	}
	appendStringInfoChar(w->buf, ']');
	pfree(pairs);
}

/* Write "doc" of a named type (normalization drops an empty one). */
static void
write_type_doc(JavaWriter *w, const AvroSchema *s)
{
	if (s->doc == NULL || (w->normalize && s->doc[0] == '\0'))
		return;
	appendStringInfoString(w->buf, ",\"doc\":");
	append_json_string(w->buf, s->doc);
}

/* Write one record field in Java's attribute order. */
static void
write_field(JavaWriter *w, const AvroField *f, const char *ns)
{
	StringInfo	buf = w->buf;
	int			i;

	appendStringInfoString(buf, "{\"name\":");
	append_json_string(buf, f->name);
	appendStringInfoString(buf, ",\"type\":");
	write_java(w, f->type, ns);
	if (f->doc != NULL)
	{
		appendStringInfoString(buf, ",\"doc\":");
		append_json_string(buf, f->doc);
	}
	if (f->has_default)
	{
		appendStringInfoString(buf, ",\"default\":");
		if (w->normalize)
			write_default(w, f->type, f->default_value);
		else
			AvroJsonAppend(buf, f->default_value, false);
	}
	if (f->order == AVRO_ORDER_DESCENDING)
		appendStringInfoString(buf, ",\"order\":\"descending\"");
	else if (f->order == AVRO_ORDER_IGNORE)
		appendStringInfoString(buf, ",\"order\":\"ignore\"");
	if (f->naliases > 0)
	{
		const char **aliases = palloc(sizeof(char *) * f->naliases);

		memcpy(aliases, f->aliases, sizeof(char *) * f->naliases);
		if (w->normalize)
			qsort(aliases, f->naliases, sizeof(char *), str_cmp);
		appendStringInfoString(buf, ",\"aliases\":[");
		for (i = 0; i < f->naliases; i++)
		{
			if (i > 0)
				appendStringInfoChar(buf, ',');
			append_json_string(buf, aliases[i]);
		}
		appendStringInfoChar(buf, ']');
		pfree(aliases);
	}
	write_props(w, f->props_json, NULL);
	appendStringInfoChar(buf, '}');
}

/*
 * Write one schema as Java's Schema.toJson does; ns is the namespace of the
 * enclosing named type (NULL at the top).
 */
static void
write_java(JavaWriter *w, const AvroSchema *s, const char *ns)
{
	StringInfo	buf = w->buf;
	int			i;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (AVRO_TYPE_IS_NAMED(s->type) && !ptrset_add(&w->seen, s))
	{
		write_qualified(buf, s->fullname, ns);
		return;
	}

	switch (s->type)
	{
		case AVRO_RECORD:
			appendStringInfo(buf, "{\"type\":\"%s\"",
							 (s->is_error && !w->normalize) ? "error" : "record");
			write_name(buf, s, ns);
			write_type_doc(w, s);
			appendStringInfoString(buf, ",\"fields\":[");
			for (i = 0; i < s->nfields; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				write_field(w, &s->fields[i], s->namespace);
			}
			appendStringInfoChar(buf, ']');
			write_props(w, s->props_json, NULL);
			write_type_aliases(w, s);
			appendStringInfoChar(buf, '}');
			break;
		case AVRO_ENUM:
			appendStringInfoString(buf, "{\"type\":\"enum\"");
			write_name(buf, s, ns);
			write_type_doc(w, s);
			appendStringInfoString(buf, ",\"symbols\":[");
			for (i = 0; i < s->nsymbols; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				append_json_string(buf, s->symbols[i]);
			}
			appendStringInfoChar(buf, ']');
			if (s->enum_default != NULL)
			{
				appendStringInfoString(buf, ",\"default\":");
				append_json_string(buf, s->enum_default);
			}
			write_props(w, s->props_json, NULL);
			write_type_aliases(w, s);
			appendStringInfoChar(buf, '}');
			break;
		case AVRO_FIXED:
			appendStringInfoString(buf, "{\"type\":\"fixed\"");
			write_name(buf, s, ns);
			write_type_doc(w, s);
			appendStringInfo(buf, ",\"size\":%d", s->size);
			write_props(w, s->props_json, s);
			write_type_aliases(w, s);
			appendStringInfoChar(buf, '}');
			break;
		case AVRO_ARRAY:
		case AVRO_MAP:
			appendStringInfo(buf, "{\"type\":\"%s\",\"%s\":",
							 s->type == AVRO_ARRAY ? "array" : "map",
							 s->type == AVRO_ARRAY ? "items" : "values");
			write_java(w, s->items, ns);
			write_props(w, s->props_json, NULL);
			appendStringInfoChar(buf, '}');
			break;
		case AVRO_UNION:
			appendStringInfoChar(buf, '[');
			for (i = 0; i < s->nbranches; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				write_java(w, s->branches[i], ns);
			}
			appendStringInfoChar(buf, ']');
			break;
		default:
			if (s->props_json == NULL)
				append_json_string(buf, AvroTypeName(s->type));
			else
			{
				appendStringInfo(buf, "{\"type\":\"%s\"", AvroTypeName(s->type));
				write_props(w, s->props_json, s);
				appendStringInfoChar(buf, '}');
			}
			break;
	}
}

/*
 * Write custom properties as ,"k":v pairs: in input order, or normalized
 * (sorted, with a valid logical type's own attributes first).
 */
static void
write_props(JavaWriter *w, const AvroJson *props, const AvroSchema *logical)
{
	StringInfo	buf = w->buf;
	bool		skip_precision = false;
	bool		skip_scale = false;
	int		   *order;
	int			i;

	if (props == NULL)
		return;

	/* Java Avro has no "duration" logical type: it stays a plain property. */
	if (w->normalize && logical != NULL && logical->logical != AVRO_LOGICAL_NONE &&
		logical->logical != AVRO_LOGICAL_DURATION)
	{
		appendStringInfoString(buf, ",\"logicalType\":");
		append_json_string(buf, logical->logical_name);
		if (logical->logical == AVRO_LOGICAL_DECIMAL)
		{
			appendStringInfo(buf, ",\"precision\":%d", logical->precision);
			skip_precision = true;
			if (logical->scale != 0)
			{
				appendStringInfo(buf, ",\"scale\":%d", logical->scale);
				skip_scale = true;
			}
		}
	}
	else
		logical = NULL;

	order = member_order(props, w->normalize);
	for (i = 0; i < props->len; i++)
	{
		const char *key = props->keys[order[i]];

		if (logical != NULL &&
			(strcmp(key, "logicalType") == 0 ||
			 (skip_precision && strcmp(key, "precision") == 0) ||
			 (skip_scale && strcmp(key, "scale") == 0)))
			continue;
		appendStringInfoChar(buf, ',');
		append_json_string(buf, key);
		appendStringInfoChar(buf, ':');
		AvroJsonAppend(buf, props->elems[order[i]], w->normalize);
	}
	pfree(order);
}

/* Write a bytes/fixed default as Java's ISO-8859-1 round trip does. */
static void
write_latin1_string(StringInfo buf, const char *s)
{
	StringInfoData tmp;
	const unsigned char *p = (const unsigned char *) s;

	initStringInfo(&tmp);
	while (*p)
	{
		int			l = pg_utf_mblen(p);

		if (*p < 0x80 || utf8_to_unicode(p) <= 0xFF)
			appendBinaryStringInfo(&tmp, (const char *) p, l);
		else if (utf8_to_unicode(p) > 0xFFFF)
			appendStringInfoString(&tmp, "??");	/* a surrogate pair */
		else
			appendStringInfoChar(&tmp, '?');
		p += l;
	}
	append_json_string(buf, tmp.data);
	pfree(tmp.data);
}

/*
 * Write a field default converted to its schema's type, as Confluent's
 * normalization does (JacksonUtils.toObject, then a key-sorting Jackson
 * tree); s is NULL where the value has no schema.
 */
static void
write_default(JavaWriter *w, const AvroSchema *s, const AvroJson *v)
{
	StringInfo	buf = w->buf;
	int			i;

	check_stack_depth();
	while (s != NULL && s->type == AVRO_UNION)
		s = s->nbranches > 0 ? s->branches[0] : NULL;

	switch (v->kind)
	{
		case AVRO_JSON_INT:
			if (s != NULL && s->type == AVRO_FLOAT)
				append_java_number(buf, (double) (float) v->intval, true);
			else if (s != NULL && s->type == AVRO_DOUBLE)
				append_java_number(buf, (double) v->intval, false);
			else
				AvroJsonAppend(buf, v, true);
			break;
		case AVRO_JSON_REAL:
			if (s != NULL && s->type == AVRO_FLOAT)
				append_java_number(buf, (double) (float) v->realval, true);
			else
				AvroJsonAppend(buf, v, true);
			break;
		case AVRO_JSON_STRING:
			if (s != NULL && (s->type == AVRO_BYTES || s->type == AVRO_FIXED))
				write_latin1_string(buf, v->str);
			else
				AvroJsonAppend(buf, v, true);
			break;
		case AVRO_JSON_ARRAY:
			appendStringInfoChar(buf, '[');
			for (i = 0; i < v->len; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				write_default(w, (s != NULL && s->type == AVRO_ARRAY) ? s->items : NULL,
							  v->elems[i]);
			}
			appendStringInfoChar(buf, ']');
			break;
		case AVRO_JSON_OBJECT:
			{
				int		   *order = member_order(v, true);

				appendStringInfoChar(buf, '{');
				for (i = 0; i < v->len; i++)
				{
					const char *key = v->keys[order[i]];
					const AvroSchema *sub = NULL;

					if (s != NULL && s->type == AVRO_MAP)
						sub = s->items;
					else if (s != NULL && s->type == AVRO_RECORD)
					{
						int			k;

						for (k = 0; k < s->nfields; k++)
							if (strcmp(s->fields[k].name, key) == 0)
								sub = s->fields[k].type;
					}
					if (i > 0)
						appendStringInfoChar(buf, ',');
					append_json_string(buf, key);
					appendStringInfoChar(buf, ':');
					write_default(w, sub, v->elems[order[i]]);
				}
				appendStringInfoChar(buf, '}');
				pfree(order);
				break;
			}
		default:
			AvroJsonAppend(buf, v, true);
			break;
	}
}
