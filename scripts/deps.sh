#!/bin/sh
# Installs the Debian packages one set of siogate's commands needs, when
# missing. Idempotent and silent when everything is present.
#
#   scripts/deps.sh [SET]          installs what SET lacks (default: test)
#   scripts/deps.sh --check [SET]  installs nothing: prints the apt-get line
#                                  for what SET lacks and exits 1, or 0
#
# Sets, each containing the one before it:
#   build  what `make` needs: a compiler and the libraries' headers (libpq's
#          for the PostgreSQL backend)
#   run    what `make run` needs: build, lighttpd, npm (socket.io-client)
#   test   what `make test` needs: run, the other web servers, chromium,
#          CUnit, clang (fuzz, sanitizers), clang-format, curl, sqlite3, php, groff and
#          man (the man pages' test), postgresql (make check-pg's cluster)
#   bench  what `make bench` and `make profile` need: test, libuv (the
#          load generator), linux-perf
#
# While installing, a policy-rc.d (POLICY_RC_D, default
# /usr/sbin/policy-rc.d) keeps the packages' services from starting; it is
# created only when there is none, and removed on every way out (success,
# a failed install, INT, TERM, HUP).
set -eu

check=""
[ "${1:-}" = --check ] && { check=1; shift; }
set_name=${1:-test}

BUILD_PKGS="build-essential pkg-config libfcgi-dev libwebsockets-dev
libsqlite3-dev libjansson-dev libssl-dev libpq-dev"
RUN_PKGS="$BUILD_PKGS lighttpd"
TEST_PKGS="$RUN_PKGS libcunit1-dev clang clang-format libclang-rt-14-dev sqlite3 curl
python3 groff-base man-db nginx-light apache2 chromium php-cli php-cgi php-fpm php-sqlite3 postgresql"
BENCH_PKGS="$TEST_PKGS libuv1-dev linux-perf"
case $set_name in
build) PKGS=$BUILD_PKGS ;;
run) PKGS=$RUN_PKGS ;;
test) PKGS=$TEST_PKGS ;;
bench) PKGS=$BENCH_PKGS ;;
*)
	echo "usage: scripts/deps.sh [--check] [build|run|test|bench]" >&2
	exit 64
	;;
esac

# Not Debian: nothing to say, nothing to install.
[ -n "$check" ] && ! command -v dpkg-query >/dev/null 2>&1 && exit 0
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
# Node and npm may come from elsewhere than Debian (CI's newer Node): the
# commands count, not the packages.
if [ "$set_name" != build ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0
if [ -n "$check" ]; then
	echo "deps: missing for $set_name:$missing" >&2
	echo "deps: sudo apt-get install$missing   (or: scripts/deps.sh $set_name)" >&2
	exit 1
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# Web servers are started by the tests on their own ports: keep the
# packages' system services from starting on port 80 during the install.
policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
created=""
cleanup() {
	[ -z "$created" ] || $SUDO rm -f "$created"
	created=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# noclobber: one that appeared meanwhile is not ours, and is left alone.
# shellcheck disable=SC2016 # expanded by the inner shell
if [ ! -e "$policy" ] &&
	$SUDO sh -c 'set -C; printf "#!/bin/sh\nexit 101\n" >"$1"' sh "$policy" 2>/dev/null; then
	created=$policy
	$SUDO chmod 755 "$policy"
fi
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
