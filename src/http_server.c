/*-------------------------------------------------------------------------
 *
 * http_server.c
 *	  Confluent-compatible REST API served by background workers.
 *
 * Each worker runs libmicrohttpd in its external-epoll mode: MHD starts no
 * threads, its epoll fd is waited on together with the latch, and every
 * request handler runs inside MHD_run() on the worker's own thread, so SPI
 * is safe there.  A request is one transaction; errors inside it are caught
 * and answered as HTTP errors (a longjmp through libmicrohttpd would corrupt
 * it).  Several workers share the port with SO_REUSEPORT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "libpq/crypt.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "datacontract.h"
#include "http_client.h"
#include "http_server.h"

#define HTTP_MAX_DAEMONS 8
#define HTTP_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define HTTP_SCHEMA_CACHE_MAX 10000

typedef enum HttpAuth
{
	HTTP_AUTH_NONE,
	HTTP_AUTH_BASIC
} HttpAuth;

static const struct config_enum_entry http_auth_options[] = {
	{"none", HTTP_AUTH_NONE, false},
	{"basic", HTTP_AUTH_BASIC, false},
	{NULL, 0, false}
};

/* GUCs */
static int	http_port = 8081;
static char *http_listen_addresses = NULL;
static int	http_workers = 1;
static int	http_max_request_size = 16 * 1024 * 1024;
static int	http_connection_timeout = 60;
static int	http_auth = HTTP_AUTH_NONE;
static char *http_role = NULL;
static char *http_primary_url = NULL;
static char *http_tls_cert_file = NULL;
static char *http_tls_key_file = NULL;
static char *http_tls_cert = NULL;	/* PEM contents, read once per worker */
static char *http_tls_key = NULL;

/* One HTTP request's state, from its URI to its completion (malloc'd). */
typedef struct HttpRequest
{
	char	   *raw_uri;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		started;
	bool		too_large;
} HttpRequest;

/* The last credentials verified, so SCRAM's hashing runs once per change. */
typedef struct HttpAuthCache
{
	char	   *user;
	char	   *password;
	char	   *shadow;
} HttpAuthCache;

/*
 * A ready answer to GET /schemas/ids/{id}.  A schema id's content never
 * changes, so the answer holds as long as the row it was built from is still
 * there: each hit checks the row (same xmin and ctid) under the request's
 * snapshot, which also catches a hard delete, and a relcache invalidation of
 * datacontract.schemas (DDL, TRUNCATE, VACUUM FULL, DROP EXTENSION) empties
 * the cache.  The MHD response is shared by every request it answers and
 * owns a malloc'd copy of the body.
 */
typedef struct HttpCachedSchema
{
	int32		id;				/* hash key */
	TransactionId xmin;			/* the row the answer was built from */
	ItemPointerData tid;
	struct MHD_Response *response;
} HttpCachedSchema;

static HTAB *http_schema_cache = NULL;
static bool http_schema_cache_stale = false;
static bool http_schema_callback_registered = false;
static Oid	http_schemas_relid = InvalidOid;
static Oid	http_schema_by_id_fn = InvalidOid;
static Oid	http_schema_tags_fn = InvalidOid;

static struct MHD_Daemon *http_daemons[HTTP_MAX_DAEMONS];
static int	http_ndaemons = 0;
static HttpAuthCache http_auth_cache;
static bool http_retrying = false;	/* log a failure to listen only once */

static void http_wait_for_extension(void);
static bool http_start_daemons(void);
static void http_serve_forever(void);
static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
static void http_request_completed(void *cls, struct MHD_Connection *conn,
								   void **con_cls, enum MHD_RequestTerminationCode toe);
static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn,
								   const char *url, const char *method,
								   const char *version, const char *upload_data,
								   size_t *upload_data_size, void **con_cls);
static void http_mhd_log(void *cls, const char *fmt, va_list ap);
static void http_serve(struct MHD_Connection *conn, HttpRequest *req, const char *method);
static bool http_become_user(struct MHD_Connection *conn, HttpResponse *resp);
static bool http_check_password(const char *user, const char *password);
static bool http_content_type_ok(struct MHD_Connection *conn);
static void http_queue(struct MHD_Connection *conn, HttpResponse *resp);
static void http_forward(struct MHD_Connection *conn, HttpRequest *req,
						 const char *method, HttpResponse *resp);
