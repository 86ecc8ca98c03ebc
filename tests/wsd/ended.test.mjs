// ended.test.mjs: two details of socket.io 0.9's protocol, with raw
// requests and with socket.io-client 0.9.16, behind lighttpd (gateway and
// sio-wsd, tests/lib/servers.mjs). A session its client ended (`0::` on
// any transport, or the `?disconnect` GET) answers every later request on
// its sid at once as an unknown session does, and only the transport open
// when it ended got its `0::`. `1::` goes out once a session: another
// transport attaching to a connected session does not get it (a poll that
// did would answer `1::` alone, and the application's reply would wait for
// the next poll), but a client that never got it still does.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startServers, until, unframe} from '../lib/servers.mjs';
import {rawUpgrade} from '../lib/wsclient.mjs';

import {io, shutdown, openSession, waitFor} from '../lib/client.mjs';

let s;
before(async () => { s = await startServers({close_timeout: 30, polling_duration: 3}); });
after(async () => { if (s) await s.stop(); });

const UNKNOWN = 'AAAAAAAAAAAAAAAAAAAAAA';

// What a request on sid sees: status, type and body (the htmlfile prelude
// and the frames of a websocket included).
async function seen(kind, sid) {
	const t = Date.now();
	switch (kind) {
	case 'xhr GET':
	case 'jsonp GET':
	case 'htmlfile GET': {
		const tr = kind.split(' ')[0];
		const url = `/${tr === 'xhr' ? 'xhr-polling' : tr === 'jsonp' ? 'jsonp-polling' : 'htmlfile'}/${sid}?t=${t}&i=1`;
		const r = await s.request('GET', url, null, 10000);
		return `${r.status} ${r.headers['content-type']} ${r.body}`;
	}
	case 'POST': {
		const r = await s.request('POST', `/xhr-polling/${sid}?t=${t}`, '3:::late');
		return `${r.status} ${r.headers['content-type']} ${r.body}`;
	}
	case 'websocket':
	case 'websocket via lighttpd': {
		const ws = await s.ws(sid, {via: kind === 'websocket' ? 'wsd' : 'proxy'});
		const frames = [];
		for (;;) {
			const ev = await ws.next(5000);
			if (ev.type === 'end' || ev.type === 'close') break;
			if (ev.type === 'text') frames.push(ev.data);
		}
		return `101 ${frames.join('|')}`;
	}
	}
	throw new Error(kind);
}
const KINDS = ['xhr GET', 'jsonp GET', 'htmlfile GET', 'POST', 'websocket', 'websocket via lighttpd'];

// Every kind of request on sid is answered as on an unknown sid.
async function answersAsUnknown(sid, how) {
	for (const kind of KINDS) {
		const want = await seen(kind, UNKNOWN);
		assert.match(want, kind === 'POST' ? / 1$/ : /7:::1\+0/, `an unknown sid's ${kind}`);
		assert.equal(await seen(kind, sid), want, `${how}: a ${kind} is answered as an unknown sid's`);
	}
	console.log(`# ${how}: ${KINDS.length} kinds of request answered as an unknown sid's`);
}

test('a client that ends its session with 0:: on its websocket gets 0:: there, then every request on the sid is an unknown one\'s', async () => {
	const ws = await s.wsSession();
	ws.send('0::');
	await ws.expectText('0::');
	await ws.waitClose(3000);
	assert.equal(s.session(ws.sid).state, 'closed');
	await answersAsUnknown(ws.sid, '0:: on a websocket');
});

test('a client that ends its session with 0:: POSTed between polls: nothing is queued for it, and every request is an unknown one\'s', async () => {
	const sid = await s.handshake();
	assert.deepEqual(await s.poll(sid), ['1::']);
	await s.post(sid, '0::');
	assert.equal(s.session(sid).state, 'closed');
	assert.equal(s.queue(sid), 0, 'no 0:: waits for a transport that was not open');
	await answersAsUnknown(sid, '0:: POSTed');
});

test('the sync-disconnect GET while a websocket is open: the websocket gets 0::, later requests are unknown', async () => {
	const ws = await s.wsSession();
	const r = await s.request('GET', `//${ws.sid}/?disconnect=1`);
	assert.equal(r.status, 200);
	await ws.expectText('0::');
	await ws.waitClose(3000);
	await answersAsUnknown(ws.sid, '?disconnect');
});

