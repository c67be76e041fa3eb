/*-------------------------------------------------------------------------
 *
 * avro_schema.c
 *	  SQL surface of the Avro schema model (canonical form, fingerprints,
 *	  the stored Java form, validation), the fingerprint functions and the
 *	  per-backend cache of parsed schemas.
 *
 * The parser lives in avro_schema_parse.c and the writers in
 * avro_schema_json.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "avro_schema.h"
#include "datacontract.h"

PG_FUNCTION_INFO_V1(avro_canonical);
PG_FUNCTION_INFO_V1(avro_fingerprint64);
PG_FUNCTION_INFO_V1(avro_fingerprint);
PG_FUNCTION_INFO_V1(avro_normalize);
PG_FUNCTION_INFO_V1(avro_validate);

/* The cache's bounds; past either, everything is evicted. */
#define SCHEMA_CACHE_MAX_ENTRIES	10000
#define SCHEMA_CACHE_MAX_BYTES		((Size) 256 * 1024 * 1024)

/* CRC-64-AVRO: the fingerprint of the empty string, and the polynomial. */
#define AVRO_CRC64_EMPTY	UINT64CONST(0xc15d213aa4d7a795)

typedef struct SchemaCacheEntry
{
	uint64		hash;			/* key: hash of the text */
	char	   *text;			/* the text, for comparison on a hit */
	size_t		len;
	AvroSchemaTree *tree;		/* owns text, in its own context */
	Size		bytes;			/* memory charged to the budget */
} SchemaCacheEntry;

static MemoryContext SchemaCacheContext = NULL;
static HTAB *SchemaCache = NULL;
static Size SchemaCacheBytes = 0;

static AvroSchemaTree *parse_text_arg(text *schema, MemoryContext cxt);
static void retire_tree(AvroSchemaTree *tree);
static void schema_cache_reset(void);

/*
 * avro_canonical(schema text) RETURNS text: the Parsing Canonical Form.
 */
Datum
avro_canonical(PG_FUNCTION_ARGS)
{
	AvroSchemaTree *tree = parse_text_arg(PG_GETARG_TEXT_PP(0), CurrentMemoryContext);
	char	   *canon = AvroCanonicalForm(tree->root);
	text	   *result = cstring_to_text(canon);

	AvroFreeSchemaTree(tree);
	PG_RETURN_TEXT_P(result);
}

/*
 * avro_fingerprint64(schema text) RETURNS bigint: CRC-64-AVRO of the
 * canonical form, as a signed number (as the specification prints it).
 */
Datum
avro_fingerprint64(PG_FUNCTION_ARGS)
{
	AvroSchemaTree *tree = parse_text_arg(PG_GETARG_TEXT_PP(0), CurrentMemoryContext);
	char	   *canon = AvroCanonicalForm(tree->root);
	uint64		fp = AvroCrc64(canon, strlen(canon));

	AvroFreeSchemaTree(tree);
	PG_RETURN_INT64((int64) fp);
}

/*
 * avro_fingerprint(schema text, algorithm text) RETURNS bytea: a fingerprint
 * of the canonical form; 'crc64' (8 bytes, little-endian, as in the
 * single-object encoding), 'md5' or 'sha256'.
 */
Datum
avro_fingerprint(PG_FUNCTION_ARGS)
{
	char	   *algorithm = text_to_cstring(PG_GETARG_TEXT_PP(1));
	AvroSchemaTree *tree;
	char	   *canon;
	size_t		len;
	uint8		digest[32];
	int			dlen;
	bytea	   *result;

	if (pg_strcasecmp(algorithm, "crc64") != 0 &&
		pg_strcasecmp(algorithm, "md5") != 0 &&
		pg_strcasecmp(algorithm, "sha256") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown fingerprint algorithm \"%s\"", algorithm),
				 errhint("Use \"crc64\", \"md5\" or \"sha256\".")));

	tree = parse_text_arg(PG_GETARG_TEXT_PP(0), CurrentMemoryContext);
	canon = AvroCanonicalForm(tree->root);
	len = strlen(canon);

	if (pg_strcasecmp(algorithm, "crc64") == 0)
	{
		uint64		fp = AvroCrc64(canon, len);
		int			i;

		for (i = 0; i < 8; i++)
			digest[i] = (uint8) (fp >> (8 * i));
		dlen = 8;
	}
	else if (pg_strcasecmp(algorithm, "md5") == 0)
	{
		AvroMd5(canon, len, digest);
		dlen = 16;
	}
	else
	{
		AvroSha256(canon, len, digest);
		dlen = 32;
	}
	AvroFreeSchemaTree(tree);

	result = palloc(VARHDRSZ + dlen);
	SET_VARSIZE(result, VARHDRSZ + dlen);
	memcpy(VARDATA(result), digest, dlen);
	PG_RETURN_BYTEA_P(result);
}

/*
 * avro_normalize(schema text, normalize boolean) RETURNS text: the schema as
 * Confluent stores it (Java's Schema.toString(), with Confluent's
 * normalization when asked).
 */
Datum
avro_normalize(PG_FUNCTION_ARGS)
{
	AvroSchemaTree *tree = parse_text_arg(PG_GETARG_TEXT_PP(0), CurrentMemoryContext);
	bool		normalize = PG_GETARG_BOOL(1);
	char	   *json = AvroSchemaToJson(tree->root, normalize);
	text	   *result = cstring_to_text(json);

	AvroFreeSchemaTree(tree);
	PG_RETURN_TEXT_P(result);
}

/*
 * avro_validate(schema text) RETURNS text: NULL if the schema is valid,
 * else the reason; never raises an error for bad input.
 */
