/*-------------------------------------------------------------------------
 *
 * avro_codec_json.c
 *	  Decoded Avro values to jsonb, and jsonb to values for encoding.
 *
 * Two forms.  The Avro JSON encoding (avro_json => true) is the
 * specification's: unions wrapped as {"branch name": value} (null bare),
 * bytes and fixed as strings of code points U+0000..U+00FF, logical types
 * as their underlying type.  The natural form (the default) is for
 * analytics and for casting to PostgreSQL types:
 *	 - unions unwrapped to the branch's value;
 *	 - bytes and fixed as "\x" hex strings, as bytea prints ("\\x0a0b" in
 *	   JSON), so (j->>'f')::bytea round-trips;
 *	 - decimal (bytes or fixed) as a JSON number of exact value;
 *	 - uuid as its 8-4-4-4-12 string (fixed(16) uuids formatted so too);
 *	 - date as "YYYY-MM-DD"; time-millis/micros as "HH:MM:SS[.fff[fff]]";
 *	 - timestamp-millis/micros as ISO-8601 UTC "YYYY-MM-DDTHH:MM:SS[.f]Z";
 *	   local-timestamp-* the same without the "Z";
 *	 - duration as an ISO-8601 duration "P<months>M<days>DT<s.fff>S", which
 *	   the interval type reads;
 *	 - float and double as JSON numbers of their shortest exact decimal,
 *	   and NaN, Infinity, -Infinity as the strings "NaN", "Infinity",
 *	   "-Infinity" (jsonb has no NaN).
 * Encoding accepts both forms, and for logical types either the natural
 * string or the underlying number.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "common/shortest_dec.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "avro_codec.h"

/* Largest decimal, in bytes of unscaled value, we convert. */
#define AVRO_MAX_DECIMAL_BYTES 1024

#define USECS_PER_DAY_I INT64CONST(86400000000)

/* uuid on fixed(16) (Avro 1.12), which the schema model keeps as a name only */
#define IS_FIXED_UUID(s) ((s)->type == AVRO_FIXED && (s)->size == 16 && \
						  (s)->logical_name != NULL && strcmp((s)->logical_name, "uuid") == 0)

static void ValueToJsonbValue(const AvroPlan *plan, const AvroValue *v,
							  AvroJsonForm form, JsonbValue *out);


/* ----------------------------------------------------------------
 * Values to jsonb
 * ----------------------------------------------------------------
 */

/* Reject strings jsonb cannot hold; convert to the server encoding. */
static void
SetString(JsonbValue *jv, const char *p, int len)
{
	static int	server_utf8 = -1;

	if (unlikely(memchr(p, 0, len) != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("Avro value cannot be represented as jsonb"),
				 errdetail("A string contains the character U+0000, which jsonb strings cannot hold."),
				 errhint("Bytes and fixed values show as hex with avro_json => false.")));
	if (server_utf8 < 0)
		server_utf8 = (GetDatabaseEncoding() == PG_UTF8);
	if (!server_utf8)
	{
		char	   *conv = pg_any_to_server(p, len, PG_UTF8);

		if (conv != p)
		{
			p = conv;
			len = strlen(conv);
		}
	}
	jv->type = jbvString;
	jv->val.string.val = (char *) p;
	jv->val.string.len = len;
}

/* A numeric jsonb value from decimal text. */
static void
SetNumericText(JsonbValue *jv, const char *text)
{
	jv->type = jbvNumeric;
	jv->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														  CStringGetDatum(text),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
}

/*
 * The numeric numeric_in makes of the decimal text of a finite float or
 * double ("-12.5", "0.001", "1.5e+20"), built directly: numeric_in's
 * general parsing costs more than the rest of a row.  The layout is
 * numeric.c's (make_result): varlena header, then the short header
 * (sign, display scale, weight) or the long one, then base-10000 digits
 * without leading or trailing zeroes.
 */
#define NUM_DEC_DIGITS		4
#define NUM_SHORT			0x8000
#define NUM_NEG				0x4000
#define NUM_SHORT_SIGN		0x2000
#define NUM_SHORT_DSCALE_SHIFT 7
#define NUM_SHORT_DSCALE_MAX 63
#define NUM_SHORT_WEIGHT_SIGN 0x0040
#define NUM_SHORT_WEIGHT_MASK 0x003F
#define NUM_DSCALE_MASK		0x3FFF

static Numeric
NumericFromDecimal(const char *cp)
{
	uint8		dec[NUM_DEC_DIGITS + 32 + NUM_DEC_DIGITS];
	int16		digits[16];
	int			ndec = 0;
	int			dweight = -1;
	int			dscale = 0;
	bool		neg = false;
	bool		have_dp = false;
	int			weight;
	int			offset;
	int			ndigits;
	int			first;
	int			n;
	int			len;
	char	   *result;

	if (*cp == '-')
	{
		neg = true;
		cp++;
	}
	memset(dec, 0, sizeof(dec));
	for (;; cp++)
	{
		if (*cp >= '0' && *cp <= '9')
		{
			if (ndec >= 32)
				return NULL;	/* not from the shortest-decimal routines */
			dec[NUM_DEC_DIGITS + ndec++] = *cp - '0';
			if (!have_dp)
				dweight++;
			else
				dscale++;
		}
		else if (*cp == '.' && !have_dp)
			have_dp = true;
		else
			break;
	}
	if (*cp == 'e' || *cp == 'E')
	{
		char	   *end;
		long		exponent = strtol(cp + 1, &end, 10);

		if (*end != '\0' || exponent > 1000 || exponent < -1000)
			return NULL;
		dweight += (int) exponent;
		dscale -= (int) exponent;
		if (dscale < 0)
			dscale = 0;
	}
	else if (*cp != '\0')
		return NULL;

	/* to base 10000, the first digit aligned as numeric_in aligns it */
	if (dweight >= 0)
		weight = (dweight + 1 + NUM_DEC_DIGITS - 1) / NUM_DEC_DIGITS - 1;
	else
		weight = -((-dweight - 1) / NUM_DEC_DIGITS + 1);
	offset = (weight + 1) * NUM_DEC_DIGITS - (dweight + 1);
	ndigits = (ndec + offset + NUM_DEC_DIGITS - 1) / NUM_DEC_DIGITS;
	if (ndigits > lengthof(digits))
		return NULL;
	for (int i = 0, k = NUM_DEC_DIGITS - offset; i < ndigits; i++, k += NUM_DEC_DIGITS)
		digits[i] = ((dec[k] * 10 + dec[k + 1]) * 10 + dec[k + 2]) * 10 + dec[k + 3];

	/* strip leading and trailing zero digits; zero is positive, weight 0 */
	first = 0;
	n = ndigits;
	while (n > 0 && digits[first] == 0)
	{
		first++;
		weight--;
		n--;
	}
	while (n > 0 && digits[first + n - 1] == 0)
		n--;
	if (n == 0)
	{
		weight = 0;
		neg = false;
	}

	if (dscale <= NUM_SHORT_DSCALE_MAX && weight <= 63 && weight >= -64)
	{
		uint16		header = NUM_SHORT | (neg ? NUM_SHORT_SIGN : 0) |
			(dscale << NUM_SHORT_DSCALE_SHIFT) |
			(weight < 0 ? NUM_SHORT_WEIGHT_SIGN : 0) |
			(weight & NUM_SHORT_WEIGHT_MASK);

		len = VARHDRSZ + sizeof(uint16) + n * sizeof(int16);
		result = palloc(len);
		memcpy(result + VARHDRSZ, &header, sizeof(uint16));
		memcpy(result + VARHDRSZ + sizeof(uint16), digits + first, n * sizeof(int16));
	}
	else
	{
		uint16		sign_dscale = (neg ? NUM_NEG : 0) | (dscale & NUM_DSCALE_MASK);
		int16		w = (int16) weight;

		len = VARHDRSZ + sizeof(uint16) + sizeof(int16) + n * sizeof(int16);
		result = palloc(len);
		memcpy(result + VARHDRSZ, &sign_dscale, sizeof(uint16));
		memcpy(result + VARHDRSZ + sizeof(uint16), &w, sizeof(int16));
		memcpy(result + VARHDRSZ + 2 * sizeof(uint16), digits + first, n * sizeof(int16));
	}
	SET_VARSIZE(result, len);
	return (Numeric) result;
}

