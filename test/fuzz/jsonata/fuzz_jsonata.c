/*-------------------------------------------------------------------------
 *
 * fuzz_jsonata.c
 *	  libFuzzer target for the JSONata interpreter: any text either
 *	  compiles or is rejected with a message, and a compiled program
 *	  evaluates on a fixed document within small time and depth bounds to
 *	  a result or an error message, never a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "utils/memutils.h"

#include "rules_jsonata.h"

extern sigjmp_buf *PG_exception_stack;

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

/* {"a":1,"b":[1,2,{"c":"x"}],"s":"str","n":null,"t":true,"o":{"a":[{"b":1},{"b":[2,3]}]}} */
static JsonataValue *
MakeDocument(void)
{
	JsonataValue *doc = JsonataMakeObject(8);
	JsonataValue *b = JsonataMakeArray(3);
	JsonataValue *c = JsonataMakeObject(1);
	JsonataValue *o = JsonataMakeObject(1);
	JsonataValue *oa = JsonataMakeArray(2);
	JsonataValue *b1 = JsonataMakeObject(1);
	JsonataValue *b2 = JsonataMakeObject(1);
	JsonataValue *b2a = JsonataMakeArray(2);

	JsonataObjectSet(doc, "a", 1, JsonataMakeNumber(1));
	JsonataArrayPush(b, JsonataMakeNumber(1));
	JsonataArrayPush(b, JsonataMakeNumber(2));
	JsonataObjectSet(c, "c", 1, JsonataMakeString("x", 1));
	JsonataArrayPush(b, c);
	JsonataObjectSet(doc, "b", 1, b);
	JsonataObjectSet(doc, "s", 1, JsonataMakeString("str", 3));
	JsonataObjectSet(doc, "n", 1, JsonataMakeNull());
	JsonataObjectSet(doc, "t", 1, JsonataMakeBool(true));
	JsonataObjectSet(b1, "b", 1, JsonataMakeNumber(1));
	JsonataArrayPush(b2a, JsonataMakeNumber(2));
	JsonataArrayPush(b2a, JsonataMakeNumber(3));
	JsonataObjectSet(b2, "b", 1, b2a);
	JsonataArrayPush(oa, b1);
	JsonataArrayPush(oa, b2);
	JsonataObjectSet(o, "a", 1, oa);
	JsonataObjectSet(doc, "o", 1, o);
	return doc;
}

/* Run one input; errors from ereport (palloc limits) come back by longjmp. */
int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "fuzz",
											  ALLOCSET_DEFAULT_SIZES);
	sigjmp_buf	jb;

	MemoryContextSwitchTo(cxt);
	if (sigsetjmp(jb, 0) == 0)
	{
		char	   *expr = palloc(size + 1);
		char	   *err = NULL;
		JsonataProgram *prog;

		PG_exception_stack = &jb;
		memcpy(expr, data, size);
		expr[size] = '\0';
		prog = JsonataCompile(expr, cxt, &err);
		if (prog == NULL && err == NULL)
			abort();
		if (prog != NULL)
		{
			JsonataValue *result = NULL;
			bool		ok;

			err = NULL;
			ok = JsonataEvaluateValue(prog, MakeDocument(), 50, 200, &result, &err);
			if (!ok && err == NULL)
				abort();
			if (ok && result != NULL && (int) result->type > JSONATA_FUNCTION)
				abort();
		}
	}
	PG_exception_stack = NULL;
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(cxt);
	return 0;
}
