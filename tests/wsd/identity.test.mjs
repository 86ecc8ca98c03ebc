// identity.test.mjs: processes are known by incarnations with leases, not
// by pids. Two sio-wsd on one database and run directory, each started by
// `unshare --pid --fork` so that each is pid 1 of its own pid namespace
// (two containers sharing the database): each registers under a name of
// its own, and stopping one leaves the other's live sessions alone. One
// of them stopped (SIGSTOP) past its lease is reaped by another process's
// sweep, and when it runs again it fences itself: it closes its clients
// and registers anew; so does sio-gateway, whose waiting request (an
// htmlfile stream) is answered. A processes row whose pid belongs to a live,
// unrelated process (a pid the kernel gave again) but whose lease lapsed
// is reaped. Packets that a sio-wsd took and that it stopped before
// writing hold back those queued after them: the client that falls back
// to polling gets them all, in order, once that sio-wsd is reaped. The
// first three need root (unshare --pid), and are skipped, saying so,
// without it.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {startServers, echoes, until, freePort, unframe, BUILD} from '../lib/servers.mjs';
import {connect} from '../lib/wsclient.mjs';

const LEASE = 5; // process_lease, seconds
const NO_UNSHARE = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0 ? false
	: 'unshare --pid is not permitted here (it needs root)';
const NAME = /^wsd-[A-Za-z0-9]{1,20}-1-[0-9a-f]{8}$/;

let s;
const spawned = [];
before(async () => { s = await startServers({process_lease: LEASE, close_timeout: 60}); });
after(async () => {
	for (const w of spawned) await w.stop('SIGKILL');
	if (s) await s.stop();
});

// sio-wsd as pid 1 of a new pid namespace. unshare itself waits for it
// (and ignores SIGTERM meanwhile): signals go to the sio-wsd, found as
// unshare's one child.
class NsWsd {
	constructor(port) {
		this.port = port;
		this.log = '';
		this.proc = spawn('unshare', ['--pid', '--fork', path.join(BUILD, 'sio-wsd'),
			'-c', s.confFile, '--listen', `127.0.0.1:${port}`], {stdio: ['ignore', 'ignore', 'pipe']});
		this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({code, sig})));
		this.proc.stderr.on('data', (d) => { this.log += d.toString(); });
		spawned.push(this);
	}
	get alive() { return this.proc.exitCode === null && this.proc.signalCode === null; }
	// The sio-wsd's pid as this namespace sees it.
	get pid() {
		const p = this.proc.pid;
		return Number(fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/)[0]);
	}
	async ready() {
		await until('sio-wsd under unshare to accept connections', async () => {
			if (!this.alive) throw new Error(`unshare/sio-wsd exited: ${this.log}`);
			return new Promise((resolve) => {
				const c = net.connect(this.port, '127.0.0.1');
				c.on('connect', () => { c.destroy(); resolve(true); });
				c.on('error', () => resolve(false));
			});
		}, 10000);
		return this;
	}
	signal(sig) { process.kill(this.pid, sig); }
	async stop(sig = 'SIGTERM') {
		if (!this.alive) return this.exited;
		try { this.signal(sig); } catch { /* gone */ }
		const t = setTimeout(() => { try { this.signal('SIGKILL'); } catch { /* gone */ } }, 5000);
		const r = await this.exited;
		clearTimeout(t);
		return r;
	}
}

// A session with a websocket on w that got its `1::`, and its holder.
async function sessionOn(w) {
	const sid = await s.handshake();
	const ws = await connect({port: w.port, path: `/socket.io/1/websocket/${sid}`});
	await ws.expectText('1::', 5000);
	ws.sid = sid;
	return ws;
}

const bell = (name) => path.join(s.conf.run_dir, `${name}.bell`);
const names = () => s.sql('SELECT name FROM processes ORDER BY name').split('\n').filter(Boolean);

let a, wsA, holderA;

