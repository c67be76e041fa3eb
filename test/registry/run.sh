#!/usr/bin/env bash
# Registry integration tests on a real server: concurrent registration from
# eight connections, and a pg_dump / pg_restore round trip of the registry.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pgcluster.sh"
. "$here/../lib/tap.sh"

dc_pg_start || { dc_not_ok "start cluster"; exit 1; }
trap dc_pg_stop EXIT
work=$(mktemp -d /tmp/dc-registry.XXXXXX)
chmod 777 "$work"
trap 'dc_pg_stop; rm -rf "$work"' EXIT

q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "${DB:-regdb}" "$@"; }

createdb regdb && q -c "CREATE EXTENSION datacontract" || { dc_not_ok "create extension"; exit 1; }

# -- Concurrency -------------------------------------------------------------
# Eight clients at once, 25 transactions each, three kinds of registration:
# the same schema to the same subject, the same schemas to different subjects
# and new versions of one shared subject.
q -c "SELECT datacontract.set_compatibility('shared', 'NONE')"
cat >"$work/same.sql" <<'SQL'
SELECT datacontract.register('same-subject', '{"type":"record","name":"Same","fields":[{"name":"a","type":"int"}]}');
SQL
cat >"$work/fanout.sql" <<'SQL'
\set s random(1, 20)
\set n random(1, 5)
SELECT datacontract.register('fan-' || :s, '{"type":"record","name":"Fan","fields":[{"name":"f' || :n || '","type":"int","default":0}]}');
SQL
cat >"$work/shared.sql" <<'SQL'
\set n random(1, 1000000)
SELECT datacontract.register('shared', '{"type":"record","name":"Shared","fields":[{"name":"f' || :n || '","type":"long"}]}');
SQL
pgbench -n -d regdb -c 8 -j 4 -t 25 -f "$work/same.sql" -f "$work/fanout.sql" -f "$work/shared.sql" >"$work/pgbench.log" 2>&1
pbrc=$?
grep -q "number of transactions actually processed: 200/200" "$work/pgbench.log"
dc_check "8 concurrent clients: all 200 registrations succeed (no deadlock or unique errors)" test $? = 0 -a $pbrc = 0
grep -iE "error|deadlock" "$work/pgbench.log" | head -5 | sed 's/^/# /'

gaps=$(q -c "SELECT count(*) FROM (SELECT subject, max(version) = count(*) AS ok FROM datacontract.subject_versions GROUP BY subject) t WHERE NOT ok")
dc_is "versions have no gaps or duplicates" "$gaps" "0"
dup=$(q -c "SELECT count(*) FROM (SELECT identity FROM datacontract.schemas GROUP BY identity HAVING count(*) > 1) t")
dc_is "equal content has one id" "$dup" "0"
same=$(q -c "SELECT count(*) FROM datacontract.subject_versions WHERE subject = 'same-subject'")
dc_is "the same schema registered concurrently makes one version" "$same" "1"
fanids=$(q -c "SELECT count(DISTINCT schema_id) FROM datacontract.subject_versions WHERE subject LIKE 'fan-%'")
fanrows=$(q -c "SELECT count(DISTINCT s.schema) FROM datacontract.subject_versions v JOIN datacontract.schemas s ON s.id = v.schema_id WHERE v.subject LIKE 'fan-%'")
dc_is "the same content in different subjects shares ids" "$fanids" "$fanrows"
dupver=$(q -c "SELECT count(*) FROM (SELECT subject, schema_id FROM datacontract.subject_versions GROUP BY 1, 2 HAVING count(*) > 1) t")
dc_is "no subject has the same schema twice" "$dupver" "0"

# -- pg_dump / pg_restore ----------------------------------------------------
q -c "SELECT datacontract.set_config(NULL, '{\"compatibility\": \"FULL\"}')" >/dev/null
q -c "SELECT datacontract.set_mode('same-subject', 'READONLY')" >/dev/null
q -c "SELECT datacontract.delete_version('fan-1', '1')" >/dev/null 2>&1
snapshot() {
	DB=$1 q -c "SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
		SELECT format('%s|%s|%s|%s', id, schema, metadata, \"references\") AS x FROM datacontract.schemas
		UNION ALL SELECT format('%s|%s|%s|%s', subject, version, schema_id, deleted) FROM datacontract.subject_versions
		UNION ALL SELECT format('%s|%s', subject, config) FROM datacontract.config
		UNION ALL SELECT format('%s|%s', subject, mode) FROM datacontract.mode) t"
}
before=$(snapshot regdb)
maxid=$(q -c "SELECT last_value FROM datacontract.schema_id_seq")
pg_dump -Fc -d regdb -f "$work/reg.dump" 2>"$work/dump.err"
dc_check "pg_dump of a database with the registry" test $? = 0
createdb restored
pg_restore -d restored "$work/reg.dump" 2>"$work/restore.err"
rc=$?
dc_check "pg_restore into a new database" test $rc = 0
[ $rc = 0 ] || sed 's/^/# /' "$work/restore.err" | head -10
after=$(snapshot restored)
dc_is "the registry is identical after restore" "$after" "$before"
newid=$(DB=restored q -c "SELECT datacontract.register('after-restore', '{\"type\":\"fixed\",\"name\":\"NeverUsed\",\"size\":3}')")
dc_check "ids continue after the highest id ($newid > $maxid)" test "$newid" -gt "$maxid"

# -- Drop and recreate: the extension cleans up after itself -----------------
q -c "DROP EXTENSION datacontract" && q -c "CREATE EXTENSION datacontract"
dc_is "drop and create again starts an empty registry" "$(q -c 'SELECT count(*) FROM datacontract.schemas')" "0"
exit 0
