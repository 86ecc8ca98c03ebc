#!/usr/bin/env bash
# Runs the interop tests (socket.io-client 0.9.16 in Node, testapp contract)
# against siogate behind real web servers, each started by
# scripts/webserver.sh on a free loopback port (with sio-gateway and
# sio-wsd) and stopped afterwards:
#
#   - over xhr-polling and over websocket (through the server's proxy to
#     sio-wsd) behind each SERVER;
#   - fallback, behind lighttpd with the websocket route failing: the client
#     is given ['websocket', 'xhr-polling'] and a short connect timeout and
#     must move to xhr-polling inside the session it handshook (same sid):
#       fallback-contract  sio-wsd not running (503), the testapp contract
#                          on fallen-back sessions (SIO_TRANSPORT=fallback)
#       fallback-chat      sio-wsd not running, app = chat: the welcome sent
#                          on open arrives after the move, then two users chat
#       refused-chat       the route answers the upgrade with 403
#                          (refuse-upgrade.mjs in place of sio-wsd), app = chat
#
#   tests/interop/run-servers.sh [SERVER...|fallback] [-- `node --test` args (default: --test-reporter=spec)]
#
# SERVER is lighttpd, nginx, apache (mod_proxy_fcgi) or apache-cgi (mod_cgid,
# the gateway as a plain CGI program); fallback runs the three fallback runs;
# default: all four servers and fallback.
#
# Environment (all optional):
#   GATEWAY              sio-gateway binary (default: build/sio-gateway)
#   WSD                  sio-wsd binary (default: build/sio-wsd)
#   TRANSPORTS           per server (default: "xhr-polling websocket")
#   SIO_CONNECT_TIMEOUT  ms (default 10000), SIO_EVENT_TIMEOUT
#   SIO_FALLBACK_TIMEOUT the client's connect timeout in the fallback runs, ms
#                        (default 1000 for the contract, 1500 for chat)
#   POLLING_DURATION     seconds an idle poll waits (default 5)
#   KEEP_VAR=1           keep each run's files (var/interop/NAME)
#   NODE                 node binary (default: node)
#   SIO_TEST_PG_HOST ... each run on a PostgreSQL database of its own
#                        (tests/pg/with-cluster.sh sets them: make check-pg)
# Files of each run (configs, web server, gateway and wsd logs, the database)
# are in var/interop/NAME; on a failure they are kept and their logs shown.
# Exit status: 0 when every run passed, 1 on a test failure, 2 on a setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=${NODE:-node}
cd "$root" || exit 2

servers=()
node_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; node_args=("$@"); break ;;
	lighttpd | nginx | apache | apache-cgi | fallback) servers+=("$1") ;;
	*) echo "run-servers.sh: unknown server '$1' (lighttpd nginx apache apache-cgi fallback)" >&2; exit 2 ;;
	esac
	shift
