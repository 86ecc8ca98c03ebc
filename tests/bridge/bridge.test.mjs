/*
 * app = bridge (docs/bridge.md, "The bridge") against lighttpd +
 * sio-gateway + sio-wsd, with socket.io-client 0.9.16 over websocket and
 * xhr-polling and a Node application (tests/bridge/app.mjs) that checks
 * every signature with node's crypto. What a client does reaches the
 * application as signed events (open with query, cookies and address;
 * connect, event with its ack id, disconnect, close with its reason);
 * what the application answers reaches the clients (acks, emits, rooms,
 * data, a refused connect, a disconnect). Then the failures: an
 * application that sleeps on one session while another exchanges acks, one
 * that is down, answers 500 or garbage; an answer naming an ended session;
 * 1,000 numbered events over 10 sessions, in order per session.
 *
 *   node --test tests/bridge/          (make bridge)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {startServers, until} from '../lib/servers.mjs';
import {io, waitFor, emitAck, shutdown, openSession, freePort} from '../lib/client.mjs';
import {startApp} from './app.mjs';

const SECRET = crypto.randomBytes(24).toString('hex');
const CONNECT_TIMEOUT = 10000;
const TRANSPORTS = ['websocket', 'xhr-polling'];

let seq = 0;
const token = (what) => `${what}-${process.pid}-${++seq}`;

async function open(srv, transport, {endpoints = ['', '/chat'], query} = {}) {
	const {sock, nsp} = await openSession(io, `http://127.0.0.1:${srv.port}`,
	    transport, {endpoints, query, ms: CONNECT_TIMEOUT});
	return {sock, nsp, sid: sock.sessionid, transport};
}

/* The bridge's conf for app (its URL), with extra settings. */
const conf = (url, extra = {}) => ({
	app: 'bridge', bridge_url: url, bridge_secret: SECRET, bridge_endpoints: '/chat',
	bridge_timeout: 10, log_level: 'info', ...extra,
});

