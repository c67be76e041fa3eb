#!/usr/bin/env bash
# Registry benchmarks (figures and ratios from one run; nothing asserted):
#  1. schema by id from SQL vs a bare primary-key SELECT on the same table
#     (pgbench, same clients, same run);
#  2. registrations of distinct new versions per second, 8 clients on
#     distinct subjects;
#  3. registering a new version under FULL_TRANSITIVE against 1,000 prior
#     versions (median, commit included) next to a single pair check.
# Usage: test/bench/registry_bench.sh [seconds-per-run]   (default 10)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pgcluster.sh"
secs=${1:-10}
clients=8

dc_pg_start "shared_buffers = 256MB" "max_connections = 50" "synchronous_commit = on"
work=$(mktemp -d /tmp/dc-bench.XXXXXX)
chmod 777 "$work"
trap 'dc_pg_stop; rm -rf "$work"' EXIT
createdb bench
export PGDATABASE=bench
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
calc() { awk "BEGIN { print $* }"; }
q -c "CREATE EXTENSION datacontract"

# tps and median latency (ms) of a pgbench run; per-transaction log in $work.
run_pgbench() {
	local name=$1; shift
	rm -f "$work"/pgbench_log.*
	(cd "$work" && pgbench -n -M prepared -l "$@" >"$work/$name.out" 2>&1)
	local tps
	tps=$(grep -oP 'tps = \K[0-9.]+' "$work/$name.out" | head -1)
	local med
	med=$(cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.3f", a[int((NR+1)/2)]/1000; else print "nan"}')
	echo "$tps $med"
}

echo "== 1. schema by id ($clients clients, ${secs}s each)"
q -c "SELECT datacontract.set_compatibility(NULL, 'NONE')" >/dev/null
q -c "SELECT datacontract.register('bench-ids-' || (i % 50), format('{\"type\":\"record\",\"name\":\"R%s\",\"fields\":[{\"name\":\"f\",\"type\":\"long\"}]}', i)) FROM generate_series(1, 1000) i" >/dev/null
echo '\set id random(1, 1000)
SELECT datacontract.get_schema(:id);' >"$work/by_id.sql"
echo '\set id random(1, 1000)
SELECT schema FROM datacontract.schemas WHERE id = :id;' >"$work/bare.sql"
read -r tps_bare med_bare < <(run_pgbench bare -c $clients -j 2 -T "$secs" -f "$work/bare.sql")
read -r tps_func med_func < <(run_pgbench by_id -c $clients -j 2 -T "$secs" -f "$work/by_id.sql")
printf '   bare SELECT ... WHERE id = $1:   %10.0f tps  (median %s ms)\n' "$tps_bare" "$med_bare"
printf '   datacontract.get_schema($1):     %10.0f tps  (median %s ms)\n' "$tps_func" "$med_func"
printf '   ratio get_schema / bare:         %10.2f   (target >= 0.90)\n' "$(calc "$tps_func / $tps_bare")"

echo "== 2. registrations of new versions ($clients clients, distinct subjects, ${secs}s)"
q -c "SELECT datacontract.delete_config()" >/dev/null
echo '\set n random(1, 2000000000)
SELECT datacontract.register('"'"'bench-reg-'"'"' || :client_id, '"'"'{"type":"record","name":"Reg","fields":[{"name":"f'"'"' || :n || '"'"'","type":"int","default":0}]}'"'"');' >"$work/reg.sql"
before=$(q -c "SELECT count(*) FROM datacontract.subject_versions WHERE subject LIKE 'bench-reg-%'")
start=$(date +%s.%N)
read -r tps_reg med_reg < <(run_pgbench reg -c $clients -j 2 -T "$secs" -f "$work/reg.sql")
end=$(date +%s.%N)
after=$(q -c "SELECT count(*) FROM datacontract.subject_versions WHERE subject LIKE 'bench-reg-%'")
printf '   new versions: %s in %.1fs = %.0f versions/s (pgbench %s tps, median %s ms; target >= 1000/s)\n' \
	"$((after - before))" "$(calc "$end - $start")" "$(calc "($after - $before) / ($end - $start)")" "$tps_reg" "$med_reg"

echo "== 3. FULL_TRANSITIVE against 1,000 prior versions"
q -c "SELECT datacontract.set_compatibility('bench-full', 'NONE')" >/dev/null
q -c "SELECT datacontract.register('bench-full', format('{\"type\":\"record\",\"name\":\"Full\",\"namespace\":\"bench\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"default\":0},{\"name\":\"f%s\",\"type\":\"string\",\"default\":\"\"}]}', i)) FROM generate_series(1, 1000) i" >/dev/null
q -c "SELECT datacontract.set_compatibility('bench-full', 'FULL_TRANSITIVE')" >/dev/null
echo '\set n random(1000000, 2000000000)
SELECT datacontract.register('"'"'bench-full'"'"', '"'"'{"type":"record","name":"Full","namespace":"bench","fields":[{"name":"id","type":"long","default":0},{"name":"g'"'"' || :n || '"'"'","type":"string","default":""}]}'"'"');' >"$work/full.sql"
read -r tps_full med_full < <(run_pgbench full -c 1 -j 1 -t 50 -f "$work/full.sql")
prior=$(q -c "SELECT count(*) FROM datacontract.subject_versions WHERE subject = 'bench-full'")
a='{"type":"record","name":"Full","namespace":"bench","fields":[{"name":"id","type":"long","default":0},{"name":"f1","type":"string","default":""}]}'
b='{"type":"record","name":"Full","namespace":"bench","fields":[{"name":"id","type":"long","default":0},{"name":"f2","type":"string","default":""}]}'
printf "SELECT datacontract.avro_compatible('%s', '%s') AND datacontract.avro_compatible('%s', '%s');\n" "$a" "$b" "$b" "$a" >"$work/pair.sql"
read -r tps_pair med_pair < <(run_pgbench pair -c 1 -j 1 -T 3 -f "$work/pair.sql")
echo 'SELECT 1;' >"$work/noop.sql"
read -r tps_noop med_noop < <(run_pgbench noop -c 1 -j 1 -T 3 -f "$work/noop.sql")
printf '   register under FULL_TRANSITIVE (%s versions at the end): median %s ms per registration, commit included (target <= 10 ms)\n' "$prior" "$med_full"
printf '   one FULL pair check (both directions) in SQL: median %s ms; an empty SELECT 1: median %s ms\n' "$med_pair" "$med_noop"
printf '   cost per compared version: %.1f us\n' "$(calc "($med_full - $med_noop) * 1000 / ($prior - 25)")"
