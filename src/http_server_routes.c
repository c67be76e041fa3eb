/*-------------------------------------------------------------------------
 *
 * http_server_routes.c
 *	  The Confluent Schema Registry 7.x REST API mapped onto the registry's
 *	  SQL functions: request-target parsing, routing, JSON answers and the
 *	  mapping of registry errors (SQLSTATE "DXXYY"/"EXXYY") to Confluent's
 *	  HTTP status and error_code.
 *
 * Everything here runs inside the transaction http_server.c opens for the
 * request, with SPI connected; registry logic stays in SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "http_server.h"

#define HTTP_MAX_ARGS 8

/* Positional arguments of one SQL call, in SPI's form. */
typedef struct HttpArgs
{
	int			n;
	Oid			types[HTTP_MAX_ARGS];
	Datum		values[HTTP_MAX_ARGS];
	char		nulls[HTTP_MAX_ARGS];
} HttpArgs;

/* Saved plans, one per SQL text; kept for the worker's life. */
typedef struct HttpPlan
{
	const char *sql;
	SPIPlanPtr	plan;
	struct HttpPlan *next;
} HttpPlan;

static HttpPlan *http_plans = NULL;

static void http_reply_json(HttpResponse *resp, const char *json);
static void http_not_found(HttpResponse *resp);
static void http_method_not_allowed(HttpResponse *resp);
static void http_append_jsonb(StringInfo out, Jsonb *jb);
static void http_run(HttpResponse *resp, const char *sql, HttpArgs *args);
static const char *http_param(HttpCall *call, const char *name);
static bool http_param_bool(HttpCall *call, const char *name);
static bool http_param_int(HttpCall *call, const char *name, int *value);
static bool http_page(HttpCall *call, HttpResponse *resp, HttpArgs *args);
static bool http_body_object(HttpCall *call, HttpResponse *resp, Datum *result);
static bool http_parse_id(const char *s, int *id);
static char *http_decode(const char *s, size_t len, bool plus_is_space, bool *ok);

static void route_schemas(HttpCall *call, HttpResponse *resp);
static void route_subjects(HttpCall *call, HttpResponse *resp);
static void route_compatibility(HttpCall *call, HttpResponse *resp);
static void route_config(HttpCall *call, HttpResponse *resp);
static void route_mode(HttpCall *call, HttpResponse *resp);
static void route_metadata(HttpCall *call, HttpResponse *resp);

#define IS(a, b)		(strcmp((a), (b)) == 0)
#define METHOD(c, m)	(strcmp((c)->method, (m)) == 0)

/* ----------------------------------------------------------------------
 * SQL arguments
 * ---------------------------------------------------------------------- */

static void
arg_add(HttpArgs *a, Oid type, Datum value, bool isnull)
{
	Assert(a->n < HTTP_MAX_ARGS);
	a->types[a->n] = type;
	a->values[a->n] = isnull ? (Datum) 0 : value;
	a->nulls[a->n] = isnull ? 'n' : ' ';
	a->n++;
}

static void
arg_text(HttpArgs *a, const char *s)
{
	arg_add(a, TEXTOID, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

static void
arg_bool(HttpArgs *a, bool b)
{
	arg_add(a, BOOLOID, BoolGetDatum(b), false);
}

/* A boolean query parameter that stays NULL when absent (e.g. normalize). */
static void
arg_bool_or_null(HttpArgs *a, HttpCall *call, const char *name)
{
	const char *v = http_param(call, name);

	arg_add(a, BOOLOID, BoolGetDatum(v && pg_strcasecmp(v, "true") == 0), v == NULL);
}

static void
arg_int(HttpArgs *a, int v)
{
	arg_add(a, INT4OID, Int32GetDatum(v), false);
}

static void
arg_jsonb(HttpArgs *a, Datum jb)
{
	arg_add(a, JSONBOID, jb, false);
}

/* Every value of a repeated query parameter, as text[]. */
static void
arg_param_array(HttpArgs *a, HttpCall *call, const char *name)
{
	Datum	   *elems = palloc(sizeof(Datum) * (call->nparams + 1));
	int			n = 0;

	for (int i = 0; i < call->nparams; i++)
		if (IS(call->params[i].name, name))
			elems[n++] = CStringGetTextDatum(call->params[i].value);
	arg_add(a, TEXTARRAYOID,
			PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT)),
			false);
}

