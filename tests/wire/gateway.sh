#!/bin/bash
# gateway.sh: wire scenarios for sio-gateway behind a real web server on a
# loopback port, started by scripts/webserver.sh from deploy/*.conf.in, and
# checked with curl: bytes in, bytes out, one check per thing a client sees.
#
#   tests/wire/gateway.sh SERVER [BUILD_DIR]
#
# SERVER is lighttpd (mod_fastcgi spawning the gateway), nginx or apache
# (mod_proxy_fcgi to `sio-gateway --listen`), or apache-cgi (mod_cgid, one
# gateway process per request), which runs the subset that makes sense for
# CGI: no superseded polls, no htmlfile streams. Every server also gets the
# bad-input run, and nginx and lighttpd the no-sticky-sessions run (two
# gateway processes behind one server, round robin). Synchronisation with
# the gateway goes through the database (the sqlite3 shell), never its log.
# Exits non-zero on any failure; KEEP_TMP=1 keeps the files.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVER=${1:-}
case $SERVER in
lighttpd | nginx | apache | apache-cgi) ;;
*) echo "usage: $0 lighttpd|nginx|apache|apache-cgi [BUILD_DIR]" >&2; exit 2 ;;
esac
BUILD=$(cd "${2:-$ROOT/build}" && pwd) || exit 2
GATEWAY=$BUILD/sio-gateway
[ -x "$GATEWAY" ] || { echo "gateway.sh: $GATEWAY not built" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "gateway.sh: sqlite3 missing (scripts/deps.sh)" >&2; exit 2; }
WEBSERVER=$ROOT/scripts/webserver.sh
FULL=1
[ "$SERVER" != apache-cgi ] || FULL=0
T0=$SECONDS

TMP=$(mktemp -d "/tmp/sio-wire-$SERVER.XXXXXX")
# As root, Apache's workers and CGI processes (www-data) pass through here.
chmod 755 "$TMP"
VAR=$TMP/srv   # the web server's files, the config and the database
RR=$TMP/rr     # the no-sticky-sessions run
RR_GW=""       # pids of its two gateways
mkdir -p "$VAR"

