/*-------------------------------------------------------------------------
 *
 * avro_schema.h
 *	  The Avro schema model: an immutable tree parsed from JSON, its
 *	  Parsing Canonical Form, fingerprints and Confluent's stored form.
 *
 * Every other module (compatibility, codec, contracts, registry) works on
 * this representation.  A tree lives entirely in one memory context; named
 * types that are referenced again (including recursively) are the same
 * node, so walkers must guard against cycles.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_AVRO_SCHEMA_H
#define DATACONTRACT_AVRO_SCHEMA_H

#include "postgres.h"

#include "lib/stringinfo.h"

/*
 * A JSON value kept from the schema text: field defaults and custom
 * properties.  Parsed by jansson, then copied into the tree's memory.
 * Objects keep their keys in input order (no duplicates: those are rejected).
 */
typedef enum AvroJsonKind
{
	AVRO_JSON_NULL,
	AVRO_JSON_BOOL,
	AVRO_JSON_INT,				/* integral number, fits int64 */
	AVRO_JSON_REAL,				/* number with a fraction or exponent */
	AVRO_JSON_STRING,
	AVRO_JSON_ARRAY,
	AVRO_JSON_OBJECT
} AvroJsonKind;

typedef struct AvroJson
{
	AvroJsonKind kind;
	bool		boolval;		/* BOOL */
	int64		intval;			/* INT */
	double		realval;		/* REAL (NaN/Infinity only from a float or
								 * double default given as a string) */
	const char *str;			/* STRING: NUL-terminated UTF-8 */
	int			len;			/* STRING: bytes; ARRAY, OBJECT: elements */
	const char **keys;			/* OBJECT: keys, in input order */
	struct AvroJson **elems;	/* ARRAY, OBJECT: values */
} AvroJson;

typedef enum AvroType
{
	AVRO_NULL,
	AVRO_BOOLEAN,
	AVRO_INT,
	AVRO_LONG,
	AVRO_FLOAT,
	AVRO_DOUBLE,
	AVRO_BYTES,
	AVRO_STRING,
	AVRO_RECORD,				/* also "error" (is_error set) */
	AVRO_ENUM,
	AVRO_ARRAY,
	AVRO_MAP,
	AVRO_UNION,
	AVRO_FIXED
} AvroType;

#define AVRO_TYPE_IS_PRIMITIVE(t) ((t) <= AVRO_STRING)
#define AVRO_TYPE_IS_NAMED(t) \
	((t) == AVRO_RECORD || (t) == AVRO_ENUM || (t) == AVRO_FIXED)

/*
 * Logical types the specification defines.  A logicalType attribute that is
 * unknown or invalid for its underlying type is kept as a property
 * (logical_name) but the schema behaves as its underlying type, as the
 * specification requires.
 */
typedef enum AvroLogicalType
{
	AVRO_LOGICAL_NONE,
	AVRO_LOGICAL_DECIMAL,		/* bytes or fixed */
	AVRO_LOGICAL_UUID,			/* string (or fixed 16) */
	AVRO_LOGICAL_DATE,			/* int */
	AVRO_LOGICAL_TIME_MILLIS,	/* int */
	AVRO_LOGICAL_TIME_MICROS,	/* long */
	AVRO_LOGICAL_TIMESTAMP_MILLIS,	/* long */
	AVRO_LOGICAL_TIMESTAMP_MICROS,	/* long */
	AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS,	/* long */
	AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS,	/* long */
	AVRO_LOGICAL_DURATION		/* fixed 12 */
} AvroLogicalType;

typedef enum AvroOrder
{
	AVRO_ORDER_ASCENDING,
	AVRO_ORDER_DESCENDING,
	AVRO_ORDER_IGNORE
} AvroOrder;

typedef struct AvroSchema AvroSchema;

typedef struct AvroField
{
	const char *name;
	int			position;		/* index in the record's field list */
	AvroSchema *type;
	const char *doc;			/* NULL if absent */
	bool		has_default;
	const char *default_json;	/* compact JSON text of "default" (Jackson's
								 * formatting), or NULL */
	const AvroJson *default_value;	/* the same, parsed; NULL if absent.  A
									 * float/double default given as a
									 * string ("NaN", "1.5") is a REAL. */
	AvroOrder	order;
	bool		order_given;	/* "order" attribute was present */
	const char **aliases;		/* as written (field aliases are simple names) */
	int			naliases;
	const char *props;			/* JSON object text of custom attributes, or NULL */
	const AvroJson *props_json; /* the same, parsed (an OBJECT), or NULL */
} AvroField;

struct AvroSchema
{
	AvroType	type;

	/* logical type */
	AvroLogicalType logical;
	const char *logical_name;	/* raw logicalType attribute, NULL if absent */
	int			precision;		/* decimal */
	int			scale;			/* decimal */

	/* named types (record, enum, fixed) */
	const char *name;			/* simple name */
	const char *namespace;		/* NULL or "" when in the null namespace */
	const char *fullname;		/* namespace.name, or name */
	const char **aliases;		/* full names, resolved against namespace */
	int			naliases;
	const char *doc;			/* records, enums, fixed: NULL if absent */
	bool		is_error;		/* record declared as "error" */

