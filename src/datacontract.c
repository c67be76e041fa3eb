/*-------------------------------------------------------------------------
 *
 * datacontract.c
 *	  Extension entry point: module magic, shared GUCs, and each module's
 *	  own initialisation (GUCs, background workers).
 *
 * Every SQL function works without shared_preload_libraries; only the
 * background workers need the library preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "avro_codec.h"
#include "datacontract.h"
#include "http_server.h"
#include "kafka.h"
#include "rules_jsonata.h"

PG_MODULE_MAGIC;

int			datacontract_max_schema_size = 1024 * 1024;
int			datacontract_max_schema_depth = 64;
char	   *datacontract_database = NULL;

void		_PG_init(void);

/* Define the GUCs; called once per backend when the library loads. */
void
_PG_init(void)
{
	DefineCustomIntVariable("datacontract.max_schema_size",
							"Largest schema text, in bytes, the registry accepts.",
							"Larger schemas are rejected with Confluent error 42209.",
							&datacontract_max_schema_size,
							1024 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("datacontract.max_schema_depth",
							"Deepest nesting of types a schema may have.",
							"Deeper schemas are rejected as invalid (Confluent error 42201).",
							&datacontract_max_schema_depth,
							64, 4, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/* Only where the library is preloaded: the workers read it at start. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("datacontract.database",
								   "Database the background workers connect to.",
								   "The datacontract extension must be installed there.",
								   &datacontract_database,
								   "postgres",
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);

	AvroCodecDefineGucs();
	JsonataDefineGucs();
	HttpServerInit();
	KafkaInit();

	MarkGUCPrefixReserved("datacontract");
}
