<?php
/*
 * siogate.php: publishes to a siogate server from PHP over HTTP, with the
 * signature and the actions of docs/bridge.md. One file, PHP >= 8.1, no
 * extension beyond json and hash (both built in); no curl: PHP streams.
 *
 * The gateway must have `publish = yes`, the same `bridge_secret` (at
 * least 32 bytes: `openssl rand -hex 32`) and this host's address in
 * `publish_allow`. Example:
 *
 *   <?php
 *   require '/usr/share/siogate/ctl/siogate.php';
 *
 *   $secret = Siogate\read_secret('/etc/myapp/siogate-secret');
 *   try {
 *       $results = Siogate\publish('http://127.0.0.1/socket.io/publish', $secret, [
 *           Siogate\emit('news', ['hello', ['n' => 1]], sid: $sid),
 *           Siogate\join($sid, 'lobby', endpoint: '/chat'),
 *           Siogate\emit('joined', [$name], room: 'lobby', endpoint: '/chat', exclude: $sid),
 *           Siogate\send('everyone on the root endpoint'),
 *           Siogate\set($sid, 'name', $name),
 *       ]);
 *       // one result per action, in order: ['queued' => 1], ['done' => true],
 *       // ['queued' => 3], ..., or ['error' => 'no such session']
 *   } catch (RuntimeException $e) {
 *       // the server refused the request: $e->getCode() is the HTTP status
 *       // (0: no answer), $e->getMessage() has the server's error text
 *   }
 *
 * Builders check what they can (types, UTF-8, which target goes with
 * which action) and throw InvalidArgumentException; the server checks
 * everything again. verify() checks a signature made by siogate (or by
 * sign()) over a request body: the bridge signs its requests that way.
 */

declare(strict_types=1);

namespace Siogate;

/* Seconds a signature stays good either side of the receiver's clock. */
const SKEW = 300;
/* Bytes a secret has at least: the server refuses a shorter bridge_secret. */
const MIN_SECRET = 32;
/* The header that carries the signature. */
const HEADER = 'X-Siogate-Signature';
/* Longest header verify() reads, as siogate: a time and 15 v1 entries. */
const MAX_HEADER = 1024;
/* Largest answer read from the server: results of publish_max_actions. */
const MAX_ANSWER = 16 << 20;
/* What read_secret() strips from the ends: ASCII whitespace, as
 * siogate.conf strips it around bridge_secret's value. */
const SPACE = " \t\n\r\v\f";
/* Largest secret file read_secret() reads. */
const MAX_SECRET_FILE = 65536;

const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;

function check_secret(string $secret): void
{
    if (strlen($secret) < MIN_SECRET) {
        throw new \InvalidArgumentException('siogate: the secret must be at least ' . MIN_SECRET . ' bytes');
    }
}

/**
 * The secret in the file at path: its content without the ASCII
 * whitespace (space, tab, CR, LF, VT, FF) at either end, as siogate.conf
 * reads bridge_secret. Throws \RuntimeException when the file cannot be
 * read, is over 64 KiB or holds a line break inside the secret.
 */
function read_secret(string $path): string
{
    $s = @file_get_contents($path, false, null, 0, MAX_SECRET_FILE + 1);
    if ($s === false) {
        $e = error_get_last();
        throw new \RuntimeException('siogate: ' . ($e['message'] ?? "$path: cannot read"));
    }
    if (strlen($s) > MAX_SECRET_FILE) {
        throw new \RuntimeException("siogate: $path: over " . MAX_SECRET_FILE . ' bytes');
    }
    $s = trim($s, SPACE);
    if (strpbrk($s, "\r\n") !== false) {
        /* siogate.conf cannot hold one: such a secret never matches */
        throw new \RuntimeException("siogate: $path: the secret is one line");
    }
    return $s;
}

function mac(string $secret, int $t, string $body): string
{
    return hash_hmac('sha256', $t . '.' . $body, $secret);
}

/**
 * The X-Siogate-Signature header value for body, signed at time t
 * (unix seconds; default now): "t=<t>,v1=<lowercase hex HMAC-SHA256>".
 */
function sign(string $secret, string $body, ?int $t = null): string
{
    check_secret($secret);
    $t ??= time();
    if ($t < 0) {
        throw new \InvalidArgumentException('siogate: t must not be negative');
    }
    return "t=$t,v1=" . mac($secret, $t, $body);
}

/**
 * Whether header is a good signature of body under secret: one t within
 * skew seconds of now and a v1 entry that matches (any of several). The
 * header is read as siogate reads it (docs/bridge.md); a malformed one is
 * false, never an exception.
 */
