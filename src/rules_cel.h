/*-------------------------------------------------------------------------
 *
 * rules_cel.h
 *	  A CEL (Common Expression Language) interpreter for data-quality rules:
 *	  compile an expression once, evaluate it against many messages.
 *
 * rules_cel_parse.c lexes, parses and checks an expression into an
 * immutable CelProgram; rules_cel_eval.c evaluates a program over CelValues
 * with CEL's error-absorbing logic and bounded steps; rules_cel.c converts
 * jsonb to and from CelValues, matches regular expressions, and holds the
 * SQL functions.  The parser and the evaluator never ereport: they return
 * an error message, so the registry, the Kafka worker and the fuzz harness
 * each choose how to report it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_RULES_CEL_H
#define DATACONTRACT_RULES_CEL_H

#include "postgres.h"

#include "utils/jsonb.h"

/* Bounds: an expression past one of them is an error, never a hang. */
#define CEL_MAX_EXPR_LEN	(64 * 1024)	/* bytes of source text */
#define CEL_MAX_DEPTH		200			/* height of the syntax tree */
#define CEL_MAX_STEPS		1000000		/* nodes evaluated + iterations +
										 * allocated bytes / 16 */

typedef struct CelProgram CelProgram;

/* A variable given to CelEvaluate(): a name and its value as jsonb. */
typedef struct CelVar
{
	const char *name;
	Jsonb	   *value;
} CelVar;

/*
 * Compile an expression into a program allocated in cxt.  With allow_guard,
 * "guard ; body" is accepted (the guard runs first, the body only when the
 * guard is true).  Returns NULL and sets *errmsg on a syntax or check error;
 * the message gives the 1-based character position.
 */
extern CelProgram *CelCompile(const char *expr, bool allow_guard,
							  MemoryContext cxt, char **errmsg);

/*
 * Evaluate a program with variables.  Returns false and sets *errmsg on a
 * runtime error (no such key, overflow, division by zero, bound exceeded);
 * never throws for bad data.  The result is palloc'd in the current context;
 * it is NULL when the guard of "guard ; body" was not true (the rule does
 * not apply).
 */
extern bool CelEvaluate(const CelProgram *prog, const CelVar *vars, int nvars,
						Jsonb **result, char **errmsg);

/* Whether the program has a guard ("guard ; body"). */
extern bool CelProgramHasGuard(const CelProgram *prog);

/* ---------------------------------------------------------------------
 * Value level: for callers that convert a message once and evaluate many
 * rules over it (and for the benchmark and the fuzz harness).
 * ---------------------------------------------------------------------
 */

typedef enum CelType
{
	CEL_NULL,
	CEL_BOOL,
	CEL_INT,
	CEL_UINT,
	CEL_DOUBLE,
	CEL_STRING,
	CEL_BYTES,
	CEL_LIST,
	CEL_MAP,
	CEL_TIMESTAMP,
	CEL_DURATION,
	CEL_TYPE,
	CEL_ERROR
} CelType;

/*
 * A value, 16 bytes, passed by value.  Strings are UTF-8 and not
 * NUL-terminated; a map holds len (key, value) pairs in items[0 .. 2*len).
 * Timestamps (seconds since the Unix epoch) and durations are u.i whole
 * seconds (floor) plus len nanoseconds in [0, 1e9).  An error carries its
 * message in u.s and its SQLSTATE in len.
 */
typedef struct CelValue
{
	uint8		type;			/* CelType */
	int32		len;
	union
	{
		bool		b;
		int64		i;
		uint64		u;
		double		d;
		const char *s;
		struct CelValue *items;
	}			u;
} CelValue;

typedef struct CelValueVar
{
	const char *name;
	CelValue	value;
} CelValueVar;

/*
 * Evaluate over CelValues.  *skipped is set when the program has a guard
 * that is not true (false, an error, or not a bool): the body did not run
 * and *result is null.  On error returns false with *errmsg and *sqlstate
 * (a data exception; 54000 when a bound is exceeded).
 */
extern bool CelEvaluateValues(const CelProgram *prog, const CelValueVar *vars,
							  int nvars, CelValue *result, bool *skipped,
							  char **errmsg, int *sqlstate);

