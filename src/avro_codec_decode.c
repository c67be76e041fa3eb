/*-------------------------------------------------------------------------
 *
 * avro_codec_decode.c
 *	  The codec's core: compile writer-to-reader resolution plans, decode
 *	  Avro binary with them, turn field defaults into values, and write
 *	  values back to Avro binary.
 *
 * Resolution follows the Avro specification, and Java Avro where the two
 * differ (see BestBranch).  Decoding reports bad input through the
 * AvroDecodeState (never ereport), checks every length against the bytes
 * left and the value budget, and bounds nesting; it calls only palloc and
 * CHECK_FOR_INTERRUPTS of the backend, so the fuzz harness links it with a
 * small shim.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

#include "avro_codec.h"
#include "datacontract.h"

/* GUCs: defined here so the core links without the SQL layer. */
int			datacontract_max_value_size = 64 * 1024 * 1024;
int			datacontract_max_value_depth = 64;

/* What one step of a plan does with the bytes in front of it. */
typedef enum AvroOp
{
	OP_NULL,
	OP_BOOLEAN,
	OP_INT,
	OP_LONG,
	OP_FLOAT,
	OP_DOUBLE,
	OP_BYTES,
	OP_STRING,
	OP_INT_LONG,
	OP_INT_FLOAT,
	OP_INT_DOUBLE,
	OP_LONG_FLOAT,
	OP_LONG_DOUBLE,
	OP_FLOAT_DOUBLE,
	OP_STRING_BYTES,
	OP_BYTES_STRING,
	OP_FIXED,
	OP_ENUM,
	OP_RECORD,
	OP_ARRAY,
	OP_MAP,
	OP_UNION,					/* writer union: dispatch on the index */
	OP_FAIL						/* unresolvable: fail when reached */
} AvroOp;

/* One value to decode: how, into which reader type, where to store it. */
typedef struct AvroStep
{
	uint8		op;				/* AvroOp */
	uint8		kind;			/* AvroType of the value produced */
	int16		branch;			/* reader union branch, or -1 */
	int32		slot;			/* record: reader field index, -1 discards */
	const AvroSchema *reader;	/* reader schema node (not a union) */
	AvroPlan   *sub;			/* details of complex steps */
} AvroStep;

/*
 * A record's writer fields as a flat list of fused operations, ended by
 * FAST_END.  The common fields (primitives, and unions of null and one
 * primitive) are read inline with the value's header precomputed; an
 * operation finding anything unusual (a long length, non-ASCII text, too
 * few bytes, a bad index) reads its field again with the field's step, so
 * bad input gets the step's error, at the same offset.
 */
typedef enum AvroFastCode
{
	FAST_END,
	FAST_OPT_STRING,			/* each FAST_OPT_x: union of null and x */
	FAST_STRING,
	FAST_OPT_BYTES,
	FAST_BYTES,
	FAST_OPT_LONG,
	FAST_LONG,
	FAST_OPT_INT,
	FAST_INT,
	FAST_OPT_FLOAT,
	FAST_FLOAT,
	FAST_OPT_DOUBLE,
	FAST_DOUBLE,
	FAST_OPT_BOOLEAN,
	FAST_BOOLEAN,
	FAST_NULL,
	FAST_ENUM,
	FAST_STEP					/* anything else: the field's step */
} AvroFastCode;

typedef struct AvroFastOp
{
	uint8		code;			/* AvroFastCode */
	uint8		null_byte;		/* FAST_OPT_x: the index byte of null */
	uint8		value_byte;		/* FAST_OPT_x: the index byte of x */
	int32		offset;			/* byte offset of its slot in the fields */
	const AvroStep *step;		/* the field's step */
	AvroValue	head;			/* the value's kind, branch and schema */
	AvroValue	null_head;		/* FAST_OPT_x: the same for null */
} AvroFastOp;

/* A compiled step's details; records are shared (and may be cyclic). */
struct AvroPlan
{
	AvroStep	root;			/* top-level plans: the value's step */
	const AvroSchema *writer;
	const AvroSchema *reader;	/* top-level: the reader root (may be a union) */
	const char *fail;			/* non-NULL: reading this fails */

	/* record */
	int			nsteps;			/* writer fields */
	AvroStep   *steps;
	int			nfields;		/* reader fields */
	AvroValue  *initial;		/* reader fields: defaults, others zeroed */
	int			ndefaults;		/* reader fields no writer field fills */
	int		   *defaults;
	AvroJsonKey *keys;			/* reader fields in jsonb key order */
	AvroFastOp *fast;			/* the writer fields as fused operations */
	Size		fields_bytes;	/* nfields * sizeof(AvroValue) */
	int			nslots;			/* nfields, plus one for discarded fields */

	/* top-level plans: the jsonb key order of every reader record */
	int			nrecords;
	const AvroSchema **records;
	const AvroJsonKey **record_keys;

	/* enum: writer symbol index -> reader symbol index, or -1 */
	int			nmap;
	int32	   *map;

	/* array items, map values */
	AvroStep	item;

	/* writer union branches */
	int			nbranches;
	AvroStep   *branches;

	/* fixed */
	int			size;
};

/* Records compiled so far, so recursive types close into cycles. */
typedef struct PlanMemo
{
	const AvroSchema *writer;
	const AvroSchema *reader;
	AvroPlan   *plan;
	struct PlanMemo *next;
} PlanMemo;

typedef struct CompileContext
{
	MemoryContext cxt;
	PlanMemo   *memo;
	int			depth;
} CompileContext;

static void CompileStep(CompileContext *cc, const AvroSchema *w,
						const AvroSchema *r, AvroStep *step);
static void CollectRecordKeys(CompileContext *cc, AvroPlan *plan);
static void CompileFastOps(AvroPlan *plan);
static AvroJsonKey *JsonKeyOrder(const AvroSchema *r);
static inline bool DecodeRecord(const AvroPlan *plan, AvroDecodeState *s, AvroValue *out);
static bool DecodeStep(const AvroStep *st, AvroDecodeState *s, AvroValue *out);
static bool DecodeComplex(const AvroStep *st, AvroDecodeState *s, AvroValue *out);
static bool DefaultValue(const AvroJson *json, const AvroSchema *schema,
						 MemoryContext cxt, AvroValue *out, char **errmsg, int depth);


/* ----------------------------------------------------------------
 * Plan compilation
 * ----------------------------------------------------------------
 */

/* Compile the resolution of writer to reader (reader NULL: same as writer). */
AvroPlan *
AvroPlanCompile(const AvroSchema *writer, const AvroSchema *reader,
				MemoryContext cxt, char **errmsg)
{
	CompileContext cc;
	AvroPlan   *plan;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	if (reader == NULL)
		reader = writer;
	cc.cxt = cxt;
	cc.memo = NULL;
	cc.depth = 0;
	plan = palloc0(sizeof(AvroPlan));
	plan->writer = writer;
	plan->reader = reader;
	CompileStep(&cc, writer, reader, &plan->root);
	CollectRecordKeys(&cc, plan);
	MemoryContextSwitchTo(old);

	/* A root that can never be read is an error now, not per message. */
	if (plan->root.op == OP_FAIL ||
		(plan->root.op == OP_RECORD && plan->root.sub->fail != NULL))
	{
		*errmsg = pstrdup(plan->root.sub->fail);
		return NULL;
	}
	return plan;
}

/*
 * Gather the jsonb key order of every reader record the plan produces,
 * the root's first (so the common lookup is the first comparison).
 */
static void
CollectRecordKeys(CompileContext *cc, AvroPlan *plan)
{
	int			n = 0;

	for (PlanMemo *m = cc->memo; m; m = m->next)
		n++;
	plan->records = palloc(sizeof(AvroSchema *) * Max(n, 1));
	plan->record_keys = palloc(sizeof(AvroJsonKey *) * Max(n, 1));
	if (plan->root.op == OP_RECORD)
	{
		plan->records[0] = plan->root.sub->reader;
		plan->record_keys[0] = plan->root.sub->keys;
		plan->nrecords = 1;
	}
	for (PlanMemo *m = cc->memo; m; m = m->next)
	{
		bool		seen = false;

		for (int i = 0; i < plan->nrecords && !seen; i++)
			seen = (plan->records[i] == m->reader);
		if (seen)
			continue;
		plan->records[plan->nrecords] = m->reader;
		plan->record_keys[plan->nrecords] = m->plan->keys;
		plan->nrecords++;
	}
}

