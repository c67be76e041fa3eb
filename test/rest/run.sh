#!/usr/bin/env bash
# REST API suite: the Confluent-compatible HTTP API served by the extension's
# background workers, checked with curl (the seed's commands, every endpoint
# and error path), Debian's python3-confluent-kafka client, npm's
# @kafkajs/confluent-schema-registry 3.x, hostile and concurrent clients, and
# HTTP Basic authentication against PostgreSQL roles.  Loopback only.
#
# Needs: curl, jq, /usr/bin/python3 with python3-confluent-kafka and
# python3-avro, node 20 + npm (node_modules installed here when missing).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/test/lib/pgcluster.sh"
. "$top/test/lib/tap.sh"

work=$(mktemp -d /tmp/dc-rest.XXXXXX)
trap 'dc_pg_stop; rm -rf "$work"' EXIT

HP=$(dc_free_port)
dc_pg_start "shared_preload_libraries = 'datacontract'" \
	"datacontract.http_port = $HP" \
	"datacontract.http_listen_addresses = '127.0.0.1'" \
	"datacontract.http_connection_timeout = 3" \
	"datacontract.http_max_request_size = 2MB" || { dc_not_ok "start cluster"; exit 1; }
B=http://127.0.0.1:$HP
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$HP") 2>/dev/null; }
wait_port() {
	for _ in $(seq 1 100); do port_open && return 0; sleep 0.1; done
	return 1
}
worker_pids() { q -c "SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE backend_type = 'datacontract http'"; }

# -- Worker start-up ----------------------------------------------------------
for _ in $(seq 1 50); do
	grep -q 'extension "datacontract" is not installed' "$DC_PGDIR/server.log" && break
	sleep 0.1
done
grep -q 'extension "datacontract" is not installed in database "postgres"' "$DC_PGDIR/server.log"
dc_check "without the extension the worker idles with a log line" test $? = 0
sleep 1.2
dc_check "... does not listen yet" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$HP) 2>/dev/null"
n=$(grep -c 'HTTP worker waiting: extension .* is not installed' "$DC_PGDIR/server.log")
dc_is "... and logs it only once (no crash loop)" "$n" "1"

q -c "CREATE EXTENSION datacontract" || { dc_not_ok "create extension"; exit 1; }
dc_check "after CREATE EXTENSION the port opens" wait_port
pids_before=$(worker_pids)
dc_check "one HTTP worker in pg_stat_activity" test -n "$pids_before"

