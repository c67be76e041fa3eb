/*-------------------------------------------------------------------------
 *
 * fuzz_decode.c
 *	  libFuzzer target for the Avro decoder: input is a writer schema, a
 *	  NUL, optionally a reader schema and a NUL, then the Avro body.
 *
 * Every body must either decode or fail cleanly; a decoded value must
 * re-encode and decode again to the same bytes (with the reader schema).
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
	const uint8 *nul1 = memchr(data, 0, size);
	const uint8 *nul2;
	const uint8 *body;
	MemoryContext cxt;
	sigjmp_buf	jb;

	if (nul1 == NULL)
		return 0;
	nul2 = memchr(nul1 + 1, 0, size - (nul1 + 1 - data));
	/* a second NUL right after a '}' or '"' or ']' ends a reader schema */
	if (nul2 && nul2 > nul1 + 1 && strchr("}\"]", nul2[-1]) != NULL)
		body = nul2 + 1;
	else
	{
		nul2 = NULL;
		body = nul1 + 1;
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "fuzz", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	if (sigsetjmp(jb, 0) == 0)
	{
		char	   *err = NULL;
		AvroSchemaTree *w;
		AvroSchemaTree *r = NULL;
		AvroPlan   *plan;

		PG_exception_stack = &jb;
		w = AvroParseSchema((const char *) data, nul1 - data, cxt, &err);
		if (w && nul2)
			r = AvroParseSchema((const char *) nul1 + 1, nul2 - nul1 - 1, cxt, &err);
		if (w && (r || !nul2) &&
			(plan = AvroPlanCompile(w->root, r ? r->root : NULL, cxt, &err)) != NULL)
		{
			AvroDecodeState st;
			AvroValue	v;

			AvroDecodeStateInit(&st, cxt, 64, 1024 * 1024);
			if (AvroPlanDecode(plan, &st, body, size - (body - data), 0, &v))
			{
				StringInfoData buf;
				AvroPlan   *again;
				AvroValue	v2;
				StringInfoData buf2;

				/* round trip through the reader schema */
				initStringInfo(&buf);
				AvroValueWrite(&buf, AvroPlanReader(plan), &v);

				/* decoding again into the same state's arena gives the same value */
				if (!AvroPlanDecode(plan, &st, body, size - (body - data), 0, &v2))
					abort();
				initStringInfo(&buf2);
				AvroValueWrite(&buf2, AvroPlanReader(plan), &v2);
				if (buf.len != buf2.len || memcmp(buf.data, buf2.data, buf.len) != 0)
					abort();
				again = AvroPlanCompile((AvroSchema *) AvroPlanReader(plan), NULL, cxt, &err);
				if (again == NULL)
					abort();
				AvroDecodeStateInit(&st, cxt, 1000, 64 * 1024 * 1024);
				if (!AvroPlanDecode(again, &st, (uint8 *) buf.data, buf.len, 0, &v2))
				{
					fprintf(stderr, "re-encoded value does not decode: %s\n", st.error_msg);
					abort();
				}
				initStringInfo(&buf2);
				AvroValueWrite(&buf2, AvroPlanReader(plan), &v2);
				if (buf.len != buf2.len || memcmp(buf.data, buf2.data, buf.len) != 0)
					abort();
			}
		}
	}
	PG_exception_stack = NULL;
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(cxt);
	return 0;
}
