/*-------------------------------------------------------------------------
 *
 * rules_exec.c
 *	  The rule executor: run a schema version's domain rules (WRITE, READ)
 *	  and migration rules (UPGRADE, DOWNGRADE) on messages, as Confluent's
 *	  serializers do (AbstractKafkaSchemaSerDe.executeRules, §4.9 of the
 *	  reference), with the CEL, CEL_FIELD and JSONATA executors and the
 *	  ERROR, DLQ and NONE actions; the SQL functions run_rules and migrate.
 *
 * Which rules run: for WRITE and READ the domainRules (READ in reverse
 * order), for UPGRADE and DOWNGRADE the migrationRules (DOWNGRADE in
 * reverse); a rule runs when its mode is the mode, or WRITEREAD for WRITE
 * and READ, or UPDOWN for UPGRADE and DOWNGRADE; disabled rules and rule
 * sets whose enableAt is NONE are skipped.  A CONDITION fails when its
 * result is not true (a JSONATA condition's null result counts as true; a
 * CEL guard that is not true means the rule does not apply, a success); a
 * TRANSFORM's result replaces the message, and a null result fails.  A type
 * without executor (ENCRYPT, ...) fails.  The action is onSuccess (default
 * NONE) or onFailure (default ERROR), "A,B" meaning A for WRITE and UPGRADE
 * and B for READ and DOWNGRADE; any action other than NONE stops the run
 * and is reported to the caller.  Parameters are looked up in the rule's
 * params, then in the metadata.properties of the version that holds the
 * rule.
 *
 * Each schema id's rules are compiled once per backend into
 * RulesCacheContext; like the codec's caches, the cache is flushed when a
 * relcache invalidation of datacontract.schemas says ids may have been
 * reused (DROP/CREATE EXTENSION).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/shortest_dec.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "avro_schema.h"
#include "contract.h"
#include "datacontract.h"
#include "rules.h"
#include "rules_cel.h"
#include "rules_jsonata.h"

PG_FUNCTION_INFO_V1(run_rules);
PG_FUNCTION_INFO_V1(rules_migrate);
PG_FUNCTION_INFO_V1(rule_expr_error);

#define MODE_BIT(m)		(1 << (m))
#define DIR(m)			((m) == RULE_WRITE || (m) == RULE_UPGRADE ? 0 : 1)

typedef enum RuleKind
{
	RK_TRANSFORM,
	RK_CONDITION
} RuleKind;

typedef enum RuleExecutor
{
	RX_NONE,					/* no executor for the type */
	RX_CEL,
	RX_CEL_FIELD,
	RX_JSONATA
} RuleExecutor;

typedef enum RuleStatus
{
	RS_PASSED,
	RS_FAILED,
	RS_NOT_APPLICABLE			/* a guard that is not true */
} RuleStatus;

typedef struct CompiledRule
{
	int			position;		/* 1-based, in its list */
	char	   *name;
	RuleKind	kind;
	char	   *kind_name;
	char	   *type;
	char	   *mode_name;
	int			modes;			/* MODE_BIT()s the rule runs in */
	bool		disabled;
	char	   *on_success[2];	/* per DIR(); NULL: default */
	char	   *on_failure[2];
	char	  **tags;
	int			ntags;
	RuleExecutor executor;
	char	   *compile_error;	/* the expression did not compile */
	CelProgram *cel;
	bool		cel_uses_message;	/* CEL_FIELD: "message" is referenced */
	/* CEL: the message keys the program reads (partial conversion) */
	bool		cel_partial;
	char	  **msg_keys;
	int			nmsg_keys;
	JsonataProgram *jsonata;
	int			timeout_ms;		/* -1: the GUC */
	int			max_depth;		/* -1: the GUC */
} CompiledRule;

typedef struct TagGlob
{
	char	   *pattern;
	char	  **tags;
	int			ntags;
} TagGlob;

typedef struct RuleSetEntry
{
	int32		id;				/* hash key */
	bool		enabled;		/* enableAt is not NONE */
	int			modes;			/* modes some enabled rule runs in */
	CompiledRule *domain;
	int			ndomain;
	CompiledRule *migration;
	int			nmigration;
	/* for CEL_FIELD: the schema (parsed on first use) and metadata.tags */
	char	   *schema_text;
	AvroSchemaTree *tree;
	TagGlob    *globs;
	int			nglobs;
} RuleSetEntry;

typedef struct ReadPlanKey
{
	int32		writer_id;
	int32		reader_id;
} ReadPlanKey;

typedef struct ReadPlanEntry
{
	ReadPlanKey key;
	LocalTransactionId lxid;	/* planned in this transaction */
	RulesReadPlan plan;
} ReadPlanEntry;

/* What run_rules records per rule. */
typedef struct RuleTrace
{
	Tuplestorestate *store;
	TupleDesc	desc;
} RuleTrace;

static MemoryContext RulesCacheContext = NULL;
static HTAB *RuleSetCache = NULL;
static HTAB *ReadPlanCache = NULL;
static bool RulesCacheStale = false;
static bool RulesCallbackRegistered = false;
static Oid	RulesSchemasRelid = InvalidOid;
static SPIPlanPtr RuleSetByIdPlan = NULL;

static void RulesCacheInit(void);
static RuleSetEntry *RuleSetForId(int32 id);
static bool ApplyRuleSet(RuleSetEntry *rs, RuleMode mode, Jsonb **msg,
						 RuleOutcome *outcome, RuleTrace *trace);


/* ----------------------------------------------------------------
 * Small helpers
 * ----------------------------------------------------------------
 */

const char *
RuleModeName(RuleMode mode)
{
	switch (mode)
	{
		case RULE_WRITE:
			return "WRITE";
		case RULE_READ:
			return "READ";
		case RULE_UPGRADE:
			return "UPGRADE";
		case RULE_DOWNGRADE:
			return "DOWNGRADE";
	}
	return "?";
}

static bool
ParseRuleMode(const char *s, RuleMode *mode)
{
	if (pg_strcasecmp(s, "WRITE") == 0)
		*mode = RULE_WRITE;
	else if (pg_strcasecmp(s, "READ") == 0)
		*mode = RULE_READ;
	else if (pg_strcasecmp(s, "UPGRADE") == 0)
		*mode = RULE_UPGRADE;
	else if (pg_strcasecmp(s, "DOWNGRADE") == 0)
		*mode = RULE_DOWNGRADE;
	else
		return false;
	return true;
}

/* A member of a jsonb object container, or NULL. */
static JsonbValue *
JbGet(JsonbContainer *c, const char *key)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
}

/* A JsonbValue's string (palloc'd), or NULL when it is not a string. */
static char *
JbString(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The container of a JsonbValue that is an object or array, or NULL. */
static JsonbContainer *
JbContainer(JsonbValue *v)
{
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return v->val.binary.data;
}

/* The string elements of an array container (palloc'd). */
static char **
JbStringArray(JsonbContainer *c, int *n)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	  **out;
	int			cnt = 0;

	*n = 0;
	if (c == NULL || !JsonContainerIsArray(c))
		return NULL;
	out = palloc(sizeof(char *) * Max(JsonContainerSize(c), 1));
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && v.type == jbvString)
			out[cnt++] = pnstrdup(v.val.string.val, v.val.string.len);
	*n = cnt;
	return out;
}

/* A parameter: the rule's params first, then metadata.properties. */
static char *
RuleParam(JsonbContainer *params, JsonbContainer *properties, const char *name)
{
	char	   *s = JbString(JbGet(params, name));

	if (s == NULL)
		s = JbString(JbGet(properties, name));
	return s;
}

