#!/usr/bin/env bash
# Install the Debian packages the build, the tests and the demo need, when missing.
# (libclang-rt-14-dev: the libFuzzer and sanitizer runtimes for clang-14, only
# recommended by clang's packages, so named here.)
# Runs as root on a fresh Debian 12 machine (Debian's archive is the only source).
set -euo pipefail

pkgs=(
	build-essential pkg-config
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libjansson-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev librdkafka-dev
	python3 python3-avro python3-confluent-kafka python3-requests
	curl jq openssl
	libclang-rt-14-dev
)
# Node.js for the npm registry clients: the machine's own when it has one.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
