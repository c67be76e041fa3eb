#!/usr/bin/env bash
# Differential tests of the Avro codec against python3-avro (Debian) and avsc
# (npm), then the codec's fuzz targets for a bounded time.  Prints TAP lines.
#
#   DC_CODEC_SCHEMAS  random schemas per generator (default 200)
#   DC_FUZZ_SECONDS   seconds per fuzz target (default 20; 0 skips fuzzing)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/test/lib/pgcluster.sh"
. "$top/test/lib/tap.sh"

nschemas=${DC_CODEC_SCHEMAS:-200}
work=$(mktemp -d /tmp/dc-codec.XXXXXX)
chmod 755 "$work"
cleanup() { dc_pg_stop; rm -rf "$work"; }
trap cleanup EXIT

if [ ! -d "$here/node_modules/avsc" ]; then
	(cd "$here" && npm install --no-audit --no-fund >"$work/npm.log" 2>&1) ||
		{ cat "$work/npm.log"; dc_not_ok "npm install avsc"; }
fi

# preloaded, as deployed (some GUCs of the library are postmaster-only)
dc_pg_start "shared_preload_libraries = 'datacontract'" || { dc_not_ok "start cluster"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION datacontract" >/dev/null ||
	{ dc_not_ok "create extension"; exit 1; }

# Helpers: each check returns NULL (a failure) instead of aborting the query.
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE FUNCTION try_decode(d bytea, s text, aj boolean) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN datacontract.avro_decode_raw(d, s, NULL, aj);
EXCEPTION WHEN others THEN RAISE NOTICE 'decode: %: %', SQLERRM, s; RETURN NULL; END $$;
CREATE FUNCTION try_encode(v jsonb, s text) RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN RETURN datacontract.avro_encode_raw(v, s);
EXCEPTION WHEN others THEN RAISE NOTICE 'encode: %: % %', SQLERRM, v, s; RETURN NULL; END $$;
CREATE FUNCTION has_nul(d bytea, s text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM datacontract.avro_decode_raw(d, s, NULL, true); RETURN false;
EXCEPTION WHEN untranslatable_character THEN RETURN true; END $$;
CREATE TABLE py (c text, schema text, data bytea, expected jsonb);
CREATE TABLE av (c text, schema text, data bytea);
SQL

# --- python3-avro encodes, we decode; we encode, python3-avro decodes -----------
/usr/bin/python3 "$here/gen.py" gen 20240601 "$nschemas" 10 "$work/py.tsv" ||
	dc_not_ok "generate python-avro cases"
sed 's/\t\([0-9a-f]*\)\t/\t\\x\1\t/' "$work/py.tsv" >"$work/py.load"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy py FROM '$work/py.load' WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')" ||
	dc_not_ok "load python-avro cases"
ncases=$(psql -X -At -c "SELECT count(*) FROM py")
echo "# $ncases python-avro cases over $nschemas random schemas"

bad=$(psql -X -At -c "SELECT count(*) FROM py WHERE try_decode(data, schema, false) IS DISTINCT FROM expected" 2>"$work/err1")
dc_is "python-avro bytes decode to the expected natural jsonb ($ncases cases)" "$bad" 0
[ "$bad" = 0 ] || { head -5 "$work/err1"; psql -X -At -c "SELECT c, schema, data, expected, try_decode(data, schema, false) FROM py WHERE try_decode(data, schema, false) IS DISTINCT FROM expected LIMIT 3" 2>/dev/null | sed 's/^/# /'; }

bad=$(psql -X -At -c "SELECT count(*) FROM py WHERE try_encode(try_decode(data, schema, false), schema) IS DISTINCT FROM data" 2>"$work/err2")
dc_is "natural jsonb re-encodes to python-avro's bytes" "$bad" 0
[ "$bad" = 0 ] && true || head -5 "$work/err2"

bad=$(psql -X -At -c "SELECT count(*) FROM py WHERE try_encode(try_decode(data, schema, true), schema) IS DISTINCT FROM data" 2>"$work/err3")
dc_is "Avro JSON form re-encodes to python-avro's bytes" "$bad" 0
[ "$bad" = 0 ] || head -5 "$work/err3"

psql -X -At -F $'\t' -c "SELECT c, schema, encode(coalesce(try_encode(expected, schema), '\\xdead'), 'hex'), encode(data, 'hex') FROM py" \
	>"$work/ours.tsv" 2>"$work/err4"
read -r ok bad < <(/usr/bin/python3 "$here/gen.py" check "$work/ours.tsv" | tee "$work/pycheck.log" | tail -1)
grep '^#' "$work/pycheck.log" | head -5
dc_is "python-avro decodes our encodings as the original data ($ok cases)" "$bad" 0

# --- avsc encodes (its own random data), we decode and re-encode ---------------
cut -f2 "$work/py.tsv" | sort -u >"$work/schemas.txt"
cat >>"$work/schemas.txt" <<'EOF'
{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null},{"name":"battery_level","type":["null","float"],"default":null}]}
{"type":"record","name":"Logical","fields":[{"name":"d","type":{"type":"int","logicalType":"date"}},{"name":"tm","type":{"type":"int","logicalType":"time-millis"}},{"name":"tu","type":{"type":"long","logicalType":"time-micros"}},{"name":"tsm","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"tsu","type":{"type":"long","logicalType":"timestamp-micros"}},{"name":"lm","type":{"type":"long","logicalType":"local-timestamp-millis"}},{"name":"lu","type":{"type":"long","logicalType":"local-timestamp-micros"}},{"name":"dur","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}},{"name":"opt","type":["null",{"type":"long","logicalType":"timestamp-micros"}]}]}
EOF
node "$here/avsc.js" gen "$work/schemas.txt" 10 7 "$work/av.tsv" || dc_not_ok "generate avsc cases"
sed 's/\t\([0-9a-f]*\)$/\t\\x\1/' "$work/av.tsv" >"$work/av.load"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy av FROM '$work/av.load' WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')" ||
	dc_not_ok "load avsc cases"
