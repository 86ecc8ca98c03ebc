"""siogate.py: publishes to a siogate server from Python over HTTP.

The signature and the actions of docs/bridge.md, Python 3.9+, standard
library only. The gateway must have `publish = yes`, the same
`bridge_secret` (at least 32 bytes: `openssl rand -hex 32`) and this
host's address in `publish_allow`.

As a module (the file beside your code, or its directory on sys.path):

    import siogate

    secret = siogate.read_secret('/etc/myapp/siogate-secret')
    try:
        results = siogate.publish('http://127.0.0.1/socket.io/publish', secret, [
            siogate.emit('news', ['hello', {'n': 1}], sid=sid),
            siogate.join(sid, 'lobby', endpoint='/chat'),
            siogate.emit('joined', [name], room='lobby', endpoint='/chat', exclude=sid),
            siogate.send('everyone on the root endpoint'),
            siogate.set(sid, 'name', name),
        ])
        # one result per action, in order: {'queued': 1}, {'done': True},
        # {'queued': 3}, ..., or {'error': 'no such session'}
    except siogate.PublishError as e:
        print(e.status, e.error)   # HTTP status (0: no answer), server's text

As a command:

    python3 siogate.py publish URL --secret-file F 'ACTIONS_JSON'   (- : stdin)
    python3 siogate.py sign --secret-file F [-t T] < BODY

publish sends ACTIONS_JSON (a JSON array of actions, or an object with
"actions"; from standard input when -) and prints the results
as JSON; sign prints the X-Siogate-Signature value for the body on
standard input. The secret file holds the secret on one line; ASCII
whitespace around it is ignored (read_secret()).
Exit status: 0 done, 1 the server refused or did not answer, 2 a usage
error (arguments, secret file, JSON).
"""

import argparse
import hashlib
import hmac
import json as _json
import sys
import time
import urllib.error
import urllib.request

__all__ = ['read_secret', 'sign', 'verify', 'emit', 'send', 'json', 'join', 'leave', 'set',
           'disconnect', 'publish', 'PublishError', 'HEADER', 'SKEW', 'bridge_event',
           'response', 'bridge_app', 'ack', 'reject', 'broadcast', 'BridgeError']

#: Seconds a signature stays good either side of the receiver's clock.
SKEW = 300
#: Bytes a secret has at least: the server refuses a shorter bridge_secret.
MIN_SECRET = 32
#: The header that carries the signature.
HEADER = 'X-Siogate-Signature'
#: Longest header verify() reads, as siogate: a time and 15 v1 entries.
MAX_HEADER = 1024
_HEX = frozenset('0123456789abcdefABCDEF')
#: What read_secret() strips from the ends: ASCII whitespace, as
#: siogate.conf strips it around bridge_secret's value.
_SPACE = b' \t\n\r\x0b\x0c'
#: Largest secret file read_secret() reads.
MAX_SECRET_FILE = 64 << 10
#: Largest answer read from the server: results of publish_max_actions.
MAX_ANSWER = 16 << 20



class PublishError(RuntimeError):
    """The server refused a publish: status is the HTTP status (0 when no
    answer came), error the server's error text."""

    def __init__(self, status, error):
        super().__init__(('siogate publish: %d %s' % (status, error)).rstrip())
        self.status = status
        self.error = error


def _bytes(what, s):
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode('utf-8')
    raise TypeError('siogate: %s must be str or bytes' % what)


def _secret(secret):
    key = _bytes('secret', secret)
    if len(key) < MIN_SECRET:
        raise ValueError('siogate: the secret must be at least %d bytes' % MIN_SECRET)
    return key


def read_secret(path):
    """The secret in the file at path, as bytes: its content without the
    ASCII whitespace (space, tab, CR, LF, VT, FF) at either end, as
    siogate.conf reads bridge_secret. Raises OSError when the file cannot
    be read, ValueError when it is over 64 KiB or holds a line break
    inside the secret."""
    with open(path, 'rb') as f:
        s = f.read(MAX_SECRET_FILE + 1)
    if len(s) > MAX_SECRET_FILE:
        raise ValueError('siogate: %s: over %d bytes' % (path, MAX_SECRET_FILE))
    s = s.strip(_SPACE)
    if b'\r' in s or b'\n' in s:
        # siogate.conf cannot hold one: such a secret never matches
        raise ValueError('siogate: %s: the secret is one line' % path)
    return s


