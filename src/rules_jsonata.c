/*-------------------------------------------------------------------------
 *
 * rules_jsonata.c
 *	  SQL functions and GUCs of the JSONata interpreter, and the conversion
 *	  of jsonb to and from the interpreter's values.
 *
 * jsonata_eval caches the compiled program in fn_extra, so evaluating one
 * rule over many rows parses it once per query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "rules_jsonata.h"

PG_FUNCTION_INFO_V1(jsonata_eval);
PG_FUNCTION_INFO_V1(jsonata_check);

int			datacontract_jsonata_timeout = 60000;
int			datacontract_jsonata_max_depth = 1000;

static bool GucsDefined = false;

/* The program cached in fn_extra, with the text it was compiled from. */
typedef struct JsonataCache
{
	text	   *expr;
	JsonataProgram *prog;
} JsonataCache;

static JsonataValue *JsonbToValue(Jsonb *jb, char **errmsg);
static Jsonb *ValueToJsonb(JsonataValue *v, char **errmsg);

/*
 * jsonata_eval(expr text, input jsonb) returns jsonb: evaluate a JSONata
 * expression; SQL NULL when the result is undefined.
 */
Datum
jsonata_eval(PG_FUNCTION_ARGS)
{
	text	   *expr;
	Jsonb	   *input = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	JsonataCache *cache = (JsonataCache *) fcinfo->flinfo->fn_extra;
	Jsonb	   *result;
	char	   *err = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	JsonataDefineGucs();
	expr = PG_GETARG_TEXT_PP(0);
	if (cache == NULL || VARSIZE_ANY_EXHDR(cache->expr) != VARSIZE_ANY_EXHDR(expr) ||
		memcmp(VARDATA_ANY(cache->expr), VARDATA_ANY(expr), VARSIZE_ANY_EXHDR(expr)) != 0)
	{
		MemoryContext fcxt = fcinfo->flinfo->fn_mcxt;
		JsonataProgram *prog;

		prog = JsonataCompile(text_to_cstring(expr), fcxt, &err);
		if (prog == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("invalid JSONata expression: %s", err)));
		if (cache == NULL)
			cache = MemoryContextAllocZero(fcxt, sizeof(JsonataCache));
		else
		{
			JsonataFree(cache->prog);
			pfree(cache->expr);
		}
		cache->prog = prog;
		cache->expr = (text *) MemoryContextAlloc(fcxt, VARSIZE_ANY(expr));
		memcpy(cache->expr, expr, VARSIZE_ANY(expr));
		fcinfo->flinfo->fn_extra = cache;
	}

	if (!JsonataEvaluate(cache->prog, input, datacontract_jsonata_timeout,
						 datacontract_jsonata_max_depth, &result, &err))
	{
		bool		bound = strncmp(err, "U1001", 5) == 0;

		ereport(ERROR,
				(errcode(bound ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_DATA_EXCEPTION),
				 errmsg("JSONata evaluation failed: %s", err),
				 bound ? errhint("The bounds are datacontract.jsonata_timeout and datacontract.jsonata_max_depth.") : 0));
	}
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/*
 * jsonata_check(expr text) returns text: NULL when expr compiles, else the
 * syntax error; used to validate rules when they are registered.
 */
Datum
jsonata_check(PG_FUNCTION_ARGS)
{
	char	   *err = NULL;
	JsonataProgram *prog;

	JsonataDefineGucs();
	prog = JsonataCompile(text_to_cstring(PG_GETARG_TEXT_PP(0)), CurrentMemoryContext, &err);
	if (prog != NULL)
	{
		JsonataFree(prog);
		PG_RETURN_NULL();
	}
	PG_RETURN_TEXT_P(cstring_to_text(err));
}

/* Define the interpreter's GUCs; called from _PG_init and on first use. */
void
JsonataDefineGucs(void)
{
	if (GucsDefined)
		return;
	GucsDefined = true;
	DefineCustomIntVariable("datacontract.jsonata_timeout",
							"Longest time one JSONata evaluation may run (the rule's timeout.ms).",
							"Zero means no limit.",
							&datacontract_jsonata_timeout,
							60000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("datacontract.jsonata_max_depth",
							"Deepest nesting of evaluations, including recursive calls, in one JSONata evaluation (the rule's max.depth).",
							NULL,
							&datacontract_jsonata_max_depth,
							1000, 1, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

/* Evaluate on jsonb; see rules_jsonata.h. */
bool
JsonataEvaluate(const JsonataProgram *prog, Jsonb *input, int timeout_ms, int max_depth,
				Jsonb **result, char **errmsg)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;
	JsonataValue *in = NULL;
	JsonataValue *out = NULL;
	char	   *err = NULL;
	bool		ok = true;

	work = AllocSetContextCreate(caller, "JSONata evaluation", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);
	*result = NULL;
	if (input != NULL)
	{
		in = JsonbToValue(input, &err);
		ok = err == NULL;
	}
	if (ok)
		ok = JsonataEvaluateValue(prog, in, timeout_ms, max_depth, &out, &err);
	MemoryContextSwitchTo(caller);
	if (ok && out != NULL)
		*result = ValueToJsonb(out, &err);
	if (err != NULL)
	{
		ok = false;
		*errmsg = pstrdup(err);
		*result = NULL;
	}
	MemoryContextDelete(work);
	return ok;
}

/* Convert a jsonb scalar to a value. */
static JsonataValue *
ScalarToValue(JsonbValue *v, char **errmsg)
{
	switch (v->type)
	{
		case jbvNull:
			return JsonataMakeNull();
		case jbvBool:
			return JsonataMakeBool(v->val.boolean);
		case jbvString:
			return JsonataMakeString(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v->val.numeric)));
				double		d = strtod(s, NULL);

				if (!isfinite(d))
				{
					*errmsg = psprintf("D1001: number out of range in the input: %.40s", s);
					return NULL;
				}
				return JsonataMakeNumber(d == 0 ? 0 : d);
			}
		default:
			*errmsg = pstrdup("unsupported jsonb value in the input");
			return NULL;
	}
}

