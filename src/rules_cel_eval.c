/*-------------------------------------------------------------------------
 *
 * rules_cel_eval.c
 *	  The CEL evaluator: walks a compiled program over CelValues, with
 *	  CEL's error values, commutative && and ||, and bounded work.
 *
 * Errors are values (CEL_ERROR) until they reach the top, so that
 * "false && (1/0 == 1)" is false and "error || true" is true.  Every node
 * visited, every comprehension iteration and every 16 bytes allocated
 * count as a step; past CEL_MAX_STEPS the evaluation fails with an error
 * that no operator absorbs.  Recursion is bounded by the tree's height,
 * which the parser bounds by CEL_MAX_DEPTH.
 *
 * Numbers follow CEL: int and uint arithmetic is checked for overflow,
 * int, uint and double never mix in arithmetic but compare with each
 * other; double arithmetic is IEEE (1.0/0.0 is +Inf).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "rules_cel.h"

/* Range of timestamps (0001-01-01 to 9999-12-31) and durations. */
#define CEL_MIN_TIMESTAMP	INT64CONST(-62135596800)
#define CEL_MAX_TIMESTAMP	INT64CONST(253402300799)
#define CEL_MAX_DURATION	INT64CONST(315576000000)
#define NANOS				1000000000

typedef struct CelEval
{
	const CelProgram *prog;
	const CelValue **vars;		/* by slot; NULL when not given */
	CelValue   *locals;			/* comprehension variables by slot */
	int64		steps;
	bool		fatal;			/* a bound was exceeded: absorb nothing */
} CelEval;

static CelValue Eval(CelEval *st, const CelNode *n);

static const char *const binop_names[] = {
	"_+_", "_-_", "_*_", "_/_", "_%_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in"
};

/* ---------------------------------------------------------------------
 * Value helpers
 * ---------------------------------------------------------------------
 */

static inline CelValue
MakeBool(bool b)
{
	CelValue	v;

	v.type = CEL_BOOL;
	v.len = 0;
	v.u.b = b;
	return v;
}

static inline CelValue
MakeInt(int64 i)
{
	CelValue	v;

	v.type = CEL_INT;
	v.len = 0;
	v.u.i = i;
	return v;
}

static inline CelValue
MakeUint(uint64 u)
{
	CelValue	v;

	v.type = CEL_UINT;
	v.len = 0;
	v.u.u = u;
	return v;
}

static inline CelValue
MakeDouble(double d)
{
	CelValue	v;

	v.type = CEL_DOUBLE;
	v.len = 0;
	v.u.d = d;
	return v;
}

static inline CelValue
MakeString(CelType type, const char *s, int len)
{
	CelValue	v;

	v.type = type;
	v.len = len;
	v.u.s = s;
	return v;
}

static inline CelValue
MakeTypeValue(const char *name)
{
	CelValue	v;

	v.type = CEL_TYPE;
	v.len = 0;
	v.u.s = name;
	return v;
}

/* An error value with a message and a SQLSTATE. */
static CelValue
pg_attribute_printf(2, 3)
MakeError(int sqlstate, const char *fmt,...)
{
	StringInfoData buf;
	CelValue	v;
	va_list		ap;

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
	v.type = CEL_ERROR;
	v.len = sqlstate;
	v.u.s = buf.data;
	return v;
}

#define IS_ERROR(v) ((v).type == CEL_ERROR)

static CelValue
NoOverload(const char *op, const CelValue *a, const CelValue *b)
{
	if (b)
		return MakeError(ERRCODE_DATA_EXCEPTION, "no such overload: %s(%s, %s)",
						 op, CelTypeName(a), CelTypeName(b));
	return MakeError(ERRCODE_DATA_EXCEPTION, "no such overload: %s(%s)", op, CelTypeName(a));
}

static CelValue
Overflow(void)
{
	return MakeError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "return error for overflow");
}

const char *
CelTypeName(const CelValue *v)
{
	switch ((CelType) v->type)
	{
		case CEL_NULL:
			return "null_type";
		case CEL_BOOL:
			return "bool";
		case CEL_INT:
			return "int";
		case CEL_UINT:
			return "uint";
		case CEL_DOUBLE:
			return "double";
		case CEL_STRING:
			return "string";
		case CEL_BYTES:
			return "bytes";
		case CEL_LIST:
			return "list";
		case CEL_MAP:
			return "map";
		case CEL_TIMESTAMP:
			return "google.protobuf.Timestamp";
		case CEL_DURATION:
			return "google.protobuf.Duration";
		case CEL_TYPE:
			return "type";
		case CEL_ERROR:
			return "error";
	}
	return "unknown";
}

/* Count work; false (and the evaluation is doomed) past the bound. */
static inline bool
Charge(CelEval *st, int64 steps)
{
	st->steps += steps;
	if (st->steps > CEL_MAX_STEPS)
	{
		st->fatal = true;
		return false;
	}
	return true;
}

static CelValue
BoundError(void)
{
	return MakeError(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
					 "evaluation exceeded %d steps", CEL_MAX_STEPS);
}

/* Allocate for a result of nbytes, charging for it. */
static void *
EvalAlloc(CelEval *st, Size nbytes)
{
	if (!Charge(st, nbytes / 16 + 1) || nbytes >= MaxAllocSize)
	{
		st->fatal = true;
		return NULL;
	}
	return palloc(Max(nbytes, 1));
}