def _mac(key, t, body):
    return hmac.new(key, b'%d.' % t + body, hashlib.sha256).hexdigest()


def sign(secret, body, t=None):
    """The X-Siogate-Signature header value for body (bytes, or str as
    UTF-8), signed at time t (unix seconds; default now):
    "t=<t>,v1=<lowercase hex HMAC-SHA256>"."""
    key = _secret(secret)
    t = int(time.time()) if t is None else t
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise ValueError('siogate: t must be a non-negative int')
    return 't=%d,v1=%s' % (t, _mac(key, t, _bytes('body', body)))


def verify(secret, body, header, skew=SKEW):
    """Whether header is a good signature of body under secret: one t
    within skew seconds of now and a v1 entry that matches (any of
    several). The header is read as siogate reads it (docs/bridge.md); a
    malformed one is False, never an exception."""
    key = _secret(secret)
    if not isinstance(header, str) or len(header.encode('utf-8', 'replace')) > MAX_HEADER:
        return False
    t = None
    macs = []
    for item in header.split(','):
        k, eq, v = item.strip(' ').partition('=')
        if not eq:
            continue  # not a key=value: ignored, as unknown keys are
        if k == 't':
            # one t, decimal digits, no sign (str.isdigit takes others):
            # 18 cannot overflow
            if t is not None or not 1 <= len(v) <= 18 or not all('0' <= c <= '9' for c in v):
                return False
            t = int(v)
        elif k == 'v1':
            if len(v) != 64 or not all(c in _HEX for c in v):
                return False
            macs.append(v.lower())
        # other schemes: ignored, as the format allows new ones
    if t is None or not macs:
        return False
    want = _mac(key, t, _bytes('body', body))
    ok = False
    for m in macs:
        # every entry compared, in constant time each
        ok = hmac.compare_digest(want, m) or ok
    return ok and abs(int(time.time()) - t) <= skew


def _text(what, s):
    if not isinstance(s, str):
        raise TypeError('siogate: %s must be a str' % what)
    try:
        s.encode('utf-8')
    except UnicodeEncodeError:
        # lone surrogates: JSON would carry them, UTF-8 cannot
        raise ValueError('siogate: %s is not valid UTF-8' % what) from None
    return s


def _target(sid=None, room=None, endpoint=None, exclude=None):
    """The target fields of an action: only those given."""
    if sid is not None and room is not None:
        raise ValueError('siogate: a target is a sid or a room, not both')
    if sid is not None and exclude is not None:
        raise ValueError('siogate: exclude goes with a room or an endpoint, not a sid')
    a = {}
    for k, v in (('sid', sid), ('room', room), ('endpoint', endpoint), ('exclude', exclude)):
        if v is not None:
            a[k] = _text(k, v)
    return a


def emit(name, args=None, *, sid=None, room=None, endpoint=None, exclude=None, volatile=False):
    """An event (5:::) named name with args (a list) to a session (sid=),
    a room (room=) or every session of endpoint= (default the root),
    except exclude=; volatile=True drops it for sessions with no
    transport."""
    if not _text('name', name):
        raise ValueError('siogate: emit needs a name')
    args = [] if args is None else args
    if not isinstance(args, (list, tuple)):
        raise TypeError('siogate: emit args must be a list')
    a = {'do': 'emit', 'name': name, 'args': list(args)}
    if volatile:
        a['volatile'] = True
    a.update(_target(sid, room, endpoint, exclude))
    return a


def send(data, *, sid=None, room=None, endpoint=None, exclude=None):
    """A message (3:::) of text data to a target, as emit()."""
    a = {'do': 'send', 'data': _text('data', data)}
    a.update(_target(sid, room, endpoint, exclude))
    return a


def json(data, *, sid=None, room=None, endpoint=None, exclude=None):
    """A JSON message (4:::) of any JSON value to a target, as emit()."""
    a = {'do': 'json', 'data': data}
    a.update(_target(sid, room, endpoint, exclude))
    return a