describe('the bridge to a Node application', () => {
	let s, app;
	before(async () => {
		app = await startApp(SECRET);
		s = await startServers(conf(app.url, {request_cookies: 'kept'}));
	});
	after(async () => {
		if (s) await s.stop();
		if (app) await app.close();
	});

	for (const tr of TRANSPORTS) {
		test(`${tr}: open, connect, an event's ack, an emit back, close reach the application and the client`, async () => {
			const tok = token(tr);
			const x = await open(s, tr, {query: `who=${tok}`});
			const opened = await app.next((e) => e.type === 'open' && e.sid === x.sid);
			assert.equal(opened.query.who, tok);
			assert.equal(opened.endpoint, '');
			assert.match(opened.address, /^(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/);
			assert.equal(typeof opened.seq, 'number');
			assert.equal(opened.try, 1);
			assert.deepEqual(opened.headersSeen, {event: 'open', session: x.sid});
			const connected = await app.next((e) => e.type === 'connect' && e.sid === x.sid);
			assert.equal(connected.endpoint, '/chat');
			// an ack the application answers
			assert.deepEqual(await emitAck(x.nsp['/chat'], 'ping', tok), [tok, 'pong']);
			const ping = app.of(x.sid).find((e) => e.name === 'ping');
			assert.equal(ping.endpoint, '/chat');
			assert.deepEqual(ping.args, [tok]);
			assert.equal(typeof ping.ack, 'number');
			// an emit to the session itself, on the event's endpoint
			const echoed = waitFor(x.nsp['/chat'], 'echo', {match: (a) => a[0] === tok, what: 'echo'});
			x.nsp['/chat'].emit('echo', tok);
			assert.deepEqual(await echoed, [tok]);
			// a plain message and a json message
			x.nsp[''].send(`m-${tok}`);
			x.nsp[''].json.send({tok});
			const m = await app.next((e) => e.type === 'message' && e.sid === x.sid);
			assert.equal(m.message, `m-${tok}`);
			assert.equal(m.ack, undefined);
			const j = await app.next((e) => e.type === 'json' && e.sid === x.sid);
			assert.deepEqual(j.message, {tok});
			// seq grows with each event of the session
			const seqs = app.of(x.sid).map((e) => e.seq);
			assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
			x.sock.disconnect();
			const closed = await app.next((e) => e.type === 'close' && e.sid === x.sid);
			assert.equal(closed.reason, 'client disconnect');
			const disc = app.of(x.sid).filter((e) => e.type === 'disconnect');
			assert.deepEqual(disc.map((e) => e.endpoint), ['/chat']);
			assert(disc[0].seq < closed.seq, 'disconnect before close');
			assert.equal(app.bad.length, 0);
		});
	}

	test('a refused connect: the namespace gets an error, not a connect, and is not connected', async () => {
		const x = await open(s, 'websocket', {endpoints: [''], query: 'deny=1'});
		const ns = x.sock.of('/chat');
		let connects = 0;
		ns.on('connect', () => connects++);
		const [reason] = await waitFor(ns, 'connect_failed', {what: 'the refusal'});
		assert.equal(reason, 'unauthorized');
		await until('the connect event', () => app.of(x.sid).some((e) => e.type === 'connect'));
		assert.equal(s.sql(`SELECT count(*) FROM endpoints WHERE sid='${x.sid}' AND endpoint='/chat'`), '0');
		// the root is unharmed
		assert.deepEqual(await emitAck(x.nsp[''], 'ping', 'still'), ['still', 'pong']);
		assert.equal(connects, 0);
		shutdown(x.sock);
	});

	test('a connect the application has not answered yet: the endpoint is not connected', async () => {
		const x = await open(s, 'xhr-polling', {endpoints: [''], query: 'slow=1'});
		const ns = x.sock.of('/chat');
		const connected = waitFor(ns, 'connect', {what: 'the accepted connect', ms: 10000});
		await app.next((e) => e.type === 'connect' && e.sid === x.sid);
		// the application holds its answer: meanwhile no row, so no
		// broadcast to /chat reaches the session and its events there go
		// nowhere
		assert.equal(s.sql(`SELECT count(*) FROM endpoints WHERE sid='${x.sid}' AND endpoint='/chat'`), '0');
		app.held.get(x.sid)();
		await connected;
		assert.equal(s.sql(`SELECT count(*) FROM endpoints WHERE sid='${x.sid}' AND endpoint='/chat'`), '1');
		assert.deepEqual(await emitAck(ns, 'ping', 'in'), ['in', 'pong']);
		shutdown(x.sock);
	});

	test('rooms, exclude-self and data set by the application', async () => {
		const a = await open(s, 'websocket'), b = await open(s, 'xhr-polling');
		const room = token('room'), tok = token('said');
		await emitAck(a.nsp['/chat'], 'join', room);
		await emitAck(b.nsp['/chat'], 'join', room);
		let echo = 0;
		a.nsp['/chat'].on('said', () => echo++);
		const heard = waitFor(b.nsp['/chat'], 'said', {match: (x) => x[0] === tok, what: 'the room emit'});
		a.nsp['/chat'].emit('say', room, tok);
		assert.deepEqual(await heard, [tok]);
		await emitAck(a.nsp[''], 'set', 'nick', tok);
		assert.equal(s.sql(`SELECT value FROM data WHERE sid='${a.sid}' AND key='nick'`), tok);
		// what a received after b heard: a marker proves the order
		assert.deepEqual(await emitAck(a.nsp['/chat'], 'ping', 'mark'), ['mark', 'pong']);
		assert.equal(echo, 0, 'the sender was excluded');
		shutdown(a.sock);
		shutdown(b.sock);
	});

	test('a disconnect action ends the session: the client is told, the application gets close', async () => {
		const x = await open(s, 'xhr-polling', {endpoints: ['']});
		const gone = waitFor(x.sock, 'disconnect', {what: 'the disconnect'});
		x.nsp[''].emit('bye');
		await gone;
		const closed = await app.next((e) => e.type === 'close' && e.sid === x.sid);
		assert.equal(closed.reason, 'published');
		shutdown(x.sock);
	});

	test('an application that sleeps 5 s on one session: another exchanges acks meanwhile', async () => {
		const slow = await open(s, 'websocket', {endpoints: ['']});
		const fast = await open(s, 'xhr-polling', {endpoints: ['']});
		const fastWs = await open(s, 'websocket', {endpoints: ['']});
		let slept = false;
		const sleeping = new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error('no ack of sleep in 15 s')), 15000);
			slow.nsp[''].emit('sleep', 5000, 'woke', (...r) => {
				clearTimeout(t);
				slept = true;
				resolve(r);
			});
		});
		await app.next((e) => e.sid === slow.sid && e.name === 'sleep');
		// the slow session's next event waits behind its first
		slow.nsp[''].emit('echo', 'after-sleep');
		for (let i = 0; i < 10; i++) {
			assert.deepEqual(await emitAck(fast.nsp[''], 'ping', i), [i, 'pong']);
			assert.deepEqual(await emitAck(fastWs.nsp[''], 'ping', i), [i, 'pong']);
		}
		assert.equal(slept, false, 'twenty acks answered while the sleeper sleeps');
		assert(!app.of(slow.sid).some((e) => e.name === 'echo'), 'one event of a session at a time');
		assert.deepEqual(await sleeping, ['woke']);
		await app.next((e) => e.sid === slow.sid && e.name === 'echo');
		for (const x of [slow, fast, fastWs]) shutdown(x.sock);
	});

	test('a response naming a session that has ended: the rest of it applies, the dead target is logged', async () => {
		const dead = await open(s, 'xhr-polling', {endpoints: ['']});
		dead.sock.disconnect();
		await app.next((e) => e.type === 'close' && e.sid === dead.sid);
		const x = await open(s, 'websocket', {endpoints: ['']});
		assert.deepEqual(await emitAck(x.nsp[''], 'tell', dead.sid, 'hello'), ['told']);
		await until('the log line', () => /no such session/.test(s.logs()));
		assert.deepEqual(await emitAck(x.nsp[''], 'ping', 1), [1, 'pong']);
		shutdown(x.sock);
	});

	for (const [what, args] of [['500', ['status', 500]], ['invalid JSON', ['garbage']]]) {
		test(`an answer of ${what}: the client gets an error packet, the session goes on`, async () => {
			const x = await open(s, 'websocket', {endpoints: ['']});
			const err = waitFor(x.nsp[''], 'error', {what: 'the error packet'});
			x.nsp[''].emit(...args);
			await err;
			await until('the queue emptied', () => s.sql(`SELECT count(*) FROM bridge_queue WHERE sid='${x.sid}'`) === '0');
			assert.deepEqual(await emitAck(x.nsp[''], 'ping', 2), [2, 'pong']);
			const tries = app.of(x.sid).filter((e) => e.name === args[0]);
			assert.equal(tries.length, 1, 'not retried');
			shutdown(x.sock);
		});
	}

	test('503 is retried with the try count, then reported', async () => {
		const x = await open(s, 'xhr-polling', {endpoints: ['']});
		const err = waitFor(x.nsp[''], 'error', {what: 'the error packet', ms: 15000});
		x.nsp[''].emit('status', 503);
		await err;
		const tries = app.of(x.sid).filter((e) => e.name === 'status');
		assert.deepEqual(tries.map((e) => e.try), [1, 2, 3, 4]);
		assert.equal(new Set(tries.map((e) => e.seq)).size, 1);
		shutdown(x.sock);
	});

	test('1,000 numbered events over 10 sessions reach the application in each session\'s order', async () => {
		const xs = [];
		for (let i = 0; i < 10; i++) xs.push(await open(s, TRANSPORTS[i % 2], {endpoints: ['']}));
		for (let n = 0; n < 100; n++)
			for (const x of xs) x.nsp[''].emit('count', n);
		const all = () => xs.every((x) => app.of(x.sid).filter((e) => e.name === 'count').length >= 100);
		await until('1,000 events at the application', all, 60000, 50);
		for (const x of xs) {
			const got = app.of(x.sid).filter((e) => e.name === 'count');
			assert.deepEqual(got.map((e) => e.args[0]), [...Array(100).keys()], `${x.transport} ${x.sid}`);
			const seqs = got.map((e) => e.seq);
			assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
		}
		for (const x of xs) shutdown(x.sock);
	});
});

