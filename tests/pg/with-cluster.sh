#!/bin/sh
# Runs a command with a throwaway PostgreSQL cluster made for it
# (scripts/pg-cluster.sh) and its SIO_TEST_PG_HOST, SIO_TEST_PG_PORT and
# SIO_TEST_PG_USER in the environment:
#
#   tests/pg/with-cluster.sh COMMAND [ARG...]
#
# The cluster lives in a fresh directory under /tmp (the postgres user
# must reach it when we are root) and is stopped and removed on every
# way out: the command's end, a failure, INT, TERM, HUP. Exits with the
# command's status.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cluster=$root/scripts/pg-cluster.sh
[ $# -gt 0 ] || {
	echo "usage: tests/pg/with-cluster.sh COMMAND [ARG...]" >&2
	exit 64
}

dir=$(mktemp -d /tmp/siogate-pg.XXXXXX)
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	"$cluster" stop "$dir" || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$cluster" start "$dir"
set -a
eval "$("$cluster" env "$dir")"
set +a
status=0
"$@" || status=$?
exit "$status"