test('two sio-wsd, each pid 1 of its own pid namespace: names of their own; stopping one leaves the other\'s sessions', {skip: NO_UNSHARE}, async () => {
	a = await new NsWsd(await freePort()).ready();
	const b = await new NsWsd(await freePort()).ready();
	wsA = await sessionOn(a);
	const wsB = await sessionOn(b);
	holderA = s.session(wsA.sid).holder;
	const holderB = s.session(wsB.sid).holder;
	assert.match(a.log, /sio-wsd\[1\]/, 'sio-wsd A believes it is pid 1');
	assert.match(b.log, /sio-wsd\[1\]/, 'sio-wsd B believes it is pid 1');

	wsB.close();
	await wsB.waitClose();
	const {code} = await b.stop('SIGTERM');
	assert.equal(code, 0, 'B stopped cleanly');
	assert.deepEqual(s.session(wsA.sid), {state: 'open', transport: 'websocket', holder: holderA, reason: ''},
		'A\'s session is still open and held by A');
	assert.ok(!names().includes(holderB), 'B unregistered');
	assert.ok(names().includes(holderA), 'A is still registered');
	assert.notEqual(holderA, holderB, 'the two held their sessions under different names');
	assert.match(holderA, NAME);
	assert.match(holderB, NAME);
	assert.ok(fs.existsSync(bell(holderA)), 'A\'s doorbell survived B\'s start and stop');
	// A POST through the gateway reaches A's websocket: its doorbell rings.
	const t0 = Date.now();
	await s.post(wsA.sid, '3:::to-a');
	assert.equal(await wsA.nextText(5000), '3:::to-a');
	const ringMs = Date.now() - t0;
	await echoes(wsA);
	console.log(`# names: A ${holderA}, B ${holderB}; after B stopped, a POST reached A's websocket in ${ringMs} ms`);
});

test('a sio-wsd stopped past its lease is reaped; running again, it fences itself and registers anew', {skip: NO_UNSHARE}, async () => {
	assert.ok(a?.alive && wsA, 'the first test left A running');
	const t0 = Date.now();
	a.signal('SIGSTOP');
	let resumed = false;
	try {
		// The gateway's sweep reaps A once its lease lapses.
		await until('A\'s row to be reaped', () => !names().includes(holderA), LEASE * 1000 + 30000, 100);
		const reapedMs = Date.now() - t0;
		assert.deepEqual(s.session(wsA.sid), {state: 'detached', transport: 'websocket', holder: '', reason: ''},
			'its session is detached, not ended');
		assert.ok(!fs.existsSync(bell(holderA)), 'its doorbell file is removed');
		const t1 = Date.now();
		a.signal('SIGCONT');
		resumed = true;
		// At its next renewal A finds its row gone: its clients are closed.
		const closed = await wsA.waitClose(15000);
		assert.ok(closed, 'A closed its websocket');
		const fencedMs = Date.now() - t1;
		await until('A to register anew', () => names().some((n) => NAME.test(n) && n !== holderA), 10000);
		const renamed = names().find((n) => NAME.test(n) && n !== holderA);
		assert.ok(fs.existsSync(bell(renamed)), 'A has a new doorbell');
		// The client comes back to the same session, on A under its new name.
		const ws = await connect({port: a.port, path: `/socket.io/1/websocket/${wsA.sid}`});
		await echoes(ws); // the same transport kind again: no `1::` first
		assert.equal(s.session(wsA.sid).holder, renamed);
		await s.post(wsA.sid, '3:::after-fence');
		assert.equal(await ws.nextText(5000), '3:::after-fence');
		ws.close();
		await ws.waitClose();
		console.log(`# lease ${LEASE} s: reaped ${reapedMs} ms after SIGSTOP; fenced (websocket closed) ` +
			`${fencedMs} ms after SIGCONT; ${holderA} -> ${renamed}`);
	} finally {
		if (!resumed) a.signal('SIGCONT');
	}
});

test('packets taken by a sio-wsd that stopped hold back what follows: the client that falls back to polling gets them all, in order, once it is reaped', {skip: NO_UNSHARE}, async () => {
	const c = await new NsWsd(await freePort()).ready();
	const ws = await sessionOn(c);
	const {sid} = ws;
	const holder = s.session(sid).holder;
	const t0 = Date.now();
	c.signal('SIGSTOP');
	try {
		// What a take leaves before its write is done: c's name on two
		// packets. Stopped, c can neither finish nor hand them back.
		for (const p of ['3:::1', '3:::2'])
			s.sql(`INSERT INTO outbox (sid, packet, created, due, taken_by, taken_conn)
				SELECT sid, '${p}', 0, 0, holder, holder_conn FROM sessions WHERE sid = '${sid}'`);
		await s.post(sid, '3:::3');
		// `1::` goes out again only when its write was never recorded.
		const hello = s.sql(`SELECT hello FROM sessions WHERE sid = '${sid}'`) === '1' ? [] : ['1::'];
		// The client falls back to xhr-polling with the same session.
		const got = [];
		let firstMs = -1;
		while (got.length < 3 + hello.length) {
			const r = await s.request('GET', `/xhr-polling/${sid}?t=${Date.now()}`, null, LEASE * 1000 + 30000);
			assert.equal(r.status, 200, r.body);
			for (const p of unframe(r.body)) {
				if (p === '8::' || p === '2::') continue;
				if (firstMs < 0 && p === '3:::1') firstMs = Date.now() - t0;
				got.push(p);
			}
			assert.ok(Date.now() - t0 < LEASE * 1000 + 60000, `collected only ${JSON.stringify(got)}`);
		}
		assert.deepEqual(got, [...hello, '3:::1', '3:::2', '3:::3'], 'nothing overtook the taken packets');
		assert.ok(!names().includes(holder), 'c was reaped');
		console.log(`# lease ${LEASE} s: packets taken by a stopped sio-wsd reached polling, in order, ` +
			`${firstMs} ms after SIGSTOP`);
	} finally {
		c.signal('SIGCONT');
		await c.stop('SIGTERM');
	}
});