static void http_queue_simple(struct MHD_Connection *conn, int status, int code,
							  const char *message);
static bool http_cacheable_target(const char *raw_uri, int32 *id);
static struct MHD_Response *http_schema_by_id(int32 id, HttpCall *call, HttpResponse *resp);
static bool http_schema_cache_ready(void);
static bool http_schema_row(int32 id, TransactionId *xmin, ItemPointer tid);
static void http_schema_cache_store(int32 id, TransactionId xmin, ItemPointer tid,
									HttpResponse *resp);
static void http_schema_cache_flush(void);
static void http_schema_relcache_callback(Datum arg, Oid relid);

/* Define the HTTP GUCs and, when preloaded, register the HTTP workers. */
void
HttpServerInit(void)
{
	DefineCustomIntVariable("datacontract.http_max_request_size",
							"Largest request body the REST API accepts.",
							"Larger requests are answered with HTTP 413.",
							&http_max_request_size,
							16 * 1024 * 1024, 1024, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("datacontract.http_connection_timeout",
							"Idle time after which the REST API closes a connection.",
							"0 means never.",
							&http_connection_timeout,
							60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("datacontract.http_auth",
							 "Authentication of REST API requests: none or basic.",
							 "basic checks HTTP Basic credentials against PostgreSQL's roles "
							 "and runs each request as that role.",
							 &http_auth,
							 HTTP_AUTH_NONE, http_auth_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("datacontract.http_role",
							   "Role REST API requests run as when datacontract.http_auth is none.",
							   "Empty means the bootstrap superuser the workers connect as.",
							   &http_role,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("datacontract.http_primary_url",
							   "Base URL of the primary's REST API, for writes sent to a hot standby.",
							   "Empty: a hot standby refuses writes (Confluent error 50004).",
							   &http_primary_url,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	/*
	 * Settings that only take effect at server start exist only where the
	 * library is preloaded (PostgreSQL refuses to create them later, as in
	 * CREATE EXTENSION in an ordinary backend); there are no workers to
	 * configure otherwise.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	{
		DefineCustomIntVariable("datacontract.http_port",
								"TCP port of the Confluent-compatible REST API.",
								"0 disables the API.",
								&http_port,
								8081, 0, 65535,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

		DefineCustomStringVariable("datacontract.http_listen_addresses",
								   "Addresses the REST API listens on.",
								   "A comma-separated list of host names or IP addresses; * means all.",
								   &http_listen_addresses,
								   "localhost",
								   PGC_POSTMASTER, GUC_LIST_INPUT,
								   NULL, NULL, NULL);

		DefineCustomIntVariable("datacontract.http_workers",
								"Number of REST API workers sharing the port.",
								NULL,
								&http_workers,
								1, 1, HTTP_MAX_DAEMONS * 8,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

		DefineCustomStringVariable("datacontract.http_tls_cert_file",
								   "PEM certificate (chain) the REST API serves HTTPS with.",
								   "With datacontract.http_tls_key_file set too, the API speaks only HTTPS.",
								   &http_tls_cert_file,
								   "",
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);

		DefineCustomStringVariable("datacontract.http_tls_key_file",
								   "PEM private key of datacontract.http_tls_cert_file.",
								   NULL,
								   &http_tls_key_file,
								   "",
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);
	}

	if (http_port == 0)
		return;

	for (int i = 0; i < http_workers; i++)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		/* A hot standby serves reads too. */
		worker.bgw_start_time = BgWorkerStart_ConsistentState;
		worker.bgw_restart_time = 10;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "datacontract");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "HttpServerMain");
		snprintf(worker.bgw_name, BGW_MAXLEN, "datacontract http worker %d", i);
		snprintf(worker.bgw_type, BGW_MAXLEN, "datacontract http");
		worker.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&worker);
	}
}

/* Entry point of an HTTP worker: connect, wait for the extension, serve. */
void
HttpServerMain(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(datacontract_database, NULL, 0);
	pgstat_report_appname("datacontract http");

	http_wait_for_extension();

	while (!http_start_daemons())
	{
		/* Typically the port is taken: retry quietly, without crash-looping. */
		if (!http_retrying)
			ereport(LOG,
					(errmsg("datacontract HTTP worker %d could not listen on port %d, retrying every 5 seconds",
							DatumGetInt32(main_arg), http_port)));
		http_retrying = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	http_retrying = false;
	ereport(LOG,
			(errmsg("datacontract HTTP worker %d listening on port %d",
					DatumGetInt32(main_arg), http_port)));

	http_serve_forever();
}

/*
 * Idle until the extension exists in the worker's database, logging once,
 * so that a server without it does not crash-loop the worker.
 */
static void
http_wait_for_extension(void)
{
	bool		logged = false;

	for (;;)
	{
		bool		installed;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		installed = OidIsValid(get_extension_oid("datacontract", true));
		CommitTransactionCommand();
		if (installed)
			break;
		if (!logged)
		{
			ereport(LOG,
					(errmsg("datacontract HTTP worker waiting: extension \"datacontract\" is not installed in database \"%s\"",
							datacontract_database),
					 errhint("Run CREATE EXTENSION datacontract in that database, or set datacontract.database.")));
			logged = true;
		}
		pgstat_report_activity(STATE_IDLE, "waiting for CREATE EXTENSION datacontract");
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Read a PEM file for TLS into long-lived memory; a file that cannot be read
 * is an error (the API must not fall back to plain HTTP).
 */
static char *
http_read_pem(const char *path, const char *what)
{
	FILE	   *f = AllocateFile(path, "r");
	StringInfoData buf;
	char		chunk[4096];
	size_t		n;
	MemoryContext old;

	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open the REST API's TLS %s \"%s\": %m", what, path)));
	old = MemoryContextSwitchTo(TopMemoryContext);
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	MemoryContextSwitchTo(old);
	if (ferror(f))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the REST API's TLS %s \"%s\": %m", what, path)));
	FreeFile(f);
	return buf.data;
}

/* Is HTTPS configured (both a certificate and a key)? */
static bool
http_tls_enabled(void)
{
	return http_tls_cert_file && http_tls_cert_file[0] && http_tls_key_file && http_tls_key_file[0];
}

/* Start one MHD daemon on an address (NULL: every address, dual stack). */
static bool
http_start_daemon(const struct sockaddr *addr)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[5];
	int			nopts = 0;
	struct MHD_Daemon *d;

	if (http_ndaemons >= HTTP_MAX_DAEMONS)
		return false;
	if (addr == NULL)
		flags |= MHD_USE_DUAL_STACK;
	else if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	/*
	 * SO_REUSEPORT only when several workers share the port: passing 0
	 * instead would also drop MHD's default SO_REUSEADDR, and a restart
	 * would then find the port busy while old connections sit in TIME_WAIT.
	 */
	if (http_workers > 1)
		opts[nopts++] = (struct MHD_OptionItem) {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
	if (addr != NULL)
		opts[nopts++] = (struct MHD_OptionItem) {MHD_OPTION_SOCK_ADDR, 0, (void *) addr};
	if (http_tls_enabled())
	{
		if (http_tls_cert == NULL)
			http_tls_cert = http_read_pem(http_tls_cert_file, "certificate");
		if (http_tls_key == NULL)
			http_tls_key = http_read_pem(http_tls_key_file, "key");
		flags |= MHD_USE_TLS;
		opts[nopts++] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_MEM_CERT, 0, http_tls_cert};
		opts[nopts++] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_MEM_KEY, 0, http_tls_key};
	}
	opts[nopts] = (struct MHD_OptionItem) {MHD_OPTION_END, 0, NULL};

	d = MHD_start_daemon(flags, (uint16_t) http_port, NULL, NULL,
						 &http_access, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, &http_mhd_log, NULL,
						 MHD_OPTION_URI_LOG_CALLBACK, &http_uri_log, NULL,
						 MHD_OPTION_NOTIFY_COMPLETED, &http_request_completed, NULL,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 2000,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) http_connection_timeout,
						 MHD_OPTION_ARRAY, opts,
						 MHD_OPTION_END);
	if (d == NULL)
		return false;
	http_daemons[http_ndaemons++] = d;
	return true;
}

/*
 * Start a daemon for every address datacontract.http_listen_addresses
 * names; true when at least one listens.
 */
static bool
http_start_daemons(void)
{
	char	   *raw = pstrdup(http_listen_addresses);
	List	   *names;
	ListCell   *lc;

	if (!SplitGUCList(raw, ',', &names))
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"datacontract.http_listen_addresses\"")));
		return false;
	}
	foreach(lc, names)
	{
		const char *name = (const char *) lfirst(lc);
		struct addrinfo hints;
		struct addrinfo *res;
		struct addrinfo *ai;
		int			rc;

		if (strcmp(name, "*") == 0)
		{
			if (!http_start_daemon(NULL))
				ereport(http_retrying ? DEBUG1 : LOG,
						(errmsg("datacontract HTTP worker could not listen on port %d of all addresses",
								http_port)));
			continue;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		rc = getaddrinfo(name, NULL, &hints, &res);
		if (rc != 0)
		{
			ereport(LOG,
					(errmsg("datacontract HTTP worker could not resolve \"%s\": %s",
							name, gai_strerror(rc))));
			continue;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next)
		{
			struct sockaddr_storage ss;
			char		host[NI_MAXHOST];

			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			memset(&ss, 0, sizeof(ss));
			memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
			if (ai->ai_family == AF_INET)
				((struct sockaddr_in *) &ss)->sin_port = htons((uint16_t) http_port);
			else
				((struct sockaddr_in6 *) &ss)->sin6_port = htons((uint16_t) http_port);
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host),
							NULL, 0, NI_NUMERICHOST) != 0)
				strlcpy(host, name, sizeof(host));
			if (!http_start_daemon((struct sockaddr *) &ss))
				ereport(http_retrying ? DEBUG1 : LOG,
						(errmsg("datacontract HTTP worker could not listen on %s port %d",
								host, http_port)));
		}
		freeaddrinfo(res);
	}
	list_free(names);
	pfree(raw);
	return http_ndaemons > 0;
}

