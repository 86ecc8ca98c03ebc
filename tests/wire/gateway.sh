#!/bin/bash
# gateway.sh: wire scenarios for sio-gateway behind Debian's lighttpd
# (mod_fastcgi spawning build/sio-gateway on a loopback port), checked
# with curl: bytes in, bytes out, one check per thing a client sees.
# Usage: tests/wire/gateway.sh [BUILD_DIR]; exits non-zero on any failure.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
GATEWAY=$BUILD/sio-gateway
[ -x "$GATEWAY" ] || { echo "gateway.sh: $GATEWAY not built" >&2; exit 2; }
if ! command -v lighttpd >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y lighttpd >/dev/null ||
		{ echo "gateway.sh: cannot install lighttpd" >&2; exit 2; }
fi
LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)

TMP=$(mktemp -d /tmp/sio-wire.XXXXXX)
LPID=
cleanup() {
	if [ -n "$LPID" ]; then
		kids=$(ps -o pid= --ppid "$LPID" 2>/dev/null)
		kill "$LPID" 2>/dev/null
		wait "$LPID" 2>/dev/null
		# lighttpd TERMs its bin-path children; make sure of it.
		for k in $kids; do kill "$k" 2>/dev/null; done
	fi
	if [ "${KEEP_TMP:-}" = "" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT/socket.io/1
mkdir -p "$TMP/www" "$TMP/run"

cat >"$TMP/siogate.conf" <<EOF
database = $TMP/siogate.db
run_dir = $TMP/run
app = testapp
polling_duration = 2
close_timeout = 10
heartbeat_interval = 1
log_level = debug
threads = 16
EOF

cat >"$TMP/lighttpd.conf" <<EOF
server.modules = ( "mod_fastcgi" )
server.document-root = "$TMP/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$TMP/lighttpd.log"
server.stream-response-body = 2
fastcgi.server = ( "/socket.io/" => ((
	"bin-path" => "$GATEWAY",
	"socket" => "$TMP/run/gw.sock",
	"max-procs" => 1,
	"check-local" => "disable",
	"bin-environment" => ( "SIOGATE_CONF" => "$TMP/siogate.conf" ),
)))
EOF

# The gateway inherits lighttpd's stderr: its log is $TMP/lighttpd.stderr.
"$LIGHTTPD" -D -f "$TMP/lighttpd.conf" 2>"$TMP/lighttpd.stderr" &
LPID=$!

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
handshake() { curl -s "$BASE/?t=1" | cut -d: -f1; }
# A session past its first GET (`1::`).
session() { local s; s=$(handshake); curl -s "$BASE/xhr-polling/$s" >/dev/null; echo "$s"; }

# await_attach SID N: waits (up to 5 s) until the gateway has logged N
# attachments of SID, which is how a test knows a GET is waiting.
await_attach() {
	for _ in $(seq 100); do
		[ "$(grep -cF -e "$1: attached" "$TMP/lighttpd.stderr")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# The first request also waits for lighttpd to listen.
hs=$(curl -s --retry 20 --retry-connrefused --retry-delay 1 -D "$TMP/h" "$BASE/?t=1")
if ! kill -0 "$LPID" 2>/dev/null; then
	echo "gateway.sh: lighttpd did not start" >&2
	cat "$TMP/lighttpd.log" "$TMP/lighttpd.stderr" >&2
	exit 1
fi
check_re "handshake answers sid:60:10:transports" \
	'^[A-Za-z0-9_-]{22}:60:10:websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling$' "$hs"
check "handshake is 200 text/plain" "200 text/plain; charset=UTF-8" "$(status) $(header Content-Type)"

body=$(get "$BASE/?t=1&jsonp=3")
check_re "jsonp handshake answers io.j[3](\"...\");" \
	'^io\.j\[3\]\("[A-Za-z0-9_-]{22}:60:10:[a-z,-]+"\);$' "$body"
# lighttpd 1.4.69 rewrites application/javascript to text/javascript (RFC 9239).
check_re "jsonp handshake is JavaScript" '^(application|text)/javascript' "$(header Content-Type)"

get -H 'Origin: http://example.com:8080' "$BASE/?t=1" >/dev/null
check "handshake echoes the Origin for CORS" "http://example.com:8080 true" \
	"$(header Access-Control-Allow-Origin) $(header Access-Control-Allow-Credentials)"
get -X OPTIONS -H 'Origin: http://example.com' "$BASE/" >/dev/null
check "OPTIONS answers 200 with CORS" "200 http://example.com" \
	"$(status) $(header Access-Control-Allow-Origin)"

body=$(get "http://127.0.0.1:$PORT/socket.io/2/")
check "another protocol answers 500" "500 Protocol version not supported." "$(status) $body"
get "http://127.0.0.1:$PORT/socket.io/1/nope/a/b/c" >/dev/null
check "an unknown route answers 404" "404" "$(status)"

sid=$(handshake)
body=$(get "$BASE/xhr-polling/$sid?t=1")
check "first xhr GET answers 1::" "1::" "$body"
check "xhr GET is text/plain UTF-8 with a byte length" "text/plain; charset=UTF-8 3" \
	"$(header Content-Type) $(header Content-Length)"

body=$(post "$BASE/xhr-polling/$sid?t=2" '5:1+::{"name":"echo","args":["😀"]}')
check "POST of an event answers 1" "200 1" "$(status) $body"
body=$(get "$BASE/xhr-polling/$sid?t=3")
check "next GET carries the ack with non-BMP text" '6:::1+["😀"]' "$body"
check "Content-Length counts bytes" "$(printf '%s' '6:::1+["😀"]' | wc -c)" "$(header Content-Length)"

# Two packets framed with UTF-16 lengths; the answer is framed likewise.
frame() { python3 -c 'import sys
out = ""
for p in sys.argv[1:]:
    out += "\ufffd%d\ufffd%s" % (len(p.encode("utf-16-le")) // 2, p)
sys.stdout.write(out)' "$@"; }
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
# The held GET may attach after the POST; either way the packet arrives.
post "$BASE/xhr-polling/$sid" '3:::wake' >/dev/null
wait $held
body=$(cat "$TMP/held")
[ "$body" = "8::" ] && body=$(curl -s "$BASE/xhr-polling/$sid")
check "a held GET delivers what a POST queued" "3:::wake" "$body"

body=$(get "$BASE/xhr-polling/AAAAAAAAAAAAAAAAAAAAAA")
check "GET on an unknown sid answers 7:::1+0" "200 7:::1+0" "$(status) $body"
body=$(post "$BASE/xhr-polling/AAAAAAAAAAAAAAAAAAAAAA" '3:::x')
check "POST on an unknown sid answers 1" "200 1" "$(status) $body"
body=$(post "$BASE/xhr-polling/$sid" $'\xef\xbf\xbd9\xef\xbf\xbd3:::x')
check "a malformed payload answers 400" "400" "$(status)"


# A newer GET supersedes a waiting one, which is answered 8:: at once.
ssid=$(session)
curl -s "$BASE/xhr-polling/$ssid" >"$TMP/older" &
older=$!
await_attach "$ssid" 2 || fail "older GET attaches" "no attach logged"
curl -s "$BASE/xhr-polling/$ssid" >"$TMP/newer" &
newer=$!
wait $older
if kill -0 $newer 2>/dev/null; then newer_open=yes; else newer_open=no; fi
check "a superseded GET answers 8:: while the newer one waits" "8:: yes" "$(cat "$TMP/older") $newer_open"
post "$BASE/xhr-polling/$ssid" '3:::after' >/dev/null
wait $newer
body=$(cat "$TMP/newer")
[ "$body" = "8::" ] && body=$(curl -s "$BASE/xhr-polling/$ssid")
check "the newer GET gets what follows" "3:::after" "$body"

head -c 5000000 /dev/zero | tr '\0' a >"$TMP/big"
body=$(post "$BASE/xhr-polling/$ssid" @"$TMP/big")
check "a body over max_payload answers 413" "413" "$(status)"
body=$(get "$BASE/xhr-polling/$ssid")
check "and the session goes on" "8::" "$body"

# jsonp-polling
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

# htmlfile
hsid=$(handshake)
curl -s --max-time 2 "$BASE/htmlfile/$hsid" >"$TMP/html"
prelude='<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>'
check "htmlfile starts with the 256-byte prelude" "$prelude" "$(head -c ${#prelude} "$TMP/html")"
check "htmlfile sends 1:: as a script chunk" '<script>_("1::");</script>' \
	"$(tail -c +257 "$TMP/html" | head -c 26)"


# A packet queued while the htmlfile stream is open arrives as a second
# chunk before the response ends, with </script> escaped.
hsid=$(session)
curl -s -N --max-time 10 "$BASE/htmlfile/$hsid" >"$TMP/html2" &
stream=$!
await_attach "$hsid" 2 || fail "htmlfile attaches" "no attach logged"
post "$BASE/xhr-polling/$hsid" '3:::</script>' >/dev/null
chunk='<script>_("3:::<\/script>");</script>'
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

# Plain CGI, as under Apache mod_cgid, with an origins setting.
mkdir -p "$TMP/cgi"
cat >"$TMP/cgi.conf" <<EOF
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
out=$(cgi REQUEST_URI=/socket.io/1/xhr-polling/$csid)
check "CGI: the first GET answers 1::" "1::" "$(printf '%s' "$out" | tail -1)"

# ?disconnect, as the client's sync form and on a transport URL
dsid=$(session)
body=$(get "$BASE//$dsid/?disconnect=1")
check "/1//sid/?disconnect=1 answers 200 empty" "200 " "$(status) $body"
body=$(curl -s "$BASE/xhr-polling/$dsid")
check_re "a disconnected session answers 0:: or 7:::1+0" '^(0::|7:::1\+0)$' "$body"
body=$(curl -s "$BASE/xhr-polling/$dsid")
check "and then 7:::1+0" "7:::1+0" "$body"
dsid=$(session)
get "$BASE/xhr-polling/$dsid?disconnect" >/dev/null
body=$(curl -s "$BASE/xhr-polling/$dsid")
check_re "?disconnect on a transport URL ends the session" '^(0::|7:::1\+0)$' "$body"

if [ "$FAILS" -ne 0 ]; then
	echo "gateway.sh: $FAILS check(s) failed; logs in $TMP" >&2
	KEEP_TMP=1
	cat "$TMP/lighttpd.log" "$TMP/lighttpd.stderr" >&2
	exit 1
fi
echo "gateway.sh: all checks passed"