function verify(string $secret, string $body, string $header, int $skew = SKEW): bool
{
    check_secret($secret);
    if (strlen($header) > MAX_HEADER) {
        return false;
    }
    $t = null;
    $macs = [];
    foreach (explode(',', $header) as $item) {
        $kv = explode('=', trim($item, ' '), 2);
        if (count($kv) !== 2) {
            continue; /* not a key=value: ignored, as unknown keys are */
        }
        [$k, $v] = $kv;
        if ($k === 't') {
            /* one t, decimal digits, no sign: 18 cannot overflow */
            if ($t !== null || preg_match('/^[0-9]{1,18}$/D', $v) !== 1) {
                return false;
            }
            $t = (int)$v;
        } elseif ($k === 'v1') {
            if (preg_match('/^[0-9a-fA-F]{64}$/D', $v) !== 1) {
                return false;
            }
            $macs[] = strtolower($v);
        }
        /* other schemes: ignored, as the format allows new ones */
    }
    if ($t === null || !$macs) {
        return false;
    }
    $want = mac($secret, $t, $body);
    $ok = false;
    foreach ($macs as $m) {
        /* every entry compared, in constant time each */
        $ok = hash_equals($want, $m) || $ok;
    }
    return $ok && abs(time() - $t) <= $skew;
}

/* The target fields of an action: only those given. */
function target(?string $sid, ?string $room, ?string $endpoint, ?string $exclude): array
{
    if ($sid !== null && $room !== null) {
        throw new \InvalidArgumentException('siogate: a target is a sid or a room, not both');
    }
    if ($sid !== null && $exclude !== null) {
        throw new \InvalidArgumentException('siogate: exclude goes with a room or an endpoint, not a sid');
    }
    $a = [];
    foreach (['sid' => $sid, 'room' => $room, 'endpoint' => $endpoint, 'exclude' => $exclude] as $k => $v) {
        if ($v !== null) {
            $a[$k] = text($k, $v);
        }
    }
    return $a;
}

/* s, checked to be UTF-8: JSON cannot carry anything else. */
function text(string $what, string $s): string
{
    if (preg_match('//u', $s) !== 1) {
        throw new \InvalidArgumentException("siogate: $what is not valid UTF-8");
    }
    return $s;
}

/**
 * An event (5:::) named name with args (a list) to a session (sid:), a
 * room (room:) or every session of endpoint: (default the root), except
 * exclude:; volatile: true drops it for sessions with no transport.
 */
function emit(string $name, array $args = [], ?string $sid = null, ?string $room = null,
    ?string $endpoint = null, ?string $exclude = null, bool $volatile = false): array
{
    if ($name === '') {
        throw new \InvalidArgumentException('siogate: emit needs a name');
    }
    if (!array_is_list($args)) {
        throw new \InvalidArgumentException('siogate: emit args must be a list');
    }
    $a = ['do' => 'emit', 'name' => text('name', $name), 'args' => $args];
    if ($volatile) {
        $a['volatile'] = true;
    }
    return $a + target($sid, $room, $endpoint, $exclude);
}

/** A message (3:::) of text data to a target, as emit(). */
function send(string $data, ?string $sid = null, ?string $room = null,
    ?string $endpoint = null, ?string $exclude = null): array
{
    return ['do' => 'send', 'data' => text('data', $data)] + target($sid, $room, $endpoint, $exclude);
}

/** A JSON message (4:::) of any JSON value to a target, as emit(). */
function json(mixed $data, ?string $sid = null, ?string $room = null,
    ?string $endpoint = null, ?string $exclude = null): array
{
    return ['do' => 'json', 'data' => $data] + target($sid, $room, $endpoint, $exclude);
}

/** Session sid joins room of endpoint (default the root). */
function join(?string $sid, string $room, ?string $endpoint = null): array
{
    return ['do' => 'join'] + target($sid, null, $endpoint, null) + ['room' => text('room', $room)];
}

/** Session sid leaves room of endpoint. */
function leave(?string $sid, string $room, ?string $endpoint = null): array
{
    return ['do' => 'leave'] + target($sid, null, $endpoint, null) + ['room' => text('room', $room)];
}

/** Sets key of session sid's data to value; null deletes it. */
function set(?string $sid, string $key, ?string $value): array
{
    return ['do' => 'set'] + target($sid, null, null, null) + ['key' => text('key', $key),
        'value' => $value === null ? null : text('value', $value)];
}

/** Ends session sid, or with endpoint: disconnects only that endpoint. */
function disconnect(?string $sid, ?string $endpoint = null): array
{
    return ['do' => 'disconnect'] + target($sid, null, $endpoint, null);
}

/* The status of the last HTTP response among the wrapper's header lines. */
function status(array $headers): int
{
    $status = 0;
    foreach ($headers as $h) {
        if (preg_match('#^HTTP/\S+\s+([0-9]{3})#', $h, $m) === 1) {
            $status = (int)$m[1];
        }
    }
    return $status;
}

/**
 * POSTs actions to url (http://host/socket.io/publish), signed with
 * secret, and returns the results, one array per action in order.
 * Throws \RuntimeException on anything but 200: the code is the HTTP
 * status (0 when no answer came), the message the server's error text.
 */
