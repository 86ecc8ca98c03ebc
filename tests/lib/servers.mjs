// servers.mjs: the servers of a Node suite. A web server (lighttpd, nginx,
// apache or apache-cgi, through scripts/webserver.sh) with sio-gateway, and
// sio-wsd started here (`build/sio-wsd -c VARDIR/siogate.conf --listen
// 127.0.0.1:PORT`) with the same configuration, for a given app and
// configuration; the web server proxies /socket.io/1/websocket/ to it
// (WSD_ADDR). HTTP goes through one keep-alive agent; the database through
// the sqlite3 shell. Every wait is on a condition with a deadline (until).
//
//   const s = await startServers({heartbeat_interval: 1}, {server: 'nginx'});
//   ... s.handshake(), s.ws(sid), s.poll(sid), s.post(sid, pkt), s.sql(q)
//   await s.stop();      // in after(): kills everything that was started
//
// writeConf() and webserver() are the same steps for suites that lay out
// their own directory (an installed tree, a CGI host, a browser's page).
import {spawn, execFileSync, execFile} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {connect} from '../lib/wsclient.mjs';
import {until} from './until.mjs';
import {freePort, portAccepts, request, frame, unframe} from './http.mjs';

export {until, freePort, frame, unframe};

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(process.env.BUILD ?? path.join(ROOT, 'build'));
export const WEBSERVER = path.join(ROOT, 'scripts/webserver.sh');

// Writes conf ({key: value}) as a siogate.conf at file, after an optional
// comment line; returns file.
export function writeConf(file, conf, comment) {
	fs.writeFileSync(file, (comment ? `# ${comment}\n` : '') +
		Object.entries(conf).map(([k, x]) => `${k} = ${x}\n`).join(''));
	return file;
}