stop_pid() { # pid: TERM, then KILL after 5 s
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null
}
cleanup() {
	"$WEBSERVER" stop "$RR" >/dev/null 2>&1
	for p in $RR_GW; do stop_pid "$p"; done
	"$WEBSERVER" stop "$VAR" >/dev/null 2>&1
	wait 2>/dev/null
	if [ "${KEEP_TMP:-}" = "" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# The test settings, for the main run and the round-robin run.
write_conf() { # dir
	node "$ROOT/tests/lib/servers.mjs" conf "$1/siogate.conf" \
		"written by tests/wire/gateway.sh" \
		"database=$1/siogate.db" "run_dir=$1/run" app=testapp \
		polling_duration=2 close_timeout=10 heartbeat_interval=1 \
		log_level=debug threads=16 "client_dir=$BUILD/client"
}
write_conf "$VAR"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT/socket.io/1
if ! GATEWAY=$GATEWAY "$WEBSERVER" start "$SERVER" "$PORT" "$VAR" >"$TMP/start.out" 2>&1; then
	cat "$TMP/start.out" >&2
	echo "gateway.sh: $SERVER did not start" >&2
	exit 1
fi

FAILS=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1: $2"; FAILS=$((FAILS + 1)); }
# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1" "expected [$2], got [$3]"; fi
}
# check_re NAME REGEX ACTUAL
check_re() {
	if [[ "$3" =~ $2 ]]; then pass "$1"; else
		fail "$1" "[$3] does not match /$2/"; fi
}

# GET/POST helpers: body to stdout, headers to $TMP/h.
get() { curl -s -D "$TMP/h" "$@"; }
post() { local url=$1; shift; curl -s -D "$TMP/h" --data-binary "$@" "$url"; }
header() { tr -d '\r' <"$TMP/h" | sed -n "s/^$1: //Ip" | head -1; }
status() { tr -d "\r" <"$TMP/h" | grep "^HTTP/" | tail -1 | cut -d" " -f2; }
handshake() { curl -s "${1:-$BASE}/?t=1" | cut -d: -f1; }
# A session past its first GET (`1::`).
session() { local s; s=$(handshake); curl -s "$BASE/xhr-polling/$s" >/dev/null; echo "$s"; }

# sql DB QUERY: the sqlite3 shell, as the owner of the database (under
# apache-cgi that is www-data: a root-owned -shm would lock it out).
sql() {
	local uid gid
	[ -f "$1" ] || return 0
	uid=$(stat -c %u "$1") gid=$(stat -c %g "$1")
	if [ "$(id -u)" = 0 ] && [ "$uid" != 0 ]; then
		setpriv --reuid="$uid" --regid="$gid" --clear-groups \
			sqlite3 -cmd '.timeout 5000' "$1" "$2"
	else
		sqlite3 -cmd '.timeout 5000' "$1" "$2"
	fi
}
# await_holder SID [DB]: waits (up to 5 s) until a request holds SID's
# transport, which is how a test knows a GET is waiting; prints the holder.
await_holder() {
	local h
	for _ in $(seq 100); do
		h=$(sql "${2:-$VAR/siogate.db}" "SELECT holder FROM sessions WHERE sid='$1' AND holder IS NOT NULL")
		[ -n "$h" ] && { echo "$h"; return 0; }
		sleep 0.05
	done
	return 1
}
# The log of the gateway(s) of the main run, for failures.
gateway_logs() {
	cat "$VAR"/*error*.log "$VAR"/webserver.out "$VAR"/gateway.log 2>/dev/null | tail -n 60
}

echo "# $SERVER on 127.0.0.1:$PORT ($(tail -n 1 "$TMP/start.out"))"

# --- handshake ------------------------------------------------------------
hs=$(get "$BASE/?t=1")
# socket.io 0.9's default transports: no flashsocket unless listed
check_re "handshake answers sid:60:10:transports (flashsocket off by default)" \
	'^[A-Za-z0-9_-]{22}:60:10:websocket,htmlfile,xhr-polling,jsonp-polling$' "$hs"
check "handshake is 200 text/plain" "200 text/plain; charset=UTF-8" "$(status) $(header Content-Type)"

body=$(get "$BASE/?t=1&jsonp=3")
check_re "jsonp handshake answers io.j[3](\"...\");" \
	'^io\.j\[3\]\("[A-Za-z0-9_-]{22}:60:10:[a-z,-]+"\);$' "$body"
# lighttpd 1.4.69 rewrites application/javascript to text/javascript (RFC 9239).
check_re "jsonp handshake is JavaScript" '^(application|text)/javascript' "$(header Content-Type)"

get -H 'Origin: http://example.com:8080' "$BASE/?t=1" >/dev/null
check "handshake echoes the Origin for CORS" "http://example.com:8080 true" \
	"$(header Access-Control-Allow-Origin) $(header Access-Control-Allow-Credentials)"
if [ $FULL = 1 ]; then
	get -X OPTIONS -H 'Origin: http://example.com' "$BASE/" >/dev/null
	check "OPTIONS answers 200 with CORS" "200 http://example.com" \
		"$(status) $(header Access-Control-Allow-Origin)"
fi

body=$(get "http://127.0.0.1:$PORT/socket.io/2/")
check "another protocol answers 500" "500 Protocol version not supported." "$(status) $body"
get "http://127.0.0.1:$PORT/socket.io/1/nope/a/b/c" >/dev/null
check "an unknown route answers 404" "404" "$(status)"
body=$(get "http://127.0.0.1:$PORT/socket.io/health")
check "the health check answers 200 ok" "200 ok" "$(status) $body"

# --- socket.io-client's files -----------------------------------------------
# What socket.io 0.9 serves under the resource (its static.js), from
# client_dir: the type, a strong ETag and 304, the build's gzip copy when
# the client takes gzip, HEAD, the versioned name cacheable for good.
SIO=http://127.0.0.1:$PORT/socket.io
CDIR=$BUILD/client
# the body to $TMP/b, headers to $TMP/h
fetch() { rm -f "$TMP/b"; curl -s -D "$TMP/h" -o "$TMP/b" "$@"; touch "$TMP/b"; }
same() { cmp -s "$TMP/b" "$1" && echo same || echo "differs ($(wc -c <"$TMP/b") bytes)"; }
fetch "$SIO/socket.io.js"
etag=$(header ETag)
# lighttpd 1.4.69 rewrites application/javascript to text/javascript (RFC 9239).
check_re "socket.io.js is JavaScript" '^200 (application|text)/javascript(; charset=utf-8)?$' "$(status) $(header Content-Type)"
check "socket.io.js is socket.io-client's file" same "$(same "$CDIR/socket.io.js")"
check_re "socket.io.js has a strong ETag and varies on Accept-Encoding" \
	'^"[0-9a-f]{16}" Accept-Encoding$' "$etag $(header Vary)"
fetch -H "If-None-Match: $etag" "$SIO/socket.io.js"
check "If-None-Match with its ETag answers 304, no body" "304 0 $etag" \
	"$(status) $(wc -c <"$TMP/b") $(header ETag)"
fetch -H 'If-None-Match: "0000000000000000"' "$SIO/socket.io.js"
check "another ETag gets the file" "200 same" "$(status) $(same "$CDIR/socket.io.js")"
fetch -H 'Accept-Encoding: gzip, deflate' "$SIO/socket.io.js"
gzetag=$(header ETag)
gzip -dc <"$TMP/b" >"$TMP/gunzipped" 2>/dev/null
check "with Accept-Encoding: gzip the body is gzip of the file" "200 gzip same" \
	"$(status) $(header Content-Encoding) $(cmp -s "$TMP/gunzipped" "$CDIR/socket.io.js" && echo same)"
echo "#   socket.io.js: $(stat -c %s "$CDIR/socket.io.js") bytes, gzip $(wc -c <"$TMP/b") bytes ($(( $(wc -c <"$TMP/b") * 100 / $(stat -c %s "$CDIR/socket.io.js") ))%)"
check_re "the gzip copy has an ETag of its own" '^"[0-9a-f]{16}"$' "$([ "$gzetag" != "$etag" ] && echo "$gzetag")"
fetch -H 'Accept-Encoding: gzip' -H "If-None-Match: $gzetag" "$SIO/socket.io.js"
check "and 304 on it" "304 0" "$(status) $(wc -c <"$TMP/b")"
fetch -H 'Accept-Encoding: gzip;q=0' "$SIO/socket.io.js"
check "gzip;q=0 gets the plain file" "200 same" "$(status) $(header Content-Encoding)$(same "$CDIR/socket.io.js")"
curl -s -I -o /dev/null -D "$TMP/h" "$SIO/socket.io.js"
# Apache drops a backend's Content-Length (as for polls, below).
case $SERVER in apache*) hlen=$(stat -c %s "$CDIR/socket.io.js") ;; *) hlen=$(header Content-Length) ;; esac
check "HEAD answers the headers of GET" "200 $etag $(stat -c %s "$CDIR/socket.io.js")" \
	"$(status) $(header ETag) $hlen"
fetch "$SIO/socket.io.min.js"
check "socket.io.min.js is served" "200 same" "$(status) $(same "$CDIR/socket.io.min.js")"
for v in 0.9.16 0.9.0; do
	fetch "$SIO/socket.io.v$v.js"
	# socket.io 0.9 answers any version with its own client, for ten years
	check "socket.io.v$v.js is the client, cached for good (as socket.io 0.9)" \
		"200 same private, x-gzip-ok=\"\", max-age=315360000" \
		"$(status) $(same "$CDIR/socket.io.js") $(header Cache-Control)"
done
for f in WebSocketMain.swf WebSocketMainInsecure.swf; do
	fetch -H 'Accept-Encoding: gzip' "$SIO/static/flashsocket/$f"
	check "$f is Flash, not compressed again" "200 application/x-shockwave-flash  same" \
		"$(status) $(header Content-Type) $(header Content-Encoding) $(same "$CDIR/$f")"
	echo "#   $f: $(wc -c <"$TMP/b") bytes"
done
fetch "$SIO/socket.io+websocket.js"
check "a custom build (socket.io+websocket.js) answers 404" "404" "$(status)"
fetch "$SIO/static/x.swf"
check "another file answers 500 (as socket.io 0.9)" "500 Protocol version not supported." \
	"$(status) $(cat "$TMP/b")"
fetch -X POST -d x "$SIO/socket.io.js"
check "POST answers 405" "405" "$(status)"
# The answer must not depend on whether the body was read before the
# gateway ended (a CGI's socket closed with input unread is reset under
# mod_cgid, and Apache loses the answer, or answers after its timeout): 20
# in a row, none left waiting for 4 s.
got=""
for _ in $(seq 20); do
	got="$got$(curl -s -o /dev/null -m 4 -w ' %{http_code}' -X POST -d x "$SIO/socket.io.js")"
done
check "20 POSTs with a body, each answered 405 at once" \
	"$(printf ' 405%.0s' $(seq 20))" "$got"

# --- xhr-polling ------------------------------------------------------------
sid=$(handshake)
body=$(get "$BASE/xhr-polling/$sid?t=1")
check "first xhr GET answers 1::" "1::" "$body"
# Apache drops a backend's (and a CGI's) Content-Length: it sends chunks,
# or, when it closes the connection after the answer (no keep-alive while
# its workers are busy), ends the body with the close.
case $SERVER in apache*) BYTES=apache ;; *) BYTES= ;; esac
length() { # the Content-Length, or "apache" for Apache's own framing
	if [ -n "$BYTES" ]; then
		[ -z "$(header Content-Length)" ] &&
			{ [ "$(header Transfer-Encoding)" = chunked ] ||
				[ "$(header Connection)" = close ]; } &&
			echo apache
	else header Content-Length; fi
}
check "xhr GET is text/plain UTF-8 with a byte length" "text/plain; charset=UTF-8 ${BYTES:-3}" \
	"$(header Content-Type) $(length)"

body=$(post "$BASE/xhr-polling/$sid?t=2" '5:1+::{"name":"echo","args":["😀"]}')
check "POST of an event answers 1" "200 1" "$(status) $body"
body=$(get "$BASE/xhr-polling/$sid?t=3")
check "next GET carries the ack with non-BMP text" '6:::1+["😀"]' "$body"
check "Content-Length counts bytes" "${BYTES:-$(printf '%s' '6:::1+["😀"]' | wc -c)}" "$(length)"

# Two packets framed with UTF-16 lengths; the answer is framed likewise.
frame() { python3 -c 'import sys
out = ""
for p in sys.argv[1:]:
    out += "\ufffd%d\ufffd%s" % (len(p.encode("utf-16-le")) // 2, p)
sys.stdout.write(out)' "$@"; }
# unframe: a payload on stdin, one packet a line out.
unframe() { python3 -c 'import sys
s = sys.stdin.buffer.read().decode("utf-8")
if not s.startswith("\ufffd"):
    print(s)
    sys.exit(0)
u = s.encode("utf-16-le")
i = 0
while i < len(u):
    j = u.index("\ufffd".encode("utf-16-le"), i + 2)
    n = int(u[i + 2:j].decode("utf-16-le"))
    print(u[j + 2:j + 2 + 2 * n].decode("utf-16-le"))
    i = j + 2 + 2 * n'; }
body=$(post "$BASE/xhr-polling/$sid" "$(frame '5:2+::{"name":"echo","args":["a😀"]}' '3:::hi')")
check "POST of a framed payload answers 1" "1" "$body"
body=$(get "$BASE/xhr-polling/$sid")
check "GET returns a framed batch with UTF-16 lengths" "$(frame '6:::2+["a😀"]' '3:::hi')" "$body"

start=$(date +%s%N)
body=$(get "$BASE/xhr-polling/$sid")
ms=$((($(date +%s%N) - start) / 1000000))
check "an idle GET answers 8::" "8::" "$body"
if [ "$ms" -ge 1500 ] && [ "$ms" -le 4500 ]; then pass "the idle GET waits the polling duration (${ms} ms)"
else fail "the idle GET waits the polling duration" "${ms} ms"; fi

# A waiting GET is answered as soon as a POST queues something.
curl -s "$BASE/xhr-polling/$sid" >"$TMP/held" &
held=$!
await_holder "$sid" >/dev/null || fail "the held GET attaches" "no holder in the sessions table"
start=$(date +%s%N)
post "$BASE/xhr-polling/$sid" '3:::wake' >/dev/null
wait $held
ms=$((($(date +%s%N) - start) / 1000000))
check "a held GET delivers what a POST queued" "3:::wake" "$(cat "$TMP/held")"
if [ "$ms" -le 1500 ]; then pass "at once (${ms} ms)"; else fail "a held GET is woken at once" "${ms} ms"; fi

body=$(get "$BASE/xhr-polling/AAAAAAAAAAAAAAAAAAAAAA")
check "GET on an unknown sid answers 7:::1+0" "200 7:::1+0" "$(status) $body"
body=$(post "$BASE/xhr-polling/AAAAAAAAAAAAAAAAAAAAAA" '3:::x')
check "POST on an unknown sid answers 1" "200 1" "$(status) $body"

if [ $FULL = 1 ]; then
	# A newer GET supersedes a waiting one, which is answered 8:: at once.
	ssid=$(session)
	curl -s "$BASE/xhr-polling/$ssid" >"$TMP/older" &
	older=$!
	await_holder "$ssid" >/dev/null || fail "older GET attaches" "no holder in the sessions table"
	curl -s "$BASE/xhr-polling/$ssid" >"$TMP/newer" &
	newer=$!
	wait $older
	if kill -0 $newer 2>/dev/null; then newer_open=yes; else newer_open=no; fi
	check "a superseded GET answers 8:: while the newer one waits" "8:: yes" "$(cat "$TMP/older") $newer_open"
	await_holder "$ssid" >/dev/null
	post "$BASE/xhr-polling/$ssid" '3:::after' >/dev/null
	wait $newer
	body=$(cat "$TMP/newer")
	[ "$body" = "8::" ] && body=$(curl -s "$BASE/xhr-polling/$ssid")
	check "the newer GET gets what follows" "3:::after" "$body"
fi

# --- jsonp-polling ----------------------------------------------------------
jsid=$(handshake)
body=$(get "$BASE/jsonp-polling/$jsid?t=1&i=4")
check "first jsonp GET answers io.j[4](\"1::\");" 'io.j[4]("1::");' "$body"
check "jsonp GET is text/javascript" "text/javascript; charset=UTF-8" "$(header Content-Type)"
# d = JSON string of the payload, form-encoded: ' ' as '+', '+' as %2B.
form=$(python3 -c 'import json, urllib.parse, sys
print("d=" + urllib.parse.quote_plus(json.dumps(sys.argv[1])), end="")' '5:1+::{"name":"echo","args":["a b+c 😀"]}')
body=$(post "$BASE/jsonp-polling/$jsid?t=2&i=4" "$form")
check "jsonp POST of d=... answers 1" "200 1" "$(status) $body"
body=$(get "$BASE/jsonp-polling/$jsid?t=3&i=4")
check "jsonp GET carries the escaped ack" 'io.j[4]("6:::1+[\"a b+c 😀\"]");' "$body"
get "$BASE/jsonp-polling/$jsid?i=1x" >/dev/null
check "a jsonp index that is not digits answers 400" "400" "$(status)"

# --- htmlfile -----------------------------------------------------------------
if [ $FULL = 1 ]; then
	hsid=$(handshake)
	curl -s --max-time 2 "$BASE/htmlfile/$hsid" >"$TMP/html"
	prelude='<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>'
	check "htmlfile starts with the 256-byte prelude" "$prelude" "$(head -c ${#prelude} "$TMP/html")"
	check "htmlfile sends 1:: as a script chunk" '<script>_("1::");</script>' \
		"$(tail -c +257 "$TMP/html" | head -c 26)"

	# A packet queued while the htmlfile stream is open arrives as a
	# second chunk before the response ends, with </script> escaped.
	hsid=$(session)
	curl -s -N --max-time 10 "$BASE/htmlfile/$hsid" >"$TMP/html2" &
	stream=$!
	await_holder "$hsid" >/dev/null || fail "htmlfile attaches" "no holder in the sessions table"
	post "$BASE/xhr-polling/$hsid" '3:::</script>' >/dev/null
	chunk='<script>_("3:::\u003c\/script>");</script>'
	# await_chunk TEXT: waits (up to 5 s) for TEXT in the stream so far.
	await_chunk() {
		for _ in $(seq 100); do grep -qF "$1" "$TMP/html2" && return 0; sleep 0.05; done
		return 1
	}
	await_chunk "$chunk"
	if grep -qF "$chunk" "$TMP/html2" && kill -0 $stream 2>/dev/null; then
		pass "htmlfile streams a later packet with </script> escaped"
	else fail "htmlfile streams a later packet with </script> escaped" "$(tail -c +257 "$TMP/html2")"; fi
	if await_chunk '<script>_("2::");</script>'; then pass "htmlfile sends 2:: every heartbeat interval"
	else fail "htmlfile sends 2:: every heartbeat interval" "$(tail -c +257 "$TMP/html2")"; fi
	post "$BASE/xhr-polling/$hsid" '0::' >/dev/null
	wait $stream
	rc=$?
	if [ $rc = 0 ] && grep -qF '<script>_("0::");</script>' "$TMP/html2"; then
		pass "htmlfile ends with 0:: when the session ends"
	else fail "htmlfile ends with 0:: when the session ends" "curl rc $rc: $(tail -c 80 "$TMP/html2")"; fi

	# Plain CGI without a web server, with an origins setting.
	mkdir -p "$TMP/cgi"
	cat >"$TMP/cgi.conf" <<-EOF
		database = $TMP/cgi/siogate.db
		run_dir = $TMP/cgi/run
		origins = example.com:80
	EOF
	cgi() { env -i SIOGATE_CONF="$TMP/cgi.conf" REQUEST_METHOD=GET REMOTE_ADDR=127.0.0.1 "$@" "$GATEWAY" </dev/null 2>>"$TMP/cgi.log" | tr -d '\r'; }
	out=$(cgi REQUEST_URI=/socket.io/1/ HTTP_ORIGIN=http://example.com)
	check_re "CGI handshake from an allowed origin" $'^Status: 200 OK\n.*\n\n[A-Za-z0-9_-]{22}:60:60:' "$out"
	out=$(cgi REQUEST_URI=/socket.io/1/ HTTP_ORIGIN=http://evil.example:80)
	check_re "handshake from another origin answers 403 bad origin" $'^Status: 403 Forbidden\n(.*\n)*\nhandshake bad origin$' "$out"
	if [[ "$out" == *Access-Control* ]]; then fail "a bad-origin 403 has no CORS headers" "$out"; else pass "a bad-origin 403 has no CORS headers"; fi
	csid=$(cgi REQUEST_URI=/socket.io/1/ HTTP_REFERER=http://example.com/page | tail -1 | cut -d: -f1)
	out=$(cgi REQUEST_URI="/socket.io/1/xhr-polling/$csid")
	check "CGI: the first GET answers 1::" "1::" "$(printf '%s' "$out" | tail -1)"
	# bind_address: the session answers only its handshake's address
	printf 'bind_address = yes\n' >>"$TMP/cgi.conf"
	bsid=$(cgi REQUEST_URI=/socket.io/1/ HTTP_ORIGIN=http://example.com | tail -1 | cut -d: -f1)
	out=$(cgi REQUEST_URI="/socket.io/1/xhr-polling/$bsid" REMOTE_ADDR=10.9.9.9)
	check "bind_address: a GET from another address answers 7:::1+0" "7:::1+0" "$(printf '%s' "$out" | tail -1)"
	out=$(cgi REQUEST_URI="/socket.io/1/xhr-polling/$bsid")
	check "bind_address: the handshake's address is served" "1::" "$(printf '%s' "$out" | tail -1)"
fi

# --- ?disconnect ----------------------------------------------------------------
# As the client's sync form and on a transport URL. A session its client
# ended answers every later request as an unknown one (socket.io 0.9).
dsid=$(session)
body=$(get "$BASE//$dsid/?disconnect=1")
check "/1//sid/?disconnect=1 answers 200 empty" "200 " "$(status) $body"
body=$(curl -s "$BASE/xhr-polling/$dsid")
check "a disconnected session answers 7:::1+0" "7:::1+0" "$body"
dsid=$(session)
get "$BASE/xhr-polling/$dsid?disconnect" >/dev/null
body=$(curl -s "$BASE/xhr-polling/$dsid")
check "?disconnect on a transport URL ends the session: 7:::1+0" "7:::1+0" "$body"

# --- a session its client ended -------------------------------------------------
# What an unknown sid gets, request by request: status, type, body.
seen() { printf '%s|%s|%s' "$(status)" "$(header Content-Type)" "$1"; }
UNKNOWN=AAAAAAAAAAAAAAAAAAAAAA
# ended_like_unknown NAME SID: each transport's GET and POST on SID are
# answered exactly as on an unknown sid.
ended_like_unknown() {
	local u e
	u=$(seen "$(get "$BASE/xhr-polling/$UNKNOWN")")
	e=$(seen "$(get "$BASE/xhr-polling/$2")")
	check "$1: an xhr GET is answered as an unknown sid's (7:::1+0)" "$u" "$e"
	u=$(seen "$(get "$BASE/jsonp-polling/$UNKNOWN?i=2")")
	e=$(seen "$(get "$BASE/jsonp-polling/$2?i=2")")
	check "$1: a jsonp GET is answered as an unknown sid's" "$u" "$e"
	u=$(seen "$(post "$BASE/xhr-polling/$UNKNOWN" '3:::late')")
	e=$(seen "$(post "$BASE/xhr-polling/$2" '3:::late')")
	check "$1: a POST is answered as an unknown sid's" "$u" "$e"
	if [ $FULL = 1 ]; then
		u=$(seen "$(get --max-time 5 "$BASE/htmlfile/$UNKNOWN" | tail -c +257)")
		e=$(seen "$(get --max-time 5 "$BASE/htmlfile/$2" | tail -c +257)")
		check "$1: an htmlfile GET is answered as an unknown sid's" "$u" "$e"
	fi
}
# 0:: POSTed while no poll waits: nothing is kept for the session.
esid=$(session)
body=$(post "$BASE/xhr-polling/$esid" '0::')
check "the client's 0:: POST answers 1" "200 1" "$(status) $body"
ended_like_unknown "after the client's 0::" "$esid"
check "after the client's 0::: nothing queued for it" "0" \
	"$(sql "$VAR/siogate.db" "SELECT count(*) FROM outbox WHERE sid='$esid'")"
# The sync-disconnect GET, then a poll of each kind.
esid=$(session)
get "$BASE//$esid/?disconnect=1" >/dev/null
ended_like_unknown "after ?disconnect" "$esid"
# 0:: POSTed while a poll waits: that poll gets the 0::, the next 7:::1+0.
if [ $FULL = 1 ]; then
	esid=$(session)
	curl -s "$BASE/xhr-polling/$esid" >"$TMP/held" &
	held=$!
	await_holder "$esid" >/dev/null || fail "the held GET attaches" "no holder in the sessions table"
	post "$BASE/xhr-polling/$esid" '0::' >/dev/null
	wait $held
	check "the poll waiting when the client ended its session gets 0::" "0::" "$(cat "$TMP/held")"
	ended_like_unknown "after the client's 0:: to a waiting poll" "$esid"
fi
# The server ending a session (the app's kick) keeps its 0:: for the
# client's next poll, then the session is gone.
ksid=$(session)
post "$BASE/xhr-polling/$ksid" '5:::{"name":"kick"}' >/dev/null
body=$(curl -s "$BASE/xhr-polling/$ksid")
check "a session the server ended gives its 0:: to the next poll" "0::" "$body"
body=$(curl -s "$BASE/xhr-polling/$ksid")
check "and then 7:::1+0" "7:::1+0" "$body"

# --- 1:: once a session ---------------------------------------------------------
# Another transport attaching to a connected session gets no 1::: it waits,
# and what the application answers goes out in it.
osid=$(session)
curl -s "$BASE/jsonp-polling/$osid?i=3" >"$TMP/held" &
held=$!
await_holder "$osid" >/dev/null || fail "a jsonp GET on a connected session waits" "no holder"
post "$BASE/xhr-polling/$osid" '5:5+::{"name":"echo","args":["x"]}' >/dev/null
wait $held
check "a jsonp poll attaching to a connected session gets no 1::, the ack instead" \
	'io.j[3]("6:::5+[\"x\"]");' "$(cat "$TMP/held")"
body=$(curl -s "$BASE/xhr-polling/$osid")
check "back on xhr-polling: no 1:: either, the idle poll ends 8::" "8::" "$body"
if [ $FULL = 1 ]; then
	body=$(curl -s --max-time 2 "$BASE/htmlfile/$osid" | tail -c +257)
	if [[ "$body" == *'_("1::")'* ]]; then
		fail "an htmlfile stream on a connected session sends no 1::" "$body"
	else pass "an htmlfile stream on a connected session sends no 1::"; fi
fi

# --- bad input ------------------------------------------------------------------
# Each gets a defined response; a session opened before them and a fresh one
# after them are served in full.
bsid=$(session)
xsid=$(session)
# A name for what the server answered: status and body, newlines as '|'.
answer() { printf '%s %s' "$(status)" "$(printf '%s' "$1" | tr '\n' '|' | head -c 60)"; }

body=$(post "$BASE/xhr-polling/$xsid" $'\xef\xbf\xbd9\xef\xbf\xbd3:::x')
check "a frame longer than the payload answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/xhr-polling/$xsid" $'\xef\xbf\xbdx1\xef\xbf\xbd3:::x')
check "a frame with a bad length answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/xhr-polling/$xsid" $'\xef\xbf\xbd3\xef\xbf\xbd2::\xef\xbf\xbd')
check "a truncated second frame answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/xhr-polling/$xsid" '' -H 'Content-Type: text/plain')
check "an empty POST answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/xhr-polling/$xsid" 'not a packet')
check "a POST that is no packet answers 200 1 (ignored)" "200 1" "$(answer "$body")"
# Packets over max_payload_packets (512).
python3 -c 'import sys; sys.stdout.write("\ufffd3\ufffd2::" * 600)' >"$TMP/many"
body=$(post "$BASE/xhr-polling/$xsid" @"$TMP/many")
check "a payload over max_payload_packets answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/jsonp-polling/$xsid?i=1" 'd=%22unterminated')
check "a jsonp form that is not a JSON string answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/jsonp-polling/$xsid?i=1" 'x=1')
check "a jsonp form without d= answers 400" "400 malformed payload" "$(answer "$body")"

head -c 5000000 /dev/zero | tr '\0' a >"$TMP/big"
body=$(post "$BASE/xhr-polling/$xsid" @"$TMP/big")
if [ "$SERVER" = apache ]; then
	# The gateway reads no further than max_payload and closes: when that
	# happens before mod_proxy_fcgi has sent the whole body (which depends
	# on the moment), Apache gives up on its write and answers 503 itself.
	check_re "a body over max_payload answers 413 (or Apache's 503): $(status)" \
		'^(413|503)$' "$(status)"
else
	check "a body over max_payload answers 413" "413" "$(status)"
fi
body=$(post "$BASE/xhr-polling/$xsid" $'3:::\xff\xfe bad')
check "invalid UTF-8 in a POST answers 400" "400 malformed payload" "$(answer "$body")"
body=$(post "$BASE/xhr-polling/$xsid" "$(printf '\xef\xbf\xbd5\xef\xbf\xbd3:::\xc3')")
check "invalid UTF-8 inside a frame answers 400" "400 malformed payload" "$(answer "$body")"
form=$(python3 -c 'import urllib.parse; print("d=" + urllib.parse.quote("\"3:::\\udc00\""), end="")')
body=$(post "$BASE/jsonp-polling/$xsid?i=1" "$form")
check_re "a lone surrogate in a jsonp POST is refused or dropped" '^(400 malformed payload|200 1)$' "$(answer "$body")"

get "http://127.0.0.1:$PORT/socket.io/" >/dev/null
check "/socket.io/ with no protocol answers 404" "404" "$(status)"
get "$BASE/xhr-polling/$xsid/extra/segments" >/dev/null
check "a transport URL with more segments answers 404" "404" "$(status)"
get "$BASE/carrier-pigeon/$xsid" >/dev/null
check "an unknown transport answers 404" "404" "$(status)"
get "http://127.0.0.1:$PORT/no/such/page" >/dev/null
check "a path outside the resource answers 404" "404" "$(status)"
for m in PUT DELETE PATCH; do
	body=$(get -X "$m" --data-binary '3:::x' "$BASE/xhr-polling/$xsid")
	check "$m on a transport URL answers 405" "405 method not allowed" "$(answer "$body")"
done
get -X DELETE "$BASE/?t=1" >/dev/null
check_re "DELETE on the handshake URL is answered" '^(200|405)$' "$(status)"

long=$(head -c 400 /dev/zero | tr '\0' A)
body=$(get "$BASE/xhr-polling/$long")
check "an over-long sid answers 404" "404" "$(status)"
body=$(post "$BASE/xhr-polling/$long" '3:::x')
check "POST to an over-long sid answers 404" "404" "$(status)"
odd="%27%22%3B%3C%3E%25x~"  # 20 bytes: sids over 22 are 404
body=$(get "$BASE/xhr-polling/$odd")
check "a sid with odd characters is an unknown session" "200 7:::1+0" "$(answer "$body")"
body=$(post "$BASE/xhr-polling/$odd" '3:::x')
check "POST to a sid with odd characters answers 1" "200 1" "$(answer "$body")"
body=$(get "$BASE/xhr-polling/x'y;z(1)")
check "a sid with quotes and parentheses is an unknown session" "200 7:::1+0" "$(answer "$body")"
body=$(get "$BASE//$odd/?disconnect=1")
check "?disconnect of an odd sid answers 200" "200 " "$(answer "$body")"
# NUL and an encoded slash: the web server may refuse them first
# (lighttpd 400, Apache 404; nginx decodes %2F and the gateway finds too
# many segments, 404).
body=$(get "$BASE/xhr-polling/a%00b")
check_re "a sid with a NUL is refused or an unknown session" '^(400 .*|404 .*|200 7:::1\+0)$' "$(answer "$body")"
body=$(get "$BASE/xhr-polling/a%2F..%2Fb")
check_re "a sid with an encoded slash is refused or an unknown session" '^(400 .*|404 .*|200 7:::1\+0)$' "$(answer "$body")"
huge=$(head -c 5000 /dev/zero | tr '\0' 9)
get "$BASE/jsonp-polling/$xsid?i=$huge" >/dev/null
check "a huge jsonp index answers 400" "400" "$(status)"
get "$BASE/jsonp-polling/$xsid?i=99999999999999999999999999999999999999999999" >/dev/null
check "a jsonp index over its digits limit answers 400" "400" "$(status)"
body=$(get "$BASE/?t=1&jsonp=$huge")
check "a huge handshake jsonp index answers 400, as a poll's" "400 bad jsonp index" "$(status) $body"

# Everyone else is still served: the session opened before, and a fresh one.
body=$(post "$BASE/xhr-polling/$bsid" '5:7+::{"name":"echo","args":["still here"]}')
check "after the bad input: POST to an older session answers 1" "200 1" "$(answer "$body")"
body=$(get "$BASE/xhr-polling/$bsid")
check "after the bad input: the older session gets its ack" '6:::7+["still here"]' "$body"
fsid=$(handshake)
check_re "after the bad input: a handshake" '^[A-Za-z0-9_-]{22}$' "$fsid"
body=$(get "$BASE/xhr-polling/$fsid")
check "after the bad input: the first GET answers 1::" "1::" "$body"
body=$(post "$BASE/xhr-polling/$fsid" "$(frame '3:::fresh' '5:1+::{"name":"echo","args":["ok"]}')")
check "after the bad input: a framed POST answers 1" "200 1" "$(answer "$body")"
body=$(get "$BASE/xhr-polling/$fsid")
check "after the bad input: the GET carries both" "$(frame '3:::fresh' '6:::1+["ok"]')" "$body"
curl -s "$BASE/xhr-polling/$fsid" >"$TMP/held" &
held=$!
await_holder "$fsid" >/dev/null || fail "after the bad input: a GET waits" "no holder"
post "$BASE/xhr-polling/$fsid" '3:::woken' >/dev/null
wait $held
check "after the bad input: a held GET is woken by a POST" "3:::woken" "$(cat "$TMP/held")"

# --- no sticky sessions ----------------------------------------------------------
# Two gateway processes (--listen on two UNIX sockets) behind one server,
# round robin; one session's GETs and POSTs go alternately to both.
if [ "$SERVER" = nginx ] || [ "$SERVER" = lighttpd ]; then
	mkdir -p "$RR/run"
	write_conf "$RR"
	for n in 1 2; do
		rm -f "$RR/gw$n.sock"
		setsid "$GATEWAY" -c "$RR/siogate.conf" --listen "$RR/gw$n.sock" \
			</dev/null >>"$RR/gw$n.log" 2>&1 &
		eval "GW$n=$!"
		RR_GW="$RR_GW $!"
	done
	for n in 1 2; do
		for _ in $(seq 100); do [ -S "$RR/gw$n.sock" ] && break; sleep 0.05; done
	done
	# Both on one new database at once: neither may fail to open it. Each
	# says "serving" once it has opened it and registered, or exits.
	n=1
	for p in $RR_GW; do
		for _ in $(seq 400); do
			grep -q 'serving with' "$RR/gw$n.log" 2>/dev/null && break
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		n=$((n + 1))
	done
	# shellcheck disable=SC2086
	check "two gateways: both run on one new database" "2" \
		"$(for p in $RR_GW; do kill -0 "$p" 2>/dev/null && echo; done | wc -l)"
	RPORT=$(free_port)
	RBASE=http://127.0.0.1:$RPORT/socket.io/1
	if ! GATEWAY=$GATEWAY "$WEBSERVER" start "$SERVER" "$RPORT" "$RR" \
		"$RR/gw1.sock,$RR/gw2.sock" >"$TMP/rr-start.out" 2>&1; then
		fail "$SERVER starts in front of two gateways" "$(cat "$TMP/rr-start.out")"
	else
		# shellcheck disable=SC2153 # GW1, GW2 are set by eval above
		declare -A SOCK_OF=(["gw-$GW1"]="$RR/gw1.sock" ["gw-$GW2"]="$RR/gw2.sock")
		rsid=$(handshake "$RBASE")
		body=$(curl -s "$RBASE/xhr-polling/$rsid?t=first")
		check "two gateways: the first GET answers 1::" "1::" "$body"
		: >"$TMP/rr-got"
		holders=""
		for i in $(seq 1 20); do
			# A heartbeat first: three requests a round, so that the
			# GETs fall on each process in turn.
			curl -s --data-binary '2::' "$RBASE/xhr-polling/$rsid?t=hb-$i" >/dev/null
			curl -s "$RBASE/xhr-polling/$rsid?t=get-$i" >"$TMP/rr-get" &
			held=$!
			if h=$(await_holder "$rsid" "$RR/siogate.db"); then
				# gw-<host>-<pid>-<8 hex>: the process, by its pid
				h=${h%-*}
				holders="$holders gw-${h##*-}"
			else
				holders="$holders none"
			fi
			body=$(curl -s --data-binary "3:::message $i" "$RBASE/xhr-polling/$rsid?t=post-$i")
			[ "$body" = 1 ] || fail "two gateways: POST $i answers 1" "[$body]"
			wait $held
			unframe <"$TMP/rr-get" | grep -v '^8::$' >>"$TMP/rr-got"
		done
		# Anything still queued (nothing, when every GET got its echo).
		body=$(curl -s "$RBASE/xhr-polling/$rsid?t=drain")
		printf '%s' "$body" | unframe | grep -v '^8::$' >>"$TMP/rr-got"
		expected=$(for i in $(seq 1 20); do echo "3:::message $i"; done)
		check "two gateways: 20 echoes arrive exactly once and in order" "$expected" "$(cat "$TMP/rr-got")"
		# shellcheck disable=SC2086
		distinct=$(printf '%s\n' $holders | sort -u | tr '\n' ' ')
		check "two gateways: the session was held by both processes in turn" \
			"$(printf '%s\n' "gw-$GW1" "gw-$GW2" | sort | tr '\n' ' ')" "$distinct"
		# shellcheck disable=SC2086
		set -- $holders
		alternate=yes
		for i in $(seq 2 20); do
			prev=$((i - 1))
			[ "${!i}" != "${!prev}" ] || alternate=no
		done
		check "two gateways: consecutive GETs alternate between them" "yes" "$alternate"
		if [ "$SERVER" = nginx ]; then
			# nginx logs the gateway of each request: a POST never goes
			# to the process whose GET is waiting for its echo.
			crossed=0
			for i in $(seq 1 20); do
				g=$(grep -F "t=get-$i " "$RR/nginx-access.log" | sed -n 's/.*upstream=unix:\([^ ]*\).*/\1/p')
				p=$(grep -F "t=post-$i " "$RR/nginx-access.log" | sed -n 's/.*upstream=unix:\([^ ]*\).*/\1/p')
				h=${!i}
				if [ -n "$g" ] && [ -n "$p" ] && [ "$g" != "$p" ] &&
					[ "$g" = "${SOCK_OF[$h]:-}" ]; then
					crossed=$((crossed + 1))
				else
					echo "#   round $i: GET on ${g:-?} (holder $h), POST on ${p:-?}"
				fi
			done
			check "two gateways: each GET held on one process, its POST served by the other" "20" "$crossed"
		else
			# lighttpd logs no backend: round robin puts the POST on the
			# process that does not hold the waiting GET.
			pass "two gateways: lighttpd round robin (holders:$(printf ' %s' "$@" | head -c 60)...)"
		fi
	fi
	"$WEBSERVER" stop "$RR" >/dev/null 2>&1
	for p in $RR_GW; do stop_pid "$p"; done
	RR_GW=""
fi

if [ "$FAILS" -ne 0 ]; then
	echo "gateway.sh: $SERVER: $FAILS check(s) failed ($((SECONDS - T0)) s); files in $TMP" >&2
	KEEP_TMP=1
	gateway_logs >&2
	exit 1
fi
echo "gateway.sh: $SERVER: all checks passed ($((SECONDS - T0)) s)"