/* ----------------------------------------------------------------------
 * Running SQL and building answers
 * ---------------------------------------------------------------------- */

/* The saved plan for one of our SQL texts (statically allocated strings). */
static SPIPlanPtr
http_plan(const char *sql, HttpArgs *args)
{
	HttpPlan   *p;
	SPIPlanPtr	plan;

	for (p = http_plans; p != NULL; p = p->next)
		if (p->sql == sql)
			return p->plan;

	plan = SPI_prepare(sql, args->n, args->types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	p = MemoryContextAlloc(TopMemoryContext, sizeof(HttpPlan));
	p->sql = sql;
	p->plan = plan;
	p->next = http_plans;
	http_plans = p;
	return plan;
}

/*
 * Run one SQL statement returning one value and make it the 200 answer:
 * jsonb is printed compactly, text (a raw schema) as it is.
 */
static void
http_run(HttpResponse *resp, const char *sql, HttpArgs *args)
{
	int			rc;
	bool		isnull;
	Datum		d;

	rc = SPI_execute_plan(http_plan(sql, args), args->values, args->nulls, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));

	resp->status = 200;
	resp->raw = false;
	resetStringInfo(&resp->body);
	if (SPI_processed == 0)
	{
		appendStringInfoString(&resp->body, "null");
		return;
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		appendStringInfoString(&resp->body, "null");
	else if (SPI_gettypeid(SPI_tuptable->tupdesc, 1) == JSONBOID)
		http_append_jsonb(&resp->body, DatumGetJsonbP(d));
	else
	{
		appendStringInfoString(&resp->body, TextDatumGetCString(d));
		resp->raw = true;
	}
}

static void
http_reply_json(HttpResponse *resp, const char *json)
{
	resp->status = 200;
	resetStringInfo(&resp->body);
	appendStringInfoString(&resp->body, json);
}

/* Answer Confluent's error body {"error_code": N, "message": "..."}. */
void
HttpReplyError(HttpResponse *resp, int status, int code, const char *message)
{
	resp->status = status;
	resp->raw = false;
	resetStringInfo(&resp->body);
	appendStringInfo(&resp->body, "{\"error_code\":%d,\"message\":", code);
	escape_json(&resp->body, message);
	appendStringInfoChar(&resp->body, '}');
}

static void
http_not_found(HttpResponse *resp)
{
	HttpReplyError(resp, 404, 404, "HTTP 404 Not Found");
}

static void
http_method_not_allowed(HttpResponse *resp)
{
	HttpReplyError(resp, 405, 405, "HTTP 405 Method Not Allowed");
}

/*
 * Turn an error raised while serving a request into Confluent's answer.
 * Registry errors carry the Confluent code in their SQLSTATE; missing
 * privileges are 403; anything else is a 500 (and logged).
 */
void
HttpReplyFromError(HttpResponse *resp, ErrorData *edata)
{
	const char *state = unpack_sql_state(edata->sqlerrcode);
	const char *message = edata->message ? edata->message : "internal error";

	if (resp->parsing_body)
	{
		StringInfoData msg;

		initStringInfo(&msg);
		appendStringInfo(&msg, "Unrecognized request body: %s", message);
		if (edata->detail)
			appendStringInfo(&msg, " %s", edata->detail);
		HttpReplyError(resp, 400, 400, msg.data);
		return;
	}
	if ((state[0] == 'D' || state[0] == 'E') &&
		isdigit((unsigned char) state[1]) && isdigit((unsigned char) state[2]) &&
		isdigit((unsigned char) state[3]) && isdigit((unsigned char) state[4]))
	{
		int			code;

		if (strcmp(state, "D0901") == 0)
			code = 409;			/* Confluent 7.x: incompatible schema */
		else
			code = (state[0] == 'D' ? 40000 : 50000) + atoi(state + 1);
		HttpReplyError(resp, code == 409 ? 409 : code / 100, code, message);
		return;
	}
	if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
	{
		HttpReplyError(resp, 403, 40301, "User is denied operation on this server.");
		return;
	}
	if (edata->sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION)
	{
		HttpReplyError(resp, 500, 50004,
					   "Leader not known. This server is a hot standby: set datacontract.http_primary_url to forward writes to the primary.");
		return;
	}
	ereport(LOG,
			(errmsg("datacontract HTTP request failed: %s", message),
			 errdetail("SQLSTATE %s", state)));
	HttpReplyError(resp, 500, 50001, message);
}

/* Print a jsonb value compactly, as Confluent (Jackson) does. */
static void
http_append_jsonb(StringInfo out, Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		comma = false;
	bool		scalar_root = JB_ROOT_IS_SCALAR(jb);

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (scalar_root)
					break;
				if (comma)
					appendStringInfoChar(out, ',');
				appendStringInfoChar(out, tok == WJB_BEGIN_OBJECT ? '{' : '[');
				comma = false;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				if (scalar_root)
					break;
				appendStringInfoChar(out, tok == WJB_END_OBJECT ? '}' : ']');
				comma = true;
				break;
			case WJB_KEY:
				if (comma)
					appendStringInfoChar(out, ',');
				escape_json(out, pnstrdup(v.val.string.val, v.val.string.len));
				appendStringInfoChar(out, ':');
				comma = false;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (comma)
					appendStringInfoChar(out, ',');
				switch (v.type)
				{
					case jbvNull:
						appendStringInfoString(out, "null");
						break;
					case jbvString:
						escape_json(out, pnstrdup(v.val.string.val, v.val.string.len));
						break;
					case jbvNumeric:
						appendStringInfoString(out,
											   DatumGetCString(DirectFunctionCall1(numeric_out,
																				   NumericGetDatum(v.val.numeric))));
						break;
					case jbvBool:
						appendStringInfoString(out, v.val.boolean ? "true" : "false");
						break;
					default:
						elog(ERROR, "unexpected jsonb value type %d", (int) v.type);
				}
				comma = true;
				break;
			case WJB_DONE:
				break;
		}
	}
}