/* Split "A,B" into per-direction actions (NULL: default). */
static void
SplitActions(const char *s, char **out)
{
	const char *comma;

	out[0] = out[1] = NULL;
	if (s == NULL || *s == '\0')
		return;
	comma = strchr(s, ',');
	if (comma == NULL)
	{
		char	   *a = pstrdup(s);

		out[0] = out[1] = a;
	}
	else
	{
		out[0] = pnstrdup(s, comma - s);
		out[1] = pstrdup(comma + 1);
	}
	for (int i = 0; i < 2; i++)
	{
		char	   *a = out[i];
		char	   *e;

		while (*a == ' ')
			a++;
		e = a + strlen(a);
		while (e > a && e[-1] == ' ')
			*--e = '\0';
		out[i] = *a ? a : NULL;
	}
}

/*
 * Collect the keys a CEL program reads from "message": true when every use
 * of the variable is message.key or has(message.key), so converting only
 * those keys gives the same result.
 */
static bool
CollectMessageKeys(const CelNode *n, const CelNode *parent, List **keys)
{
	if (n == NULL)
		return true;
	if (n->kind == CN_VAR && strcmp(n->name, "message") == 0)
	{
		if (parent == NULL || (parent->kind != CN_SELECT && parent->kind != CN_HAS) ||
			parent->args[0] != n)
			return false;
		*keys = lappend(*keys, pnstrdup(parent->name, parent->namelen));
		return true;
	}
	for (int i = 0; i < n->nargs; i++)
		if (!CollectMessageKeys(n->args[i], n, keys))
			return false;
	return true;
}

static bool
ProgramUsesVar(const CelProgram *prog, const char *name)
{
	for (int i = 0; i < prog->nvars; i++)
		if (strcmp(prog->varnames[i], name) == 0)
			return true;
	return false;
}


/* ----------------------------------------------------------------
 * Compiling a rule set
 * ----------------------------------------------------------------
 */

static void
CompileRule(CompiledRule *r, JsonbContainer *rc, JsonbContainer *properties,
			bool migration)
{
	JsonbContainer *params = JbContainer(JbGet(rc, "params"));
	JsonbValue *dis = JbGet(rc, "disabled");
	char	   *expr = JbString(JbGet(rc, "expr"));
	char	   *s;

	r->name = JbString(JbGet(rc, "name"));
	if (r->name == NULL)
		r->name = psprintf("rule%d", r->position);
	r->kind_name = JbString(JbGet(rc, "kind"));
	if (r->kind_name == NULL)
		r->kind_name = pstrdup("TRANSFORM");
	r->kind = strcmp(r->kind_name, "CONDITION") == 0 ? RK_CONDITION : RK_TRANSFORM;
	r->type = JbString(JbGet(rc, "type"));
	if (r->type == NULL)
		r->type = pstrdup("");
	r->mode_name = JbString(JbGet(rc, "mode"));
	if (r->mode_name == NULL)
		r->mode_name = pstrdup("WRITEREAD");
	if (strcmp(r->mode_name, "WRITE") == 0)
		r->modes = MODE_BIT(RULE_WRITE);
	else if (strcmp(r->mode_name, "READ") == 0)
		r->modes = MODE_BIT(RULE_READ);
	else if (strcmp(r->mode_name, "WRITEREAD") == 0)
		r->modes = MODE_BIT(RULE_WRITE) | MODE_BIT(RULE_READ);
	else if (strcmp(r->mode_name, "UPGRADE") == 0)
		r->modes = MODE_BIT(RULE_UPGRADE);
	else if (strcmp(r->mode_name, "DOWNGRADE") == 0)
		r->modes = MODE_BIT(RULE_DOWNGRADE);
	else if (strcmp(r->mode_name, "UPDOWN") == 0)
		r->modes = MODE_BIT(RULE_UPGRADE) | MODE_BIT(RULE_DOWNGRADE);
	else
		r->modes = 0;
	/* a list runs only in its own modes */
	r->modes &= migration ? (MODE_BIT(RULE_UPGRADE) | MODE_BIT(RULE_DOWNGRADE)) :
		(MODE_BIT(RULE_WRITE) | MODE_BIT(RULE_READ));
	r->disabled = dis != NULL && dis->type == jbvBool && dis->val.boolean;
	SplitActions(JbString(JbGet(rc, "onSuccess")), r->on_success);
	SplitActions(JbString(JbGet(rc, "onFailure")), r->on_failure);
	r->tags = JbStringArray(JbContainer(JbGet(rc, "tags")), &r->ntags);
	r->timeout_ms = -1;
	r->max_depth = -1;

	if (strcmp(r->type, "CEL") == 0 || strcmp(r->type, "CEL_FIELD") == 0)
	{
		bool		allow_guard = true;
		char	   *err = NULL;

		r->executor = strcmp(r->type, "CEL") == 0 ? RX_CEL : RX_CEL_FIELD;
		s = RuleParam(params, properties, "cel.ignore.guard.separator");
		if (s != NULL && pg_strcasecmp(s, "true") == 0)
			allow_guard = false;
		r->cel = CelCompile(expr ? expr : "", allow_guard, CurrentMemoryContext, &err);
		if (r->cel == NULL)
			r->compile_error = psprintf("invalid CEL expression: %s", err ? err : "?");
		else if (r->executor == RX_CEL_FIELD)
			r->cel_uses_message = ProgramUsesVar(r->cel, "message");
		else
		{
			List	   *keys = NIL;

			if (CollectMessageKeys(r->cel->body, NULL, &keys) &&
				CollectMessageKeys(r->cel->guard, NULL, &keys))
			{
				ListCell   *lc;

				r->cel_partial = true;
				r->msg_keys = palloc(sizeof(char *) * Max(list_length(keys), 1));
				foreach(lc, keys)
				{
					bool		dup = false;

					for (int i = 0; i < r->nmsg_keys; i++)
						if (strcmp(r->msg_keys[i], lfirst(lc)) == 0)
							dup = true;
					if (!dup)
						r->msg_keys[r->nmsg_keys++] = lfirst(lc);
				}
			}
		}
	}
	else if (strcmp(r->type, "JSONATA") == 0)
	{
		char	   *err = NULL;

		r->executor = RX_JSONATA;
		r->jsonata = JsonataCompile(expr ? expr : "", CurrentMemoryContext, &err);
		if (r->jsonata == NULL)
			r->compile_error = psprintf("invalid JSONata expression: %s", err ? err : "?");
		s = RuleParam(params, properties, "timeout.ms");
		if (s == NULL)
			s = RuleParam(params, properties, "jsonata.timeout.ms");
		if (s != NULL)
			r->timeout_ms = Max(0, atoi(s));
		s = RuleParam(params, properties, "max.depth");
		if (s == NULL)
			s = RuleParam(params, properties, "jsonata.max.depth");
		if (s != NULL && atoi(s) > 0)
			r->max_depth = atoi(s);
	}
	else
		r->executor = RX_NONE;
}

static CompiledRule *
CompileList(JsonbContainer *list, JsonbContainer *properties, bool migration,
			int *n)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	CompiledRule *rules;
	int			cnt = 0;

	*n = 0;
	if (list == NULL || !JsonContainerIsArray(list))
		return NULL;
	rules = palloc0(sizeof(CompiledRule) * Max(JsonContainerSize(list), 1));
	it = JsonbIteratorInit(list);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM || v.type != jbvBinary ||
			!JsonContainerIsObject(v.val.binary.data))
			continue;
		rules[cnt].position = cnt + 1;
		CompileRule(&rules[cnt], v.val.binary.data, properties, migration);
		cnt++;
	}
	*n = cnt;
	return rules;
}

