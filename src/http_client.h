/*-------------------------------------------------------------------------
 *
 * http_client.h
 *	  HTTP GET with libcurl, for importing from another Confluent-compatible
 *	  registry.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_HTTP_CLIENT_H
#define DATACONTRACT_HTTP_CLIENT_H

#include "postgres.h"
#include "fmgr.h"

/* SQL: datacontract._http_get(url, userpwd, OUT status, OUT body) */
extern PGDLLEXPORT Datum datacontract_http_get(PG_FUNCTION_ARGS);

/* Forward a request to another server; malloc'd answer, no ereport. */
extern bool HttpClientForward(const char *method, const char *url,
							  const char *content_type, const char *authorization,
							  const char *body, size_t body_len, long timeout_s,
							  long *status, char **body_out, size_t *len_out,
							  char *errbuf, size_t errlen);

#endif							/* DATACONTRACT_HTTP_CLIENT_H */
