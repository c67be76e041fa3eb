/*-------------------------------------------------------------------------
 *
 * fuzz_cel.c
 *	  libFuzzer target for the CEL parser and evaluator: any text either
 *	  compiles or is rejected with a message; a compiled program evaluates
 *	  over a fixed message to a value or a runtime error, within its bounds.
 *
 * Built with test/fuzz/codec/pg_shim.c (memory contexts over malloc).
 * matches() uses a literal-substring stand-in here: the regex engine is
 * PostgreSQL's, fuzzed upstream.  With -DCEL_CLI this is a command-line
 * driver instead: it prints the result of each expression argument.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "utils/memutils.h"

#include "rules_cel.h"

extern sigjmp_buf *PG_exception_stack;
extern char shim_errmsg[];

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

/* Stand-in for the regex engine: a literal substring search. */
bool
CelRegexSearch(const char *pattern, int patlen, const char *s, int slen,
			   bool *match, char **errmsg)
{
	if (memchr(pattern, '(', patlen) != NULL)
	{
		*errmsg = pstrdup("invalid regular expression (stand-in rejects '(')");
		return false;
	}
	*match = false;
	for (int i = 0; i + patlen <= slen; i++)
		if (memcmp(s + i, pattern, patlen) == 0)
		{
			*match = true;
			break;
		}
	return true;
}

static CelValue
Str(const char *s)
{
	CelValue	v;

	v.type = CEL_STRING;
	v.len = strlen(s);
	v.u.s = s;
	return v;
}

static CelValue
Int(int64 i)
{
	CelValue	v;

	v.type = CEL_INT;
	v.len = 0;
	v.u.i = i;
	return v;
}

/* message = {"ssn": "123456789", "n": 5, "l": [1, 2, 3], "m": {"a": "x"}, "z": null} */
static void
MakeMessage(CelValue *msg)
{
	CelValue   *items = palloc0(sizeof(CelValue) * 10);
	CelValue   *list = palloc0(sizeof(CelValue) * 3);
	CelValue   *inner = palloc0(sizeof(CelValue) * 2);

	for (int i = 0; i < 3; i++)
		list[i] = Int(i + 1);
	inner[0] = Str("a");
	inner[1] = Str("x");
	items[0] = Str("ssn");
	items[1] = Str("123456789");
	items[2] = Str("n");
	items[3] = Int(5);
	items[4] = Str("l");
	items[5].type = CEL_LIST;
	items[5].len = 3;
	items[5].u.items = list;
	items[6] = Str("m");
	items[7].type = CEL_MAP;
	items[7].len = 1;
	items[7].u.items = inner;
	items[8] = Str("z");
	items[9].type = CEL_NULL;
	msg->type = CEL_MAP;
	msg->len = 5;
	msg->u.items = items;
}

/* Compile and evaluate; print the outcome when verbose. */
static void
RunOne(const char *expr, bool verbose)
{
	char	   *err = NULL;
	CelProgram *prog = CelCompile(expr, true, CurrentMemoryContext, &err);
	CelValueVar var;
	CelValue	result;
	bool		skipped;
	int			sqlstate;

	if (prog == NULL)
	{
		if (err == NULL)
			abort();
		if (verbose)
			printf("compile error: %s\n", err);
		return;
	}
	var.name = "message";
	MakeMessage(&var.value);
	if (!CelEvaluateValues(prog, &var, 1, &result, &skipped, &err, &sqlstate))
	{
		if (err == NULL || sqlstate == 0)
			abort();
		if (verbose)
			printf("runtime error: %s\n", err);
		return;
	}
	if (result.type == CEL_ERROR)
		abort();
	if (verbose)
	{
		if (skipped)
			printf("skipped (guard not true)\n");
		else if (result.type == CEL_STRING)
			printf("string: %.*s\n", result.len, result.u.s);
		else if (result.type == CEL_INT)
			printf("int: " INT64_FORMAT "\n", result.u.i);
		else if (result.type == CEL_BOOL)
			printf("bool: %s\n", result.u.b ? "true" : "false");
		else if (result.type == CEL_DOUBLE)
			printf("double: %s\n", CelFormatDouble(result.u.d));
		else
			printf("%s\n", CelTypeName(&result));
	}
}

#ifndef CEL_CLI
int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "fuzz",
											  ALLOCSET_DEFAULT_SIZES);
	sigjmp_buf	jb;
	char	   *expr;

	MemoryContextSwitchTo(cxt);
	/* the SQL callers pass NUL-terminated text: stop at the first NUL */
	expr = pnstrdup((const char *) data, size);
	if (sigsetjmp(jb, 0) == 0)
	{
		PG_exception_stack = &jb;
		RunOne(expr, false);
	}
	else if (strstr(shim_errmsg, "stack depth") == NULL)
	{
		/* only a stack-depth ereport is expected; anything else is a bug */
		fprintf(stderr, "unexpected ereport: %s\n", shim_errmsg);
		abort();
	}
	PG_exception_stack = NULL;
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(cxt);
	return 0;
}
#else
int
main(int argc, char **argv)
{
	sigjmp_buf	jb;

	for (int i = 1; i < argc; i++)
	{
		if (sigsetjmp(jb, 0) == 0)
		{
			PG_exception_stack = &jb;
			RunOne(argv[i], true);
		}
		else
			printf("ereport: %s\n", shim_errmsg);
	}
	return 0;
}
#endif