describe('the bridge to an application that is down', () => {
	let s, port;
	before(async () => {
		// a port bound and closed: connection refused
		port = await freePort();
		s = await startServers(conf(`http://127.0.0.1:${port}/app`, {bridge_retries: 2}));
	});
	after(async () => {
		if (s) await s.stop();
	});

	for (const tr of TRANSPORTS)
		test(`${tr}: retried, then the client gets an error packet and the session stays usable`, async () => {
			const x = await open(s, tr, {endpoints: ['']});
			const err = waitFor(x.nsp[''], 'error', {what: 'the error packet', ms: 20000});
			x.nsp[''].emit('ping', 1);
			await err;
			await until('the events dropped', () => s.sql(`SELECT count(*) FROM bridge_queue WHERE sid='${x.sid}'`) === '0', 20000);
			assert.match(s.logs(), /bridge: .* failed \(try 3\)/);
			assert.equal(x.sock.connected, true);
			shutdown(x.sock);
		});

	test('an application that comes back gets the events queued since, in order', async () => {
		const x = await open(s, 'websocket', {endpoints: ['']});
		const app = await startAppOn(port);
		try {
			x.nsp[''].emit('ping', 'back');
			const e = await app.next((ev) => ev.sid === x.sid && ev.name === 'ping', 15000);
			assert.deepEqual(e.args, ['back']);
		} finally {
			await app.close();
		}
		shutdown(x.sock);
	});
});