function publish(string $url, string $secret, array $actions, float $timeout = 5.0): array
{
    check_secret($secret);
    $body = json_encode(['actions' => array_values($actions)], JSON_FLAGS);
    $ctx = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/json\r\nConnection: close\r\n"
            . HEADER . ': ' . sign($secret, $body) . "\r\n",
        'content' => $body,
        'timeout' => $timeout,
        'ignore_errors' => true, /* read the error body of a 4xx/5xx too */
        'follow_location' => 0,  /* a redirect would lose the POST */
        'protocol_version' => 1.1,
    ]]);
    $fp = @fopen($url, 'rb', false, $ctx);
    if ($fp === false) {
        $e = error_get_last();
        throw new \RuntimeException('siogate publish: ' . $url . ': ' . ($e['message'] ?? 'no answer'), 0);
    }
    try {
        $answer = stream_get_contents($fp, MAX_ANSWER);
        $status = status(stream_get_meta_data($fp)['wrapper_data'] ?? []);
    } finally {
        fclose($fp);
    }
    $decoded = json_decode((string)$answer, true);
    if ($status !== 200) {
        $why = is_array($decoded) && is_string($decoded['error'] ?? null)
            ? $decoded['error'] : substr(trim((string)$answer), 0, 200);
        throw new \RuntimeException(rtrim("siogate publish: $status $why"), $status);
    }
    if (!is_array($decoded) || !is_array($decoded['results'] ?? null)) {
        throw new \RuntimeException('siogate publish: 200 without results', 200);
    }
    return $decoded['results'];
}

/* --- the bridge (app = bridge): this script is the application ------------- */

/*
 * A bridge script receives one event per request and answers with what to
 * do (docs/bridge.md, "The bridge"):
 *
 *   <?php
 *   require '/usr/share/siogate/ctl/siogate.php';
 *
 *   $secret = Siogate\read_secret('/etc/myapp/siogate-secret');
 *   $e = Siogate\bridge_event($secret);   // 401 and exit when not siogate's
 *   if ($e['type'] === 'event' && $e['name'] === 'ping') {
 *       Siogate\respond([Siogate\ack([$e['args'][0], 'pong'])]);
 *   } else {
 *       Siogate\respond([]);                  // 204: nothing to do
 *   }
 *
 * In a response the builders' sid may be null (and is by default for
 * emit, send and json): the action is for the session whose event this
 * answers, on its endpoint unless endpoint: says otherwise; broadcast:
 * true sends to every session of the endpoint instead.
 */

/* Largest event body read: a packet of max_packet with its JSON escapes. */
const MAX_EVENT = 8 << 20;

/** A request that is not an event from siogate: getCode() is the HTTP
 * status to answer (401 bad or stale signature, 400 not an event, 413 too
 * big). */
class BridgeError extends \RuntimeException
{
}

/**
 * The event of this request, checked: the signature (header, by default
 * the request's X-Siogate-Signature) over body (by default the request's
 * body) with secret, then the JSON: an object with a type and a sid.
 * Returns it as an array. Throws BridgeError. With answer: true (the
 * default when body is null) a failure is answered (its status, a line
 * of text) and the script exits.
 */
function bridge_event(string $secret, ?string $body = null, ?string $header = null,
    ?bool $answer = null): array
{
    check_secret($secret);
    $answer ??= $body === null;
    try {
        if ($body === null) {
            $body = (string)file_get_contents('php://input', false, null, 0, MAX_EVENT + 1);
        }
        if (strlen($body) > MAX_EVENT) {
            throw new BridgeError('siogate bridge: body over ' . MAX_EVENT . ' bytes', 413);
        }
        $header ??= (string)($_SERVER['HTTP_X_SIOGATE_SIGNATURE'] ?? '');
        if (!verify($secret, $body, $header)) {
            throw new BridgeError('siogate bridge: bad or stale signature', 401);
        }
        $e = json_decode($body, true, 128);
        if (!is_array($e) || ($e !== [] && array_is_list($e)) || !is_string($e['type'] ?? null)
            || !is_string($e['sid'] ?? null) || !is_string($e['endpoint'] ?? null)) {
            throw new BridgeError('siogate bridge: not an event', 400);
        }
        return $e;
    } catch (BridgeError $x) {
        if (!$answer) {
            throw $x;
        }
        http_response_code($x->getCode());
        header('Content-Type: text/plain');
        echo $x->getMessage(), "\n";
        exit(0);
    }
}

/** Answers the event with actions, in order: {"actions": [...]} as JSON,
 * or 204 when there are none. */
function respond(array $actions): void
{
    $actions = array_values($actions);
    if (!$actions) {
        http_response_code(204);
        return;
    }
    header('Content-Type: application/json');
    echo json_encode(['actions' => $actions], JSON_FLAGS);
}

/** Answers the client's ack of the event (its callback gets args); only
 * when the event has an 'ack', once. */
function ack(array $args = []): array
{
    if (!array_is_list($args)) {
        throw new \InvalidArgumentException('siogate: ack args must be a list');
    }
    return ['do' => 'ack', 'args' => $args];
}

/** Refuses an open (the session ends) or a connect (the client gets
 * connect_failed on the endpoint). */
function reject(): array
{
    return ['do' => 'reject'];
}

/** The broadcast form of a packet action: every session of its endpoint
 * (or of its room), instead of the event's session. */
function broadcast(array $action): array
{
    return $action + ['broadcast' => true];
}
