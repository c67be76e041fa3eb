/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  C support for the registry's SQL functions (src/sql/30_registry.sql):
 *	  everything registration needs from a schema text in one parse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "avro_schema.h"
#include "datacontract.h"

PG_FUNCTION_INFO_V1(_avro_prepare);

/*
 * _avro_prepare(schema text, normalize boolean, refs text[])
 *	 RETURNS TABLE (error text, stored text, resolved text, fingerprint bigint)
 *
 * Parses a schema once, with the texts of the schemas it references (their
 * stored forms, dependencies first), and returns what registration stores:
 * error is NULL for a valid schema and says what is wrong otherwise (nothing
 * is raised for bad input); stored is the text Confluent would store (types
 * from references written by name); resolved is the self-contained text
 * with referenced types inlined, or NULL when there are no references;
 * fingerprint is the CRC-64-AVRO of the Parsing Canonical Form.
 */
Datum
_avro_prepare(PG_FUNCTION_ARGS)
{
	text	   *schema = PG_GETARG_TEXT_PP(0);
	bool		normalize = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	const char **refs = NULL;
	size_t	   *ref_lens = NULL;
	int			nrefs = 0;
	AvroSchemaTree *tree;
	char	   *msg;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (!PG_ARGISNULL(2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems;
		bool	   *elnulls;
		int			i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elnulls, &nrefs);
		refs = palloc(sizeof(char *) * Max(nrefs, 1));
		ref_lens = palloc(sizeof(size_t) * Max(nrefs, 1));
		for (i = 0; i < nrefs; i++)
		{
			text	   *t;

			if (elnulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("referenced schema %d is null", i + 1)));
			t = DatumGetTextPP(elems[i]);
			refs[i] = VARDATA_ANY(t);
			ref_lens[i] = VARSIZE_ANY_EXHDR(t);
		}
	}

	tree = AvroParseSchemaWithRefs(VARDATA_ANY(schema), VARSIZE_ANY_EXHDR(schema),
								   refs, ref_lens, nrefs, CurrentMemoryContext, &msg);
	if (tree == NULL)
	{
		values[0] = CStringGetTextDatum(msg);
		nulls[1] = nulls[2] = nulls[3] = true;
	}
	else
	{
		char	   *canonical = AvroCanonicalForm(tree->root);

		nulls[0] = true;
		values[1] = CStringGetTextDatum(AvroSchemaTreeToJson(tree, normalize));
		if (tree->nexternal > 0)
			values[2] = CStringGetTextDatum(AvroSchemaToJson(tree->root, normalize));
		else
			nulls[2] = true;
		values[3] = Int64GetDatum((int64) AvroCrc64(canonical, strlen(canonical)));
		AvroFreeSchemaTree(tree);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