/* Fill a cache entry from the stored rule set and metadata (in cache memory). */
static void
CompileRuleSet(RuleSetEntry *e, Jsonb *rule_set, Jsonb *metadata, const char *schema)
{
	JsonbContainer *rs = rule_set ? &rule_set->root : NULL;
	JsonbContainer *md = metadata ? &metadata->root : NULL;
	JsonbContainer *props = JbContainer(JbGet(md, "properties"));
	JsonbContainer *tags = JbContainer(JbGet(md, "tags"));
	char	   *enable_at = JbString(JbGet(rs, "enableAt"));
	bool		field_rules = false;

	e->enabled = enable_at == NULL || strcmp(enable_at, "NONE") != 0;
	e->domain = CompileList(JbContainer(JbGet(rs, "domainRules")), props, false, &e->ndomain);
	e->migration = CompileList(JbContainer(JbGet(rs, "migrationRules")), props, true,
							   &e->nmigration);
	e->modes = 0;
	for (int i = 0; i < e->ndomain + e->nmigration; i++)
	{
		CompiledRule *r = i < e->ndomain ? &e->domain[i] : &e->migration[i - e->ndomain];

		if (!r->disabled)
			e->modes |= r->modes;
		if (r->executor == RX_CEL_FIELD)
			field_rules = true;
	}
	if (!e->enabled)
		e->modes = 0;
	if (field_rules && schema != NULL)
		e->schema_text = pstrdup(schema);

	/* metadata.tags: {"glob": ["TAG", ...]} */
	if (tags != NULL && JsonContainerIsObject(tags))
	{
		JsonbIterator *it = JsonbIteratorInit(tags);
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *key = NULL;

		e->globs = palloc0(sizeof(TagGlob) * Max(JsonContainerSize(tags), 1));
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				key = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE && key != NULL)
			{
				TagGlob    *g = &e->globs[e->nglobs++];

				g->pattern = key;
				g->tags = JbStringArray(JbContainer(&v), &g->ntags);
			}
		}
	}
}


/* ----------------------------------------------------------------
 * Caches
 * ----------------------------------------------------------------
 */

static void
RulesRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == RulesSchemasRelid)
		RulesCacheStale = true;
}

static void
RulesCacheInit(void)
{
	HASHCTL		ctl;

	if (RulesCacheContext != NULL && !RulesCacheStale)
		return;
	if (!RulesCallbackRegistered)
	{
		CacheRegisterRelcacheCallback(RulesRelcacheCallback, (Datum) 0);
		RulesCallbackRegistered = true;
	}
	if (RulesCacheContext == NULL)
		RulesCacheContext = AllocSetContextCreate(TopMemoryContext,
												  "datacontract rules cache",
												  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(RulesCacheContext);
	RulesCacheStale = false;
	RulesSchemasRelid = InvalidOid;

	memset(&ctl, 0, sizeof(ctl));
	ctl.hcxt = RulesCacheContext;
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(RuleSetEntry);
	RuleSetCache = hash_create("datacontract rule sets by id", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(ReadPlanKey);
	ctl.entrysize = sizeof(ReadPlanEntry);
	ReadPlanCache = hash_create("datacontract read plans", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* The compiled rules of schema id (loaded with SPI on first use). */
static RuleSetEntry *
RuleSetForId(int32 id)
{
	RuleSetEntry *entry;
	Datum		arg = Int32GetDatum(id);
	Jsonb	   *rule_set = NULL;
	Jsonb	   *metadata = NULL;
	char	   *schema = NULL;
	bool		exists = false;
	bool		found;
	int			ret;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;

	RulesCacheInit();
	entry = hash_search(RuleSetCache, &id, HASH_FIND, NULL);
	if (entry)
		return entry;

	SPI_connect();
	if (RuleSetByIdPlan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT rule_set, metadata, coalesce(resolved, schema), schema_type "
									   "FROM datacontract.schemas WHERE id = $1",
									   1, (Oid[]) {INT4OID});

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		RuleSetByIdPlan = plan;
	}
	ret = SPI_execute_plan(RuleSetByIdPlan, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		exists = true;
		old = MemoryContextSwitchTo(caller);
		d = SPI_getbinval(tup, desc, 1, &isnull);
		if (!isnull)
			rule_set = DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			metadata = DatumGetJsonbPCopy(d);
		schema = SPI_getvalue(tup, desc, 3);
		MemoryContextSwitchTo(old);
	}
	if (!OidIsValid(RulesSchemasRelid))
	{
		Oid			nsp = get_namespace_oid("datacontract", true);

		RulesSchemasRelid = OidIsValid(nsp) ? get_relname_relid("schemas", nsp) : InvalidOid;
	}
	SPI_finish();

	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_DC_SCHEMA_NOT_FOUND),
				 errmsg("schema %d not found", id),
				 errdetail_dc(40403)));

	/* the relcache callback may have fired during SPI: start afresh */
	RulesCacheInit();
	old = MemoryContextSwitchTo(RulesCacheContext);
	entry = hash_search(RuleSetCache, &id, HASH_ENTER, &found);
	PG_TRY();
	{
		memset(((char *) entry) + sizeof(int32), 0, sizeof(RuleSetEntry) - sizeof(int32));
		CompileRuleSet(entry, rule_set, metadata, schema);
	}
	PG_CATCH();
	{
		hash_search(RuleSetCache, &id, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return entry;
}

bool
RulesExist(int32 schema_id)
{
	return RuleSetForId(schema_id)->modes != 0;
}

bool
RulesExistForMode(int32 schema_id, RuleMode mode)
{
	return (RuleSetForId(schema_id)->modes & MODE_BIT(mode)) != 0;
}


/* ----------------------------------------------------------------
 * jsonb <-> CEL values
 * ----------------------------------------------------------------
 */

/* A CEL scalar as a JsonbValue (natural form); false for containers. */
static bool
JsonbFromCelScalar(const CelValue *c, JsonbValue *out)
{
	switch ((CelType) c->type)
	{
		case CEL_NULL:
			out->type = jbvNull;
			return true;
		case CEL_BOOL:
			out->type = jbvBool;
			out->val.boolean = c->u.b;
			return true;
		case CEL_INT:
			out->type = jbvNumeric;
			out->val.numeric = int64_to_numeric(c->u.i);
			return true;
		case CEL_UINT:
			out->type = jbvNumeric;
			out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																   CStringGetDatum(psprintf(UINT64_FORMAT, c->u.u)),
																   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
			return true;
		case CEL_DOUBLE:
			if (isnan(c->u.d) || isinf(c->u.d))
			{
				const char *s = isnan(c->u.d) ? "NaN" : c->u.d > 0 ? "Infinity" : "-Infinity";

				out->type = jbvString;
				out->val.string.val = (char *) s;
				out->val.string.len = strlen(s);
			}
			else
			{
				/* the shortest decimal that reads back as the same double
				 * (float8_numeric would keep only 15 significant digits) */
				char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

				double_to_shortest_decimal_buf(c->u.d, buf);
				out->type = jbvNumeric;
				out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
																	   ObjectIdGetDatum(InvalidOid),
																	   Int32GetDatum(-1)));
			}
			return true;
		case CEL_STRING:
			out->type = jbvString;
			out->val.string.val = (char *) c->u.s;
			out->val.string.len = c->len;
			return true;
		case CEL_BYTES:
			{
				/* the codec's natural form of bytes: "\x" and hex digits */
				char	   *s = palloc(2 + 2 * c->len + 1);
				static const char hex[] = "0123456789abcdef";

				s[0] = '\\';
				s[1] = 'x';
				for (int i = 0; i < c->len; i++)
				{
					s[2 + 2 * i] = hex[((const uint8 *) c->u.s)[i] >> 4];
					s[3 + 2 * i] = hex[((const uint8 *) c->u.s)[i] & 15];
				}
				s[2 + 2 * c->len] = '\0';
				out->type = jbvString;
				out->val.string.val = s;
				out->val.string.len = 2 + 2 * c->len;
				return true;
			}
		default:
			return false;
	}
}

/*
 * The "message" variable of a CEL rule: only the keys the program reads
 * when it reads the message by key only (the common case, and the hot
 * path), else the whole message.
 */