/* The worker's loop: wait on the latch and MHD's epoll fds, run MHD. */
static void
http_serve_forever(void)
{
	WaitEventSet *set;
	WaitEvent	events[HTTP_MAX_DAEMONS + 2];

	set = CreateWaitEventSet(TopMemoryContext, http_ndaemons + 2);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < http_ndaemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(http_daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		if (info == NULL)
			elog(ERROR, "libmicrohttpd did not give its epoll descriptor");
		AddWaitEventToSet(set, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	}

	for (;;)
	{
		long		timeout = -1;
		int			n;

		for (int i = 0; i < http_ndaemons; i++)
		{
			MHD_UNSIGNED_LONG_LONG t;

			if (MHD_get_timeout(http_daemons[i], &t) == MHD_YES)
			{
				long		ms = t > (MHD_UNSIGNED_LONG_LONG) 60000 ? 60000L : (long) t;

				if (timeout < 0 || ms < timeout)
					timeout = ms;
			}
		}

		n = WaitEventSetWait(set, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		for (int i = 0; i < http_ndaemons; i++)
			MHD_run(http_daemons[i]);
	}
}

/* MHD's diagnostics go to the server log. */
static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[1024];

	if (http_retrying)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	ereport(LOG, (errmsg("datacontract HTTP: %s", buf)));
}

/* The raw request target (still percent-encoded) starts our request state. */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	HttpRequest *req = calloc(1, sizeof(HttpRequest));

	if (req != NULL)
		req->raw_uri = strdup(uri ? uri : "/");
	return req;
}