/* A float or double as a number, or NaN and infinities as strings. */
static void
SetDouble(JsonbValue *jv, double d, bool is_float)
{
	char		buf[64];

	if (isnan(d))
		SetString(jv, "NaN", 3);
	else if (isinf(d))
		SetString(jv, d > 0 ? "Infinity" : "-Infinity", d > 0 ? 8 : 9);
	else
	{
		Numeric		num;

		if (is_float)
			float_to_shortest_decimal_buf((float) d, buf);
		else
			double_to_shortest_decimal_buf(d, buf);
		num = NumericFromDecimal(buf);
		if (num == NULL)
			SetNumericText(jv, buf);
		else
		{
			jv->type = jbvNumeric;
			jv->val.numeric = num;
		}
	}
}

/* Split days since 1970-01-01 into a proleptic Gregorian date. */
static void
CivilFromDays(int64 z, int64 *y, int *m, int *d)
{
	int64		era;
	int64		doe;
	int64		yoe;
	int64		doy;
	int64		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64
DaysFromCivil(int64 y, int m, int d)
{
	int64		era;
	int64		yoe;
	int64		doy;
	int64		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Floor division and modulo for negative times. */
static inline int64
FloorDiv(int64 a, int64 b, int64 *rem)
{
	int64		q = a / b;
	int64		r = a % b;

	if (r < 0)
	{
		r += b;
		q--;
	}
	*rem = r;
	return q;
}

/* Append "HH:MM:SS[.frac]" for micros within a day (digits: 3 or 6). */
static int
FormatTimeOfDay(char *buf, int64 us, int digits)
{
	int			n;
	int64		secs = us / 1000000;
	int64		frac = us % 1000000;

	n = sprintf(buf, "%02d:%02d:%02d", (int) (secs / 3600),
				(int) ((secs / 60) % 60), (int) (secs % 60));
	if (frac != 0)
	{
		if (digits == 3 && frac % 1000 == 0)
			n += sprintf(buf + n, ".%03d", (int) (frac / 1000));
		else
			n += sprintf(buf + n, ".%06d", (int) frac);
	}
	return n;
}

/* Format a timestamp in micros since the epoch as ISO-8601. */
static void
SetTimestamp(JsonbValue *jv, int64 v, int64 unit, bool utc)
{
	char		buf[96];
	int64		rem;
	int64		days;
	int64		y;
	int			m,
				d;
	int			n;
	int64		us;

	days = FloorDiv(v, unit == 1000 ? INT64CONST(86400000) : USECS_PER_DAY_I, &rem);
	us = (unit == 1000) ? rem * 1000 : rem;
	CivilFromDays(days, &y, &m, &d);
	n = sprintf(buf, y >= 0 ? "%04lld-%02d-%02dT" : "%05lld-%02d-%02dT",
				(long long) y, m, d);
	n += FormatTimeOfDay(buf + n, us, unit == 1000 ? 3 : 6);
	if (utc)
		buf[n++] = 'Z';
	buf[n] = '\0';
	SetString(jv, pstrdup(buf), n);
}

/* Exact decimal text of a big-endian two's complement integer with scale. */
static char *
DecimalText(const uint8 *bytes, int len, int scale)
{
	uint8	   *mag;
	bool		neg = len > 0 && (bytes[0] & 0x80);
	char	   *digits;
	int			nd = 0;
	int			start = 0;
	StringInfoData out;

	if (len > AVRO_MAX_DECIMAL_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Avro decimal too large"),
				 errdetail("The unscaled value has %d bytes; at most %d are supported.",
						   len, AVRO_MAX_DECIMAL_BYTES)));
	mag = palloc(Max(len, 1));
	memcpy(mag, bytes, len);
	if (neg)
	{
		/* two's complement negation */
		int			carry = 1;

		for (int i = len - 1; i >= 0; i--)
		{
			int			b = (uint8) ~mag[i] + carry;

			mag[i] = (uint8) b;
			carry = b >> 8;
		}
	}
	digits = palloc(len * 3 + 2);
	/* repeated division by 10 of the base-256 magnitude */
	while (start < len)
	{
		int			r = 0;

		for (int i = start; i < len; i++)
		{
			int			cur = (r << 8) | mag[i];

			mag[i] = (uint8) (cur / 10);
			r = cur % 10;
		}
		digits[nd++] = (char) ('0' + r);
		while (start < len && mag[start] == 0)
			start++;
	}
	if (nd == 0)
		digits[nd++] = '0';
	initStringInfo(&out);
	if (neg)
		appendStringInfoChar(&out, '-');
	while (nd <= scale)
		digits[nd++] = '0';
	for (int i = nd - 1; i >= 0; i--)
	{
		appendStringInfoChar(&out, digits[i]);
		if (i == scale && scale > 0)
			appendStringInfoChar(&out, '.');
	}
	return out.data;
}

/* Bytes as "\x" hex. */
static void
SetHex(JsonbValue *jv, const char *p, int len)
{
	static const char hex[] = "0123456789abcdef";
	char	   *buf = palloc((Size) len * 2 + 3);

	buf[0] = '\\';
	buf[1] = 'x';
	for (int i = 0; i < len; i++)
	{
		buf[2 + 2 * i] = hex[((uint8) p[i]) >> 4];
		buf[3 + 2 * i] = hex[((uint8) p[i]) & 15];
	}
	jv->type = jbvString;
	jv->val.string.val = buf;
	jv->val.string.len = len * 2 + 2;
}

/* Bytes as a string of code points U+0000..U+00FF (Avro JSON). */
static void
SetCodePoints(JsonbValue *jv, const char *p, int len)
{
	char	   *buf = palloc((Size) len * 2 + 1);
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		uint8		c = (uint8) p[i];

		if (c < 0x80)
			buf[n++] = (char) c;
		else
		{
			buf[n++] = (char) (0xC0 | (c >> 6));
			buf[n++] = (char) (0x80 | (c & 0x3F));
		}
	}
	SetString(jv, buf, n);
}

