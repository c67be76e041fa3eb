/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  C support for the registry's SQL functions (src/sql/30_registry.sql):
 *	  everything registration needs from a schema text in one parse, and the
 *	  schema-by-id lookup.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

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

PG_FUNCTION_INFO_V1(get_schema);

/*
 * get_schema(id integer) RETURNS text: the schema text registered under a
 * global id (GET /schemas/ids/{id}/schema), Confluent error 40403 if none.
 *
 * The hottest read of a registry, so it goes straight to the primary-key
 * index of datacontract.schemas: no SPI, no planning.  It checks the caller's
 * SELECT privilege on the table itself, as a query would.
 */
Datum
get_schema(PG_FUNCTION_ARGS)
{
	int32		id = PG_GETARG_INT32(0);
	Oid			nspid = get_namespace_oid("datacontract", false);
	Oid			relid = get_relname_relid("schemas", nspid);
	Oid			indexid = get_relname_relid("schemas_pkey", nspid);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	text	   *result = NULL;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		elog(ERROR, "datacontract.schemas or its primary key is missing");
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "schemas");

	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(id));
	scan = systable_beginscan(rel, indexid, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		AttrNumber	attnum = get_attnum(relid, "schema");
		bool		isnull;
		Datum		d = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);

		if (!isnull)
			result = DatumGetTextPCopy(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DC_SCHEMA_NOT_FOUND),
				 errmsg("Schema %d not found", id),
				 errdetail_dc(40403)));
	PG_RETURN_TEXT_P(result);
}