/* MHD is done with a request (answered or abandoned): free its state. */
static void
http_request_completed(void *cls, struct MHD_Connection *conn,
					   void **con_cls, enum MHD_RequestTerminationCode toe)
{
	HttpRequest *req = *con_cls;

	if (req == NULL)
		return;
	free(req->raw_uri);
	free(req->body);
	free(req);
	*con_cls = NULL;
}

/*
 * libmicrohttpd's request callback: collect the body (bounded by
 * datacontract.http_max_request_size), then serve the request.
 */
static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
			const char *method, const char *version, const char *upload_data,
			size_t *upload_data_size, void **con_cls)
{
	HttpRequest *req = *con_cls;

	if (req == NULL || req->raw_uri == NULL)
		return MHD_NO;			/* out of memory: drop the connection */

	if (!req->started)
	{
		const char *clen;

		req->started = true;
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
								  (unsigned int) http_connection_timeout);
		clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
										   MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen != NULL && strtoull(clen, NULL, 10) > (unsigned long long) http_max_request_size)
		{
			req->too_large = true;
			http_queue_simple(conn, 413, 413, "Request Entity Too Large");
		}
		return MHD_YES;
	}

	if (*upload_data_size > 0)
	{
		size_t		len = *upload_data_size;

		*upload_data_size = 0;
		if (req->too_large)
			return MHD_YES;
		if (req->body_len + len > (size_t) http_max_request_size)
		{
			req->too_large = true;
			free(req->body);
			req->body = NULL;
			req->body_len = req->body_cap = 0;
			return MHD_YES;
		}
		if (req->body_len + len + 1 > req->body_cap)
		{
			size_t		cap = Max(req->body_cap * 2, req->body_len + len + 1);
			char	   *nb = realloc(req->body, Max(cap, 1024));

			if (nb == NULL)
				return MHD_NO;
			req->body = nb;
			req->body_cap = Max(cap, 1024);
		}
		memcpy(req->body + req->body_len, upload_data, len);
		req->body_len += len;
		req->body[req->body_len] = '\0';
		return MHD_YES;
	}

	if (req->too_large)
	{
		http_queue_simple(conn, 413, 413, "Request Entity Too Large");
		return MHD_YES;
	}
	http_serve(conn, req, method);
	return MHD_YES;
}