/* Number of code points of UTF-8 text. */
static int64
Utf8Length(const char *s, int len)
{
	int64		n = 0;

	for (int i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* ---------------------------------------------------------------------
 * Comparison and equality
 * ---------------------------------------------------------------------
 */

#define CMP_UNORDERED 2			/* NaN involved */

static int
CmpIntDouble(int64 i, double d)
{
	int64		t;
	double		frac;

	if (isnan(d))
		return CMP_UNORDERED;
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	t = (int64) d;
	if (i < t)
		return -1;
	if (i > t)
		return 1;
	frac = d - (double) t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int
CmpUintDouble(uint64 u, double d)
{
	uint64		t;
	double		frac;

	if (isnan(d))
		return CMP_UNORDERED;
	if (d >= 18446744073709551616.0)
		return -1;
	if (d < 0)
		return 1;
	t = (uint64) d;
	if (u < t)
		return -1;
	if (u > t)
		return 1;
	frac = d - (double) t;
	return frac > 0 ? -1 : 0;
}

static int
CmpBytes(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/*
 * Order two values: -1, 0, 1 or CMP_UNORDERED into *cmp.  False when the
 * types have no ordering between them.
 */
static bool
CompareValues(const CelValue *a, const CelValue *b, int *cmp)
{
	bool		an = (a->type == CEL_INT || a->type == CEL_UINT || a->type == CEL_DOUBLE);
	bool		bn = (b->type == CEL_INT || b->type == CEL_UINT || b->type == CEL_DOUBLE);

	if (an && bn)
	{
		if (a->type == CEL_INT && b->type == CEL_INT)
			*cmp = a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
		else if (a->type == CEL_UINT && b->type == CEL_UINT)
			*cmp = a->u.u < b->u.u ? -1 : a->u.u > b->u.u;
		else if (a->type == CEL_DOUBLE && b->type == CEL_DOUBLE)
			*cmp = (isnan(a->u.d) || isnan(b->u.d)) ? CMP_UNORDERED :
				a->u.d < b->u.d ? -1 : a->u.d > b->u.d;
		else if (a->type == CEL_INT && b->type == CEL_UINT)
			*cmp = a->u.i < 0 ? -1 : (uint64) a->u.i < b->u.u ? -1 : (uint64) a->u.i > b->u.u;
		else if (a->type == CEL_UINT && b->type == CEL_INT)
			*cmp = b->u.i < 0 ? 1 : a->u.u < (uint64) b->u.i ? -1 : a->u.u > (uint64) b->u.i;
		else if (a->type == CEL_INT)
			*cmp = CmpIntDouble(a->u.i, b->u.d);
		else if (a->type == CEL_UINT)
			*cmp = CmpUintDouble(a->u.u, b->u.d);
		else if (b->type == CEL_INT)
		{
			int			c = CmpIntDouble(b->u.i, a->u.d);

			*cmp = c == CMP_UNORDERED ? c : -c;
		}
		else
		{
			int			c = CmpUintDouble(b->u.u, a->u.d);

			*cmp = c == CMP_UNORDERED ? c : -c;
		}
		return true;
	}
	if (a->type != b->type)
		return false;
	switch ((CelType) a->type)
	{
		case CEL_BOOL:
			*cmp = (int) a->u.b - (int) b->u.b;
			return true;
		case CEL_STRING:
		case CEL_BYTES:
			*cmp = CmpBytes(a->u.s, a->len, b->u.s, b->len);
			return true;
		case CEL_TIMESTAMP:
		case CEL_DURATION:
			*cmp = a->u.i < b->u.i ? -1 : a->u.i > b->u.i ? 1 :
				a->len < b->len ? -1 : a->len > b->len;
			return true;
		default:
			return false;
	}
}

static const CelValue *MapLookup(const CelValue *map, const CelValue *key);

/* CEL equality: values of different kinds are unequal (numbers compare). */
static bool
ValueEquals(const CelValue *a, const CelValue *b)
{
	int			cmp;

	check_stack_depth();
	if (CompareValues(a, b, &cmp))
		return cmp == 0;
	if (a->type != b->type)
		return false;
	switch ((CelType) a->type)
	{
		case CEL_NULL:
			return true;
		case CEL_TYPE:
			return strcmp(a->u.s, b->u.s) == 0;
		case CEL_LIST:
			if (a->len != b->len)
				return false;
			for (int i = 0; i < a->len; i++)
				if (!ValueEquals(&a->u.items[i], &b->u.items[i]))
					return false;
			return true;
		case CEL_MAP:
			if (a->len != b->len)
				return false;
			for (int i = 0; i < a->len; i++)
			{
				const CelValue *other = MapLookup(b, &a->u.items[2 * i]);

				if (other == NULL || !ValueEquals(&a->u.items[2 * i + 1], other))
					return false;
			}
			return true;
		default:
			return false;
	}
}

/* The value of a key in a map, or NULL. */
static const CelValue *
MapLookup(const CelValue *map, const CelValue *key)
{
	if (key->type == CEL_STRING)
	{
		for (int i = 0; i < map->len; i++)
		{
			const CelValue *k = &map->u.items[2 * i];

			if (k->type == CEL_STRING && k->len == key->len &&
				memcmp(k->u.s, key->u.s, key->len) == 0)
				return &map->u.items[2 * i + 1];
		}
		return NULL;
	}
	for (int i = 0; i < map->len; i++)
		if (ValueEquals(&map->u.items[2 * i], key))
			return &map->u.items[2 * i + 1];
	return NULL;
}

static bool
IsKeyType(const CelValue *v)
{
	return v->type == CEL_STRING || v->type == CEL_INT || v->type == CEL_UINT ||
		v->type == CEL_BOOL;
}

static char *
KeyText(const CelValue *key)
{
	switch (key->type)
	{
		case CEL_STRING:
			return pnstrdup(key->u.s, Min(key->len, 200));
		case CEL_INT:
			return psprintf(INT64_FORMAT, key->u.i);
		case CEL_UINT:
			return psprintf(UINT64_FORMAT, key->u.u);
		case CEL_BOOL:
			return pstrdup(key->u.b ? "true" : "false");
		case CEL_DOUBLE:
			return CelFormatDouble(key->u.d);
		default:
			return pstrdup(CelTypeName(key));
	}
}

/* ---------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------
 */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64
DaysFromCivil(int64 y, int m, int d)
{
	int64		era;
	int64		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
CivilFromDays(int64 z, int64 *y, int *m, int *d)
{
	int64		era,
				doe,
				yoe,
				doy,
				mp;

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

static int64
FloorDiv(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int
ParseDigits(const char *s, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Parse an RFC 3339 timestamp ("2006-01-02T15:04:05.999Z", "...+07:00"). */
static bool
ParseTimestamp(const char *s, int len, int64 *sec, int32 *nanos)
{
	int			y,
				mo,
				d,
				h,
				mi,
				se,
				i = 19;
	int64		ns = 0;
	int			offset = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
		s[13] != ':' || s[16] != ':' ||
		!ParseDigits(s, 4, &y) || !ParseDigits(s + 5, 2, &mo) || !ParseDigits(s + 8, 2, &d) ||
		!ParseDigits(s + 11, 2, &h) || !ParseDigits(s + 14, 2, &mi) || !ParseDigits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
		return false;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	if (i < len && s[i] == '.')
	{
		int			digits = 0;

		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
		{
			if (digits < 9)
				ns = ns * 10 + (s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0)
			return false;
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':')
	{
		int			oh,
					om;

		if (!ParseDigits(s + i + 1, 2, &oh) || !ParseDigits(s + i + 4, 2, &om) ||
			oh > 23 || om > 59)
			return false;
		offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	}
	else
		return false;
	if (i != len)
		return false;
	*sec = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
	*nanos = (int32) ns;
	return *sec >= CEL_MIN_TIMESTAMP && *sec <= CEL_MAX_TIMESTAMP;
}

/* Append ".fraction" of nanoseconds without trailing zeros (nothing for 0). */
static void
AppendFraction(StringInfo buf, int32 nanos)
{
	char		frac[16];
	int			n;

	if (nanos == 0)
		return;
	snprintf(frac, sizeof(frac), "%09d", nanos);
	n = 9;
	while (n > 0 && frac[n - 1] == '0')
		n--;
	appendStringInfo(buf, ".%.*s", n, frac);
}

char *
CelFormatTimestamp(int64 seconds, int32 nanos)
{
	StringInfoData buf;
	int64		days = FloorDiv(seconds, 86400);
	int64		rem = seconds - days * 86400;
	int64		y;
	int			m,
				d;

	CivilFromDays(days, &y, &m, &d);
	initStringInfo(&buf);
	appendStringInfo(&buf, "%04d-%02d-%02dT%02d:%02d:%02d", (int) y, m, d,
					 (int) (rem / 3600), (int) (rem / 60 % 60), (int) (rem % 60));
	AppendFraction(&buf, nanos);
	appendStringInfoChar(&buf, 'Z');
	return buf.data;
}

char *
CelFormatDuration(int64 seconds, int32 nanos)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (seconds < 0 && nanos > 0)
	{
		/* -1.5s is stored as -2 s + 0.5e9 ns */
		appendStringInfo(&buf, "-" INT64_FORMAT, -(seconds + 1));
		AppendFraction(&buf, NANOS - nanos);
	}
	else
	{
		appendStringInfo(&buf, INT64_FORMAT, seconds);
		AppendFraction(&buf, nanos);
	}
	appendStringInfoChar(&buf, 's');
	return buf.data;
}

/* Normalise seconds + nanoseconds (any sign) into a duration value. */
static CelValue
MakeDuration(int64 sec, int64 nanos)
{
	CelValue	v;

	sec += FloorDiv(nanos, NANOS);
	nanos -= FloorDiv(nanos, NANOS) * NANOS;
	if (sec < -CEL_MAX_DURATION || sec > CEL_MAX_DURATION)
		return MakeError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "duration out of range");
	v.type = CEL_DURATION;
	v.u.i = sec;
	v.len = (int32) nanos;
	return v;
}

static CelValue
MakeTimestamp(int64 sec, int64 nanos)
{
	CelValue	v;

	sec += FloorDiv(nanos, NANOS);
	nanos -= FloorDiv(nanos, NANOS) * NANOS;
	if (sec < CEL_MIN_TIMESTAMP || sec > CEL_MAX_TIMESTAMP)
		return MakeError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "timestamp out of range");
	v.type = CEL_TIMESTAMP;
	v.u.i = sec;
	v.len = (int32) nanos;
	return v;
}

/* Parse a Go-style duration: "1h30m", "-1.5s", "100ms", "0". */
static CelValue
ParseDuration(const char *s, int len)
{
	int			i = 0;
	bool		neg = false;
	/* total in nanoseconds as long double is imprecise: keep sec + ns */
	int64		sec = 0;
	int64		ns = 0;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = (s[i++] == '-');
	if (len - i == 1 && s[i] == '0')
		return MakeDuration(0, 0);
	if (i >= len)
		return MakeError(ERRCODE_INVALID_DATETIME_FORMAT, "invalid duration");
	while (i < len)
	{
		int64		whole = 0;
		int64		fracn = 0;	/* fraction digits, scaled to 1e-18 */
		int64		scale = INT64CONST(100000000000000000);
		int64		unit_ns;
		bool		digits = false;
		int			ulen;

		while (i < len && s[i] >= '0' && s[i] <= '9')
		{
			if (whole > INT64CONST(100000000000000000))
				return MakeError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "duration out of range");
			whole = whole * 10 + (s[i++] - '0');
			digits = true;
		}
		if (i < len && s[i] == '.')
		{
			i++;
			while (i < len && s[i] >= '0' && s[i] <= '9')
			{
				fracn += (s[i++] - '0') * scale;
				scale /= 10;
				digits = true;
			}
		}
		if (!digits)
			return MakeError(ERRCODE_INVALID_DATETIME_FORMAT, "invalid duration");
		ulen = 0;
		if (i + 1 < len && s[i] == 'n' && s[i + 1] == 's')
			unit_ns = 1, ulen = 2;
		else if (i + 1 < len && s[i] == 'u' && s[i + 1] == 's')
			unit_ns = 1000, ulen = 2;
		else if (i + 2 < len && (unsigned char) s[i] == 0xC2 && (unsigned char) s[i + 1] == 0xB5 && s[i + 2] == 's')
			unit_ns = 1000, ulen = 3;
		else if (i + 1 < len && s[i] == 'm' && s[i + 1] == 's')
			unit_ns = 1000000, ulen = 2;
		else if (i < len && s[i] == 's')
			unit_ns = NANOS, ulen = 1;
		else if (i < len && s[i] == 'm')
			unit_ns = INT64CONST(60) * NANOS, ulen = 1;
		else if (i < len && s[i] == 'h')
			unit_ns = INT64CONST(3600) * NANOS, ulen = 1;
		else
			return MakeError(ERRCODE_INVALID_DATETIME_FORMAT, "invalid duration: missing unit");
		i += ulen;
		/* whole * unit, split into seconds and nanoseconds */
		if (unit_ns >= NANOS)
		{
			int64		usec = unit_ns / NANOS;

			if (whole > CEL_MAX_DURATION / usec + 1)
				return MakeError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "duration out of range");
			sec += whole * usec;
			/* fraction (1e-18 units) * usec seconds, in nanoseconds */
			ns += (int64) ((long double) fracn * usec / 1e9L);
		}
		else
		{
			sec += (whole / (NANOS / unit_ns));
			ns += (whole % (NANOS / unit_ns)) * unit_ns;
			ns += (int64) ((long double) fracn * unit_ns / 1e18L);
		}
		if (sec > CEL_MAX_DURATION + 1)
			return MakeError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "duration out of range");
	}
	if (neg)
		return MakeDuration(-sec, -ns);
	return MakeDuration(sec, ns);
}

/* Offset in seconds of a time zone given as "UTC", "Z" or "[+-]HH:MM". */
static bool
ZoneOffset(const CelValue *tz, int *offset)
{
	const char *s = tz->u.s;
	int			len = tz->len;
	int			h,
				m,
				sign = 1;

	if ((len == 3 && strncmp(s, "UTC", 3) == 0) || (len == 1 && s[0] == 'Z') ||
		(len == 7 && strncmp(s, "Etc/UTC", 7) == 0))
	{
		*offset = 0;
		return true;
	}
	if (len == 6 && (s[0] == '+' || s[0] == '-'))
	{
		sign = s[0] == '-' ? -1 : 1;
		s++;
		len--;
	}
	if (len == 5 && s[2] == ':' && ParseDigits(s, 2, &h) && ParseDigits(s + 3, 2, &m) &&
		h <= 23 && m <= 59)
	{
		*offset = sign * (h * 3600 + m * 60);
		return true;
	}
	return false;
}

static CelValue
TimestampAccessor(CelFunc f, const CelValue *ts, const CelValue *tz)
{
	int			offset = 0;
	int64		sec,
				days,
				rem,
				y;
	int			m,
				d;

	if (tz)
	{
		if (tz->type != CEL_STRING)
			return NoOverload("time zone", tz, NULL);
		if (!ZoneOffset(tz, &offset))
			return MakeError(ERRCODE_INVALID_PARAMETER_VALUE,
							 "unsupported time zone \"%.*s\" (only UTC and [+-]HH:MM offsets)",
							 Min(tz->len, 64), tz->u.s);
	}
	sec = ts->u.i + offset;
	days = FloorDiv(sec, 86400);
	rem = sec - days * 86400;
	CivilFromDays(days, &y, &m, &d);
	switch (f)
	{
		case CF_GET_FULL_YEAR:
			return MakeInt(y);
		case CF_GET_MONTH:
			return MakeInt(m - 1);
		case CF_GET_DATE:
			return MakeInt(d);
		case CF_GET_DAY_OF_MONTH:
			return MakeInt(d - 1);
		case CF_GET_DAY_OF_WEEK:
			/* 1970-01-01 was a Thursday; Sunday is 0 */
			return MakeInt((int) (((days % 7) + 7 + 4) % 7));
		case CF_GET_DAY_OF_YEAR:
			return MakeInt(days - DaysFromCivil(y, 1, 1));
		case CF_GET_HOURS:
			return MakeInt(rem / 3600);
		case CF_GET_MINUTES:
			return MakeInt(rem / 60 % 60);
		case CF_GET_SECONDS:
			return MakeInt(rem % 60);
		case CF_GET_MILLISECONDS:
			return MakeInt(ts->len / 1000000);
		default:
			return NoOverload("timestamp accessor", ts, NULL);
	}
}

static CelValue
DurationAccessor(CelFunc f, const CelValue *du)
{
	/* totals, truncated toward zero like Go's Duration methods */
	int64		sec = du->u.i;
	int64		ns = du->len;

	if (sec < 0 && ns > 0)
	{
		sec += 1;
		ns -= NANOS;
	}
	switch (f)
	{
		case CF_GET_HOURS:
			return MakeInt(sec / 3600);
		case CF_GET_MINUTES:
			return MakeInt(sec / 60);
		case CF_GET_SECONDS:
			return MakeInt(sec);
		case CF_GET_MILLISECONDS:
			return MakeInt(sec * 1000 + ns / 1000000);
		default:
			return NoOverload("duration accessor", du, NULL);
	}
}

/* ---------------------------------------------------------------------
 * Formatting and conversions
 * ---------------------------------------------------------------------
 */

/* A double as Go's strconv.FormatFloat(d, 'g', -1, 64) writes it. */
char *
CelFormatDouble(double d)
{
	char		buf[64];
	int			prec;
	int			exp;
	char	   *e;

	if (isnan(d))
		return pstrdup("NaN");
	if (isinf(d))
		return pstrdup(d > 0 ? "+Inf" : "-Inf");
	if (d == 0)
		return pstrdup(signbit(d) ? "-0" : "0");
	for (prec = 1; prec <= 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	e = strchr(buf, 'e');
	exp = atoi(e + 1);
	if (exp < -4 || exp >= 21)
		return pstrdup(buf);
	snprintf(buf, sizeof(buf), "%.*f", Max(prec - 1 - exp, 0), d);
	return pstrdup(buf);
}

static CelValue
ConvertInt(const CelValue *v)
{
	switch (v->type)
	{
		case CEL_INT:
			return *v;
		case CEL_UINT:
			if (v->u.u > (uint64) PG_INT64_MAX)
				return MakeError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "range error converting %s to int",
								 "uint");
			return MakeInt((int64) v->u.u);
		case CEL_DOUBLE:
			if (isnan(v->u.d) || v->u.d <= -9223372036854775808.0 ||
				v->u.d >= 9223372036854775808.0)
				return MakeError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "range error converting %s to int",
								 "double");
			return MakeInt((int64) v->u.d);
		case CEL_STRING:
			{
				char	   *s = pnstrdup(v->u.s, v->len);
				char	   *end;
				int64		i;

				errno = 0;
				i = strtoll(s, &end, 10);
				if (v->len == 0 || *end != '\0' || errno != 0 || s[0] == ' ' || s[0] == '+')
					return MakeError(ERRCODE_INVALID_TEXT_REPRESENTATION,
									 "cannot convert string \"%s\" to int", s);
				return MakeInt(i);
			}
		case CEL_TIMESTAMP:
			return MakeInt(v->u.i);
		default:
			return NoOverload("int", v, NULL);
	}
}

static CelValue
ConvertUint(const CelValue *v)
{
	switch (v->type)
	{
		case CEL_UINT:
			return *v;
		case CEL_INT:
			if (v->u.i < 0)
				return MakeError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "range error converting %s to uint",
								 "int");
			return MakeUint((uint64) v->u.i);
		case CEL_DOUBLE:
			if (isnan(v->u.d) || v->u.d <= -1.0 || v->u.d >= 18446744073709551616.0)
				return MakeError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "range error converting %s to uint",
								 "double");
			return MakeUint((uint64) v->u.d);
		case CEL_STRING:
			{
				char	   *s = pnstrdup(v->u.s, v->len);
				char	   *end;
				uint64		u;

				errno = 0;
				u = strtoull(s, &end, 10);
				if (v->len == 0 || *end != '\0' || errno != 0 || !(s[0] >= '0' && s[0] <= '9'))
					return MakeError(ERRCODE_INVALID_TEXT_REPRESENTATION,
									 "cannot convert string \"%s\" to uint", s);
				return MakeUint(u);
			}
		default:
			return NoOverload("uint", v, NULL);
	}
}