describe('the bridge from sio-gateway as CGI (Apache mod_cgid, no sio-wsd)', () => {
	let s, app;
	before(async () => {
		app = await startApp(SECRET);
		s = await startServers(conf(app.url), {server: 'apache-cgi', wsd: 'none'});
	});
	after(async () => {
		if (s) await s.stop();
		if (app) await app.close();
	});

	test('each request sends its events after it answered: acks, emits, order, close', async () => {
		const x = await open(s, 'xhr-polling');
		assert.deepEqual(await emitAck(x.nsp['/chat'], 'ping', 'cgi'), ['cgi', 'pong']);
		const echoed = waitFor(x.nsp[''], 'echo', {match: (a) => a[0] === 'cgi-echo', what: 'echo'});
		x.nsp[''].emit('echo', 'cgi-echo');
		await echoed;
		for (let n = 0; n < 20; n++) x.nsp[''].emit('count', n);
		await until('20 events', () => app.of(x.sid).filter((e) => e.name === 'count').length === 20, 20000);
		assert.deepEqual(app.of(x.sid).filter((e) => e.name === 'count').map((e) => e.args[0]),
			[...Array(20).keys()]);
		x.sock.disconnect();
		const closed = await app.next((e) => e.type === 'close' && e.sid === x.sid);
		assert.equal(closed.reason, 'client disconnect');
		assert.equal(app.bad.length, 0);
		shutdown(x.sock);
	});
});

describe('bridge_open = wait: the handshake waits for the answer to open', () => {
	let s, app;
	before(async () => {
		app = await startApp(SECRET);
		s = await startServers(conf(app.url, {bridge_open: 'wait', bridge_data: 'greeted'}));
	});
	after(async () => {
		if (s) await s.stop();
		if (app) await app.close();
	});

	test('a rejected open is the handshake\'s 403, and no session is stored', async () => {
		const before = s.sql('SELECT count(*) FROM sessions');
		const r = await s.request('GET', `/?reject=1&t=${Date.now()}`);
		assert.equal(r.status, 403, r.body);
		assert.equal(s.sql('SELECT count(*) FROM sessions'), before);
		const e = await app.next((ev) => ev.type === 'open' && ev.query.reject === '1');
		assert.equal(e.seq, 0);
		// the client hears of it as of a C on_open's refusal: an error, no
		// connect (no transport was opened: nothing to shut down)
		const x = io.connect(`http://127.0.0.1:${s.port}`, {'force new connection': true,
			'auto connect': false, reconnect: false, query: 'reject=1'});
		let connected = false;
		x.on('connect', () => { connected = true; });
		const failed = waitFor(x.socket, 'error', {what: 'the refused handshake'});
		x.socket.connect();
		await failed;
		assert.equal(connected, false);
		assert.equal(x.socket.connected, false);
	});

	for (const tr of TRANSPORTS)
		test(`${tr}: the answer's actions are the session's first packets, before its later events`, async () => {
			const w = token('hello');
			let first;
			const x = await openSession(io, `http://127.0.0.1:${s.port}`, tr, {endpoints: [''],
				query: `welcome=${w}`, ms: CONNECT_TIMEOUT,
				prepare: (sock, ns) => ns[''].once('message', (m) => { first = m; })});
			await until('the welcome', () => first !== undefined);
			assert.equal(first, w);
			x.nsp[''].emit('echo', 'after');
			const e = await app.next((ev) => ev.sid === x.sock.sessionid && ev.name === 'echo');
			assert.deepEqual(e.data, {greeted: w}, 'the answer\'s set applied before');
			shutdown(x.sock);
		});
});

/* The test application on a given port (the one the conf names). */
async function startAppOn(port) {
	const app = await startApp(SECRET);
	await app.close();
	await new Promise((resolve) => app.server.listen(port, '127.0.0.1', resolve));
	return app;
}

