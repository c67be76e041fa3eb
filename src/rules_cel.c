/*-------------------------------------------------------------------------
 *
 * rules_cel.c
 *	  SQL surface of the CEL interpreter, jsonb <-> CelValue conversion and
 *	  regular expressions for matches().
 *
 * JSON values map to CEL values thus: objects to maps (string keys),
 * arrays to lists, strings to strings, booleans to bools, null to null, and
 * numbers to int when integral and within int64, else to double.  Results
 * map back: int, uint and double to numbers (non-finite doubles to the
 * strings "NaN", "Infinity", "-Infinity"), bytes to base64 strings,
 * timestamps to RFC 3339 strings, durations to strings like "1.5s", types
 * to their names, and map keys to strings.
 *
 * matches() uses PostgreSQL's ARE engine in place of RE2 (see
 * CelRegexSearch for the differences).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "common/base64.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "rules_cel.h"

PG_FUNCTION_INFO_V1(cel_eval);
PG_FUNCTION_INFO_V1(cel_eval_vars);
PG_FUNCTION_INFO_V1(cel_check);

/* A program cached in fn_extra across the rows of one query. */
typedef struct CelFnCache
{
	MemoryContext cxt;
	char	   *expr;
	CelProgram *prog;
} CelFnCache;

/* Compiled regular expressions, kept across calls (malloc'd by the engine). */
#define CEL_REGEX_CACHE_SIZE 16

typedef struct CelRegexEntry
{
	char	   *pattern;		/* in TopMemoryContext; NULL when unused */
	int			patlen;
	regex_t		re;
} CelRegexEntry;

static CelRegexEntry regex_cache[CEL_REGEX_CACHE_SIZE];
static int	regex_cache_next = 0;

static const CelProgram *CachedProgram(FunctionCallInfo fcinfo, text *expr);
static Datum EvaluateToDatum(FunctionCallInfo fcinfo, const CelProgram *prog,
							 CelValueVar *vars, int nvars);
static void ValueFromContainer(JsonbContainer *jc, CelValue *out);
static JsonbValue *PushValue(JsonbParseState **state, JsonbIteratorToken tok,
							 const CelValue *v, int depth);

/*
 * cel_eval(expr text, message jsonb) RETURNS jsonb: evaluate an expression
 * (guard form allowed) with the variable "message".  NULL when a guard is
 * not true.
 */
Datum
cel_eval(PG_FUNCTION_ARGS)
{
	const CelProgram *prog = CachedProgram(fcinfo, PG_GETARG_TEXT_PP(0));
	CelValueVar var;

	var.name = "message";
	CelValueFromJsonb(PG_GETARG_JSONB_P(1), &var.value);
	return EvaluateToDatum(fcinfo, prog, &var, 1);
}

/*
 * cel_eval_vars(expr text, vars jsonb) RETURNS jsonb: evaluate with the
 * variables of a JSON object (name -> value), e.g. CEL_FIELD's value, name,
 * typeName, fullName, tags and message.
 */
Datum
cel_eval_vars(PG_FUNCTION_ARGS)
{
	const CelProgram *prog = CachedProgram(fcinfo, PG_GETARG_TEXT_PP(0));
	Jsonb	   *vars = PG_GETARG_JSONB_P(1);
	CelValue	obj;
	CelValueVar *cv;

	CelValueFromJsonb(vars, &obj);
	if (obj.type != CEL_MAP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("CEL variables must be a JSON object"),
				 errhint("Pass the variables as {\"name\": value, ...}.")));
	cv = palloc(sizeof(CelValueVar) * Max(obj.len, 1));
	for (int i = 0; i < obj.len; i++)
	{
		cv[i].name = pnstrdup(obj.u.items[2 * i].u.s, obj.u.items[2 * i].len);
		cv[i].value = obj.u.items[2 * i + 1];
	}
	return EvaluateToDatum(fcinfo, prog, cv, obj.len);
}

/*
 * cel_check(expr text) RETURNS text: NULL when the expression (guard form
 * allowed) compiles, else the error message.
 */
Datum
cel_check(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "CEL check",
											  ALLOCSET_SMALL_SIZES);
	char	   *msg;
	CelProgram *prog = CelCompile(expr, true, cxt, &msg);

	MemoryContextDelete(cxt);
	if (prog != NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(msg));
}