def join(sid, room, *, endpoint=None):
    """Session sid joins room of endpoint (default the root)."""
    a = {'do': 'join'}
    a.update(_target(sid, None, endpoint))
    a['room'] = _text('room', room)
    return a


def leave(sid, room, *, endpoint=None):
    """Session sid leaves room of endpoint."""
    a = {'do': 'leave'}
    a.update(_target(sid, None, endpoint))
    a['room'] = _text('room', room)
    return a


def set(sid, key, value):  # noqa: A001 (the action's name)
    """Sets key of session sid's data to value (a str); None deletes it."""
    a = {'do': 'set'}
    a.update(_target(sid))
    a.update({'key': _text('key', key), 'value': None if value is None else _text('value', value)})
    return a


def disconnect(sid, *, endpoint=None):
    """Ends session sid, or with endpoint: disconnects only that endpoint."""
    a = {'do': 'disconnect'}
    a.update(_target(sid, None, endpoint))
    return a


# --- the bridge (app = bridge): this program is the application -------------
#
# A bridge application receives one event per request and answers with
# what to do (docs/bridge.md, "The bridge"). In a response the builders'
# sid may be None (the default of emit, send and json): the action is for
# the session whose event it answers, on its endpoint unless endpoint=
# says otherwise; broadcast() sends to the whole endpoint (or room).
#
#     def handler(event):
#         if event['type'] == 'event' and event['name'] == 'ping':
#             return [siogate.ack([event['args'][0], 'pong'])]
#         return []
#
#     application = siogate.bridge_app(secret, handler)   # WSGI

#: Largest event body read: a packet of max_packet with its JSON escapes.
MAX_EVENT = 8 << 20


class BridgeError(ValueError):
    """A request that is not an event from siogate: status is the HTTP
    status to answer (401 bad or stale signature, 400 not an event, 413
    too big)."""

    def __init__(self, status, error):
        super().__init__('siogate bridge: %s' % error)
        self.status = status
        self.error = error


def bridge_event(secret, body, header):
    """The event in body (bytes or str) signed by header (the request's
    X-Siogate-Signature value, or None), checked with secret: returns it
    as a dict. Raises BridgeError."""
    body = _bytes('body', body)
    if len(body) > MAX_EVENT:
        raise BridgeError(413, 'body over %d bytes' % MAX_EVENT)
    if not header or not verify(secret, body, header):
        raise BridgeError(401, 'bad or stale signature')
    try:
        e = _json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise BridgeError(400, 'not JSON') from None
    if (not isinstance(e, dict) or not isinstance(e.get('type'), str)
            or not isinstance(e.get('sid'), str) or not isinstance(e.get('endpoint'), str)):
        raise BridgeError(400, 'not an event')
    return e


def response(actions):
    """The answer to an event: (status, headers, body) for actions, in
    order: 200 with {"actions": [...]}, or 204 when there are none."""
    actions = list(actions or [])
    if not actions:
        return 204, [], b''
    body = _json.dumps({'actions': actions}, ensure_ascii=False,
                       separators=(',', ':')).encode('utf-8')
    return 200, [('Content-Type', 'application/json'),
                 ('Content-Length', str(len(body)))], body


_REASONS = {200: 'OK', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized',
            405: 'Method Not Allowed', 411: 'Length Required', 413: 'Payload Too Large',
            500: 'Internal Server Error'}


def bridge_app(secret, handler):
    """A WSGI application that checks each request as bridge_event() does
    and answers with response(handler(event)); handler returns a list of
    actions."""
    _secret(secret)

    def app(environ, start_response):
        def answer(status, headers, body):
            start_response('%d %s' % (status, _REASONS.get(status, '')), headers)
            return [body]

        if environ.get('REQUEST_METHOD') != 'POST':
            return answer(405, [('Allow', 'POST')], b'')
        try:
            n = int(environ.get('CONTENT_LENGTH') or '')
        except ValueError:
            return answer(411, [], b'')
        if n < 0 or n > MAX_EVENT:
            return answer(413, [], b'')
        body = environ['wsgi.input'].read(n)
        try:
            event = bridge_event(secret, body, environ.get('HTTP_X_SIOGATE_SIGNATURE'))
        except BridgeError as e:
            return answer(e.status, [('Content-Type', 'text/plain')], (str(e) + '\n').encode())
        return answer(*response(handler(event)))

    return app