static void
MessageForRule(const CompiledRule *r, Jsonb *msg, CelValue *full, bool *full_valid,
			   CelValue *out)
{
	if (r->cel_partial && JB_ROOT_IS_OBJECT(msg))
	{
		int			n = 0;

		out->type = CEL_MAP;
		out->u.items = palloc(sizeof(CelValue) * Max(2 * r->nmsg_keys, 1));
		for (int i = 0; i < r->nmsg_keys; i++)
		{
			JsonbValue	v;
			const char *k = r->msg_keys[i];

			if (getKeyJsonValueFromContainer(&msg->root, k, strlen(k), &v) == NULL)
				continue;
			out->u.items[2 * n].type = CEL_STRING;
			out->u.items[2 * n].len = strlen(k);
			out->u.items[2 * n].u.s = k;
			CelValueFromJsonbValue(&v, &out->u.items[2 * n + 1]);
			n++;
		}
		out->len = n;
		return;
	}
	if (!*full_valid)
	{
		CelValueFromJsonb(msg, full);
		*full_valid = true;
	}
	*out = *full;
}


/* ----------------------------------------------------------------
 * CEL_FIELD: walk the message with its schema
 * ----------------------------------------------------------------
 */

typedef struct FieldWalk
{
	RuleSetEntry *rs;
	CompiledRule *rule;
	bool		build;			/* TRANSFORM: build the new message */
	bool		failed;
	char	   *reason;
	bool		applied;		/* some field's guard was true */
	JsonbValue *last;			/* what the last push returned */
} FieldWalk;

typedef struct FieldCtx
{
	const char *full_name;
	const char *name;
	const AvroSchema *type;		/* the field's declared type */
	CelValue	tags;			/* list of strings */
	char	  **tagv;
	int			ntags;
	JsonbValue *container;		/* the record holding the field */
	CelValue   *container_cel;	/* converted on first use */
} FieldCtx;

/* Confluent's RuleContext.Type names. */
static const char *
FieldTypeName(const AvroSchema *s)
{
	switch (s->type)
	{
		case AVRO_NULL:
			return "NULL";
		case AVRO_BOOLEAN:
			return "BOOLEAN";
		case AVRO_INT:
			return "INT";
		case AVRO_LONG:
			return "LONG";
		case AVRO_FLOAT:
			return "FLOAT";
		case AVRO_DOUBLE:
			return "DOUBLE";
		case AVRO_BYTES:
			return "BYTES";
		case AVRO_STRING:
			return "STRING";
		case AVRO_RECORD:
			return "RECORD";
		case AVRO_ENUM:
			return "ENUM";
		case AVRO_ARRAY:
			return "ARRAY";
		case AVRO_MAP:
			return "MAP";
		case AVRO_UNION:
			return "COMBINED";
		case AVRO_FIXED:
			return "FIXED";
	}
	return "?";
}

static bool
IsSpecialDoubleString(const JsonbValue *v)
{
	return v->type == jbvString &&
		((v->val.string.len == 3 && memcmp(v->val.string.val, "NaN", 3) == 0) ||
		 (v->val.string.len == 8 && memcmp(v->val.string.val, "Infinity", 8) == 0) ||
		 (v->val.string.len == 9 && memcmp(v->val.string.val, "-Infinity", 9) == 0));
}

/* Whether a (non-union) schema can hold a natural-form value. */
static bool
SchemaAccepts(const AvroSchema *s, const JsonbValue *v)
{
	bool		is_obj = v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
	bool		is_arr = v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);

	switch (s->type)
	{
		case AVRO_NULL:
			return v->type == jbvNull;
		case AVRO_BOOLEAN:
			return v->type == jbvBool;
		case AVRO_INT:
		case AVRO_LONG:
			return v->type == jbvNumeric ||
				(s->logical != AVRO_LOGICAL_NONE && v->type == jbvString);
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			return v->type == jbvNumeric || IsSpecialDoubleString(v);
		case AVRO_BYTES:
		case AVRO_FIXED:
			return v->type == jbvString ||
				(s->logical == AVRO_LOGICAL_DECIMAL && v->type == jbvNumeric);
		case AVRO_STRING:
		case AVRO_ENUM:
			return v->type == jbvString;
		case AVRO_RECORD:
		case AVRO_MAP:
			return is_obj;
		case AVRO_ARRAY:
			return is_arr;
		case AVRO_UNION:
			return false;
	}
	return false;
}

/* The branch of a union a value belongs to (the schema itself if no union). */
static const AvroSchema *
ResolveBranch(const AvroSchema *s, const JsonbValue *v)
{
	if (s->type != AVRO_UNION)
		return s;
	for (int i = 0; i < s->nbranches; i++)
		if (SchemaAccepts(s->branches[i], v))
			return s->branches[i];
	return NULL;
}

/* The tags of a record field: inline confluent:tags and metadata.tags globs. */
static void
FieldTags(FieldWalk *w, const AvroField *f, FieldCtx *fc)
{
	const AvroJson *inl = f->props_json ? AvroJsonObjectGet(f->props_json, "confluent:tags") : NULL;
	int			cap = (inl && inl->kind == AVRO_JSON_ARRAY ? inl->len : 0);
	int			plen = strlen(fc->full_name);

	for (int g = 0; g < w->rs->nglobs; g++)
		cap += w->rs->globs[g].ntags;
	fc->tagv = palloc(sizeof(char *) * Max(cap, 1));
	fc->ntags = 0;

#define ADD_TAG(t) \
	do { \
		bool dup_ = false; \
		for (int k_ = 0; k_ < fc->ntags; k_++) \
			if (strcmp(fc->tagv[k_], (t)) == 0) \
				dup_ = true; \
		if (!dup_) \
			fc->tagv[fc->ntags++] = (char *) (t); \
	} while (0)

	if (inl && inl->kind == AVRO_JSON_ARRAY)
		for (int i = 0; i < inl->len; i++)
			if (inl->elems[i]->kind == AVRO_JSON_STRING)
				ADD_TAG(inl->elems[i]->str);
	for (int g = 0; g < w->rs->nglobs; g++)
	{
		TagGlob    *glob = &w->rs->globs[g];

		if (ContractGlobMatch(glob->pattern, strlen(glob->pattern), fc->full_name, plen))
			for (int i = 0; i < glob->ntags; i++)
				ADD_TAG(glob->tags[i]);
	}
#undef ADD_TAG

	fc->tags.type = CEL_LIST;
	fc->tags.len = fc->ntags;
	fc->tags.u.items = palloc(sizeof(CelValue) * Max(fc->ntags, 1));
	for (int i = 0; i < fc->ntags; i++)
	{
		fc->tags.u.items[i].type = CEL_STRING;
		fc->tags.u.items[i].len = strlen(fc->tagv[i]);
		fc->tags.u.items[i].u.s = fc->tagv[i];
	}
}

static bool
RuleTargetsField(const CompiledRule *r, const FieldCtx *fc)
{
	if (r->ntags == 0)
		return true;
	for (int i = 0; i < r->ntags; i++)
		for (int j = 0; j < fc->ntags; j++)
			if (strcmp(r->tags[i], fc->tagv[j]) == 0)
				return true;
	return false;
}

/*
 * The result of a field transform coerced to the field's type (the value's
 * branch first, then the declared type's branches); false when it fits none.
 */
