"""driver.py: calls functions of ctl/siogate.py for tests/clients/, as
driver.php does: a JSON array of calls on standard input, each {"fn":
NAME, "args": [..], "named": {..}} (an argument {"$bytes": BASE64} is
those bytes, one {"$assoc": OBJECT} that dict); prints a JSON array of
{"ok": RESULT} (a bytes result as {"$bytes": BASE64}) or {"error": CLASS,
"message": TEXT, "code": N}."""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../ctl'))
import siogate  # noqa: E402


def arg(v):
    if isinstance(v, dict) and '$bytes' in v:
        return base64.b64decode(v['$bytes'], validate=True)
    if isinstance(v, dict) and '$assoc' in v:
        return v['$assoc']
    return v


def result(v):
    if isinstance(v, bytes):
        return {'$bytes': base64.b64encode(v).decode('ascii')}
    return v


out = []
for call in json.load(sys.stdin):
    args = [arg(a) for a in call.get('args', [])]
    named = {k: arg(v) for k, v in call.get('named', {}).items()}
    try:
        out.append({'ok': result(getattr(siogate, call['fn'])(*args, **named))})
    except Exception as e:  # the test compares what was raised
        out.append({'error': type(e).__name__, 'message': str(e),
                    'code': getattr(e, 'status', 0)})
print(json.dumps(out, ensure_ascii=False))