/* The jsonb key order of a reader record of the plan, or NULL. */
const AvroJsonKey *
AvroPlanJsonKeys(const AvroPlan *plan, const AvroSchema *record)
{
	for (int i = 0; i < plan->nrecords; i++)
		if (plan->records[i] == record)
			return plan->record_keys[i];
	return NULL;
}

/* The reader schema of a plan's values. */
const AvroSchema *
AvroPlanReader(const AvroPlan *plan)
{
	return plan->reader;
}

/* Make step a failure with the given message. */
static void
StepFail(CompileContext *cc, AvroStep *step, const AvroSchema *w,
		 const AvroSchema *r, const char *msg)
{
	step->op = OP_FAIL;
	step->sub = palloc0(sizeof(AvroPlan));
	step->sub->writer = w;
	step->sub->reader = r;
	step->sub->fail = msg;
}

/* Names two named schemas match by: full name, or a reader alias. */
static bool
NamesMatch(const AvroSchema *w, const AvroSchema *r)
{
	if (w->fullname && r->fullname && strcmp(w->fullname, r->fullname) == 0)
		return true;
	for (int i = 0; i < r->naliases; i++)
		if (w->fullname && strcmp(r->aliases[i], w->fullname) == 0)
			return true;
	return false;
}

/*
 * The reader union branch a non-union writer type is read as, or -1.
 *
 * As Java Avro's ResolvingGrammarGenerator.bestBranch (not the
 * specification's "first branch that matches"): first the first branch of
 * the same type (named types: with the same full name; records also by
 * structure, preferring the same short name), then the first branch the
 * writer promotes to in Java's order (int to long or double, long and float
 * to double, string and bytes to each other).  We then also accept int and
 * long to float, which the specification allows and Java's union scan
 * omits.
 */
static int
BestBranch(const AvroSchema *w, const AvroSchema *r)
{
	int			structure = -1;
	AvroType	wt = w->type;

	for (int j = 0; j < r->nbranches; j++)
	{
		const AvroSchema *b = r->branches[j];

		if (b->type != wt)
			continue;
		if (!AVRO_TYPE_IS_NAMED(wt))
			return j;
		if (NamesMatch(w, b))
			return j;
		if (wt == AVRO_RECORD &&
			(structure < 0 ||
			 (w->name && b->name && strcmp(w->name, b->name) == 0 &&
			  !(r->branches[structure]->name &&
				strcmp(w->name, r->branches[structure]->name) == 0))))
			structure = j;
	}
	if (structure >= 0)
		return structure;

	for (int pass = 0; pass < 2; pass++)
	{
		for (int j = 0; j < r->nbranches; j++)
		{
			AvroType	bt = r->branches[j]->type;

			if (pass == 0 &&
				((wt == AVRO_INT && (bt == AVRO_LONG || bt == AVRO_DOUBLE)) ||
				 ((wt == AVRO_LONG || wt == AVRO_FLOAT) && bt == AVRO_DOUBLE) ||
				 (wt == AVRO_STRING && bt == AVRO_BYTES) ||
				 (wt == AVRO_BYTES && bt == AVRO_STRING)))
				return j;
			if (pass == 1 && (wt == AVRO_INT || wt == AVRO_LONG) && bt == AVRO_FLOAT)
				return j;
		}
	}
	return -1;
}

/*
 * A record's fields in the order jsonb keeps object keys (shorter first,
 * then bytewise), so that values convert to jsonb without sorting.
 */
static AvroJsonKey *
JsonKeyOrder(const AvroSchema *r)
{
	AvroJsonKey *keys = palloc(sizeof(AvroJsonKey) * Max(r->nfields, 1));

	for (int k = 0; k < r->nfields; k++)
	{
		AvroJsonKey key;
		int			j = k;

		key.name = r->fields[k].name;
		key.len = strlen(key.name);
		key.field = k;
		/* insertion sort: records have few fields, names are unique */
		while (j > 0 &&
			   (keys[j - 1].len > key.len ||
				(keys[j - 1].len == key.len &&
				 memcmp(keys[j - 1].name, key.name, key.len) > 0)))
		{
			keys[j] = keys[j - 1];
			j--;
		}
		keys[j] = key;
	}
	return keys;
}

/* Compile (or find) the plan of reading writer record w as reader record r. */
static AvroPlan *
CompileRecord(CompileContext *cc, const AvroSchema *w, const AvroSchema *r)
{
	AvroPlan   *plan;
	PlanMemo   *m;
	bool	   *matched;

	for (m = cc->memo; m; m = m->next)
		if (m->writer == w && m->reader == r)
			return m->plan;

	plan = palloc0(sizeof(AvroPlan));
	plan->writer = w;
	plan->reader = r;
	m = palloc(sizeof(PlanMemo));
	m->writer = w;
	m->reader = r;
	m->plan = plan;
	m->next = cc->memo;
	cc->memo = m;

	plan->nsteps = w->nfields;
	plan->steps = palloc0(sizeof(AvroStep) * Max(w->nfields, 1));
	plan->nfields = r->nfields;
	plan->initial = palloc0(sizeof(AvroValue) * Max(r->nfields, 1));
	plan->defaults = palloc(sizeof(int) * Max(r->nfields, 1));
	matched = palloc0(sizeof(bool) * Max(r->nfields, 1));

	for (int i = 0; i < w->nfields; i++)
	{
		const AvroField *wf = &w->fields[i];
		int			slot = -1;

		for (int k = 0; k < r->nfields && slot < 0; k++)
			if (!matched[k] && strcmp(r->fields[k].name, wf->name) == 0)
				slot = k;
		for (int k = 0; k < r->nfields && slot < 0; k++)
		{
			if (matched[k])
				continue;
			for (int a = 0; a < r->fields[k].naliases; a++)
				if (strcmp(r->fields[k].aliases[a], wf->name) == 0)
				{
					slot = k;
					break;
				}
		}
		if (slot >= 0)
		{
			matched[slot] = true;
			CompileStep(cc, wf->type, r->fields[slot].type, &plan->steps[i]);
			if (plan->steps[i].op == OP_FAIL && plan->fail == NULL)
				plan->fail = psprintf("field \"%s\" of %s: %s", wf->name,
									  AvroSchemaDescribe(r),
									  plan->steps[i].sub->fail);
		}
		else
			CompileStep(cc, wf->type, wf->type, &plan->steps[i]);
		plan->steps[i].slot = slot;
	}

	for (int k = 0; k < r->nfields; k++)
	{
		const AvroField *rf = &r->fields[k];
		char	   *err = NULL;

		if (matched[k])
			continue;
		if (!rf->has_default || rf->default_value == NULL)
		{
			if (plan->fail == NULL)
				plan->fail = psprintf("field \"%s\" of reader %s is missing from the writer's %s and has no default",
									  rf->name, AvroSchemaDescribe(r),
									  AvroSchemaDescribe(w));
			continue;
		}
		if (!DefaultValue(rf->default_value, rf->type, cc->cxt,
						  &plan->initial[k], &err, 0) && plan->fail == NULL)
			plan->fail = psprintf("default of field \"%s\" of %s is invalid: %s",
								  rf->name, AvroSchemaDescribe(r), err);
		plan->defaults[plan->ndefaults++] = k;
	}
	pfree(matched);
	plan->keys = JsonKeyOrder(r);
	plan->fields_bytes = (Size) r->nfields * sizeof(AvroValue);
	CompileFastOps(plan);
	return plan;
}

/* The header a step's value gets (as DecodeStepInline sets it). */
static void
FastHead(const AvroStep *st, int16 tag, AvroValue *head)
{
	memset(head, 0, sizeof(AvroValue));
	head->kind = st->kind;
	head->branch = st->branch >= 0 ? st->branch : tag;
	head->schema = st->reader;
}

/* The fused operation reading a primitive step, or FAST_STEP. */
static AvroFastCode
FastCode(const AvroStep *st)
{
	switch ((AvroOp) st->op)
	{
		case OP_NULL:
			return FAST_NULL;
		case OP_BOOLEAN:
			return FAST_BOOLEAN;
		case OP_INT:
		case OP_INT_LONG:
			return FAST_INT;
		case OP_LONG:
			return FAST_LONG;
		case OP_FLOAT:
			return FAST_FLOAT;
		case OP_DOUBLE:
			return FAST_DOUBLE;
		case OP_BYTES:
		case OP_STRING_BYTES:
			return FAST_BYTES;
		case OP_STRING:
		case OP_BYTES_STRING:
			return FAST_STRING;
		case OP_ENUM:
			return FAST_ENUM;
		default:
			return FAST_STEP;
	}
}