ncases=$(psql -X -At -c "SELECT count(*) FROM av")
echo "# $ncases avsc cases"

for form in false true; do
	psql -X -At -F $'\t' -c "SELECT c, schema, encode(coalesce(try_encode(try_decode(data, schema, $form), schema), '\\xdead'), 'hex'), encode(data, 'hex') FROM av WHERE NOT ($form AND has_nul(data, schema))" \
		>"$work/av_ours_$form.tsv" 2>"$work/err5"
	grep -m3 NOTICE "$work/err5" | cut -c1-300
	read -r ok bad < <(node "$here/avsc.js" check "$work/av_ours_$form.tsv" | tee "$work/avcheck.log" | tail -1)
	grep '^#' "$work/avcheck.log" | head -5 | cut -c1-400
	[ "$form" = true ] && what="Avro JSON form" || what="natural form"
	skipped=""
	[ "$form" = true ] && skipped=", $(psql -X -At -c "SELECT count(*) FROM av WHERE has_nul(data, schema)") with U+0000 in bytes skipped"
	dc_is "avsc data decoded ($what) and re-encoded by us is the same data to avsc ($ok cases$skipped)" "$bad" 0
done

# --- fuzzing ------------------------------------------------------------------
if [ "${DC_FUZZ_SECONDS:-20}" != 0 ]; then
	bash "$top/test/fuzz/codec/build.sh" "$work/fuzz" >"$work/fuzzbuild.log" 2>&1
	if [ $? != 0 ]; then
		tail -20 "$work/fuzzbuild.log"
		dc_not_ok "build fuzz targets"
	else
		for target in decode schema; do
			corpus="$top/test/fuzz/codec/corpus_$target"
			mkdir -p "$work/fuzz/new_$target"
			if timeout $(( ${DC_FUZZ_SECONDS:-20} + 30 )) "$work/fuzz/fuzz_$target" \
				-max_total_time="${DC_FUZZ_SECONDS:-20}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
				-print_final_stats=1 "$work/fuzz/new_$target" "$corpus" >"$work/fuzz_$target.log" 2>&1; then
				runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz_$target.log" | grep -o '[0-9]*$')
				dc_ok "fuzz $target for ${DC_FUZZ_SECONDS:-20} s: ${runs:-?} inputs, no crash"
			else
				grep -A30 'ERROR: ' "$work/fuzz_$target.log" | head -40 | sed 's/^/# /'
				dc_not_ok "fuzz $target"
			fi
		done
	fi
fi