/* ----------------------------------------------------------------------
 * Request target and parameters
 * ---------------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode a path segment or query component; *ok becomes false for
 * a NUL byte or invalid UTF-8, which no subject or parameter may contain.
 */
static char *
http_decode(const char *s, size_t len, bool plus_is_space, bool *ok)
{
	char	   *out = palloc(len + 1);
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%' && i + 2 < len &&
			hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			out[n++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		else if (s[i] == '+' && plus_is_space)
			out[n++] = ' ';
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL || !pg_verify_mbstr(PG_UTF8, out, n, true))
		*ok = false;
	return out;
}

/* Split the raw request target into decoded path segments and parameters. */
void
HttpParseTarget(HttpCall *call, const char *raw_uri)
{
	const char *query = strchr(raw_uri, '?');
	size_t		pathlen = query ? (size_t) (query - raw_uri) : strlen(raw_uri);
	const char *p;
	const char *end = raw_uri + pathlen;
	bool		ok = true;
	int			cap;

	call->nsegments = 0;
	call->nparams = 0;
	call->bad_path = false;

	/* Path: "/a/b/c", a trailing slash ignored. */
	cap = 1;
	for (p = raw_uri; p < end; p++)
		if (*p == '/')
			cap++;
	call->segments = palloc(sizeof(char *) * cap);
	p = raw_uri;
	if (p < end && *p == '/')
		p++;
	while (p < end)
	{
		const char *slash = memchr(p, '/', end - p);
		const char *segend = slash ? slash : end;

		call->segments[call->nsegments++] = http_decode(p, segend - p, false, &ok);
		if (slash == NULL)
			break;
		p = slash + 1;
	}

	/* Query: "a=1&b=2", '+' meaning space. */
	if (query)
	{
		const char *q = query + 1;

		cap = 1;
		for (p = q; *p; p++)
			if (*p == '&')
				cap++;
		call->params = palloc(sizeof(HttpParam) * cap);
		while (*q)
		{
			const char *amp = strchr(q, '&');
			size_t		len = amp ? (size_t) (amp - q) : strlen(q);
			const char *eq = memchr(q, '=', len);

			if (len > 0)
			{
				HttpParam  *hp = &call->params[call->nparams++];

				if (eq)
				{
					hp->name = http_decode(q, eq - q, true, &ok);
					hp->value = http_decode(eq + 1, len - (eq - q) - 1, true, &ok);
				}
				else
				{
					hp->name = http_decode(q, len, true, &ok);
					hp->value = pstrdup("");
				}
			}
			if (amp == NULL)
				break;
			q = amp + 1;
		}
	}
	call->bad_path = !ok;
}