Datum
avro_validate(PG_FUNCTION_ARGS)
{
	text	   *schema = PG_GETARG_TEXT_PP(0);
	AvroSchemaTree *tree;
	char	   *msg;

	tree = AvroParseSchema(VARDATA_ANY(schema), VARSIZE_ANY_EXHDR(schema),
						   CurrentMemoryContext, &msg);
	if (tree == NULL)
		PG_RETURN_TEXT_P(cstring_to_text(msg));
	AvroFreeSchemaTree(tree);
	PG_RETURN_NULL();
}

/*
 * Parse a SQL text argument, raising 42209 for an oversized text and 42201
 * for an invalid schema.
 */
static AvroSchemaTree *
parse_text_arg(text *schema, MemoryContext cxt)
{
	return AvroParseSchemaOrError(VARDATA_ANY(schema),
								  VARSIZE_ANY_EXHDR(schema), cxt);
}

/*
 * CRC-64-AVRO, the specification's 64-bit Rabin fingerprint.
 */
uint64
AvroCrc64(const char *data, size_t len)
{
	static uint64 table[256];
	static bool table_ready = false;
	uint64		fp = AVRO_CRC64_EMPTY;
	size_t		i;

	if (!table_ready)
	{
		int			b;
		int			j;

		for (b = 0; b < 256; b++)
		{
			uint64		f = (uint64) b;

			for (j = 0; j < 8; j++)
				f = (f >> 1) ^ (AVRO_CRC64_EMPTY & (0 - (f & 1)));
			table[b] = f;
		}
		table_ready = true;
	}
	for (i = 0; i < len; i++)
		fp = (fp >> 8) ^ table[(fp ^ (uint8) data[i]) & 0xff];
	return fp;
}

/* Digest with OpenSSL's EVP interface; errors become ereport. */
static void
evp_digest(const EVP_MD *md, const char *name, const char *data, size_t len,
		   uint8 *out)
{
	unsigned int outlen;

	if (md == NULL || EVP_Digest(data, len, out, &outlen, md, NULL) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not compute %s digest", name),
				 errdetail("OpenSSL's EVP_Digest failed.")));
}

/* MD5 of arbitrary bytes. */
void
AvroMd5(const char *data, size_t len, uint8 out[16])
{
	evp_digest(EVP_md5(), "MD5", data, len, out);
}

/* SHA-256 of arbitrary bytes. */
void
AvroSha256(const char *data, size_t len, uint8 out[32])
{
	evp_digest(EVP_sha256(), "SHA-256", data, len, out);
}

/*
 * A parsed schema from the per-backend cache, parsing it on a miss.
 */
const AvroSchemaTree *
AvroSchemaCacheGet(const char *json, size_t len)
{
	uint64		hash;
	SchemaCacheEntry *entry;
	AvroSchemaTree *tree;
	bool		found;
	Size		bytes;

	if (SchemaCache == NULL)
	{
		HASHCTL		ctl;

		if (SchemaCacheContext == NULL)
		{
			if (CacheMemoryContext == NULL)
				CreateCacheMemoryContext();
			SchemaCacheContext = AllocSetContextCreate(CacheMemoryContext,
													   "datacontract avro schema cache",
													   ALLOCSET_DEFAULT_SIZES);
		}
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(SchemaCacheEntry);
		ctl.hcxt = SchemaCacheContext;
		SchemaCache = hash_create("datacontract avro schema cache", 256, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		SchemaCacheBytes = 0;
	}

	hash = hash_bytes_extended((const unsigned char *) json, (int) len, 0);
	entry = hash_search(SchemaCache, &hash, HASH_FIND, NULL);
	if (entry != NULL)
	{
		if (entry->len == len && memcmp(entry->text, json, len) == 0)
			return entry->tree;
		/* A hash collision: drop the other schema. */
		SchemaCacheBytes -= entry->bytes;
		retire_tree(entry->tree);
		hash_search(SchemaCache, &hash, HASH_REMOVE, NULL);
	}

	/* Parse outside the cache, so an error leaves nothing behind. */
	tree = AvroParseSchemaOrError(json, len, CurrentMemoryContext);
	{
		char	   *copy = MemoryContextAlloc(tree->cxt, len + 1);

		memcpy(copy, json, len);
		copy[len] = '\0';
		bytes = MemoryContextMemAllocated(tree->cxt, true);

		if (hash_get_num_entries(SchemaCache) >= SCHEMA_CACHE_MAX_ENTRIES ||
			SchemaCacheBytes + bytes > SCHEMA_CACHE_MAX_BYTES)
			schema_cache_reset();

		MemoryContextSetParent(tree->cxt, SchemaCacheContext);
		entry = hash_search(SchemaCache, &hash, HASH_ENTER, &found);
		Assert(!found);
		entry->text = copy;
		entry->len = len;
		entry->tree = tree;
		entry->bytes = bytes;
		SchemaCacheBytes += bytes;
	}
	return tree;
}

/*
 * Free an evicted tree at the end of the transaction rather than now: a
 * caller may still be using it.
 */
static void
retire_tree(AvroSchemaTree *tree)
{
	if (IsTransactionState())
		MemoryContextSetParent(tree->cxt, TopTransactionContext);
	else
		AvroFreeSchemaTree(tree);
}

/* Evict every cached schema. */
static void
schema_cache_reset(void)
{
	HASH_SEQ_STATUS status;
	SchemaCacheEntry *entry;

	hash_seq_init(&status, SchemaCache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		retire_tree(entry->tree);
		hash_search(SchemaCache, &entry->hash, HASH_REMOVE, NULL);
	}
	SchemaCacheBytes = 0;
}
