# Throw-away PostgreSQL clusters for tests and the demo.  Source this file.
#
#   dc_pg_start [extra postgresql.conf lines...]
#       initdb + start as an unprivileged user, in a temporary directory, on a
#       free loopback port; exports PGHOST PGPORT PGUSER PGDATABASE DC_PGDATA
#       DC_PGDIR DC_PGUSER_OS.  Trust authentication, loopback only.
#   dc_pg_stop        stop it (fast) and remove the directory.
#   dc_pg_restart [mode]  restart (fast by default).
#
# PostgreSQL refuses to run as root, so the cluster runs as "postgres" (made by
# Debian's postgresql-common) or, failing that, a "dctest" user we create.

DC_PGBIN=${DC_PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
# Debian's pg_config lives in /usr/bin; the server binaries do not.
[ -x "$DC_PGBIN/initdb" ] || DC_PGBIN=/usr/lib/postgresql/15/bin

dc_os_user() {
	if id postgres >/dev/null 2>&1; then
		echo postgres
	else
		id dctest >/dev/null 2>&1 || useradd --system --create-home dctest
		echo dctest
	fi
}

dc_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Run a command as the cluster's OS user (or as ourselves when not root).
dc_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$DC_PGUSER_OS" -- "$@"
	else
		"$@"
	fi
}

dc_pg_start() {
	DC_PGUSER_OS=$(dc_os_user)
	DC_PGDIR=$(mktemp -d /tmp/dc-pg.XXXXXX)
	DC_PGDATA=$DC_PGDIR/data
	chmod 755 "$DC_PGDIR"
	[ "$(id -u)" = 0 ] && chown "$DC_PGUSER_OS" "$DC_PGDIR"
	dc_as_pg "$DC_PGBIN/initdb" -D "$DC_PGDATA" -A trust -U postgres -E UTF8 --no-locale >"$DC_PGDIR/initdb.log" 2>&1 || {
		cat "$DC_PGDIR/initdb.log" >&2; return 1; }
	PGPORT=$(dc_free_port)
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $PGPORT"
		echo "unix_socket_directories = '$DC_PGDIR'"
		echo "max_connections = 100"
		echo "fsync = off"
		echo "logging_collector = off"
		for line in "$@"; do echo "$line"; done
	} >>"$DC_PGDATA/postgresql.conf"
	dc_as_pg "$DC_PGBIN/pg_ctl" -D "$DC_PGDATA" -l "$DC_PGDIR/server.log" -w -t 60 start >/dev/null || {
		cat "$DC_PGDIR/server.log" >&2; return 1; }
	export PGHOST=127.0.0.1 PGPORT PGUSER=postgres PGDATABASE=postgres DC_PGDATA DC_PGDIR DC_PGUSER_OS
}

dc_pg_restart() {
	dc_as_pg "$DC_PGBIN/pg_ctl" -D "$DC_PGDATA" -l "$DC_PGDIR/server.log" -w -t 60 -m "${1:-fast}" restart >/dev/null
}

dc_pg_stop() {
	[ -n "${DC_PGDATA:-}" ] || return 0
	dc_as_pg "$DC_PGBIN/pg_ctl" -D "$DC_PGDATA" -w -t 60 -m fast stop >/dev/null 2>&1 ||
		dc_as_pg "$DC_PGBIN/pg_ctl" -D "$DC_PGDATA" -m immediate stop >/dev/null 2>&1
	rm -rf "$DC_PGDIR"
	unset DC_PGDATA
}
