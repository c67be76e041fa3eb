/*-------------------------------------------------------------------------
 *
 * fuzz_schema.c
 *	  libFuzzer target for the schema parser: any text either parses or is
 *	  rejected with a message; a parsed schema's canonical form and stored
 *	  form parse again, and it compiles into a decode plan against itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "utils/memutils.h"

#include "avro_codec.h"

extern sigjmp_buf *PG_exception_stack;

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

/* Run one input; errors from ereport come back here by longjmp. */
int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "fuzz",
											  ALLOCSET_DEFAULT_SIZES);
	sigjmp_buf	jb;

	MemoryContextSwitchTo(cxt);
	if (sigsetjmp(jb, 0) == 0)
	{
		char	   *err = NULL;
		AvroSchemaTree *t;

		PG_exception_stack = &jb;
		t = AvroParseSchema((const char *) data, size, cxt, &err);
		if (t == NULL && err == NULL)
			abort();
		if (t != NULL)
		{
			char	   *canon = AvroCanonicalForm(t->root);
			char	   *stored = AvroSchemaToJson(t->root, false);
			AvroSchemaTree *t2;

			t2 = AvroParseSchema(canon, strlen(canon), cxt, &err);
			if (t2 == NULL || strcmp(AvroCanonicalForm(t2->root), canon) != 0)
			{
				fprintf(stderr, "canonical form does not reparse: %s\n", canon);
				abort();
			}
			t2 = AvroParseSchema(stored, strlen(stored), cxt, &err);
			if (t2 == NULL)
			{
				fprintf(stderr, "stored form does not reparse: %s\n", stored);
				abort();
			}
			if (AvroPlanCompile(t->root, NULL, cxt, &err) == NULL)
			{
				fprintf(stderr, "schema does not resolve against itself: %s\n", err);
				abort();
			}
		}
	}
	PG_exception_stack = NULL;
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(cxt);
	return 0;
}