static bool
CoerceFieldResult(const AvroSchema *declared, const AvroSchema *branch,
				  const CelValue *r, JsonbValue *out)
{
	const AvroSchema *cands[64];
	int			n = 0;

	if (!JsonbFromCelScalar(r, out))
		return false;
	cands[n++] = branch;
	if (declared->type == AVRO_UNION)
		for (int i = 0; i < declared->nbranches && n < lengthof(cands); i++)
			cands[n++] = declared->branches[i];
	for (int i = 0; i < n; i++)
	{
		const AvroSchema *s = cands[i];

		if (!AVRO_TYPE_IS_PRIMITIVE(s->type))
			continue;
		if (s->logical != AVRO_LOGICAL_NONE)
		{
			if (SchemaAccepts(s, out))
				return true;
			continue;
		}
		switch (s->type)
		{
			case AVRO_NULL:
				if (r->type == CEL_NULL)
					return true;
				break;
			case AVRO_BOOLEAN:
				if (r->type == CEL_BOOL)
					return true;
				break;
			case AVRO_INT:
				if ((r->type == CEL_INT && r->u.i >= PG_INT32_MIN && r->u.i <= PG_INT32_MAX) ||
					(r->type == CEL_UINT && r->u.u <= PG_INT32_MAX))
					return true;
				break;
			case AVRO_LONG:
				if (r->type == CEL_INT || (r->type == CEL_UINT && r->u.u <= PG_INT64_MAX))
					return true;
				break;
			case AVRO_FLOAT:
			case AVRO_DOUBLE:
				if (r->type == CEL_DOUBLE || r->type == CEL_INT || r->type == CEL_UINT)
				{
					if (r->type != CEL_DOUBLE)
					{
						CelValue	d = *r;

						d.type = CEL_DOUBLE;
						d.u.d = r->type == CEL_INT ? (double) r->u.i : (double) r->u.u;
						JsonbFromCelScalar(&d, out);
					}
					return true;
				}
				break;
			case AVRO_STRING:
				if (r->type == CEL_STRING)
					return true;
				break;
			case AVRO_BYTES:
				if (r->type == CEL_BYTES || r->type == CEL_STRING)
					return true;
				break;
			default:
				break;
		}
	}
	return false;
}

/* A primitive value as CEL sees it (bytes fields as bytes). */
static void
FieldValueToCel(const AvroSchema *branch, JsonbValue *v, CelValue *out)
{
	if (branch->type == AVRO_BYTES && branch->logical == AVRO_LOGICAL_NONE &&
		v->type == jbvString && v->val.string.len >= 2 &&
		v->val.string.val[0] == '\\' && v->val.string.val[1] == 'x' &&
		v->val.string.len % 2 == 0)
	{
		int			n = (v->val.string.len - 2) / 2;
		uint8	   *b = palloc(Max(n, 1));

		if (hex_decode(v->val.string.val + 2, 2 * n, (char *) b) == n)
		{
			out->type = CEL_BYTES;
			out->len = n;
			out->u.s = (const char *) b;
			return;
		}
	}
	CelValueFromJsonbValue(v, out);
}

static void WalkValue(FieldWalk *w, JsonbParseState **st, JsonbIteratorToken tok,
					  const AvroSchema *schema, JsonbValue *v, FieldCtx *fc);

static inline void
WPush(FieldWalk *w, JsonbParseState **st, JsonbIteratorToken tok, JsonbValue *v)
{
	w->last = pushJsonbValue(st, tok, v);
}

/* Apply the rule to one primitive value of a field. */
static void
ApplyToPrimitive(FieldWalk *w, JsonbParseState **st, JsonbIteratorToken tok,
				 const AvroSchema *branch, JsonbValue *v, FieldCtx *fc)
{
	CompiledRule *r = w->rule;
	CelValueVar vars[6];
	CelValue	result;
	bool		skipped;
	char	   *err;
	int			sqlstate;
	int			nv = 0;

	if (w->failed || fc == NULL || !RuleTargetsField(r, fc))
		goto unchanged;

	vars[nv].name = "value";
	FieldValueToCel(branch, v, &vars[nv++].value);
	vars[nv].name = "fullName";
	vars[nv].value.type = CEL_STRING;
	vars[nv].value.len = strlen(fc->full_name);
	vars[nv++].value.u.s = fc->full_name;
	vars[nv].name = "name";
	vars[nv].value.type = CEL_STRING;
	vars[nv].value.len = strlen(fc->name);
	vars[nv++].value.u.s = fc->name;
	vars[nv].name = "typeName";
	vars[nv].value.type = CEL_STRING;
	vars[nv].value.u.s = FieldTypeName(branch);
	vars[nv].value.len = strlen(vars[nv].value.u.s);
	nv++;
	vars[nv].name = "tags";
	vars[nv++].value = fc->tags;
	if (r->cel_uses_message)
	{
		if (fc->container_cel == NULL)
		{
			fc->container_cel = palloc(sizeof(CelValue));
			CelValueFromJsonbValue(fc->container, fc->container_cel);
		}
		vars[nv].name = "message";
		vars[nv++].value = *fc->container_cel;
	}

	if (!CelEvaluateValues(r->cel, vars, nv, &result, &skipped, &err, &sqlstate))
	{
		w->failed = true;
		w->reason = psprintf("CEL evaluation error on field %s: %s", fc->full_name, err);
		goto unchanged;
	}
	if (skipped)
		goto unchanged;
	w->applied = true;
	if (r->kind == RK_CONDITION)
	{
		if (result.type != CEL_BOOL || !result.u.b)
		{
			w->failed = true;
			w->reason = psprintf("condition is false for field %s", fc->full_name);
		}
		goto unchanged;
	}
	else
	{
		JsonbValue	nv_;

		if (!CoerceFieldResult(fc->type, branch, &result, &nv_))
		{
			w->failed = true;
			w->reason = psprintf("result of type %s for field %s cannot be coerced to %s",
								 CelTypeName(&result), fc->full_name,
								 AvroSchemaDescribe(fc->type));
			goto unchanged;
		}
		if (w->build)
			WPush(w, st, tok, &nv_);
		return;
	}

unchanged:
	if (w->build)
		WPush(w, st, tok, v);
}

/* Walk one value of schema, pushing it (transformed) with tok. */
static void
WalkValue(FieldWalk *w, JsonbParseState **st, JsonbIteratorToken tok,
		  const AvroSchema *schema, JsonbValue *v, FieldCtx *fc)
{
	const AvroSchema *s = ResolveBranch(schema, v);
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken t;

	check_stack_depth();
	if (s == NULL || (v->type != jbvBinary && !AVRO_TYPE_IS_PRIMITIVE(s->type)))
	{
		/* a value the schema does not describe, or enum: left alone */
		if (w->build)
			WPush(w, st, tok, v);
		return;
	}
	if (v->type != jbvBinary)
	{
		ApplyToPrimitive(w, st, tok, s, v, fc);
		return;
	}

	it = JsonbIteratorInit(v->val.binary.data);
	t = JsonbIteratorNext(&it, &jv, true);
	if (w->build)
		WPush(w, st, t, NULL);
	if (s->type == AVRO_RECORD)
	{
		const AvroField *field = NULL;

		while ((t = JsonbIteratorNext(&it, &jv, true)) != WJB_END_OBJECT)
		{
			if (t == WJB_KEY)
			{
				field = NULL;
				for (int i = 0; i < s->nfields; i++)
					if ((int) strlen(s->fields[i].name) == jv.val.string.len &&
						memcmp(s->fields[i].name, jv.val.string.val, jv.val.string.len) == 0)
						field = &s->fields[i];
				if (w->build)
					WPush(w, st, WJB_KEY, &jv);
			}
			else if (t == WJB_VALUE)
			{
				if (field == NULL)
				{
					if (w->build)
						WPush(w, st, WJB_VALUE, &jv);
				}
				else
				{
					FieldCtx	sub;

					memset(&sub, 0, sizeof(sub));
					sub.full_name = psprintf("%s.%s", s->fullname, field->name);
					sub.name = field->name;
					sub.type = field->type;
					sub.container = v;
					FieldTags(w, field, &sub);
					WalkValue(w, st, WJB_VALUE, field->type, &jv, &sub);
				}
			}
		}
		if (w->build)
			WPush(w, st, WJB_END_OBJECT, NULL);
	}
	else if (s->type == AVRO_MAP)
	{
		while ((t = JsonbIteratorNext(&it, &jv, true)) != WJB_END_OBJECT)
		{
			if (t == WJB_KEY)
			{
				if (w->build)
					WPush(w, st, WJB_KEY, &jv);
			}
			else if (t == WJB_VALUE)
				WalkValue(w, st, WJB_VALUE, s->items, &jv, fc);
		}
		if (w->build)
			WPush(w, st, WJB_END_OBJECT, NULL);
	}
	else
	{
		/* AVRO_ARRAY (SchemaAccepts matched the container kind) */
		while ((t = JsonbIteratorNext(&it, &jv, true)) != WJB_END_ARRAY)
			if (t == WJB_ELEM)
				WalkValue(w, st, WJB_ELEM, s->items, &jv, fc);
		if (w->build)
			WPush(w, st, WJB_END_ARRAY, NULL);
	}
}

