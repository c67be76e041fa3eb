#!/usr/bin/env bash
# REST API benchmark (standalone, not part of the test suite).
#
#   flock /tmp/dc-install.lock bash test/bench/rest_bench.sh [seconds] [http_workers]
#
# 1. GET /schemas/ids/{id} served by the extension's HTTP worker(s), against
#    nginx-light serving the very same JSON as a static file with as many
#    worker processes: requests/s ratio and p99 latency, with wrk.
# 2. POST /subjects/{s}/versions (new schemas) with 8 concurrent clients:
#    registrations per second.
# Needs the Debian packages wrk and nginx-light, and the extension installed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/test/lib/pgcluster.sh"

secs=${1:-10}
workers=${2:-1}
for bin in wrk nginx curl; do
	command -v "$bin" >/dev/null || { echo "missing $bin (apt-get install wrk nginx-light curl)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/dc-restbench.XXXXXX)
chmod 755 "$work"
ngpid=
cleanup() {
	[ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null
	dc_pg_stop
	rm -rf "$work"
}
trap cleanup EXIT

HP=$(dc_free_port)
dc_pg_start "shared_preload_libraries = 'datacontract'" \
	"datacontract.http_port = $HP" \
	"datacontract.http_listen_addresses = '127.0.0.1'" \
	"datacontract.http_workers = $workers" || exit 1
psql -X -q -c "CREATE EXTENSION datacontract" -c "SELECT datacontract.set_compatibility(NULL, 'NONE')" >/dev/null
B=http://127.0.0.1:$HP
for _ in $(seq 1 100); do curl -s -o /dev/null "$B/" && break; sleep 0.1; done

id=$(curl -s -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
	--data-binary "$(jq -Rs '{schema: .}' "$top/schemas/SensorEvent.avsc")" \
	"$B/subjects/sensor-events-value/versions" | jq .id)

# nginx serving the same answer as a static file.
NP=$(dc_free_port)
mkdir -p "$work/www/schemas/ids" "$work/nginx"
curl -s "$B/schemas/ids/$id" >"$work/www/schemas/ids/$id"
chmod -R a+rX "$work/www"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	default_type application/vnd.schemaregistry.v1+json;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	server {
		listen 127.0.0.1:$NP;
		root $work/www;
	}
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
ngpid=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$NP/schemas/ids/$id" && break; sleep 0.1; done
cmp -s <(curl -s "http://127.0.0.1:$NP/schemas/ids/$id") <(curl -s "$B/schemas/ids/$id") ||
	echo "warning: nginx and the registry answer differently" >&2

# run_wrk URL [wrk args...]: prints "req/s p99"
run_wrk() {
	local url=$1
	shift
	wrk -d "${secs}s" --latency "$@" "$url" >"$work/wrk.out" 2>&1
	local rps p99
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
	p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
	echo "$rps $p99"
}

echo "== GET /schemas/ids/$id, wrk -t2 -c32, ${secs}s, $workers worker(s) each"
read -r dc_rps dc_p99 < <(run_wrk "$B/schemas/ids/$id" -t2 -c32)
read -r ng_rps ng_p99 < <(run_wrk "http://127.0.0.1:$NP/schemas/ids/$id" -t2 -c32)
printf '%-28s %12s req/s   p99 %s\n' "datacontract REST" "$dc_rps" "$dc_p99"
printf '%-28s %12s req/s   p99 %s\n' "nginx static file" "$ng_rps" "$ng_p99"
awk -v a="$dc_rps" -v b="$ng_rps" 'BEGIN { if (b > 0) printf "ratio datacontract/nginx: %.3f\n", a / b }'

echo "== POST /subjects/{s}/versions, new schemas, 8 clients (wrk -t2 -c8), ${secs}s"
cat >"$work/post.lua" <<'EOF'
local counter = 0
local tid = 0
local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
function init(args)
	tid = tonumber(wrk.thread:get("tid")) or 0
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/vnd.schemaregistry.v1+json"
function request()
	counter = counter + 1
	local name = "B" .. tid .. "_" .. counter
	local body = '{"schema":"{\\"type\\":\\"record\\",\\"name\\":\\"' .. name ..
		'\\",\\"fields\\":[{\\"name\\":\\"f\\",\\"type\\":\\"long\\"}]}"}'
	return wrk.format("POST", "/subjects/bench-" .. (counter % 8) .. "-" .. tid .. "/versions", nil, body)
end
EOF
read -r post_rps post_p99 < <(run_wrk "$B" -t2 -c8 -s "$work/post.lua")
errors=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out")
printf '%-28s %12s req/s   p99 %s   non-2xx %s\n' "register (new versions)" "$post_rps" "$post_p99" "${errors:-0}"
psql -X -q -t -A -c "SELECT count(*) || ' versions registered' FROM datacontract.subject_versions"
