/*-------------------------------------------------------------------------
 *
 * http_server.c
 *	  Confluent-compatible REST API served by background workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "http_server.h"

/* Define the HTTP GUCs and, when preloaded, register the HTTP workers. */
void
HttpServerInit(void)
{
}
