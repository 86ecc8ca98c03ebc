#!/usr/bin/env bash
# Runs the interop tests (socket.io-client 0.9.16 in Node, testapp contract)
# over xhr-polling against sio-gateway behind real web servers, each started
# by scripts/webserver.sh on a free loopback port and stopped afterwards.
#
#   tests/interop/run-servers.sh [SERVER...] [-- `node --test` args (default: --test-reporter=spec)]
#
# SERVER is lighttpd, nginx, apache (mod_proxy_fcgi) or apache-cgi (mod_cgid,
# the gateway as a plain CGI program); default: all four.
#
# Environment (all optional):
#   GATEWAY              sio-gateway binary (default: build/sio-gateway)
#   SIO_CONNECT_TIMEOUT  ms (default 10000), SIO_EVENT_TIMEOUT
#   POLLING_DURATION     seconds an idle poll waits (default 5)
#   KEEP_VAR=1           keep each server's files (var/interop/SERVER)
#   NODE                 node binary (default: node)
# Files of each run (configs, web server and gateway logs, the database) are
# in var/interop/SERVER; on a failure they are kept and their logs shown.
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
	lighttpd | nginx | apache | apache-cgi) servers+=("$1") ;;
	*) echo "run-servers.sh: unknown server '$1' (lighttpd nginx apache apache-cgi)" >&2; exit 2 ;;
	esac
	shift
done
[ ${#servers[@]} -gt 0 ] || servers=(lighttpd nginx apache apache-cgi)
[ ${#node_args[@]} -gt 0 ] || node_args=(--test-reporter=spec)

gateway=${GATEWAY:-$root/build/sio-gateway}
case $gateway in /*) ;; *) gateway=$root/$gateway ;; esac
if [ ! -x "$gateway" ]; then
	echo "run-servers.sh: $gateway is not built (run make)" >&2
	exit 2
fi
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

current=""
cleanup() {
	[ -z "$current" ] || scripts/webserver.sh stop "$current" >/dev/null 2>&1 || true
	current=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

status=0
summary=()
for server in "${servers[@]}"; do
	vardir=$root/var/interop/$server
	scripts/webserver.sh stop "$vardir" >/dev/null 2>&1 || true
	rm -rf "$vardir"
	mkdir -p "$vardir/run" "$vardir/www"
	# log_level debug: a failure can be read against the gateway's log.
	cat >"$vardir/siogate.conf" <<-EOF
		# written by tests/interop/run-servers.sh
		database = $vardir/siogate.db
		run_dir = $vardir/run
		app = testapp
		polling_duration = ${POLLING_DURATION:-5}
		log_level = debug
	EOF
	port=$(free_port)
	echo "== interop over xhr-polling behind $server (127.0.0.1:$port, files in var/interop/$server)"
	t0=$SECONDS
	current=$vardir
	if ! GATEWAY=$gateway SIOGATE_CONF=$vardir/siogate.conf DOCROOT=$vardir/www \
		scripts/webserver.sh start "$server" "$port" "$vardir"; then
		echo "run-servers.sh: $server did not start" >&2
		summary+=("$server: SETUP FAILED")
		[ $status != 0 ] || status=2
		cleanup
		continue
	fi
	rc=0
	SIO_URL="http://127.0.0.1:$port" SIO_TRANSPORT=xhr-polling \
		SIO_CONNECT_TIMEOUT=${SIO_CONNECT_TIMEOUT:-10000} \
		"$node" --test "${node_args[@]}" "$here"/*.test.js || rc=$?
	cleanup
	if [ $rc = 0 ]; then
		summary+=("$server: passed ($((SECONDS - t0)) s)")
		[ -n "${KEEP_VAR:-}" ] || rm -rf "$vardir"
	else
		summary+=("$server: FAILED ($((SECONDS - t0)) s), files in $vardir")
		status=1
		for f in "$vardir"/gateway.log "$vardir"/*error*.log "$vardir"/webserver.out; do
			[ -s "$f" ] || continue
			echo "-- last lines of $f" >&2
			grep -v ': debug: ' "$f" | tail -n 15 >&2
		done
	fi
done

echo "== interop summary"
printf '   %s\n' "${summary[@]}"
exit $status
