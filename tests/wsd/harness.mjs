// harness.mjs: the servers of a wsd wire test and the client helpers.
// lighttpd + sio-gateway through scripts/webserver.sh, and sio-wsd started
// here (`build/sio-wsd -c VARDIR/siogate.conf --listen 127.0.0.1:PORT`)
// with the same configuration; lighttpd proxies /socket.io/1/websocket/
// to it (WSD_ADDR). HTTP goes through one keep-alive agent; the database
// through the sqlite3 shell. Every wait is on an event with a deadline.
//
//   const s = await startServers({heartbeat_interval: 1});
//   ... s.handshake(), s.ws(sid), s.poll(sid), s.post(sid, pkt), s.sql(q)
//   await s.stop();      // in after(): kills everything that was started
import {spawn, execFileSync, execFile} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {connect} from './wsclient.mjs';
import {createRequire} from 'node:module';
export const {freePort} = createRequire(import.meta.url)('../lib/client.cjs');

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(process.env.BUILD ?? path.join(ROOT, 'build'));
const WEBSERVER = path.join(ROOT, 'scripts/webserver.sh');


// Two free ports in a row are not needed: lighttpd's and wsd's are apart.
async function portAccepts(port) {
	return new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		s.on('connect', () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
}

// Waits until fn() is truthy (returns it), looking every `every` ms; the
// default deadline leaves room for a loaded 2-core machine.
export async function until(what, fn, ms = 10000, every = 20) {
	const deadline = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await new Promise((r) => setTimeout(r, every));
	}
}

// Payload framing, lengths in UTF-16 units (JS string lengths).
export function frame(...packets) {
	return packets.map((p) => `\ufffd${p.length}\ufffd${p}`).join('');
}
export function unframe(body) {
	if (!body.startsWith('\ufffd')) return body === '' ? [] : [body];
	const out = [];
	let i = 0;
	while (i < body.length) {
		const j = body.indexOf('\ufffd', i + 1);
		const n = Number(body.slice(i + 1, j));
		out.push(body.slice(j + 1, j + 1 + n));
		i = j + 1 + n;
	}
	return out;
}