/* A scalar value as a jsonb scalar in the given form. */
static void
ScalarToJsonb(const AvroValue *v, AvroJsonForm form, JsonbValue *jv)
{
	const AvroSchema *s = v->schema;
	AvroLogicalType logical = (form == AVRO_FORM_NATURAL && s) ? s->logical : AVRO_LOGICAL_NONE;
	char		buf[128];

	switch ((AvroType) v->kind)
	{
		case AVRO_NULL:
			jv->type = jbvNull;
			return;
		case AVRO_BOOLEAN:
			jv->type = jbvBool;
			jv->val.boolean = v->u.b;
			return;
		case AVRO_INT:
		case AVRO_LONG:
			switch (logical)
			{
				case AVRO_LOGICAL_DATE:
					{
						int64		y;
						int			m,
									d;
						int			n;

						CivilFromDays(v->u.i, &y, &m, &d);
						n = sprintf(buf, y >= 0 ? "%04lld-%02d-%02d" : "%05lld-%02d-%02d",
									(long long) y, m, d);
						SetString(jv, pstrdup(buf), n);
						return;
					}
				case AVRO_LOGICAL_TIME_MILLIS:
				case AVRO_LOGICAL_TIME_MICROS:
					{
						int64		us = v->u.i;
						int			n;

						if (logical == AVRO_LOGICAL_TIME_MILLIS)
							us *= 1000;
						if (us < 0 || us >= USECS_PER_DAY_I)
							break;	/* not a time of day: the number */
						n = FormatTimeOfDay(buf, us,
											logical == AVRO_LOGICAL_TIME_MILLIS ? 3 : 6);
						SetString(jv, pstrdup(buf), n);
						return;
					}
				case AVRO_LOGICAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
					SetTimestamp(jv, v->u.i, 1000,
								 logical == AVRO_LOGICAL_TIMESTAMP_MILLIS);
					return;
				case AVRO_LOGICAL_TIMESTAMP_MICROS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
					SetTimestamp(jv, v->u.i, 1000000,
								 logical == AVRO_LOGICAL_TIMESTAMP_MICROS);
					return;
				default:
					break;
			}
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(v->u.i);
			return;
		case AVRO_FLOAT:
			SetDouble(jv, v->u.f, true);
			return;
		case AVRO_DOUBLE:
			SetDouble(jv, v->u.d, false);
			return;
		case AVRO_STRING:
			SetString(jv, v->u.p, v->len);
			return;
		case AVRO_BYTES:
		case AVRO_FIXED:
			if (logical == AVRO_LOGICAL_DECIMAL)
			{
				SetNumericText(jv, DecimalText((const uint8 *) v->u.p, v->len, s->scale));
				return;
			}
			if (form == AVRO_FORM_NATURAL && IS_FIXED_UUID(s))
			{
				const uint8 *u = (const uint8 *) v->u.p;
				int			n = 0;

				for (int i = 0; i < 16; i++)
				{
					if (i == 4 || i == 6 || i == 8 || i == 10)
						buf[n++] = '-';
					n += sprintf(buf + n, "%02x", u[i]);
				}
				SetString(jv, pstrdup(buf), n);
				return;
			}
			if (logical == AVRO_LOGICAL_DURATION && v->len == 12)
			{
				uint32		part[3];
				int			n;

				for (int i = 0; i < 3; i++)
				{
					const uint8 *b = (const uint8 *) v->u.p + 4 * i;

					part[i] = b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32) b[3] << 24);
				}
				n = sprintf(buf, "P%uM%uDT%u.%03uS", part[0], part[1],
							part[2] / 1000, part[2] % 1000);
				SetString(jv, pstrdup(buf), n);
				return;
			}
			if (form == AVRO_FORM_NATURAL)
				SetHex(jv, v->u.p, v->len);
			else
				SetCodePoints(jv, v->u.p, v->len);
			return;
		case AVRO_ENUM:
			{
				const char *sym = s->symbols[v->u.i];

				SetString(jv, sym, strlen(sym));
				return;
			}
		default:
			elog(ERROR, "unexpected Avro value kind %d", v->kind);
	}
}

/* The name of a union branch in the Avro JSON encoding. */
static const char *
BranchName(const AvroSchema *s)
{
	if (AVRO_TYPE_IS_NAMED(s->type))
		return s->fullname;
	return AvroTypeName(s->type);
}

/*
 * Order the pairs of an object as jsonb does (pushJsonbValue's
 * uniqueifyJsonbObject): shorter keys first, then bytewise; of equal keys
 * the last one pushed wins.
 */
static int
ComparePairs(const void *a, const void *b, void *arg)
{
	const JsonbPair *pa = (const JsonbPair *) a;
	const JsonbPair *pb = (const JsonbPair *) b;
	int			res;

	if (pa->key.val.string.len != pb->key.val.string.len)
		return pa->key.val.string.len > pb->key.val.string.len ? 1 : -1;
	res = memcmp(pa->key.val.string.val, pb->key.val.string.val,
				 pa->key.val.string.len);
	if (res == 0)
	{
		*(bool *) arg = true;
		res = (pa->order > pb->order) ? -1 : 1;
	}
	return res;
}

/* Sort an object's pairs and drop duplicate keys, as jsonb does. */
static void
SortPairs(JsonbValue *obj)
{
	JsonbPair  *pairs = obj->val.object.pairs;
	int			n = obj->val.object.nPairs;
	bool		dups = false;

	if (n > 1)
		qsort_arg(pairs, n, sizeof(JsonbPair), ComparePairs, &dups);
	if (dups)
	{
		int			kept = 0;

		for (int i = 1; i < n; i++)
		{
			if (pairs[i].key.val.string.len == pairs[kept].key.val.string.len &&
				memcmp(pairs[i].key.val.string.val, pairs[kept].key.val.string.val,
					   pairs[i].key.val.string.len) == 0)
				continue;
			pairs[++kept] = pairs[i];
		}
		obj->val.object.nPairs = kept + 1;
	}
}

/* Set a jsonb string value to a schema name (UTF-8 NUL-free already). */
static inline void
SetKey(JsonbValue *jv, const char *name, int len)
{
	jv->type = jbvString;
	jv->val.string.val = (char *) name;
	jv->val.string.len = len;
}