/* Run a CEL_FIELD rule over the message. */
static RuleStatus
RunFieldRule(RuleSetEntry *rs, CompiledRule *r, Jsonb **msg, Jsonb **result,
			 char **reason)
{
	FieldWalk	w;
	JsonbParseState *st = NULL;
	JsonbValue	root;

	if (rs->tree == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(RulesCacheContext);

		if (rs->schema_text == NULL)
			elog(ERROR, "schema text of a rule set with CEL_FIELD rules is missing");
		rs->tree = AvroParseSchemaOrError(rs->schema_text, strlen(rs->schema_text),
										  RulesCacheContext);
		MemoryContextSwitchTo(old);
	}
	if (JB_ROOT_IS_SCALAR(*msg))
	{
		/* no fields */
		*result = r->kind == RK_CONDITION ? NULL : *msg;
		return RS_NOT_APPLICABLE;
	}
	memset(&w, 0, sizeof(w));
	w.rs = rs;
	w.rule = r;
	w.build = r->kind == RK_TRANSFORM;
	root.type = jbvBinary;
	root.val.binary.data = &(*msg)->root;
	root.val.binary.len = VARSIZE(*msg) - VARHDRSZ;
	WalkValue(&w, &st, WJB_VALUE, rs->tree->root, &root, NULL);
	if (w.failed)
	{
		*reason = w.reason;
		*result = NULL;
		return RS_FAILED;
	}
	if (r->kind == RK_CONDITION)
	{
		*result = NULL;
		return w.applied ? RS_PASSED : RS_NOT_APPLICABLE;
	}
	if (!w.applied)
	{
		*result = *msg;
		return RS_NOT_APPLICABLE;
	}
	/* the root container's closing push returned the whole value */
	*result = JsonbValueToJsonb(w.last);
	return RS_PASSED;
}


/* ----------------------------------------------------------------
 * Running rules
 * ----------------------------------------------------------------
 */

/* Run one rule on *msg; a passing transform replaces *msg. */
static RuleStatus
RunRule(RuleSetEntry *rs, CompiledRule *r, Jsonb **msg, CelValue *full,
		bool *full_valid, Jsonb **result, char **reason)
{
	*result = NULL;
	*reason = NULL;
	if (r->executor == RX_NONE)
	{
		*reason = psprintf("no rule executor for type %s", r->type[0] ? r->type : "(none)");
		return RS_FAILED;
	}
	if (r->compile_error)
	{
		*reason = r->compile_error;
		return RS_FAILED;
	}

	if (r->executor == RX_CEL)
	{
		CelValueVar var;
		CelValue	res;
		bool		skipped;
		char	   *err;
		int			sqlstate;

		var.name = "message";
		MessageForRule(r, *msg, full, full_valid, &var.value);
		if (!CelEvaluateValues(r->cel, &var, 1, &res, &skipped, &err, &sqlstate))
		{
			*reason = psprintf("CEL evaluation error: %s", err);
			return RS_FAILED;
		}
		if (skipped)
			return RS_NOT_APPLICABLE;
		if (r->kind == RK_CONDITION)
		{
			if (res.type == CEL_BOOL)
			{
				*result = CelValueToJsonb(&res);
				if (res.u.b)
					return RS_PASSED;
				*reason = pstrdup("condition is false");
				return RS_FAILED;
			}
			*result = CelValueToJsonb(&res);
			*reason = psprintf("condition result is not a boolean: %s",
							   JsonbToCString(NULL, &(*result)->root, VARSIZE(*result)));
			return RS_FAILED;
		}
		if (res.type == CEL_NULL)
		{
			*reason = pstrdup("transform returned null");
			return RS_FAILED;
		}
		*result = CelValueToJsonb(&res);
		*msg = *result;
		*full_valid = false;
		return RS_PASSED;
	}

	if (r->executor == RX_CEL_FIELD)
	{
		RuleStatus	s = RunFieldRule(rs, r, msg, result, reason);

		if (r->kind == RK_TRANSFORM && *result != NULL)
		{
			*msg = *result;
			*full_valid = false;
		}
		return s;
	}

	/* RX_JSONATA */
	{
		Jsonb	   *res = NULL;
		char	   *err = NULL;

		if (!JsonataEvaluate(r->jsonata, *msg,
							 r->timeout_ms >= 0 ? r->timeout_ms : datacontract_jsonata_timeout,
							 r->max_depth > 0 ? r->max_depth : datacontract_jsonata_max_depth,
							 &res, &err))
		{
			*reason = psprintf("JSONata evaluation error: %s", err ? err : "?");
			return RS_FAILED;
		}
		*result = res;
		if (r->kind == RK_CONDITION)
		{
			JsonbValue	v;

			/* a null (undefined) result counts as true */
			if (res == NULL)
				return RS_PASSED;
			if (JB_ROOT_IS_SCALAR(res) && JsonbExtractScalar(&res->root, &v))
			{
				if (v.type == jbvNull)
					return RS_PASSED;
				if (v.type == jbvBool && v.val.boolean)
					return RS_PASSED;
				if (v.type == jbvBool)
				{
					*reason = pstrdup("condition is false");
					return RS_FAILED;
				}
			}
			*reason = psprintf("condition result is not a boolean: %s",
							   JsonbToCString(NULL, &res->root, VARSIZE(res)));
			return RS_FAILED;
		}
		if (res == NULL || (JB_ROOT_IS_SCALAR(res) &&
							getIthJsonbValueFromContainer(&res->root, 0)->type == jbvNull))
		{
			*reason = pstrdup("transform returned null");
			return RS_FAILED;
		}
		*msg = res;
		*full_valid = false;
		return RS_PASSED;
	}
}

/* The action for an outcome in a mode ("NONE" or "ERROR" by default). */
static const char *
RuleAction(const CompiledRule *r, RuleMode mode, bool failed)
{
	const char *a = failed ? r->on_failure[DIR(mode)] : r->on_success[DIR(mode)];

	if (a == NULL)
		return failed ? "ERROR" : "NONE";
	return a;
}

/* Record one rule's outcome for run_rules. */
static void
TraceRule(RuleTrace *trace, const CompiledRule *r, const char *outcome,
		  const char *action, Jsonb *result, const char *reason)
{
	Datum		values[9];
	bool		nulls[9] = {0};

	values[0] = Int32GetDatum(r->position);
	values[1] = CStringGetTextDatum(r->name);
	values[2] = CStringGetTextDatum(r->kind_name);
	values[3] = CStringGetTextDatum(r->type);
	values[4] = CStringGetTextDatum(r->mode_name);
	values[5] = CStringGetTextDatum(outcome);
	if (action)
		values[6] = CStringGetTextDatum(action);
	else
		nulls[6] = true;
	if (result)
		values[7] = JsonbPGetDatum(result);
	else
		nulls[7] = true;
	if (reason)
		values[8] = CStringGetTextDatum(reason);
	else
		nulls[8] = true;
	tuplestore_putvalues(trace->store, trace->desc, values, nulls);
}

/*
 * Run a rule set's rules for mode on *msg.  Without a trace, stops at the
 * first rule whose action is not NONE and returns false with *outcome.
 * With a trace (run_rules), records every rule and goes on (a failed
 * transform leaves the message as it was).
 */
