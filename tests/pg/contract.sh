#!/bin/sh
# The store contract suite (tests/test_store_contract.c) against
# PostgreSQL, on a throwaway cluster made for the run (make check-pg):
#
#   tests/pg/contract.sh [BUILD]
#
# The cluster lives in a fresh directory under /tmp (the postgres user
# must reach it when we are root) and is stopped and removed on every
# way out: the suite's end, a failure, INT, TERM, HUP. Exits with the
# suite's status.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
suite=$build/tests/test_store_contract
cluster=$root/scripts/pg-cluster.sh

[ -x "$suite" ] || {
	echo "contract.sh: $suite is missing (make $suite)" >&2
	exit 1
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
SIO_TEST_STORE=postgresql SIO_TEST_BIN=$build/tests "$suite" || status=$?
exit "$status"
