#!/usr/bin/env bash
# The demo: a throw-away PostgreSQL with datacontract; the seed's SensorEvent
# schema registered under sensor-events-value, the breaking change
# (battery_level required) rejected, the schema evolved with the optional
# battery_level field, all from SQL; then the seed document's curl commands
# against the REST API the extension serves; then the seed's whole pipeline
# (demo/pipeline.sh): a Kafka broker, events produced, the worker ingesting.
# Installs what it needs, cleans up on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/lib/pgcluster.sh

bash test/deps.sh
echo "== building and installing datacontract"
make -s -j2 >/dev/null && make -s install >/dev/null

echo "== starting a throw-away PostgreSQL serving the REST API"
http_port=$(dc_free_port)
dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = $http_port"
trap dc_pg_stop EXIT
echo "   port $PGPORT, REST API on http://localhost:$http_port, data in $DC_PGDATA"

psql -X -q -c "CREATE EXTENSION datacontract" >/dev/null
v1=$(cat schemas/SensorEvent.avsc)
v2=$(cat schemas/SensorEvent-v2.avsc)
bad=$(cat schemas/SensorEvent-v2-breaking.avsc)
psql -X -q -v s="$v1" -v s2="$v2" -v bad="$bad" <<'SQL' 2>&1 | sed 's/^/   /'
\set SHOW_CONTEXT never
\pset format wrapped
\pset columns 120
\echo
\echo '-- register SensorEvent v1 under sensor-events-value (as the producer does at start-up)'
SELECT datacontract.register('sensor-events-value', :'s') AS schema_id;
\echo '-- the compatibility level in force (BACKWARD, the default)'
SELECT datacontract.get_config('sensor-events-value', true) ->> 'compatibilityLevel' AS level;
\echo '-- the breaking change: battery_level required, no default (the seed''s compatibility check)'
SELECT is_compatible, array_to_string(messages, E'\n') AS messages
  FROM datacontract.check_compatibility('sensor-events-value', :'bad', 'latest');
\echo '-- registering it is refused (Confluent error 409)'
SELECT datacontract.register('sensor-events-value', :'bad') AS schema_id;
\echo '-- evolve: add the optional battery_level field with default null (BACKWARD compatible)'
SELECT is_compatible FROM datacontract.check_compatibility('sensor-events-value', :'s2', 'latest');
SELECT datacontract.register('sensor-events-value', :'s2') AS schema_id;
\echo '-- the versions of sensor-events-value'
SELECT subject, version, id, deleted, registered_at::date AS registered
  FROM datacontract.versions_all WHERE subject = 'sensor-events-value' ORDER BY version;
\echo '-- the latest version as Confluent clients see it'
SELECT jsonb_pretty(datacontract.get_version('sensor-events-value', 'latest') - 'schema') AS latest;
SELECT datacontract.get_version('sensor-events-value', 'latest') ->> 'schema' AS schema;
\echo '-- subjects with their latest versions'
SELECT subject, live_versions, latest_version, latest_schema_id, compatibility FROM datacontract.subject_latest;
SQL

echo
echo "== the seed document's curl commands, against the registry in PostgreSQL"
url=http://localhost:$http_port
for _ in $(seq 50); do curl -sf "$url/" >/dev/null && break; sleep 0.1; done
show() { echo "\$ $*"; "$@"; echo; }
show curl -s "$url/subjects"
show curl -s "$url/subjects/sensor-events-value/versions"
show curl -s "$url/subjects/sensor-events-value/versions/latest"
echo "-- the breaking change, checked as the seed does:"
show curl -s -X POST "$url/compatibility/subjects/sensor-events-value/versions/1" \
	-H "Content-Type: application/vnd.schemaregistry.v1+json" \
	-d "{\"schema\": $(jq -Rs . <schemas/SensorEvent-v2-breaking.avsc)}"
echo "-- registering it over REST: Confluent's 409"
show curl -s -X POST "$url/subjects/sensor-events-value/versions" \
	-H "Content-Type: application/vnd.schemaregistry.v1+json" \
	-d "{\"schema\": $(jq -Rs . <schemas/SensorEvent-v2-breaking.avsc)}"
dc_pg_stop
trap - EXIT

echo
bash demo/pipeline.sh
echo
echo "== demo finished; the throw-away clusters are removed"
