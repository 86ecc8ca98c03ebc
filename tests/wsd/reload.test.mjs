// reload.test.mjs: SIGHUP, logs and health against running servers:
// lighttpd (scripts/webserver.sh) in front of a sio-gateway started here
// (`--listen VARDIR/gw.sock`, so that this test holds its pid and stderr)
// and sio-wsd, one configuration file.
//
//   SIGHUP to both, with a client on websocket (sio-wsd) and one on
//   xhr-polling (gateway) connected: both stay connected and keep
//   exchanging messages, a changed origins applies to the next handshake
//   and upgrade, a changed log_level shows in the next lines, a setting
//   that needs a restart (threads, resource) is kept and named;
//   SIGHUP with a broken file: both keep running on the old configuration
//   and say why;
//   log lines on stderr carry an ISO-8601 time, except when JOURNAL_STREAM
//   names stderr (journald stamps lines itself); log = FILE is appended to
//   and reopened on SIGHUP (a rotated file is left alone);
//   GET /socket.io/health through lighttpd (the gateway) and on sio-wsd's
//   listener: 200 "ok".
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {BUILD, WEBSERVER, freePort, until, unframe, echoes, writeConf as write} from '../lib/servers.mjs';
import {connect} from '../lib/wsclient.mjs';

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sio-(gateway|wsd)\[\d+\]: /;

// A program started here: its stderr kept in .log.
class Proc {
	constructor(prog, args, opts = {}) {
		this.log = '';
		this.proc = spawn(path.join(BUILD, prog), args, {stdio: ['ignore', 'ignore', opts.stderr ?? 'pipe'], env: opts.env ?? process.env});
		this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({code, sig})));
		if (this.proc.stderr) this.proc.stderr.on('data', (d) => { this.log += d.toString(); });
	}
	get alive() { return this.proc.exitCode === null && this.proc.signalCode === null; }
	mark() { return this.log.length; }
	waitLog(re, from = 0, ms = 10000) {
		return until(`log ${re} in ${this.log.slice(from).slice(-400)}`, () => re.exec(this.log.slice(from)), ms);
	}
	async stop() {
		if (!this.alive) return this.exited;
		this.proc.kill('SIGTERM');
		const t = setTimeout(() => this.alive && this.proc.kill('SIGKILL'), 5000);
		const r = await this.exited;
		clearTimeout(t);
		return r;
	}
}

function get(port, p, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request({host: '127.0.0.1', port, path: p, headers, agent: false}, (res) => {
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({status: res.statusCode, body, headers: res.headers}));
		});
		req.setTimeout(10000, () => req.destroy(new Error(`GET ${p}: no answer`)));
		req.on('error', reject);
		req.end();
	});
}

function post(port, p, body) {
	return new Promise((resolve, reject) => {
		const req = http.request({host: '127.0.0.1', port, path: p, method: 'POST', agent: false,
			headers: {'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': Buffer.byteLength(body)}}, (res) => {
			let b = '';
			res.on('data', (d) => { b += d; });
			res.on('end', () => resolve({status: res.statusCode, body: b}));
		});
		req.on('error', reject);
		req.end(body);
	});
}

let dir, v, confFile, port, wsdPort, gw, wsd;
const base = {};

function writeConf(extra = {}) {
	write(confFile, {...base, ...extra});
}

