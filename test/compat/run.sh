#!/usr/bin/env bash
# Differential test of Avro compatibility checking: thousands of seeded random
# (schema, mutated schema) pairs, each checked in both directions by
# datacontract.avro_compatible and by Debian's python3-avro (its
# avro.compatibility module, with its known departures from Java Avro 1.11
# patched back; see KNOWN_DIFFERENCES in differential.py).  Prints TAP lines.
#
#   DC_COMPAT_SEED   generator seed (default 20240601)
#   DC_COMPAT_PAIRS  number of random pairs (default 3000, i.e. 6000 checks)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/test/lib/pgcluster.sh"
. "$top/test/lib/tap.sh"

py=/usr/bin/python3
seed=${DC_COMPAT_SEED:-20240601}
count=${DC_COMPAT_PAIRS:-3000}

work=$(mktemp -d /tmp/dc-compat.XXXXXX)
chmod 755 "$work"
cleanup() { dc_pg_stop; rm -rf "$work"; }
trap cleanup EXIT

if ! "$py" -c 'import avro.compatibility' 2>/dev/null; then
	dc_not_ok "compat: python3-avro is importable by $py"
	exit 0
fi

if ! "$py" "$here/differential.py" generate --seed "$seed" --count "$count" \
		--out "$work/pairs.csv" 2>"$work/gen.err"; then
	dc_not_ok "compat: generate $count pairs (seed $seed)"
	sed 's/^/# /' "$work/gen.err"
	exit 0
fi
dc_ok "compat: generated $count random pairs (seed $seed)"

if ! dc_pg_start >"$work/start.log" 2>&1; then
	dc_not_ok "compat: start a cluster"
	sed 's/^/# /' "$work/start.log"
	exit 0
fi

# One psql session: load the pairs, check them all, write the verdicts.  A
# pair that raises an error is reported as such instead of aborting the batch.
if ! psql -X -q -v ON_ERROR_STOP=1 >"$work/psql.log" 2>&1 <<SQL
CREATE EXTENSION datacontract;
CREATE TEMP TABLE pairs (id integer, category text, reader text, writer text);
\copy pairs FROM '$work/pairs.csv' WITH (FORMAT csv)
CREATE FUNCTION pg_temp.check_pair(id integer, r text, w text) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE
	res jsonb;
	lv jsonb := '{}';
	lvl text;
BEGIN
	res := jsonb_build_object('ok', datacontract.avro_compatible(r, w),
							  'msgs', to_jsonb(datacontract.avro_compatibility_messages(r, w)));
	-- even rows are (reader = new, writer = old): check the levels too
	IF id % 2 = 0 THEN
		FOREACH lvl IN ARRAY ARRAY['BACKWARD', 'FORWARD', 'FULL'] LOOP
			lv := lv || jsonb_build_object(lvl,
				cardinality(datacontract.avro_check_compatibility(r, ARRAY[w], ARRAY[1], lvl)) = 0);
		END LOOP;
		res := res || jsonb_build_object('levels', lv);
	END IF;
	RETURN res::text;
EXCEPTION WHEN OTHERS THEN
	RETURN jsonb_build_object('error', SQLERRM)::text;
END
\$\$;
\copy (SELECT id, pg_temp.check_pair(id, reader, writer) FROM pairs ORDER BY id) TO '$work/results.csv' WITH (FORMAT csv)
SQL
then
	dc_not_ok "compat: check the pairs in PostgreSQL"
	sed 's/^/# /' "$work/psql.log" | head -50
	exit 0
fi
dc_ok "compat: checked $((count * 2)) pair directions in PostgreSQL"

"$py" "$here/differential.py" compare --pairs "$work/pairs.csv" --results "$work/results.csv" ||
	dc_not_ok "compat: compare with python3-avro"
exit 0