def ack(args=None):
    """Answers the client's ack of the event (its callback gets args);
    only when the event has an 'ack', once."""
    args = [] if args is None else args
    if not isinstance(args, (list, tuple)):
        raise TypeError('siogate: ack args must be a list')
    return {'do': 'ack', 'args': list(args)}


def reject():
    """Refuses an open (the session ends) or a connect (the client gets
    connect_failed on the endpoint)."""
    return {'do': 'reject'}


def broadcast(action):
    """The broadcast form of a packet action: every session of its
    endpoint (or room) instead of the event's session."""
    a = dict(action)
    a['broadcast'] = True
    return a


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without the body: it is
    # reported as the answer it is.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxy from the environment: publish_allow checks the address the
# gateway sees, which a proxy would replace with its own.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def _error_text(status, answer):
    try:
        e = _json.loads(answer)
        if isinstance(e, dict) and isinstance(e.get('error'), str):
            return e['error']
    except ValueError:
        pass
    return answer.decode('utf-8', 'replace').strip()[:200]


def publish(url, secret, actions, timeout=5.0):
    """POSTs actions to url (http://host/socket.io/publish), signed with
    secret; returns the results, one dict per action in order. Raises
    PublishError on anything but 200."""
    body = _json.dumps({'actions': list(actions)}, ensure_ascii=False,
                       separators=(',', ':'), allow_nan=False).encode('utf-8')
    req = urllib.request.Request(url, data=body, method='POST', headers={
        'Content-Type': 'application/json',
        HEADER: sign(secret, body),
    })
    try:
        with _opener.open(req, timeout=timeout) as r:
            status, answer = r.status, r.read(MAX_ANSWER)
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read(MAX_ANSWER)
        e.close()
    except (urllib.error.URLError, OSError) as e:
        raise PublishError(0, '%s: %s' % (url, getattr(e, 'reason', e))) from None
    if status != 200:
        raise PublishError(status, _error_text(status, answer))
    try:
        results = _json.loads(answer)['results']
    except (ValueError, KeyError, TypeError):
        results = None
    if not isinstance(results, list):
        raise PublishError(200, 'an answer without results')
    return results


def _actions(text):
    v = _json.loads(text)
    if isinstance(v, dict) and 'actions' in v:
        v = v['actions']
    if not isinstance(v, list):
        raise ValueError('ACTIONS_JSON must be a JSON array of actions or {"actions": [...]}')
    return v


def _parser():
    p = argparse.ArgumentParser(prog='siogate.py', description='Publish to siogate, sign a body.')
    sub = p.add_subparsers(dest='cmd', required=True)
    pub = sub.add_parser('publish', help='POST actions to URL and print the results')
    pub.add_argument('url', metavar='URL', help='http://host/socket.io/publish')
    pub.add_argument('actions', metavar='ACTIONS_JSON',
                     help='a JSON array of actions (-: standard input)')
    pub.add_argument('--timeout', type=float, default=5.0, help='seconds (default 5)')
    sig = sub.add_parser('sign', help='print the signature header value of standard input')
    sig.add_argument('-t', type=int, default=None, help='unix seconds (default now)')
    for s in (pub, sig):
        s.add_argument('--secret-file', required=True, metavar='F',
                       help='the secret in F (one line, whitespace around it ignored)')
    return p


def main(argv=None):
    args = _parser().parse_args(argv)  # exits 2 on a usage error
    try:
        secret = read_secret(args.secret_file)
        if args.cmd == 'sign':
            print(sign(secret, sys.stdin.buffer.read(), args.t))
            return 0
        text = sys.stdin.read() if args.actions == '-' else args.actions
        actions = _actions(text)
    except (OSError, ValueError, TypeError) as e:
        print('siogate.py: %s' % e, file=sys.stderr)
        return 2
    try:
        results = publish(args.url, secret, actions, args.timeout)
    except PublishError as e:
        print('siogate.py: %s' % e, file=sys.stderr)
        return 1
    except (ValueError, TypeError) as e:  # an action JSON cannot encode
        print('siogate.py: %s' % e, file=sys.stderr)
        return 2
    print(_json.dumps(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
