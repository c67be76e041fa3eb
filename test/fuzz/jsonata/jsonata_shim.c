/*-------------------------------------------------------------------------
 *
 * jsonata_shim.c
 *	  What the JSONata fuzz target needs beyond test/fuzz/codec/pg_shim.c:
 *	  the clock and the stack check that the evaluator calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "miscadmin.h"
#include "utils/timestamp.h"

TimestampTz
GetCurrentTimestamp(void)
{
	struct timeval tp;

	gettimeofday(&tp, NULL);
	return (TimestampTz) tp.tv_sec * USECS_PER_SEC + tp.tv_usec;
}

/* Stack use above 2 MB counts as too deep, as with max_stack_depth. */
bool
stack_is_too_deep(void)
{
	char		here;
	static char *base = NULL;

	if (base == NULL)
		base = &here;
	return base - &here > 2 * 1024 * 1024 || &here - base > 2 * 1024 * 1024;
}