static const char *
http_param(HttpCall *call, const char *name)
{
	for (int i = 0; i < call->nparams; i++)
		if (IS(call->params[i].name, name))
			return call->params[i].value;
	return NULL;
}

/* A boolean parameter as JAX-RS reads it: "true" in any case, else false. */
static bool
http_param_bool(HttpCall *call, const char *name)
{
	const char *v = http_param(call, name);

	return v != NULL && pg_strcasecmp(v, "true") == 0;
}

/* An integer parameter; false when present but not an int32. */
static bool
http_param_int(HttpCall *call, const char *name, int *value)
{
	const char *v = http_param(call, name);

	if (v == NULL)
		return true;
	return http_parse_id(v, value);
}

static bool
http_parse_id(const char *s, int *id)
{
	char	   *end;
	long		v;

	if (*s == '\0' || isspace((unsigned char) *s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < PG_INT32_MIN || v > PG_INT32_MAX)
		return false;
	*id = (int) v;
	return true;
}

/*
 * Add offset and limit (NULL = all) arguments; a malformed value is a 404
 * as JAX-RS answers unconvertible parameters.
 */
static bool
http_page(HttpCall *call, HttpResponse *resp, HttpArgs *args)
{
	int			offset = 0;
	int			limit = -1;

	if (!http_param_int(call, "offset", &offset) || !http_param_int(call, "limit", &limit))
	{
		http_not_found(resp);
		return false;
	}
	arg_int(args, Max(offset, 0));
	arg_add(args, INT4OID, Int32GetDatum(limit), limit <= 0);
	return true;
}

/*
 * The request body as a jsonb object; otherwise answer 400 (as Jackson's
 * parse and mapping errors are) and return false.
 */
static bool
http_body_object(HttpCall *call, HttpResponse *resp, Datum *result)
{
	Datum		jb;

	if (call->body == NULL || call->body_len == 0)
	{
		HttpReplyError(resp, 400, 400, "No content to map due to end-of-input");
		return false;
	}
	if (memchr(call->body, '\0', call->body_len) != NULL ||
		!pg_verify_mbstr(PG_UTF8, call->body, call->body_len, true))
	{
		HttpReplyError(resp, 400, 400, "Invalid UTF-8 in request body");
		return false;
	}
	resp->parsing_body = true;
	jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body));
	resp->parsing_body = false;
	if (JB_ROOT_IS_SCALAR(DatumGetJsonbP(jb)) || !JB_ROOT_IS_OBJECT(DatumGetJsonbP(jb)))
	{
		HttpReplyError(resp, 400, 400,
					   "Unrecognized request body: expected a JSON object");
		return false;
	}
	*result = jb;
	return true;
}

/* ----------------------------------------------------------------------
 * Routing
 * ---------------------------------------------------------------------- */

/* Answer one request; runs inside the request's transaction with SPI. */
void
HttpRoute(HttpCall *call, HttpResponse *resp)
{
	const char *first;

	if (call->bad_path)
	{
		HttpReplyError(resp, 400, 400, "Bad Request");
		return;
	}
	if (call->nsegments == 0)
	{
		if (METHOD(call, "GET") || METHOD(call, "POST"))
			http_reply_json(resp, "{}");
		else
			http_method_not_allowed(resp);
		return;
	}
	first = call->segments[0];
	if (IS(first, "schemas"))
		route_schemas(call, resp);
	else if (IS(first, "subjects"))
		route_subjects(call, resp);
	else if (IS(first, "compatibility"))
		route_compatibility(call, resp);
	else if (IS(first, "config"))
		route_config(call, resp);
	else if (IS(first, "mode"))
		route_mode(call, resp);
	else if (IS(first, "contexts") && call->nsegments == 1)
	{
		if (METHOD(call, "GET"))
			http_reply_json(resp, "[\".\"]");
		else
			http_method_not_allowed(resp);
	}
	else if (IS(first, "v1") && call->nsegments == 3 && IS(call->segments[1], "metadata"))
		route_metadata(call, resp);
	else
		http_not_found(resp);
}

