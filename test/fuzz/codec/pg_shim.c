/*-------------------------------------------------------------------------
 *
 * pg_shim.c
 *	  Just enough of the backend for the codec's fuzz targets: memory
 *	  contexts over malloc, ereport as a longjmp to the harness, and stubs.
 *
 * Each chunk is linked into its context, so deleting a context frees all
 * of it (LeakSanitizer stays quiet).  StringInfo, psprintf, snprintf and
 * hash_bytes come from libpgcommon/libpgport.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "nodes/memnodes.h"
#include "utils/memutils.h"

typedef struct ShimChunk
{
	struct ShimChunk *prev;
	struct ShimChunk *next;
	struct ShimContext *cxt;
	size_t		size;
	/* 16-byte alignment of the payload */
	size_t		pad;
} ShimChunk;

typedef struct ShimContext
{
	MemoryContextData header;	/* so MemoryContext pointers work */
	ShimChunk	chunks;			/* list head */
	struct ShimContext *parent;
	struct ShimContext *firstchild;
	struct ShimContext *sibling;
	size_t		allocated;
} ShimContext;

static ShimContext TopShim;
MemoryContext CurrentMemoryContext = (MemoryContext) &TopShim;
MemoryContext TopMemoryContext = (MemoryContext) &TopShim;
MemoryContext CacheMemoryContext = (MemoryContext) &TopShim;
MemoryContext TopTransactionContext = (MemoryContext) &TopShim;
volatile sig_atomic_t InterruptPending = false;
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;
int			datacontract_max_schema_size = 1024 * 1024;
int			datacontract_max_schema_depth = 64;

/* The message of the last error, for harnesses that want it. */
char		shim_errmsg[512];

static void
ShimInit(ShimContext *c)
{
	if (c->chunks.next == NULL)
		c->chunks.next = c->chunks.prev = &c->chunks;
}

static void
Unlink(ShimContext *c)
{
	ShimContext **p;

	if (c->parent == NULL)
		return;
	for (p = &c->parent->firstchild; *p; p = &(*p)->sibling)
		if (*p == c)
		{
			*p = c->sibling;
			break;
		}
	c->parent = NULL;
	c->sibling = NULL;
}

static void
Link(ShimContext *c, ShimContext *parent)
{
	c->parent = parent;
	c->sibling = parent ? parent->firstchild : NULL;
	if (parent)
		parent->firstchild = c;
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize,
							  Size maxBlockSize)
{
	ShimContext *c = calloc(1, sizeof(ShimContext));

	ShimInit(c);
	c->header.name = name;
	Link(c, (ShimContext *) parent);
	return (MemoryContext) c;
}

void
MemoryContextReset(MemoryContext context)
{
	ShimContext *c = (ShimContext *) context;
	ShimChunk  *ch;

	ShimInit(c);
	while (c->firstchild)
		MemoryContextDelete((MemoryContext) c->firstchild);
	ch = c->chunks.next;
	while (ch != &c->chunks)
	{
		ShimChunk  *next = ch->next;

		free(ch);
		ch = next;
	}
	c->chunks.next = c->chunks.prev = &c->chunks;
	c->allocated = 0;
}

void
MemoryContextDelete(MemoryContext context)
{
	ShimContext *c = (ShimContext *) context;

	MemoryContextReset(context);
	Unlink(c);
	if (c != &TopShim)
		free(c);
}

void
MemoryContextSetParent(MemoryContext context, MemoryContext new_parent)
{
	Unlink((ShimContext *) context);
	Link((ShimContext *) context, (ShimContext *) new_parent);
}

Size
MemoryContextMemAllocated(MemoryContext context, bool recurse)
{
	return ((ShimContext *) context)->allocated;
}

void
CreateCacheMemoryContext(void)
{
}