/*
 * Convert a value to a JsonbValue tree.  Objects are built with their
 * pairs already in jsonb's order (records in the plan's precomputed key
 * order), for JsonbValueToJsonb to serialize without sorting.
 */
static void
ValueToJsonbValue(const AvroPlan *plan, const AvroValue *v, AvroJsonForm form,
				  JsonbValue *out)
{
	if (form == AVRO_FORM_AVRO_JSON && v->branch >= 0 && v->kind != AVRO_NULL)
	{
		/* Avro JSON: a union value as {"branch name": value} */
		const char *name = BranchName(v->schema);
		JsonbPair  *pair = palloc(sizeof(JsonbPair));
		AvroValue	bare = *v;

		bare.branch = -1;
		SetKey(&pair->key, name, strlen(name));
		pair->order = 0;
		ValueToJsonbValue(plan, &bare, form, &pair->value);
		out->type = jbvObject;
		out->val.object.nPairs = 1;
		out->val.object.pairs = pair;
		return;
	}

	switch ((AvroType) v->kind)
	{
		case AVRO_RECORD:
			{
				const AvroJsonKey *keys = plan ? AvroPlanJsonKeys(plan, v->schema) : NULL;
				JsonbPair  *pairs = palloc(sizeof(JsonbPair) * Max(v->len, 1));

				check_stack_depth();
				out->type = jbvObject;
				out->val.object.nPairs = v->len;
				out->val.object.pairs = pairs;
				if (keys != NULL)
				{
					for (int i = 0; i < v->len; i++)
					{
						SetKey(&pairs[i].key, keys[i].name, keys[i].len);
						pairs[i].order = i;
						ValueToJsonbValue(plan, &v->u.v[keys[i].field], form,
										  &pairs[i].value);
					}
				}
				else
				{
					for (int f = 0; f < v->len; f++)
					{
						const char *name = v->schema->fields[f].name;

						SetKey(&pairs[f].key, name, strlen(name));
						pairs[f].order = f;
						ValueToJsonbValue(plan, &v->u.v[f], form, &pairs[f].value);
					}
					SortPairs(out);
				}
				return;
			}
		case AVRO_ARRAY:
			{
				JsonbValue *elems = palloc(sizeof(JsonbValue) * Max(v->len, 1));

				check_stack_depth();
				for (int i = 0; i < v->len; i++)
				{
					if ((i & 0xfff) == 0xfff)
						CHECK_FOR_INTERRUPTS();
					ValueToJsonbValue(plan, &v->u.v[i], form, &elems[i]);
				}
				out->type = jbvArray;
				out->val.array.nElems = v->len;
				out->val.array.elems = elems;
				out->val.array.rawScalar = false;
				return;
			}
		case AVRO_MAP:
			{
				JsonbPair  *pairs = palloc(sizeof(JsonbPair) * Max(v->len, 1));

				check_stack_depth();
				for (int i = 0; i < v->len; i++)
				{
					const AvroValue *k = &v->u.v[2 * i];

					if ((i & 0xfff) == 0xfff)
						CHECK_FOR_INTERRUPTS();
					SetString(&pairs[i].key, k->u.p, k->len);
					pairs[i].order = i;
					ValueToJsonbValue(plan, &v->u.v[2 * i + 1], form, &pairs[i].value);
				}
				out->type = jbvObject;
				out->val.object.nPairs = v->len;
				out->val.object.pairs = pairs;
				SortPairs(out);
				return;
			}
		default:
			ScalarToJsonb(v, form, out);
			return;
	}
}

/* A decoded value as jsonb. */
Jsonb *
AvroValueToJsonb(const AvroValue *v, AvroJsonForm form)
{
	return AvroPlanValueToJsonb(NULL, v, form);
}

/* A value the plan decoded (plan may be NULL) as jsonb. */
Jsonb *
AvroPlanValueToJsonb(const AvroPlan *plan, const AvroValue *v, AvroJsonForm form)
{
	JsonbValue	jv;

	ValueToJsonbValue(plan, v, form, &jv);
	return JsonbValueToJsonb(&jv);
}


/* ----------------------------------------------------------------
 * jsonb to values (encoding)
 * ----------------------------------------------------------------
 */

typedef struct EncodeContext
{
	MemoryContext cxt;
	StringInfoData path;		/* "$.a.b[3]" of the value being converted */
	int			depth;
	int			errcode;
	char	   *errpath;		/* first failure: where ... */
	char	   *errdetail;		/* ... and what was expected */
	int			trying;			/* inside a union's trial of a branch */
	bool		strict;			/* union first pass: exact JSON kinds only */
} EncodeContext;

static bool FromJsonb(EncodeContext *e, const JsonbValue *jv,
					  const AvroSchema *s, AvroValue *out);

/* Describe a jsonb value's type for messages. */
static const char *
JvTypeName(const JsonbValue *jv)
{
	switch (jv->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(jv->val.binary.data) ? "array" : "object";
		case jbvArray:
			return "array";
		case jbvObject:
			return "object";
		default:
			return "value";
	}
}

/* Record a failure at the current path; always returns false. */
static bool
EncodeFail(EncodeContext *e, int code, const char *fmt,...) pg_attribute_printf(3, 4);

static bool
EncodeFail(EncodeContext *e, int code, const char *fmt,...)
{
	va_list		ap;
	StringInfoData buf;

	if (e->errdetail != NULL)
		return false;
	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	e->errcode = code;
	e->errpath = pstrdup(e->path.len > 0 ? e->path.data : "$");
	e->errdetail = buf.data;
	return false;
}

/* Expected-type failure. */
static bool
Mismatch(EncodeContext *e, const AvroSchema *s, const JsonbValue *jv)
{
	return EncodeFail(e, ERRCODE_DATATYPE_MISMATCH, "Expected %s, got %s.",
					  s->logical_name && s->logical != AVRO_LOGICAL_NONE ?
					  psprintf("%s (%s)", AvroSchemaDescribe(s), s->logical_name) :
					  AvroSchemaDescribe(s),
					  JvTypeName(jv));
}

/* A numeric as text. */
static char *
NumericText(const JsonbValue *jv)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(jv->val.numeric)));
}

