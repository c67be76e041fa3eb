/*-------------------------------------------------------------------------
 *
 * rules_jsonata.h
 *	  A JSONata interpreter for JSONATA migration and domain rules: compile
 *	  an expression once, evaluate it on the JSON form of messages.
 *
 * The core (rules_jsonata_core.c) parses and evaluates over its own value
 * type and reports errors as messages, never by ereport, so a bad rule or a
 * bad message cannot abort the caller; rules_jsonata.c converts jsonb to
 * and from values and holds the SQL functions and GUCs.  Evaluation is
 * bounded by wall-clock time and by nesting depth.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_RULES_JSONATA_H
#define DATACONTRACT_RULES_JSONATA_H

#include "postgres.h"

#include "utils/jsonb.h"

typedef struct JsonataProgram JsonataProgram;

/* GUCs (defined by JsonataDefineGucs) */
extern int	datacontract_jsonata_timeout;	/* ms; 0 = none */
extern int	datacontract_jsonata_max_depth;

extern void JsonataDefineGucs(void);

/*
 * Compile expr into a program allocated in a new child of cxt.  On a syntax
 * error returns NULL and sets *errmsg (palloc'd in the caller's context) to
 * a message that names the position (1-based, in characters).
 */
extern JsonataProgram *JsonataCompile(const char *expr, MemoryContext cxt,
									  char **errmsg);

/* Free a compiled program. */
extern void JsonataFree(JsonataProgram *prog);

/*
 * Evaluate prog on input (NULL input means undefined).  On success returns
 * true and sets *result (NULL when the result is undefined), allocated in
 * the caller's context.  On a runtime error, a timeout (timeout_ms > 0) or
 * more than max_depth nested evaluations returns false with *errmsg.
 */
extern bool JsonataEvaluate(const JsonataProgram *prog, Jsonb *input,
							int timeout_ms, int max_depth,
							Jsonb **result, char **errmsg);

/*
 * The core's value type, for the jsonb conversion and the fuzz harness.
 * Undefined is a NULL pointer.  Arrays carry JSONata's sequence flags.
 * Strings are UTF-8, NUL-terminated, with their byte length.
 */
typedef enum JsonataType
{
	JSONATA_NULL,
	JSONATA_BOOL,
	JSONATA_NUMBER,
	JSONATA_STRING,
	JSONATA_ARRAY,
	JSONATA_OBJECT,
	JSONATA_FUNCTION
} JsonataType;

#define JSONATA_SEQUENCE	0x01	/* a result sequence, not a JSON array */
#define JSONATA_CONS		0x02	/* built by an array constructor */
#define JSONATA_KEEP		0x04	/* keep a singleton sequence as an array */
#define JSONATA_OUTER		0x08	/* wraps a top-level input array */

struct JsonataFunction;

typedef struct JsonataValue
{
	JsonataType type;
	uint8		flags;
	int			n;				/* string bytes, array items, object keys */
	int			cap;
	union
	{
		bool		boolean;
		double		number;
		char	   *str;
		struct JsonataValue **items;
		struct
		{
			char	  **keys;
			int		   *klens;
			struct JsonataValue **vals;
		}			obj;
		struct JsonataFunction *fn;
	}			u;
} JsonataValue;

extern JsonataValue *JsonataMakeNull(void);
extern JsonataValue *JsonataMakeBool(bool b);
extern JsonataValue *JsonataMakeNumber(double d);
extern JsonataValue *JsonataMakeString(const char *s, int len);
extern JsonataValue *JsonataMakeArray(int cap);
extern JsonataValue *JsonataMakeObject(int cap);
extern void JsonataArrayPush(JsonataValue *arr, JsonataValue *v);
extern void JsonataObjectSet(JsonataValue *obj, const char *key, int klen,
							 JsonataValue *v);

/* Format a number as JavaScript's Number.prototype.toString does. */
extern void JsonataFormatNumber(double d, char *buf, size_t size);

/*
 * Evaluate on a value; the work and the result are allocated in the current
 * memory context.  Same contract as JsonataEvaluate.
 */
extern bool JsonataEvaluateValue(const JsonataProgram *prog,
								 JsonataValue *input, int timeout_ms,
								 int max_depth, JsonataValue **result,
								 char **errmsg);

#endif							/* DATACONTRACT_RULES_JSONATA_H */