static CelValue
ConvertDouble(const CelValue *v)
{
	switch (v->type)
	{
		case CEL_DOUBLE:
			return *v;
		case CEL_INT:
			return MakeDouble((double) v->u.i);
		case CEL_UINT:
			return MakeDouble((double) v->u.u);
		case CEL_STRING:
			{
				char	   *s = pnstrdup(v->u.s, v->len);
				char	   *end;
				double		d;

				d = strtod(s, &end);
				if (v->len == 0 || *end != '\0' || s[0] == ' ' ||
					(s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
					return MakeError(ERRCODE_INVALID_TEXT_REPRESENTATION,
									 "cannot convert string \"%s\" to double", s);
				return MakeDouble(d);
			}
		default:
			return NoOverload("double", v, NULL);
	}
}

static CelValue
ConvertString(CelEval *st, const CelValue *v)
{
	char	   *s;

	switch (v->type)
	{
		case CEL_STRING:
			return *v;
		case CEL_INT:
			s = psprintf(INT64_FORMAT, v->u.i);
			break;
		case CEL_UINT:
			s = psprintf(UINT64_FORMAT, v->u.u);
			break;
		case CEL_DOUBLE:
			s = CelFormatDouble(v->u.d);
			break;
		case CEL_BOOL:
			s = v->u.b ? "true" : "false";
			break;
		case CEL_BYTES:
			if (pg_encoding_verifymbstr(PG_UTF8, v->u.s, v->len) != v->len)
				return MakeError(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
								 "invalid UTF-8 in bytes, cannot convert to string");
			return MakeString(CEL_STRING, v->u.s, v->len);
		case CEL_TIMESTAMP:
			s = CelFormatTimestamp(v->u.i, v->len);
			break;
		case CEL_DURATION:
			s = CelFormatDuration(v->u.i, v->len);
			break;
		default:
			return NoOverload("string", v, NULL);
	}
	Charge(st, 1);
	return MakeString(CEL_STRING, s, strlen(s));
}

static CelValue
ConvertBool(const CelValue *v)
{
	static const char *const trues[] = {"1", "t", "true", "TRUE", "True", NULL};
	static const char *const falses[] = {"0", "f", "false", "FALSE", "False", NULL};

	if (v->type == CEL_BOOL)
		return *v;
	if (v->type != CEL_STRING)
		return NoOverload("bool", v, NULL);
	for (int i = 0; trues[i]; i++)
		if ((int) strlen(trues[i]) == v->len && memcmp(trues[i], v->u.s, v->len) == 0)
			return MakeBool(true);
	for (int i = 0; falses[i]; i++)
		if ((int) strlen(falses[i]) == v->len && memcmp(falses[i], v->u.s, v->len) == 0)
			return MakeBool(false);
	return MakeError(ERRCODE_INVALID_TEXT_REPRESENTATION, "cannot convert string \"%.*s\" to bool",
					 Min(v->len, 64), v->u.s);
}

static CelValue
TypeOf(const CelValue *v)
{
	return MakeTypeValue(CelTypeName(v));
}

/* ---------------------------------------------------------------------
 * Operators
 * ---------------------------------------------------------------------
 */

static CelValue
Concat(CelEval *st, CelType type, const CelValue *a, const CelValue *b)
{
	if (type == CEL_LIST)
	{
		CelValue   *items = EvalAlloc(st, sizeof(CelValue) * ((Size) a->len + b->len));
		CelValue	v;

		if (items == NULL)
			return BoundError();
		memcpy(items, a->u.items, sizeof(CelValue) * a->len);
		memcpy(items + a->len, b->u.items, sizeof(CelValue) * b->len);
		v.type = CEL_LIST;
		v.len = a->len + b->len;
		v.u.items = items;
		return v;
	}
	else
	{
		char	   *s;

		if ((int64) a->len + b->len > MaxAllocSize / 2)
			return BoundError();
		s = EvalAlloc(st, (Size) a->len + b->len);
		if (s == NULL)
			return BoundError();
		memcpy(s, a->u.s, a->len);
		memcpy(s + a->len, b->u.s, b->len);
		return MakeString(type, s, a->len + b->len);
	}
}

static CelValue
Arithmetic(CelEval *st, CelBinOp op, const CelValue *a, const CelValue *b)
{
	if (a->type == CEL_INT && b->type == CEL_INT)
	{
		int64		r;

		switch (op)
		{
			case CB_ADD:
				if (pg_add_s64_overflow(a->u.i, b->u.i, &r))
					return Overflow();
				return MakeInt(r);
			case CB_SUB:
				if (pg_sub_s64_overflow(a->u.i, b->u.i, &r))
					return Overflow();
				return MakeInt(r);
			case CB_MUL:
				if (pg_mul_s64_overflow(a->u.i, b->u.i, &r))
					return Overflow();
				return MakeInt(r);
			case CB_DIV:
			case CB_MOD:
				if (b->u.i == 0)
					return MakeError(ERRCODE_DIVISION_BY_ZERO,
									 op == CB_DIV ? "division by zero" : "modulus by zero");
				if (a->u.i == PG_INT64_MIN && b->u.i == -1)
					return Overflow();
				return MakeInt(op == CB_DIV ? a->u.i / b->u.i : a->u.i % b->u.i);
			default:
				break;
		}
	}
	else if (a->type == CEL_UINT && b->type == CEL_UINT)
	{
		uint64		r;

		switch (op)
		{
			case CB_ADD:
				if (pg_add_u64_overflow(a->u.u, b->u.u, &r))
					return Overflow();
				return MakeUint(r);
			case CB_SUB:
				if (pg_sub_u64_overflow(a->u.u, b->u.u, &r))
					return Overflow();
				return MakeUint(r);
			case CB_MUL:
				if (pg_mul_u64_overflow(a->u.u, b->u.u, &r))
					return Overflow();
				return MakeUint(r);
			case CB_DIV:
			case CB_MOD:
				if (b->u.u == 0)
					return MakeError(ERRCODE_DIVISION_BY_ZERO,
									 op == CB_DIV ? "division by zero" : "modulus by zero");
				return MakeUint(op == CB_DIV ? a->u.u / b->u.u : a->u.u % b->u.u);
			default:
				break;
		}
	}
	else if (a->type == CEL_DOUBLE && b->type == CEL_DOUBLE)
	{
		switch (op)
		{
			case CB_ADD:
				return MakeDouble(a->u.d + b->u.d);
			case CB_SUB:
				return MakeDouble(a->u.d - b->u.d);
			case CB_MUL:
				return MakeDouble(a->u.d * b->u.d);
			case CB_DIV:
				return MakeDouble(a->u.d / b->u.d);
			default:
				break;
		}
	}
	else if (op == CB_ADD && a->type == b->type &&
			 (a->type == CEL_STRING || a->type == CEL_BYTES || a->type == CEL_LIST))
		return Concat(st, a->type, a, b);
	else if (op == CB_ADD || op == CB_SUB)
	{
		int64		sign = (op == CB_ADD) ? 1 : -1;

		if (a->type == CEL_DURATION && b->type == CEL_DURATION)
			return MakeDuration(a->u.i + sign * b->u.i, a->len + sign * b->len);
		if (a->type == CEL_TIMESTAMP && b->type == CEL_DURATION)
			return MakeTimestamp(a->u.i + sign * b->u.i, a->len + sign * b->len);
		if (op == CB_ADD && a->type == CEL_DURATION && b->type == CEL_TIMESTAMP)
			return MakeTimestamp(a->u.i + b->u.i, (int64) a->len + b->len);
		if (op == CB_SUB && a->type == CEL_TIMESTAMP && b->type == CEL_TIMESTAMP)
			return MakeDuration(a->u.i - b->u.i, (int64) a->len - b->len);
	}
	return NoOverload(binop_names[op], a, b);
}

static CelValue
Relation(CelBinOp op, const CelValue *a, const CelValue *b)
{
	int			cmp;

	switch (op)
	{
		case CB_EQ:
			return MakeBool(ValueEquals(a, b));
		case CB_NE:
			return MakeBool(!ValueEquals(a, b));
		case CB_IN:
			if (b->type == CEL_LIST)
			{
				for (int i = 0; i < b->len; i++)
					if (ValueEquals(a, &b->u.items[i]))
						return MakeBool(true);
				return MakeBool(false);
			}
			if (b->type == CEL_MAP)
				return MakeBool(MapLookup(b, a) != NULL);
			return NoOverload(binop_names[op], a, b);
		default:
			break;
	}
	if (!CompareValues(a, b, &cmp))
		return NoOverload(binop_names[op], a, b);
	if (cmp == CMP_UNORDERED)
		return MakeBool(false);
	switch (op)
	{
		case CB_LT:
			return MakeBool(cmp < 0);
		case CB_LE:
			return MakeBool(cmp <= 0);
		case CB_GT:
			return MakeBool(cmp > 0);
		default:
			return MakeBool(cmp >= 0);
	}
}

/* list[index] and map[key]. */
static CelValue
IndexValue(const CelValue *c, const CelValue *k)
{
	if (c->type == CEL_LIST)
	{
		int64		i;

		if (k->type == CEL_INT)
			i = k->u.i;
		else if (k->type == CEL_UINT)
			i = k->u.u > (uint64) PG_INT64_MAX ? PG_INT64_MAX : (int64) k->u.u;
		else if (k->type == CEL_DOUBLE && k->u.d == floor(k->u.d) &&
				 fabs(k->u.d) < 9.2e18)
			i = (int64) k->u.d;
		else
			return NoOverload("_[_]", c, k);
		if (i < 0 || i >= c->len)
			return MakeError(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "index out of bounds: " INT64_FORMAT, i);
		return c->u.items[i];
	}
	if (c->type == CEL_MAP)
	{
		const CelValue *v;

		if (!IsKeyType(k) && k->type != CEL_DOUBLE)
			return MakeError(ERRCODE_DATA_EXCEPTION, "unsupported key type: %s", CelTypeName(k));
		v = MapLookup(c, k);
		if (v == NULL)
			return MakeError(ERRCODE_DATA_EXCEPTION, "no such key: %s", KeyText(k));
		return *v;
	}
	return NoOverload("_[_]", c, k);
}

/* ---------------------------------------------------------------------
 * Functions
 * ---------------------------------------------------------------------
 */

static CelValue
StringTest(CelFunc f, const CelValue *s, const CelValue *arg)
{
	if (s->type != CEL_STRING || arg->type != CEL_STRING)
	{
		static const char *const names[] = {"contains", "startsWith", "endsWith", "matches"};

		return NoOverload(names[f - CF_CONTAINS], s, arg);
	}
	switch (f)
	{
		case CF_CONTAINS:
			if (arg->len == 0)
				return MakeBool(true);
			for (int i = 0; i + arg->len <= s->len; i++)
				if (memcmp(s->u.s + i, arg->u.s, arg->len) == 0)
					return MakeBool(true);
			return MakeBool(false);
		case CF_STARTS_WITH:
			return MakeBool(arg->len <= s->len && memcmp(s->u.s, arg->u.s, arg->len) == 0);
		case CF_ENDS_WITH:
			return MakeBool(arg->len <= s->len &&
							memcmp(s->u.s + s->len - arg->len, arg->u.s, arg->len) == 0);
		default:
			{
				bool		match;
				char	   *err;

				if (!CelRegexSearch(arg->u.s, arg->len, s->u.s, s->len, &match, &err))
					return MakeError(ERRCODE_INVALID_REGULAR_EXPRESSION, "%s", err);
				return MakeBool(match);
			}
	}
}

static CelValue
CallFunction(CelEval *st, const CelNode *n, CelValue *args)
{
	CelValue   *a = &args[0];

	switch ((CelFunc) n->op)
	{
		case CF_SIZE:
			switch (a->type)
			{
				case CEL_STRING:
					return MakeInt(Utf8Length(a->u.s, a->len));
				case CEL_BYTES:
				case CEL_LIST:
				case CEL_MAP:
					return MakeInt(a->len);
				default:
					return NoOverload("size", a, NULL);
			}
		case CF_INT:
			return ConvertInt(a);
		case CF_UINT:
			return ConvertUint(a);
		case CF_DOUBLE:
			return ConvertDouble(a);
		case CF_STRING:
			return ConvertString(st, a);
		case CF_BYTES:
			if (a->type == CEL_BYTES || a->type == CEL_STRING)
				return MakeString(CEL_BYTES, a->u.s, a->len);
			return NoOverload("bytes", a, NULL);
		case CF_BOOL:
			return ConvertBool(a);
		case CF_TIMESTAMP:
			if (a->type == CEL_TIMESTAMP)
				return *a;
			if (a->type == CEL_INT)
				return MakeTimestamp(a->u.i, 0);
			if (a->type == CEL_STRING)
			{
				int64		sec;
				int32		nanos;

				if (!ParseTimestamp(a->u.s, a->len, &sec, &nanos))
					return MakeError(ERRCODE_INVALID_DATETIME_FORMAT,
									 "cannot parse \"%.*s\" as an RFC 3339 timestamp",
									 Min(a->len, 64), a->u.s);
				return MakeTimestamp(sec, nanos);
			}
			return NoOverload("timestamp", a, NULL);
		case CF_DURATION:
			if (a->type == CEL_DURATION)
				return *a;
			if (a->type == CEL_STRING)
				return ParseDuration(a->u.s, a->len);
			return NoOverload("duration", a, NULL);
		case CF_TYPE:
			return TypeOf(a);
		case CF_DYN:
			return *a;
		case CF_CONTAINS:
		case CF_STARTS_WITH:
		case CF_ENDS_WITH:
		case CF_MATCHES:
			return StringTest((CelFunc) n->op, a, &args[1]);
		case CF_LOWER_ASCII:
		case CF_UPPER_ASCII:
			{
				char	   *s;

				if (a->type != CEL_STRING)
					return NoOverload(n->op == CF_LOWER_ASCII ? "lowerAscii" : "upperAscii", a, NULL);
				s = EvalAlloc(st, a->len);
				if (s == NULL)
					return BoundError();
				for (int i = 0; i < a->len; i++)
					s[i] = (n->op == CF_LOWER_ASCII) ? pg_ascii_tolower(a->u.s[i]) :
						pg_ascii_toupper(a->u.s[i]);
				return MakeString(CEL_STRING, s, a->len);
			}
		default:
			/* the time accessors */
			if (a->type == CEL_TIMESTAMP)
				return TimestampAccessor((CelFunc) n->op, a, n->nargs > 1 ? &args[1] : NULL);
			if (a->type == CEL_DURATION && n->nargs == 1)
				return DurationAccessor((CelFunc) n->op, a);
			return NoOverload("time accessor", a, NULL);
	}
}

/* ---------------------------------------------------------------------
 * Evaluation
 * ---------------------------------------------------------------------
 */

/* && and ||: commutative, an error yields to the deciding value. */
static CelValue
EvalLogic(CelEval *st, const CelNode *n, bool is_and)
{
	CelValue	l = Eval(st, n->args[0]);
	CelValue	r;

	if (l.type == CEL_BOOL && l.u.b != is_and)
		return l;				/* false && _, true || _ */
	if (st->fatal)
		return l;
	r = Eval(st, n->args[1]);
	if (st->fatal)
		return r;
	if (r.type == CEL_BOOL && r.u.b != is_and)
		return r;
	if (l.type == CEL_BOOL && r.type == CEL_BOOL)
		return r;
	if (IS_ERROR(l))
		return l;
	if (l.type != CEL_BOOL)
		return NoOverload(is_and ? "_&&_" : "_||_", &l, &r);
	if (IS_ERROR(r))
		return r;
	return NoOverload(is_and ? "_&&_" : "_||_", &l, &r);
}

static CelValue
EvalComprehension(CelEval *st, const CelNode *n)
{
	CelValue	range = Eval(st, n->args[0]);
	CelValue   *locals = st->locals;
	CelValue	err = {0};
	CelValue   *out = NULL;
	int			nout = 0;
	int			count = 0;
	int			step;

	if (IS_ERROR(range))
		return range;
	if (range.type != CEL_LIST && range.type != CEL_MAP)
		return MakeError(ERRCODE_DATA_EXCEPTION, "no such overload: comprehension over %s",
						 CelTypeName(&range));
	step = range.type == CEL_MAP ? 2 : 1;
	if (n->op == CM_MAP || n->op == CM_FILTER)
	{
		out = EvalAlloc(st, sizeof(CelValue) * Max(range.len, 1));
		if (out == NULL)
			return BoundError();
	}
	for (int i = 0; i < range.len; i++)
	{
		CelValue	p;

		CHECK_FOR_INTERRUPTS();
		if (!Charge(st, 1))
			return BoundError();
		locals[n->slot] = range.u.items[i * step];
		p = Eval(st, n->args[1]);
		if (st->fatal)
			return IS_ERROR(p) ? p : BoundError();
		switch ((CelMacro) n->op)
		{
			case CM_ALL:
			case CM_EXISTS:
				if (p.type == CEL_BOOL)
				{
					if (p.u.b == (n->op == CM_EXISTS))
						return p;
				}
				else if (err.type != CEL_ERROR)
					err = IS_ERROR(p) ? p :
						NoOverload(n->op == CM_ALL ? "all" : "exists", &p, NULL);
				break;
			case CM_EXISTS_ONE:
				if (IS_ERROR(p))
					return p;
				if (p.type != CEL_BOOL)
					return NoOverload("exists_one", &p, NULL);
				count += p.u.b;
				break;
			case CM_MAP:
				if (n->nargs == 3)
				{
					if (IS_ERROR(p))
						return p;
					if (p.type != CEL_BOOL)
						return NoOverload("map", &p, NULL);
					if (!p.u.b)
						break;
					p = Eval(st, n->args[2]);
				}
				if (IS_ERROR(p))
					return p;
				out[nout++] = p;
				break;
			case CM_FILTER:
				if (IS_ERROR(p))
					return p;
				if (p.type != CEL_BOOL)
					return NoOverload("filter", &p, NULL);
				if (p.u.b)
					out[nout++] = locals[n->slot];
				break;
		}
	}
	switch ((CelMacro) n->op)
	{
		case CM_ALL:
		case CM_EXISTS:
			if (err.type == CEL_ERROR)
				return err;
			return MakeBool(n->op == CM_ALL);
		case CM_EXISTS_ONE:
			return MakeBool(count == 1);
		default:
			{
				CelValue	v;

				v.type = CEL_LIST;
				v.len = nout;
				v.u.items = out;
				return v;
			}
	}
}

static CelValue
EvalMapLiteral(CelEval *st, const CelNode *n)
{
	int			npairs = n->nargs / 2;
	CelValue   *items = EvalAlloc(st, sizeof(CelValue) * Max(n->nargs, 1));
	CelValue	v;

	if (items == NULL)
		return BoundError();
	if (!Charge(st, (int64) npairs * npairs / 16))
		return BoundError();
	for (int i = 0; i < npairs; i++)
	{
		CelValue	k = Eval(st, n->args[2 * i]);
		CelValue	val;

		if (IS_ERROR(k))
			return k;
		if (!IsKeyType(&k))
			return MakeError(ERRCODE_DATA_EXCEPTION, "unsupported key type: %s", CelTypeName(&k));
		val = Eval(st, n->args[2 * i + 1]);
		if (IS_ERROR(val))
			return val;
		for (int j = 0; j < i; j++)
			if (ValueEquals(&items[2 * j], &k))
				return MakeError(ERRCODE_DATA_EXCEPTION, "Failed with repeated key: %s", KeyText(&k));
		items[2 * i] = k;
		items[2 * i + 1] = val;
	}
	v.type = CEL_MAP;
	v.len = npairs;
	v.u.items = items;
	return v;
}

static CelValue
Eval(CelEval *st, const CelNode *n)
{
	CelValue	a,
				b;

	if (++st->steps > CEL_MAX_STEPS)
	{
		st->fatal = true;
		return BoundError();
	}
	switch ((CelNodeKind) n->kind)
	{
		case CN_CONST:
			return n->value;
		case CN_VAR:
			if (st->vars[n->slot] == NULL)
				return MakeError(ERRCODE_UNDEFINED_OBJECT, "undeclared reference to '%s'", n->name);
			return *st->vars[n->slot];
		case CN_LOCAL:
			return st->locals[n->slot];
		case CN_SELECT:
		case CN_HAS:
			a = Eval(st, n->args[0]);
			if (IS_ERROR(a))
				return a;
			if (a.type == CEL_MAP)
			{
				const CelValue *v;

				b = MakeString(CEL_STRING, n->name, n->namelen);
				v = MapLookup(&a, &b);
				if (n->kind == CN_HAS)
					return MakeBool(v != NULL);
				if (v == NULL)
					return MakeError(ERRCODE_DATA_EXCEPTION, "no such key: %s", n->name);
				return *v;
			}
			return MakeError(ERRCODE_DATA_EXCEPTION, "type '%s' does not support field selection",
							 CelTypeName(&a));
		case CN_INDEX:
			a = Eval(st, n->args[0]);
			if (IS_ERROR(a))
				return a;
			b = Eval(st, n->args[1]);
			if (IS_ERROR(b))
				return b;
			return IndexValue(&a, &b);
		case CN_CALL:
			{
				CelValue	args[3];

				Assert(n->nargs <= 3);
				for (int i = 0; i < n->nargs; i++)
				{
					args[i] = Eval(st, n->args[i]);
					if (IS_ERROR(args[i]))
						return args[i];
				}
				return CallFunction(st, n, args);
			}
		case CN_LIST:
			{
				CelValue   *items = EvalAlloc(st, sizeof(CelValue) * Max(n->nargs, 1));
				CelValue	v;

				if (items == NULL)
					return BoundError();
				for (int i = 0; i < n->nargs; i++)
				{
					items[i] = Eval(st, n->args[i]);
					if (IS_ERROR(items[i]))
						return items[i];
				}
				v.type = CEL_LIST;
				v.len = n->nargs;
				v.u.items = items;
				return v;
			}
		case CN_MAP:
			return EvalMapLiteral(st, n);
		case CN_AND:
			return EvalLogic(st, n, true);
		case CN_OR:
			return EvalLogic(st, n, false);
		case CN_NOT:
			a = Eval(st, n->args[0]);
			if (IS_ERROR(a))
				return a;
			if (a.type != CEL_BOOL)
				return NoOverload("!_", &a, NULL);
			return MakeBool(!a.u.b);
		case CN_NEG:
			a = Eval(st, n->args[0]);
			if (IS_ERROR(a))
				return a;
			if (a.type == CEL_INT)
			{
				if (a.u.i == PG_INT64_MIN)
					return Overflow();
				return MakeInt(-a.u.i);
			}
			if (a.type == CEL_DOUBLE)
				return MakeDouble(-a.u.d);
			if (a.type == CEL_DURATION)
				return MakeDuration(-a.u.i, -(int64) a.len);
			return NoOverload("-_", &a, NULL);
		case CN_COND:
			a = Eval(st, n->args[0]);
			if (IS_ERROR(a))
				return a;
			if (a.type != CEL_BOOL)
				return NoOverload("_?_:_", &a, NULL);
			return Eval(st, n->args[a.u.b ? 1 : 2]);
		case CN_BINARY:
			a = Eval(st, n->args[0]);
			if (IS_ERROR(a))
				return a;
			b = Eval(st, n->args[1]);
			if (IS_ERROR(b))
				return b;
			if (n->op >= CB_EQ)
				return Relation((CelBinOp) n->op, &a, &b);
			return Arithmetic(st, (CelBinOp) n->op, &a, &b);
		case CN_COMPREHENSION:
			return EvalComprehension(st, n);
	}
	return MakeError(ERRCODE_INTERNAL_ERROR, "unknown CEL node %d", n->kind);
}

bool
CelEvaluateValues(const CelProgram *prog, const CelValueVar *vars, int nvars,
				  CelValue *result, bool *skipped, char **errmsg, int *sqlstate)
{
	CelEval		st;
	const CelValue *varbuf[8];
	CelValue	localbuf[8];
	CelValue	r;

	st.prog = prog;
	st.steps = 0;
	st.fatal = false;
	st.vars = prog->nvars <= lengthof(varbuf) ? varbuf :
		palloc(sizeof(CelValue *) * prog->nvars);
	st.locals = prog->nlocals <= lengthof(localbuf) ? localbuf :
		palloc0(sizeof(CelValue) * prog->nlocals);
	for (int s = 0; s < prog->nvars; s++)
	{
		st.vars[s] = NULL;
		for (int i = 0; i < nvars; i++)
			if (strcmp(vars[i].name, prog->varnames[s]) == 0)
			{
				st.vars[s] = &vars[i].value;
				break;
			}
	}
	if (skipped)
		*skipped = false;
	if (prog->guard)
	{
		CelValue	g = Eval(&st, prog->guard);

		if (st.fatal)
		{
			r = g;
			goto done;
		}
		if (g.type != CEL_BOOL || !g.u.b)
		{
			if (skipped)
				*skipped = true;
			result->type = CEL_NULL;
			result->len = 0;
			return true;
		}
	}
	r = Eval(&st, prog->body);
done:
	if (IS_ERROR(r))
	{
		*errmsg = (char *) r.u.s;
		*sqlstate = r.len;
		return false;
	}
	*result = r;
	return true;
}