/* An integral numeric as int64; false if fractional or out of range. */
static bool
NumericToInt64(const JsonbValue *jv, int64 *out)
{
	char	   *t = NumericText(jv);
	char	   *dot = strchr(t, '.');
	char	   *end;

	if (strchr(t, 'N'))
		return false;			/* NaN */
	if (dot)
	{
		for (char *p = dot + 1; *p; p++)
			if (*p != '0')
				return false;
		*dot = '\0';
	}
	errno = 0;
	*out = strtoll(t, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Parse exactly n decimal digits. */
static bool
Digits(const char **p, const char *end, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (*p >= end || !isdigit((unsigned char) **p))
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return true;
}

/* Parse "HH:MM[:SS[.ffffff]]" into micros since midnight. */
static bool
ParseTime(const char **pp, const char *end, int64 *us)
{
	const char *p = *pp;
	int			h,
				mi,
				sec = 0;
	int64		frac = 0;

	if (!Digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !Digits(&p, end, 2, &mi))
		return false;
	if (p < end && *p == ':')
	{
		p++;
		if (!Digits(&p, end, 2, &sec))
			return false;
		if (p < end && *p == '.')
		{
			int			nd = 0;

			p++;
			while (p < end && isdigit((unsigned char) *p))
			{
				if (nd < 6)
					frac = frac * 10 + (*p - '0');
				nd++;
				p++;
			}
			if (nd == 0)
				return false;
			for (; nd < 6; nd++)
				frac *= 10;
		}
	}
	if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi || sec || frac)))
		return false;
	*us = ((int64) h * 3600 + mi * 60 + sec) * 1000000 + frac;
	*pp = p;
	return true;
}

/* Parse "[-]YYYY-MM-DD" into days since the epoch. */
static bool
ParseDate(const char **pp, const char *end, int64 *days)
{
	const char *p = *pp;
	bool		neg = false;
	int64		y = 0;
	int			nd = 0;
	int			m,
				d;

	if (p < end && (*p == '-' || *p == '+'))
		neg = (*p++ == '-');
	while (p < end && isdigit((unsigned char) *p) && nd < 9)
	{
		y = y * 10 + (*p++ - '0');
		nd++;
	}
	if (nd < 4 || p >= end || *p++ != '-' || !Digits(&p, end, 2, &m) ||
		p >= end || *p++ != '-' || !Digits(&p, end, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	*days = DaysFromCivil(neg ? -y : y, m, d);
	*pp = p;
	return true;
}

/* Parse an ISO-8601 timestamp into micros since the epoch (UTC). */
static bool
ParseTimestamp(const char *p, int len, int64 *us)
{
	const char *end = p + len;
	int64		days;
	int64		tod = 0;

	if (!ParseDate(&p, end, &days))
		return false;
	if (p < end && (*p == 'T' || *p == ' '))
	{
		p++;
		if (!ParseTime(&p, end, &tod))
			return false;
	}
	if (p < end)
	{
		if (*p == 'Z' && p + 1 == end)
			p++;
		else if (*p == '+' || *p == '-')
		{
			int			sign = (*p++ == '-') ? -1 : 1;
			int			oh,
						om = 0;

			if (!Digits(&p, end, 2, &oh))
				return false;
			if (p < end && *p == ':')
				p++;
			if (p < end && !Digits(&p, end, 2, &om))
				return false;
			tod -= sign * ((int64) oh * 3600 + om * 60) * 1000000;
		}
	}
	if (p != end)
		return false;
	if (pg_mul_s64_overflow(days, USECS_PER_DAY_I, us) ||
		pg_add_s64_overflow(*us, tod, us))
		return false;
	return true;
}

/* Parse an ISO-8601 duration "PnYnMnDTnHnMnS" into Avro's three parts. */
static bool
ParseDuration(const char *p, int len, uint32 part[3])
{
	const char *end = p + len;
	bool		in_time = false;
	int64		months = 0,
				days = 0,
				ms = 0;

	if (p >= end || *p++ != 'P')
		return false;
	while (p < end)
	{
		int64		n = 0;
		int64		frac = 0;
		int			nd = 0;
		int			fd = 0;

		if (*p == 'T')
		{
			in_time = true;
			p++;
			continue;
		}
		while (p < end && isdigit((unsigned char) *p) && nd < 12)
		{
			n = n * 10 + (*p++ - '0');
			nd++;
		}
		if (p < end && *p == '.')
		{
			p++;
			while (p < end && isdigit((unsigned char) *p))
			{
				if (fd < 3)
				{
					frac = frac * 10 + (*p - '0');
					fd++;
				}
				p++;
			}
			for (; fd < 3; fd++)
				frac *= 10;
		}
		if (nd == 0 || p >= end)
			return false;
		switch (*p++)
		{
			case 'Y':
				months += n * 12;
				break;
			case 'M':
				if (in_time)
					ms += n * 60000;
				else
					months += n;
				break;
			case 'W':
				days += n * 7;
				break;
			case 'D':
				days += n;
				break;
			case 'H':
				ms += n * 3600000;
				break;
			case 'S':
				ms += n * 1000 + frac;
				break;
			default:
				return false;
		}
		if (frac != 0 && p[-1] != 'S')
			return false;
	}
	if (months > PG_UINT32_MAX || days > PG_UINT32_MAX || ms > PG_UINT32_MAX)
		return false;
	part[0] = (uint32) months;
	part[1] = (uint32) days;
	part[2] = (uint32) ms;
	return true;
}

/* Bytes from a "\x" hex string or from code points U+0000..U+00FF. */
static bool
StringToBytes(const char *p, int len, char **out, int *outlen)
{
	char	   *buf;
	int			n = 0;
	bool		hex = len >= 2 && p[0] == '\\' && p[1] == 'x' && len % 2 == 0;

	for (int i = 2; hex && i < len; i++)
		if (!isxdigit((unsigned char) p[i]))
			hex = false;
	buf = palloc(len + 1);
	if (hex)
	{
		for (int i = 2; i < len; i += 2)
		{
			int			hi = isdigit((unsigned char) p[i]) ? p[i] - '0' : (tolower((unsigned char) p[i]) - 'a' + 10);
			int			lo = isdigit((unsigned char) p[i + 1]) ? p[i + 1] - '0' : (tolower((unsigned char) p[i + 1]) - 'a' + 10);

			buf[n++] = (char) ((hi << 4) | lo);
		}
	}
	else
	{
		const uint8 *q = (const uint8 *) p;
		const uint8 *end = q + len;

		while (q < end)
		{
			if (*q < 0x80)
				buf[n++] = (char) *q++;
			else if ((*q == 0xC2 || *q == 0xC3) && q + 1 < end)
			{
				buf[n++] = (char) (((q[0] & 0x1F) << 6) | (q[1] & 0x3F));
				q += 2;
			}
			else
				return false;
		}
	}
	*out = buf;
	*outlen = n;
	return true;
}

/* A decimal number as big-endian two's complement unscaled bytes. */
static bool
DecimalBytes(EncodeContext *e, const AvroSchema *s, const JsonbValue *jv,
			 int size, char **out, int *outlen)
{
	char	   *t = NumericText(jv);
	bool		neg = (*t == '-');
	char	   *digits = palloc(strlen(t) + s->scale + 2);
	int			nd = 0;
	int			fd = -1;
	uint8	   *mag;
	int			maglen;
	int			len;

	if (strchr(t, 'N') || strchr(t, 'I') || strchr(t, 'i'))
		return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						  "Expected a finite decimal, got %s.", t);
	for (char *p = t + (neg ? 1 : 0); *p; p++)
	{
		if (*p == '.')
			fd = 0;
		else
		{
			if (fd >= 0 && fd >= s->scale)
			{
				if (*p != '0')
					return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
									  "Decimal %s has more than %d digits after the point (the scale).",
									  t, s->scale);
				continue;
			}
			digits[nd++] = *p;
			if (fd >= 0)
				fd++;
		}
	}
	for (int k = Max(fd, 0); k < s->scale; k++)
		digits[nd++] = '0';
	if (s->precision > 0)
	{
		int			sig = 0;
		int			i = 0;

		while (i < nd - 1 && digits[i] == '0')
			i++;
		sig = nd - i;
		if (sig > s->precision && !(sig == 1 && digits[i] == '0'))
			return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
							  "Decimal %s has more than %d significant digits (the precision).",
							  t, s->precision);
	}
	if (nd > AVRO_MAX_DECIMAL_BYTES * 2)
		return EncodeFail(e, ERRCODE_PROGRAM_LIMIT_EXCEEDED, "Decimal %s is too large.", t);
	/* decimal digits to base 256 magnitude, little-endian */
	mag = palloc0(nd + 1);
	maglen = 0;
	for (int i = 0; i < nd; i++)
	{
		int			carry = digits[i] - '0';

		for (int k = 0; k < maglen; k++)
		{
			int			cur = mag[k] * 10 + carry;

			mag[k] = (uint8) cur;
			carry = cur >> 8;
		}
		while (carry)
		{
			mag[maglen++] = (uint8) carry;
			carry >>= 8;
		}
	}
	/* minimal two's complement length */
	len = maglen + 1;
	{
		uint8	   *tc = palloc0(len);

		for (int k = 0; k < maglen; k++)
			tc[k] = mag[k];
		if (neg)
		{
			int			carry = 1;

			for (int k = 0; k < len; k++)
			{
				int			b = (uint8) ~tc[k] + carry;

				tc[k] = (uint8) b;
				carry = b >> 8;
			}
		}
		/* drop redundant sign bytes */
		while (len > 1 &&
			   ((tc[len - 1] == 0x00 && !(tc[len - 2] & 0x80)) ||
				(tc[len - 1] == 0xFF && (tc[len - 2] & 0x80))))
			len--;
		if (size > 0)
		{
			if (len > size)
				return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
								  "Decimal %s does not fit in fixed of %d bytes.", t, size);
			*out = palloc(size);
			for (int k = 0; k < size; k++)
				(*out)[size - 1 - k] = (char) (k < len ? tc[k] : (neg ? 0xFF : 0x00));
			*outlen = size;
		}
		else
		{
			*out = palloc(len);
			for (int k = 0; k < len; k++)
				(*out)[len - 1 - k] = (char) tc[k];
			*outlen = len;
		}
	}
	return true;
}