/*
 * Whether a request changes the registry (and so goes to the primary when
 * this server is a hot standby): lookups and compatibility checks are reads
 * although they are POSTs.
 */
bool
HttpIsWrite(HttpCall *call)
{
	if (METHOD(call, "GET") || METHOD(call, "HEAD"))
		return false;
	if (METHOD(call, "POST"))
	{
		if (call->nsegments == 0)
			return false;
		if (IS(call->segments[0], "compatibility"))
			return false;
		if (IS(call->segments[0], "subjects") && call->nsegments == 2)
			return false;
	}
	return true;
}

/* /v1/metadata/id and /v1/metadata/version */
static void
route_metadata(HttpCall *call, HttpResponse *resp)
{
	const char *what = call->segments[2];

	if (!IS(what, "id") && !IS(what, "version"))
	{
		http_not_found(resp);
		return;
	}
	if (!METHOD(call, "GET"))
	{
		http_method_not_allowed(resp);
		return;
	}
	if (IS(what, "id"))
	{
		static const char *sql =
			"SELECT jsonb_build_object('id', '', 'scope', jsonb_build_object("
			"'path', '[]'::jsonb, 'clusters', jsonb_build_object("
			"'kafka-cluster', (SELECT system_identifier::text FROM pg_catalog.pg_control_system()), "
			"'schema-registry-cluster', 'schema-registry')))";
		HttpArgs	a = {0};

		http_run(resp, sql, &a);
	}
	else
	{
		static const char *sql =
			"SELECT jsonb_build_object('version', e.extversion, 'commitId', 'datacontract') "
			"FROM pg_catalog.pg_extension e WHERE e.extname = 'datacontract'";
		HttpArgs	a = {0};

		http_run(resp, sql, &a);
	}
}

/* /schemas, /schemas/types, /schemas/ids/{id}[/schema|/subjects|/versions] */
static void
route_schemas(HttpCall *call, HttpResponse *resp)
{
	int			n = call->nsegments;
	char	  **s = call->segments;
	HttpArgs	a = {0};
	int			id;

	if (n == 1)
	{
		static const char *sql =
			"SELECT datacontract._http_list_schemas($1, $2, $3, $4, $5)";
		const char *prefix = http_param(call, "subjectPrefix");

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_text(&a, prefix && *prefix ? prefix : NULL);
		arg_bool(&a, http_param_bool(call, "deleted"));
		arg_bool(&a, http_param_bool(call, "latestOnly"));
		if (http_page(call, resp, &a))
			http_run(resp, sql, &a);
		return;
	}
	if (n == 2 && IS(s[1], "types"))
	{
		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		http_reply_json(resp, "[\"AVRO\"]");
		return;
	}
	if (!IS(s[1], "ids") || n < 3 || n > 4 || !http_parse_id(s[2], &id))
	{
		http_not_found(resp);
		return;
	}

	if (n == 3)
	{
		/* findTags (repeatable, "*" = any): the entities carrying them. */
		static const char *sql =
			"SELECT datacontract.schema_by_id($1) || CASE WHEN $2 THEN "
			"jsonb_build_object('maxId', (SELECT max(s.id) FROM datacontract.schemas s)) "
			"ELSE '{}' END || CASE WHEN cardinality($3) > 0 THEN "
			"(SELECT CASE WHEN t = '[]' THEN '{}' ELSE jsonb_build_object('schemaTags', t) END "
			"FROM datacontract.schema_tags($1, $3) AS t) ELSE '{}' END";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_int(&a, id);
		arg_bool(&a, http_param_bool(call, "fetchMaxId"));
		arg_param_array(&a, call, "findTags");
		http_run(resp, sql, &a);
		return;
	}
	if (IS(s[3], "schema"))
	{
		static const char *sql = "SELECT datacontract.get_schema($1)";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_int(&a, id);
		http_run(resp, sql, &a);
		return;
	}
	if (IS(s[3], "subjects"))
	{
		static const char *sql =
			"SELECT coalesce(jsonb_agg(to_jsonb(t.s) ORDER BY t.n), '[]') FROM "
			"(SELECT x.s, x.n FROM datacontract.schema_subjects($1, $2) WITH ORDINALITY x(s, n) "
			"ORDER BY x.n OFFSET $3 LIMIT $4) t";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_int(&a, id);
		arg_bool(&a, http_param_bool(call, "deleted"));
		if (http_page(call, resp, &a))
			http_run(resp, sql, &a);
		return;
	}
	if (IS(s[3], "versions"))
	{
		static const char *sql =
			"SELECT coalesce(jsonb_agg(jsonb_build_object('subject', t.subject, 'version', t.version) "
			"ORDER BY t.n), '[]') FROM "
			"(SELECT x.subject, x.version, x.n FROM datacontract.schema_versions($1, $2) "
			"WITH ORDINALITY x(subject, version, n) ORDER BY x.n OFFSET $3 LIMIT $4) t";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_int(&a, id);
		arg_bool(&a, http_param_bool(call, "deleted"));
		if (http_page(call, resp, &a))
			http_run(resp, sql, &a);
		return;
	}
	http_not_found(resp);
}