bool
IsTransactionState(void)
{
	return false;
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	ShimContext *c = (ShimContext *) context;
	ShimChunk  *ch;

	if (size > MaxAllocSize)
		elog(ERROR, "invalid memory alloc request size %zu", size);
	ch = malloc(sizeof(ShimChunk) + size + 1);
	if (ch == NULL)
		abort();
	ShimInit(c);
	ch->cxt = c;
	ch->size = size;
	ch->next = c->chunks.next;
	ch->prev = &c->chunks;
	c->chunks.next->prev = ch;
	c->chunks.next = ch;
	c->allocated += size;
	return ch + 1;
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	void	   *p = MemoryContextAlloc(context, size);

	memset(p, 0, size);
	return p;
}

void *
palloc(Size size)
{
	return MemoryContextAlloc(CurrentMemoryContext, size);
}

void *
palloc0(Size size)
{
	return MemoryContextAllocZero(CurrentMemoryContext, size);
}

void *
palloc_extended(Size size, int flags)
{
	void	   *p = MemoryContextAlloc(CurrentMemoryContext, size);

	if (flags & MCXT_ALLOC_ZERO)
		memset(p, 0, size);
	return p;
}

void
pfree(void *pointer)
{
	ShimChunk  *ch = ((ShimChunk *) pointer) - 1;

	ch->prev->next = ch->next;
	ch->next->prev = ch->prev;
	ch->cxt->allocated -= ch->size;
	free(ch);
}

void *
repalloc(void *pointer, Size size)
{
	ShimChunk  *ch = ((ShimChunk *) pointer) - 1;
	void	   *p = MemoryContextAlloc((MemoryContext) ch->cxt, size);

	memcpy(p, pointer, Min(size, ch->size));
	pfree(pointer);
	return p;
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	size_t		n = strlen(string) + 1;
	char	   *p = MemoryContextAlloc(context, n);

	memcpy(p, string, n);
	return p;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *p;

	len = strnlen(in, len);
	p = palloc(len + 1);
	memcpy(p, in, len);
	p[len] = '\0';
	return p;
}

int
pg_mbcliplen(const char *mbstr, int len, int limit)
{
	int			n = 0;

	while (n < len && n < limit)
	{
		int			l = pg_utf_mblen((const unsigned char *) mbstr + n);

		if (n + l > limit)
			break;
		n += l;
	}
	return n;
}

text *
cstring_to_text(const char *s)
{
	size_t		len = strlen(s);
	text	   *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

char *
text_to_cstring(const text *t)
{
	return pnstrdup(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	return datum;
}

void
check_stack_depth(void)
{
	char		here;
	static char *base = NULL;

	if (base == NULL)
		base = &here;
	if (base - &here > 4 * 1024 * 1024 || &here - base > 4 * 1024 * 1024)
		elog(ERROR, "stack depth limit exceeded");
}

void
ProcessInterrupts(void)
{
	InterruptPending = false;
}

/* ereport: remember the message, longjmp to the harness on ERROR. */
static int	shim_elevel;

bool
errstart(int elevel, const char *domain)
{
	shim_elevel = elevel;
	shim_errmsg[0] = '\0';
	return elevel >= ERROR;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (shim_elevel >= ERROR)
	{
		if (PG_exception_stack == NULL)
		{
			fprintf(stderr, "ereport outside the harness: %s\n", shim_errmsg);
			abort();
		}
		siglongjmp(*PG_exception_stack, 1);
	}
}

void
pg_re_throw(void)
{
	errfinish(NULL, 0, NULL);
	abort();
}

int
errcode(int sqlerrcode)
{
	return 0;
}

#define SHIM_FORMAT(fmt) \
	do { \
		va_list ap; \
		if (shim_errmsg[0] == '\0') \
		{ \
			va_start(ap, fmt); \
			vsnprintf(shim_errmsg, sizeof(shim_errmsg), fmt, ap); \
			va_end(ap); \
		} \
	} while (0)

int
errmsg(const char *fmt,...)
{
	SHIM_FORMAT(fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	SHIM_FORMAT(fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	return 0;
}

int
errhint(const char *fmt,...)
{
	return 0;
}