/* The text of a string jsonb value as a C string. */
static char *
JvCString(const JsonbValue *jv)
{
	return pnstrdup(jv->val.string.val, jv->val.string.len);
}

/* Convert a scalar or container jsonb value to a value of a non-union schema. */
static bool
FromJsonbTyped(EncodeContext *e, const JsonbValue *jv, const AvroSchema *s,
			   AvroValue *out)
{
	AvroLogicalType logical = s->logical;
	bool		strict = e->strict;
	bool		hexform = jv->type == jbvString && jv->val.string.len >= 2 &&
		jv->val.string.val[0] == '\\' && jv->val.string.val[1] == 'x';

	/*
	 * A union's first pass takes a branch only for the value's own kind: a
	 * "\x" string for bytes and fixed, other strings for string, numbers
	 * (not "NaN") for float and double.
	 */
	e->strict = false;
	if (strict &&
		(((s->type == AVRO_BYTES || s->type == AVRO_FIXED) && jv->type == jbvString &&
		  !hexform && logical == AVRO_LOGICAL_NONE && !IS_FIXED_UUID(s)) ||
		 (s->type == AVRO_STRING && hexform) ||
		 ((s->type == AVRO_FLOAT || s->type == AVRO_DOUBLE) && jv->type == jbvString)))
		return Mismatch(e, s, jv);

	out->kind = s->type;
	out->schema = s;
	out->branch = -1;
	out->len = 0;

	switch (s->type)
	{
		case AVRO_NULL:
			return jv->type == jbvNull ? true : Mismatch(e, s, jv);
		case AVRO_BOOLEAN:
			if (jv->type != jbvBool)
				return Mismatch(e, s, jv);
			out->u.b = jv->val.boolean;
			return true;
		case AVRO_INT:
		case AVRO_LONG:
			if (jv->type == jbvNumeric)
			{
				if (!NumericToInt64(jv, &out->u.i) ||
					(s->type == AVRO_INT && (out->u.i < PG_INT32_MIN || out->u.i > PG_INT32_MAX)))
					return EncodeFail(e, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									  "Expected %s, got %s, which is not an integer in its range.",
									  AvroSchemaDescribe(s), NumericText(jv));
				return true;
			}
			if (jv->type == jbvString && logical != AVRO_LOGICAL_NONE)
			{
				const char *p = jv->val.string.val;
				const char *end = p + jv->val.string.len;
				int64		v;
				bool		ok = false;

				switch (logical)
				{
					case AVRO_LOGICAL_DATE:
						ok = ParseDate(&p, end, &v) && p == end &&
							v >= PG_INT32_MIN && v <= PG_INT32_MAX;
						break;
					case AVRO_LOGICAL_TIME_MILLIS:
					case AVRO_LOGICAL_TIME_MICROS:
						ok = ParseTime(&p, end, &v) && p == end;
						if (logical == AVRO_LOGICAL_TIME_MILLIS)
							v /= 1000;
						break;
					case AVRO_LOGICAL_TIMESTAMP_MILLIS:
					case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
						{
							int64		rem;

							ok = ParseTimestamp(p, end - p, &v);
							v = FloorDiv(v, 1000, &rem);
							break;
						}
					case AVRO_LOGICAL_TIMESTAMP_MICROS:
					case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
						ok = ParseTimestamp(p, end - p, &v);
						break;
					default:
						break;
				}
				if (!ok)
					return EncodeFail(e, ERRCODE_INVALID_DATETIME_FORMAT,
									  "Expected %s (%s), got string \"%s\", which is not a valid %s.",
									  AvroSchemaDescribe(s), s->logical_name,
									  JvCString(jv), s->logical_name);
				out->u.i = v;
				return true;
			}
			return Mismatch(e, s, jv);
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			{
				double		d;

				if (jv->type == jbvNumeric)
				{
					char	   *t = NumericText(jv);
					char	   *end;

					errno = 0;
					d = strtod(t, &end);
					if (*end != '\0' || (errno == ERANGE && isinf(d)) ||
						(s->type == AVRO_FLOAT && isinf((float) d)))
						return EncodeFail(e, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										  "Expected %s, got %s, which is out of its range.",
										  AvroSchemaDescribe(s), t);
				}
				else if (jv->type == jbvString)
				{
					char	   *t = JvCString(jv);

					if (strcmp(t, "NaN") == 0)
						d = NAN;
					else if (strcmp(t, "Infinity") == 0)
						d = INFINITY;
					else if (strcmp(t, "-Infinity") == 0)
						d = -INFINITY;
					else
						return Mismatch(e, s, jv);
				}
				else
					return Mismatch(e, s, jv);
				if (s->type == AVRO_FLOAT)
					out->u.f = (float) d;
				else
					out->u.d = d;
				return true;
			}
		case AVRO_STRING:
			if (jv->type != jbvString)
				return Mismatch(e, s, jv);
			if (logical == AVRO_LOGICAL_UUID)
			{
				const char *p = jv->val.string.val;
				bool		ok = jv->val.string.len == 36;

				for (int i = 0; ok && i < 36; i++)
					ok = (i == 8 || i == 13 || i == 18 || i == 23) ?
						p[i] == '-' : isxdigit((unsigned char) p[i]);
				if (!ok)
					return EncodeFail(e, ERRCODE_INVALID_TEXT_REPRESENTATION,
									  "Expected string (uuid), got \"%s\", which is not a UUID.",
									  JvCString(jv));
			}
			{
				/* jsonb text is in the server encoding; Avro strings are UTF-8 */
				char	   *t = pg_server_to_any(jv->val.string.val,
												 jv->val.string.len, PG_UTF8);

				out->u.p = t;
				out->len = (t == jv->val.string.val) ? jv->val.string.len : strlen(t);
			}
			return true;
		case AVRO_BYTES:
		case AVRO_FIXED:
			{
				char	   *b = NULL;
				int			n = 0;
				int			size = s->type == AVRO_FIXED ? s->size : 0;
				uint32		part[3];

				if (logical == AVRO_LOGICAL_DECIMAL && jv->type == jbvNumeric)
				{
					if (!DecimalBytes(e, s, jv, size, &b, &n))
						return false;
				}
				else if (jv->type == jbvString && IS_FIXED_UUID(s) &&
						 jv->val.string.len == 36)
				{
					const char *p = jv->val.string.val;

					b = palloc(16);
					n = 0;
					for (int i = 0; i < 36 && n <= 16; i++)
					{
						int			hi,
									lo;

						if (p[i] == '-')
							continue;
						if (i + 1 >= 36 || !isxdigit((unsigned char) p[i]) ||
							!isxdigit((unsigned char) p[i + 1]) || n >= 16)
							return EncodeFail(e, ERRCODE_INVALID_TEXT_REPRESENTATION,
											  "Expected fixed (uuid), got \"%s\", which is not a UUID.",
											  JvCString(jv));
						hi = isdigit((unsigned char) p[i]) ? p[i] - '0' : tolower((unsigned char) p[i]) - 'a' + 10;
						lo = isdigit((unsigned char) p[i + 1]) ? p[i + 1] - '0' : tolower((unsigned char) p[i + 1]) - 'a' + 10;
						b[n++] = (char) ((hi << 4) | lo);
						i++;
					}
				}
				else if (jv->type == jbvString && logical == AVRO_LOGICAL_DURATION &&
						 size == 12 &&
						 ParseDuration(jv->val.string.val, jv->val.string.len, part))
				{
					/* an ISO-8601 duration; other strings are code points */
					b = palloc(12);
					for (int i = 0; i < 3; i++)
						for (int k = 0; k < 4; k++)
							b[4 * i + k] = (char) (part[i] >> (8 * k));
					n = 12;
				}
				else if (jv->type == jbvString)
				{
					if (!StringToBytes(jv->val.string.val, jv->val.string.len, &b, &n))
						return EncodeFail(e, ERRCODE_INVALID_TEXT_REPRESENTATION,
										  "Expected %s, got a string that is neither \"\\x\" hex nor code points U+0000..U+00FF.",
										  AvroSchemaDescribe(s));
				}
				else
					return Mismatch(e, s, jv);
				if (size > 0 && n != size)
					return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
									  "Expected %s of %d bytes, got %d bytes.",
									  AvroSchemaDescribe(s), size, n);
				out->u.p = b;
				out->len = n;
				return true;
			}
		case AVRO_ENUM:
			if (jv->type != jbvString)
				return Mismatch(e, s, jv);
			for (int k = 0; k < s->nsymbols; k++)
				if (strlen(s->symbols[k]) == jv->val.string.len &&
					memcmp(s->symbols[k], jv->val.string.val, jv->val.string.len) == 0)
				{
					out->u.i = k;
					return true;
				}
			return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
							  "Expected a symbol of enum %s, got \"%s\".",
							  AvroSchemaDescribe(s), JvCString(jv));
		case AVRO_ARRAY:
			{
				JsonbContainer *jc;
				int			n;
				int			plen = e->path.len;

				if (jv->type != jbvBinary || !JsonContainerIsArray(jv->val.binary.data) ||
					JsonContainerIsScalar(jv->val.binary.data))
					return Mismatch(e, s, jv);
				jc = jv->val.binary.data;
				n = JsonContainerSize(jc);
				out->len = n;
				out->u.v = palloc0(sizeof(AvroValue) * Max(n, 1));
				for (int i = 0; i < n; i++)
				{
					JsonbValue *elem = getIthJsonbValueFromContainer(jc, i);

					appendStringInfo(&e->path, "[%d]", i);
					if (!FromJsonb(e, elem, s->items, &out->u.v[i]))
						return false;
					e->path.len = plen;
					e->path.data[plen] = '\0';
				}
				return true;
			}
		case AVRO_MAP:
		case AVRO_RECORD:
			{
				JsonbContainer *jc;
				JsonbIterator *it;
				JsonbIteratorToken tok;
				JsonbValue	k,
							v;
				int			n;
				int			i = 0;
				int			plen = e->path.len;
				bool	   *seen = NULL;

				if (jv->type != jbvBinary || !JsonContainerIsObject(jv->val.binary.data))
					return Mismatch(e, s, jv);
				jc = jv->val.binary.data;
				n = JsonContainerSize(jc);
				if (s->type == AVRO_MAP)
				{
					out->len = n;
					out->u.v = palloc0(sizeof(AvroValue) * Max(2 * n, 1));
				}
				else
				{
					out->len = s->nfields;
					out->u.v = palloc0(sizeof(AvroValue) * Max(s->nfields, 1));
					seen = palloc0(sizeof(bool) * Max(s->nfields, 1));
				}
				it = JsonbIteratorInit(jc);
				while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
				{
					AvroValue  *target;
					const AvroSchema *ts;

					if (tok != WJB_KEY)
						continue;
					tok = JsonbIteratorNext(&it, &v, true);
					Assert(tok == WJB_VALUE);
					appendStringInfo(&e->path, ".%.*s", k.val.string.len, k.val.string.val);
					if (s->type == AVRO_MAP)
					{
						AvroValue  *key = &out->u.v[2 * i];
						char	   *t = pg_server_to_any(k.val.string.val, k.val.string.len, PG_UTF8);

						key->kind = AVRO_STRING;
						key->branch = -1;
						key->u.p = t;
						key->len = (t == k.val.string.val) ? k.val.string.len : strlen(t);
						target = &out->u.v[2 * i + 1];
						ts = s->items;
						i++;
					}
					else
					{
						int			f;

						for (f = 0; f < s->nfields; f++)
							if (strlen(s->fields[f].name) == k.val.string.len &&
								memcmp(s->fields[f].name, k.val.string.val, k.val.string.len) == 0)
								break;
						if (f == s->nfields)
							return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
											  "Record %s has no field \"%.*s\".",
											  AvroSchemaDescribe(s),
											  k.val.string.len, k.val.string.val);
						seen[f] = true;
						target = &out->u.v[f];
						ts = s->fields[f].type;
					}
					if (!FromJsonb(e, &v, ts, target))
						return false;
					e->path.len = plen;
					e->path.data[plen] = '\0';
				}
				for (int f = 0; seen && f < s->nfields; f++)
				{
					char	   *err = NULL;

					if (seen[f])
						continue;
					if (s->fields[f].default_value == NULL)
					{
						appendStringInfo(&e->path, ".%s", s->fields[f].name);
						return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
										  "Field \"%s\" of %s is missing and has no default.",
										  s->fields[f].name, AvroSchemaDescribe(s));
					}
					if (!AvroValueFromDefault(s->fields[f].default_value,
											  s->fields[f].type, CurrentMemoryContext,
											  &out->u.v[f], &err))
					{
						appendStringInfo(&e->path, ".%s", s->fields[f].name);
						return EncodeFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
										  "Field \"%s\" is missing and its default is invalid: %s.",
										  s->fields[f].name, err);
					}
				}
				return true;
			}
		case AVRO_UNION:
			break;
	}
	elog(ERROR, "unexpected Avro type %d", s->type);
	return false;
}

