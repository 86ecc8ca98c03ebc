/*
 * Interop: socket.io-client 0.9.16 (Node) against a server running the
 * testapp contract (docs/development.md, "The test application"): siogate, or bench/peer/server.js.
 *
 *   SIO_URL=http://127.0.0.1:18000 SIO_TRANSPORT=xhr-polling \
 *       node --test tests/interop/
 *
 * Environment:
 *   SIO_URL              server base URL (default http://127.0.0.1:18000)
 *   SIO_TRANSPORT        websocket | xhr-polling (default xhr-polling) |
 *                        fallback: the client is given ['websocket',
 *                        'xhr-polling'] with a short connect timeout, the
 *                        websocket upgrade is expected to fail (sio-wsd not
 *                        running, or the upgrade refused), and every session
 *                        must move to xhr-polling with the sid of its one
 *                        handshake before the contract runs on it
 *   SIO_FALLBACK_TIMEOUT ms, the 'connect timeout' in fallback mode (default 1500)
 *   SIO_CONNECT_TIMEOUT  ms to wait for a connect (default 10000)
 *   SIO_EVENT_TIMEOUT    ms to wait for any other event (default: the
 *                        connect timeout)
 *
 * Every wait is on an event and fails the test after its timeout.  Every test
 * opens its own sessions and closes them in t.after().
 *
 * Client 0.9.16 notes (see also socketio-protocol.md 6.6):
 * - the `transports` option is merged index-wise into the shared
 *   io.transports array, so sockets are created with 'auto connect': false,
 *   given their own socket.options.transports, then connect()ed;
 * - message and json packets both arrive as 'message' (json parsed);
 * - send(msg, fn) sends `3:<id>::` (no `+`): the server auto-acks and fn gets
 *   no arguments; emit(ev, ..., fn) always sends `5:<id>+::`;
 * - a server `0::` publishes 'disconnect' with 'booted' on the socket and on
 *   every namespace, and does not reconnect; `0::/chat` emits 'disconnect'
 *   with reason undefined on that namespace only.
 */
import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {io, defaults, waitFor, collect, emitAck, shutdown, httpGet} from '../lib/client.mjs';

const URL = (process.env.SIO_URL || 'http://127.0.0.1:18000').replace(/\/+$/, '');
const TRANSPORT = process.env.SIO_TRANSPORT || 'xhr-polling';
const CONNECT_TIMEOUT = Number(process.env.SIO_CONNECT_TIMEOUT || 10000);
const EVENT_TIMEOUT = Number(process.env.SIO_EVENT_TIMEOUT || CONNECT_TIMEOUT);
defaults.ms = EVENT_TIMEOUT;
const FALLBACK = TRANSPORT === 'fallback';
const FALLBACK_TIMEOUT = Number(process.env.SIO_FALLBACK_TIMEOUT || 1500);
/* the transports the client is given, and the one it must end up on */
const OFFERED = FALLBACK ? ['websocket', 'xhr-polling'] : [TRANSPORT];
const EXPECTED = FALLBACK ? 'xhr-polling' : TRANSPORT;
const LABEL = FALLBACK ? 'xhr-polling after a failed websocket' : TRANSPORT;

if (!['websocket', 'xhr-polling', 'fallback'].includes(TRANSPORT)) {
	throw new Error('SIO_TRANSPORT must be websocket, xhr-polling or fallback, not ' + TRANSPORT);
}
if (!(CONNECT_TIMEOUT > 0) || !(EVENT_TIMEOUT > 0) || !(FALLBACK_TIMEOUT > 0)) {
	throw new Error('SIO_CONNECT_TIMEOUT, SIO_EVENT_TIMEOUT and SIO_FALLBACK_TIMEOUT must be positive ms');
}

const ENDPOINTS = ['', '/chat'];
const slice = (args) => Array.prototype.slice.call(args);
const epName = (ep) => (ep === '' ? 'root' : ep);
let seq = 0;
const token = (what) => `${what}-${process.pid}-${++seq}`;

function sendAck(nsp, data, json) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
		    `timed out after ${EVENT_TIMEOUT} ms waiting for the ack of a message`)),
		    EVENT_TIMEOUT);
		(json ? nsp.json : nsp).send(data, function () {
			clearTimeout(timer);
			resolve(slice(arguments));
		});
	});
}

