#!/bin/bash
# bench/run.sh: the side-by-side benchmark, siogate against socket.io 0.9.19.
#
#   bench/run.sh [--quick]          (make bench [ARGS=--quick])
#
# Starts siogate (lighttpd + sio-gateway + sio-wsd via scripts/webserver.sh,
# app testapp, a fresh config and database under a temporary directory) and
# the peer (node bench/peer/server.js), both on loopback, runs the same
# build/loadgen phases against each, samples the server processes' CPU
# (/proc/PID/stat) and RSS (/proc/PID/status), and prints a table:
# phase | siogate | socket.io 0.9 | ratio (siogate / socket.io).
#
# Phases: websocket echo (1, 100 clients), event+ack latency, handshake +
# websocket connect rate, xhr-polling echo and event+ack, idle websocket
# sessions held (RSS per session, idle CPU).
# siogate's handshake and xhr-polling go through lighttpd + sio-gateway; its websockets go
# straight to sio-wsd's own port (WSD_ADDR), as the peer's go straight to Node.
# Environment: BUILD (default build), KEEP=1 keeps the temporary directory.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LOADGEN=$BUILD/loadgen
QUICK=""
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	*) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
	esac
done

if [ -n "$QUICK" ]; then
	ECHO_S=3 ACK_N=1000 CONN_N=300 CONN_C=8 HOLD_N=1000 HOLD_S=6
else
	ECHO_S=10 ACK_N=5000 CONN_N=2000 CONN_C=16 HOLD_N=10000 HOLD_S=40
fi

for f in "$LOADGEN" "$BUILD/sio-gateway" "$BUILD/sio-wsd"; do
	[ -x "$f" ] || { echo "bench: $f is not built (make bench builds it)" >&2; exit 1; }
done
[ -d "$ROOT/node_modules/socket.io" ] || (cd "$ROOT" && npm ci --no-audit --no-fund >/dev/null)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/siogate-bench.XXXXXX)
chmod 755 "$TMP"
V=$TMP/siogate
mkdir -p "$V"
PEER_PID=""
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	"$ROOT/scripts/webserver.sh" stop "$V" >/dev/null 2>&1 || true
	if [ -n "$PEER_PID" ]; then
		kill -TERM -- "-$PEER_PID" 2>/dev/null || kill -TERM "$PEER_PID" 2>/dev/null || true
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
SG_PORT=$(free_port)
WSD_PORT=$(free_port)
while [ "$WSD_PORT" = "$SG_PORT" ]; do WSD_PORT=$(free_port); done
PEER_PORT=$(free_port)
while [ "$PEER_PORT" = "$SG_PORT" ] || [ "$PEER_PORT" = "$WSD_PORT" ]; do PEER_PORT=$(free_port); done

cat >"$V/siogate.conf" <<EOF
database = $V/siogate.db
run_dir = $V/run
app = testapp
transports = websocket,htmlfile,xhr-polling,jsonp-polling
flash_policy_port = 0
heartbeat_interval = 25
heartbeat_timeout = 60
close_timeout = 60
log_level = warn
threads = 256
EOF

echo "bench: starting siogate (lighttpd :$SG_PORT, sio-wsd :$WSD_PORT) and socket.io 0.9.19 (:$PEER_PORT) in $TMP" >&2
WSD_ADDR=127.0.0.1:$WSD_PORT SIOGATE_CONF=$V/siogate.conf GATEWAY=$BUILD/sio-gateway \
	WSD=$BUILD/sio-wsd "$ROOT/scripts/webserver.sh" start lighttpd "$SG_PORT" "$V" >&2

setsid node "$ROOT/bench/peer/server.js" --port "$PEER_PORT" </dev/null \
	>"$TMP/peer.out" 2>"$TMP/peer.err" &
PEER_PID=$!
for _ in $(seq 200); do
	grep -q '^listening' "$TMP/peer.out" 2>/dev/null && break
	kill -0 "$PEER_PID" 2>/dev/null || { cat "$TMP/peer.err" >&2; exit 1; }
	sleep 0.05
done
grep -q '^listening' "$TMP/peer.out" || { echo "bench: the peer did not start" >&2; exit 1; }