/* Compile a record plan's writer fields into fused operations. */
static void
CompileFastOps(AvroPlan *plan)
{
	plan->fast = palloc0(sizeof(AvroFastOp) * (plan->nsteps + 1));
	plan->nslots = plan->nfields;
	for (int i = 0; i < plan->nsteps; i++)
		if (plan->steps[i].slot < 0)
			plan->nslots = plan->nfields + 1;
	for (int i = 0; i < plan->nsteps; i++)
	{
		const AvroStep *st = &plan->steps[i];
		AvroFastOp *op = &plan->fast[i];
		AvroFastCode code = FastCode(st);

		/* discarded fields go to a slot after the record's */
		op->offset = (st->slot >= 0 ? st->slot : plan->nfields) * sizeof(AvroValue);
		op->step = st;
		FastHead(st, -1, &op->head);
		if (st->op == OP_UNION && st->sub->nbranches == 2)
		{
			/* a writer union of null and a primitive: one operation */
			const AvroStep *b0 = &st->sub->branches[0];
			const AvroStep *b1 = &st->sub->branches[1];
			int			nul = (b0->op == OP_NULL) ? 0 : (b1->op == OP_NULL) ? 1 : -1;
			const AvroStep *vb = (nul == 0) ? b1 : b0;
			int16		tag = st->branch >= 0 ? st->branch : -1;

			code = FAST_STEP;
			if (nul >= 0 && vb->op != OP_NULL && vb->op != OP_ENUM)
				code = FastCode(vb);
			if (code != FAST_STEP && code != FAST_NULL)
			{
				code--;			/* FAST_OPT_x precedes FAST_x */
				op->null_byte = (uint8) (2 * nul);	/* zigzag */
				op->value_byte = (uint8) (2 * (1 - nul));
				FastHead(vb, tag, &op->head);
				FastHead(nul == 0 ? b0 : b1, tag, &op->null_head);
			}
			else
				code = FAST_STEP;
		}
		op->code = code;
	}
	plan->fast[plan->nsteps].code = FAST_END;
}

/* Compile the step that reads a writer w value as a reader r value. */
static void
CompileStep(CompileContext *cc, const AvroSchema *w, const AvroSchema *r,
			AvroStep *step)
{
	AvroType	wt = w->type;
	AvroType	rt = r->type;

	step->branch = -1;
	step->slot = -1;
	step->reader = r;
	step->kind = rt;
	step->sub = NULL;

	if (wt == AVRO_UNION)
	{
		AvroPlan   *sub = palloc0(sizeof(AvroPlan));

		step->op = OP_UNION;
		sub->writer = w;
		sub->reader = r;
		sub->nbranches = w->nbranches;
		sub->branches = palloc0(sizeof(AvroStep) * Max(w->nbranches, 1));
		for (int i = 0; i < w->nbranches; i++)
			CompileStep(cc, w->branches[i], r, &sub->branches[i]);
		step->sub = sub;
		return;
	}
	if (rt == AVRO_UNION)
	{
		int			j = BestBranch(w, r);

		if (j < 0)
		{
			StepFail(cc, step, w, r,
					 psprintf("writer type %s matches no branch of the reader's union",
							  AvroSchemaDescribe(w)));
			return;
		}
		CompileStep(cc, w, r->branches[j], step);
		step->branch = j;
		return;
	}

	if (wt == rt)
	{
		switch (wt)
		{
			case AVRO_NULL:
				step->op = OP_NULL;
				return;
			case AVRO_BOOLEAN:
				step->op = OP_BOOLEAN;
				return;
			case AVRO_INT:
				step->op = OP_INT;
				return;
			case AVRO_LONG:
				step->op = OP_LONG;
				return;
			case AVRO_FLOAT:
				step->op = OP_FLOAT;
				return;
			case AVRO_DOUBLE:
				step->op = OP_DOUBLE;
				return;
			case AVRO_BYTES:
				step->op = OP_BYTES;
				return;
			case AVRO_STRING:
				step->op = OP_STRING;
				return;
			case AVRO_FIXED:
				if (w->size != r->size)
				{
					StepFail(cc, step, w, r,
							 psprintf("writer fixed %s has size %d, reader fixed %s has size %d",
									  AvroSchemaDescribe(w), w->size,
									  AvroSchemaDescribe(r), r->size));
					return;
				}
				step->op = OP_FIXED;
				step->sub = palloc0(sizeof(AvroPlan));
				step->sub->size = r->size;
				return;
			case AVRO_ENUM:
				{
					AvroPlan   *sub = palloc0(sizeof(AvroPlan));
					int			dflt = -1;

					if (r->enum_default)
						for (int k = 0; k < r->nsymbols; k++)
							if (strcmp(r->symbols[k], r->enum_default) == 0)
								dflt = k;
					sub->nmap = w->nsymbols;
					sub->map = palloc(sizeof(int32) * Max(w->nsymbols, 1));
					for (int i = 0; i < w->nsymbols; i++)
					{
						sub->map[i] = dflt;
						for (int k = 0; k < r->nsymbols; k++)
							if (strcmp(r->symbols[k], w->symbols[i]) == 0)
							{
								sub->map[i] = k;
								break;
							}
					}
					sub->writer = w;
					sub->reader = r;
					step->op = OP_ENUM;
					step->sub = sub;
					return;
				}
			case AVRO_RECORD:
				if (cc->depth > 1000)
					elog(ERROR, "schema nesting too deep to compile");
				cc->depth++;
				step->op = OP_RECORD;
				step->sub = CompileRecord(cc, w, r);
				cc->depth--;
				return;
			case AVRO_ARRAY:
			case AVRO_MAP:
				check_stack_depth();
				step->op = (wt == AVRO_ARRAY) ? OP_ARRAY : OP_MAP;
				step->sub = palloc0(sizeof(AvroPlan));
				step->sub->writer = w;
				step->sub->reader = r;
				cc->depth++;
				CompileStep(cc, w->items, r->items, &step->sub->item);
				cc->depth--;
				if (step->sub->item.op == OP_FAIL)
					step->sub->fail = step->sub->item.sub->fail;
				return;
			default:
				break;
		}
	}

	/* Promotions the specification allows. */
	if (wt == AVRO_INT && rt == AVRO_LONG)
		step->op = OP_INT_LONG;
	else if (wt == AVRO_INT && rt == AVRO_FLOAT)
		step->op = OP_INT_FLOAT;
	else if (wt == AVRO_INT && rt == AVRO_DOUBLE)
		step->op = OP_INT_DOUBLE;
	else if (wt == AVRO_LONG && rt == AVRO_FLOAT)
		step->op = OP_LONG_FLOAT;
	else if (wt == AVRO_LONG && rt == AVRO_DOUBLE)
		step->op = OP_LONG_DOUBLE;
	else if (wt == AVRO_FLOAT && rt == AVRO_DOUBLE)
		step->op = OP_FLOAT_DOUBLE;
	else if (wt == AVRO_STRING && rt == AVRO_BYTES)
		step->op = OP_STRING_BYTES;
	else if (wt == AVRO_BYTES && rt == AVRO_STRING)
		step->op = OP_BYTES_STRING;
	else
		StepFail(cc, step, w, r,
				 psprintf("writer type %s cannot be read as reader type %s",
						  AvroSchemaDescribe(w), AvroSchemaDescribe(r)));
}


/* ----------------------------------------------------------------
 * Decoding
 * ----------------------------------------------------------------
 */

/*
 * Values live in one buffer of the state (the arena), reused by every
 * decode: records and arrays take their slots from it by bumping a
 * pointer, so a steady stream of messages allocates nothing.  A decode
 * that outgrows the buffer moves on to a bigger one; the old one holds
 * values of this decode and is freed at the start of the next.  Each
 * buffer starts with a header that links it into that list.
 */
#define ARENA_HEADER	MAXALIGN(sizeof(void *))
#define ARENA_MIN_SIZE	(2048 - ARENA_HEADER)

/* Set up a decode state; limits <= 0 take the GUC values. */
void
AvroDecodeStateInit(AvroDecodeState *state, MemoryContext cxt,
					int max_depth, int64 max_size)
{
	memset(state, 0, offsetof(AvroDecodeState, error_msg));
	state->error_msg[0] = '\0';
	state->cxt = cxt;
	state->max_depth = max_depth > 0 ? max_depth : datacontract_max_value_depth;
	state->max_size = max_size > 0 ? max_size : datacontract_max_value_size;
	state->budget = state->max_size;
}