done
[ ${#servers[@]} -gt 0 ] || servers=(lighttpd nginx apache apache-cgi fallback)
[ ${#node_args[@]} -gt 0 ] || node_args=(--test-reporter=spec)
read -r -a transports <<<"${TRANSPORTS:-xhr-polling websocket}"

absbin() { # value default
	local b=${1:-$2}
	case $b in /*) ;; *) b=$root/$b ;; esac
	printf '%s\n' "$b"
}
gateway=$(absbin "${GATEWAY:-}" build/sio-gateway)
wsd=$(absbin "${WSD:-}" build/sio-wsd)
for b in "$gateway" "$wsd"; do
	if [ ! -x "$b" ]; then
		echo "run-servers.sh: $b is not built (run make)" >&2
		exit 2
	fi
done
if ! command -v "$node" >/dev/null 2>&1; then
	echo "run-servers.sh: node not found" >&2
	exit 2
fi
if [ ! -d node_modules/socket.io-client ]; then
	echo "run-servers.sh: node_modules missing, running npm ci"
	npm ci --no-audit --no-fund || { echo "run-servers.sh: npm ci failed" >&2; exit 2; }
fi

free_port() {
	"$node" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

current="" refuser=""
cleanup() {
	[ -z "$current" ] || scripts/webserver.sh stop "$current" >/dev/null 2>&1 || true
	current=""
	if [ -n "$refuser" ]; then
		kill "$refuser" 2>/dev/null
		wait "$refuser" 2>/dev/null
		refuser=""
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

status=0
summary=()

# The database of a run: a file in vardir, or with SIO_TEST_PG_HOST (a
# cluster of tests/pg/with-cluster.sh) a fresh PostgreSQL database.
database() { # name
	[ -n "${SIO_TEST_PG_HOST:-}" ] || {
		echo "$vardir/siogate.db"
		return
	}
	local db="interop_${1//-/_}" q="host=$SIO_TEST_PG_HOST&port=$SIO_TEST_PG_PORT"
	psql -qX "postgresql://$SIO_TEST_PG_USER@/postgres?$q" \
		-c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
		-c "CREATE DATABASE $db" >/dev/null || return 1
	echo "postgresql://$SIO_TEST_PG_USER@/$db?$q"
}

# A fresh var/interop/NAME with its siogate.conf; sets vardir.
prepare() { # name app
	vardir=$root/var/interop/$1
	scripts/webserver.sh stop "$vardir" >/dev/null 2>&1 || true
	rm -rf "$vardir"
	mkdir -p "$vardir/run" "$vardir/www"
	local db
	db=$(database "$1") || return 1
	# log_level debug: a failure can be read against the gateway's log.
	# No Flash policy listener: runs may overlap (make interop, make browser).
	"$node" tests/lib/servers.mjs conf "$vardir/siogate.conf" \
		"written by tests/interop/run-servers.sh" \
		"database=$db" "run_dir=$vardir/run" "app=$2" \
		"polling_duration=${POLLING_DURATION:-5}" log_level=debug \
		flash_policy_port=0
}

# Starts the web server for vardir on a free port; sets port, current.
start() { # server [webserver.sh start options...]
	local server=$1
	shift
	port=$(free_port)
	current=$vardir
	if ! GATEWAY=$gateway WSD=$wsd SIOGATE_CONF=$vardir/siogate.conf DOCROOT=$vardir/www \
		scripts/webserver.sh start "$@" "$server" "$port" "$vardir"; then
		echo "run-servers.sh: $server did not start" >&2
		return 1
	fi
}

# Records one run's result: rc, label, t0.
record() { # rc label t0
	if [ "$1" = 0 ]; then
		summary+=("$2: passed ($((SECONDS - $3)) s)")
	else
		summary+=("$2: FAILED ($((SECONDS - $3)) s), files in ${vardir#"$root"/}")
		status=1
	fi
}

# After the server is stopped: drop the files, or show the logs.
finish() { # failed(0/1)
	if [ "$1" = 0 ]; then
		[ -n "${KEEP_VAR:-}" ] || rm -rf "$vardir"
		return
	fi
	for f in "$vardir"/gateway.log "$vardir"/wsd.log "$vardir"/*error*.log \
		"$vardir"/webserver.out "$vardir"/refuse.log; do
		[ -s "$f" ] || continue
		echo "-- last lines of $f" >&2
		grep -v ': debug: ' "$f" | tail -n 15 >&2
	done
}

setup_failed() { # label
	summary+=("$1: SETUP FAILED, files in ${vardir#"$root"/}")
	[ $status != 0 ] || status=2
	cleanup
	finish 1
}

for server in "${servers[@]}"; do
	[ "$server" != fallback ] || continue
	prepare "$server" testapp
	echo "== interop behind $server over ${transports[*]} (files in var/interop/$server)"
	if ! start "$server"; then
		setup_failed "$server"
		continue
	fi
	failed=0
	for transport in "${transports[@]}"; do
		echo "== $server, $transport (127.0.0.1:$port)"
		t0=$SECONDS rc=0
		SIO_URL="http://127.0.0.1:$port" SIO_TRANSPORT=$transport \
			SIO_CONNECT_TIMEOUT=${SIO_CONNECT_TIMEOUT:-10000} \
			"$node" --test "${node_args[@]}" "$here/testapp.test.mjs" || rc=$?
		if [ "$transport" = websocket ]; then
			echo "   sio-wsd attached $(grep -c 'attached websocket' "$vardir/wsd.log" 2>/dev/null) websockets"
		fi
		record $rc "$server over $transport" "$t0"
		[ $rc = 0 ] || failed=1
	done
	cleanup
	finish $failed
done

# Fallback runs, behind lighttpd: NAME APP VARIANT TEST-FILE TIMEOUT
fallback_run() {
	local name=$1 app=$2 variant=$3 file=$4 timeout=$5 rc=0 t0=$SECONDS
	prepare "$name" "$app"
	echo "== $name: lighttpd, $variant, app = $app (files in var/interop/$name)"
	local wsd_addr=""
	if [ "$variant" = "upgrade refused" ]; then
		wsd_addr=$vardir/refuse.sock
		"$node" "$here/refuse-upgrade.mjs" "$wsd_addr" >"$vardir/refuse.log" 2>&1 &
		refuser=$!
		local n=0
		while [ ! -S "$wsd_addr" ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n + 1)); done
	fi
	if ! WSD_ADDR=$wsd_addr start lighttpd --no-wsd; then
		setup_failed "$name"
		return
	fi
	SIO_URL="http://127.0.0.1:$port" SIO_APP=$app SIO_TRANSPORT=fallback \
		SIO_FALLBACK_VARIANT="$variant" SIO_FALLBACK_TIMEOUT=$timeout \
		SIO_CONNECT_TIMEOUT=${SIO_CONNECT_TIMEOUT:-10000} \
		"$node" --test "${node_args[@]}" "$here/$file" || rc=$?
	# The failed upgrades went through the web server: show that they did.
	local upgrades
	upgrades=$(grep -c '/socket\.io/1/websocket/' "$vardir/lighttpd-access.log" 2>/dev/null)
	echo "   websocket attempts in lighttpd's access log: ${upgrades:-0}, answered" \
		"$(grep -o '/socket\.io/1/websocket/[^ ]* [^"]*" [0-9]*' "$vardir/lighttpd-access.log" 2>/dev/null |
			awk '{print $NF}' | sort | uniq -c | awk '{printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2}')"
	record $rc "$name ($variant)" "$t0"
	cleanup
	[ $rc = 0 ] || rc=1
	finish $rc
}

for server in "${servers[@]}"; do
	[ "$server" = fallback ] || continue
	fallback_run fallback-contract testapp "wsd not running" testapp.test.mjs \
		"${SIO_FALLBACK_TIMEOUT:-1000}"
	fallback_run fallback-chat chat "wsd not running" fallback.test.mjs \
		"${SIO_FALLBACK_TIMEOUT:-1500}"
	fallback_run refused-chat chat "upgrade refused" fallback.test.mjs \
		"${SIO_FALLBACK_TIMEOUT:-1500}"
done

echo "== interop summary"
printf '   %s\n' "${summary[@]}"
exit $status
