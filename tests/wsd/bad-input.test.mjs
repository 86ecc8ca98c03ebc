// bad-input.test.mjs: what a broken or hostile client gets from sio-wsd.
// Each case expects a clear close (status code, then the end of TCP) and a
// log line on wsd's stderr at info level or above (debug lines do not
// count: a production log runs at info); after each, a witness session
// on the same wsd must still echo. max_packet = 100000 here.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {startServers, echoes, until} from '../lib/servers.mjs';
import {rawUpgrade, encodeFrame} from '../lib/wsclient.mjs';

let s, witness;
before(async () => {
	s = await startServers({max_packet: 100000, max_queue: 1000, heartbeat_interval: 1, heartbeat_timeout: 4});
	witness = await s.wsSession({autoHeartbeat: true});
});
after(async () => { if (s) await s.stop(); });

// Lines logged since mark at info, warn or error.
const infoLines = (mark) => s.wsd.log.slice(mark).split('\n').filter((l) => /: (info|warn|error): /.test(l));

// A frame-level case: expects a close frame with status `code` at once, no
// data frame after it, the end of TCP soon after the client answers the
// close, and an info+ log line for the session; the witness echoes after.
async function frameCase(t, name, code, send, tcpMs = 1000) {
	const ws = await s.wsSession();
	const mark = s.wsd.mark();
	send(ws);
	const t0 = performance.now();
	let close = null, end = null;
	const after = [];
	while (end === null && performance.now() - t0 < 7000) {
		const ev = await ws.next(7000 - (performance.now() - t0)).catch(() => null);
		if (ev === null) break;
		if (ev.type === 'close' && close === null) {
			close = ev;
			ws.close(ev.code ?? 1000); // the client's half of the handshake
		} else if (ev.type === 'text' && close !== null) after.push(ev.data);
		else if (ev.type === 'end') end = ev;
	}
	await t.test(`a close frame with status ${code} at once`, () => {
		assert.ok(close !== null, `${name}: no close frame within 7 s`);
		assert.equal(close.code, code, `${name}: close ${close.code} ${close.reason}`);
		assert.ok(close.at - t0 < 1000, `${name}: close after ${Math.round(close.at - t0)} ms`);
	});
	await t.test('no data frame after the close frame', () =>
		assert.deepEqual(after, [], `${name}: text frames after the close frame`));
	await t.test(`TCP ends within ${tcpMs / 1000} s of the client's close`, () => {
		assert.ok(end !== null && close !== null, `${name}: socket still open after 7 s`);
		assert.ok(end.at - close.at < tcpMs, `${name}: TCP ended ${Math.round(end.at - close.at)} ms after the close`);
	});
	await t.test('the session is detached, not ended', () =>
		assert.equal(s.session(ws.sid).state, 'detached', name));
	await t.test('a log line names the session and the reason', async () => {
		await until(`an info log line for ${name}`, () => infoLines(mark).some((l) => l.includes(ws.sid)), 1000)
			.catch(() => assert.fail(`${name}: nothing at info level; log since: ${JSON.stringify(s.wsd.log.slice(mark))}`));
	});
	ws.destroy();
	await echoes(witness);
}

test('reserved bits set', (t) => frameCase(t, 'rsv', 1002, (ws) => ws.frame({rsv: 4, payload: '3:::x'})));
test('a reserved opcode (3)', (t) => frameCase(t, 'opcode', 1002, (ws) => ws.frame({opcode: 3, payload: '3:::x'})));
// lws 4.1 (Debian's 4.1.6) reads the mask bit into private state and
// accepts an unmasked frame; no callback, option or API exposes it (later
// lws releases close with 1002). Documented in wsd/README.md.
test('an unmasked client frame', {skip: 'lws 4.1 accepts unmasked client frames and exposes no way to detect them (wsd/README.md, known limitations)'},
	(t) => frameCase(t, 'unmasked', 1002, (ws) => ws.frame({mask: false, payload: '3:::x'})));
