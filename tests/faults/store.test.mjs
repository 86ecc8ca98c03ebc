// store.test.mjs: faults in the store under a running sio-gateway (behind
// nginx, driven over HTTP like an xhr-polling client). Each fault must give
// a clear error (an answer and a log line naming it), a process that keeps
// serving what it can and serves again once the fault is gone, and a
// database that passes PRAGMA integrity_check:
//
//   busy       the sqlite3 shell holds the write lock past the busy timeout
//   disk full  the database on a small tmpfs (mounted in a mount namespace
//              of the gateway's own: nothing leaks), filled up
//   doorbell   the bell of the process holding a parked poll removed, then
//              replaced by a regular file; sioctl queues for the session
//   garbage    the database file overwritten with garbage under the running
//              gateway, and a gateway started on a garbage file
import {test, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {BUILD, WEBSERVER, until, writeConf} from '../lib/servers.mjs';

import {freePort} from '../lib/client.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const runs = [];
after(async () => { for (const r of runs) await r.stop(); });
// A runner that dies (a signal, a closed pipe) still stops what it started.
function stopNow() {
	for (const r of runs) {
		if (r.alive()) r.gw.kill('SIGKILL');
		try { execFileSync(WEBSERVER, ['stop', r.dir], {stdio: 'ignore'}); } catch { /* stopped */ }
	}
}
process.once('exit', stopNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
	process.once(sig, () => { stopNow(); process.kill(process.pid, sig); });
process.stdout.on('error', () => { stopNow(); process.exit(1); });

// nginx in front of one gateway this test starts (its pid, its log); with
// tmpfs, the gateway runs in a mount namespace of its own where the
// database directory is a tmpfs of that size.
async function startRun(name, {tmpfs} = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sio-store-${name}.`));
	fs.chmodSync(dir, 0o755);
	const dbdir = path.join(dir, 'db');
	fs.mkdirSync(dbdir);
	const r = {name, dir, dbdir, db: path.join(dbdir, 'siogate.db'), conf: path.join(dir, 'siogate.conf'),
		sock: path.join(dir, 'gw.sock'), log: path.join(dir, 'gateway.log'), port: await freePort()};
	writeConf(r.conf, {database: r.db, run_dir: `${dir}/run`, app: 'testapp',
		polling_duration: 20, flash_policy_port: 0, log_level: 'info'});
	const out = fs.openSync(r.log, 'a');
	const gw = [path.join(BUILD, 'sio-gateway'), '-c', r.conf, '--listen', r.sock];
	r.gw = tmpfs
		? spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
			'mount -t tmpfs -o size="$1",mode=0700 siogate-test "$2" && shift 2 && exec "$@"',
			'sh', tmpfs, dbdir, ...gw], {stdio: ['ignore', out, out]})
		: spawn(gw[0], gw.slice(1), {stdio: ['ignore', out, out]});
	fs.closeSync(out);
	r.gwExit = new Promise((resolve) => r.gw.on('exit', (code, sig) => resolve({code, sig})));
	r.alive = () => r.gw.exitCode === null && r.gw.signalCode === null;
	r.stop = async ({keep = false} = {}) => {
		if (r.alive()) r.gw.kill('SIGTERM');
		try { execFileSync(WEBSERVER, ['stop', dir], {stdio: 'ignore'}); } catch { /* stopped */ }
		await Promise.race([r.gwExit, sleep(5000)]);
		if (r.alive()) r.gw.kill('SIGKILL');
		if (!keep && !process.env.KEEP_TMP) fs.rmSync(dir, {recursive: true, force: true});
	};
	runs.push(r);
	// Commands that must see the database as the gateway does.
	r.inNs = (cmd, args) => (tmpfs ? ['nsenter', ['-t', String(r.gw.pid), '-m', cmd, ...args]] : [cmd, args]);
	r.sql = (q) => {
		const [c, a] = r.inNs('sqlite3', ['-cmd', '.timeout 5000', r.db, q]);
		return execFileSync(c, a, {encoding: 'utf8'}).trim();
	};
	await until('the gateway to listen', () => {
		if (!r.alive()) throw new Error(`gateway exited: ${fs.readFileSync(r.log, 'utf8')}`);
		return fs.existsSync(r.sock);
	}, 10000);
	execFileSync(WEBSERVER, ['start', '--no-wsd', 'nginx', String(r.port), dir, r.sock],
		{env: {...process.env, SIOGATE_CONF: r.conf}, stdio: ['ignore', 'ignore', 'pipe']});
	r.base = `http://127.0.0.1:${r.port}/socket.io/1`;
	r.logText = () => fs.readFileSync(r.log, 'utf8');
	return r;
}

async function req(r, method, url, body, ms = 30000) {
	const res = await fetch(r.base + url, {method, body, signal: AbortSignal.timeout(ms),
		headers: body ? {'Content-Type': 'text/plain; charset=UTF-8'} : {}});
	return {status: res.status, body: await res.text()};
}
const handshake = (r) => req(r, 'GET', `/?t=${Date.now()}`);
async function session(r) {
	const h = await handshake(r);
	assert.equal(h.status, 200, `handshake: ${h.body}`);
	const sid = h.body.split(':')[0];
	const first = await req(r, 'GET', `/xhr-polling/${sid}`);
	assert.equal(first.body, '1::');
	return sid;
}
// A round trip on sid: a message POSTed comes back on the next poll.
async function echo(r, sid, text) {
	const p = await req(r, 'POST', `/xhr-polling/${sid}`, `3:::${text}`);
	assert.equal(p.status, 200, `POST: ${p.body}`);
	const g = await req(r, 'GET', `/xhr-polling/${sid}`);
	assert.ok(g.body.includes(`3:::${text}`), `poll: ${g.body}`);
}
function integrity(r) {
	assert.equal(r.sql('PRAGMA integrity_check'), 'ok', 'the database passes integrity_check');
}
// Log lines (not debug) written since mark.
const logSince = (r, mark) => r.logText().slice(mark);

test('busy: a write lock held past the busy timeout is an error answer and a log line, then serving goes on', async () => {
	const r = await startRun('busy');
	const sid = await session(r);
	// The shell takes the write lock and keeps it until told.
	const sh = spawn('sqlite3', [r.db], {stdio: ['pipe', 'pipe', 'inherit']});
	let shOut = '';
	sh.stdout.on('data', (d) => { shOut += d; });
	sh.stdin.write('BEGIN IMMEDIATE;\nSELECT \'locked\';\n');
	await until('the shell to hold the lock', () => shOut.includes('locked'), 10000);
	const mark = r.logText().length;
	const t0 = Date.now();
	// Twenty requests at once: the writer's batches each wait the busy
	// timeout (5 s), so none waits for all the others in turn.
	const timed = (pr) => pr.then((x) => ({...x, ms: Date.now() - t0}));
	const [h, ...posts] = await Promise.all([timed(handshake(r)),
		...Array.from({length: 20}, (_, i) => timed(req(r, 'POST', `/xhr-polling/${sid}`, `3:::during-${i}`)))]);
	const p = posts[0];
	const ms = Math.max(h.ms, ...posts.map((x) => x.ms));
	console.log(`# busy: handshake ${h.status} ${JSON.stringify(h.body)} after ${h.ms} ms; 20 POSTs ` +
		`${JSON.stringify(posts.reduce((o, x) => ({...o, [x.status]: (o[x.status] ?? 0) + 1}), {}))}, the last after ${ms} ms`);
	assert.ok(h.status >= 500, `handshake refused while locked (${h.status})`);
	for (const x of posts) assert.ok(x.status >= 500, `POST refused while locked (${x.status})`);
	assert.ok(ms < 60000, `every request answered within a generous bound (${ms} ms)`);
	assert.ok(p.status >= 500);
	const lines = logSince(r, mark);
	console.log(`# busy: gateway log: ${JSON.stringify(lines.trim().split('\n').slice(0, 3))}`);
	assert.match(lines, /locked|busy/i, 'the log names the lock');
	sh.stdin.end('COMMIT;\n');
	await new Promise((resolve) => sh.on('exit', resolve));
	assert.ok(r.alive(), 'the gateway is still running');
	await echo(r, sid, 'after');
	assert.equal((await handshake(r)).status, 200, 'handshakes work again');
	integrity(r);
});

// A mount namespace of the test's own (root, a kernel that allows it; a
// chroot whose root is not a mount point does not).
const MOUNTNS = spawnSync('unshare', ['-m', 'true'], {stdio: 'ignore'}).status === 0;

test('disk full: writes fail with an error answer and a few log lines, and all works once space is back',
	{skip: !MOUNTNS && 'unshare -m is not permitted here'}, async () => {
	const r = await startRun('full', {tmpfs: '3m'});
	const sid = await session(r);
	await echo(r, sid, 'before');
	// Fill the tmpfs (dd stops at ENOSPC).
	const [c, a] = r.inNs('dd', ['if=/dev/zero', `of=${r.dbdir}/fill`, 'bs=64k']);
	spawnSync(c, a, {stdio: 'ignore'});
	const mark = r.logText().length;
	const n = 100;
	let refused = 0;
	let answers = {};
	for (let i = 0; i < n; i++) {
		const p = await req(r, 'POST', `/xhr-polling/${sid}`, `3:::${'x'.repeat(4000)}-${i}`);
		answers[p.status] = (answers[p.status] ?? 0) + 1;
		if (p.status >= 500) refused++;
	}
	const h = await handshake(r);
	console.log(`# full: ${n} POSTs of 4 kB answered ${JSON.stringify(answers)}, a handshake ${h.status}`);
	assert.ok(refused > 0, 'writes are refused once the disk is full');
	const lines = logSince(r, mark);
	const count = lines.split('\n').filter((l) => l !== '').length;
	console.log(`# full: gateway log: ${count} lines for ${refused} refused requests, ${JSON.stringify(lines.trim().split('\n').slice(0, 3))}`);
	assert.match(lines, /full/i, 'the log says the disk is full');
	// A few lines a minute for each kind of failure, not one per request.
	assert.ok(count <= 30, `the log is not flooded (${count} lines)`);
	assert.ok(r.alive(), 'the gateway is still running');
	// Space back: everything works.
	const [c2, a2] = r.inNs('rm', ['-f', `${r.dbdir}/fill`]);
	execFileSync(c2, a2);
	// What was accepted is delivered, in order, before the new message.
	if (refused < n) {
		const g = await req(r, 'GET', `/xhr-polling/${sid}`);
		assert.equal(g.status, 200);
		const got = [...g.body.matchAll(/-(\d+)(?=\ufffd|$)/g)].map((m) => Number(m[1]));
		assert.deepEqual(got, [...got].sort((x, y) => x - y), 'what was accepted comes in order');
		assert.equal(got.length, n - refused, 'each POST answered 200 was queued, each refused one was not');
	}
	await echo(r, sid, 'after');
	assert.equal((await handshake(r)).status, 200, 'handshakes work again');
	integrity(r);
});

test('doorbell: a ring that fails delays nothing past the data_version watch, and the gateway binds its bell again', async () => {
	const r = await startRun('bell');
	// the gateway's incarnation: gw-<pid>-<hex>
	const name = await until('the gateway to register', () => r.sql(`SELECT name FROM processes WHERE pid = ${r.gw.pid}`), 10000);
	const bell = path.join(r.dir, 'run', `${name}.bell`);
	const isSocket = () => { try { return fs.statSync(bell).isSocket(); } catch { return false; } };
	assert.ok(isSocket(), 'the gateway has a bell');
	for (const how of ['removed', 'replaced']) {
		const sid = await session(r);
		const poll = req(r, 'GET', `/xhr-polling/${sid}`);
		await until('the poll to park', () => r.sql(`SELECT holder FROM sessions WHERE sid = '${sid}'`) === name, 10000);
		const mark = r.logText().length;
		fs.rmSync(bell, {force: true});
		if (how === 'replaced') fs.writeFileSync(bell, 'not a socket');
		const t0 = Date.now();
		const q = spawnSync(path.join(BUILD, 'sioctl'), ['-c', r.conf, 'send', sid, `bell ${how}`], {encoding: 'utf8'});
		assert.equal(q.status, 0, `sioctl send: ${q.stderr}`);
		const g = await poll;
		const ms = Date.now() - t0;
		console.log(`# bell ${how}: sioctl ${q.status} ${JSON.stringify(q.stderr.trim())}, the parked poll answered after ${ms} ms`);
		assert.ok(g.body.includes(`3:::bell ${how}`), `poll: ${g.body}`);
		assert.ok(ms < 15000, `delivered by the data_version watch, not the poll's end (${ms} ms)`);
		await until('the gateway to bind its bell again', isSocket, 10000);
		const lines = logSince(r, mark);
		console.log(`# bell ${how}: bound again after ${Date.now() - t0} ms; log: ${JSON.stringify(lines.trim())}`);
		assert.match(lines, new RegExp(`doorbell: .*\\.bell was ${how}: bound again`));
	}
	assert.ok(r.alive());
	integrity(r);
});

test('garbage: a database overwritten under the gateway is a 5xx and a log line, and a gateway will not start on one', async () => {
	const r = await startRun('garbage');
	const sid = await session(r);
	const garbage = Buffer.alloc(64 * 1024);
	for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
	const mark = r.logText().length;
	for (const f of [r.db, `${r.db}-wal`, `${r.db}-shm`]) if (fs.existsSync(f)) fs.writeFileSync(f, garbage);
	const answers = [];
	for (const [m, u, b] of [['GET', `/?t=${Date.now()}`], ['POST', `/xhr-polling/${sid}`, '3:::x'], ['GET', `/xhr-polling/${sid}`]]) {
		const x = await req(r, m, u, b, 20000);
		answers.push(`${m} ${x.status}`);
		assert.ok(x.status >= 400, `${m} ${u} on garbage: ${x.status} ${x.body}`);
	}
	const lines = logSince(r, mark);
	console.log(`# garbage: ${answers.join(', ')}; gateway log: ${JSON.stringify(lines.trim().split('\n').slice(0, 3))}`);
	assert.match(lines, /not a database|malformed|disk I\/O|corrupt/i, 'the log names the damage');
	assert.ok(r.alive(), 'the gateway is still running');
	await r.stop({keep: true});

	// A new gateway on the garbage: a message and exit status 1, the file as it was.
	const before = fs.readFileSync(r.db);
	const g = spawnSync(path.join(BUILD, 'sio-gateway'), ['-c', r.conf, '--check-config'], {encoding: 'utf8'});
	const s = spawnSync('timeout', ['20', path.join(BUILD, 'sio-gateway'), '-c', r.conf, '--listen', path.join(os.tmpdir(), `sio-garbage-${process.pid}.sock`)], {encoding: 'utf8'});
	console.log(`# garbage: --check-config ${g.status}; start: status ${s.status} ${JSON.stringify(s.stderr.trim())}`);
	assert.equal(s.status, 1, 'the gateway exits with status 1');
	assert.match(s.stderr, /not a database/i, 'and says why');
	assert.deepEqual(fs.readFileSync(r.db), before, 'the file is left as it was');
});