/* Record why decoding stopped and where; always returns false. */
static pg_noinline bool
DecodeFail(AvroDecodeState *s, AvroDecodeError error, const uint8 *at,
		   const char *fmt,...)
{
	va_list		ap;

	s->error = error;
	s->error_offset = at - s->start;
	va_start(ap, fmt);
	vsnprintf(s->error_msg, sizeof(s->error_msg), fmt, ap);
	va_end(ap);
	return false;
}

/* Move to an arena buffer with room for "bytes" more; returns the room. */
static pg_noinline AvroValue *
ArenaGrow(AvroDecodeState *s, Size bytes)
{
	Size		size = Max(s->arena_size * 2, bytes);
	char	   *block;

	size = Max(size, ARENA_MIN_SIZE);
	if (size > MaxAllocSize - ARENA_HEADER)
		size = Max(bytes, MaxAllocSize - ARENA_HEADER);
	block = MemoryContextAlloc(s->cxt, ARENA_HEADER + size);
	if (s->arena != NULL)
	{
		char	   *old = s->arena - ARENA_HEADER;

		*(void **) old = s->arena_old;
		s->arena_old = old;
	}
	*(void **) block = NULL;
	s->arena = block + ARENA_HEADER;
	s->arena_size = size;
	s->arena_used = bytes;
	return (AvroValue *) s->arena;
}

/* Room for n values in the arena (already charged against the budget). */
static inline AvroValue *
ArenaAlloc(AvroDecodeState *s, int64 n)
{
	Size		bytes = (Size) n * sizeof(AvroValue);
	AvroValue  *v;

	/* "<=": an empty arena (NULL) grows even for zero bytes */
	if (unlikely(s->arena_size - s->arena_used <= bytes))
		return ArenaGrow(s, bytes);
	v = (AvroValue *) (s->arena + s->arena_used);
	s->arena_used += bytes;
	return v;
}

/* Free the buffers a previous decode outgrew. */
static pg_noinline void
ArenaFreeOld(AvroDecodeState *s)
{
	while (s->arena_old != NULL)
	{
		void	   *next = *(void **) s->arena_old;

		pfree(s->arena_old);
		s->arena_old = next;
	}
}

/* Zigzag-decode a varint's bits. */
#define UNZIGZAG64(r)	((int64) (((r) >> 1) ^ (~((r) & 1) + 1)))
#define UNZIGZAG32(r)	((int32) (((r) >> 1) ^ (~((r) & 1) + 1)))