/* The compiled program for expr, cached in fn_extra; ereports a compile error. */
static const CelProgram *
CachedProgram(FunctionCallInfo fcinfo, text *expr)
{
	CelFnCache *cache = fcinfo->flinfo->fn_extra;
	char	   *src = text_to_cstring(expr);
	char	   *msg;

	if (cache != NULL && strcmp(cache->expr, src) == 0)
		return cache->prog;
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CelFnCache));
		cache->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "CEL function cache",
										   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	MemoryContextReset(cache->cxt);
	cache->expr = NULL;
	cache->prog = CelCompile(src, true, cache->cxt, &msg);
	if (cache->prog == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("invalid CEL expression: %s", msg)));
	cache->expr = MemoryContextStrdup(cache->cxt, src);
	return cache->prog;
}

/* Evaluate for a SQL function: jsonb, NULL when the guard is not true. */
static Datum
EvaluateToDatum(FunctionCallInfo fcinfo, const CelProgram *prog,
				CelValueVar *vars, int nvars)
{
	CelValue	result;
	bool		skipped;
	char	   *msg;
	int			sqlstate;

	if (!CelEvaluateValues(prog, vars, nvars, &result, &skipped, &msg, &sqlstate))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("CEL evaluation failed: %s", msg)));
	if (skipped)
		PG_RETURN_NULL();
	return JsonbPGetDatum(CelValueToJsonb(&result));
}

bool
CelEvaluate(const CelProgram *prog, const CelVar *vars, int nvars,
			Jsonb **result, char **errmsg)
{
	CelValueVar *cv = palloc(sizeof(CelValueVar) * Max(nvars, 1));
	CelValue	r;
	bool		skipped;
	int			sqlstate;

	for (int i = 0; i < nvars; i++)
	{
		cv[i].name = vars[i].name;
		if (vars[i].value)
			CelValueFromJsonb(vars[i].value, &cv[i].value);
		else
			cv[i].value.type = CEL_NULL;
	}
	*result = NULL;
	if (!CelEvaluateValues(prog, cv, nvars, &r, &skipped, errmsg, &sqlstate))
		return false;
	if (!skipped)
		*result = CelValueToJsonb(&r);
	return true;
}

/* ---------------------------------------------------------------------
 * jsonb -> CelValue
 * ---------------------------------------------------------------------
 */

void
CelValueFromJsonb(Jsonb *jb, CelValue *out)
{
	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbValue	jv;

		if (!JsonbExtractScalar(&jb->root, &jv))
			elog(ERROR, "invalid jsonb scalar");
		CelValueFromJsonbValue(&jv, out);
	}
	else
		ValueFromContainer(&jb->root, out);
}

/* A JSON number: int when integral and within int64, else double. */
static void
ValueFromNumeric(Numeric num, CelValue *out)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	char	   *dot = strchr(s, '.');
	bool		integral = true;

	if (dot)
		for (char *c = dot + 1; *c; c++)
			if (*c != '0')
				integral = false;
	if (integral && strcmp(s, "NaN") != 0 && strchr(s, 'I') == NULL)
	{
		char	   *end;
		int64		i;

		if (dot)
			*dot = '\0';
		errno = 0;
		i = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
		{
			out->type = CEL_INT;
			out->len = 0;
			out->u.i = i;
			return;
		}
		if (dot)
			*dot = '.';
	}
	out->type = CEL_DOUBLE;
	out->len = 0;
	out->u.d = strtod(s, NULL);
}

/* A JsonbValue (scalar or container) as a CEL value; strings point into it. */
void
CelValueFromJsonbValue(JsonbValue *jv, CelValue *out)
{
	out->len = 0;
	switch (jv->type)
	{
		case jbvNull:
			out->type = CEL_NULL;
			break;
		case jbvBool:
			out->type = CEL_BOOL;
			out->u.b = jv->val.boolean;
			break;
		case jbvString:
			out->type = CEL_STRING;
			out->len = jv->val.string.len;
			out->u.s = jv->val.string.val;
			break;
		case jbvNumeric:
			ValueFromNumeric(jv->val.numeric, out);
			break;
		case jbvBinary:
			ValueFromContainer(jv->val.binary.data, out);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", jv->type);
	}
}