# req METHOD PATH [BODY [curl args...]]: prints "BODY STATUS".
CT='Content-Type: application/vnd.schemaregistry.v1+json'
req() {
	local m=$1 p=$2
	shift 2
	local body=${1:-}
	[ $# -gt 0 ] && shift
	if [ -n "$body" ]; then
		curl -s -m 20 -X "$m" -H "$CT" --data-binary "$body" -w ' %{http_code}' "$@" "$B$p"
	else
		curl -s -m 20 -X "$m" -w ' %{http_code}' "$@" "$B$p"
	fi
}
is_req() { local name=$1 expected=$2; shift 2; dc_is "$name" "$(req "$@")" "$expected"; }
# is_status NAME STATUS METHOD PATH [BODY [curl args...]]: only the HTTP status.
is_status() {
	local name=$1 expected=$2 m=$3 p=$4
	shift 4
	local body=${1:-}
	[ $# -gt 0 ] && shift
	local args=(-s -m 20 -X "$m" -w '%{http_code}')
	[[ " $* " == *" -o "* ]] || args+=(-o /dev/null)
	[ -n "$body" ] && args+=(-H "$CT" --data-binary "$body")
	dc_is "$name" "$(curl "${args[@]}" "$@" "$B$p")" "$expected"
}

# -- The seed document's commands (port changed, otherwise verbatim) ---------
cd "$top"
dc_is "seed: GET /subjects returns []" "$(curl -s http://localhost:$HP/subjects)" "[]"
out=$(curl -X POST http://localhost:$HP/subjects/sensor-events-value/versions \
  -H "Content-Type: application/vnd.schemaregistry.v1+json" \
  -d "{\"schema\": $(cat schemas/SensorEvent.avsc | jq -Rs .)}" 2>/dev/null)
dc_is "seed: register SensorEvent answers exactly {\"id\":1}" "$out" '{"id":1}'
dc_is "seed: list versions" "$(curl -s http://localhost:$HP/subjects/sensor-events-value/versions)" "[1]"
latest=$(curl -s http://localhost:$HP/subjects/sensor-events-value/versions/latest)
dc_is "seed: latest version has Confluent's keys, no schemaType for Avro" \
	"$(echo "$latest" | jq -c '[keys, .subject, .version, .id]')" \
	'[["id","schema","subject","version"],"sensor-events-value",1,1]'
dc_is "seed: latest version's schema is the stored (Java Avro) form" "$(echo "$latest" | jq -r .schema)" \
	"$(q -c "SELECT datacontract.avro_normalize(\$s\$$(cat schemas/SensorEvent.avsc)\$s\$)")"
out=$(curl -s -X POST http://localhost:$HP/compatibility/subjects/sensor-events-value/versions/latest \
  -H "Content-Type: application/vnd.schemaregistry.v1+json" \
  -d '{
    "schema": "{\"type\":\"record\",\"name\":\"SensorEvent\",\"namespace\":\"com.iot.pipeline\",\"fields\":[{\"name\":\"device_id\",\"type\":\"string\"},{\"name\":\"device_name\",\"type\":[\"null\",\"string\"],\"default\":null},{\"name\":\"timestamp\",\"type\":\"long\"},{\"name\":\"temperature\",\"type\":\"float\"},{\"name\":\"humidity\",\"type\":\"float\"},{\"name\":\"location\",\"type\":[\"null\",\"string\"],\"default\":null},{\"name\":\"battery_level\",\"type\":\"float\"}]}"
  }')
dc_is "seed: the breaking change is {\"is_compatible\":false}" "$out" '{"is_compatible":false}'
dc_is "seed: GET /subjects lists the subject" "$(curl -s http://localhost:$HP/subjects)" '["sensor-events-value"]'
v2=$(jq -Rs '{schema: .}' schemas/SensorEvent-v2.avsc)
is_req "seed: the optional battery_level registers as id 2" '{"id":2} 200' \
	POST /subjects/sensor-events-value/versions "$v2"
is_req "seed: versions [1,2]" '[1,2] 200' GET /subjects/sensor-events-value/versions
brk=$(jq -Rs '{schema: .}' schemas/SensorEvent-v2-breaking.avsc)
out=$(req POST /subjects/sensor-events-value/versions "$brk")
dc_is "registering the breaking change is HTTP 409, error_code 409" \
	"$(echo "${out% *}" | jq -c .error_code) ${out##* }" "409 409"
echo "${out% *}" | jq -r .message | grep -q "^Schema being registered is incompatible with an earlier schema for subject \"sensor-events-value\", details: \[{errorType:'.*{oldSchemaVersion: 2}, {oldSchema: '.*'}, {validateFields: 'false', compatibility: 'BACKWARD'}\]$"
dc_check "... with Confluent's message" test $? = 0
is_req "is_compatible (all versions) for a compatible schema" '{"is_compatible":true} 200' \
	POST /compatibility/subjects/sensor-events-value/versions "$v2"
out=$(req POST '/compatibility/subjects/sensor-events-value/versions/latest?verbose=true' "$brk")
dc_is "verbose compatibility lists the messages" \
	"$(echo "${out% *}" | jq -c '[.is_compatible, (.messages | length), (.messages[0] | startswith("{errorType:"))]')" \
	'[false,4,true]'
is_req "verbose compatibility of a compatible schema has empty messages" \
	'{"messages":[],"is_compatible":true} 200' POST '/compatibility/subjects/sensor-events-value/versions/1?verbose=true' "$v2"
out=$(req POST '/compatibility/subjects/sensor-events-value/versions?verbose=true' '{"schema":"{\"type\":\"nope\"}"}')
dc_is "verbose compatibility of an invalid schema: incompatible, parse error as message" \
	"$(echo "${out% *}" | jq -c '[.is_compatible, (.messages[0] | startswith("Invalid schema"))]') ${out##* }" '[false,true] 200'
out=$(req POST '/compatibility/subjects/sensor-events-value/versions' '{"schema":"{\"type\":\"nope\"}"}')
dc_is "compatibility of an invalid schema is 42201" "$(echo "${out% *}" | jq -c .error_code) ${out##* }" "42201 422"
is_req "compatibility against a missing explicit version is 40402" \
	'{"error_code":40402,"message":"Version 9 not found."} 404' POST /compatibility/subjects/sensor-events-value/versions/9 "$v2"
is_req "compatibility on an unknown subject against latest is compatible" \
	'{"is_compatible":true} 200' POST /compatibility/subjects/nobody/versions/latest "$v2"

# -- Root, metadata, schemas --------------------------------------------------
is_req "GET / is {}" '{} 200' GET /
is_req "POST / is {}" '{} 200' POST / '{"a":1}'
out=$(req GET /v1/metadata/id)
dc_is "GET /v1/metadata/id" "$(echo "${out% *}" | jq -c '[.id, .scope.path, (.scope.clusters | keys)]')" \
	'["",[],["kafka-cluster","schema-registry-cluster"]]'
out=$(req GET /v1/metadata/version)
dc_is "GET /v1/metadata/version" "$(echo "${out% *}" | jq -c 'keys')" '["commitId","version"]'
is_req "GET /schemas/types" '["AVRO"] 200' GET /schemas/types
is_req "GET /contexts" '["."] 200' GET /contexts
out=$(req GET /schemas/ids/1)
dc_is "GET /schemas/ids/1 has only schema (Avro: no schemaType)" "$(echo "${out% *}" | jq -c keys) ${out##* }" '["schema"] 200'
dc_is "... the same text as the version" "$(echo "${out% *}" | jq -r .schema)" "$(echo "$latest" | jq -r .schema)"
out=$(req GET '/schemas/ids/1?fetchMaxId=true')
dc_is "fetchMaxId adds maxId" "$(echo "${out% *}" | jq -c .maxId)" "2"
dc_is "GET /schemas/ids/1/schema is the raw schema" "$(curl -s "$B/schemas/ids/1/schema")" "$(echo "$latest" | jq -r .schema)"
is_req "GET /schemas/ids/1/subjects" '["sensor-events-value"] 200' GET /schemas/ids/1/subjects
is_req "GET /schemas/ids/2/versions" '[{"subject":"sensor-events-value","version":2}] 200' GET /schemas/ids/2/versions
is_req "unknown id is 40403" '{"error_code":40403,"message":"Schema 999 not found"} 404' GET /schemas/ids/999
is_req "unknown id's subjects is 40403" '{"error_code":40403,"message":"Schema not found"} 404' GET /schemas/ids/999/subjects
is_req "a non-numeric id is a JSON 404" '{"error_code":404,"message":"HTTP 404 Not Found"} 404' GET /schemas/ids/abc
out=$(req GET /schemas)
dc_is "GET /schemas lists every version" "$(echo "${out% *}" | jq -c '[.[] | [.subject, .version, .id]]')" \
	'[["sensor-events-value",1,1],["sensor-events-value",2,2]]'
out=$(req GET '/schemas?latestOnly=true')
dc_is "GET /schemas?latestOnly=true" "$(echo "${out% *}" | jq -c '[.[] | .version]')" '[2]'
is_req "GET /schemas?subjectPrefix=zzz" '[] 200' GET '/schemas?subjectPrefix=zzz'
out=$(req GET '/schemas?offset=1&limit=1')
dc_is "GET /schemas pagination" "$(echo "${out% *}" | jq -c '[.[] | .id]')" '[2]'

# -- Subjects and versions ----------------------------------------------------
v1=$(jq -Rs '{schema: .}' schemas/SensorEvent.avsc)
out=$(req POST /subjects/sensor-events-value "$v1")
dc_is "lookup finds version 1" "$(echo "${out% *}" | jq -c '[.subject, .version, .id]') ${out##* }" '["sensor-events-value",1,1] 200'
is_req "lookup of an unregistered schema is 40403" '{"error_code":40403,"message":"Schema not found"} 404' \
	POST /subjects/sensor-events-value "$brk"
is_req "lookup under an unknown subject is 40401" "{\"error_code\":40401,\"message\":\"Subject 'ghost' not found.\"} 404" \
	POST /subjects/ghost "$v1"
dc_is "GET version schema is raw" "$(curl -s "$B/subjects/sensor-events-value/versions/1/schema")" "$(echo "$latest" | jq -r .schema)"
out=$(req GET /subjects/sensor-events-value/versions/-1)
dc_is "version -1 = latest" "$(echo "${out% *}" | jq -c .version)" "2"
msg="The specified version 'abc' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \\\"latest\\\""
is_req "bad version is 42202" "{\"error_code\":42202,\"message\":\"$msg\"} 422" GET /subjects/sensor-events-value/versions/abc
is_status "version 0 is 42202" "422" GET /subjects/sensor-events-value/versions/0 ""
is_req "missing version is 40402" '{"error_code":40402,"message":"Version 3 not found."} 404' GET /subjects/sensor-events-value/versions/3
is_req "versions of an unknown subject is 40401" "{\"error_code\":40401,\"message\":\"Subject 'ghost' not found.\"} 404" GET /subjects/ghost/versions
is_req "referencedby" '[] 200' GET /subjects/sensor-events-value/versions/1/referencedby
is_req "versions pagination" '[2] 200' GET '/subjects/sensor-events-value/versions?offset=1&limit=1'
is_req "a malformed limit is a JSON 404" '{"error_code":404,"message":"HTTP 404 Not Found"} 404' GET '/subjects?limit=abc'

int='{"schema":"\"int\""}'
is_req "a subject with an encoded slash registers" '{"id":3} 200' POST /subjects/team%2Fevents/versions "$int"
out=$(req GET /subjects/team%2Fevents/versions/1)
dc_is "... and reads back decoded" "$(echo "${out% *}" | jq -r .subject)" "team/events"
is_req "a subject with a control character is 42208" \
	"{\"error_code\":42208,\"message\":\"The specified subject 'a\\u0001b' is not a valid.\"} 422" \
	POST /subjects/a%01b/versions "$int"
is_req "subjectPrefix" '["team/events"] 200' GET '/subjects?subjectPrefix=team'
out=$(req POST /subjects/with-meta/versions '{"schema":"\"long\"","metadata":{"properties":{"owner":"ops"}}}')
is_status "GET /subjects/{s}/metadata finds by property" 200 GET '/subjects/with-meta/metadata?key=owner&value=ops' "" -o "$work/meta.json"
dc_is "... the Schema object" "$(jq -c '[.subject, .version, .metadata.properties.owner]' "$work/meta.json")" '["with-meta",1,"ops"]'
is_req "GET /subjects/{s}/metadata without a match is 40403" '{"error_code":40403,"message":"Schema not found"} 404' \
	GET '/subjects/with-meta/metadata?key=owner&value=dev'

# Deletes
req POST /subjects/del/versions '{"schema":"\"string\""}' >/dev/null
req PUT /config/del '{"compatibility":"NONE"}' >/dev/null
req POST /subjects/del/versions '{"schema":"\"bytes\""}' >/dev/null
is_req "permanent delete of a live version is 40407" \
	"{\"error_code\":40407,\"message\":\"Subject 'del' Version 2 was not deleted first before being permanently deleted\"} 404" \
	DELETE '/subjects/del/versions/2?permanent=true'
is_req "soft-delete a version answers its number" '2 200' DELETE /subjects/del/versions/2
is_req "soft-deleting it again is 40406" \
	"{\"error_code\":40406,\"message\":\"Subject 'del' Version 2 was soft deleted.Set permanent=true to delete permanently\"} 404" \
	DELETE /subjects/del/versions/2
is_req "deleted=true lists it" '[1,2] 200' GET '/subjects/del/versions?deleted=true'
is_req "deletedOnly=true" '[2] 200' GET '/subjects/del/versions?deletedOnly=true'
is_req "permanent delete of the soft-deleted version" '2 200' DELETE '/subjects/del/versions/2?permanent=true'
is_req "permanent subject delete before soft is 40405" \
	"{\"error_code\":40405,\"message\":\"Subject 'del' was not deleted first before being permanently deleted\"} 404" \
	DELETE '/subjects/del?permanent=true'
is_req "soft-delete a subject answers its versions" '[1] 200' DELETE /subjects/del
is_req "soft-deleting it again is 40404" \
	"{\"error_code\":40404,\"message\":\"Subject 'del' was soft deleted.Set permanent=true to delete permanently\"} 404" \
	DELETE /subjects/del
is_req "GET /subjects?deletedOnly=true" '["del"] 200' GET '/subjects?deletedOnly=true'
is_req "GET /subjects?deleted=true" '["del","sensor-events-value","team/events","with-meta"] 200' GET '/subjects?deleted=true'
is_req "permanent subject delete" '[1] 200' DELETE '/subjects/del?permanent=true'
is_req "deleting an unknown subject is 40401" "{\"error_code\":40401,\"message\":\"Subject 'del' not found.\"} 404" DELETE /subjects/del

# -- Config and mode ----------------------------------------------------------
is_req "GET /config" '{"compatibilityLevel":"BACKWARD"} 200' GET /config
is_req "GET /config/{s} without subject config is 40408 (kafkajs needs it)" \
	"{\"error_code\":40408,\"message\":\"Subject 'sensor-events-value' does not have subject-level compatibility configured\"} 404" \
	GET /config/sensor-events-value
is_req "GET /config/{s}?defaultToGlobal=true" '{"compatibilityLevel":"BACKWARD"} 200' GET '/config/sensor-events-value?defaultToGlobal=true'
is_req "PUT /config/{s} answers in the request form" '{"compatibility":"FULL"} 200' PUT /config/sensor-events-value '{"compatibility":"full"}'
is_req "GET /config/{s} after PUT" '{"compatibilityLevel":"FULL"} 200' GET /config/sensor-events-value
is_req "PUT /config with an unknown level is 42203" \
	'{"error_code":42203,"message":"Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"} 422' \
	PUT /config '{"compatibility":"SIDEWAYS"}'
is_req "DELETE /config/{s} answers the old config" '{"compatibilityLevel":"FULL"} 200' DELETE /config/sensor-events-value
is_req "DELETE /config/{s} again is 40401" \
	"{\"error_code\":40401,\"message\":\"Subject 'sensor-events-value' not found.\"} 404" DELETE /config/sensor-events-value
is_req "PUT /config (global)" '{"compatibility":"FORWARD"} 200' PUT /config '{"compatibility":"FORWARD"}'
is_req "DELETE /config (global)" '{"compatibilityLevel":"FORWARD"} 200' DELETE /config
is_req "GET /mode" '{"mode":"READWRITE"} 200' GET /mode
is_req "GET /mode/{s} without a mode is 40409" \
	"{\"error_code\":40409,\"message\":\"Subject 'sensor-events-value' does not have subject-level mode configured\"} 404" \
	GET /mode/sensor-events-value
is_req "PUT /mode/{s} READONLY" '{"mode":"READONLY"} 200' PUT /mode/sensor-events-value '{"mode":"READONLY"}'
is_req "register in READONLY is 42205" \
	'{"error_code":42205,"message":"Subject sensor-events-value in context . is in read-only mode"} 422' \
	POST /subjects/sensor-events-value/versions "$int"
is_req "GET /mode/{s}" '{"mode":"READONLY"} 200' GET /mode/sensor-events-value
is_req "DELETE /mode/{s}" '{"mode":"READONLY"} 200' DELETE /mode/sensor-events-value
is_req "PUT /mode with an unknown mode is 42204" \
	'{"error_code":42204,"message":"Invalid mode. Valid values are READWRITE, READONLY, IMPORT and FORWARD."} 422' \
	PUT /mode '{"mode":"SIDEWAYS"}'
is_req "FORWARD on a subject is 42204" '{"error_code":42204,"message":"Forward mode only supported on global level"} 422' \
	PUT /mode/sensor-events-value '{"mode":"FORWARD"}'
is_req "IMPORT with live subjects is 42205" '{"error_code":42205,"message":"Cannot import since found existing subjects"} 422' \
	PUT /mode '{"mode":"IMPORT"}'
is_req "DELETE /mode (global)" '{"mode":"READWRITE"} 200' DELETE /mode

# -- Malformed requests, odd paths and methods --------------------------------
is_status "malformed JSON is 400" 400 POST /subjects/x/versions '{"schema": ' -o "$work/e.json"
dc_is "... with error_code 400" "$(jq -c .error_code "$work/e.json")" "400"
is_req "a JSON array body is 400" '{"error_code":400,"message":"Unrecognized request body: expected a JSON object"} 400' \
	POST /subjects/x/versions '[1]'
is_req "an empty body is 400" '{"error_code":400,"message":"No content to map due to end-of-input"} 400' \
	POST /subjects/x/versions '' -H "$CT"
out=$(printf '{"schema":"\xff\xfe"}' | curl -s -X POST -H "$CT" --data-binary @- -w ' %{http_code}' "$B/subjects/x/versions")
dc_is "invalid UTF-8 is 400" "$out" '{"error_code":400,"message":"Invalid UTF-8 in request body"} 400'
is_status "an escaped NUL in JSON is 400" "400" POST /subjects/x/versions '{"schema":"\u0000"}'
head -c 3000000 /dev/zero | tr '\0' 'a' >"$work/big"
is_req "an oversized body is 413" '{"error_code":413,"message":"Request Entity Too Large"} 413' POST /subjects/x/versions "@$work/big"
out=$(curl -s -X POST -H "$CT" -H 'Transfer-Encoding: chunked' --data-binary "@$work/big" -w ' %{http_code}' "$B/subjects/x/versions")
dc_is "an oversized chunked body is 413" "$out" '{"error_code":413,"message":"Request Entity Too Large"} 413'
for ct in application/json application/vnd.schemaregistry+json application/octet-stream "application/json; charset=utf-8"; do
	out=$(curl -s -X POST -H "Content-Type: $ct" --data-binary "$int" -w ' %{http_code}' "$B/subjects/ct-test/versions")
	dc_is "Content-Type $ct is accepted" "$out" '{"id":3} 200'
done
out=$(curl -s -X POST -H "Content-Type:" --data-binary "$int" -w ' %{http_code}' "$B/subjects/ct-test/versions")
dc_is "a missing Content-Type is accepted" "$out" '{"id":3} 200'
out=$(curl -s -X POST -H "Content-Type: text/plain" --data-binary "$int" -w ' %{http_code}' "$B/subjects/ct-test/versions")
dc_is "text/plain is 415" "$out" '{"error_code":415,"message":"HTTP 415 Unsupported Media Type"} 415'
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$B/subjects")
dc_is "answers are application/vnd.schemaregistry.v1+json" "$ctype" "application/vnd.schemaregistry.v1+json"
is_req "unknown path is a JSON 404" '{"error_code":404,"message":"HTTP 404 Not Found"} 404' GET /nope
is_req "too deep a path is a JSON 404" '{"error_code":404,"message":"HTTP 404 Not Found"} 404' GET /subjects/a/versions/1/schema/x
is_req "wrong method is 405" '{"error_code":405,"message":"HTTP 405 Method Not Allowed"} 405' PATCH /subjects
is_req "PUT on versions is 405" '{"error_code":405,"message":"HTTP 405 Method Not Allowed"} 405' PUT /subjects/a/versions "$int"
dc_is "HEAD works like GET" "$(curl -s -I -o /dev/null -w '%{http_code}' "$B/subjects")" "200"
is_req "a trailing slash is ignored" '["ct-test","sensor-events-value","team/events","with-meta"] 200' GET /subjects/
is_req "an undecodable path segment is 400" '{"error_code":400,"message":"Bad Request"} 400' GET /subjects/a%ffb/versions
long=$(head -c 20000 /dev/zero | tr '\0' 'x')
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/subjects/$long/versions")
dc_check "a 20 kB URL is refused by HTTP status, not a crash ($code)" test "$code" -ge 400
printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HP; cat >&3; timeout 2 cat <&3" >"$work/garbage" 2>/dev/null
dc_check "garbage instead of HTTP: the connection is closed at once" test $? = 0
printf 'GET /subjects HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HP; cat >&3; timeout 2 cat <&3" >"$work/garbage" 2>/dev/null
dc_check "a negative Content-Length gets an HTTP error" grep -q "^HTTP/1.1 [45]" "$work/garbage"
is_status "... and the server keeps serving" 200 GET /subjects

# -- Abandoned, idle and concurrent connections -------------------------------
/usr/bin/python3 - "$HP" <<'PY' >"$work/conn.out" 2>&1
import socket, sys, time, threading, http.client, json
port = int(sys.argv[1])
# An abandoned request: headers promise a body that never comes, and a
# connection that sends nothing at all.
half = socket.create_connection(("127.0.0.1", port))
half.sendall(b"POST /subjects/x/versions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sch")
idle = socket.create_connection(("127.0.0.1", port))
# Meanwhile the single-threaded worker keeps answering others.
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/subjects")
r = c.getresponse(); r.read()
print("served-while-abandoned", r.status)
gone = socket.create_connection(("127.0.0.1", port))
gone.sendall(b"GET /subjects HTTP/1.1\r\nHost: x\r\n")
gone.close()
# The idle connections are closed by the server after http_connection_timeout (3 s).
idle.settimeout(10)
t0 = time.time()
try:
    data = idle.recv(100)
except OSError:
    data = b""
print("idle-closed", data == b"" and time.time() - t0 < 9)
half.settimeout(10)
try:
    data = half.recv(1000)
except OSError:
    data = b"error"
print("half-closed", b"error" not in data)
# A few hundred concurrent connections, each holding its socket open until all
# are connected, then all asking at once.
N = 300
barrier = threading.Barrier(N)
results = []
lock = threading.Lock()
def one(i):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        barrier.wait(timeout=30)
        if i % 10 == 0:
            body = json.dumps({"schema": json.dumps({"type": "record", "name": "C%d" % i, "fields": []})})
            conn.request("POST", "/subjects/conc-%d/versions" % i, body, {"Content-Type": "application/json"})
        else:
            conn.request("GET", "/schemas/ids/1")
        r = conn.getresponse()
        body = r.read()
        ok = r.status == 200 and (b"schema" in body or b"id" in body)
    except Exception as e:
        ok = False
    with lock:
        results.append(ok)
threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join(90)
print("concurrent", sum(results), "of", N, "in %.1fs" % (time.time() - t0))
PY
grep -q "served-while-abandoned 200" "$work/conn.out"
dc_check "an abandoned request does not block others" test $? = 0
grep -q "idle-closed True" "$work/conn.out"
dc_check "idle connections are closed after datacontract.http_connection_timeout" test $? = 0
grep -q "half-closed True" "$work/conn.out"
dc_check "a request whose body never comes is closed too" test $? = 0
grep -q "concurrent 300 of 300" "$work/conn.out"
dc_check "300 concurrent connections all answered: $(grep concurrent "$work/conn.out")" test $? = 0
curl -s -o "$work/conc.json" "$B/subjects?subjectPrefix=conc-"
dc_is "30 concurrent registrations made 30 subjects" "$(jq length "$work/conc.json")" "30"

# -- Real clients -------------------------------------------------------------
/usr/bin/python3 "$here/python_client.py" "$B" 2>/dev/null
if [ ! -d "$here/node_modules/@kafkajs/confluent-schema-registry" ]; then
	(cd "$here" && npm ci --no-audit --no-fund --silent >"$work/npm.log" 2>&1) ||
		{ cat "$work/npm.log"; dc_not_ok "npm ci"; }
fi
echo "# node: the Kafka produce part needs a broker and is skipped; registry calls, encode and decode run"
node "$here/node_client.js" "$B"

# -- import_registry: copy this registry through its own REST API -------------
req PUT /config/imp-soft '{"compatibility":"NONE"}' >/dev/null
req POST /subjects/imp-soft/versions '{"schema":"\"float\""}' >/dev/null
req POST /subjects/imp-soft/versions '{"schema":"\"double\""}' >/dev/null
req DELETE /subjects/imp-soft/versions/1 >/dev/null
req PUT /mode/with-meta '{"mode":"READONLY"}' >/dev/null
createdb importdb && psql -X -q -d importdb -c "CREATE EXTENSION datacontract" || dc_not_ok "create importdb"
out=$(q -d importdb -c "SELECT datacontract.import_registry('$B')" 2>&1)
dc_check "import_registry runs ($out)" test "$(echo "$out" | jq -r .subjects 2>/dev/null)" -gt 5
snap() { q -d "$1" -c "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', v.subject, v.version, v.schema_id, v.deleted, s.schema, s.metadata), E'\n' ORDER BY v.subject, v.version) FROM datacontract.subject_versions v JOIN datacontract.schemas s ON s.id = v.schema_id"; }
dc_is "import_registry copies subjects, versions, ids, soft deletes and metadata" "$(snap importdb)" "$(snap postgres)"
cfgs() { q -d "$1" -c "SELECT string_agg(format('%s=%s', coalesce(subject, '(global)'), config), ',' ORDER BY subject NULLS FIRST) FROM datacontract.config"; }
dc_is "... the configs" "$(cfgs importdb)" "$(cfgs postgres)"
modes() { q -d "$1" -c "SELECT string_agg(format('%s=%s', coalesce(subject, '(global)'), mode), ',' ORDER BY subject NULLS FIRST) FROM datacontract.mode WHERE mode <> 'READWRITE'"; }
dc_is "... and the subject modes" "$(modes importdb)" "$(modes postgres)"
dc_is "... and leaves the importing registry in its old global mode" \
	"$(q -d importdb -c "SELECT datacontract.get_mode(NULL)")" "READWRITE"
nextid=$(q -d importdb -c "SELECT datacontract.register('imp-new', '\"boolean\"')")
dc_check "... with the id sequence past every imported id ($nextid)" \
	test "$nextid" -gt "$(q -c "SELECT max(id) FROM datacontract.schemas")"
out=$(q -d importdb -c "SELECT datacontract.import_registry('$B')" 2>&1)
echo "$out" | grep -q "Cannot import since found existing subjects"
dc_check "import_registry refuses a registry that has subjects" test $? = 0
req DELETE /mode/with-meta >/dev/null

# -- No crash so far -----------------------------------------------------------
dc_is "the worker survived every request (same pid)" "$(worker_pids)" "$pids_before"
! grep -qE "terminated by signal|datacontract http worker .* exited" "$DC_PGDIR/server.log"
dc_check "no worker crash in the server log" test $? = 0

# -- Authentication --------------------------------------------------------------
q <<'SQL'
CREATE ROLE rest_reader LOGIN PASSWORD 'r-pw' IN ROLE datacontract_reader;
CREATE ROLE rest_writer LOGIN PASSWORD 'w-pw' IN ROLE datacontract_writer;
CREATE ROLE rest_admin LOGIN PASSWORD 'a-pw' IN ROLE datacontract_admin;
CREATE ROLE rest_nobody LOGIN PASSWORD 'n-pw';
CREATE ROLE rest_nologin PASSWORD 'x-pw' IN ROLE datacontract_admin;
SET password_encryption = 'md5';
CREATE ROLE rest_md5 LOGIN PASSWORD 'm-pw' IN ROLE datacontract_reader;
ALTER SYSTEM SET datacontract.http_auth = 'basic';
SQL
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
hdr=$(curl -s -D - -o "$work/e.json" "$B/subjects")
echo "$hdr" | grep -q '^HTTP/1.1 401' && echo "$hdr" | grep -qi '^WWW-Authenticate: Basic realm="datacontract"'
dc_check "basic: no credentials is 401 with WWW-Authenticate" test $? = 0
dc_is "... and Confluent's error body" "$(cat "$work/e.json")" '{"error_code":401,"message":"Unauthorized"}'
is_status "basic: a wrong password is 401" "401" GET /subjects "" -u rest_reader:bad
is_status "basic: a role that cannot log in is 401" "401" GET /subjects "" -u rest_nologin:x-pw
is_status "basic: an unknown role is 401" "401" GET /subjects "" -u ghost:x
is_status "basic: reader reads (SCRAM secret)" "200" GET /subjects "" -u rest_reader:r-pw
is_status "basic: md5 secrets work too" "200" GET /subjects "" -u rest_md5:m-pw
is_req "basic: a role without datacontract roles is 403" \
	'{"error_code":40301,"message":"User is denied operation on this server."} 403' GET /subjects "" -u rest_nobody:n-pw
before=$(q -c "SELECT count(*) FROM datacontract.subject_versions")
is_status "basic: reader cannot register (403)" "403" POST /subjects/auth-test/versions "$int" -u rest_reader:r-pw
dc_is "... and nothing changed" "$(q -c "SELECT count(*) FROM datacontract.subject_versions")" "$before"
is_req "basic: writer registers" '{"id":3} 200' POST /subjects/auth-test/versions "$int" -u rest_writer:w-pw
is_status "basic: writer cannot change config (403)" "403" PUT /config/auth-test '{"compatibility":"NONE"}' -u rest_writer:w-pw
is_req "basic: writer soft-deletes" '[1] 200' DELETE /subjects/auth-test "" -u rest_writer:w-pw
is_status "basic: writer cannot delete permanently (403)" "403" DELETE '/subjects/auth-test?permanent=true' "" -u rest_writer:w-pw
dc_is "... and the subject is still there" "$(q -c "SELECT count(*) FROM datacontract.subject_versions WHERE subject = 'auth-test'")" "1"
is_req "basic: admin deletes permanently" '[1] 200' DELETE '/subjects/auth-test?permanent=true' "" -u rest_admin:a-pw
is_req "basic: admin changes config" '{"compatibility":"NONE"} 200' PUT /config/auth-test '{"compatibility":"NONE"}' -u rest_admin:a-pw
/usr/bin/python3 - "$B" <<'PY'
import sys
from confluent_kafka.schema_registry import SchemaRegistryClient
c = SchemaRegistryClient({"url": sys.argv[1], "basic.auth.user.info": "rest_reader:r-pw"})
ok = "sensor-events-value" in c.get_subjects()
print(("ok - " if ok else "not ok - ") + "basic: python client with basic.auth.user.info reads")
PY
(cd "$here" && node - "$B") <<'JS'
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry');
const r = new SchemaRegistry({ host: process.argv[2], auth: { username: 'rest_writer', password: 'w-pw' } });
const a = new SchemaRegistry({ host: process.argv[2], auth: { username: 'rest_admin', password: 'a-pw' } });
const s = (n) => ({ type: 'AVRO', schema: `{"type":"record","name":"${n}","fields":[]}` });
const tap = (name) => [(x) => console.log((x.id > 0 ? 'ok - ' : 'not ok - ') + name),
  (e) => console.log('not ok - ' + name + '\n#   ' + e.message)];
// kafkajs 3.x sets the subject's config after a first registration: that
// needs datacontract_admin; a writer passes compatibility: null to skip it.
(async () => {
  await a.register(s('AuthNodeA'), { subject: 'auth-node-a' }).then(...tap('basic: node client registers as an admin'));
  await r.register(s('AuthNodeW'), { subject: 'auth-node-w', compatibility: null })
    .then(...tap('basic: node client registers as a writer (compatibility: null)'));
})();
JS
q -c "ALTER SYSTEM SET datacontract.http_auth = 'none'" -c "ALTER SYSTEM SET datacontract.http_role = 'rest_reader'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
is_status "auth none with http_role: reads as that role" "200" GET /subjects ""
is_status "auth none with http_role: its privileges apply (403 on write)" "403" POST /subjects/role-test/versions "$int"
q -c "ALTER SYSTEM RESET datacontract.http_role" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
is_req "auth none: the superuser writes again" '{"id":3} 200' POST /subjects/role-test/versions "$int"

# -- Several workers on one port (SO_REUSEPORT) --------------------------------
q -c "ALTER SYSTEM SET datacontract.http_workers = 3" >/dev/null
t0=$(date +%s)
dc_pg_restart
dc_check "SIGTERM stops the worker promptly (restart took $(($(date +%s) - t0)) s)" test $(($(date +%s) - t0)) -lt 8
wait_port
for _ in $(seq 1 50); do [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract http'")" = 3 ] && break; sleep 0.1; done
dc_is "http_workers = 3 starts three workers" \
	"$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'datacontract http'")" "3"
ok=0
for i in $(seq 1 30); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$B/schemas/ids/1")" = 200 ] && ok=$((ok + 1))
done
dc_is "... and they all answer on the shared port" "$ok" "30"
lsn=$(grep -c "listening on port $HP" "$DC_PGDIR/server.log")
dc_check "... each listening ($lsn log lines)" test "$lsn" -ge 4; [ "$lsn" -ge 4 ] ||
	tail -20 "$DC_PGDIR/server.log" | sed 's/^/# /' 

# -- Hot standby: reads served locally, writes forwarded to the primary -------
SB=$(mktemp -d /tmp/dc-rest-sb.XXXXXX)
chmod 755 "$SB"
[ "$(id -u)" = 0 ] && chown "$DC_PGUSER_OS" "$SB"
SP=$(dc_free_port)
SHP=$(dc_free_port)
trap 'dc_as_pg "$DC_PGBIN/pg_ctl" -D "$SB/data" -m immediate stop >/dev/null 2>&1; rm -rf "$SB"; dc_pg_stop; rm -rf "$work"' EXIT
if dc_as_pg "$DC_PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$SB/data" -R -X stream >"$SB/bb.log" 2>&1; then
	cat >>"$SB/data/postgresql.auto.conf" <<CONF
port = $SP
unix_socket_directories = '$SB'
datacontract.http_port = $SHP
datacontract.http_workers = 1
datacontract.http_primary_url = '$B'
CONF
	dc_as_pg "$DC_PGBIN/pg_ctl" -D "$SB/data" -l "$SB/server.log" -w -t 60 start >/dev/null
fi
SBB=http://127.0.0.1:$SHP
for _ in $(seq 1 100); do curl -s -o /dev/null "$SBB/" && break; sleep 0.1; done
dc_is "standby: reads are served locally" "$(curl -s "$SBB/subjects/sensor-events-value/versions")" "[1,2]"
dc_is "standby: lookups are reads too" \
	"$(curl -s -X POST -H "$CT" --data-binary "$v1" "$SBB/subjects/sensor-events-value" | jq -c .version)" "1"
out=$(curl -s -X POST -H "$CT" --data-binary '{"schema":"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}"}' -w ' %{http_code}' "$SBB/subjects/via-standby/versions")
dc_check "standby: a registration is forwarded to the primary ($out)" test "${out##* }" = 200
newid=$(echo "${out% *}" | jq .id)
dc_is "... which has it" "$(curl -s "$B/subjects/via-standby/versions/1" | jq .id)" "$newid"
for _ in $(seq 1 50); do
	[ "$(curl -s "$SBB/subjects/via-standby/versions/1" | jq .id 2>/dev/null)" = "$newid" ] && break
	sleep 0.1
done
dc_is "... and the standby sees it once replayed" "$(curl -s "$SBB/subjects/via-standby/versions/1" | jq .id)" "$newid"
dc_is "standby: forwarded errors keep their code" \
	"$(curl -s -X DELETE -w ' %{http_code}' "$SBB/subjects/ghost")" "{\"error_code\":40401,\"message\":\"Subject 'ghost' not found.\"} 404"
# Without a primary URL a standby refuses writes with Confluent's 50004.
echo "datacontract.http_primary_url = ''" >>"$SB/data/postgresql.auto.conf"
dc_as_pg "$DC_PGBIN/pg_ctl" -D "$SB/data" reload >/dev/null
sleep 0.5
out=$(curl -s -X POST -H "$CT" --data-binary "$int" -w ' %{http_code}' "$SBB/subjects/sb-local/versions")
dc_is "standby without datacontract.http_primary_url: writes are 500 / 50004" \
	"$(echo "${out% *}" | jq -c .error_code) ${out##* }" "50004 500"

# -- Tags: POST /subjects/{s}/versions/{v}/tags, findTags, schemaTagsToAdd ----
# (runs on the primary, as the superuser: auth none, no http_role)
st() { printf '{"schemaEntity":{"entityPath":"%s","entityType":"%s"},"tags":%s}' "$1" "$2" "$3"; }
tsch='{"type":"record","name":"T","namespace":"n","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}'
treq=$(jq -cn --arg s "$tsch" '{schema: $s, metadata: {properties: {owner: "ann"}, tags: {"n.T.b": ["EXT"]}},
	ruleSet: {domainRules: [{name: "r1", type: "CEL", mode: "WRITE", expr: "true"}]}}')
out=$(req POST /subjects/tags-value/versions "$treq")
dc_check "tags: a subject to tag ($out)" test "${out##* }" = 200
out=$(req POST /subjects/tags-value/versions/1/tags "{\"tagsToAdd\":[$(st n.T.a sr_field '["PII"]'),$(st n.T sr_record '["REC"]')]}")
dc_is "tags: POST .../versions/1/tags answers 200 with the new version" "${out##* } $(echo "${out% *}" | jq -c .version)" "200 2"
dc_is "... a full RegisterSchemaResponse (id, version, schema, metadata, ruleSet; no subject)" \
	"$(echo "${out% *}" | jq -c '[has("id"), has("schema"), has("metadata"), has("ruleSet"), has("subject")]')" "[true,true,true,true,false]"
dc_is "... its schema carries the inline tags" \
	"$(echo "${out% *}" | jq -c '.schema | fromjson | [."confluent:tags", .fields[0]."confluent:tags"]')" '[["REC"],["PII"]]'
dc_is "... version 1's metadata with confluent:version" \
	"$(echo "${out% *}" | jq -c .metadata)" '{"tags":{"n.T.b":["EXT"]},"properties":{"owner":"ann","confluent:version":"2"}}'
dc_is "... and it is stored as version 2" \
	"$(curl -s "$B/subjects/tags-value/versions/2" | jq -c '.schema | fromjson | .fields[0]."confluent:tags"')" '["PII"]'
tid=$(echo "${out% *}" | jq .id)
dc_is "findTags=PII on a version" "$(curl -s "$B/subjects/tags-value/versions/2?findTags=PII" | jq -c .schemaTags)" \
	'[{"tags":["PII"],"schemaEntity":{"entityPath":"n.T.a","entityType":"sr_field"}}]'
dc_is "findTags=* on an id: inline and external (metadata.tags) tags, schema order" \
	"$(curl -s "$B/schemas/ids/$tid?findTags=*" | jq -c '[.schemaTags[] | [.schemaEntity.entityPath, .schemaEntity.entityType, .tags]]')" \
	'[["n.T","sr_record",["REC"]],["n.T.a","sr_field",["PII"]],["n.T.b","sr_field",["EXT"]]]'
dc_is "findTags repeated: any of the tags" \
	"$(curl -s "$B/schemas/ids/$tid?findTags=EXT&findTags=REC" | jq -c '[.schemaTags[].schemaEntity.entityPath]')" '["n.T","n.T.b"]'
dc_is "findTags matching nothing, or absent: no schemaTags" \
	"$(curl -s "$B/schemas/ids/$tid?findTags=NONE" | jq -c 'has("schemaTags")') $(curl -s "$B/subjects/tags-value/versions/2" | jq -c 'has("schemaTags")')" "false false"
dc_is "findTags with fetchMaxId: both" \
	"$(curl -s "$B/schemas/ids/$tid?findTags=PII&fetchMaxId=true" | jq -c '[has("maxId"), (.schemaTags | length)]')" "[true,1]"
out=$(req POST /subjects/tags-value/versions/latest/tags "{\"newVersion\":3,\"tagsToRemove\":[$(st n.T sr_record '["REC"]')],\"rulesToMerge\":{\"domainRules\":[{\"name\":\"r2\",\"type\":\"CEL\",\"mode\":\"READ\",\"expr\":\"false\"}]},\"rulesToRemove\":[\"r1\"]}")
dc_is "tags: newVersion, tagsToRemove, rulesToMerge and rulesToRemove" \
	"$(echo "${out% *}" | jq -c '[.version, (.schema | fromjson | has("confluent:tags")), [.ruleSet.domainRules[].name]]') ${out##* }" '[3,false,["r2"]] 200'
is_req "tags: unknown subject is 40401" "{\"error_code\":40401,\"message\":\"Subject 'ghost-tags' not found.\"} 404" \
	POST /subjects/ghost-tags/versions/1/tags '{}'
is_req "tags: unknown version is 40402" '{"error_code":40402,"message":"Version 9 not found."} 404' \
	POST /subjects/tags-value/versions/9/tags '{}'
is_status "tags: an invalid version is 422" "422" POST /subjects/tags-value/versions/0/tags '{}'
is_req "tags: an unknown entity is 42201" \
	"{\"error_code\":42201,\"message\":\"No matching path 'n.T.zz' found in the schema\"} 422" \
	POST /subjects/tags-value/versions/1/tags "{\"tagsToAdd\":[$(st n.T.zz sr_field '["X"]')]}"
is_req "tags: ruleSet with rulesToRemove is 42210" \
	'{"error_code":42210,"message":"ruleSet should be omitted if specifying rulesToMerge or rulesToRemove"} 422' \
	POST /subjects/tags-value/versions/1/tags '{"ruleSet":{},"rulesToRemove":["r1"]}'
is_req "tags: a newVersion that is not next is 42201" \
	'{"error_code":42201,"message":"Version is not one more than previous version"} 422' \
	POST /subjects/tags-value/versions/1/tags '{"newVersion":7}'
is_status "tags: no body is 400" "400" POST /subjects/tags-value/versions/1/tags ""
is_status "tags: GET is 405" "405" GET /subjects/tags-value/versions/1/tags ""
req PUT /config/tags-cmp '{"compatibility":"NONE"}' >/dev/null
req POST /subjects/tags-cmp/versions '{"schema":"{\"type\":\"record\",\"name\":\"C\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}' >/dev/null
req POST /subjects/tags-cmp/versions '{"schema":"{\"type\":\"record\",\"name\":\"C\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"}]}"}' >/dev/null
req PUT /config/tags-cmp '{"compatibility":"FORWARD"}' >/dev/null
out=$(req POST /subjects/tags-cmp/versions/1/tags '{}')
dc_is "tags: an incompatible new version is 409" "$(echo "${out% *}" | jq -c .error_code) ${out##* }" "409 409"
# schemaTagsToAdd / propagateSchemaTags on registration
out=$(req POST /subjects/tags-reg/versions "$(jq -cn --arg s "$tsch" --argjson t "[$(st n.T.b sr_field '["PII"]')]" '{schema: $s, schemaTagsToAdd: $t}')")
dc_check "register with schemaTagsToAdd ($out)" test "${out##* }" = 200
dc_is "... the stored schema has the tag" \
	"$(curl -s "$B/subjects/tags-reg/versions/latest?findTags=PII" | jq -c '[.metadata.properties."confluent:version", [.schemaTags[].schemaEntity.entityPath]]')" '["1",["n.T.b"]]'
out=$(req POST /subjects/tags-reg/versions "$(jq -cn '{schema: "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"n\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"b\",\"type\":\"int\"},{\"name\":\"c\",\"type\":\"int\",\"default\":0}]}", propagateSchemaTags: true}')")
dc_is "register with propagateSchemaTags keeps the previous version's tags" \
	"$(curl -s "$B/subjects/tags-reg/versions/2?findTags=*" | jq -c '[.schemaTags[] | [.schemaEntity.entityPath, .tags]]') ${out##* }" '[["n.T.b",["PII"]]] 200'
is_req "register with an unknown entity in schemaTagsToAdd is 42201" \
	"{\"error_code\":42201,\"message\":\"No matching path 'n.Nope' found in the schema\"} 422" \
	POST /subjects/tags-reg/versions "$(jq -cn --arg s "$tsch" --argjson t "[$(st n.Nope sr_record '["X"]')]" '{schema: $s, schemaTagsToAdd: $t}')"
# a reader may query tags but not edit them
q -c "ALTER SYSTEM SET datacontract.http_role = 'rest_reader'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
is_status "tags: a reader reads findTags" "200" GET "/schemas/ids/$tid?findTags=*" ""
is_status "tags: a reader cannot POST tags (403)" "403" POST /subjects/tags-value/versions/1/tags '{}'
q -c "ALTER SYSTEM RESET datacontract.http_role" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

# -- Cached answers of GET /schemas/ids/{id} -----------------------------------
# The worker keeps the answer per id; it must still check the role on every
# request and notice a hard delete or an id re-created in IMPORT mode.
csch() { jq -cn --arg n "$1" '{schema: ({type: "record", name: $n, fields: [{name: "a", type: "int"}]} | tojson)}'; }
out=$(req POST /subjects/cache-a/versions "$(csch CacheA)")
cid=$(echo "${out% *}" | jq .id)
first=$(req GET "/schemas/ids/$cid")
dc_is "cache: first GET by id" "$(echo "${first% *}" | jq -r .schema | jq -r .name) ${first##* }" "CacheA 200"
dc_is "cache: the second (cached) GET answers the same" "$(req GET "/schemas/ids/$cid")" "$first"
dc_is "cache: HEAD of a cached id is 200 without a body" \
	"$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$B/schemas/ids/$cid")" "200 0"
q -c "ALTER SYSTEM SET datacontract.http_auth = 'basic'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
is_status "cache: with basic auth no credentials is still 401" "401" GET "/schemas/ids/$cid" ""
is_status "cache: ... a wrong password 401" "401" GET "/schemas/ids/$cid" "" -u rest_reader:bad
is_req "cache: ... a role without datacontract roles 403" \
	'{"error_code":40301,"message":"User is denied operation on this server."} 403' GET "/schemas/ids/$cid" "" -u rest_nobody:n-pw
dc_is "cache: ... a reader gets the cached answer" "$(req GET "/schemas/ids/$cid" "" -u rest_reader:r-pw)" "$first"
q -c "REVOKE datacontract_reader FROM rest_reader" >/dev/null
is_status "cache: ... and is refused once its role is revoked" "403" GET "/schemas/ids/$cid" "" -u rest_reader:r-pw
q -c "GRANT datacontract_reader TO rest_reader" -c "ALTER SYSTEM RESET datacontract.http_auth" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q -c "SELECT datacontract.delete_subject('cache-a')" -c "SELECT datacontract.delete_subject('cache-a', true)" >/dev/null
is_req "cache: a hard delete (from another session) makes the id 404" \
	"{\"error_code\":40403,\"message\":\"Schema $cid not found\"} 404" GET "/schemas/ids/$cid"
req PUT '/mode/cache-b?force=true' '{"mode":"IMPORT"}' >/dev/null
out=$(req POST /subjects/cache-b/versions "$(csch CacheB | jq -c --argjson id "$cid" '. + {id: $id, version: 1}')")
dc_is "cache: IMPORT re-creates the deleted id with other content" "$out" "{\"id\":$cid} 200"
out=$(req GET "/schemas/ids/$cid")
dc_is "cache: ... and GET by id answers the new content" "$(echo "${out% *}" | jq -r .schema | jq -r .name) ${out##* }" "CacheB 200"
req DELETE /mode/cache-b >/dev/null
before=$(req GET "/schemas/ids/$cid")
q -c "ALTER TABLE datacontract.schemas ALTER COLUMN created_at SET DEFAULT pg_catalog.now()" >/dev/null
dc_is "cache: a relcache invalidation of the table leaves answers right" "$(req GET "/schemas/ids/$cid")" "$before"
