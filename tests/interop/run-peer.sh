#!/usr/bin/env bash
# Runs the interop tests against bench/peer/server.js (socket.io 0.9.19), the
# reference implementation of the testapp contract, over xhr-polling and
# websocket, and stops the peer when done (also on failure or Ctrl-C).
#
#   tests/interop/run-peer.sh [extra `node --test` arguments]
#
# Environment: SIO_TRANSPORTS_TO_TEST (default "xhr-polling websocket"),
# SIO_CONNECT_TIMEOUT (default 5000), SIO_EVENT_TIMEOUT, NODE (default node).
# Exit status: 0 when every run passed, 1 on a test failure, 2 on a setup error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=${NODE:-node}
transports=${SIO_TRANSPORTS_TO_TEST:-"xhr-polling websocket"}

if [[ ! -d $root/node_modules/socket.io || ! -d $root/node_modules/socket.io-client ]]; then
	echo "run-peer.sh: node_modules missing; run 'npm ci' in $root" >&2
	exit 2
fi

tmp=$(mktemp -d)
pid=
stop_peer() {
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	pid=
}
cleanup() {
	stop_peer
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PORT=0: the kernel picks a free port and the peer prints it.
PORT=0 HOST=127.0.0.1 SIO_LOG_LEVEL=${SIO_LOG_LEVEL:-0} \
	"$node" "$root/bench/peer/server.js" >"$tmp/out" 2>"$tmp/err" </dev/null &
pid=$!

addr=
for ((i = 0; i < 100; i++)); do
	addr=$(sed -n 's/^listening //p' "$tmp/out")
	[[ -n $addr ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "run-peer.sh: the peer exited before listening:" >&2
		cat "$tmp/err" >&2
		pid=
		exit 2
	fi
	sleep 0.1
done
if [[ -z $addr ]]; then
	echo "run-peer.sh: the peer did not listen within 10 s" >&2
	cat "$tmp/err" >&2
	exit 2
fi
echo "peer: socket.io 0.9.19 at http://$addr (pid $pid)"

status=0
for t in $transports; do
	echo "== interop over $t against the peer"
	SIO_URL="http://$addr" SIO_TRANSPORT="$t" \
		SIO_CONNECT_TIMEOUT=${SIO_CONNECT_TIMEOUT:-5000} \
		"$node" --test "$@" "$here"/*.test.mjs || status=1
done
if [[ -s $tmp/err ]]; then
	echo "-- peer stderr:" >&2
	cat "$tmp/err" >&2
fi
exit $status