# The server processes of a target: whole process groups (setsid).
pids_of() { # target
	local g
	if [ "$1" = siogate ]; then
		for g in "$(cat "$V/webserver.pid")" "$(cat "$V/wsd.pid")"; do
			ps -o pid= -g "$g" 2>/dev/null || true
		done
	else
		ps -o pid= -g "$PEER_PID" 2>/dev/null || true
	fi
}
rss_kb() { # pids...: summed VmRSS, KiB
	local p t=0 r
	for p in "$@"; do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		t=$((t + ${r:-0}))
	done
	echo $t
}
cpu_ticks() { # pids...: summed utime + stime (clock ticks)
	local p t=0 r
	for p in "$@"; do
		r=$(sed -e 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || true)
		t=$((t + ${r:-0}))
	done
	echo $t
}
HZ=$(getconf CLK_TCK)

# One result per key: R[target.phase.key]
declare -A R
kv() { # line key
	sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<" $1"
}
ports_of() { # target -> loadgen port options
	if [ "$1" = siogate ]; then
		echo "--port $SG_PORT --ws-port $WSD_PORT"
	else
		echo "--port $PEER_PORT"
	fi
}

# Runs one loadgen phase against a target, with server CPU around it.
phase() { # target name loadgen-args...
	local t=$1 name=$2 line c0 c1 rc=0
	shift 2
	# shellcheck disable=SC2046
	c0=$(cpu_ticks $(pids_of "$t"))
	# shellcheck disable=SC2046
	line=$("$LOADGEN" $(ports_of "$t") "$@") || rc=$?
	# shellcheck disable=SC2046
	c1=$(cpu_ticks $(pids_of "$t"))
	echo "  $t $name: $line" >&2
	[ $rc = 0 ] || echo "  $t $name: FAILED (rc $rc)" >&2
	R[$t.$name.line]=$line
	R[$t.$name.srv_cpu_pct]=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v w="$(kv "$line" lg_wall_s)" \
		'BEGIN { printf "%.0f", (w > 0 ? 100 * c / hz / w : 0) }')
	R[$t.$name.lg_cpu_pct]=$(kv "$line" lg_cpu_pct)
}

# Holds N idle sessions: RSS before and once all are open, CPU while idle.
hold() { # target
	local t=$1 ready=$TMP/ready.$1 out=$TMP/hold.$1 r0 r1 w0="" w1="" c0 c1 lg rc=0
	rm -f "$ready"
	sleep 1
	# shellcheck disable=SC2046
	r0=$(rss_kb $(pids_of "$t"))
	if [ "$t" = siogate ]; then
		# shellcheck disable=SC2046
		w0=$(rss_kb $(ps -o pid= -g "$(cat "$V/wsd.pid")"))
	fi
	# shellcheck disable=SC2046
	"$LOADGEN" $(ports_of "$t") --mode hold --clients "$HOLD_N" --duration "$HOLD_S" \
		--ready-file "$ready" >"$out" &
	lg=$!
	while [ ! -f "$ready" ] && kill -0 "$lg" 2>/dev/null; do sleep 0.05; done
	sleep 1
	# shellcheck disable=SC2046
	r1=$(rss_kb $(pids_of "$t"))
	if [ "$t" = siogate ]; then
		# shellcheck disable=SC2046
		w1=$(rss_kb $(ps -o pid= -g "$(cat "$V/wsd.pid")"))
	fi
	# shellcheck disable=SC2046
	c0=$(cpu_ticks $(pids_of "$t"))
	local s0
	s0=$(date +%s.%N)
	sleep $((HOLD_S - 3 > 1 ? HOLD_S - 3 : 1))
	# shellcheck disable=SC2046
	c1=$(cpu_ticks $(pids_of "$t"))
	local span
	span=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	wait "$lg" || rc=$?
	local line
	line=$(cat "$out")
	echo "  $t hold: $line" >&2
	[ $rc = 0 ] || echo "  $t hold: FAILED (rc $rc)" >&2
	R[$t.hold.line]=$line
	R[$t.hold.alive]=$(kv "$line" alive)
	R[$t.hold.rss_mib]=$(awk -v r="$r1" 'BEGIN { printf "%.1f", r / 1024 }')
	R[$t.hold.rss_per]=$(awk -v a="$r0" -v b="$r1" -v n="$HOLD_N" 'BEGIN { printf "%.2f", (b - a) / n }')
	[ "$t" != siogate ] ||
		R[$t.hold.wsd_per]=$(awk -v a="$w0" -v b="$w1" -v n="$HOLD_N" 'BEGIN { printf "%.2f", (b - a) / n }')
	R[$t.hold.idle_cpu]=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v w="$span" \
		'BEGIN { printf "%.2f", (w > 0 ? 100 * c / hz / w : 0) }')
	R[$t.hold.lg_cpu_pct]=$(kv "$line" lg_cpu_pct)
}