/* Convert jsonb to a value; NULL with *errmsg for numbers beyond double. */
static JsonataValue *
JsonbToValue(Jsonb *jb, char **errmsg)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonataValue **stack = palloc(sizeof(JsonataValue *) * 16);
	int			depth = 0;
	int			cap = 16;
	JsonataValue *root = NULL;
	JsonbValue	key = {0};
	bool		raw_scalar = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		JsonataValue *val = NULL;

		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
				{
					raw_scalar = true;
					continue;
				}
				val = tok == WJB_BEGIN_ARRAY ? JsonataMakeArray(v.val.array.nElems)
					: JsonataMakeObject(v.val.object.nPairs);
				break;
			case WJB_KEY:
				key = v;
				continue;
			case WJB_ELEM:
			case WJB_VALUE:
				val = ScalarToValue(&v, errmsg);
				if (val == NULL)
					return NULL;
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				if (!raw_scalar)
					depth--;
				continue;
			default:
				continue;
		}
		/* attach val to its container */
		if (depth == 0)
			root = val;
		else if (stack[depth - 1]->type == JSONATA_ARRAY)
			JsonataArrayPush(stack[depth - 1], val);
		else
			JsonataObjectSet(stack[depth - 1], key.val.string.val, key.val.string.len, val);
		if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT)
		{
			if (depth == cap)
			{
				cap *= 2;
				stack = repalloc(stack, sizeof(JsonataValue *) * cap);
			}
			stack[depth++] = val;
		}
	}
	return root;
}

/* Build a jsonb numeric from a double. */
static Numeric
DoubleToNumeric(double d)
{
	char		buf[64];

	if (d == floor(d) && fabs(d) < 1e15)
		return int64_to_numeric((int64) d);
	JsonataFormatNumber(d, buf, sizeof(buf));
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * Push v into the jsonb being built.  Functions become null in arrays and
 * are left out of objects, as JSON.stringify does.  False on a value jsonb
 * cannot hold.
 */
static bool
PushValue(JsonbParseState **st, JsonataValue *v, JsonbIteratorToken tok,
		  JsonbValue **done, char **errmsg)
{
	JsonbValue	jv;

	if (stack_is_too_deep())
	{
		*errmsg = pstrdup("U1001: result nested too deeply");
		return false;
	}
	switch (v->type)
	{
		case JSONATA_NULL:
		case JSONATA_FUNCTION:
			jv.type = jbvNull;
			break;
		case JSONATA_BOOL:
			jv.type = jbvBool;
			jv.val.boolean = v->u.boolean;
			break;
		case JSONATA_NUMBER:
			if (!isfinite(v->u.number))
			{
				jv.type = jbvNull;
				break;
			}
			jv.type = jbvNumeric;
			jv.val.numeric = DoubleToNumeric(v->u.number);
			break;
		case JSONATA_STRING:
			if (memchr(v->u.str, '\0', v->n) != NULL)
			{
				*errmsg = pstrdup("the result contains the character \\u0000, which jsonb cannot hold");
				return false;
			}
			jv.type = jbvString;
			jv.val.string.val = v->u.str;
			jv.val.string.len = v->n;
			break;
		case JSONATA_ARRAY:
			pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
			for (int i = 0; i < v->n; i++)
				if (!PushValue(st, v->u.items[i], WJB_ELEM, done, errmsg))
					return false;
			*done = pushJsonbValue(st, WJB_END_ARRAY, NULL);
			return true;
		case JSONATA_OBJECT:
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			for (int i = 0; i < v->n; i++)
			{
				JsonbValue	k;

				if (v->u.obj.vals[i]->type == JSONATA_FUNCTION)
					continue;
				if (memchr(v->u.obj.keys[i], '\0', v->u.obj.klens[i]) != NULL)
				{
					*errmsg = pstrdup("the result contains the character \\u0000, which jsonb cannot hold");
					return false;
				}
				k.type = jbvString;
				k.val.string.val = v->u.obj.keys[i];
				k.val.string.len = v->u.obj.klens[i];
				pushJsonbValue(st, WJB_KEY, &k);
				if (!PushValue(st, v->u.obj.vals[i], WJB_VALUE, done, errmsg))
					return false;
			}
			*done = pushJsonbValue(st, WJB_END_OBJECT, NULL);
			return true;
	}
	if (*st == NULL)
	{
		/* a scalar at the top */
		*done = palloc(sizeof(JsonbValue));
		**done = jv;
		return true;
	}
	pushJsonbValue(st, tok, &jv);
	return true;
}

/* Convert a result to jsonb; NULL for a function (undefined in JSON). */
static Jsonb *
ValueToJsonb(JsonataValue *v, char **errmsg)
{
	JsonbParseState *st = NULL;
	JsonbValue *done = NULL;

	if (v->type == JSONATA_FUNCTION)
		return NULL;
	if (!PushValue(&st, v, WJB_ELEM, &done, errmsg))
		return NULL;
	return JsonbValueToJsonb(done);
}
