#!/bin/sh
# A throwaway PostgreSQL cluster for the store's suites (make check-pg):
# Debian's server binaries, a unix socket only (no TCP at all), trust
# authentication for the superuser siogate, durability off.
#
#   scripts/pg-cluster.sh start DIR   initdb in DIR/data, then start it
#   scripts/pg-cluster.sh stop DIR    stop it, then remove DIR
#   scripts/pg-cluster.sh env DIR     the SIO_TEST_PG_* lines, for eval
#
# DIR is best a fresh mktemp -d under /tmp. Run as root, the server runs
# as the postgres system user (initdb refuses root), which gets DIR;
# otherwise it runs as the caller. stop acts only on a DIR that start
# marked as its own: on any other it is a quiet no-op.
set -eu

PORT=5432
SUPERUSER=siogate
MARK=.pg-cluster

die() {
	echo "pg-cluster.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: scripts/pg-cluster.sh start|stop|env DIR" >&2
	exit 64
}

# Debian's binaries: pg_config's when it has initdb, else the newest
# version under /usr/lib/postgresql (never /usr/local/bin).
find_bindir() {
	b=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$b" ] || [ ! -x "$b/initdb" ]; then
		b=$(for d in /usr/lib/postgresql/*/bin; do
			[ -x "$d/initdb" ] && echo "$d"
		done | sort -V | tail -n 1)
	fi
	if [ -z "$b" ] || [ ! -x "$b/initdb" ] || [ ! -x "$b/pg_ctl" ]; then
		die "no PostgreSQL server (initdb, pg_ctl): install Debian's" \
			"postgresql package (apt-get install postgresql," \
			"or scripts/deps.sh test)"
	fi
	BINDIR=$b
}

# Runs a command as the cluster's owner: postgres when we are root.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	find_bindir
	mkdir -p "$DIR"
	[ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
	: >"$DIR/$MARK"
	if [ "$(id -u)" = 0 ]; then
		id -u postgres >/dev/null 2>&1 ||
			die "no postgres system user (Debian's postgresql package creates it)"
		chown postgres "$DIR"
		chmod 0711 "$DIR"
		runuser -u postgres -- test -w "$DIR" ||
			die "$DIR: the postgres user cannot reach it (a DIR under /tmp, made by mktemp -d)"
	fi
	as_owner mkdir -m 0700 "$DIR/sock"
	as_owner "$BINDIR/initdb" -D "$DIR/data" --auth=trust -U "$SUPERUSER" \
		-E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 ||
		{
			cat "$DIR/initdb.log" >&2
			die "initdb failed"
		}
	cat >>"$DIR/data/postgresql.conf" <<EOF

# scripts/pg-cluster.sh: a throwaway cluster for the tests
listen_addresses = ''
unix_socket_directories = '$DIR/sock'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 32MB
EOF
	as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" \
		-w -t 30 start >/dev/null ||
		{
			tail -n 20 "$DIR/postgres.log" >&2 || true
			die "the server did not start (log: $DIR/postgres.log)"
		}
}

# When pg_ctl could not stop it: the postmaster of postmaster.pid, by
# its pid, if that process is still this cluster's postgres.
kill_postmaster() {
	echo "pg-cluster.sh: pg_ctl stop failed (log: $DIR/postgres.log)" >&2
	pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
	case $pid in
	'' | *[!0-9]*) return 0 ;;
	esac
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -q -- "postgres -D $DIR/data" || return 0
	echo "pg-cluster.sh: killing its postmaster, pid $pid" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

stop() {
	[ -f "$DIR/$MARK" ] || return 0
	if [ -f "$DIR/data/postmaster.pid" ]; then
		find_bindir
		as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 \
			stop >/dev/null || kill_postmaster
	fi
	rm -rf "$DIR"
}

[ $# -eq 2 ] || usage
case $2 in
/*) DIR=$2 ;;
*) DIR=$(pwd)/$2 ;;
esac
# It goes into postgresql.conf and the socket's path, unquoted.
case $DIR in
*[!A-Za-z0-9/._-]*) die "$DIR: only letters, digits and / . _ - in DIR" ;;
esac
# sun_path holds 107 bytes: DIR/sock/.s.PGSQL.5432 must fit.
[ ${#DIR} -le 80 ] || die "$DIR: too long for a unix socket's path"

case $1 in
start) start ;;
stop) stop ;;
env)
	echo "SIO_TEST_PG_HOST=$DIR/sock"
	echo "SIO_TEST_PG_PORT=$PORT"
	echo "SIO_TEST_PG_USER=$SUPERUSER"
	;;
*) usage ;;
esac
