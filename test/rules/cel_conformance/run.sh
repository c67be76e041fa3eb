#!/usr/bin/env bash
# CEL conformance: the cases of cases.tsv (read from cel-spec's
# tests/simple/testdata) run through datacontract.cel_eval (cel_eval_vars for
# cases with bindings), one TAP line per upstream file with its pass count;
# known failures are listed and fail the run once they pass; then the CEL
# parser/evaluator fuzz target for a bounded time.
#   DC_FUZZ_SECONDS   seconds of fuzzing (default 20; 0 skips fuzzing)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
. "$top/test/lib/pgcluster.sh"
. "$top/test/lib/tap.sh"

work=$(mktemp -d /tmp/dc-cel.XXXXXX)
chmod 755 "$work"
cleanup() { dc_pg_stop; rm -rf "$work"; }
trap cleanup EXIT

dc_pg_start || { dc_not_ok "start cluster"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION datacontract" >/dev/null ||
	{ dc_not_ok "create extension"; exit 1; }

# pad the optional columns (bindings, known) so that COPY sees six
grep -v '^#' "$here/cases.tsv" |
	awk -F'\t' 'BEGIN { OFS = "\t" } { while (NF < 6) $(NF + 1) = ""; print }' >"$work/cases.tsv"
chmod 644 "$work/cases.tsv"
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || { dc_not_ok "load cases"; exit 1; }
CREATE TABLE cases (section text, name text, expr text, expected text, bindings text, known text, ord serial);
\copy cases (section, name, expr, expected, bindings, known) FROM '$work/cases.tsv' WITH (FORMAT csv, DELIMITER E'\t', QUOTE E'\x01')
-- the outcome of one case: the result as jsonb text, or "!error: message"
CREATE FUNCTION try_eval(e text, b text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
	IF coalesce(b, '') = '' THEN
		RETURN coalesce(datacontract.cel_eval(e, '{"ssn": "123456789", "customer": {"name": "Ada"}, "items": [{"qty": 1}, {"qty": 2}]}')::text, '!skipped');
	END IF;
	RETURN coalesce(datacontract.cel_eval_vars(e, b::jsonb)::text, '!skipped');
EXCEPTION WHEN others THEN RETURN '!error: ' || SQLERRM;
END \$\$;
CREATE TABLE outcomes AS
SELECT c.*, o.got,
	   CASE WHEN c.expected LIKE '!skip%' THEN 'skip'
			WHEN coalesce(c.known, '') = '' THEN (CASE WHEN o.ok THEN 'pass' ELSE 'fail' END)
			WHEN o.ok THEN 'stale'		-- a known failure that now passes
			ELSE 'known' END AS verdict
  FROM cases c
  CROSS JOIN LATERAL (SELECT CASE WHEN c.expected LIKE '!skip%' THEN NULL ELSE try_eval(c.expr, c.bindings) END AS got) g
  CROSS JOIN LATERAL (SELECT g.got,
	   CASE WHEN c.expected LIKE '!skip%' THEN false
			WHEN c.expected = '!error' THEN g.got LIKE '!error%'
			ELSE g.got NOT LIKE '!%' AND g.got::jsonb = c.expected::jsonb END AS ok) o;
SQL

total_pass=0
total=0
total_known=0
while IFS='|' read -r section pass fail skip known stale; do
	n=$((pass + fail + known + stale))
	total_pass=$((total_pass + pass))
	total_known=$((total_known + known))
	total=$((total + n))
	extra=
	[ "$known" = 0 ] || extra="$extra, $known known failures"
	[ "$skip" = 0 ] || extra="$extra, $skip skipped"
	if [ "$fail" = 0 ] && [ "$stale" = 0 ]; then
		dc_ok "cel conformance $section: $pass/$n pass$extra"
	else
		dc_not_ok "cel conformance $section: $pass/$n pass, $fail failing, $stale known failures now passing$extra"
		psql -X -At -F ' | ' -c "SELECT verdict, name, expr, expected, got FROM outcomes
			WHERE section = '$section' AND verdict IN ('fail', 'stale') ORDER BY ord" | sed 's/^/#   /'
	fi
done < <(psql -X -At -c "SELECT section, count(*) FILTER (WHERE verdict = 'pass'),
		count(*) FILTER (WHERE verdict = 'fail'), count(*) FILTER (WHERE verdict = 'skip'),
		count(*) FILTER (WHERE verdict = 'known'), count(*) FILTER (WHERE verdict = 'stale')
	FROM outcomes GROUP BY section ORDER BY min(ord)")
echo "# $total_pass/$total supported cases pass, $total_known known failures"
psql -X -At -F ': ' -c "SELECT section || '/' || name, known FROM outcomes
	WHERE verdict = 'known' ORDER BY ord" | sed 's/^/# known failure /'
psql -X -At -F ': ' -c "SELECT section || '/' || name, substr(expected, 7) FROM outcomes
	WHERE verdict = 'skip' ORDER BY ord" | sed 's/^/# skipped /'

# --- fuzzing ------------------------------------------------------------------
if [ "${DC_FUZZ_SECONDS:-20}" != 0 ]; then
	if ! bash "$top/test/fuzz/cel/build.sh" "$work/fuzz" >"$work/fuzzbuild.log" 2>&1; then
		tail -20 "$work/fuzzbuild.log" | sed 's/^/# /'
		dc_not_ok "build CEL fuzz target"
	else
		mkdir -p "$work/fuzz/new"
		if timeout $(( ${DC_FUZZ_SECONDS:-20} + 30 )) "$work/fuzz/fuzz_cel" \
			-max_total_time="${DC_FUZZ_SECONDS:-20}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 "$work/fuzz/new" "$top/test/fuzz/cel/corpus" >"$work/fuzz.log" 2>&1; then
			runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz.log" | grep -o '[0-9]*$')
			dc_ok "fuzz CEL parser and evaluator for ${DC_FUZZ_SECONDS:-20} s: ${runs:-?} inputs, no crash"
		else
			grep -A30 'ERROR: ' "$work/fuzz.log" | head -40 | sed 's/^/# /'
			dc_not_ok "fuzz CEL parser and evaluator"
		fi
	fi
fi