/* Request bodies may be any of Confluent's JSON types, or untyped. */
static bool
http_content_type_ok(struct MHD_Connection *conn)
{
	static const char *const accepted[] = {
		"application/vnd.schemaregistry.v1+json",
		"application/vnd.schemaregistry+json",
		"application/json",
		"application/octet-stream",
	};
	const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t		len;

	if (ct == NULL)
		return true;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	len = strcspn(ct, "; \t");
	if (len == 0)
		return true;
	for (int i = 0; i < lengthof(accepted); i++)
		if (strlen(accepted[i]) == len && pg_strncasecmp(ct, accepted[i], len) == 0)
			return true;
	return false;
}

/*
 * Serve one complete request in its own transaction and memory context.
 * Any error becomes an HTTP error answer; nothing propagates into MHD.
 */
static void
http_serve(struct MHD_Connection *conn, HttpRequest *req, const char *method)
{
	MemoryContext reqcxt;
	MemoryContext oldcxt;
	HttpResponse resp;
	HttpCall	call;
	char		activity[256];
	int32		cache_id = 0;
	struct MHD_Response *volatile cached = NULL;

	reqcxt = AllocSetContextCreate(TopMemoryContext, "datacontract http request",
								   ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(reqcxt);

	memset(&resp, 0, sizeof(resp));
	initStringInfo(&resp.body);
	memset(&call, 0, sizeof(call));
	call.method = strcmp(method, "HEAD") == 0 ? "GET" : method;
	call.body = req->body;
	call.body_len = req->body_len;

	/* pg_stat_activity must stay valid text whatever the client sent. */
	snprintf(activity, sizeof(activity), "%s %s", method, req->raw_uri);
	for (char *c = activity; *c; c++)
		if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
			*c = '?';
	pgstat_report_activity(STATE_RUNNING, activity);

	HttpParseTarget(&call, req->raw_uri);
	if (strcmp(call.method, "GET") == 0 && !http_cacheable_target(req->raw_uri, &cache_id))
		cache_id = 0;

	if ((strcmp(call.method, "POST") == 0 || strcmp(call.method, "PUT") == 0) &&
		!http_content_type_ok(conn))
	{
		HttpReplyError(&resp, 415, 415, "HTTP 415 Unsupported Media Type");
	}
	else if (http_primary_url != NULL && http_primary_url[0] != '\0' &&
			 HttpIsWrite(&call) && RecoveryInProgress())
	{
		http_forward(conn, req, method, &resp);
	}
	else
	{
		PG_TRY();
		{
			Oid			saved_uid;
			int			saved_sec;

			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			MemoryContextSwitchTo(reqcxt);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			PushActiveSnapshot(GetTransactionSnapshot());
			GetUserIdAndSecContext(&saved_uid, &saved_sec);

			if (!http_become_user(conn, &resp))
				 /* answered 401 */ ;
			else if (cache_id > 0)
				cached = http_schema_by_id(cache_id, &call, &resp);
			else
				HttpRoute(&call, &resp);

			SetUserIdAndSecContext(saved_uid, saved_sec);
			PopActiveSnapshot();
			SPI_finish();
			CommitTransactionCommand();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			cached = NULL;
			MemoryContextSwitchTo(reqcxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(reqcxt);
			HttpReplyFromError(&resp, edata);
		}
		PG_END_TRY();
	}

	MemoryContextSwitchTo(reqcxt);
	if (cached != NULL)
		MHD_queue_response(conn, MHD_HTTP_OK, cached);
	else
		http_queue(conn, &resp);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(reqcxt);
}

/*
 * Switch to the role the request runs as: the authenticated one with
 * http_auth = basic (answering 401 when that fails), else http_role, else
 * stay the bootstrap superuser.
 */
static bool
http_become_user(struct MHD_Connection *conn, HttpResponse *resp)
{
	Oid			saved_uid;
	int			saved_sec;
	Oid			roleid;

	GetUserIdAndSecContext(&saved_uid, &saved_sec);
	if (http_auth == HTTP_AUTH_BASIC)
	{
		char	   *password = NULL;
		char	   *user = MHD_basic_auth_get_username_password(conn, &password);
		bool		ok = false;
		char	   *puser = NULL;

		if (user != NULL && password != NULL)
		{
			puser = pstrdup(user);
			ok = http_check_password(user, password);
		}
		if (user)
			MHD_free(user);
		if (password)
		{
			explicit_bzero(password, strlen(password));
			MHD_free(password);
		}
		if (!ok)
		{
			HttpReplyError(resp, 401, 401, "Unauthorized");
			resp->auth_challenge = true;
			return false;
		}
		roleid = get_role_oid(puser, false);
	}
	else if (http_role != NULL && http_role[0] != '\0')
		roleid = get_role_oid(http_role, false);
	else
		return true;

	SetUserIdAndSecContext(roleid, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	return true;
}

/*
 * Check a user name and password against PostgreSQL's own roles: the role
 * must be able to log in and the password must match its stored secret.
 */
static bool
http_check_password(const char *user, const char *password)
{
	HeapTuple	tuple;
	bool		canlogin;
	const char *logdetail = NULL;
	char	   *shadow;
	bool		ok;
	MemoryContext oldcxt;

	tuple = SearchSysCache1(AUTHNAME, PointerGetDatum(user));
	if (!HeapTupleIsValid(tuple))
		return false;
	canlogin = ((Form_pg_authid) GETSTRUCT(tuple))->rolcanlogin;
	ReleaseSysCache(tuple);
	if (!canlogin)
		return false;

	shadow = get_role_password(user, &logdetail);
	if (shadow == NULL)
		return false;

	if (http_auth_cache.user != NULL &&
		strcmp(http_auth_cache.user, user) == 0 &&
		strcmp(http_auth_cache.password, password) == 0 &&
		strcmp(http_auth_cache.shadow, shadow) == 0)
		return true;

	ok = plain_crypt_verify(user, shadow, password, &logdetail) == STATUS_OK;
	if (ok)
	{
		if (http_auth_cache.user)
		{
			pfree(http_auth_cache.user);
			pfree(http_auth_cache.password);
			pfree(http_auth_cache.shadow);
		}
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		http_auth_cache.user = pstrdup(user);
		http_auth_cache.password = pstrdup(password);
		http_auth_cache.shadow = pstrdup(shadow);
		MemoryContextSwitchTo(oldcxt);
	}
	return ok;
}

/*
 * A hot standby sends writes on to the primary's REST API, credentials and
 * all, and relays the answer (Confluent followers forward to the leader).
 */
static void
http_forward(struct MHD_Connection *conn, HttpRequest *req, const char *method,
			 HttpResponse *resp)
{
	const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
												   MHD_HTTP_HEADER_AUTHORIZATION);
	char	   *base = pstrdup(http_primary_url);
	size_t		blen = strlen(base);
	char	   *url;
	long		status;
	char	   *body;
	size_t		len;
	char		err[512];

	while (blen > 0 && base[blen - 1] == '/')
		base[--blen] = '\0';
	url = psprintf("%s%s", base, req->raw_uri);
	if (!HttpClientForward(method, url, ct, auth, req->body, req->body_len, 60,
						   &status, &body, &len, err, sizeof(err)))
	{
		ereport(LOG,
				(errmsg("datacontract HTTP could not forward %s %s to the primary: %s",
						method, req->raw_uri, err)));
		HttpReplyError(resp, 500, 50003,
					   psprintf("Error while forwarding the request to the leader: %s", err));
		return;
	}
	resp->status = (int) status;
	resetStringInfo(&resp->body);
	if (body)
		appendBinaryStringInfo(&resp->body, body, (int) len);
	free(body);
	resp->auth_challenge = (status == 401);
}

/* Hand an answer to MHD, which copies it. */
static void
http_queue(struct MHD_Connection *conn, HttpResponse *resp)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(resp->body.len, resp->body.data,
										MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, HTTP_CONTENT_TYPE);
	if (resp->auth_challenge)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
								"Basic realm=\"datacontract\"");
	MHD_queue_response(conn, (unsigned int) (resp->status ? resp->status : 500), r);
	MHD_destroy_response(r);
}

