#!/usr/bin/env bash
# Differential test of the JSONata interpreter against the reference
# implementation (npm jsonata), then a bounded run of the parser's fuzz
# target.  Prints TAP lines.
#
#   DC_JSONATA_RANDOM  seeded-random cases added to cases.txt (default 300)
#   DC_FUZZ_SECONDS    seconds of fuzzing (default 20; 0 skips it)
#
# Every disagreement is listed.  known_differences.txt records the ones we
# accept, each with its reason; they are reported, and an entry that no
# longer differs fails so that the list stays true.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
. "$top/test/lib/pgcluster.sh"
. "$top/test/lib/tap.sh"

nrandom=${DC_JSONATA_RANDOM:-300}
seed=20240817
work=$(mktemp -d /tmp/dc-jsonata.XXXXXX)
chmod 755 "$work"
cleanup() { dc_pg_stop; rm -rf "$work"; }
trap cleanup EXIT

if [ ! -d "$here/node_modules/jsonata" ]; then
	(cd "$here" && npm install --no-audit --no-fund >"$work/npm.log" 2>&1) ||
		{ cat "$work/npm.log"; dc_not_ok "npm install jsonata"; }
fi

dc_pg_start || { dc_not_ok "start cluster"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION datacontract" >/dev/null ||
	{ dc_not_ok "create extension"; exit 1; }

node "$here/reference.js" cases "$here/cases.txt" "$seed" "$nrandom" >"$work/cases.tsv" ||
	{ dc_not_ok "generate cases"; exit 1; }
grep -v '^#' "$here/known_differences.txt" | grep -v '^$' >"$work/known.tsv"

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || { dc_not_ok "load cases"; exit 1; }
CREATE FUNCTION ours(e text, i jsonb) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE r jsonb;
BEGIN
	r := datacontract.jsonata_eval(e, i);
	RETURN CASE WHEN r IS NULL THEN 'U' ELSE 'V ' || r::text END;
EXCEPTION
	WHEN syntax_error THEN RETURN 'E S';
	WHEN others THEN RETURN 'E ' || coalesce(substring(SQLERRM from 'failed: ([A-Z][0-9]{4})'), SQLERRM);
END \$\$;
CREATE TABLE cases (key text PRIMARY KEY, expr text, input text, ours text, ref text);
CREATE TABLE ref (key text, outcome text);
CREATE TABLE known (key text PRIMARY KEY, reason text);
\copy cases (key, expr, input) FROM '$work/cases.tsv'
\copy known FROM '$work/known.tsv'
\copy (SELECT key, expr, input::jsonb::text FROM cases) TO '$work/canonical.tsv'
SQL

node "$here/reference.js" eval <"$work/canonical.tsv" >"$work/ref.tsv" ||
	{ dc_not_ok "reference evaluation"; exit 1; }

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || { dc_not_ok "evaluate cases"; exit 1; }
\copy ref FROM '$work/ref.tsv'
UPDATE cases c SET ref = r.outcome FROM ref r WHERE r.key = c.key;
SELECT datacontract.jsonata_check('1');	-- load the library before setting its GUCs
SET datacontract.jsonata_timeout = 5000;
UPDATE cases SET ours = ours(expr, input::jsonb);
CREATE VIEW differ AS
	SELECT key, ours, ref FROM cases
	WHERE ref IS NULL OR NOT (ours = ref OR
		(ours LIKE 'V %' AND ref LIKE 'V %' AND substr(ours, 3)::jsonb = substr(ref, 3)::jsonb));
SQL

q() { psql -X -At -F $'\t' -c "$1"; }
total=$(q "SELECT count(*) FROM cases")
values=$(q "SELECT count(*) FROM cases WHERE ref LIKE 'V %'")
errors=$(q "SELECT count(*) FROM cases WHERE ref LIKE 'E %'")
echo "# $total cases ($values values, $errors errors on the reference side), seed $seed"
agree=$(q "SELECT count(*) FROM cases WHERE key NOT IN (SELECT key FROM differ)")
echo "# $agree of $total agree"

q "SELECT d.key, k.reason, d.ours, d.ref FROM differ d JOIN known k USING (key) ORDER BY 1" |
	while IFS=$'\t' read -r key reason o r; do
		printf '# known difference: %s\n#   reason: %s\n#   ours: %.200s\n#   reference: %.200s\n' "$key" "$reason" "$o" "$r"
	done
nknown=$(q "SELECT count(*) FROM differ JOIN known USING (key)")

unexpected=$(q "SELECT count(*) FROM differ WHERE key NOT IN (SELECT key FROM known)")
q "SELECT key, ours, ref FROM differ WHERE key NOT IN (SELECT key FROM known) ORDER BY 1" |
	while IFS=$'\t' read -r key o r; do
		printf '# differs: %s\n#   ours: %.300s\n#   reference: %.300s\n' "$key" "$o" "$r"
	done
dc_is "no unexpected disagreements with npm jsonata over $total cases ($nknown known)" "$unexpected" 0

stale=$(q "SELECT count(*) FROM known WHERE key NOT IN (SELECT key FROM differ)")
q "SELECT key FROM known WHERE key NOT IN (SELECT key FROM differ) ORDER BY 1" | sed 's/^/# no longer differs (or no such case): /'
dc_is "every recorded known difference still differs" "$stale" 0

seed_rename=$(q "SELECT count(*) FROM cases WHERE expr LIKE '\$merge([\$sift(\$, function(\$v, \$k) {\$k != %' AND ours LIKE 'V %' AND key NOT IN (SELECT key FROM differ)")
dc_is "the seed's ssn <-> socialSecurityNumber rules agree with the reference" "$seed_rename" 6

# --- the parser's fuzz target, for a bounded time ---------------------------
secs=${DC_FUZZ_SECONDS:-20}
if [ "$secs" != 0 ]; then
	if bash "$top/test/fuzz/jsonata/build.sh" "$work/fuzz" >"$work/fuzz-build.log" 2>&1; then
		cp -r "$top/test/fuzz/jsonata/corpus" "$work/corpus"
		if "$work/fuzz/fuzz_jsonata" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-max_len=512 -dict="$top/test/fuzz/jsonata/jsonata.dict" \
			-artifact_prefix="$work/" "$work/corpus" >"$work/fuzz.log" 2>&1; then
			runs=$(grep -o 'Done [0-9]* runs' "$work/fuzz.log" | grep -o '[0-9]*')
			dc_ok "fuzz_jsonata: ${runs:-?} inputs in ${secs}s, no crash"
		else
			grep -E 'ERROR|SUMMARY|runtime error' "$work/fuzz.log" | head -5 | sed 's/^/# /'
			ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -3 | while read -r f; do
				printf '# input: %s\n' "$(head -c 300 "$f" | od -An -c | tr -s ' ' | head -5)"
			done
			dc_not_ok "fuzz_jsonata"
		fi
	else
		tail -20 "$work/fuzz-build.log" | sed 's/^/# /'
		dc_not_ok "build fuzz_jsonata"
	fi
fi
