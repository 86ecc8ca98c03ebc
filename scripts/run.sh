#!/bin/bash
# make run: the gateway, the websocket sidecar and a demo page behind
# Debian's lighttpd; for a PHP example (examples/NAME/app.php: chat-php,
# ackping-php) app = bridge, with lighttpd running the script with php-cgi.
#
#   APP=chat PORT=8080 scripts/run.sh      (what `make run APP=.. PORT=..` does)
#   NO_WSD=1 scripts/run.sh                (polling only: no sio-wsd)
#
# Installs what is missing, builds, writes var/run/siogate.conf, puts the
# example's index.html in var/www (the gateway serves socket.io-client
# 0.9.16's socket.io.js, from npm, as /socket.io/socket.io.js), and runs lighttpd on 127.0.0.1:PORT with
# sio-gateway spawned by it and sio-wsd on var/sio-wsd.sock (RFC 6455),
# where lighttpd's mod_proxy sends /socket.io/1/websocket/ upgrades, and
# on var/sio-wsd-flash.sock (hixie-76, Flash's WebSocketMain.swf), where it
# sends /socket.io/1/flashsocket/ (the config lists flashsocket, which is
# off by default); the Flash policy file is on 127.0.0.1:10843
# (flash_policy_port; sio-wsd --policy-host for other addresses). The
# page runs over websocket; stop sio-wsd (kill $(cat var/wsd.pid)) and a
# page loaded then falls back to
# xhr-polling (index.html?connect_timeout=1500 makes that quicker).
# Ctrl-C, TERM or HUP (to this script, or TERM to `make run`, which passes
# it on) stops everything it started. VARDIR (default var/) holds the
# config, the database, the pages, pid files and logs.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP=${APP:-chat}
PORT=${PORT:-8080}
VAR=${VARDIR:-$ROOT/var}
case $VAR in /*) ;; *) VAR=$(pwd)/$VAR ;; esac
WWW=$VAR/www
CONF=$VAR/run/siogate.conf
CLIENT=node_modules/socket.io-client/dist
cd "$ROOT"

say() { echo "run: $*"; }

# What is started is stopped on every way out: INT (Ctrl-C), TERM, HUP
# and errors. The servers run in process groups of their own
# (scripts/webserver.sh), so a signal to this script alone reaches them
# only through this.
stopping="" started="" tailpid="" watchpid=""
cleanup() {
	[ -z "$stopping" ] || return 0
	stopping=1
	trap '' INT TERM HUP
	if [ -n "$watchpid" ]; then
		kill "$watchpid" 2>/dev/null || true
		wait "$watchpid" 2>/dev/null || true
	fi
	[ -n "$started" ] || return 0
	echo
	say "stopping"
	scripts/webserver.sh stop "$VAR"
	if [ -n "$tailpid" ]; then
		kill "$tailpid" 2>/dev/null || true
		wait "$tailpid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Under `make run`: GNU make passes TERM on to this script, but not HUP,
# INT or QUIT sent to make alone; make waits for the script in its
# handler, with that signal blocked. Its blocked-signal mask says so
# (bits 0-2: HUP, INT, QUIT), looked at every second: then this gets HUP,
# again each second until it is stopping (one that lands as the shell
# starts to wait can go unseen).
if [ "$(cat "/proc/$PPID/comm" 2>/dev/null)" = make ]; then
	(
		# The nap is in the foreground, so a TERM from cleanup runs its
		# trap once the nap is over and no sleep outlives the watcher.
		parent=$PPID
		trap 'exit 0' TERM
		while blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$parent/status" 2>/dev/null) &&
			[ -n "$blk" ]; do
			((16#$blk & 7)) && kill -HUP $$
			sleep 1
		done
	) &
	watchpid=$!
fi

say "dependencies (scripts/deps.sh run)"
scripts/deps.sh run

say "building"
make --no-print-directory
for b in build/sio-gateway build/sio-wsd; do
	[ -x $b ] || {
		echo "run: $b was not built" >&2
		exit 1
	}
done

# socket.io-client 0.9.16 from npm, which the gateway serves (client_dir).
if [ ! -f $CLIENT/socket.io.js ]; then
	say "fetching socket.io-client from npm"
	if [ -f package-lock.json ]; then
		npm ci --no-audit --no-fund
	elif [ -f package.json ]; then
		npm install --no-audit --no-fund
	fi
	[ -f $CLIENT/socket.io.js ] ||
		npm install --no-save --no-audit --no-fund socket.io-client@0.9.16
fi
make --no-print-directory build/client/.stamp

# A running instance from an earlier run with the same var/ goes first.
scripts/webserver.sh stop "$VAR"

mkdir -p "$VAR/run" "$WWW"
cat >"$CONF" <<EOF
# written by scripts/run.sh (make run); see siogate.conf.example
database = $VAR/siogate.db
run_dir = $VAR/run
client_dir = $ROOT/build/client
# flashsocket is off by default (as in socket.io 0.9); the demo has it
transports = websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling
EOF
if [ -f "examples/$APP/app.php" ]; then
	# A PHP application (app = bridge) served by lighttpd with php-cgi:
	# the script and its config.php in the document root, a new secret
	# beside the configuration, outside it.
	[ -x /usr/bin/php-cgi ] || {
		echo "run: examples/$APP is PHP: install php-cgi (scripts/deps.sh test)" >&2
		exit 1
	}
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$secret" >"$VAR/run/bridge-secret"
	cp "examples/$APP/app.php" "$WWW/app.php"
	cat >"$WWW/config.php" <<EOF
<?php
return ['siogate_php' => '$ROOT/ctl/siogate.php',
    'secret_file' => '$VAR/run/bridge-secret'];
EOF
	cat >>"$CONF" <<EOF
app = bridge
bridge_url = http://127.0.0.1:$PORT/app.php
bridge_secret = $secret
bridge_data = name room
EOF
else
	echo "app = $APP" >>"$CONF"
fi
if [ -f "examples/$APP/index.html" ]; then
	cp "examples/$APP/index.html" "$WWW/index.html"
elif [ -f "examples/${APP%-php}/index.html" ]; then
	# a PHP example's page is its C twin's (chat-php: chat)
	cp "examples/${APP%-php}/index.html" "$WWW/index.html"
else
	cat >"$WWW/index.html" <<EOF
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>siogate: $APP</title></head>
<body>
<h1>siogate: $APP</h1>
<p>Status: <span id="status">connecting</span>,
transport: <span id="transport">-</span></p>
<ul id="log"></ul>
<script src="/socket.io/socket.io.js"></script>
<script>
var log = function (t) {
  var li = document.createElement('li');
  li.textContent = t;
  document.getElementById('log').appendChild(li);
};
var socket = io.connect(location.protocol + '//' + location.host,
                       { 'force new connection': true, 'auto connect': false });
window.socket = socket;
var m = /[?&]transports=([^&]*)/.exec(location.search);
if (m) socket.socket.options.transports = decodeURIComponent(m[1]).split(',');
socket.on('connect', function () {
  document.getElementById('status').textContent = 'connected';
  document.getElementById('transport').textContent = socket.socket.transport.name;
  log('connected');
});
socket.on('disconnect', function () {
  document.getElementById('status').textContent = 'disconnected';
});
socket.on('message', function (msg) { log('message: ' + msg); });
socket.socket.connect();
</script>
</body></html>
EOF
fi

started=1
GATEWAY=$ROOT/build/sio-gateway WSD=$ROOT/build/sio-wsd DOCROOT=$WWW \
	SIOGATE_CONF=$CONF WSD_ADDR=$VAR/sio-wsd.sock WSD_FLASH_ADDR=$VAR/sio-wsd-flash.sock \
	scripts/webserver.sh start lighttpd "$PORT" "$VAR"
say "$APP on http://127.0.0.1:$PORT/  (Ctrl-C stops; logs in $VAR/)"
if [ -f "$VAR/wsd.pid" ]; then
	say "websocket: sio-wsd pid $(cat "$VAR/wsd.pid"); without it pages use" \
		"polling: kill \$(cat $VAR/wsd.pid), then load" \
		"http://127.0.0.1:$PORT/?connect_timeout=1500"
fi

# Show the server's and sio-wsd's logs until lighttpd ends or Ctrl-C;
# waiting on a background job lets the trap run at once.
pid=$(cat "$VAR/webserver.pid")
touch "$VAR/lighttpd-error.log" "$VAR/wsd.log"
tail -n 0 --pid="$pid" -f "$VAR/lighttpd-error.log" "$VAR/wsd.log" &
tailpid=$!
wait $tailpid || true
say "lighttpd exited"
