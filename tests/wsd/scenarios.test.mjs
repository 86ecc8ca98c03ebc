// scenarios.test.mjs: one session across processes. Handshake through the
// gateway (lighttpd + FastCGI), the websocket on sio-wsd (directly and
// through lighttpd's proxy), packets both ways, then the same sid on
// xhr-polling through the gateway; a POST on polling answered on the
// websocket; kill -9 of sio-wsd with packets queued, delivered by polling.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startServers, echoes, until} from '../lib/servers.mjs';

let s;
before(async () => { s = await startServers({close_timeout: 30}); });
after(async () => { if (s) await s.stop(); });

const EVENT_ACK = '5:1+::{"name":"echo","args":[1]}';

for (const via of ['wsd', 'proxy']) {
	test(`websocket ${via === 'wsd' ? 'straight to sio-wsd' : 'through lighttpd\'s proxy'}: ` +
		'packets flow, then polling gets what was queued meanwhile', async () => {
		const sid = await s.handshake();
		assert.match(sid, /^[A-Za-z0-9_-]{22}$/);
		const ws = await s.ws(sid, {via});
		assert.equal(await ws.nextText(), '1::', '1:: comes first');
		const row = s.session(sid);
		assert.match(row.holder, new RegExp(`^wsd-[A-Za-z0-9]{1,20}-${s.wsd.pid}-[0-9a-f]{8}$`), 'held by this sio-wsd');
		assert.deepEqual(row, {state: 'open', transport: 'websocket', holder: row.holder, reason: ''});
		ws.send('3:::x');
		assert.equal(await ws.nextText(), '3:::x', 'a message is echoed');
		ws.send(EVENT_ACK);
		assert.equal(await ws.nextText(), '6:::1+[1]', 'an event with ack is acked');
		ws.send('5:::{"name":"echo","args":["e"]}');
		assert.equal(await ws.nextText(), '5:::{"name":"echo","args":["e"]}');
		ws.ping('hi');
		const pong = await ws.next();
		assert.deepEqual([pong.type, pong.data.toString()], ['pong', 'hi'], 'ping answered with pong');

		// The client closes: the session only detaches.
		ws.close(1000, 'bye');
		const c = await ws.waitClose();
		assert.equal(c.code, 1000, 'the close handshake is answered');
		await until('the session to detach', () => s.session(sid)?.state === 'detached');
		assert.equal(s.session(sid).holder, '');

		// Meanwhile: replies to POSTs on polling, and a packet from the shell.
		await s.post(sid, '3:::p1');
		await s.post(sid, '5:2+::{"name":"echo","args":["p2"]}', '3:::p3');
		s.sql(`INSERT INTO outbox (sid, packet, created, due) VALUES ('${sid}', '3:::from-shell', 0, 0)`);
		await s.post(sid, '3:::p4');
		const got = await s.collect(sid, 5);
		assert.deepEqual(got, ['3:::p1', '6:::2+["p2"]', '3:::p3', '3:::from-shell', '3:::p4'],
			'no 1:: again (the websocket had it: socket.io 0.9 sends it once), everything in order');
		assert.equal(s.session(sid).transport, 'xhr-polling');
		assert.equal(s.queue(sid), 0);
		// And back to a websocket: no 1:: again, and it still echoes.
		const ws2 = await s.ws(sid, {via});
		await echoes(ws2);
		ws2.close();
		await ws2.waitClose();
	});
}

test('a POST on polling while a websocket is attached is answered on the websocket', async () => {
	for (const via of ['wsd', 'proxy']) {
		const ws = await s.wsSession({via});
		await s.post(ws.sid, '3:::via-post', '5:7+::{"name":"echo","args":["q"]}',
			'5:::{"name":"trigger","args":[{"name":"t","args":["z"],"count":3}]}');
		const got = [];
		for (let i = 0; i < 5; i++) got.push(await ws.nextText());
		assert.deepEqual(got, ['3:::via-post', '6:::7+["q"]', '5:::{"name":"t","args":["z",0]}',
			'5:::{"name":"t","args":["z",1]}', '5:::{"name":"t","args":["z",2]}'], via);
		assert.match(s.session(ws.sid).holder, new RegExp(`^wsd-[A-Za-z0-9]{1,20}-${s.wsd.pid}-[0-9a-f]{8}$`),
			'the websocket still holds the session');
		await until('the outbox to empty', () => s.queue(ws.sid) === 0);
		ws.close();
		await ws.waitClose();
	}
});

