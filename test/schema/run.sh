#!/usr/bin/env bash
# Avro schema model: robustness and invariants on a throw-away cluster.
#   - mutated schemas (test/schema/fuzz_schemas.py) never crash the server;
#   - for every valid one, the stored form (plain and normalized) is a fixed
#     point and keeps the canonical form.  (The canonical form itself is not
#     always re-parseable to the same schema: a null-namespace type nested
#     in a namespaced one loses its namespace there, by the specification.)
#   - the per-backend schema cache survives eviction in the middle of a call.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pgcluster.sh"
. "$here/../lib/tap.sh"

trap dc_pg_stop EXIT
dc_pg_start || { dc_not_ok "start cluster"; exit 1; }
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
psql_quiet() { psql_q "$@" >/dev/null; }

dc_check "create extension" psql_quiet -c "CREATE EXTENSION datacontract"

count=${DC_FUZZ_COUNT:-3000}
dc_check "generate schemas" python3 "$here/fuzz_schemas.py" "$count" "${DC_FUZZ_SEED:-42}" -o "$DC_PGDIR/fuzz.b64"
chmod 644 "$DC_PGDIR/fuzz.b64"
load_fuzz() {
	psql_q <<-SQL
	CREATE TABLE fuzz_raw (b text);
	\\copy fuzz_raw FROM '$DC_PGDIR/fuzz.b64'
	CREATE TABLE fuzz AS
		SELECT row_number() OVER () AS id, convert_from(decode(b, 'base64'), 'UTF8') AS s
		FROM fuzz_raw;
	SQL
}
dc_check "load $count mutated schemas" load_fuzz

# Validation never throws and the backend survives every input.
out=$(psql_q -c "
	CREATE TABLE fuzz_checked AS
		SELECT id, s, datacontract.avro_validate(s) AS err FROM fuzz;
	SELECT count(*) FILTER (WHERE err IS NULL) || ' valid, ' ||
	       count(*) FILTER (WHERE err IS NOT NULL) || ' invalid' FROM fuzz_checked;" 2>&1)
rc=$?
echo "# $out"
dc_check "avro_validate on every mutated schema" test "$rc" = 0

# Invariants over the valid ones.
bad=$(psql_q -c "
	SELECT count(*) FROM fuzz_checked
	WHERE err IS NULL AND NOT (
		datacontract.avro_normalize(datacontract.avro_normalize(s)) = datacontract.avro_normalize(s)
		AND datacontract.avro_normalize(datacontract.avro_normalize(s, true), true) = datacontract.avro_normalize(s, true)
		AND datacontract.avro_normalize(datacontract.avro_normalize(s), true) = datacontract.avro_normalize(s, true)
		AND datacontract.avro_canonical(datacontract.avro_normalize(s)) = datacontract.avro_canonical(s)
		AND datacontract.avro_fingerprint64(datacontract.avro_normalize(s, true)) = datacontract.avro_fingerprint64(s))" 2>&1)
dc_is "stored forms are fixed points and keep the canonical form" "$bad" "0"
if [ "$bad" != 0 ]; then
	psql_q -c "SELECT s FROM fuzz_checked WHERE err IS NULL AND
		datacontract.avro_normalize(datacontract.avro_normalize(s)) <> datacontract.avro_normalize(s) LIMIT 3" | sed 's/^/#   /'
fi

# Every message names something; none is empty.
dc_is "every rejection has a message" \
	"$(psql_q -c "SELECT count(*) FROM fuzz_checked WHERE err = ''")" "0"

# The raising functions raise 42201 (SQLSTATE D2201) for invalid input.
states=$(psql_q -c "
	CREATE FUNCTION pg_temp.state(s text) RETURNS text LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM datacontract.avro_canonical(s);
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE;
	END \$\$;
	SELECT string_agg(DISTINCT pg_temp.state(s), ',') FROM fuzz_checked WHERE err IS NOT NULL;" 2>&1)
dc_is "invalid schemas raise D2201 (Confluent 42201)" "$states" "D2201"

# The schema cache: more distinct schemas than it holds, in one call.
if psql_q -c "SELECT 'datacontract.avro_check_compatibility'::regproc" >/dev/null 2>&1; then
	res=$(psql_q -c "
		SELECT coalesce(array_length(datacontract.avro_check_compatibility(
			'{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}',
			array_agg('{\"type\":\"record\",\"name\":\"R\",\"doc\":\"v' || i || '\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}' ORDER BY i DESC),
			array_agg(i ORDER BY i DESC), 'BACKWARD_TRANSITIVE'), 1), 0)
		FROM generate_series(1, 10100) i;
		SELECT coalesce(array_length(datacontract.avro_check_compatibility(
			'{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}',
			array_agg('{\"type\":\"record\",\"name\":\"R\",\"doc\":\"v' || i || '\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}' ORDER BY i DESC),
			array_agg(i ORDER BY i DESC), 'BACKWARD_TRANSITIVE'), 1), 0)
		FROM generate_series(1, 10100) i;" 2>&1 | tr '\n' ' ')
	dc_is "schema cache survives eviction during a call" "$res" "0 0 "
else
	dc_ok "schema cache survives eviction during a call # skip: avro_check_compatibility not installed"
fi

dc_check "server still up" psql_quiet -c "SELECT 1"