	/* record */
	AvroField  *fields;
	int			nfields;

	/* enum */
	const char **symbols;
	int			nsymbols;
	const char *enum_default;	/* NULL if absent */

	/* array (items) and map (values) */
	AvroSchema *items;

	/* union */
	AvroSchema **branches;
	int			nbranches;

	/* fixed */
	int			size;

	/*
	 * Custom attributes, JSON object text in input order, or NULL.  As in
	 * Java Avro, these are all attributes not reserved for the type, so they
	 * include "logicalType", "precision" and "scale" (e.g.
	 * {"logicalType":"decimal","precision":4,"scale":2,"confluent:tags":[..]}).
	 * Reserved attributes that do not apply to a type (e.g. "doc" on an
	 * array) are dropped, as Java does.
	 */
	const char *props;
	const AvroJson *props_json; /* the same, parsed (an OBJECT), or NULL */
};

/* A parsed schema and the context that owns all of it. */
typedef struct AvroSchemaTree
{
	MemoryContext cxt;
	AvroSchema *root;
	AvroSchema **named;			/* every named type, in definition order */
	int			nnamed;
	int			nexternal;		/* named[0..nexternal-1] came from references */
	void	   *name_index;		/* private: full name -> named type */
} AvroSchemaTree;

/* Limits, settable through GUCs in datacontract.c. */
extern int	datacontract_max_schema_size;	/* bytes of schema JSON */
extern int	datacontract_max_schema_depth;	/* nesting depth of a schema */

/*
 * Parse and validate a schema.  On success returns a tree allocated in a new
 * child context of "parent".  On an invalid schema returns NULL and sets
 * *errmsg (palloc'd in the caller's context) to a message that says what is
 * wrong and where; it never throws for bad input (only for out-of-memory or
 * interrupts).
 */
extern AvroSchemaTree *AvroParseSchema(const char *json, size_t len,
									   MemoryContext parent, char **errmsg);

/*
 * As AvroParseSchema, for a schema with Confluent schema references: the
 * referenced schemas' texts are parsed first, in order, into the same tree
 * so the main schema may use their named types (tree->nexternal of them).
 */
extern AvroSchemaTree *AvroParseSchemaWithRefs(const char *json, size_t len,
											   const char *const *refs,
											   const size_t *ref_lens, int nrefs,
											   MemoryContext parent, char **errmsg);

/* As AvroParseSchema, but reports an invalid schema with ereport(ERROR). */
extern AvroSchemaTree *AvroParseSchemaOrError(const char *json, size_t len,
											  MemoryContext parent);

extern void AvroFreeSchemaTree(AvroSchemaTree *tree);

/* Parsing Canonical Form as the Avro specification defines it (palloc'd). */
extern char *AvroCanonicalForm(const AvroSchema *schema);

/*
 * The schema as Java Avro's Schema.toString() prints it: compact JSON with
 * every attribute kept, in Java's key order.  This is the text Confluent
 * Schema Registry stores and returns, and the text our identity digest is
 * computed over.  With normalize, Confluent's normalization is applied too.
 */
extern char *AvroSchemaToJson(const AvroSchema *schema, bool normalize);

/*
 * As AvroSchemaToJson for a tree's root, with the named types that came from
 * references written by name, as Confluent stores a schema with references.
 * AvroSchemaToJson(tree->root, ...) instead inlines them: a self-contained
 * text ("resolved") usable without the references.
 */
extern char *AvroSchemaTreeToJson(const AvroSchemaTree *tree, bool normalize);

/* Fingerprints over arbitrary bytes (normally the canonical form). */
extern uint64 AvroCrc64(const char *data, size_t len);
extern void AvroMd5(const char *data, size_t len, uint8 out[16]);
extern void AvroSha256(const char *data, size_t len, uint8 out[32]);

/* Name of a type as the specification spells it ("int", "record", ...). */
extern const char *AvroTypeName(AvroType type);

/* Look a named type up by full name; NULL if absent. */
extern AvroSchema *AvroFindNamed(const AvroSchemaTree *tree, const char *fullname);

/* A short description of a schema for messages: "int", "com.x.Rec", "array". */
extern const char *AvroSchemaDescribe(const AvroSchema *schema);

/*
 * Append a JSON value as Jackson writes it (Java's number formatting,
 * Jackson's string escaping); sort_keys sorts object keys recursively.
 */
extern void AvroJsonAppend(StringInfo buf, const AvroJson *value, bool sort_keys);

/* Member of a JSON object by key, or NULL. */
extern const AvroJson *AvroJsonObjectGet(const AvroJson *object, const char *key);

/*
 * Per-backend cache of parsed schemas keyed by their text (the stored
 * canonical JSON), so repeated checks against the same history never
 * re-parse.  The returned tree is owned by the cache: do not free or modify.
 * It stays valid at least until the end of the current transaction (a tree
 * evicted to make room is only freed then).  Reports an invalid schema with
 * ereport(ERROR).
 */
extern const AvroSchemaTree *AvroSchemaCacheGet(const char *json, size_t len);

#endif							/* DATACONTRACT_AVRO_SCHEMA_H */