static bool
ApplyRuleSet(RuleSetEntry *rs, RuleMode mode, Jsonb **msg, RuleOutcome *outcome,
			 RuleTrace *trace)
{
	bool		migration = mode == RULE_UPGRADE || mode == RULE_DOWNGRADE;
	CompiledRule *rules = migration ? rs->migration : rs->domain;
	int			n = migration ? rs->nmigration : rs->ndomain;
	bool		reverse = mode == RULE_READ || mode == RULE_DOWNGRADE;
	CelValue	full;
	bool		full_valid = false;
	bool		ok = true;

	if (outcome)
	{
		memset(outcome, 0, sizeof(*outcome));
		outcome->mode = mode;
	}
	if (trace == NULL && (rs->modes & MODE_BIT(mode)) == 0)
		return true;

	for (int k = 0; k < n; k++)
	{
		CompiledRule *r = &rules[reverse ? n - 1 - k : k];
		Jsonb	   *before = *msg;
		Jsonb	   *result;
		char	   *reason;
		RuleStatus	status;
		const char *action;

		CHECK_FOR_INTERRUPTS();
		if ((r->modes & MODE_BIT(mode)) == 0)
		{
			if (trace)
				TraceRule(trace, r, "not applicable", NULL, NULL,
						  psprintf("mode %s does not run in %s", r->mode_name, RuleModeName(mode)));
			continue;
		}
		if (r->disabled || !rs->enabled)
		{
			if (trace)
				TraceRule(trace, r, "skipped", NULL, NULL,
						  r->disabled ? "disabled" : "enableAt is NONE");
			continue;
		}
		status = RunRule(rs, r, msg, &full, &full_valid, &result, &reason);
		action = RuleAction(r, mode, status == RS_FAILED);
		if (trace)
			TraceRule(trace, r,
					  status == RS_PASSED ? "passed" : status == RS_FAILED ? "failed" : "not applicable",
					  action, result, reason);
		if (strcmp(action, "NONE") == 0)
			continue;
		/* ERROR, DLQ or a custom action (which we run as ERROR) */
		if (status == RS_FAILED)
			*msg = before;
		if (trace)
		{
			ok = false;
			continue;
		}
		if (outcome)
		{
			outcome->failed = true;
			outcome->rule_name = r->name;
			outcome->action = action;
			if (status == RS_FAILED)
				outcome->reason = reason;
			else
				outcome->reason = psprintf("the rule %s (onSuccess)",
										   status == RS_PASSED ? "passed" : "did not apply");
			if (strcmp(action, "ERROR") != 0 && strcmp(action, "DLQ") != 0)
				outcome->reason = psprintf("%s (unknown rule action %s, run as ERROR)",
										   outcome->reason, action);
		}
		return false;
	}
	return ok;
}

bool
RulesApply(int32 schema_id, RuleMode mode, Jsonb **msg, RuleOutcome *outcome)
{
	RuleSetEntry *rs = RuleSetForId(schema_id);

	if ((rs->modes & MODE_BIT(mode)) == 0)
	{
		memset(outcome, 0, sizeof(*outcome));
		outcome->mode = mode;
		return true;
	}
	return ApplyRuleSet(rs, mode, msg, outcome, NULL);
}

void
RulesReportFailure(const RuleOutcome *outcome)
{
	bool		dlq = outcome->action && strcmp(outcome->action, "DLQ") == 0;

	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("Rule failed: %s", outcome->rule_name),
			 errdetail("%s rule %s: %s; action %s.", RuleModeName(outcome->mode),
					   outcome->rule_name, outcome->reason ? outcome->reason : "failed",
					   outcome->action ? outcome->action : "ERROR"),
			 dlq ? errhint("In SQL a DLQ action refuses the message as ERROR does; the Kafka worker sends it to its dead letters.") : 0));
}


/* ----------------------------------------------------------------
 * Migrations
 * ----------------------------------------------------------------
 */

/*
 * The schema ids of a subject's versions lo..hi, by version (missing
 * versions are 0); ereports 40401/40402 when the subject has no versions
 * or lo or hi is missing.
 */
static int32 *
SubjectVersionIds(const char *subject, int32 lo, int32 hi, int32 report_a, int32 report_b)
{
	Datum		args[3];
	int			ret;
	int32	   *ids = palloc0(sizeof(int32) * (hi - lo + 1));
	bool		any = false;

	args[0] = CStringGetTextDatum(subject);
	args[1] = Int32GetDatum(lo);
	args[2] = Int32GetDatum(hi);
	SPI_connect();
	ret = SPI_execute_with_args("SELECT version, schema_id, version BETWEEN $2 AND $3 "
								"FROM datacontract.subject_versions WHERE subject = $1",
								3, (Oid[]) {TEXTOID, INT4OID, INT4OID}, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		int32		v = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));

		any = true;
		if (v >= lo && v <= hi)
			ids[v - lo] = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	if (!any)
		ereport(ERROR,
				(errcode(ERRCODE_DC_SUBJECT_NOT_FOUND),
				 errmsg("Subject '%s' not found.", subject),
				 errdetail_dc(40401)));
	if (ids[report_a - lo] == 0 || ids[report_b - lo] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DC_VERSION_NOT_FOUND),
				 errmsg("Version %d not found.", ids[report_a - lo] == 0 ? report_a : report_b),
				 errdetail_dc(40402)));
	return ids;
}

/* The steps of a migration from one version to another (ids whose rules run). */
static int
MigrationSteps(const int32 *ids, int32 lo, int32 from, int32 to, RuleMode *mode,
			   int32 *steps, bool only_with_rules)
{
	int			n = 0;

	*mode = from < to ? RULE_UPGRADE : RULE_DOWNGRADE;
	if (from < to)
	{
		for (int32 v = from + 1; v <= to; v++)
			if (ids[v - lo] != 0 &&
				(!only_with_rules || RulesExistForMode(ids[v - lo], RULE_UPGRADE)))
				steps[n++] = ids[v - lo];
	}
	else
	{
		for (int32 v = from; v > to; v--)
			if (ids[v - lo] != 0 &&
				(!only_with_rules || RulesExistForMode(ids[v - lo], RULE_DOWNGRADE)))
				steps[n++] = ids[v - lo];
	}
	return n;
}

static bool
RunMigrationSteps(const int32 *steps, int nsteps, RuleMode mode, Jsonb **msg,
				  RuleOutcome *outcome)
{
	for (int i = 0; i < nsteps; i++)
		if (!RulesApply(steps[i], mode, msg, outcome))
			return false;
	return true;
}

bool
RulesMigrate(const char *subject, int32 from_version, int32 to_version, Jsonb **msg,
			 RuleOutcome *outcome)
{
	int32		lo = Min(from_version, to_version);
	int32		hi = Max(from_version, to_version);
	int32	   *ids;
	int32	   *steps;
	int			n;
	RuleMode	mode;

	memset(outcome, 0, sizeof(*outcome));
	if (lo < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DC_VERSION_NOT_FOUND),
				 errmsg("Version %d not found.", lo),
				 errdetail_dc(40402)));
	if (hi - lo > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a migration may span at most 100000 versions")));
	ids = SubjectVersionIds(subject, lo, hi, from_version, to_version);
	if (from_version == to_version)
		return true;
	steps = palloc(sizeof(int32) * (hi - lo + 1));
	n = MigrationSteps(ids, lo, from_version, to_version, &mode, steps, false);
	outcome->mode = mode;
	return RunMigrationSteps(steps, n, mode, msg, outcome);
}