// One sio-wsd process; its stderr is kept (and in VARDIR/wsd-N.log).
class Wsd {
	constructor(conf, port, logFile) {
		this.port = port;
		this.log = '';
		this.out = fs.openSync(logFile, 'a');
		this.proc = spawn(path.join(BUILD, 'sio-wsd'), ['-c', conf, '--listen', `127.0.0.1:${port}`],
			{stdio: ['ignore', 'ignore', 'pipe']});
		this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({code, sig})));
		this.proc.stderr.on('data', (d) => {
			this.log += d.toString();
			fs.writeSync(this.out, d);
		});
	}
	get pid() { return this.proc.pid; }
	get alive() { return this.proc.exitCode === null && this.proc.signalCode === null; }
	mark() { return this.log.length; }
	// Waits for a log line matching re after offset from; returns the match.
	waitLog(re, from = 0, ms = 5000) {
		return until(`wsd log ${re}`, () => re.exec(this.log.slice(from)), ms);
	}
	rssKb() {
		const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${this.pid}/status`, 'utf8'));
		return Number(m[1]);
	}
	async kill(sig = 'SIGTERM', ms = 5000) {
		if (!this.alive) return this.exited;
		this.proc.kill(sig);
		const t = setTimeout(() => this.alive && this.proc.kill('SIGKILL'), ms);
		const r = await this.exited;
		clearTimeout(t);
		return r;
	}
}

export async function startServers(extraConf = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-wsd-wire.'));
	fs.chmodSync(dir, 0o755);
	const v = path.join(dir, 'srv');
	fs.mkdirSync(v);
	const conf = {
		database: `${v}/siogate.db`, run_dir: `${v}/run`, app: 'testapp',
		polling_duration: 2, close_timeout: 20, heartbeat_interval: 25, heartbeat_timeout: 60,
		flash_policy_port: 0, log_level: 'debug', threads: 16, ...extraConf,
	};
	const confFile = `${v}/siogate.conf`;
	fs.writeFileSync(confFile, Object.entries(conf).map(([k, x]) => `${k} = ${x}\n`).join(''));
	const port = await freePort();
	let wsdPort = await freePort();
	while (wsdPort === port) wsdPort = await freePort();
	const s = {
		dir, var: v, conf, confFile, port, wsdPort, db: conf.database, wsds: [], n: 0,
		base: `http://127.0.0.1:${port}/socket.io/1`,
		agent: new http.Agent({keepAlive: true, maxSockets: 64}),
	};
	const cleanup = () => {
		for (const w of s.wsds) if (w.alive) try { w.proc.kill('SIGKILL'); } catch { /* gone */ }
		try { execFileSync(WEBSERVER, ['stop', v], {stdio: 'ignore'}); } catch { /* stopped */ }
	};
	process.once('exit', cleanup);
	// A runner killed by a signal (or a closed pipe) still stops them.
	const onSignal = (sig) => { cleanup(); process.kill(process.pid, sig); };
	for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, onSignal);
	process.stdout.on('error', () => { cleanup(); process.exit(1); });
	try {
		execFileSync(WEBSERVER, ['start', 'lighttpd', String(port), v], {
			env: {...process.env, GATEWAY: path.join(BUILD, 'sio-gateway'),
				SIOGATE_CONF: confFile, WSD_ADDR: `127.0.0.1:${wsdPort}`,
				NO_WSD: '1'}, // we start sio-wsd ourselves: its pid and stderr
			stdio: ['ignore', 'pipe', 'pipe'],
		});
	} catch (e) {
		cleanup();
		throw new Error(`webserver.sh start failed: ${e.stderr}`);
	}
	// webserver.sh starts sio-wsd itself unless NO_WSD=1; the tests need
	// its pid and stderr, so it must not have.
	if (await portAccepts(wsdPort)) {
		cleanup();
		throw new Error(`something already listens on the wsd port ${wsdPort} (webserver.sh started wsd?)`);
	}

	s.startWsd = async () => {
		const w = new Wsd(confFile, wsdPort, `${v}/wsd-${s.n++}.log`);
		s.wsds.push(w);
		s.wsd = w;
		await until('sio-wsd to accept connections', async () => {
			if (!w.alive) throw new Error(`sio-wsd exited: ${w.log}`);
			return portAccepts(wsdPort);
		}, 10000, 20);
		return w;
	};
	try {
		await s.startWsd();
	} catch (e) {
		cleanup();
		throw e;
	}

	s.stop = async () => {
		s.agent.destroy();
		for (const w of s.wsds) await w.kill('SIGTERM', 3000);
		try { execFileSync(WEBSERVER, ['stop', v], {stdio: 'ignore'}); } catch { /* stopped */ }
		process.removeListener('exit', cleanup);
		for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(sig, onSignal);
		if (!process.env.KEEP_TMP) fs.rmSync(dir, {recursive: true, force: true});
	};

	// HTTP through lighttpd, keep-alive; resolves {status, body, headers}.
	// A kept-alive socket that lighttpd closed while idle (its keep-alive
	// timeout is 5 s) fails at once on reuse: such a request is retried.
	s.request = (method, url, body = null, ms = 10000) => request1(method, url, body, ms).catch((e) => {
		if (e.reused && /hang up|ECONNRESET|EPIPE/.test(`${e.code} ${e.message}`)) return request1(method, url, body, ms);
		throw e;
	});
	const request1 = (method, url, body, ms) => new Promise((resolve, reject) => {
		const req = http.request(url.startsWith('http') ? url : s.base + url, {
			method, agent: s.agent,
			headers: body === null ? {} : {'Content-Type': 'text/plain; charset=UTF-8',
				'Content-Length': Buffer.byteLength(body)},
		}, (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => resolve({status: res.statusCode, headers: res.headers,
				body: Buffer.concat(parts).toString('utf8')}));
			res.on('error', reject);
		});
		req.setTimeout(ms, () => req.destroy(new Error(`${method} ${url}: no answer in ${ms} ms`)));
		req.on('error', (e) => { e.reused = req.reusedSocket; reject(e); });
		if (body !== null) req.write(body);
		req.end();
	});
	s.handshake = async () => {
		const r = await s.request('GET', `/?t=${Date.now()}`);
		if (r.status !== 200) throw new Error(`handshake ${r.status} ${r.body}`);
		return r.body.split(':')[0];
	};
	// One xhr-polling GET: its packets.
	s.poll = async (sid) => {
		const r = await s.request('GET', `/xhr-polling/${sid}?t=${Date.now()}`);
		if (r.status !== 200) throw new Error(`GET ${r.status} ${r.body}`);
		return unframe(r.body);
	};
	// POSTs packets on xhr-polling (framed when several).
	s.post = async (sid, ...packets) => {
		const r = await s.request('POST', `/xhr-polling/${sid}?t=${Date.now()}`,
			packets.length === 1 ? packets[0] : frame(...packets));
		if (r.status !== 200 || r.body !== '1') throw new Error(`POST ${r.status} ${r.body}`);
	};
	// Polls sid until count packets (not counting 8:: and, unless asked,
	// 2::) arrived; returns them in order.
	s.collect = async (sid, count, ms = 10000, {keepHb = false} = {}) => {
		const got = [];
		const deadline = Date.now() + ms;
		while (got.length < count) {
			if (Date.now() > deadline) throw new Error(`collected ${got.length}/${count}: ${JSON.stringify(got.slice(-5))}`);
			for (const p of await s.poll(sid))
				if (p !== '8::' && (keepHb || p !== '2::')) got.push(p);
		}
		return got;
	};
	// A websocket straight to wsd, or via lighttpd's proxy (via: 'proxy').
	s.ws = (sid, {via = 'wsd', transport = 'websocket', ...o} = {}) => connect({
		port: via === 'proxy' ? port : wsdPort,
		path: `/socket.io/1/${transport}/${sid}`, ...o,
	});
	s.sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', s.db, q], {encoding: 'utf8'}).trim();
	s.sqlAsync = (q) => new Promise((resolve, reject) => execFile('sqlite3',
		['-cmd', '.timeout 5000', s.db, q], {encoding: 'utf8'},
		(e, out) => (e ? reject(e) : resolve(out.trim()))));
	s.session = (sid) => {
		const row = s.sql(`SELECT state, coalesce(transport,''), coalesce(holder,''), coalesce(close_reason,'') FROM sessions WHERE sid='${sid}'`);
		if (!row) return null;
		const [state, transport, holder, reason] = row.split('|');
		return {state, transport, holder, reason};
	};
	s.queue = (sid) => Number(s.sql(`SELECT count(*) FROM outbox WHERE sid='${sid}'`));
	// A session with a websocket on wsd that got its `1::`.
	s.wsSession = async (o = {}) => {
		const sid = await s.handshake();
		const ws = await s.ws(sid, o);
		await ws.expectText('1::', 5000);
		ws.sid = sid;
		return ws;
	};
	s.logs = () => {
		let out = '';
		for (const f of fs.readdirSync(v).filter((x) => x.endsWith('.log') || x === 'webserver.out'))
			out += `--- ${f}\n` + fs.readFileSync(path.join(v, f), 'utf8').split('\n').slice(-40).join('\n');
		return out;
	};
	return s;
}

// An echo round trip on ws, as proof that the session is alive.
let echoN = 0;
export async function echoes(ws, ms = 5000) {
	const msg = `3:::alive-${process.pid}-${++echoN}`;
	ws.send(msg);
	await ws.expectText(msg, ms);
}