/* Convert a jsonb value to a value of schema s (which may be a union). */
static bool
FromJsonb(EncodeContext *e, const JsonbValue *jv, const AvroSchema *s,
		  AvroValue *out)
{
	char	   *best_path = NULL;
	char	   *best_detail = NULL;
	int			best_code = 0;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (s->type != AVRO_UNION)
		return FromJsonbTyped(e, jv, s, out);

	/* Avro JSON: {"branch name": value} */
	if (jv->type == jbvBinary && JsonContainerIsObject(jv->val.binary.data) &&
		JsonContainerSize(jv->val.binary.data) == 1)
	{
		JsonbIterator *it = JsonbIteratorInit(jv->val.binary.data);
		JsonbValue	k,
					v;

		(void) JsonbIteratorNext(&it, &k, true);	/* BEGIN_OBJECT */
		if (JsonbIteratorNext(&it, &k, true) == WJB_KEY &&
			JsonbIteratorNext(&it, &v, true) == WJB_VALUE)
		{
			for (int j = 0; j < s->nbranches; j++)
			{
				const AvroSchema *b = s->branches[j];
				const char *name = BranchName(b);

				if ((strlen(name) == k.val.string.len &&
					 memcmp(name, k.val.string.val, k.val.string.len) == 0) ||
					(AVRO_TYPE_IS_NAMED(b->type) && strlen(b->name) == k.val.string.len &&
					 memcmp(b->name, k.val.string.val, k.val.string.len) == 0))
				{
					char	   *saved = e->errdetail;

					e->errdetail = NULL;
					e->trying++;
					if (FromJsonbTyped(e, &v, b, out))
					{
						e->trying--;
						e->errdetail = saved;
						out->branch = j;
						return true;
					}
					e->trying--;
					/* a record with one field named like a branch: try unwrapped */
					e->errdetail = saved;
				}
			}
		}
	}

	/*
	 * Natural form: the first branch the value conforms to.  When every
	 * branch fails, report the failure that got deepest into the value (a
	 * record branch with one bad field), else list the branches.
	 */
	for (int k = 0; k < 2 * s->nbranches; k++)
	{
		int			j = k % s->nbranches;
		char	   *saved = e->errdetail;
		int			plen = e->path.len;

		e->errdetail = NULL;
		e->trying++;
		e->strict = (k < s->nbranches);
		if (FromJsonbTyped(e, jv, s->branches[j], out))
		{
			e->trying--;
			e->errdetail = saved;
			out->branch = j;
			return true;
		}
		e->trying--;
		if (e->errdetail != NULL && strlen(e->errpath) > plen &&
			(best_path == NULL || strlen(e->errpath) > strlen(best_path)))
		{
			best_path = e->errpath;
			best_detail = e->errdetail;
			best_code = e->errcode;
		}
		e->errdetail = saved;
		e->path.len = plen;
		e->path.data[plen] = '\0';
	}
	if (best_path != NULL && e->errdetail == NULL)
	{
		e->errpath = best_path;
		e->errdetail = best_detail;
		e->errcode = best_code;
		return false;
	}
	{
		StringInfoData names;

		initStringInfo(&names);
		for (int j = 0; j < s->nbranches; j++)
			appendStringInfo(&names, "%s%s", j ? ", " : "",
							 AvroSchemaDescribe(s->branches[j]));
		return EncodeFail(e, ERRCODE_DATATYPE_MISMATCH,
						  "Expected one of the union's branches [%s], got %s.",
						  names.data, JvTypeName(jv));
	}
}

/* Convert jsonb to a value of schema, or ereport where it does not conform. */
void
AvroValueFromJsonb(Jsonb *jb, const AvroSchema *schema, MemoryContext cxt,
				   AvroValue *out)
{
	EncodeContext e;
	JsonbValue	jv;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(&e, 0, sizeof(e));
	e.cxt = cxt;
	initStringInfo(&e.path);
	appendStringInfoChar(&e.path, '$');
	if (JB_ROOT_IS_SCALAR(jb))
		JsonbExtractScalar(&jb->root, &jv);
	else
	{
		jv.type = jbvBinary;
		jv.val.binary.data = &jb->root;
		jv.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
	if (!FromJsonb(&e, &jv, schema, out))
		ereport(ERROR,
				(errcode(e.errcode),
				 errmsg("value at %s does not conform to the Avro schema", e.errpath),
				 errdetail_internal("%s", e.errdetail)));
	MemoryContextSwitchTo(old);
}