test('a processes row whose pid is a live, unrelated process but whose lease lapsed is reaped, releasing what it held', async () => {
	// Only processes of this pid namespace sweep from here on.
	for (const w of spawned) await w.stop('SIGTERM');
	const name = `wsd-${process.pid}`; // the pid of a live process: this test runner
	const sid = await s.handshake();
	// A doorbell socket left by that process.
	const srv = net.createServer();
	await new Promise((resolve) => srv.listen(bell(name), resolve));
	try {
		const t0 = Date.now();
		s.sql(`INSERT INTO processes (name, pid, started) VALUES ('${name}', ${process.pid}, 0);
			UPDATE sessions SET state = 'open', transport = 'websocket', holder = '${name}', holder_conn = 1
				WHERE sid = '${sid}';
			INSERT INTO outbox (sid, packet, created, due, taken_by, taken_conn)
				VALUES ('${sid}', '3:::was-taken', 0, 0, '${name}', 1);`);
		await until('the row to be reaped', () => !names().includes(name), LEASE * 1000 + 30000, 100);
		const reapedMs = Date.now() - t0;
		assert.equal(s.session(sid).state, 'detached', 'its session is detached');
		assert.equal(s.sql(`SELECT count(*) FROM outbox WHERE sid = '${sid}' AND taken_by IS NULL`), '1',
			'the packet it had taken is given back');
		assert.ok(!fs.existsSync(bell(name)), 'its doorbell file is removed');
		assert.deepEqual(await s.collect(sid, 2), ['1::', '3:::was-taken'], 'polling gets it');
		console.log(`# a row of live pid ${process.pid} with a lapsed lease: reaped in ${reapedMs} ms`);
	} finally {
		srv.close();
	}
});

test('a sio-gateway stopped past its lease is reaped; running again, it ends its waiting request and registers anew', async () => {
	const sid = await s.handshake();
	// An htmlfile stream: a request that waits on the gateway for ever.
	let body = '';
	const ended = new Promise((resolve, reject) => {
		const req = http.get(`${s.base}/htmlfile/${sid}?t=${Date.now()}`, {agent: false}, (res) => {
			res.on('data', (d) => { body += d.toString(); });
			res.on('end', resolve);
			res.on('error', resolve);
		});
		req.on('error', reject);
	});
	const holder = await until('the htmlfile stream to attach', () => s.session(sid)?.holder, 10000);
	const m = /^gw-[A-Za-z0-9]+-(\d+)-/.exec(holder);
	assert.ok(m, `the gateway's name: ${holder}`);
	const pid = Number(m[1]);
	const t0 = Date.now();
	process.kill(pid, 'SIGSTOP');
	let resumed = false;
	try {
		// sio-wsd's sweep reaps the gateway once its lease lapses.
		await until('the gateway\'s row to be reaped', () => !names().includes(holder), LEASE * 1000 + 30000, 100);
		const reapedMs = Date.now() - t0;
		assert.equal(s.session(sid).state, 'detached', 'its session is detached');
		const t1 = Date.now();
		process.kill(pid, 'SIGCONT');
		resumed = true;
		await Promise.race([ended, until('the htmlfile stream to end', () => false, 15000)]);
		const fencedMs = Date.now() - t1;
		const renamed = await until('the gateway to register anew',
			() => names().find((n) => n.includes(`-${pid}-`) && n.startsWith('gw-') && n !== holder), 10000);
		assert.match(holder, /^gw-[A-Za-z0-9]{1,20}-\d+-[0-9a-f]{8}$/);
		// The client comes back: the session is served under the new name.
		await s.post(sid, '3:::after-fence');
		// the stream's `1::`, unless its write was never recorded
		const hello = s.sql(`SELECT hello FROM sessions WHERE sid = '${sid}'`) === '1' ? [] : ['1::'];
		const got = await s.collect(sid, 1 + hello.length);
		assert.deepEqual(got, [...hello, '3:::after-fence']);
		console.log(`# lease ${LEASE} s: gateway reaped ${reapedMs} ms after SIGSTOP; its htmlfile stream ` +
			`ended ${fencedMs} ms after SIGCONT; ${holder} -> ${renamed}`);
	} finally {
		if (!resumed) process.kill(pid, 'SIGCONT');
	}
});
