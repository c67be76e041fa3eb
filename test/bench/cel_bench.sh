#!/usr/bin/env bash
# Benchmark of the CEL evaluator (not part of the test suite; prints figures,
# asserts nothing): the data-quality condition `size(message.ssn) == 9`
# evaluated over a message already converted to CEL values (no jsonb parsing
# counted), compiled once.  Target: <= 1 us per evaluation.
#   CEL_BENCH_N (default 10000000 evaluations)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
n=${CEL_BENCH_N:-10000000}
work=$(mktemp -d /tmp/dc-celbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
pglib=/usr/lib/postgresql/15/lib

cat >"$work/cel_bench.c" <<'C'
#include "postgres.h"

#include <time.h>

#include "utils/memutils.h"

#include "rules_cel.h"

/* matches() is not used here; the extension uses PostgreSQL's regex engine. */
bool
CelRegexSearch(const char *pattern, int patlen, const char *s, int slen,
			   bool *match, char **errmsg)
{
	*errmsg = pstrdup("no regex in the benchmark");
	return false;
}

static CelValue
Str(const char *s)
{
	CelValue	v = {CEL_STRING, (int32) strlen(s), {.s = s}};

	return v;
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	long		n = atol(argv[1]);
	const char *exprs[] = {
		"size(message.ssn) == 9",
		"size(message.ssn) == 9 && message.age >= 18 && message.email.contains('@')",
	};
	/* a customer record: {"name", "email", "ssn", "age", "country", "active"} */
	CelValue	items[12];
	CelValueVar var;
	char	   *err;

	items[0] = Str("name");
	items[1] = Str("Ada Lovelace");
	items[2] = Str("email");
	items[3] = Str("ada@example.com");
	items[4] = Str("ssn");
	items[5] = Str("123456789");
	items[6] = Str("age");
	items[7] = (CelValue) {CEL_INT, 0, {.i = 36}};
	items[8] = Str("country");
	items[9] = Str("GB");
	items[10] = Str("active");
	items[11] = (CelValue) {CEL_BOOL, 0, {.b = true}};
	var.name = "message";
	var.value = (CelValue) {CEL_MAP, 6, {.items = items}};

	for (int e = 0; e < (int) lengthof(exprs); e++)
	{
		CelProgram *prog = CelCompile(exprs[e], true, TopMemoryContext, &err);
		MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "eval", ALLOCSET_DEFAULT_SIZES);
		CelValue	result;
		bool		skipped;
		int			sqlstate;
		long		trues = 0;
		double		t0,
					t1;

		if (prog == NULL)
		{
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		MemoryContextSwitchTo(cxt);
		t0 = Now();
		for (long i = 0; i < n; i++)
		{
			if (!CelEvaluateValues(prog, &var, 1, &result, &skipped, &err, &sqlstate))
			{
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			trues += result.u.b;
		}
		t1 = Now();
		printf("%-80s %7.1f ns/evaluation (%ld evaluations, %ld true)\n",
			   exprs[e], (t1 - t0) * 1e9 / n, n, trues);
	}
	return 0;
}
C
cflags="-O2 -g -Wno-ignored-attributes -I$top/src -I$(pg_config --includedir-server)"
for f in "$top"/src/rules_cel_parse.c "$top"/src/rules_cel_eval.c "$top"/test/fuzz/codec/pg_shim.c "$work/cel_bench.c"; do
	gcc $cflags -c "$f" -o "$work/$(basename "${f%.c}").o"
done
gcc "$work"/*.o -o "$work/bench" $pglib/libpgcommon.a $pglib/libpgport.a -lm
echo "== CEL evaluation over a pre-converted message ($n evaluations per expression)"
"$work/bench" "$n"