static void
ValueFromContainer(JsonbContainer *jc, CelValue *out)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	jv;
	JsonbIteratorToken tok;
	int			n = 0;
	bool		is_object;

	check_stack_depth();
	tok = JsonbIteratorNext(&it, &jv, true);
	is_object = (tok == WJB_BEGIN_OBJECT);
	out->type = is_object ? CEL_MAP : CEL_LIST;
	out->len = is_object ? jv.val.object.nPairs : jv.val.array.nElems;
	out->u.items = palloc(sizeof(CelValue) * Max(out->len * (is_object ? 2 : 1), 1));
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY || tok == WJB_VALUE || tok == WJB_ELEM)
			CelValueFromJsonbValue(&jv, &out->u.items[n++]);
	}
}

/* ---------------------------------------------------------------------
 * CelValue -> jsonb
 * ---------------------------------------------------------------------
 */

static JsonbValue *
PushString(JsonbParseState **state, JsonbIteratorToken tok, const char *s, int len)
{
	JsonbValue	jv;

	jv.type = jbvString;
	jv.val.string.val = (char *) s;
	jv.val.string.len = len;
	return pushJsonbValue(state, tok, &jv);
}

static JsonbValue *
PushNumeric(JsonbParseState **state, JsonbIteratorToken tok, Numeric num)
{
	JsonbValue	jv;

	jv.type = jbvNumeric;
	jv.val.numeric = num;
	return pushJsonbValue(state, tok, &jv);
}

/* Push a value as a scalar (tok WJB_VALUE/WJB_ELEM) or a container. */
static JsonbValue *
PushValue(JsonbParseState **state, JsonbIteratorToken tok, const CelValue *v, int depth)
{
	JsonbValue	jv;
	char	   *s;

	check_stack_depth();
	switch ((CelType) v->type)
	{
		case CEL_NULL:
			jv.type = jbvNull;
			return pushJsonbValue(state, tok, &jv);
		case CEL_BOOL:
			jv.type = jbvBool;
			jv.val.boolean = v->u.b;
			return pushJsonbValue(state, tok, &jv);
		case CEL_INT:
			return PushNumeric(state, tok, int64_to_numeric(v->u.i));
		case CEL_UINT:
			s = psprintf(UINT64_FORMAT, v->u.u);
			return PushNumeric(state, tok,
							   DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
																   ObjectIdGetDatum(InvalidOid),
																   Int32GetDatum(-1))));
		case CEL_DOUBLE:
			if (isnan(v->u.d))
				return PushString(state, tok, "NaN", 3);
			if (isinf(v->u.d))
				return v->u.d > 0 ? PushString(state, tok, "Infinity", 8) :
					PushString(state, tok, "-Infinity", 9);
			{
				/*
				 * The shortest decimal that reads back as the same double
				 * (float8_numeric keeps only 15 significant digits, so
				 * double(9007199254740992) would come out as ...990).
				 */
				char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

				double_to_shortest_decimal_buf(v->u.d, buf);
				return PushNumeric(state, tok,
								   DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
																	   ObjectIdGetDatum(InvalidOid),
																	   Int32GetDatum(-1))));
			}
		case CEL_STRING:
			return PushString(state, tok, v->u.s, v->len);
		case CEL_BYTES:
			{
				int			enclen = pg_b64_enc_len(v->len);
				char	   *enc = palloc(enclen + 1);
				int			n = pg_b64_encode(v->u.s, v->len, enc, enclen);

				return PushString(state, tok, enc, n);
			}
		case CEL_TIMESTAMP:
			s = CelFormatTimestamp(v->u.i, v->len);
			return PushString(state, tok, s, strlen(s));
		case CEL_DURATION:
			s = CelFormatDuration(v->u.i, v->len);
			return PushString(state, tok, s, strlen(s));
		case CEL_TYPE:
			return PushString(state, tok, v->u.s, strlen(v->u.s));
		case CEL_LIST:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			for (int i = 0; i < v->len; i++)
				PushValue(state, WJB_ELEM, &v->u.items[i], depth + 1);
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case CEL_MAP:
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			for (int i = 0; i < v->len; i++)
			{
				const CelValue *k = &v->u.items[2 * i];

				if (k->type == CEL_STRING)
					PushString(state, WJB_KEY, k->u.s, k->len);
				else
				{
					CelValue	kv = *k;

					if (k->type == CEL_INT)
						s = psprintf(INT64_FORMAT, k->u.i);
					else if (k->type == CEL_UINT)
						s = psprintf(UINT64_FORMAT, k->u.u);
					else
						s = pstrdup(kv.u.b ? "true" : "false");
					PushString(state, WJB_KEY, s, strlen(s));
				}
				PushValue(state, WJB_VALUE, &v->u.items[2 * i + 1], depth + 1);
			}
			return pushJsonbValue(state, WJB_END_OBJECT, NULL);
		case CEL_ERROR:
			break;
	}
	elog(ERROR, "cannot convert CEL value of type %s to jsonb", CelTypeName(v));
	return NULL;
}