/*
 * Opens a new session over TRANSPORT with the given namespaces and waits
 * until every one of them is connected.  Returns {sock, nsp: {ep: ns}}.
 * The session is shut down when the test ends.
 *
 * In fallback mode the client tries websocket first; the upgrade fails, and
 * after FALLBACK_TIMEOUT ('connect timeout') it moves on to xhr-polling.
 * The move must stay inside the session: one handshake, and the polling
 * transport opened with the sid the websocket was tried with.
 */
async function open(t, endpoints, {reconnect = false} = {}) {
	const first = io.connect(URL + endpoints[0], {
		'auto connect': false,
		'force new connection': true,
		'connect timeout': FALLBACK ? FALLBACK_TIMEOUT : CONNECT_TIMEOUT,
		'reconnect': reconnect,
		'max reconnection attempts': 3,
	});
	const sock = first.socket;
	sock.options.transports = OFFERED.slice();
	t.after(() => shutdown(sock));

	/* every handshake, and the sid each transport was opened with */
	let handshakes = 0;
	const handshake = sock.handshake;
	sock.handshake = function () {
		handshakes++;
		return handshake.apply(this, arguments);
	};
	const tried = [];
	sock.on('connecting', (name) => tried.push({name, sid: sock.sessionid}));
	const errors = [];

	const nsp = {};
	for (const ep of endpoints) {
		nsp[ep] = sock.of(ep);
	}
	const connectMs = CONNECT_TIMEOUT + (FALLBACK ? FALLBACK_TIMEOUT : 0);
	const connected = Promise.all(endpoints.map((ep) => waitFor(nsp[ep], 'connect',
	    {ms: connectMs, what: `namespace ${epName(ep)} over ${LABEL}`})));
	let onFail;
	const failed = new Promise((resolve, reject) => {
		onFail = (what) => (arg) => reject(new Error(
		    `${what} while connecting to ${URL} over ${LABEL}` +
		    (arg !== undefined ? `: ${arg}` : '')));
		sock.on('connect_failed', onFail('connect_failed'));
		/* the failed upgrade is published as 'error' before the move */
		sock.on('error', FALLBACK ? (e) => errors.push(e) : onFail('error'));
	});
	failed.catch(() => {});
	sock.connect();
	await Promise.race([connected, failed]);
	assert.ok(sock.connected, 'socket connected');
	assert.equal(sock.transport.name, EXPECTED, 'transport actually used');
	if (FALLBACK) {
		assert.deepEqual(tried.map((x) => x.name), OFFERED, 'transports tried in order');
		assert.equal(handshakes, 1, 'one handshake');
		assert.match(tried[0].sid, /^[A-Za-z0-9_-]+$/);
		assert.equal(sock.sessionid, tried[0].sid, 'the sid the websocket was tried with');
		assert.equal(sock.transport.sessid, tried[0].sid, 'xhr-polling opened on that sid');
	}
	return {sock, nsp};
}

const TEXTS = ['😀x', 'a:b+c', '6:::1+["x"]', 'wörld 😀:+:+ </script> \\u0041 \\', ''];
/*
 * U+2028/U+2029 survive messages and events, but not acks in 0.9.x: both
 * sides decode ack data with /^([0-9]+)(\+)?(.*)/, whose `.` stops at a line
 * terminator, so the JSON is cut and the callback gets no arguments.
 */
const LINE_SEP = 'a\u2028b\u2029c';