/* /subjects and everything under /subjects/{subject} */
static void
route_subjects(HttpCall *call, HttpResponse *resp)
{
	int			n = call->nsegments;
	char	  **s = call->segments;
	HttpArgs	a = {0};
	Datum		body;

	if (n == 1)
	{
		static const char *sql =
			"SELECT coalesce(jsonb_agg(to_jsonb(t.s) ORDER BY t.n), '[]') FROM "
			"(SELECT x.s, x.n FROM datacontract.subjects($1, $2, $3) WITH ORDINALITY x(s, n) "
			"ORDER BY x.n OFFSET $4 LIMIT $5) t";
		const char *prefix = http_param(call, "subjectPrefix");

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		/* ":*:" (all contexts) is the default: we have one context. */
		arg_text(&a, prefix && *prefix && !IS(prefix, ":*:") ? prefix : NULL);
		arg_bool(&a, http_param_bool(call, "deleted"));
		arg_bool(&a, http_param_bool(call, "deletedOnly"));
		if (http_page(call, resp, &a))
			http_run(resp, sql, &a);
		return;
	}

	if (n == 2)
	{
		if (METHOD(call, "POST"))
		{
			static const char *sql =
				"SELECT datacontract.lookup_schema($1, $2 ->> 'schema', $2 ->> 'schemaType', "
				"nullif($2 -> 'references', 'null'), nullif($2 -> 'metadata', 'null'), "
				"nullif(coalesce($2 -> 'ruleSet', $2 -> 'ruleset'), 'null'), $3, $4)";

			if (!http_body_object(call, resp, &body))
				return;
			arg_text(&a, s[1]);
			arg_jsonb(&a, body);
			arg_bool_or_null(&a, call, "normalize");
			arg_bool(&a, http_param_bool(call, "deleted"));
			http_run(resp, sql, &a);
			return;
		}
		if (METHOD(call, "DELETE"))
		{
			static const char *sql =
				"SELECT to_jsonb(datacontract.delete_subject($1, $2))";

			arg_text(&a, s[1]);
			arg_bool(&a, http_param_bool(call, "permanent"));
			http_run(resp, sql, &a);
			return;
		}
		http_method_not_allowed(resp);
		return;
	}

	if (n == 3 && IS(s[2], "metadata"))
	{
		static const char *sql =
			"SELECT datacontract._http_latest_with_metadata($1, $2, $3, $4)";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_text(&a, s[1]);
		arg_param_array(&a, call, "key");
		arg_param_array(&a, call, "value");
		arg_bool(&a, http_param_bool(call, "deleted"));
		http_run(resp, sql, &a);
		return;
	}

	if (!IS(s[2], "versions") || n > 5)
	{
		http_not_found(resp);
		return;
	}

	if (n == 3)
	{
		if (METHOD(call, "GET"))
		{
			static const char *sql =
				"SELECT coalesce(jsonb_agg(to_jsonb(t.v) ORDER BY t.n), '[]') FROM "
				"(SELECT x.v, x.n FROM datacontract.versions($1, $2, $3) WITH ORDINALITY x(v, n) "
				"ORDER BY x.n OFFSET $4 LIMIT $5) t";

			arg_text(&a, s[1]);
			arg_bool(&a, http_param_bool(call, "deleted"));
			arg_bool(&a, http_param_bool(call, "deletedOnly"));
			if (http_page(call, resp, &a))
				http_run(resp, sql, &a);
			return;
		}
		if (METHOD(call, "POST"))
		{
			/* Confluent 7.x answers a registration with just the id. */
			static const char *sql =
				"SELECT jsonb_build_object('id', datacontract.register_schema($1, $2, $3) -> 'id')";

			if (!http_body_object(call, resp, &body))
				return;
			arg_text(&a, s[1]);
			arg_jsonb(&a, body);
			arg_bool_or_null(&a, call, "normalize");
			http_run(resp, sql, &a);
			return;
		}
		http_method_not_allowed(resp);
		return;
	}

	if (n == 4)
	{
		if (METHOD(call, "GET"))
		{
			/* findTags (repeatable, "*" = any): the entities carrying them. */
			static const char *sql =
				"SELECT v || CASE WHEN cardinality($4) > 0 THEN "
				"(SELECT CASE WHEN t = '[]' THEN '{}' ELSE jsonb_build_object('schemaTags', t) END "
				"FROM datacontract.schema_tags((v ->> 'id')::integer, $4) AS t) ELSE '{}' END "
				"FROM datacontract.get_version($1, $2, $3) AS v";

			arg_text(&a, s[1]);
			arg_text(&a, s[3]);
			arg_bool(&a, http_param_bool(call, "deleted"));
			arg_param_array(&a, call, "findTags");
			http_run(resp, sql, &a);
			return;
		}
		if (METHOD(call, "DELETE"))
		{
			static const char *sql =
				"SELECT to_jsonb(datacontract.delete_version($1, $2, $3))";

			arg_text(&a, s[1]);
			arg_text(&a, s[3]);
			arg_bool(&a, http_param_bool(call, "permanent"));
			http_run(resp, sql, &a);
			return;
		}
		http_method_not_allowed(resp);
		return;
	}

	/* n == 5 */
	if (IS(s[4], "schema"))
	{
		static const char *sql =
			"SELECT datacontract.get_version($1, $2, $3) ->> 'schema'";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_text(&a, s[1]);
		arg_text(&a, s[3]);
		arg_bool(&a, http_param_bool(call, "deleted"));
		http_run(resp, sql, &a);
		return;
	}
	if (IS(s[4], "tags"))
	{
		/* A new version from version v with tag, metadata and rule changes. */
		static const char *sql = "SELECT datacontract.modify_schema_tags($1, $2, $3)";

		if (!METHOD(call, "POST"))
		{
			http_method_not_allowed(resp);
			return;
		}
		if (!http_body_object(call, resp, &body))
			return;
		arg_text(&a, s[1]);
		arg_text(&a, s[3]);
		arg_jsonb(&a, body);
		http_run(resp, sql, &a);
		return;
	}
	if (IS(s[4], "referencedby"))
	{
		static const char *sql =
			"SELECT coalesce(jsonb_agg(to_jsonb(t.id) ORDER BY t.n), '[]') FROM "
			"(SELECT x.id, x.n FROM datacontract.referenced_by($1, $2) WITH ORDINALITY x(id, n) "
			"ORDER BY x.n OFFSET $3 LIMIT $4) t";

		if (!METHOD(call, "GET"))
		{
			http_method_not_allowed(resp);
			return;
		}
		arg_text(&a, s[1]);
		arg_text(&a, s[3]);
		if (http_page(call, resp, &a))
			http_run(resp, sql, &a);
		return;
	}
	http_not_found(resp);
}

