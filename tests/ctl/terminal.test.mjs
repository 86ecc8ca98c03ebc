/*
 * What a client sends reaches the operator's terminal escaped. Against
 * running servers (lighttpd + sio-gateway + sio-wsd, app = testapp,
 * tests/lib/servers.mjs), a session sends a message holding an OSC title
 * sequence, a BEL, ESC [ 2J and a C1 CSI (testapp queues the echo),
 * and is put in a room whose name holds ESC [ 5m (the sqlite3 shell, as an
 * app's sio_join would). `sioctl show` and `sioctl list`, text and JSON,
 * must not write one of those control bytes: the text forms write them as
 * \xHH (the log lines' escaping), the JSON forms as JSON escapes, and
 * --json still gives back the exact text.
 *
 *   node --test tests/ctl/          (make ctl)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {startServers, BUILD} from '../lib/servers.mjs';

const CTL = path.join(BUILD, 'sioctl');
const MSG = 'hi \x1b]0;pwned\x07\x1b[2J \u009b31m there';
const ROOM = 'blink\x1b[5m';

let s;
let sid;

/* sioctl's stdout as bytes. */
function sioctl(...args) {
	return new Promise((resolve) => {
		execFile(CTL, ['-c', s.confFile, ...args], {encoding: 'buffer'}, (e, stdout, stderr) =>
			resolve({code: e ? e.code : 0, stdout, stderr: stderr.toString()}));
	});
}

/* The control bytes of out: C0 but the newline, DEL, and the C1 controls
 * (U+0080-U+009F, C2 80-9F in UTF-8). */
function controls(out) {
	const found = [];
	for (let i = 0; i < out.length; i++) {
		const b = out[i];
		if ((b < 0x20 && b !== 0x0a) || b === 0x7f) found.push(`${i}: 0x${b.toString(16)}`);
		if (b === 0xc2 && out[i + 1] >= 0x80 && out[i + 1] <= 0x9f) found.push(`${i}: C1 0x${out[i + 1].toString(16)}`);
	}
	return found;
}

describe('sioctl escapes what clients sent', () => {
	before(async () => {
		assert.ok(fs.existsSync(CTL), `${CTL} is not built (make)`);
		s = await startServers({polling_duration: 5, log_level: 'info'});
		sid = await s.handshake();
		assert.deepEqual(await s.poll(sid), ['1::']);
		await s.post(sid, `3:::${MSG}`);
		s.sql(`INSERT INTO rooms (sid, endpoint, room) VALUES ('${sid}', '', 'blink' || char(27) || '[5m')`);
	});
	after(async () => {
		if (s) await s.stop();
	});

	test('show: the packet and the room come out escaped, no control byte', async () => {
		const r = await sioctl('show', sid);
		assert.equal(r.code, 0, r.stderr);
		const out = r.stdout.toString();
		assert.deepEqual(controls(r.stdout), [], `control bytes in:\n${JSON.stringify(out)}`);
		assert.match(out, /^ {2}3:::hi \\x1b\]0;pwned\\x07\\x1b\[2J \\xc2\\x9b31m there$/m, out);
		assert.match(out, /"room":"blink\\u001[bB]\[5m"/, 'the room, JSON-escaped');
	});

	test('show --json: JSON escapes, the exact text back', async () => {
		const r = await sioctl('show', '--json', sid);
		assert.equal(r.code, 0, r.stderr);
		assert.deepEqual(controls(r.stdout), [], 'no control byte in the JSON');
		const o = JSON.parse(r.stdout.toString());
		assert.ok(o.packets.includes(`3:::${MSG}`), JSON.stringify(o.packets));
		assert.deepEqual(o.rooms, [{endpoint: '/', room: ROOM}]);
	});

	test('list: the room comes out escaped, no control byte', async () => {
		const r = await sioctl('list');
		assert.equal(r.code, 0, r.stderr);
		const out = r.stdout.toString();
		assert.deepEqual(controls(r.stdout), [], `control bytes in:\n${JSON.stringify(out)}`);
		const line = out.split('\n').find((l) => l.startsWith(sid));
		assert.ok(line && line.endsWith('blink\\x1b[5m'), `the session's line: ${line}`);
		const json = await sioctl('list', '--json');
		assert.deepEqual(controls(json.stdout), [], 'no control byte in the JSON');
		const o = JSON.parse(json.stdout.toString()).find((x) => x.sid === sid);
		assert.deepEqual(o.rooms, [{endpoint: '/', room: ROOM}]);
	});
});