before(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-reload.'));
	fs.chmodSync(dir, 0o755);
	v = path.join(dir, 'srv');
	fs.mkdirSync(v);
	confFile = path.join(v, 'siogate.conf');
	// relative paths: next to the file, whatever the working directory
	Object.assign(base, {database: 'siogate.db', run_dir: 'run', app: 'testapp',
		polling_duration: 2, close_timeout: 20, flash_policy_port: 0, threads: 64,
		max_polls_per_address: 64, max_requests_per_address: 64,
		log_level: 'info', origins: '*:*'});
	writeConf();
	port = await freePort();
	do wsdPort = await freePort(); while (wsdPort === port);
	const sock = path.join(v, 'gw.sock');
	gw = new Proc('sio-gateway', ['-c', confFile, '--listen', sock]);
	await until('the gateway socket', () => fs.existsSync(sock) || !gw.alive, 15000);
	assert.ok(gw.alive, gw.log);
	fs.chmodSync(sock, 0o666);
	wsd = new Proc('sio-wsd', ['-c', confFile, '--listen', `127.0.0.1:${wsdPort}`]);
	await wsd.waitLog(/serving websocket/, 0, 15000);
	execFileSync(WEBSERVER, ['start', 'lighttpd', String(port), v, sock], {
		env: {...process.env, SIOGATE_CONF: confFile, WSD_ADDR: `127.0.0.1:${wsdPort}`, NO_WSD: '1'},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
});

after(async () => {
	try { execFileSync(WEBSERVER, ['stop', v], {stdio: 'ignore'}); } catch { /* stopped */ }
	if (gw) await gw.stop();
	if (wsd) await wsd.stop();
	if (!process.env.KEEP_TMP) fs.rmSync(dir, {recursive: true, force: true});
});

// Writes the file and reloads both servers.
async function reload(extra = {}) {
	writeConf(extra);
	const g0 = gw.mark(), w0 = wsd.mark();
	gw.proc.kill('SIGHUP');
	wsd.proc.kill('SIGHUP');
	await gw.waitLog(/reloaded /, g0);
	await wsd.waitLog(/reloaded /, w0);
}

const handshake = async (headers = {}) => get(port, `/socket.io/1/?t=${Date.now()}`, headers);
async function sid() {
	const r = await handshake();
	assert.equal(r.status, 200, r.body);
	return r.body.split(':')[0];
}
const poll = async (s) => {
	const r = await get(port, `/socket.io/1/xhr-polling/${s}?t=${Date.now()}`);
	assert.equal(r.status, 200, r.body);
	return unframe(r.body);
};
// testapp echoes a message: POST one, poll until it is back.
async function pollEchoes(s, text) {
	const r = await post(port, `/socket.io/1/xhr-polling/${s}?t=${Date.now()}`, `3:::${text}`);
	assert.equal(r.status, 200, r.body);
	await until(`echo of ${text}`, async () => (await poll(s)).includes(`3:::${text}`), 15000, 0);
}

test('the database and run_dir given as relative paths are next to the file', () => {
	assert.ok(fs.existsSync(path.join(v, 'siogate.db')), 'siogate.db next to siogate.conf');
	assert.ok(fs.existsSync(path.join(v, 'run')), 'run/ next to siogate.conf');
	assert.match(gw.log, new RegExp(`configuration ${confFile.replace(/[.]/g, '\\.')}`));
});

test('log lines on stderr carry an ISO-8601 time', () => {
	const lines = gw.log.split('\n').filter(Boolean).concat(wsd.log.split('\n').filter(Boolean));
	console.log(`first lines: ${JSON.stringify(lines.slice(0, 2))}`);
	assert.ok(lines.length >= 2);
	for (const l of lines) assert.match(l, STAMP);
});

test('GET /socket.io/health: 200 "ok" through lighttpd (the gateway) and on sio-wsd\'s listener', async () => {
	const a = await get(port, '/socket.io/health');
	console.log(`through lighttpd: ${a.status} ${JSON.stringify(a.body)}`);
	assert.equal(a.status, 200);
	assert.equal(a.body, 'ok');
	const b = await get(wsdPort, '/socket.io/health');
	console.log(`sio-wsd: ${b.status} ${JSON.stringify(b.body)}`);
	assert.equal(b.status, 200);
	assert.equal(b.body, 'ok');
	// another path on the listener is still a 404
	assert.equal((await get(wsdPort, '/socket.io/healthz')).status, 404);
});

test('SIGHUP keeps a websocket and an xhr-polling client, applies origins and log_level, keeps threads', async () => {
	const wsSid = await sid();
	const ws = await connect({port: wsdPort, path: `/socket.io/1/websocket/${wsSid}`});
	await ws.expectText('1::', 5000);
	const pSid = await sid();
	assert.deepEqual(await poll(pSid), ['1::']);
	await pollEchoes(pSid, 'before');
	const evil = {Origin: 'http://evil.example'};
	assert.equal((await handshake(evil)).status, 200, 'any origin before');
	// at info, an attached poll is not logged
	let g0 = gw.mark();
	await pollEchoes(pSid, 'quiet');
	assert.doesNotMatch(gw.log.slice(g0), /attached xhr-polling/);

	writeConf({origins: 'good.example:*', log_level: 'debug', threads: 8, resource: 'other'});
	// a long poll parked in the gateway while it reloads
	const parked = get(port, `/socket.io/1/xhr-polling/${pSid}?t=${Date.now()}`);
	await until('the poll to be parked', () => /^open\|xhr-polling/.test(execFileSync('sqlite3',
		['-cmd', '.timeout 5000', path.join(v, 'siogate.db'),
			`SELECT state || '|' || coalesce(transport, '') FROM sessions WHERE sid = '${pSid}'`],
		{encoding: 'utf8'})), 10000);
	g0 = gw.mark();
	const w0 = wsd.mark();
	gw.proc.kill('SIGHUP');
	wsd.proc.kill('SIGHUP');
	await gw.waitLog(/reloaded /, g0);
	await wsd.waitLog(/reloaded /, w0);
	// it is answered as any poll: the message, or 8:: at polling_duration
	await post(port, `/socket.io/1/xhr-polling/${pSid}?t=${Date.now()}`, '3:::during');
	const pr = await parked;
	console.log(`the poll parked across the reload: ${pr.status} ${JSON.stringify(unframe(pr.body))}`);
	assert.equal(pr.status, 200);
	assert.ok(unframe(pr.body).includes('3:::during') || pr.body === '8::', pr.body);
	const kept = (await gw.waitLog(/kept until a restart: ([^\n]*)/, g0))[1];
	console.log(`gateway: kept until a restart: ${kept}`);
	assert.match(kept, /\bresource\b/);
	assert.match(kept, /\bthreads\b/);
	assert.match((await wsd.waitLog(/kept until a restart: ([^\n]*)/, w0))[1], /\bresource\b/);
	assert.ok(gw.alive && wsd.alive, 'both still running');

	// the clients that were connected are still, on the same sessions
	await echoes(ws, 10000);
	await pollEchoes(pSid, 'after');
	// ... and the new log level shows
	await gw.waitLog(new RegExp(`${pSid}: attached xhr-polling`), g0);

	// the new origins apply to what comes next
	const bad = await handshake(evil);
	const good = await handshake({Origin: 'http://good.example'});
	console.log(`after the reload: handshake from evil.example ${bad.status}, from good.example ${good.status}`);
	assert.equal(bad.status, 403);
	assert.equal(good.status, 200, good.body);
	const r2 = await handshake({Origin: 'http://good.example'});
	const s2 = r2.body.split(':')[0];
	await assert.rejects(connect({port: wsdPort, path: `/socket.io/1/websocket/${s2}`, headers: evil}),
		(e) => e.status === 403);
	const ws2 = await connect({port: wsdPort, path: `/socket.io/1/websocket/${s2}`,
		headers: {Origin: 'http://good.example'}});
	await ws2.expectText('1::', 5000);
	// resource was kept: the old one still routes
	assert.equal((await get(port, '/socket.io/health')).status, 200);
	ws2.close?.();
	ws.close?.();
});

test('SIGHUP five times under load: 20 websocket and 20 xhr-polling clients all stay and all messages arrive', async () => {
	const N = 20, ROUNDS = 5;
	await reload(); // any origin again
	const wss = [];
	for (let i = 0; i < N; i++) {
		const s = await sid();
		const ws = await connect({port: wsdPort, path: `/socket.io/1/websocket/${s}`});
		await ws.expectText('1::', 10000);
		ws.sid = s;
		wss.push(ws);
	}
	const polls = [];
	for (let i = 0; i < N; i++) {
		const s = await sid();
		assert.deepEqual(await poll(s), ['1::']);
		polls.push(s);
	}
	const gwPid = gw.proc.pid, wsdPid = wsd.proc.pid;
	let sent = 0;
	for (let r = 0; r < ROUNDS; r++) {
		const g0 = gw.mark(), w0 = wsd.mark();
		writeConf({max_sessions: 100000 - r}); // a live key, changed each time
		gw.proc.kill('SIGHUP');
		wsd.proc.kill('SIGHUP');
		// messages flow while the reload happens
		await Promise.all([
			...wss.map((ws) => echoes(ws, 15000)),
			...polls.map((s, i) => pollEchoes(s, `r${r}-${i}`)),
		]);
		sent += 2 * N;
		await gw.waitLog(/reloaded /, g0);
		await wsd.waitLog(/reloaded /, w0);
	}
	const ended = execFileSync('sqlite3', ['-cmd', '.timeout 5000', path.join(v, 'siogate.db'),
		`SELECT count(*) FROM sessions WHERE state = 'closed' AND sid IN (${[...wss.map((w) => w.sid), ...polls].map((x) => `'${x}'`).join(',')})`],
	{encoding: 'utf8'}).trim();
	console.log(`${ROUNDS} reloads under load: ${sent} echoes of ${2 * N} clients arrived, ${ended} of their sessions ended, same pids: ${gw.proc.pid === gwPid && wsd.proc.pid === wsdPid}`);
	assert.equal(ended, '0');
	assert.ok(gw.alive && wsd.alive);
	for (const ws of wss) ws.close?.();
	await reload({origins: 'good.example:*', log_level: 'debug'});
});

test('SIGHUP with a broken file keeps both running on the configuration they had', async () => {
	await reload({origins: 'good.example:*'});
	writeConf({origins: 'good.example:*', log_level: 'debug', max_sessions: 0});
	const g0 = gw.mark();
	const w0 = wsd.mark();
	gw.proc.kill('SIGHUP');
	wsd.proc.kill('SIGHUP');
	const why = (await gw.waitLog(/reload: ([^\n]*going on with the configuration as it was)/, g0))[1];
	console.log(`gateway: ${why}`);
	assert.match(why, /max_sessions/);
	await wsd.waitLog(/reload: [^\n]*max_sessions[^\n]*going on/, w0);
	assert.ok(gw.alive && wsd.alive);
	assert.equal((await handshake({Origin: 'http://evil.example'})).status, 403, 'origins as before');
	assert.equal((await handshake({Origin: 'http://good.example'})).status, 200);
	writeConf();
});

// A gateway of its own, stderr to a file, env as given, once it said it
// serves (on stderr, or in logFile, relative to its directory).
async function gatewayTo(name, env, extraConf = '', logFile = 'stderr') {
	const d = fs.mkdtempSync(path.join(dir, `${name}.`));
	const c = path.join(d, 'siogate.conf');
	fs.writeFileSync(c, `database = gw.db\nrun_dir = run\n${extraConf}`);
	const out = path.join(d, 'stderr');
	const fd = fs.openSync(out, 'a');
	const st = fs.fstatSync(fd);
	const e = {...process.env, ...(typeof env === 'function' ? env(st) : env)};
	if (e.JOURNAL_STREAM === undefined) delete e.JOURNAL_STREAM;
	const p = new Proc('sio-gateway', ['-c', c, '--listen', path.join(d, 'gw.sock')], {stderr: fd, env: e});
	fs.closeSync(fd);
	const said = path.join(d, logFile);
	await until('the gateway to serve',
		() => (fs.existsSync(said) && /serving with/.test(fs.readFileSync(said, 'utf8'))) || !p.alive, 15000);
	assert.ok(p.alive, fs.readFileSync(out, 'utf8'));
	return {p, d, out, text: () => fs.readFileSync(out, 'utf8')};
}

test('under journald (JOURNAL_STREAM names stderr) lines carry no time; another stream keeps it', async () => {
	const j = await gatewayTo('journal', (st) => ({JOURNAL_STREAM: `${st.dev}:${st.ino}`}));
	await j.p.stop();
	const other = await gatewayTo('other', (st) => ({JOURNAL_STREAM: `${st.dev}:${st.ino + 1}`}));
	await other.p.stop();
	const jl = j.text().split('\n').filter(Boolean);
	const ol = other.text().split('\n').filter(Boolean);
	console.log(`journald: ${JSON.stringify(jl[0])}; other: ${JSON.stringify(ol[0])}`);
	assert.ok(jl.length >= 2 && ol.length >= 2);
	for (const l of jl) assert.match(l, /^sio-gateway\[\d+\]: /);
	for (const l of ol) assert.match(l, STAMP);
});

test('log = FILE: lines are appended to it, and SIGHUP reopens it after a rotation', async () => {
	const g = await gatewayTo('file', {}, 'log = gw.log\n', 'gw.log');
	const log = path.join(g.d, 'gw.log');
	assert.equal(g.text(), '', 'nothing on stderr');
	fs.renameSync(log, `${log}.1`);
	g.p.proc.kill('SIGHUP');
	await until('a new log file', () => fs.existsSync(log) && /reloaded/.test(fs.readFileSync(log, 'utf8')), 10000);
	await g.p.stop();
	const rotated = fs.readFileSync(`${log}.1`, 'utf8');
	const now = fs.readFileSync(log, 'utf8');
	console.log(`rotated: ${rotated.split('\n').filter(Boolean).length} lines; new: ${JSON.stringify(now.split('\n').filter(Boolean))}`);
	assert.doesNotMatch(rotated, /reloaded/);
	assert.match(now, /stopping on signal 15/);
	for (const l of now.split('\n').filter(Boolean)) assert.match(l, STAMP);
});