Jsonb *
CelValueToJsonb(const CelValue *value)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	if (value->type == CEL_LIST || value->type == CEL_MAP)
		res = PushValue(&state, WJB_VALUE, value, 0);
	else
	{
		/* a scalar is stored as a one-element raw-scalar array */
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.rawScalar = true;
		arr.val.array.nElems = 1;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, &arr);
		PushValue(&state, WJB_ELEM, value, 0);
		res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	return JsonbValueToJsonb(res);
}

/* ---------------------------------------------------------------------
 * Regular expressions
 * ---------------------------------------------------------------------
 */

/*
 * Search s for pattern with PostgreSQL's ARE engine, the closest available
 * to RE2: unanchored, C-locale classes (like RE2's ASCII \w, \d, \s), and
 * the same syntax for the common subset.  Differences: ARE accepts
 * back-references (RE2 rejects them); RE2's (?i:...) groups, named groups
 * (?P<n>...), \pL classes and \z are not ARE syntax (ARE has \Z and a
 * leading (?i) only); ARE's \m, \M, \y word anchors are not RE2's.
 */
bool
CelRegexSearch(const char *pattern, int patlen, const char *s, int slen,
			   bool *match, char **errmsg)
{
	CelRegexEntry *e = NULL;
	pg_wchar   *wstr;
	int			wlen;
	int			rc;

	for (int i = 0; i < CEL_REGEX_CACHE_SIZE; i++)
		if (regex_cache[i].pattern && regex_cache[i].patlen == patlen &&
			memcmp(regex_cache[i].pattern, pattern, patlen) == 0)
		{
			e = &regex_cache[i];
			break;
		}
	if (e == NULL)
	{
		pg_wchar   *wpat = palloc(sizeof(pg_wchar) * (patlen + 1));
		int			wpatlen = pg_mb2wchar_with_len(pattern, wpat, patlen);
		regex_t		re;

		rc = pg_regcomp(&re, wpat, wpatlen, REG_ADVANCED, C_COLLATION_OID);
		pfree(wpat);
		if (rc != REG_OKAY)
		{
			char		buf[256];

			pg_regerror(rc, &re, buf, sizeof(buf));
			*errmsg = psprintf("invalid regular expression \"%.*s\": %s",
							   Min(patlen, 100), pattern, buf);
			return false;
		}
		e = &regex_cache[regex_cache_next];
		regex_cache_next = (regex_cache_next + 1) % CEL_REGEX_CACHE_SIZE;
		if (e->pattern)
		{
			pg_regfree(&e->re);
			pfree(e->pattern);
		}
		e->pattern = MemoryContextAlloc(TopMemoryContext, Max(patlen, 1));
		memcpy(e->pattern, pattern, patlen);
		e->patlen = patlen;
		e->re = re;
	}
	wstr = palloc(sizeof(pg_wchar) * (slen + 1));
	wlen = pg_mb2wchar_with_len(s, wstr, slen);
	rc = pg_regexec(&e->re, wstr, wlen, 0, NULL, 0, NULL, 0);
	pfree(wstr);
	if (rc != REG_OKAY && rc != REG_NOMATCH)
	{
		char		buf[256];

		pg_regerror(rc, &e->re, buf, sizeof(buf));
		*errmsg = psprintf("regular expression failed: %s", buf);
		return false;
	}
	*match = (rc == REG_OKAY);
	return true;
}