/* Queue an error answer built without PostgreSQL memory (no transaction). */
static void
http_queue_simple(struct MHD_Connection *conn, int status, int code, const char *message)
{
	char		buf[256];
	struct MHD_Response *r;

	snprintf(buf, sizeof(buf), "{\"error_code\":%d,\"message\":\"%s\"}", code, message);
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, HTTP_CONTENT_TYPE);
	MHD_queue_response(conn, (unsigned int) status, r);
	MHD_destroy_response(r);
}

/*
 * Whether a request target is exactly /schemas/ids/{id} (no query, no
 * leading zeros): the one answer worth caching, asked for by every client
 * that decodes a message.
 */
static bool
http_cacheable_target(const char *raw_uri, int32 *id)
{
	static const char prefix[] = "/schemas/ids/";
	const char *p;
	int64		v = 0;

	if (strncmp(raw_uri, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p = raw_uri + sizeof(prefix) - 1;
	if (*p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		v = v * 10 + (*p - '0');
		if (v > PG_INT32_MAX)
			return false;
	}
	if (*p != '\0')
		return false;
	*id = (int32) v;
	return true;
}

/*
 * Answer GET /schemas/ids/{id} inside the request's transaction, as the
 * request's role: the cached MHD response when the role may read schemas
 * and the row is unchanged, else the ordinary route (whose 200 answer is
 * then cached) with NULL returned.
 */
static struct MHD_Response *
http_schema_by_id(int32 id, HttpCall *call, HttpResponse *resp)
{
	Oid			role = GetUserId();
	TransactionId xmin;
	ItemPointerData tid;
	bool		found;
	HttpCachedSchema *entry;

	/* The route's own privilege checks decide for roles that fail ours. */
	if (!http_schema_cache_ready() ||
		pg_class_aclcheck(http_schemas_relid, role, ACL_SELECT) != ACLCHECK_OK ||
		pg_proc_aclcheck(http_schema_by_id_fn, role, ACL_EXECUTE) != ACLCHECK_OK ||
		pg_proc_aclcheck(http_schema_tags_fn, role, ACL_EXECUTE) != ACLCHECK_OK)
	{
		HttpRoute(call, resp);
		return NULL;
	}

	found = http_schema_row(id, &xmin, &tid);
	entry = hash_search(http_schema_cache, &id, HASH_FIND, NULL);
	if (entry != NULL)
	{
		if (found && entry->xmin == xmin && ItemPointerEquals(&entry->tid, &tid))
			return entry->response;
		/* hard-deleted (or, in IMPORT mode, re-created): forget it */
		MHD_destroy_response(entry->response);
		hash_search(http_schema_cache, &id, HASH_REMOVE, NULL);
	}

	HttpRoute(call, resp);
	if (found && resp->status == MHD_HTTP_OK && !resp->raw)
		http_schema_cache_store(id, xmin, &tid, resp);
	return NULL;
}

/*
 * Make the cache usable in this transaction: empty it after an
 * invalidation, look up the catalog objects it depends on.  False when the
 * extension's objects are missing (the route then answers).
 */
static bool
http_schema_cache_ready(void)
{
	if (!http_schema_callback_registered)
	{
		CacheRegisterRelcacheCallback(http_schema_relcache_callback, (Datum) 0);
		http_schema_callback_registered = true;
	}
	if (http_schema_cache_stale)
		http_schema_cache_flush();

	if (!OidIsValid(http_schemas_relid))
	{
		Oid			nsp = get_namespace_oid("datacontract", true);
		Oid			argtypes[2] = {INT4OID, TEXTARRAYOID};

		if (!OidIsValid(nsp))
			return false;
		http_schema_by_id_fn =
			LookupFuncName(list_make2(makeString("datacontract"), makeString("schema_by_id")),
						   1, argtypes, true);
		http_schema_tags_fn =
			LookupFuncName(list_make2(makeString("datacontract"), makeString("schema_tags")),
						   2, argtypes, true);
		if (!OidIsValid(http_schema_by_id_fn) || !OidIsValid(http_schema_tags_fn))
			return false;
		/* last: a valid relid means the lookups are done */
		http_schemas_relid = get_relname_relid("schemas", nsp);
		if (!OidIsValid(http_schemas_relid))
			return false;
	}
	if (http_schema_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(HttpCachedSchema);
		ctl.hcxt = TopMemoryContext;
		http_schema_cache = hash_create("datacontract http schemas by id", 256, &ctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return true;
}

/* Find a schema row by id under the active snapshot: its xmin and ctid. */
static bool
http_schema_row(int32 id, TransactionId *xmin, ItemPointer tid)
{
	Relation	rel;
	Oid			indexoid;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found;

	rel = table_open(http_schemas_relid, AccessShareLock);
	indexoid = RelationGetPrimaryKeyIndex(rel);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(id));
	scan = systable_beginscan(rel, indexoid, OidIsValid(indexoid), GetActiveSnapshot(),
							  1, &key);
	tuple = systable_getnext(scan);
	found = HeapTupleIsValid(tuple);
	if (found)
	{
		/* raw: freezing must not make a row look different */
		*xmin = HeapTupleHeaderGetRawXmin(tuple->t_data);
		*tid = tuple->t_self;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* Keep a 200 answer for an id as a shared MHD response. */
static void
http_schema_cache_store(int32 id, TransactionId xmin, ItemPointer tid, HttpResponse *resp)
{
	char	   *body;
	struct MHD_Response *r;
	HttpCachedSchema *entry;

	if (hash_get_num_entries(http_schema_cache) >= HTTP_SCHEMA_CACHE_MAX)
		http_schema_cache_flush();
	if (http_schema_cache == NULL && !http_schema_cache_ready())
		return;

	body = malloc(resp->body.len + 1);
	if (body == NULL)
		return;
	memcpy(body, resp->body.data, resp->body.len);
	r = MHD_create_response_from_buffer_with_free_callback(resp->body.len, body, &free);
	if (r == NULL)
	{
		free(body);
		return;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, HTTP_CONTENT_TYPE) != MHD_YES)
	{
		MHD_destroy_response(r);
		return;
	}
	entry = hash_search(http_schema_cache, &id, HASH_ENTER, NULL);
	entry->xmin = xmin;
	entry->tid = *tid;
	entry->response = r;
}

/* Drop every cached answer (connections still sending one keep it alive). */
static void
http_schema_cache_flush(void)
{
	HASH_SEQ_STATUS seq;
	HttpCachedSchema *entry;

	http_schema_cache_stale = false;
	http_schemas_relid = InvalidOid;
	if (http_schema_cache == NULL)
		return;
	hash_seq_init(&seq, http_schema_cache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		MHD_destroy_response(entry->response);
	hash_destroy(http_schema_cache);
	http_schema_cache = NULL;
}

/* A relcache invalidation of datacontract.schemas (or of everything). */
static void
http_schema_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == http_schemas_relid)
		http_schema_cache_stale = true;
}