for (const ep of ENDPOINTS) {
	describe(`testapp on ${epName(ep)} over ${LABEL}`, () => {
		test('connect', async (t) => {
			const {sock, nsp} = await open(t, [ep]);
			assert.equal(sock.transport.name, EXPECTED);
			assert.match(sock.sessionid, /^[A-Za-z0-9_-]+$/);
			assert.ok(sock.of('') !== undefined);
			assert.equal(nsp[ep].name, ep);
		});

		test('message echo', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const tok = token('msg');
			const got = waitFor(s, 'message', {match: (a) => a[0] === tok, what: 'echo'});
			s.send(tok);
			const args = await got;
			assert.equal(typeof args[0], 'string');
		});

		test('message with a callback is auto-acked without arguments', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const tok = token('msgack');
			const echoed = waitFor(s, 'message', {match: (a) => a[0] === tok});
			const ack = await sendAck(s, tok, false);
			assert.deepEqual(ack, []);
			await echoed;
		});

		test('message and json with a data-ack request are acked [data]', async (t) => {
			/*
			 * The 0.9.16 API never sends `3:<id>+::`; build the packet
			 * the way namespace.send() does, with the `+` flag.
			 */
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const raw = (type, data) => new Promise((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(
				    `timed out after ${EVENT_TIMEOUT} ms waiting for the data ack of a ${type}`)),
				    EVENT_TIMEOUT);
				const id = ++s.ackPackets;
				s.acks[id] = function () {
					clearTimeout(timer);
					resolve(slice(arguments));
				};
				s.packet({type, data, id, ack: 'data'});
			});
			const tok = token('rawmsg');
			const echoed = waitFor(s, 'message', {match: (a) => a[0] === tok});
			assert.deepEqual(await raw('message', tok + ':+😀'), [tok + ':+😀']);
			const obj = {tok, v: ['a:b+c']};
			assert.deepEqual(await raw('json', obj), [obj]);
			s.send(tok);
			await echoed;
		});

		test('json echo', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const tok = token('json');
			const obj = {tok, n: 1.5, list: [true, null, 'a:b+c', '😀'], nested: {k: ''}};
			const got = waitFor(s, 'message', {
				match: (a) => a[0] !== null && typeof a[0] === 'object' && a[0].tok === tok,
				what: 'json echo',
			});
			s.json.send(obj);
			const [echo] = await got;
			assert.deepEqual(echo, obj);
		});

		test('event with ack gets the same args', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			assert.deepEqual(await emitAck(s, 'echo', 'x', 2), ['x', 2]);
			assert.deepEqual(await emitAck(s, 'echo', {a: [1, {b: null}]}, false),
			    [{a: [1, {b: null}]}, false]);
			assert.deepEqual(await emitAck(s, 'echo'), []);
		});

		test('event without ack gets echo back', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const tok = token('ev');
			const got = waitFor(s, 'echo', {match: (a) => a[0] === tok, what: 'echo event'});
			s.emit('echo', tok, 2, {k: [1]});
			assert.deepEqual(await got, [tok, 2, {k: [1]}]);
		});

		test('non-BMP text, ":" and "+" survive', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			for (const text of TEXTS) {
				assert.deepEqual(await emitAck(s, 'echo', text), [text], 'event ack');
				const ev = waitFor(s, 'echo', {match: (a) => a[0] === text});
				s.emit('echo', text);
				assert.deepEqual(await ev, [text], 'event');
				if (text !== '') {
					const msg = waitFor(s, 'message', {match: (a) => a[0] === text});
					s.send(text);
					assert.deepEqual(await msg, [text], 'message');
				}
				const json = waitFor(s, 'message',
				    {match: (a) => Array.isArray(a[0]) && a[0][0] === text});
				s.json.send([text]);
				assert.deepEqual(await json, [[text]], 'json');
			}
			const ls = waitFor(s, 'echo', {match: (a) => a[0] === LINE_SEP});
			s.emit('echo', LINE_SEP);
			assert.deepEqual(await ls, [LINE_SEP], 'U+2028 in an event');
			const lsm = waitFor(s, 'message', {match: (a) => a[0] === LINE_SEP});
			s.send(LINE_SEP);
			assert.deepEqual(await lsm, [LINE_SEP], 'U+2028 in a message');
			/* several packets in flight at once (one payload on polling) */
			const all = collect(s, 'echo', TEXTS.length,
			    {match: (a) => a.length === 2 && a[0] === 'batch'});
			for (const text of TEXTS) {
				s.emit('echo', 'batch', text);
			}
			assert.deepEqual((await all).map((a) => a[1]).sort(), TEXTS.slice().sort());
		});

		test('trigger with defaults emits one `triggered` without args', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const got = waitFor(s, 'triggered', {what: 'triggered'});
			const ack = emitAck(s, 'trigger', {});
			assert.deepEqual(await got, []);
			assert.deepEqual(await ack, [1]);
		});

		test('server-triggered events, count 3 with index', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const name = token('tick');
			const got = collect(s, name, 3, {what: name});
			const ack = emitAck(s, 'trigger', {name, args: ['a', {b: 1}], count: 3});
			assert.deepEqual(await got, [['a', {b: 1}, 0], ['a', {b: 1}, 1], ['a', {b: 1}, 2]]);
			assert.deepEqual(await ack, [3]);
		});

		test('triggered events with ack: true, client acks come back as `acked`', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const name = token('ask');
			const acked = collect(s, 'acked', 2, {match: (a) => a[0] === name, what: 'acked'});
			const asked = collect(s, name, 2, {what: name});
			s.on(name, function () {
				const args = slice(arguments);
				const fn = args.pop();
				if (typeof fn === 'function') {
					fn(name, args[1], '😀+:', {i: args[1]});
				}
			});
			const ack = emitAck(s, 'trigger', {name, args: ['q'], count: 2, ack: true});
			const events = await asked;
			assert.ok(events.every((a) => typeof a[a.length - 1] === 'function'),
			    'each event asks for a data ack');
			assert.deepEqual(events.map((a) => a.slice(0, -1)), [['q', 0], ['q', 1]]);
			const backs = (await acked).sort((x, y) => x[1] - y[1]);
			assert.deepEqual(backs, [[name, 0, '😀+:', {i: 0}], [name, 1, '😀+:', {i: 1}]]);
			assert.deepEqual(await ack, [2]);
		});

		test('trigger with delay 200', async (t) => {
			const {nsp} = await open(t, [ep]);
			const s = nsp[ep];
			const name = token('late');
			const got = waitFor(s, name, {ms: EVENT_TIMEOUT + 200, what: name});
			const t0 = process.hrtime.bigint();
			const ack = emitAck(s, 'trigger', {name, args: ['d'], delay: 200});
			const args = await got;
			const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
			assert.deepEqual(args, ['d']);
			assert.ok(elapsed >= 190, `event after ${elapsed.toFixed(1)} ms, want >= 200`);
			assert.deepEqual(await ack, [1]);
		});

		test('broadcast reaches two clients, sender included', async (t) => {
			const a = (await open(t, [ep])).nsp[ep];
			const b = (await open(t, [ep])).nsp[ep];
			const tok = token('bc');
			const match = (args) => args[0] === tok;
			const atA = waitFor(a, 'broadcast', {match, what: 'at the sender'});
			const atB = waitFor(b, 'broadcast', {match, what: 'at the other client'});
			const ack = emitAck(a, 'broadcast', tok, {n: 1}, '😀');
			assert.deepEqual(await atA, [tok, {n: 1}, '😀']);
			assert.deepEqual(await atB, [tok, {n: 1}, '😀']);
			assert.deepEqual(await ack, []);

			/* and the other way round, without an ack */
			const tok2 = token('bc');
			const match2 = (args) => args[0] === tok2;
			const atA2 = waitFor(a, 'broadcast', {match: match2});
			const atB2 = waitFor(b, 'broadcast', {match: match2});
			b.emit('broadcast', tok2);
			assert.deepEqual(await atA2, [tok2]);
			assert.deepEqual(await atB2, [tok2]);
		});
	});
}