/*
 * POST /compatibility/subjects/{s}/versions[/{v}].  With verbose=true an
 * invalid schema is an incompatible answer with the parse error as its
 * message, as Confluent does; that needs a subtransaction to survive it.
 */
static void
route_compatibility(HttpCall *call, HttpResponse *resp)
{
	static const char *sql =
		"SELECT jsonb_build_object('is_compatible', c.is_compatible) || "
		"CASE WHEN $4 THEN jsonb_build_object('messages', to_jsonb(c.messages)) ELSE '{}' END "
		"FROM datacontract.check_compatibility($1, $2 ->> 'schema', $3) c";
	int			n = call->nsegments;
	char	  **s = call->segments;
	HttpArgs	a = {0};
	Datum		body;
	bool		verbose = http_param_bool(call, "verbose");
	MemoryContext oldcxt;
	ResourceOwner oldowner;

	if (n < 4 || n > 5 || !IS(s[1], "subjects") || !IS(s[3], "versions"))
	{
		http_not_found(resp);
		return;
	}
	if (!METHOD(call, "POST"))
	{
		http_method_not_allowed(resp);
		return;
	}
	if (!http_body_object(call, resp, &body))
		return;
	arg_text(&a, s[2]);
	arg_jsonb(&a, body);
	arg_text(&a, n == 5 ? s[4] : NULL);
	arg_bool(&a, verbose);
	if (!verbose)
	{
		http_run(resp, sql, &a);
		return;
	}

	oldcxt = CurrentMemoryContext;
	oldowner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		http_run(resp, sql, &a);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode != MAKE_SQLSTATE('D', '2', '2', '0', '1'))
			ReThrowError(edata);
		resp->status = 200;
		resp->raw = false;
		resetStringInfo(&resp->body);
		appendStringInfoString(&resp->body, "{\"is_compatible\":false,\"messages\":[");
		escape_json(&resp->body, edata->message);
		appendStringInfoString(&resp->body, "]}");
	}
	PG_END_TRY();
}

