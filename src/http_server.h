/*-------------------------------------------------------------------------
 *
 * http_server.h
 *	  Confluent-compatible REST API served by background workers.
 *
 * http_server.c owns the GUCs, the workers, libmicrohttpd and the
 * transaction around each request; http_server_routes.c maps a parsed
 * request onto the registry's SQL functions.  The types below are shared by
 * those two files only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_HTTP_SERVER_H
#define DATACONTRACT_HTTP_SERVER_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/elog.h"

/* Define the HTTP GUCs and, when preloaded, register the HTTP workers. */
extern void HttpServerInit(void);

/* Entry point of an HTTP background worker. */
extern PGDLLEXPORT void HttpServerMain(Datum main_arg);

/* One query-string parameter, percent-decoded. */
typedef struct HttpParam
{
	char	   *name;
	char	   *value;
} HttpParam;

/* A parsed request, allocated in the request's memory context. */
typedef struct HttpCall
{
	const char *method;			/* GET, POST, PUT, DELETE (HEAD becomes GET) */
	int			nsegments;
	char	  **segments;		/* decoded path segments */
	int			nparams;
	HttpParam  *params;
	const char *body;			/* NUL-terminated; NULL when empty */
	size_t		body_len;
	bool		bad_path;		/* undecodable path or query (400) */
} HttpCall;

/* The answer to a request; body lives in the request's memory context. */
typedef struct HttpResponse
{
	int			status;
	StringInfoData body;
	bool		raw;			/* body is not JSON built by us */
	bool		auth_challenge; /* add WWW-Authenticate */
	bool		parsing_body;	/* an error now means a malformed body (400) */
} HttpResponse;

/* http_server_routes.c */
extern void HttpParseTarget(HttpCall *call, const char *raw_uri);
extern void HttpRoute(HttpCall *call, HttpResponse *resp);
extern bool HttpIsWrite(HttpCall *call);
extern void HttpReplyError(HttpResponse *resp, int status, int code, const char *message);
extern void HttpReplyFromError(HttpResponse *resp, ErrorData *edata);

#endif							/* DATACONTRACT_HTTP_SERVER_H */