test('the poll a client sends as soon as it has read 1:: does not get 1:: again (the record precedes the write)', async () => {
	// As socket.io-client 0.9's xhr-polling does: the next GET and the
	// first POST leave the moment the first poll's answer is read.
	// Three clients at a time (six requests: within max_requests_per_address),
	// so that the gateway's writer is busy.
	const ROUNDS = 30, AT_ONCE = 3, N = ROUNDS * AT_ONCE;
	let again = 0;
	const one = async () => {
		const sid = await s.handshake();
		assert.deepEqual(await s.poll(sid), ['1::']);
		const [next] = await Promise.all([s.poll(sid), s.post(sid, '3:::hi')]);
		const rest = next.includes('3:::hi') ? next : next.concat(await s.collect(sid, 1));
		if (rest.includes('1::')) again++;
	};
	for (let i = 0; i < ROUNDS; i++)
		await Promise.all(Array.from({length: AT_ONCE}, one));
	console.log(`# ${N} sessions polled again at once: ${again} got 1:: a second time`);
	assert.equal(again, 0);
});

test('a session the server ended (the application\'s kick) keeps its 0:: for the client\'s next poll', async () => {
	const sid = await s.handshake();
	assert.deepEqual(await s.poll(sid), ['1::']);
	await s.post(sid, '5:::{"name":"kick"}');
	assert.deepEqual(await s.poll(sid), ['0::']);
	assert.deepEqual(await s.poll(sid), ['7:::1+0']);
});

// The sid of a socket.io-client socket.
const sidOf = (sock) => sock.sessionid;

for (const transport of ['websocket', 'xhr-polling']) {
	test(`socket.io-client 0.9.16 over ${transport} disconnects: a later poll, POST or upgrade on its sid is an unknown one's`, async () => {
		const {sock} = await openSession(io, `http://127.0.0.1:${s.port}`, transport);
		const sid = sidOf(sock);
		assert.match(sid, /^[A-Za-z0-9_-]{22}$/);
		sock.disconnect();
		shutdown(sock);
		await until('the session to end', () => s.session(sid)?.state === 'closed');
		await answersAsUnknown(sid, `socket.io-client over ${transport}`);
	});
}

// A poll on sid, started now; resolves its packets.
function pollNow(sid) {
	return s.request('GET', `/xhr-polling/${sid}?t=${Date.now()}`, null, 15000).then((r) => {
		assert.equal(r.status, 200, r.body);
		return unframe(r.body);
	});
}

test('a poll attaching to a session connected over websocket gets no 1:: alone: the application\'s answer comes in it', async () => {
	const ws = await s.wsSession();
	await until('the websocket\'s 1:: to be recorded as written',
		() => s.sql(`SELECT hello FROM sessions WHERE sid = '${ws.sid}'`) === '1');
	const poll = pollNow(ws.sid);
	await until('the poll to hold the session', () => /^gw-/.test(s.session(ws.sid)?.holder ?? ''));
	await s.post(ws.sid, '5:4+::{"name":"echo","args":["answer"]}');
	assert.deepEqual(await poll, ['6:::4+["answer"]'], 'the ack, and no 1::');
	ws.close();
	await ws.waitClose();
});

test('socket.io-client 0.9.16 connected over websocket: a poll on its session gets the application\'s answer, not 1:: alone', async () => {
	const {sock} = await openSession(io, `http://127.0.0.1:${s.port}`, 'websocket');
	const sid = sidOf(sock);
	try {
		await until('the websocket\'s 1:: to be recorded as written',
			() => s.sql(`SELECT hello FROM sessions WHERE sid = '${sid}'`) === '1');
		const poll = pollNow(sid);
		await until('the poll to hold the session', () => /^gw-/.test(s.session(sid)?.holder ?? ''));
		await s.post(sid, '5:9+::{"name":"echo","args":["from the poll"]}');
		assert.deepEqual(await poll, ['6:::9+["from the poll"]']);
	} finally {
		shutdown(sock);
	}
});

test('a client whose websocket failed before opening gets its 1:: on the transport it falls back to', async () => {
	const sid = await s.handshake();
	// An upgrade refused (no Sec-WebSocket-Key): the session never had a
	// transport that wrote `1::`.
	const r = await rawUpgrade({port: s.wsdPort, path: `/socket.io/1/websocket/${sid}`, key: null});
	r.socket.destroy();
	assert.notEqual(r.status, 101, 'the upgrade is refused');
	assert.equal(s.sql(`SELECT hello FROM sessions WHERE sid = '${sid}'`), '0');
	assert.deepEqual(await s.poll(sid), ['1::'], 'polling says 1::');
	assert.equal(s.sql(`SELECT hello FROM sessions WHERE sid = '${sid}'`), '1', 'recorded once written');
	await s.post(sid, '3:::next');
	assert.deepEqual(await s.poll(sid), ['3:::next'], 'and says it once');
});