describe(`kick and disconnect over ${LABEL}`, () => {
	test('kick on root: disconnect "booted", no reconnect', async (t) => {
		const {sock, nsp} = await open(t, ['', '/chat'], {reconnect: true});
		let reconnecting = 0;
		sock.on('reconnecting', () => reconnecting++);
		const onRoot = waitFor(nsp[''], 'disconnect', {what: 'root disconnect'});
		const onChat = waitFor(nsp['/chat'], 'disconnect', {what: '/chat disconnect'});
		const onSock = waitFor(sock, 'disconnect', {what: 'socket disconnect'});
		nsp[''].emit('kick');
		assert.deepEqual(await onRoot, ['booted']);
		assert.deepEqual(await onSock, ['booted']);
		assert.deepEqual(await onChat, ['booted']);
		/* onDisconnect() would start reconnecting right after publishing */
		await new Promise((resolve) => setImmediate(resolve));
		assert.equal(sock.connected, false);
		assert.ok(!sock.reconnecting, 'not reconnecting');
		assert.equal(sock.reconnectionTimer, undefined);
		assert.equal(reconnecting, 0);
	});

	test('kick with an ack request is acked first', async (t) => {
		const {sock, nsp} = await open(t, ['']);
		const onRoot = waitFor(nsp[''], 'disconnect', {what: 'root disconnect'});
		const ack = emitAck(nsp[''], 'kick');
		assert.deepEqual(await ack, []);
		assert.deepEqual(await onRoot, ['booted']);
		assert.equal(sock.connected, false);
	});

	test('kick on /chat: only /chat disconnects, root still echoes', async (t) => {
		const {sock, nsp} = await open(t, ['', '/chat'], {reconnect: true});
		let rootDown = false;
		nsp[''].on('disconnect', () => { rootDown = true; });
		sock.on('disconnect', () => { rootDown = true; });
		const onChat = waitFor(nsp['/chat'], 'disconnect', {what: '/chat disconnect'});
		nsp['/chat'].emit('kick');
		const [reason] = await onChat;
		assert.equal(reason, undefined, '0::/chat carries no reason');
		assert.deepEqual(await emitAck(nsp[''], 'echo', 'still', '😀'), ['still', '😀']);
		const ev = waitFor(nsp[''], 'echo', {match: (a) => a[0] === 'alive'});
		nsp[''].emit('echo', 'alive');
		await ev;
		assert.equal(rootDown, false, 'root not disconnected');
		assert.equal(sock.connected, true);
		assert.equal(sock.transport.name, EXPECTED);
	});

	test('client disconnect() on /chat leaves root working', async (t) => {
		const {sock, nsp} = await open(t, ['', '/chat']);
		const onChat = waitFor(nsp['/chat'], 'disconnect', {what: '/chat disconnect'});
		nsp['/chat'].disconnect();
		await onChat;
		assert.deepEqual(await emitAck(nsp[''], 'echo', 'root'), ['root']);
		assert.equal(sock.connected, true);
	});

	test('after the client\'s disconnect() its sid is an unknown one: a poll gets 7:::1+0', async (t) => {
		const {sock, nsp} = await open(t, ['']);
		assert.deepEqual(await emitAck(nsp[''], 'echo', 'bye'), ['bye']);
		const sid = sock.sessionid;
		const poll = (id) => httpGet(`${URL}/socket.io/1/xhr-polling/${id}?t=${Date.now()}-${++seq}`);
		const unknown = await poll('AAAAAAAAAAAAAAAAAAAAAA');
		assert.equal(unknown.body, '7:::1+0', 'an unknown sid');
		sock.disconnect();
		/* the client's 0:: is on its way: a poll that attaches before it
		 * arrives is the open transport (0:: or 8::); once it is handled,
		 * every poll is answered as for an unknown sid */
		const seen = [];
		for (let i = 0; i < 10 && seen.at(-1) !== unknown.body; i++) {
			seen.push((await poll(sid)).body);
		}
		assert.equal(seen.at(-1), unknown.body, `polls after disconnect(): ${JSON.stringify(seen)}`);
		for (const b of seen.slice(0, -1)) assert.match(b, /^(0::|8::)$/);
		const again = await poll(sid);
		assert.deepEqual([again.status, again.type, again.body], [unknown.status, unknown.type, unknown.body],
		    'answered exactly as an unknown sid');
		console.log(`# ${LABEL}: ${seen.length} poll(s) after disconnect() to reach 7:::1+0`);
	});

	for (const ep of ENDPOINTS) {
		test(`client disconnect() ends cleanly (${epName(ep)})`, async (t) => {
			const {sock, nsp} = await open(t, [ep], {reconnect: true});
			/* make sure the session is fully working first */
			assert.deepEqual(await emitAck(nsp[ep], 'echo', 'bye'), ['bye']);
			let reconnecting = 0;
			sock.on('reconnecting', () => reconnecting++);
			const onNsp = waitFor(nsp[ep], 'disconnect', {what: 'disconnect'});
			const onSock = waitFor(sock, 'disconnect', {what: 'socket disconnect'});
			sock.disconnect();
			assert.deepEqual(await onSock, ['booted']);
			assert.deepEqual(await onNsp, ['booted']);
			await new Promise((resolve) => setImmediate(resolve));
			assert.equal(sock.connected, false);
			assert.equal(sock.open, false);
			assert.ok(!sock.reconnecting, 'not reconnecting');
			assert.equal(reconnecting, 0);
		});
	}
});
