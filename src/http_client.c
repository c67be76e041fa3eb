/*-------------------------------------------------------------------------
 *
 * http_client.c
 *	  HTTP GET with libcurl, for importing from another Confluent-compatible
 *	  registry (datacontract.import_registry, src/sql/50_http.sql).
 *
 * libcurl's callbacks never call into PostgreSQL (no palloc, no ereport):
 * the answer is collected in malloc'd memory and copied out afterwards, so
 * no error can longjmp through libcurl.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "http_client.h"

/* A growing malloc'd buffer that the write callback fills. */
typedef struct HttpBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		overflow;
} HttpBuffer;

static bool curl_ready = false;

PG_FUNCTION_INFO_V1(datacontract_http_get);

static size_t
http_client_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpBuffer *buf = (HttpBuffer *) userdata;
	size_t		n = size * nmemb;

	if (buf->len + n + 1 > buf->limit)
	{
		buf->overflow = true;
		return 0;				/* makes libcurl stop with an error */
	}
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		cap = Max(buf->cap * 2, buf->len + n + 1);
		char	   *nd = realloc(buf->data, cap);

		if (nd == NULL)
			return 0;
		buf->data = nd;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

/*
 * datacontract._http_get(url, userpwd, OUT status, OUT body): GET a URL
 * (http or https only) and return the status and the body as text.
 */
Datum
datacontract_http_get(PG_FUNCTION_ARGS)
{
	char	   *url;
	char	   *userpwd = NULL;
	CURL	   *curl;
	CURLcode	rc;
	long		status = 0;
	HttpBuffer	buf = {0};
	char		errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("URL must not be null")));
	url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
		userpwd = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not initialize libcurl")));
		curl_ready = true;
	}
	curl = curl_easy_init();
	if (curl == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not create a libcurl handle")));

	buf.limit = 256 * 1024 * 1024;
	headers = curl_slist_append(headers, "Accept: application/vnd.schemaregistry.v1+json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_client_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "datacontract");
	if (userpwd)
	{
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd);
	}

	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);

	if (rc != CURLE_OK)
	{
		char	   *detail = pstrdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
		bool		overflow = buf.overflow;

		free(buf.data);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not fetch \"%s\"", url),
				 errdetail("%s", overflow ? "The answer is larger than 256 MB." : detail)));
	}

	values[0] = Int32GetDatum((int32) status);
	if (buf.data == NULL)
		values[1] = CStringGetTextDatum("");
	else if (!pg_verify_mbstr(PG_UTF8, buf.data, buf.len, true) ||
			 memchr(buf.data, '\0', buf.len) != NULL)
	{
		free(buf.data);
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("the answer from \"%s\" is not valid UTF-8", url)));
	}
	else
		values[1] = PointerGetDatum(cstring_to_text_with_len(buf.data, (int) buf.len));
	free(buf.data);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Send a request on to another server (a hot standby's writes go to the
 * primary) and collect its answer in malloc'd memory: *body_out must be
 * freed with free().  Uses no PostgreSQL memory or errors, so it may run
 * outside a transaction.  Returns false with errbuf filled on failure.
 */
bool
HttpClientForward(const char *method, const char *url, const char *content_type,
				  const char *authorization, const char *body, size_t body_len,
				  long timeout_s, long *status, char **body_out, size_t *len_out,
				  char *errbuf, size_t errlen)
{
	CURL	   *curl;
	CURLcode	rc;
	HttpBuffer	buf = {0};
	struct curl_slist *headers = NULL;
	char		line[1024];
	char		cerr[CURL_ERROR_SIZE] = "";

	*status = 0;
	*body_out = NULL;
	*len_out = 0;
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			snprintf(errbuf, errlen, "could not initialize libcurl");
			return false;
		}
		curl_ready = true;
	}
	if ((curl = curl_easy_init()) == NULL)
	{
		snprintf(errbuf, errlen, "could not initialize libcurl");
		return false;
	}
	buf.limit = 256 * 1024 * 1024;
	headers = curl_slist_append(headers, "Accept: application/vnd.schemaregistry.v1+json");
	headers = curl_slist_append(headers, "Expect:");
	if (content_type)
	{
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		headers = curl_slist_append(headers, line);
	}
	if (authorization)
	{
		snprintf(line, sizeof(line), "Authorization: %s", authorization);
		headers = curl_slist_append(headers, line);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (body != NULL && body_len > 0)
	{
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_client_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "datacontract");

	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	else
		snprintf(errbuf, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK)
	{
		free(buf.data);
		return false;
	}
	*body_out = buf.data;
	*len_out = buf.len;
	return true;
}