test('a packet inserted by the sqlite3 shell reaches an attached websocket (data_version watch, 1 s tick)', async () => {
	// A fresh sio-wsd, and an insert within its first second: the first
	// tick must not take the version that already includes the insert.
	await s.wsd.kill('SIGTERM');
	await s.startWsd();
	const ws = await s.wsSession();
	s.sql(`INSERT INTO outbox (sid, packet, created, due) VALUES ('${ws.sid}', '3:::shell-early', 0, 0)`);
	assert.equal(await ws.nextText(2500).catch((e) => e.message), '3:::shell-early',
		'an insert in wsd\'s first second arrives within 2.5 s');
	s.sql(`INSERT INTO outbox (sid, packet, created, due) VALUES ('${ws.sid}', '3:::shell-later', 0, 0)`);
	assert.equal(await ws.nextText(2500), '3:::shell-later', 'a later insert arrives within 2.5 s');
	ws.close();
	await ws.waitClose();
});

test('the client disconnects with 0::, answered by 0:: and a close', async () => {
	const ws = await s.wsSession();
	ws.send('3:::x');
	assert.equal(await ws.nextText(), '3:::x');
	ws.send('0::');
	assert.equal(await ws.nextText(), '0::', 'the session ends with 0::');
	const c = await ws.waitClose(3000);
	assert.ok(c, 'the server closes the websocket once the session ended');
	assert.equal(s.session(ws.sid).state, 'closed');
});

const trig = (name, count, delay) =>
	`5:::{"name":"trigger","args":[{"name":"${name}","args":["k"],"count":${count},"delay":${delay}}]}`;
const expected = (name, count) =>
	Array.from({length: count}, (_, i) => `5:::{"name":"${name}","args":["k",${i}]}`);

test('kill -9 of sio-wsd with packets queued: polling through the gateway gets every one, in order', async () => {
	// a: delayed packets (in the outbox, not yet due, so certainly unwritten);
	// b: many immediate packets, killed right after the POST returns: some
	// may have reached the websocket, the rest must come by polling.
	const a = await s.wsSession();
	const b = await s.wsSession({via: 'proxy'});
	const pid = s.wsd.pid;
	await s.post(a.sid, trig('da', 40, 1500));
	await s.post(b.sid, trig('db', 300, 0));
	s.wsd.proc.kill('SIGKILL');
	const {sig} = await s.wsd.exited;
	assert.equal(sig, 'SIGKILL');
	const t0 = Date.now();
	// Each session's `1::` went out on its websocket: polling says it
	// again only if that write was never recorded (killed first).
	const hello = (sid) => (s.sql(`SELECT hello FROM sessions WHERE sid = '${sid}'`) === '1' ? [] : ['1::']);
	const helloA = hello(a.sid);
	const gotA = await s.collect(a.sid, 40 + helloA.length, 20000);
	assert.deepEqual(gotA, [...helloA, ...expected('da', 40)], 'session a: all 40, in order');

	// b: what reached the websocket before the kill, then what polling gets.
	const onWs = [];
	for (;;) {
		const ev = await b.next(5000);
		if (ev.type === 'text' && ev.data !== '1::' && ev.data !== '2::') onWs.push(ev.data);
		if (ev.type === 'end') break;
	}
	const all = expected('db', 300);
	assert.deepEqual(onWs, all.slice(0, onWs.length), 'the websocket got a prefix, in order');
	// Packets written before the kill but not yet deleted come again
	// (at-least-once): the polled part may start before onWs.length.
	const polled = [];
	const deadline = Date.now() + 20000;
	for (let idle = false; polled.at(-1) !== all.at(-1) && !(idle && onWs.length === all.length);) {
		assert.ok(Date.now() < deadline, `polled so far: ${polled.length}, last ${polled.at(-1)}`);
		const got = await s.poll(b.sid);
		idle = got.length === 1 && got[0] === '8::';
		polled.push(...got.filter((p) => p !== '8::' && p !== '2::'));
	}
	const helloB = hello(b.sid);
	assert.deepEqual(polled.slice(0, helloB.length), helloB, 'no 1:: again unless unrecorded');
	polled.splice(0, helloB.length);
	const start = polled.length ? all.indexOf(polled[0]) : all.length;
	assert.ok(start >= 0 && start <= onWs.length,
		`polling resumes at ${start}, the websocket stopped at ${onWs.length}`);
	assert.deepEqual(polled, all.slice(start), 'polling gets the rest, in order');
	console.log(`# kill -9 (pid ${pid}): ${onWs.length} of 300 on the websocket, ` +
		`${polled.length} polled (${onWs.length - start} again), recovered in ${Date.now() - t0} ms`);

	// A new sio-wsd serves the same sessions again.
	await s.startWsd();
	const ws = await s.ws(a.sid);
	await echoes(ws);
	ws.close();
	await ws.waitClose();
});