test('a control frame fragmented (ping without FIN)', (t) =>
	frameCase(t, 'ping-nofin', 1002, (ws) => ws.frame({opcode: 9, fin: false, payload: 'p'})));
test('a message over max_packet, in fragments', (t) => frameCase(t, 'oversized', 1009, (ws) => {
	for (let i = 0; i < 3; i++) ws.frame({fin: i === 2, opcode: i ? 0 : 1, payload: 'x'.repeat(40000)});
}));
// The replies to messages read in the same segment as the oversized one
// are queued after sio-wsd chose to close: none of them may follow its
// close frame. lws 4.1 can miss the client's close behind the rest of the
// refused message; sio-wsd then ends TCP 1 s after its own close.
test('a message over max_packet after messages whose replies are still due', (t) => frameCase(t, 'oversized-busy', 1009, (ws) => {
	const frames = [];
	for (let i = 0; i < 200; i++) frames.push(encodeFrame({payload: `3:::due-${i}`}));
	for (let i = 0; i < 3; i++) frames.push(encodeFrame({fin: i === 2, opcode: i ? 0 : 1, payload: 'x'.repeat(40000)}));
	ws.raw(Buffer.concat(frames));
}, 2000));
test('invalid UTF-8 in a text frame', (t) =>
	frameCase(t, 'utf8', 1007, (ws) => ws.frame({payload: Buffer.from('3:::\xc3\x28', 'latin1')})));

test('a message of exactly 65,536 bytes in fragments is echoed whole', async () => {
	const ws = await s.wsSession();
	const msg = '3:::' + 'y'.repeat(65536 - 4);
	const parts = [msg.slice(0, 1000), msg.slice(1000, 40000), msg.slice(40000)];
	parts.forEach((p, i) => ws.frame({fin: i === 2, opcode: i ? 0 : 1, payload: p}));
	const got = await ws.nextText();
	assert.equal(got.length, 65536);
	assert.equal(got, msg);
	ws.close();
	await ws.waitClose();
	await echoes(witness);
});

for (const [name, key] of [['missing', null], ['not 16 bytes of base64', 'abc'],
	['not base64', '!!!!!!!!!!!!!!!!!!!!!!==']]) {
	test(`a Sec-WebSocket-Key ${name} is refused with 400 and a log line`, async (t) => {
		const sid = await s.handshake();
		const mark = s.wsd.mark();
		const r = await rawUpgrade({port: s.wsdPort, path: `/socket.io/1/websocket/${sid}`, key});
		r.socket.destroy();
		await t.test('answered 400', () => assert.equal(r.status, 400, `answer: ${JSON.stringify(r.head.split('\r\n')[0])}`));
		await t.test('a log line', async () => {
			await until('an info log line', () => infoLines(mark).length > 0, 2000)
				.catch(() => assert.fail(`nothing at info level; log since: ${JSON.stringify(s.wsd.log.slice(mark))}`));
		});
		await t.test('the session was not attached', () => assert.notEqual(s.session(sid).transport, 'websocket'));
		await echoes(witness);
	});
}

test('an unknown sid gets 7:::1+0 and a close, with a log line', async () => {
	const mark = s.wsd.mark();
	const ws = await s.ws('AAAAAAAAAAAAAAAAAAAAAA');
	const c = await ws.waitClose();
	assert.deepEqual(c.texts, ['7:::1+0']);
	assert.equal(c.code, 1000);
	assert.ok(infoLines(mark).some((l) => l.includes('AAAAAAAAAAAAAAAAAAAAAA')), s.wsd.log.slice(mark));
	// and a wrong path is a plain 404
	const r = await rawUpgrade({port: s.wsdPort, path: '/socket.io/1/nope/AAAA'});
	r.socket.destroy();
	assert.equal(r.status, 404);
	await echoes(witness);
});

// The server-side socket of a client port: is it still wsd's?
function wsdOwns(clientPort) {
	const out = execFileSync('ss', ['-Htnp', 'state', 'all', `( sport = :${s.wsdPort} and dport = :${clientPort} )`],
		{encoding: 'utf8'});
	return out.includes(`pid=${s.wsd.pid},`);
}