/* Conversions between jsonb and CelValues (rules_cel.c). */
extern void CelValueFromJsonb(Jsonb *jb, CelValue *out);
extern void CelValueFromJsonbValue(JsonbValue *jv, CelValue *out);
extern Jsonb *CelValueToJsonb(const CelValue *value);

/*
 * Unanchored regular-expression search of s for pattern (both UTF-8), for
 * matches().  Returns false with *errmsg when the pattern is invalid.
 * Defined in rules_cel.c over PostgreSQL's ARE engine; the fuzz harness
 * brings its own.
 */
extern bool CelRegexSearch(const char *pattern, int patlen, const char *s,
						   int slen, bool *match, char **errmsg);

/* Formatting shared by string() and the jsonb conversion (rules_cel_eval.c). */
extern char *CelFormatTimestamp(int64 seconds, int32 nanos);
extern char *CelFormatDuration(int64 seconds, int32 nanos);
extern char *CelFormatDouble(double d);

/* ---------------------------------------------------------------------
 * Internal: the compiled form, shared by the parser and the evaluator.
 * ---------------------------------------------------------------------
 */

typedef enum CelNodeKind
{
	CN_CONST,					/* value */
	CN_VAR,						/* free variable: slot into varnames */
	CN_LOCAL,					/* comprehension variable: slot */
	CN_SELECT,					/* args[0].name */
	CN_HAS,						/* has(args[0].name) */
	CN_INDEX,					/* args[0][args[1]] */
	CN_CALL,					/* op = CelFunc; method calls: receiver is
								 * args[0] and method is true */
	CN_LIST,					/* [args...] */
	CN_MAP,						/* {args[0]: args[1], ...} */
	CN_AND,
	CN_OR,
	CN_NOT,
	CN_NEG,
	CN_COND,					/* args[0] ? args[1] : args[2] */
	CN_BINARY,					/* op = CelBinOp */
	CN_COMPREHENSION			/* op = CelMacro; slot = iteration variable;
								 * args: range, predicate [, transform] */
} CelNodeKind;

typedef enum CelBinOp
{
	CB_ADD, CB_SUB, CB_MUL, CB_DIV, CB_MOD,
	CB_EQ, CB_NE, CB_LT, CB_LE, CB_GT, CB_GE, CB_IN
} CelBinOp;

typedef enum CelMacro
{
	CM_ALL, CM_EXISTS, CM_EXISTS_ONE, CM_MAP, CM_FILTER
} CelMacro;

typedef enum CelFunc
{
	CF_SIZE, CF_INT, CF_UINT, CF_DOUBLE, CF_STRING, CF_BYTES, CF_BOOL,
	CF_TIMESTAMP, CF_DURATION, CF_TYPE, CF_DYN,
	CF_CONTAINS, CF_STARTS_WITH, CF_ENDS_WITH, CF_MATCHES,
	CF_LOWER_ASCII, CF_UPPER_ASCII,
	CF_GET_FULL_YEAR, CF_GET_MONTH, CF_GET_DATE, CF_GET_DAY_OF_MONTH,
	CF_GET_DAY_OF_WEEK, CF_GET_DAY_OF_YEAR, CF_GET_HOURS, CF_GET_MINUTES,
	CF_GET_SECONDS, CF_GET_MILLISECONDS
} CelFunc;

typedef struct CelNode
{
	uint8		kind;			/* CelNodeKind */
	uint8		op;				/* CelBinOp, CelFunc or CelMacro */
	bool		method;			/* CN_CALL: receiver-style call */
	int16		nargs;
	int32		pos;			/* 1-based character position */
	int32		slot;			/* CN_VAR, CN_LOCAL, CN_COMPREHENSION */
	int32		namelen;
	const char *name;			/* CN_SELECT, CN_HAS field; CN_VAR name */
	CelValue	value;			/* CN_CONST */
	struct CelNode **args;
} CelNode;

struct CelProgram
{
	CelNode    *guard;			/* NULL without a guard */
	CelNode    *body;
	int			nvars;			/* free variables, by slot */
	const char **varnames;
	int			nlocals;		/* comprehension variables */
	char	   *source;
};

/* Names of types and of binary operators, for messages (rules_cel_eval.c). */
extern const char *CelTypeName(const CelValue *v);

#endif							/* DATACONTRACT_RULES_CEL_H */