/* Read a zigzag varint long byte by byte, reporting what is wrong. */
static pg_noinline bool
ReadLongChecked(AvroDecodeState *s, int64 *v)
{
	const uint8 *p = s->pos;
	uint64		r = 0;

	*v = 0;
	for (int i = 0;; i++)
	{
		uint8		b;

		if (unlikely(p >= s->end))
			return DecodeFail(s, AVRO_ERR_TRUNCATED, s->pos,
							  "data ends inside a long");
		b = *p++;
		if (unlikely(i == 9 && b > 1))
			return DecodeFail(s, AVRO_ERR_VARINT, s->pos,
							  "varint is longer than a long allows");
		r |= (uint64) (b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	s->pos = p;
	*v = UNZIGZAG64(r);
	return true;
}

/*
 * The raw bits of a varint of up to eight bytes, with eight bytes readable
 * at p: found and compacted in a register (no loop).  Returns its length
 * in bytes, or 0 when it is longer.
 */
static pg_attribute_always_inline int
Varint8(const uint8 *p, uint64 *raw)
{
	uint64		x;
	uint64		stops;
	int			last;

	memcpy(&x, p, 8);
	x = pg_bswap64(pg_hton64(x));	/* little-endian */
	stops = ~x & UINT64CONST(0x8080808080808080);
	if (unlikely(stops == 0))
		return 0;
	last = pg_rightmost_one_pos64(stops);	/* 7, 15, .. 63 */
	/* keep the varint's bytes, drop the continuation bits */
	if (last < 63)
		x &= (UINT64CONST(1) << (last + 1)) - 1;
	x &= UINT64CONST(0x7f7f7f7f7f7f7f7f);
	/* squeeze the 7-bit groups together: 2 x 7, 2 x 14, 2 x 28 bits */
	x = ((x & UINT64CONST(0x7f007f007f007f00)) >> 1) |
		(x & UINT64CONST(0x007f007f007f007f));
	x = ((x & UINT64CONST(0x3fff00003fff0000)) >> 2) |
		(x & UINT64CONST(0x00003fff00003fff));
	*raw = ((x & UINT64CONST(0x0fffffff00000000)) >> 4) |
		(x & UINT64CONST(0x000000000fffffff));
	return (last + 1) / 8;
}

/*
 * Read a varint long of more than one byte.  With eight bytes left, a
 * varint of up to eight bytes goes through Varint8; anything else (and bad
 * input) goes byte by byte.
 */
static pg_noinline bool
ReadLongMulti(AvroDecodeState *s, int64 *v)
{
	const uint8 *p = s->pos;

	if (likely(s->end - p >= 8))
	{
		uint64		r;
		int			n = Varint8(p, &r);

		if (likely(n > 0))
		{
			s->pos = p + n;
			*v = UNZIGZAG64(r);
			return true;
		}
	}
	return ReadLongChecked(s, v);
}

/* Read a zigzag varint long: one byte inline, longer ones out of line. */
static inline bool
ReadLong(AvroDecodeState *s, int64 *v)
{
	const uint8 *p = s->pos;

	if (likely(p < s->end) && !(*p & 0x80))
	{
		uint64		r = *p;

		s->pos = p + 1;
		*v = UNZIGZAG64(r);
		return true;
	}
	return ReadLongMulti(s, v);
}

/* Read a varint int of more than one byte (at most 5 bytes, 32 bits). */
static pg_noinline bool
ReadIntMulti(AvroDecodeState *s, int32 *v)
{
	const uint8 *p = s->pos;
	uint32		r = 0;

	*v = 0;
	for (int i = 0;; i++)
	{
		uint8		b;

		if (unlikely(p >= s->end))
			return DecodeFail(s, AVRO_ERR_TRUNCATED, s->pos,
							  "data ends inside an int");
		b = *p++;
		if (unlikely(i == 4 && b > 0x0f))
			return DecodeFail(s, AVRO_ERR_VARINT, s->pos,
							  "varint is longer than an int allows");
		r |= (uint32) (b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	s->pos = p;
	*v = UNZIGZAG32(r);
	return true;
}

/* Read a zigzag varint int. */
static inline bool
ReadInt(AvroDecodeState *s, int32 *v)
{
	const uint8 *p = s->pos;

	if (likely(p < s->end) && !(*p & 0x80))
	{
		uint32		r = *p;

		s->pos = p + 1;
		*v = UNZIGZAG32(r);
		return true;
	}
	return ReadIntMulti(s, v);
}

/* Report a byte length that is negative or runs past the data. */
static pg_noinline bool
LengthFail(AvroDecodeState *s, const uint8 *at, int64 len, const char *what)
{
	if (len < 0)
		return DecodeFail(s, AVRO_ERR_NEGATIVE_LENGTH, at,
						  "%s has negative length " INT64_FORMAT, what, len);
	return DecodeFail(s, AVRO_ERR_TRUNCATED, at,
					  "%s of length " INT64_FORMAT " runs past the end of the data (%d bytes left)",
					  what, len, (int) (s->end - s->pos));
}

/* Read a byte length and check it against the bytes left. */
static inline bool
ReadLength(AvroDecodeState *s, int64 *len, const char *what)
{
	const uint8 *at = s->pos;

	if (unlikely(!ReadLong(s, len)))
		return false;
	if (unlikely((uint64) *len > (uint64) (s->end - s->pos)))
		return LengthFail(s, at, *len, what);
	return true;
}

/* Whether len bytes are all ASCII, a word at a time. */
static inline bool
AllAscii(const uint8 *p, int64 len)
{
	if (len >= 8)
	{
		const uint8 *last = p + len - 8;
		uint64		acc;
		uint64		w;

		/* the first and last eight bytes, then any between */
		memcpy(&acc, p, 8);
		memcpy(&w, last, 8);
		acc |= w;
		for (p += 8; p < last; p += 8)
		{
			memcpy(&w, p, 8);
			acc |= w;
		}
		return !(acc & UINT64CONST(0x8080808080808080));
	}
	if (len >= 4)
	{
		uint32		a;
		uint32		b;

		memcpy(&a, p, 4);
		memcpy(&b, p + len - 4, 4);
		return !((a | b) & 0x80808080);
	}
	{
		uint8		acc = 0;

		for (int i = 0; i < len; i++)
			acc |= p[i];
		return !(acc & 0x80);
	}
}

/* Validate UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static pg_noinline bool
ValidUtf8(const uint8 *p, int64 len, int64 *bad)
{
	const uint8 *start = p;
	const uint8 *end = p + len;

	while (p < end)
	{
		uint8		c;

		/* ASCII fast path: eight bytes at a time */
		while (end - p >= 8)
		{
			uint64		chunk;

			memcpy(&chunk, p, 8);
			if (chunk & UINT64CONST(0x8080808080808080))
				break;
			p += 8;
		}
		if (p >= end)
			break;
		c = *p;
		if (c < 0x80)
		{
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
		{
			if (end - p < 2 || (p[1] & 0xC0) != 0x80)
				goto bad;
			p += 2;
		}
		else if (c >= 0xE0 && c <= 0xEF)
		{
			if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
				(c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
				goto bad;
			p += 3;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
				(p[3] & 0xC0) != 0x80 ||
				(c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
				goto bad;
			p += 4;
		}
		else
			goto bad;
	}
	return true;
bad:
	*bad = p - start;
	return false;
}

/* Report a value past the budget. */
static pg_noinline bool
ChargeFail(AvroDecodeState *s, const uint8 *at)
{
	return DecodeFail(s, AVRO_ERR_TOO_LARGE, at,
					  "decoded value is larger than datacontract.max_value_size (%d bytes)",
					  datacontract_max_value_size);
}

/* Charge n units of "unit" bytes of decoded values against the budget. */
static inline bool
Charge(AvroDecodeState *s, int64 n, int64 unit, const uint8 *at)
{
	if (likely(n <= s->budget / unit))
	{
		s->budget -= n * unit;
		return true;
	}
	return ChargeFail(s, at);
}

/* Read a string or bytes value as a pointer into the input. */
static pg_attribute_always_inline bool
ReadBytes(AvroDecodeState *s, AvroValue *out, bool utf8)
{
	int64		len;

	if (unlikely(!ReadLength(s, &len, utf8 ? "string" : "bytes")))
		return false;
	if (unlikely(len > s->budget))
		return ChargeFail(s, s->pos);
	s->budget -= len;
	if (utf8 && unlikely(!AllAscii(s->pos, len)))
	{
		int64		bad;

		if (!ValidUtf8(s->pos, len, &bad))
			return DecodeFail(s, AVRO_ERR_UTF8, s->pos + bad,
							  "string is not valid UTF-8");
	}
	out->u.p = (const char *) s->pos;
	out->len = (int32) len;
	s->pos += len;
	return true;
}

/* Decode a nested record, counting its depth. */
static pg_noinline bool
DecodeNestedRecord(const AvroStep *st, AvroDecodeState *s, AvroValue *out)
{
	if (unlikely((++s->depth & 15) == 0))
		check_stack_depth();
	if (unlikely(s->depth > s->max_depth))
		return DecodeFail(s, AVRO_ERR_DEPTH, s->pos,
						  "value nesting exceeds datacontract.max_value_depth (%d)",
						  s->max_depth);
	if (unlikely(!DecodeRecord(st->sub, s, out)))
		return false;
	s->depth--;
	return true;
}

/*
 * Decode one step's value.  Primitives are handled inline (this is inlined
 * into the record loop), so that a record of primitives costs one loop,
 * not a call per field; records, arrays and maps are calls.
 */
static pg_attribute_always_inline bool
DecodeStepInline(const AvroStep *st, AvroDecodeState *s, AvroValue *out)
{
	int16		tag = -1;

	out->kind = st->kind;
	out->branch = st->branch;
	out->schema = st->reader;

dispatch:
	switch ((AvroOp) st->op)
	{
		case OP_NULL:
			return true;
		case OP_UNION:
			{
				/* a writer union: pick the branch and loop, no recursion */
				const uint8 *at = s->pos;
				int64		idx;

				/* an index below 64 is one byte, its zigzag bit clear */
				if (likely(at < s->end) && (*at & 0x81) == 0)
				{
					idx = *at >> 1;
					s->pos = at + 1;
				}
				else if (unlikely(!ReadLong(s, &idx)))
					return false;
				if (unlikely(idx < 0 || idx >= st->sub->nbranches))
					return DecodeFail(s, AVRO_ERR_UNION_INDEX, at,
									  "union index " INT64_FORMAT " is out of range (%d branches)",
									  idx, st->sub->nbranches);
				/* a writer union inside a reader union branch keeps that tag */
				if (st->branch >= 0)
					tag = st->branch;
				st = &st->sub->branches[idx];
				out->kind = st->kind;
				out->branch = st->branch >= 0 ? st->branch : tag;
				out->schema = st->reader;
				goto dispatch;
			}
		case OP_BOOLEAN:
			if (unlikely(s->pos >= s->end))
				return DecodeFail(s, AVRO_ERR_TRUNCATED, s->pos,
								  "data ends inside a boolean");
			if (unlikely(*s->pos > 1))
				return DecodeFail(s, AVRO_ERR_BOOLEAN, s->pos,
								  "boolean byte is %d, not 0 or 1", *s->pos);
			out->u.b = *s->pos++;
			return true;
		case OP_INT:
		case OP_INT_LONG:
			{
				int32		v;

				if (unlikely(!ReadInt(s, &v)))
					return false;
				out->u.i = v;
				return true;
			}
		case OP_INT_FLOAT:
		case OP_INT_DOUBLE:
			{
				int32		v;

				if (unlikely(!ReadInt(s, &v)))
					return false;
				if (st->op == OP_INT_FLOAT)
					out->u.f = (float) v;
				else
					out->u.d = (double) v;
				return true;
			}
		case OP_LONG:
			return ReadLong(s, &out->u.i);
		case OP_LONG_FLOAT:
		case OP_LONG_DOUBLE:
			{
				int64		v;

				if (unlikely(!ReadLong(s, &v)))
					return false;
				if (st->op == OP_LONG_FLOAT)
					out->u.f = (float) v;
				else
					out->u.d = (double) v;
				return true;
			}
		case OP_FLOAT:
		case OP_FLOAT_DOUBLE:
			{
				uint32		bits;
				float		f;

				if (unlikely(s->end - s->pos < 4))
					return DecodeFail(s, AVRO_ERR_TRUNCATED, s->pos,
									  "data ends inside a float");
				memcpy(&bits, s->pos, 4);
				bits = pg_bswap32(pg_hton32(bits));	/* little-endian */
				memcpy(&f, &bits, 4);
				s->pos += 4;
				if (st->op == OP_FLOAT)
					out->u.f = f;
				else
					out->u.d = f;
				return true;
			}
		case OP_DOUBLE:
			{
				uint64		bits;

				if (unlikely(s->end - s->pos < 8))
					return DecodeFail(s, AVRO_ERR_TRUNCATED, s->pos,
									  "data ends inside a double");
				memcpy(&bits, s->pos, 8);
				bits = pg_bswap64(pg_hton64(bits));
				memcpy(&out->u.d, &bits, 8);
				s->pos += 8;
				return true;
			}
		case OP_BYTES:
		case OP_STRING_BYTES:
			return ReadBytes(s, out, false);
		case OP_STRING:
		case OP_BYTES_STRING:
			return ReadBytes(s, out, true);
		case OP_FIXED:
			{
				int			size = st->sub->size;

				if (unlikely(s->end - s->pos < size))
					return DecodeFail(s, AVRO_ERR_TRUNCATED, s->pos,
									  "fixed of size %d runs past the end of the data (%d bytes left)",
									  size, (int) (s->end - s->pos));
				out->u.p = (const char *) s->pos;
				out->len = size;
				s->pos += size;
				return true;
			}
		case OP_ENUM:
			{
				const uint8 *at = s->pos;
				int32		idx;
				int32		r;

				if (unlikely(!ReadInt(s, &idx)))
					return false;
				if (unlikely(idx < 0 || idx >= st->sub->nmap))
					return DecodeFail(s, AVRO_ERR_ENUM_INDEX, at,
									  "enum index %d is out of range for %s (%d symbols)",
									  idx, AvroSchemaDescribe(st->sub->writer),
									  st->sub->nmap);
				r = st->sub->map[idx];
				if (unlikely(r < 0))
					return DecodeFail(s, AVRO_ERR_RESOLUTION, at,
									  "symbol \"%s\" of %s is not in the reader's enum, which has no default",
									  st->sub->writer->symbols[idx],
									  AvroSchemaDescribe(st->sub->writer));
				out->u.i = r;
				return true;
			}
		case OP_RECORD:
			return DecodeNestedRecord(st, s, out);
		default:
			return DecodeComplex(st, s, out);
	}
}

/* Decode one step's value (out of line: array items, map values, roots). */
static pg_noinline bool
DecodeStep(const AvroStep *st, AvroDecodeState *s, AvroValue *out)
{
	return DecodeStepInline(st, s, out);
}

/*
 * Read the writer fields of a record from step "from" on, each with its
 * step (the general path).
 */
static pg_noinline bool
DecodeFieldSteps(const AvroPlan *plan, AvroDecodeState *s, AvroValue *fields,
				 int from)
{
	AvroValue	scratch;

	for (int i = from; i < plan->nsteps; i++)
	{
		const AvroStep *st = &plan->steps[i];

		if (unlikely(!DecodeStepInline(st, s, st->slot >= 0 ? &fields[st->slot] : &scratch)))
			return false;
	}
	return true;
}

/*
 * A varint byte length of one or two bytes at p (before end), as
 * *len; false for anything else (longer, negative, or cut off).
 */
static pg_attribute_always_inline bool
FastLength(const uint8 *p, const uint8 *end, int64 *len, int *nbytes)
{
	uint32		b = p[0];

	if (likely((b & 0x81) == 0))
	{
		*len = b >> 1;
		*nbytes = 1;
		return true;
	}
	if ((b & 0x81) == 0x80 && end - p >= 2 && !(p[1] & 0x80))
	{
		/* two bytes: zigzag bit is bit 0 of the first, clear: not negative */
		*len = ((b & 0x7f) >> 1) | ((uint32) p[1] << 6);
		*nbytes = 2;
		return true;
	}
	return false;
}

/* Store a value's header (kind, branch, len, schema; not the datum). */
#define FAST_HEAD(dst, head) \
	memcpy((dst), (head), offsetof(AvroValue, u))

/* Go on to the next operation, its field starting at q. */
#define FAST_NEXT() \
	do { \
		p = q; \
		op++; \
		dst = (AvroValue *) ((char *) fields + op->offset); \
		goto dispatch; \
	} while (0)

/* FAST_OPT_x: read the union index, store a null or go on to read x. */
#define FAST_OPTIONAL() \
	if (unlikely(q >= end)) \
		goto slow; \
	if (*q == op->null_byte) \
	{ \
		FAST_HEAD(dst, &op->null_head); \
		q++; \
		FAST_NEXT(); \
	} \
	if (unlikely(*q != op->value_byte)) \
		goto slow; \
	q++

/*
 * Read a record's writer fields with its fused operations.  The caller has
 * made sure that the rest of the input fits the value budget, so strings
 * (at most the rest of the input) need no budget check of their own: they
 * are charged, and that is checked again only after a field read by its
 * step, which may have charged values that take no input.
 */
static pg_attribute_always_inline bool
DecodeFastFields(const AvroPlan *plan, AvroDecodeState *s, AvroValue *fields)
{
	const AvroFastOp *op = plan->fast;
	const uint8 *end = s->end;
	const uint8 *p = s->pos;	/* start of op's field */
	const uint8 *q = p;			/* where op reads */
	AvroValue  *dst = (AvroValue *) ((char *) fields + op->offset);
	int64		len;
	uint64		raw;
	int			nb;

dispatch:
	switch ((AvroFastCode) op->code)
	{
		case FAST_END:
			s->pos = p;
			return true;

		case FAST_OPT_STRING:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_STRING:
			if (unlikely(q >= end) || unlikely(!FastLength(q, end, &len, &nb)))
				goto slow;
			q += nb;
			if (unlikely(len > end - q) || unlikely(!AllAscii(q, len)))
				goto slow;
			FAST_HEAD(dst, &op->head);
			dst->len = (int32) len;
			dst->u.p = (const char *) q;
			s->budget -= len;
			q += len;
			FAST_NEXT();

		case FAST_OPT_BYTES:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_BYTES:
			if (unlikely(q >= end) || unlikely(!FastLength(q, end, &len, &nb)))
				goto slow;
			q += nb;
			if (unlikely(len > end - q))
				goto slow;
			FAST_HEAD(dst, &op->head);
			dst->len = (int32) len;
			dst->u.p = (const char *) q;
			s->budget -= len;
			q += len;
			FAST_NEXT();

		case FAST_OPT_LONG:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_LONG:
			if (likely(q < end) && !(*q & 0x80))
			{
				raw = *q;
				nb = 1;
			}
			else if (unlikely(end - q < 8) || unlikely((nb = Varint8(q, &raw)) == 0))
				goto slow;
			FAST_HEAD(dst, &op->head);
			dst->u.i = UNZIGZAG64(raw);
			q += nb;
			FAST_NEXT();

		case FAST_OPT_INT:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_INT:
			/* as ReadInt: at most five bytes, 32 bits */
			if (likely(q < end) && !(*q & 0x80))
			{
				raw = *q;
				nb = 1;
			}
			else if (unlikely(end - q < 8) ||
					 unlikely((nb = Varint8(q, &raw)) == 0) ||
					 unlikely(nb > 5 || raw > PG_UINT32_MAX))
				goto slow;
			FAST_HEAD(dst, &op->head);
			dst->u.i = UNZIGZAG32((uint32) raw);
			q += nb;
			FAST_NEXT();

		case FAST_OPT_FLOAT:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_FLOAT:
			{
				uint32		bits;

				if (unlikely(end - q < 4))
					goto slow;
				memcpy(&bits, q, 4);
				bits = pg_bswap32(pg_hton32(bits));	/* little-endian */
				FAST_HEAD(dst, &op->head);
				memcpy(&dst->u.f, &bits, 4);
				q += 4;
				FAST_NEXT();
			}

		case FAST_OPT_DOUBLE:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_DOUBLE:
			{
				uint64		bits;

				if (unlikely(end - q < 8))
					goto slow;
				memcpy(&bits, q, 8);
				bits = pg_bswap64(pg_hton64(bits));
				FAST_HEAD(dst, &op->head);
				memcpy(&dst->u.d, &bits, 8);
				q += 8;
				FAST_NEXT();
			}

		case FAST_OPT_BOOLEAN:
			FAST_OPTIONAL();
			/* FALLTHROUGH */
		case FAST_BOOLEAN:
			if (unlikely(q >= end) || unlikely(*q > 1))
				goto slow;
			FAST_HEAD(dst, &op->head);
			dst->u.b = *q++;
			FAST_NEXT();

		case FAST_NULL:
			FAST_HEAD(dst, &op->head);
			FAST_NEXT();

		case FAST_ENUM:
			{
				const AvroPlan *sub = op->step->sub;
				uint32		idx;

				if (unlikely(q >= end) || unlikely(*q & 0x81))
					goto slow;
				idx = *q >> 1;
				if (unlikely(idx >= sub->nmap) || unlikely(sub->map[idx] < 0))
					goto slow;
				FAST_HEAD(dst, &op->head);
				dst->u.i = sub->map[idx];
				q++;
				FAST_NEXT();
			}

		case FAST_STEP:
			goto slow;
	}
	pg_unreachable();

slow:
	/* read the field again with its step, from its start */
	s->pos = p;
	if (unlikely(!DecodeStep(op->step, s, dst)))
		return false;
	q = s->pos;
	if (unlikely(end - q > s->budget))
	{
		s->pos = q;
		return DecodeFieldSteps(plan, s, fields, (op - plan->fast) + 1);
	}
	FAST_NEXT();
}

#undef FAST_HEAD
#undef FAST_NEXT
#undef FAST_OPTIONAL

/*
 * Decode a record into slots from the arena: reader defaults copied into
 * the slots no writer field fills, then the writer's fields in order.
 */
static pg_attribute_always_inline bool
DecodeRecord(const AvroPlan *plan, AvroDecodeState *s, AvroValue *out)
{
	AvroValue  *fields;
	int			n = plan->nfields;

	if (unlikely(plan->fail != NULL))
		return DecodeFail(s, AVRO_ERR_RESOLUTION, s->pos, "%s", plan->fail);
	/* as Charge(s, n, sizeof(AvroValue)), without the division */
	if (unlikely((int64) plan->fields_bytes > s->budget))
		return ChargeFail(s, s->pos);
	s->budget -= plan->fields_bytes;
	fields = ArenaAlloc(s, plan->nslots);
	for (int i = 0; i < plan->ndefaults; i++)
		fields[plan->defaults[i]] = plan->initial[plan->defaults[i]];
	if (likely(s->end - s->pos <= s->budget))
	{
		if (unlikely(!DecodeFastFields(plan, s, fields)))
			return false;
	}
	else if (!DecodeFieldSteps(plan, s, fields, 0))
		return false;
	out->len = n;
	out->u.v = fields;
	return true;
}

/* Decode arrays, maps and failures. */
static bool
DecodeComplex(const AvroStep *st, AvroDecodeState *s, AvroValue *out)
{
	const AvroPlan *sub = st->sub;

	check_stack_depth();
	switch ((AvroOp) st->op)
	{
		case OP_ARRAY:
		case OP_MAP:
			{
				bool		is_map = (st->op == OP_MAP);
				int			per = is_map ? 2 : 1;
				int64		count = 0;
				int64		cap = 0;
				AvroValue  *items = NULL;

				if (unlikely(++s->depth > s->max_depth))
					return DecodeFail(s, AVRO_ERR_DEPTH, s->pos,
									  "value nesting exceeds datacontract.max_value_depth (%d)",
									  s->max_depth);
				if (unlikely(sub->fail != NULL))
					return DecodeFail(s, AVRO_ERR_RESOLUTION, s->pos, "%s", sub->fail);
				for (;;)
				{
					const uint8 *at = s->pos;
					int64		n;

					if (unlikely(!ReadLong(s, &n)))
						return false;
					if (n == 0)
						break;
					if (n < 0)
					{
						int64		size;

						if (unlikely(n == PG_INT64_MIN))
							return DecodeFail(s, AVRO_ERR_NEGATIVE_LENGTH, at,
											  "block count is out of range");
						n = -n;
						if (unlikely(!ReadLong(s, &size)))
							return false;
						if (unlikely(size < 0))
							return DecodeFail(s, AVRO_ERR_NEGATIVE_LENGTH, at,
											  "block has negative byte size " INT64_FORMAT, size);
						if (unlikely(size > s->end - s->pos))
							return DecodeFail(s, AVRO_ERR_TRUNCATED, at,
											  "block of " INT64_FORMAT " bytes runs past the end of the data", size);
					}
					if (unlikely(!Charge(s, n, per * sizeof(AvroValue), at)))
						return false;
					if (count + n > cap)
					{
						/* grow geometrically, but never past what the budget allows */
						int64		newcap = Max(cap * 2, count + n);
						AvroValue  *grown;

						newcap = Max(newcap, 4);
						newcap = Min(newcap, count + n + s->budget / (per * (int64) sizeof(AvroValue)));
						grown = ArenaAlloc(s, newcap * per);
						if (count > 0)
							memcpy(grown, items, count * per * sizeof(AvroValue));
						items = grown;
						cap = newcap;
					}
					for (int64 i = 0; i < n; i++)
					{
						AvroValue  *v = &items[(count + i) * per];

						if (((count + i) & 0xfff) == 0xfff)
							CHECK_FOR_INTERRUPTS();
						if (is_map)
						{
							int64		len;
							int64		bad;

							if (unlikely(!ReadLength(s, &len, "map key")))
								return false;
							if (unlikely(!AllAscii(s->pos, len)) &&
								unlikely(!ValidUtf8(s->pos, len, &bad)))
								return DecodeFail(s, AVRO_ERR_UTF8, s->pos + bad,
												  "map key is not valid UTF-8");
							v->kind = AVRO_STRING;
							v->branch = -1;
							v->schema = NULL;
							v->u.p = (const char *) s->pos;
							v->len = (int32) len;
							s->pos += len;
							v++;
						}
						if (unlikely(!DecodeStep(&sub->item, s, v)))
							return false;
					}
					count += n;
				}
				s->depth--;
				out->len = (int32) count;
				out->u.v = items;
				return true;
			}
		case OP_FAIL:
			return DecodeFail(s, AVRO_ERR_RESOLUTION, s->pos, "%s", sub->fail);
		default:
			elog(ERROR, "unexpected Avro plan operation %d", st->op);
	}
	return false;
}

/*
 * Decode one value spanning exactly data[offset..len), into the state's
 * arena (overwriting the previous decode's values).
 */
bool
AvroPlanDecode(const AvroPlan *plan, AvroDecodeState *s,
			   const uint8 *data, size_t len, size_t offset, AvroValue *out)
{
	s->start = data;
	s->pos = data + offset;
	s->end = data + len;
	s->depth = 0;
	s->error = AVRO_OK;
	s->budget = s->max_size;
	s->arena_used = 0;
	if (unlikely(s->arena_old != NULL))
		ArenaFreeOld(s);
	if (likely(plan->root.op == OP_RECORD))
	{
		/* as DecodeStep and DecodeNestedRecord, at depth 1 */
		out->kind = plan->root.kind;
		out->branch = plan->root.branch;
		out->schema = plan->root.reader;
		if (unlikely(s->max_depth < 1))
			return DecodeFail(s, AVRO_ERR_DEPTH, s->pos,
							  "value nesting exceeds datacontract.max_value_depth (%d)",
							  s->max_depth);
		s->depth = 1;
		if (!DecodeRecord(plan->root.sub, s, out))
			return false;
		s->depth = 0;
	}
	else if (!DecodeStep(&plan->root, s, out))
		return false;
	if (s->pos != s->end)
		return DecodeFail(s, AVRO_ERR_TRAILING, s->pos,
						  "%d bytes follow the end of the value",
						  (int) (s->end - s->pos));
	return true;
}

/* Report a decode failure as an ERROR with its SQLSTATE and offset. */
void
AvroReportDecodeError(const AvroDecodeState *s)
{
	int			code;
	const char *msg;

	switch (s->error)
	{
		case AVRO_ERR_TRUNCATED:
			code = ERRCODE_DATA_CORRUPTED;
			msg = "truncated Avro data";
			break;
		case AVRO_ERR_VARINT:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			msg = "invalid Avro varint";
			break;
		case AVRO_ERR_NEGATIVE_LENGTH:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			msg = "negative length in Avro data";
			break;
		case AVRO_ERR_TOO_LARGE:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			msg = "Avro value too large";
			break;
		case AVRO_ERR_UNION_INDEX:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			msg = "Avro union index out of range";
			break;
		case AVRO_ERR_ENUM_INDEX:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			msg = "Avro enum index out of range";
			break;
		case AVRO_ERR_BOOLEAN:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			msg = "invalid Avro boolean";
			break;
		case AVRO_ERR_UTF8:
			code = ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
			msg = "invalid UTF-8 in Avro string";
			break;
		case AVRO_ERR_TRAILING:
			code = ERRCODE_DATA_CORRUPTED;
			msg = "trailing bytes after Avro value";
			break;
		case AVRO_ERR_DEPTH:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			msg = "Avro value nested too deeply";
			break;
		case AVRO_ERR_RESOLUTION:
			code = ERRCODE_DATATYPE_MISMATCH;
			msg = "Avro value cannot be read with the reader schema";
			break;
		default:
			elog(ERROR, "Avro decode failed without an error");
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", msg),
			 errdetail("At byte offset " INT64_FORMAT ": %s.", s->error_offset,
					   s->error_msg)));
	pg_unreachable();
}


/* ----------------------------------------------------------------
 * Field defaults
 * ----------------------------------------------------------------
 */

/* Turn a JSON string of code points U+0000..U+00FF into bytes. */
static bool
CodePointsToBytes(const AvroJson *json, char **bytes, int *len)
{
	const uint8 *p = (const uint8 *) json->str;
	const uint8 *end = p + json->len;
	char	   *out = palloc(json->len + 1);
	int			n = 0;

	while (p < end)
	{
		if (*p < 0x80)
			out[n++] = *p++;
		else if ((*p == 0xC2 || *p == 0xC3) && p + 1 < end)
		{
			out[n++] = (char) (((p[0] & 0x1F) << 6) | (p[1] & 0x3F));
			p += 2;
		}
		else
			return false;
	}
	*bytes = out;
	*len = n;
	return true;
}

/* Convert a default (or any JSON value) to a value of schema. */
static bool
DefaultValue(const AvroJson *json, const AvroSchema *schema,
			 MemoryContext cxt, AvroValue *out, char **errmsg, int depth)
{
	MemoryContext old;
	bool		ok = true;

	check_stack_depth();
	if (depth > 1000)
	{
		*errmsg = pstrdup("default value nested too deeply");
		return false;
	}
	if (schema->type == AVRO_UNION)
	{
		/* Java requires the first branch; later ones are accepted too. */
		for (int j = 0; j < schema->nbranches; j++)
		{
			char	   *ignored = NULL;

			if (DefaultValue(json, schema->branches[j], cxt, out, &ignored, depth + 1))
			{
				out->branch = j;
				return true;
			}
		}
		*errmsg = psprintf("default does not match any branch of the union");
		return false;
	}

	old = MemoryContextSwitchTo(cxt);
	memset(out, 0, sizeof(AvroValue));
	out->kind = schema->type;
	out->branch = -1;
	out->schema = schema;
	switch (schema->type)
	{
		case AVRO_NULL:
			ok = json->kind == AVRO_JSON_NULL;
			break;
		case AVRO_BOOLEAN:
			ok = json->kind == AVRO_JSON_BOOL;
			out->u.b = json->boolval;
			break;
		case AVRO_INT:
			ok = json->kind == AVRO_JSON_INT &&
				json->intval >= PG_INT32_MIN && json->intval <= PG_INT32_MAX;
			out->u.i = json->intval;
			break;
		case AVRO_LONG:
			ok = json->kind == AVRO_JSON_INT;
			out->u.i = json->intval;
			break;
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			{
				double		d;

				if (json->kind == AVRO_JSON_INT)
					d = (double) json->intval;
				else if (json->kind == AVRO_JSON_REAL)
					d = json->realval;
				else
				{
					ok = false;
					break;
				}
				if (schema->type == AVRO_FLOAT)
					out->u.f = (float) d;
				else
					out->u.d = d;
				break;
			}
		case AVRO_STRING:
			ok = json->kind == AVRO_JSON_STRING;
			if (ok)
			{
				out->u.p = json->str;
				out->len = json->len;
			}
			break;
		case AVRO_BYTES:
		case AVRO_FIXED:
			{
				char	   *b;
				int			n;

				ok = json->kind == AVRO_JSON_STRING && CodePointsToBytes(json, &b, &n) &&
					(schema->type == AVRO_BYTES || n == schema->size);
				if (ok)
				{
					out->u.p = b;
					out->len = n;
				}
				break;
			}
		case AVRO_ENUM:
			ok = false;
			if (json->kind == AVRO_JSON_STRING)
				for (int k = 0; k < schema->nsymbols; k++)
					if (strcmp(schema->symbols[k], json->str) == 0)
					{
						out->u.i = k;
						ok = true;
						break;
					}
			break;
		case AVRO_ARRAY:
			ok = json->kind == AVRO_JSON_ARRAY;
			if (ok)
			{
				out->len = json->len;
				out->u.v = palloc0(sizeof(AvroValue) * Max(json->len, 1));
				for (int i = 0; ok && i < json->len; i++)
					ok = DefaultValue(json->elems[i], schema->items, cxt,
									  &out->u.v[i], errmsg, depth + 1);
			}
			break;
		case AVRO_MAP:
			ok = json->kind == AVRO_JSON_OBJECT;
			if (ok)
			{
				out->len = json->len;
				out->u.v = palloc0(sizeof(AvroValue) * Max(2 * json->len, 1));
				for (int i = 0; ok && i < json->len; i++)
				{
					AvroValue  *k = &out->u.v[2 * i];

					k->kind = AVRO_STRING;
					k->branch = -1;
					k->u.p = json->keys[i];
					k->len = strlen(json->keys[i]);
					ok = DefaultValue(json->elems[i], schema->items, cxt,
									  &out->u.v[2 * i + 1], errmsg, depth + 1);
				}
			}
			break;
		case AVRO_RECORD:
			ok = json->kind == AVRO_JSON_OBJECT;
			if (ok)
			{
				out->len = schema->nfields;
				out->u.v = palloc0(sizeof(AvroValue) * Max(schema->nfields, 1));
				for (int f = 0; ok && f < schema->nfields; f++)
				{
					const AvroField *field = &schema->fields[f];
					const AvroJson *member = AvroJsonObjectGet(json, field->name);

					if (member == NULL)
						member = field->default_value;
					if (member == NULL)
					{
						*errmsg = psprintf("field \"%s\" is missing", field->name);
						ok = false;
						break;
					}
					ok = DefaultValue(member, field->type, cxt, &out->u.v[f],
									  errmsg, depth + 1);
				}
			}
			break;
		case AVRO_UNION:
			break;				/* handled above */
	}
	MemoryContextSwitchTo(old);
	if (!ok && *errmsg == NULL)
		*errmsg = psprintf("default is not a valid %s", AvroSchemaDescribe(schema));
	return ok;
}

/* Convert a JSON value to a value of schema (exported for the codec). */
bool
AvroValueFromDefault(const AvroJson *json, const AvroSchema *schema,
					 MemoryContext cxt, AvroValue *out, char **errmsg)
{
	*errmsg = NULL;
	return DefaultValue(json, schema, cxt, out, errmsg, 0);
}


/* ----------------------------------------------------------------
 * Writing
 * ----------------------------------------------------------------
 */

/* Append a zigzag varint. */
static inline void
WriteLong(StringInfo buf, int64 v)
{
	uint64		z = ((uint64) v << 1) ^ (uint64) (v >> 63);
	char		tmp[10];
	int			n = 0;

	while (z & ~UINT64CONST(0x7f))
	{
		tmp[n++] = (char) ((z & 0x7f) | 0x80);
		z >>= 7;
	}
	tmp[n++] = (char) z;
	appendBinaryStringInfo(buf, tmp, n);
}

/* Append the binary encoding of a value of schema. */
void
AvroValueWrite(StringInfo buf, const AvroSchema *schema, const AvroValue *v)
{
	check_stack_depth();
	if (schema->type == AVRO_UNION)
	{
		if (v->branch < 0 || v->branch >= schema->nbranches)
			elog(ERROR, "Avro value has no union branch");
		WriteLong(buf, v->branch);
		schema = schema->branches[v->branch];
	}
	switch (schema->type)
	{
		case AVRO_NULL:
			break;
		case AVRO_BOOLEAN:
			appendStringInfoChar(buf, v->u.b ? 1 : 0);
			break;
		case AVRO_INT:
		case AVRO_LONG:
		case AVRO_ENUM:
			WriteLong(buf, v->u.i);
			break;
		case AVRO_FLOAT:
			{
				uint32		bits;

				memcpy(&bits, &v->u.f, 4);
				bits = pg_bswap32(pg_hton32(bits));
				appendBinaryStringInfo(buf, (char *) &bits, 4);
				break;
			}
		case AVRO_DOUBLE:
			{
				uint64		bits;

				memcpy(&bits, &v->u.d, 8);
				bits = pg_bswap64(pg_hton64(bits));
				appendBinaryStringInfo(buf, (char *) &bits, 8);
				break;
			}
		case AVRO_BYTES:
		case AVRO_STRING:
			WriteLong(buf, v->len);
			appendBinaryStringInfo(buf, v->u.p, v->len);
			break;
		case AVRO_FIXED:
			appendBinaryStringInfo(buf, v->u.p, v->len);
			break;
		case AVRO_RECORD:
			for (int f = 0; f < schema->nfields; f++)
				AvroValueWrite(buf, schema->fields[f].type, &v->u.v[f]);
			break;
		case AVRO_ARRAY:
		case AVRO_MAP:
			if (v->len > 0)
			{
				WriteLong(buf, v->len);
				for (int i = 0; i < v->len; i++)
				{
					if (schema->type == AVRO_MAP)
					{
						const AvroValue *k = &v->u.v[2 * i];

						WriteLong(buf, k->len);
						appendBinaryStringInfo(buf, k->u.p, k->len);
						AvroValueWrite(buf, schema->items, &v->u.v[2 * i + 1]);
					}
					else
						AvroValueWrite(buf, schema->items, &v->u.v[i]);
				}
			}
			WriteLong(buf, 0);
			break;
		case AVRO_UNION:
			elog(ERROR, "Avro union directly inside a union");
	}
}