const RulesReadPlan *
RulesPlanRead(int32 writer_id, int32 reader_id)
{
	ReadPlanKey key;
	ReadPlanEntry *e;
	bool		found;
	RulesReadPlan plan;
	char	   *subject = NULL;
	int32		wv = 0,
				rv = 0;
	MemoryContext old;

	if (reader_id == writer_id)
		reader_id = -1;
	RulesCacheInit();
	memset(&key, 0, sizeof(key));
	key.writer_id = writer_id;
	key.reader_id = reader_id;
	e = hash_search(ReadPlanCache, &key, HASH_FIND, NULL);
	if (e != NULL && e->lxid == MyProc->lxid)
		return &e->plan;

	memset(&plan, 0, sizeof(plan));
	plan.writer_id = writer_id;
	plan.reader_id = reader_id;
	plan.target_id = reader_id >= 0 ? reader_id : writer_id;

	if (reader_id >= 0)
	{
		Datum		args[2];
		int			ret;

		/* both ids versions of one subject: the first subject in byte order */
		args[0] = Int32GetDatum(writer_id);
		args[1] = Int32GetDatum(reader_id);
		SPI_connect();
		ret = SPI_execute_with_args("SELECT a.subject, a.version, b.version "
									"FROM datacontract.subject_versions a "
									"JOIN datacontract.subject_versions b ON b.subject = a.subject "
									"WHERE a.schema_id = $1 AND b.schema_id = $2 AND a.version <> b.version "
									"ORDER BY a.subject COLLATE \"C\", a.version DESC, b.version DESC LIMIT 1",
									2, (Oid[]) {INT4OID, INT4OID}, args, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
		if (SPI_processed > 0)
		{
			bool		isnull;
			HeapTuple	tup = SPI_tuptable->vals[0];

			old = MemoryContextSwitchTo(CurTransactionContext);
			subject = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
			MemoryContextSwitchTo(old);
			wv = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
			rv = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
		}
		SPI_finish();
	}
	if (subject != NULL)
	{
		int32		lo = Min(wv, rv);
		int32		hi = Max(wv, rv);
		int32	   *ids = SubjectVersionIds(subject, lo, hi, wv, rv);
		int32	   *steps = palloc(sizeof(int32) * (hi - lo + 1));

		plan.nsteps = MigrationSteps(ids, lo, wv, rv, &plan.migration_mode, steps, true);
		if (plan.nsteps > 0)
		{
			plan.migrate = true;
			plan.steps = steps;
			plan.subject = subject;
			plan.from_version = wv;
			plan.to_version = rv;
		}
	}
	plan.read_rules = RulesExistForMode(plan.target_id, RULE_READ);
	plan.active = plan.migrate || plan.read_rules;

	/* loading rule sets may have flushed the cache: enter afresh */
	RulesCacheInit();
	e = hash_search(ReadPlanCache, &key, HASH_ENTER, &found);
	old = MemoryContextSwitchTo(RulesCacheContext);
	if (found && e->plan.steps)
		pfree(e->plan.steps);
	if (found && e->plan.subject)
		pfree(e->plan.subject);
	e->lxid = MyProc->lxid;
	e->plan = plan;
	if (plan.migrate)
	{
		e->plan.steps = palloc(sizeof(int32) * plan.nsteps);
		memcpy(e->plan.steps, plan.steps, sizeof(int32) * plan.nsteps);
		e->plan.subject = pstrdup(plan.subject);
	}
	else
	{
		e->plan.steps = NULL;
		e->plan.subject = NULL;
	}
	MemoryContextSwitchTo(old);
	return &e->plan;
}

bool
RulesApplyReadPlan(const RulesReadPlan *plan, Jsonb **msg, RuleOutcome *outcome)
{
	/* loading a rule set may flush the cache the plan lives in: copy it */
	bool		read_rules = plan->read_rules;
	int32		target = plan->target_id;

	memset(outcome, 0, sizeof(*outcome));
	if (plan->migrate)
	{
		int			n = plan->nsteps;
		RuleMode	mode = plan->migration_mode;
		int32	   *steps = palloc(sizeof(int32) * n);

		memcpy(steps, plan->steps, sizeof(int32) * n);
		if (!RunMigrationSteps(steps, n, mode, msg, outcome))
			return false;
	}
	if (read_rules)
		return RulesApply(target, RULE_READ, msg, outcome);
	return true;
}


/* ----------------------------------------------------------------
 * SQL functions
 * ----------------------------------------------------------------
 */

/* The schema id of a subject's version (NULL: latest live). */
static int32
SubjectVersionId(text *subject, bool has_version, int32 version)
{
	Datum		args[2];
	int			ret;
	int32		id = 0;
	bool		found = false;

	args[0] = PointerGetDatum(subject);
	SPI_connect();
	if (!has_version)
		ret = SPI_execute_with_args("SELECT schema_id FROM datacontract.subject_versions "
									"WHERE subject = $1 AND NOT deleted "
									"ORDER BY version DESC LIMIT 1",
									1, (Oid[]) {TEXTOID}, args, NULL, true, 1);
	else
	{
		args[1] = Int32GetDatum(version);
		ret = SPI_execute_with_args("SELECT schema_id FROM datacontract.subject_versions "
									"WHERE subject = $1 AND version = $2 AND NOT deleted",
									2, (Oid[]) {TEXTOID, INT4OID}, args, NULL, true, 1);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		bool		isnull;

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		found = true;
	}
	SPI_finish();
	if (!found && !has_version)
		ereport(ERROR,
				(errcode(ERRCODE_DC_SUBJECT_NOT_FOUND),
				 errmsg("Subject '%s' not found.", text_to_cstring(subject)),
				 errdetail_dc(40401)));
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_DC_VERSION_NOT_FOUND),
				 errmsg("Version %d not found.", version),
				 errdetail_dc(40402)));
	return id;
}

/*
 * run_rules(subject, value, mode DEFAULT 'WRITE', version DEFAULT NULL)
 * RETURNS TABLE(position, rule, kind, type, mode, outcome, action, result,
 * reason): every rule of the version's list for the mode, in the order of
 * execution, with what it did; rule failures are reported, never raised.
 */
Datum
run_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RuleTrace	trace;
	RuleMode	mode = RULE_WRITE;
	char	   *mode_s;
	int32		id;
	Jsonb	   *msg;
	RuleSetEntry *rs;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	mode_s = PG_ARGISNULL(2) ? "WRITE" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!ParseRuleMode(mode_s, &mode))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rule mode \"%s\"", mode_s),
				 errhint("The mode is WRITE, READ, UPGRADE or DOWNGRADE.")));
	id = SubjectVersionId(PG_GETARG_TEXT_PP(0), !PG_ARGISNULL(3),
						  PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3));
	msg = PG_GETARG_JSONB_P_COPY(1);
	rs = RuleSetForId(id);

	trace.store = rsinfo->setResult;
	trace.desc = rsinfo->setDesc;
	ApplyRuleSet(rs, mode, &msg, NULL, &trace);
	return (Datum) 0;
}

/*
 * migrate(subject, value, from_version, to_version) RETURNS jsonb: the
 * value after the migration rules between the versions; a failing rule
 * raises "Rule failed: <name>".
 */
Datum
rules_migrate(PG_FUNCTION_ARGS)
{
	Jsonb	   *msg;
	RuleOutcome outcome;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	msg = PG_GETARG_JSONB_P(1);
	if (!RulesMigrate(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_INT32(2),
					  PG_GETARG_INT32(3), &msg, &outcome))
		RulesReportFailure(&outcome);
	PG_RETURN_JSONB_P(msg);
}

/*
 * _rule_expr_error(type, expr, allow_guard) RETURNS text: NULL when a CEL,
 * CEL_FIELD or JSONATA expression compiles (other types: NULL), else the
 * compiler's message.
 */
Datum
rule_expr_error(PG_FUNCTION_ARGS)
{
	char	   *type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		allow_guard = PG_GETARG_BOOL(2);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "rule check",
											  ALLOCSET_SMALL_SIZES);
	char	   *err = NULL;
	bool		ok = true;

	if (strcmp(type, "CEL") == 0 || strcmp(type, "CEL_FIELD") == 0)
		ok = CelCompile(expr, allow_guard, cxt, &err) != NULL;
	else if (strcmp(type, "JSONATA") == 0)
	{
		JsonataProgram *prog = JsonataCompile(expr, cxt, &err);

		ok = prog != NULL;
		if (prog)
			JsonataFree(prog);
	}
	if (ok)
	{
		MemoryContextDelete(cxt);
		PG_RETURN_NULL();
	}
	PG_RETURN_TEXT_P(cstring_to_text(err ? err : "invalid expression"));
}