// scripts/webserver.sh with args (start [--no-wsd] SERVER PORT VARDIR, or
// stop VARDIR), the programs of the build unless env names others.
// Resolves {stdout, stderr}; rejects with the script's stderr.
export function webserver(args, env = {}) {
	return promisify(execFile)(WEBSERVER, args, {
		cwd: ROOT, timeout: 60000,
		env: {...process.env, GATEWAY: path.join(BUILD, 'sio-gateway'),
			WSD: path.join(BUILD, 'sio-wsd'), ...env},
	});
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

// Starts server with the gateway and sio-wsd for conf (testapp and short
// timeouts unless conf says otherwise). wsd: 'own' (started here: its pid
// and stderr are the test's), or 'none' (no sio-wsd: websocket fails).
export async function startServers(extraConf = {}, {server = 'lighttpd', wsd = 'own'} = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-wsd-wire.'));
	fs.chmodSync(dir, 0o755);
	const v = path.join(dir, 'srv');
	fs.mkdirSync(v);
	const conf = {
		database: `${v}/siogate.db`, run_dir: `${v}/run`, app: 'testapp',
		polling_duration: 2, close_timeout: 20, heartbeat_interval: 25, heartbeat_timeout: 60,
		flash_policy_port: 0, log_level: 'debug', threads: 16, ...extraConf,
	};
	const confFile = writeConf(`${v}/siogate.conf`, conf);
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
		execFileSync(WEBSERVER, ['start', server, String(port), v], {
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
		if (wsd === 'own') await s.startWsd();
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

	// HTTP through the web server, keep-alive; resolves {status, body,
	// headers}; url relative to base unless absolute.
	s.request = (method, url, body = null, ms = 10000) =>
		request(s.agent, method, url.startsWith('http') ? url : s.base + url, body, ms);
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

// The build's copy of socket.io-client's files, the gateway's client_dir.
export const CLIENT_DIR = path.resolve(ROOT, process.env.CLIENT_DIR || path.join(BUILD, 'client'));

// An example served as `make run` serves it (scripts/run.sh's layout):
// vardir (emptied first) with siogate.conf for app (a name or a plugin's
// path) and conf, www/index.html from examples/<page>/ when there is one,
// socket.io.js from the gateway (client_dir); server started on a free
// port by webserver.sh, sio-wsd included (start: extra flags such as
// --no-wsd), with env. Returns {base, port, vardir, conf, stop()}; stop()
// stops the server and removes vardir unless keep is set.
export async function serveApp({app, vardir, by, server = 'lighttpd', conf = {},
	start = [], env = {}, page = app, script}) {
	await webserver(['stop', vardir]).catch(() => {});
	fs.rmSync(vardir, {recursive: true, force: true});
	fs.mkdirSync(path.join(vardir, 'run'), {recursive: true});
	fs.mkdirSync(path.join(vardir, 'www'), {recursive: true});
	const port = await freePort();
	const php = phpApp(script ?? path.join(ROOT, 'examples', page, 'app.php'), vardir, port);
	const confFile = writeConf(path.join(vardir, 'siogate.conf'), {
		database: `${vardir}/siogate.db`, run_dir: `${vardir}/run`, app,
		client_dir: CLIENT_DIR, polling_duration: 5,
		// no Flash policy listener: runs may overlap (make interop)
		flash_policy_port: 0, ...php, ...conf,
	}, `written by ${by} (as scripts/run.sh does)`);
	const index = pageOf(page);
	if (index) fs.copyFileSync(index, path.join(vardir, 'www/index.html'));
	await webserver(['start', ...start, server, String(port), vardir],
		{SIOGATE_CONF: confFile, DOCROOT: path.join(vardir, 'www'), ...env});
	return {
		base: `http://127.0.0.1:${port}`, port, vardir, conf: confFile,
		keep: false,
		async stop() {
			await webserver(['stop', vardir]).catch(() => {});
			if (!this.keep) fs.rmSync(vardir, {recursive: true, force: true});
		},
	};
}

// The page of example name: its index.html, or for a PHP example
// (chat-php) its C twin's (chat): the page is the same. null when none.
function pageOf(name) {
	for (const n of [name, name.replace(/-php$/, '')]) {
		const f = path.join(ROOT, 'examples', n, 'index.html');
		if (fs.existsSync(f)) return f;
	}
	return null;
}

// A PHP application (script: examples/<page>/app.php, or serveApp's
// script), app = bridge, as scripts/run.sh sets it up: the script and its
// config.php in www/, a new secret in run/bridge-secret, the bridge's
// settings returned for the configuration. {} when there is no script.
function phpApp(script, vardir, port) {
	if (!fs.existsSync(script)) return {};
	const secret = crypto.randomBytes(32).toString('hex');
	const secretFile = path.join(vardir, 'run', 'bridge-secret');
	const quote = (x) => `'${x.replace(/[\\']/g, (c) => `\\${c}`)}'`;
	fs.writeFileSync(secretFile, `${secret}\n`, {mode: 0o644});
	fs.copyFileSync(script, path.join(vardir, 'www', 'app.php'));
	fs.writeFileSync(path.join(vardir, 'www', 'config.php'),
		`<?php\nreturn ['siogate_php' => ${quote(path.join(ROOT, 'ctl', 'siogate.php'))},\n` +
		`    'secret_file' => ${quote(secretFile)}];\n`);
	return {app: 'bridge', bridge_url: `http://127.0.0.1:${port}/app.php`,
		bridge_secret: secret, bridge_data: 'name room'};
}

// For the shell suites (tests/interop/run-servers.sh, tests/wire/gateway.sh):
//   node tests/lib/servers.mjs conf FILE COMMENT KEY=VALUE...
// writes FILE as writeConf() does.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const [cmd, file, comment, ...pairs] = process.argv.slice(2);
	if (cmd !== 'conf' || !file) {
		console.error('usage: node tests/lib/servers.mjs conf FILE COMMENT KEY=VALUE...');
		process.exit(2);
	}
	writeConf(file, Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')),
		p.slice(p.indexOf('=') + 1)])), comment || undefined);
}
