/*
 * Fallback inside one session with the real client (socket.io-client 0.9.16
 * in Node), against siogate running app = chat behind a web server whose
 * websocket route fails: sio-wsd not running (the proxy answers 502/503),
 * or the upgrade refused (403).  The client is given ['websocket',
 * 'xhr-polling'] and a short 'connect timeout'; it must move to xhr-polling
 * with the sid of its one handshake and receive what the application sent
 * on open (chat's welcome), then chat.  tests/interop/run-servers.sh runs
 * it behind lighttpd in both variants; the testapp contract over fallen-back
 * sessions is testapp.test.mjs with SIO_TRANSPORT=fallback.
 *
 *   SIO_APP=chat SIO_URL=http://127.0.0.1:18000 node --test tests/interop/fallback.test.mjs
 *
 * Environment:
 *   SIO_APP              must be chat, or the suite is skipped
 *   SIO_URL              server base URL (default http://127.0.0.1:18000)
 *   SIO_FALLBACK_TIMEOUT ms, the client's 'connect timeout' (default 1500)
 *   SIO_CONNECT_TIMEOUT  ms to wait for the connect after the fallback (10000)
 *   SIO_FALLBACK_VARIANT a label for the way the websocket fails (for the log)
 */
import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {io, shutdown, waitFor} from '../lib/client.mjs';

const URL = (process.env.SIO_URL || 'http://127.0.0.1:18000').replace(/\/+$/, '');
const FALLBACK_TIMEOUT = Number(process.env.SIO_FALLBACK_TIMEOUT || 1500);
const CONNECT_TIMEOUT = Number(process.env.SIO_CONNECT_TIMEOUT || 10000);
const VARIANT = process.env.SIO_FALLBACK_VARIANT || 'websocket failing';
const WELCOME = "Welcome! Emit 'join' with your name to enter a room.";
const skip = process.env.SIO_APP === 'chat' ? false :
	'needs a server with app = chat and a failing websocket route (SIO_APP=chat)';

/*
 * Connects with ['websocket', 'xhr-polling'] and records everything the
 * client does on the way: handshakes, transports tried with their sid,
 * errors, and every message from the first byte on.
 */
async function openFallback(t) {
	const root = io.connect(URL, {
		'auto connect': false,
		'force new connection': true,
		'connect timeout': FALLBACK_TIMEOUT,
		'reconnect': false,
	});
	const sock = root.socket;
	sock.options.transports = ['websocket', 'xhr-polling'];
	t.after(() => shutdown(sock));

	const rec = {handshakes: 0, tried: [], errors: [], messages: []};
	const handshake = sock.handshake;
	sock.handshake = function () {
		rec.handshakes++;
		return handshake.apply(this, arguments);
	};
	sock.on('connecting', (name) => rec.tried.push({name, sid: sock.sessionid}));
	sock.on('error', (e) => rec.errors.push(String(e && e.message || e)));
	root.on('message', (m) => rec.messages.push({m, transport: sock.transport.name}));
	let onFailed;
	const failed = new Promise((resolve, reject) => {
		onFailed = () => reject(new Error('connect_failed: no transport left'));
		sock.on('connect_failed', onFailed);
	});
	failed.catch(() => {});
	const connected = waitFor(root, 'connect', {what: `connect (${VARIANT})`,
		ms: CONNECT_TIMEOUT + FALLBACK_TIMEOUT});
	const t0 = Date.now();
	sock.connect();
	try {
		await Promise.race([connected, failed]);
	} finally {
		sock.removeListener('connect_failed', onFailed);
	}
	rec.ms = Date.now() - t0;
	return {sock, root, rec};
}

describe(`chat: websocket -> xhr-polling in one session (${VARIANT})`, {skip}, () => {
	test('falls back with the same sid and gets the welcome sent on open', async (t) => {
		const {sock, root, rec} = await openFallback(t);
		t.diagnostic(`connected over ${sock.transport.name} after ${rec.ms} ms, ` +
		    `sid ${sock.sessionid}, errors: ${JSON.stringify(rec.errors)}`);
		assert.equal(sock.transport.name, 'xhr-polling');
		assert.deepEqual(rec.tried.map((x) => x.name), ['websocket', 'xhr-polling'],
		    'websocket tried first, then xhr-polling');
		assert.equal(rec.handshakes, 1, 'one handshake: the same session');
		assert.match(rec.tried[0].sid, /^[A-Za-z0-9_-]+$/);
		assert.equal(rec.tried[1].sid, rec.tried[0].sid, 'same sid on both transports');
		assert.equal(sock.transport.sessid, rec.tried[0].sid, 'xhr-polling uses it');
		assert.ok(rec.ms >= FALLBACK_TIMEOUT - 50,
		    `moved on after the connect timeout (${rec.ms} ms)`);
		if (!rec.messages.some((x) => x.m === WELCOME)) {
			await waitFor(root, 'message', {match: ([m]) => m === WELCOME,
				what: 'the welcome', ms: CONNECT_TIMEOUT});
		}
		assert.deepEqual(rec.messages.map((x) => x.m), [WELCOME], 'the welcome, once');
		assert.equal(rec.messages[0].transport, 'xhr-polling');
	});

	test('two fallen-back clients join and chat', async (t) => {
		const a = await openFallback(t);
		const b = await openFallback(t);
		assert.notEqual(a.sock.sessionid, b.sock.sessionid);
		const room = `fallback-${process.pid}-${Date.now()}`;
		const join = (c, name) => new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no ack for join ${name}`)),
			    CONNECT_TIMEOUT);
			c.root.emit('join', name, room, (ok) => {
				clearTimeout(timer);
				resolve(ok);
			});
		});
		const aSeesB = waitFor(a.root, 'message', {match: ([m]) => m === `bob joined ${room}`,
			what: 'bob joining, at alice', ms: CONNECT_TIMEOUT});
		assert.equal(await join(a, 'alice'), true);
		assert.equal(await join(b, 'bob'), true);
		await aSeesB;
		const text = `hello after fallback 😀 ${Date.now()}`;
		const atB = waitFor(b.root, 'message', {match: ([m]) => m === `alice: ${text}`,
			what: 'alice at bob', ms: CONNECT_TIMEOUT});
		const atA = waitFor(a.root, 'message', {match: ([m]) => m === `alice: ${text}`,
			what: 'alice at alice', ms: CONNECT_TIMEOUT});
		a.root.send(text);
		await Promise.all([atA, atB]);
		assert.equal(a.sock.transport.name, 'xhr-polling');
		assert.equal(b.sock.transport.name, 'xhr-polling');
	});
});