/* /config and /config/{subject} */
static void
route_config(HttpCall *call, HttpResponse *resp)
{
	HttpArgs	a = {0};
	const char *subject;
	Datum		body;

	if (call->nsegments > 2)
	{
		http_not_found(resp);
		return;
	}
	subject = call->nsegments == 2 ? call->segments[1] : NULL;
	arg_text(&a, subject);

	if (METHOD(call, "GET"))
	{
		static const char *sql = "SELECT datacontract.get_config($1, $2)";

		arg_bool(&a, http_param_bool(call, "defaultToGlobal"));
		http_run(resp, sql, &a);
		return;
	}
	if (METHOD(call, "PUT"))
	{
		static const char *sql = "SELECT datacontract.set_config($1, $2)";

		if (!http_body_object(call, resp, &body))
			return;
		arg_jsonb(&a, body);
		http_run(resp, sql, &a);
		return;
	}
	if (METHOD(call, "DELETE"))
	{
		static const char *sql = "SELECT datacontract.delete_config($1)";

		http_run(resp, sql, &a);
		return;
	}
	http_method_not_allowed(resp);
}

/* /mode and /mode/{subject} */
static void
route_mode(HttpCall *call, HttpResponse *resp)
{
	HttpArgs	a = {0};
	const char *subject;
	Datum		body;

	if (call->nsegments > 2)
	{
		http_not_found(resp);
		return;
	}
	subject = call->nsegments == 2 ? call->segments[1] : NULL;
	arg_text(&a, subject);

	if (METHOD(call, "GET"))
	{
		static const char *sql =
			"SELECT jsonb_build_object('mode', datacontract.get_mode($1, $2))";

		arg_bool(&a, http_param_bool(call, "defaultToGlobal"));
		http_run(resp, sql, &a);
		return;
	}
	if (METHOD(call, "PUT"))
	{
		static const char *sql =
			"SELECT jsonb_build_object('mode', datacontract.set_mode($1, $2 ->> 'mode', $3))";

		if (!http_body_object(call, resp, &body))
			return;
		arg_jsonb(&a, body);
		arg_bool(&a, http_param_bool(call, "force"));
		http_run(resp, sql, &a);
		return;
	}
	if (METHOD(call, "DELETE"))
	{
		static const char *sql =
			"SELECT jsonb_build_object('mode', datacontract.delete_mode($1))";

		http_run(resp, sql, &a);
		return;
	}
	http_method_not_allowed(resp);
}