for t in siogate peer; do
	echo "bench: $t" >&2
	phase "$t" echo1 --mode echo --clients 1 --duration "$ECHO_S"
	phase "$t" echo100 --mode echo --clients 100 --duration "$ECHO_S"
	phase "$t" ack --mode ack --count "$ACK_N"
	phase "$t" connect --mode connect --count "$CONN_N" --clients "$CONN_C"
	X=(--transport xhr-polling)
	phase "$t" xecho1 "${X[@]}" --mode echo --clients 1 --duration "$ECHO_S"
	phase "$t" xecho100 "${X[@]}" --mode echo --clients 100 --duration "$ECHO_S"
	phase "$t" xack "${X[@]}" --mode ack --count "$ACK_N"
	hold "$t"
done

# The table: phase | siogate | socket.io 0.9 | ratio (siogate / socket.io).
row() { # label siogate peer [unit]
	local ratio
	ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }')
	printf '| %-48s | %12s | %13s | %6s |\n' "$1" "${2:--}" "${3:--}" "$ratio"
}
val() { # target phase key
	kv "${R[$1.$2.line]:-}" "$3"
}
echo
echo "siogate $(sed -n 's/^#define SIOGATE_VERSION "\(.*\)"/\1/p' "$ROOT/common/siogate.h") vs socket.io 0.9.19 (node $(node --version)), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')${QUICK:+, --quick}"
printf '| %-48s | %12s | %13s | %6s |\n' phase siogate "socket.io 0.9" ratio
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 50))" "$(printf -- '-%.0s' $(seq 14))" "$(printf -- '-%.0s' $(seq 15))" "$(printf -- '-%.0s' $(seq 8))"
row "ws echo, 1 client (msg/s, higher better)" "$(val siogate echo1 rate)" "$(val peer echo1 rate)"
row "ws echo, 100 clients (msg/s, higher better)" "$(val siogate echo100 rate)" "$(val peer echo100 rate)"
row "ws event+ack p50 (ms, $ACK_N acks, lower better)" "$(val siogate ack p50_ms)" "$(val peer ack p50_ms)"
row "ws event+ack p99 (ms)" "$(val siogate ack p99_ms)" "$(val peer ack p99_ms)"
row "xhr-polling echo, 1 client (msg/s)" "$(val siogate xecho1 rate)" "$(val peer xecho1 rate)"
row "xhr-polling echo, 100 clients (msg/s)" "$(val siogate xecho100 rate)" "$(val peer xecho100 rate)"
row "xhr-polling event+ack p50 (ms)" "$(val siogate xack p50_ms)" "$(val peer xack p50_ms)"
row "xhr-polling event+ack p99 (ms)" "$(val siogate xack p99_ms)" "$(val peer xack p99_ms)"
row "handshake+ws connect/s ($CONN_C in flight)" "$(val siogate connect rate)" "$(val peer connect rate)"
row "idle ws sessions held (of $HOLD_N)" "${R[siogate.hold.alive]:-}" "${R[peer.hold.alive]:-}"
row "RSS, all server processes, holding (MiB)" "${R[siogate.hold.rss_mib]:-}" "${R[peer.hold.rss_mib]:-}"
row "RSS per idle ws session (KiB)" "${R[siogate.hold.rss_per]:-}" "${R[peer.hold.rss_per]:-}"
row "  of which sio-wsd (KiB)" "${R[siogate.hold.wsd_per]:-}" ""
row "CPU while idle, all servers (% of a core)" "${R[siogate.hold.idle_cpu]:-}" "${R[peer.hold.idle_cpu]:-}"
echo
echo "CPU during each phase, % of one core: server processes / load generator"
for p in echo1 echo100 ack connect xecho1 xecho100 xack; do
	printf '  %-9s siogate %4s%% / %5s%%   socket.io %4s%% / %5s%%\n' "$p" \
		"${R[siogate.$p.srv_cpu_pct]:-}" "${R[siogate.$p.lg_cpu_pct]:-}" \
		"${R[peer.$p.srv_cpu_pct]:-}" "${R[peer.$p.lg_cpu_pct]:-}"
done
printf '  %-8s load generator %s%% (siogate run) / %s%% (socket.io run)\n' hold \
	"${R[siogate.hold.lg_cpu_pct]:-}" "${R[peer.hold.lg_cpu_pct]:-}"
fail=0
for t in siogate peer; do
	for p in echo1 echo100 ack connect xecho1 xecho100 xack hold; do
		case ${R[$t.$p.line]:-} in *" ok=1"*) ;; *) fail=1 ;; esac
	done
done
[ $fail = 0 ] || echo "bench: some phases did not complete (ok=0 above)" >&2
exit $fail