test('a client that never reads: the backlog stays in the store, RSS bounded, ended with a log line', async () => {
	const ws = await s.wsSession();
	ws.socket.pause(); // never reads again
	const clientPort = ws.socket.localPort;
	const rss0 = s.wsd.rssKb();
	const big = 'z'.repeat(2000);
	// 5 x 5000 events of 2 kB (50 MB offered); the queue holds 1000.
	for (let i = 0; i < 5; i++) {
		await s.post(ws.sid, `5:::{"name":"trigger","args":[{"name":"flood","args":["${big}"],"count":5000}]}`);
		const q = s.queue(ws.sid);
		assert.ok(q <= 1000, `queue ${q} within max_queue`);
	}
	await until('the backlog to stay in the store', () => s.queue(ws.sid) > 0, 5000);
	const rss1 = s.wsd.rssKb();
	console.log(`# never-reader: wsd RSS ${rss0} -> ${rss1} kB, queue ${s.queue(ws.sid)}`);
	assert.ok(rss1 - rss0 < 32 * 1024, `RSS grew ${rss1 - rss0} kB`);
	await echoes(witness);
	// It never answers heartbeats: ended after heartbeat_timeout, and wsd
	// lets go of its socket even though nothing can be written to it.
	await until('the session to close', () => s.session(ws.sid)?.state === 'closed', 10000);
	await t_until_release(clientPort);
	await echoes(witness);
	ws.destroy();
});

test('a client that never reads, flooding itself over its own websocket: the same bounds', async () => {
	// The replies of a packet received by sio-wsd may skip the store (its
	// direct path); that path must stop at a few packets in memory too.
	const ws = await s.wsSession();
	ws.socket.pause(); // never reads again
	const rss0 = s.wsd.rssKb();
	const big = 'y'.repeat(2000);
	// One trigger at a time (one in a batch fills the queue and the rest
	// are dropped), until more than the kernel's socket buffers can take
	// (a few MB on loopback) was offered: then all but a few dozen wait
	// in the store (max_queue 1000).
	// It reads nothing but says it is alive (2::, a heartbeat's answer)
	// every half second, so heartbeat_timeout (4 s) does not end it while
	// a loaded machine takes its time to fill the queue.
	let beat = 0;
	const alive = () => {
		if (Date.now() - beat >= 500) {
			beat = Date.now();
			ws.send('2::');
		}
	};
	for (let i = 0; i < 20 && s.queue(ws.sid) < 900; i++) {
		alive();
		ws.send(`5:::{"name":"trigger","args":[{"name":"flood","args":["${big}"],"count":1000}]}`);
		await new Promise((r) => setTimeout(r, 200));
	}
	await until('the backlog to reach the store', () => (alive(), s.queue(ws.sid) >= 900), 15000)
		.catch(() => assert.fail(`queue ${s.queue(ws.sid)}: the backlog is not in the store ` +
			`(session ${s.session(ws.sid)?.state})`));
	assert.ok(s.queue(ws.sid) <= 1000, `queue ${s.queue(ws.sid)} within max_queue`);
	const rss1 = s.wsd.rssKb();
	console.log(`# never-reader over its websocket: wsd RSS ${rss0} -> ${rss1} kB, queue ${s.queue(ws.sid)}`);
	// up to 20,000 packets of 2 kB were offered, 2 MB in each trigger
	assert.ok(rss1 - rss0 < 8 * 1024, `RSS grew ${rss1 - rss0} kB`);
	await echoes(witness);
	ws.destroy();
});

async function t_until_release(clientPort) {
	await until('wsd to let go of the stuck socket', () => !wsdOwns(clientPort), 15000, 200)
		.catch(() => assert.fail(`wsd still holds the never-reading client's socket 15 s after its session closed`));
}

test('the witness session lost nothing', async () => {
	await echoes(witness);
	assert.equal(s.session(witness.sid).state, 'open');
	assert.ok(s.wsd.alive);
});
