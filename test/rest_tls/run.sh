#!/usr/bin/env bash
# The REST API over HTTPS: a self-signed certificate made here, the API
# started with datacontract.http_tls_cert_file / http_tls_key_file, answered
# over TLS (certificate verified), and plain HTTP on the same port refused.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pgcluster.sh"
. "$here/../lib/tap.sh"

work=$(mktemp -d /tmp/dc-tls.XXXXXX)
chmod 755 "$work"
trap 'dc_pg_stop; rm -rf "$work"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
dc_check "a self-signed certificate for localhost" test -s "$work/cert.pem" -a -s "$work/key.pem"
chmod 644 "$work/cert.pem" "$work/key.pem"

port=$(dc_free_port)
dc_pg_start "shared_preload_libraries = 'datacontract'" "datacontract.http_port = $port" \
	"datacontract.http_listen_addresses = '127.0.0.1'" \
	"datacontract.http_tls_cert_file = '$work/cert.pem'" "datacontract.http_tls_key_file = '$work/key.pem'" ||
	{ dc_not_ok "cluster starts"; exit 1; }
psql -X -q -c "CREATE EXTENSION datacontract" >/dev/null
url=https://127.0.0.1:$port
for _ in $(seq 1 100); do curl -s --cacert "$work/cert.pem" "$url/" >/dev/null && break; sleep 0.1; done

dc_is "GET over HTTPS, certificate verified" "$(curl -s --cacert "$work/cert.pem" "$url/subjects")" "[]"
body=$(curl -s --cacert "$work/cert.pem" -X POST "$url/subjects/tls-value/versions" \
	-H "Content-Type: application/vnd.schemaregistry.v1+json" -d '{"schema": "\"string\""}')
dc_is "register over HTTPS" "$body" '{"id":1}'
dc_is "... stored in the registry" "$(psql -X -qAt -c "SELECT datacontract.get_schema(1)")" '"string"'
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/subjects")
dc_check "plain HTTP on the TLS port gets no answer (got $code)" test "$code" != 200
dc_check "an unverified peer is refused by a verifying client" \
	bash -c "! curl -s --max-time 5 '$url/subjects' >/dev/null"
dc_is "the worker survived the plain-HTTP attempt" "$(curl -s --cacert "$work/cert.pem" "$url/subjects")" '["tls-value"]'
exit 0
