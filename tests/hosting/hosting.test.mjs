/*
 * The shared-hosting recipe (docs/shared-hosting.md) on Apache configured
 * the way such hosts are: a main configuration that is the host's (written
 * here, mode 0600 when run as root: the user cannot read it) with a virtual
 * host whose DocumentRoot is the user's public_html, AllowOverride All,
 * mod_cgid, mod_rewrite, mod_env, no mod_proxy. The user's part is files in
 * their directory only: the recipe's .htaccess (deploy/shared-hosting/
 * htaccess), the statically linked gateway as sio-gateway.cgi (make
 * static-gateway), their siogate.conf (deploy/shared-hosting/siogate.conf
 * with the home directory of this run and app = testapp), socket.io.js and
 * a page. Through it:
 *   - the interop suite (tests/interop/testapp.test.mjs, socket.io-client
 *     0.9.16 in Node) over xhr-polling;
 *   - a page in Debian's chromium over xhr-polling, jsonp-polling and
 *     htmlfile: handshake, a message echoed, an event acked, disconnect;
 *     the gateway processes (CGI) counted while it is connected and after
 *     it disconnected;
 *   - the recipe in docs/shared-hosting.md is the files the test uses, and
 *     the gateway has no program interpreter (statically linked);
 *   - the bridge (app = bridge, deploy/shared-hosting/bridge.conf): the
 *     host runs PHP as CGI, the user's examples/chat-php/app.php is the
 *     application, two clients over xhr-polling join, chat and leave.
 *
 * Environment: STATIC_GATEWAY (default build/sio-gateway-static), CHROMIUM
 * (default /usr/bin/chromium), KEEP_VAR=1 keeps var/hosting.
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFile} from 'node:child_process';
import {promisify} from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

import crypto from 'node:crypto';
import {freePort, io, openSession, emitAck, shutdown} from '../lib/client.mjs';
import {until} from '../lib/until.mjs';
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GATEWAY = path.resolve(ROOT, process.env.STATIC_GATEWAY || 'build/sio-gateway-static');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CLIENT = path.join(ROOT, 'node_modules/socket.io-client/dist');
const VAR = path.join(ROOT, 'var/hosting');
const HOST = path.join(VAR, 'host');             // the host's files
const HOME = path.join(VAR, 'home/user');        // the user's home
const WWW = path.join(HOME, 'public_html');
const CGI = path.join(WWW, 'sio-gateway.cgi');
const ROOT_USER = process.getuid() === 0;
const WAIT = 20000;

let port, base, apache, browser, userDir, failed = false;

// A test whose failure keeps var/hosting and shows the logs.
function check(name, fn) {
	test(name, async (t) => {
		try {
			await fn(t);
		} catch (e) {
			failed = true;
			throw e;
		}
	});
}

// The running processes of the user's sio-gateway.cgi (one per request),
// those of one session (its sid in their REQUEST_URI) when sid is given.
function cgiProcesses(sid) {
	let n = 0;
	for (const pid of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(pid)) continue;
		try {
			if (fs.readlinkSync(`/proc/${pid}/exe`) !== CGI) continue;
			if (sid === undefined ||
					fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')
							.some((v) => v.startsWith('REQUEST_URI=') && v.includes(sid)))
				n++;
		} catch {}
	}
	return n;
}

// True when the ELF file has a PT_INTERP program header (dynamic linking).
function hasInterpreter(file) {
	const b = fs.readFileSync(file);
	assert.equal(b.toString('latin1', 1, 4), 'ELF');
	assert.equal(b[4], 2, 'a 64-bit ELF');
	const phoff = Number(b.readBigUInt64LE(0x20));
	const phentsize = b.readUInt16LE(0x36), phnum = b.readUInt16LE(0x38);
	for (let i = 0; i < phnum; i++)
		if (b.readUInt32LE(phoff + i * phentsize) === 3) return true;
	return false;
}

function hostConfig() {
	// What the host runs; the user never sees it.
	return `# the host's main configuration (tests/hosting/hosting.test.mjs)
ServerRoot "${HOST}"
ServerName localhost
Listen 127.0.0.1:${port}
PidFile "${HOST}/apache2.pid"
DefaultRuntimeDir "${HOST}"
Mutex file:${HOST} default
ErrorLog "${HOST}/error.log"
LogLevel warn
${ROOT_USER ? '' : '#'}User www-data
${ROOT_USER ? '' : '#'}Group www-data
LoadModule mpm_event_module  /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module       /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module        /usr/lib/apache2/modules/mod_dir.so
LoadModule env_module        /usr/lib/apache2/modules/mod_env.so
LoadModule rewrite_module    /usr/lib/apache2/modules/mod_rewrite.so
LoadModule cgid_module       /usr/lib/apache2/modules/mod_cgid.so
LoadModule alias_module      /usr/lib/apache2/modules/mod_alias.so
LoadModule actions_module    /usr/lib/apache2/modules/mod_actions.so
ScriptSock "${HOST}/cgid.sock"
# PHP as CGI (Debian's php-cgi, as its php8.2-cgi.conf shows)
ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/
<Directory "/usr/lib/cgi-bin">
    Options +FollowSymLinks
    Require all granted
</Directory>
Timeout 60
TypesConfig /etc/mime.types
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "${HOST}/access.log" common
<Directory />
    AllowOverride None
    Options None
    Require all denied
</Directory>
<VirtualHost *:${port}>
    ServerName user.example
    DocumentRoot "${WWW}"
    DirectoryIndex index.html
    <Directory "${WWW}">
        AllowOverride All
        Options SymLinksIfOwnerMatch
        Require all granted
    </Directory>
    <FilesMatch ".+\\.php$">
        SetHandler application/x-httpd-php
    </FilesMatch>
    Action application/x-httpd-php /cgi-bin/php
</VirtualHost>
`;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>siogate on shared hosting</title>
<script src="/socket.io.js"></script></head>
<body><pre id="log"></pre>
<script>
// ?transport=NAME: connect over NAME only, send a message, emit an event
// with an ack, then wait for disconnectNow(). window.state says how far.
var T = location.search.replace(/^.*transport=([a-z-]+).*$/, '$1');
var t0 = Date.now();
window.state = {transport: T, step: 'connecting'};
// The client merges a transports option into its shared defaults index by
// index: the socket is given its own list before it connects.
var socket = io.connect(location.protocol + '//' + location.host, {
  'auto connect': false, 'force new connection': true, reconnect: false,
  'connect timeout': 15000});
socket.socket.options.transports = [T];
socket.socket.connect();
socket.on('connect', function () {
  state.connectMs = Date.now() - t0;
  state.used = socket.socket.transport.name;
  state.sid = socket.socket.sessionid;
  state.step = 'connected';
  var t1 = Date.now();
  socket.send('hello from ' + T);
  socket.once('message', function (m) {
    state.echo = m;
    state.echoMs = Date.now() - t1;
    var t2 = Date.now();
    socket.emit('echo', 42, 'x', function () {
      state.ack = Array.prototype.slice.call(arguments);
      state.ackMs = Date.now() - t2;
      state.step = 'ready';
    });
  });
});
socket.on('disconnect', function (r) { state.disconnect = String(r); state.step = 'disconnected'; });
socket.on('error', function (e) { state.error = String(e); });
// socket.io-client 0.9 buffers packets while a POST is in flight and drops
// the buffer on disconnect(): its 0:: would never leave (jsonp-polling's
// POST ends when its iframe loads, which may come after the ack arrived on
// the poll). So disconnect once nothing is in flight, as a page would.
window.disconnectNow = function () {
  var t = setInterval(function () {
    if (socket.socket.doBuffer) return;
    clearInterval(t);
    socket.disconnect();
  }, 5);
};
</script></body></html>
`;

// Starts Apache on the host's configuration; resolves once it answers.
async function startApache() {
	const conf = path.join(HOST, 'apache2.conf');
	const out = fs.openSync(path.join(HOST, 'apache.out'), 'a');
	apache = spawn('/usr/sbin/apache2', ['-f', conf, '-DFOREGROUND'],
			{stdio: ['ignore', out, out], detached: true});
	fs.closeSync(out);
	let exited = false;
	apache.on('exit', () => (exited = true));
	await until('Apache to answer', async () => {
		if (exited) throw new Error(`apache2 exited: ${fs.readFileSync(path.join(HOST, 'apache.out'), 'utf8')}`);
		try {
			return (await fetch(`${base}/index.html`)).ok;
		} catch {
			return false;
		}
	}, WAIT);
}

function stopApache() {
	if (!apache || apache.exitCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		apache.on('exit', resolve);
		try { process.kill(-apache.pid, 'SIGTERM'); } catch { resolve(); }
	});
}

before(async () => {
	failed = true; // until the setup is done
	assert.ok(fs.existsSync(GATEWAY), `${GATEWAY} not built (make static-gateway)`);
	assert.ok(fs.existsSync('/usr/sbin/apache2'), 'apache2 missing (make deps)');
	assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing (make deps)`);
	fs.rmSync(VAR, {recursive: true, force: true});
	fs.mkdirSync(HOST, {recursive: true});
	fs.mkdirSync(path.join(HOME, 'siogate'), {recursive: true});
	fs.mkdirSync(WWW, {recursive: true});
	port = await freePort();
	base = `http://127.0.0.1:${port}`;

	fs.writeFileSync(path.join(HOST, 'apache2.conf'), hostConfig(), {mode: 0o600});
	// The user's files: the recipe with this run's home directory.
	const home = (s) => s.replaceAll('/home/user', HOME);
	fs.writeFileSync(path.join(WWW, '.htaccess'),
			home(fs.readFileSync(path.join(ROOT, 'deploy/shared-hosting/htaccess'), 'utf8')));
	fs.writeFileSync(path.join(HOME, 'siogate.conf'),
			home(fs.readFileSync(path.join(ROOT, 'deploy/shared-hosting/siogate.conf'), 'utf8'))
					.replace(/^app = .*$/m, 'app = testapp'));
	fs.copyFileSync(GATEWAY, CGI);
	fs.chmodSync(CGI, 0o755);
	fs.copyFileSync(path.join(CLIENT, 'socket.io.js'), path.join(WWW, 'socket.io.js'));
	fs.writeFileSync(path.join(WWW, 'index.html'), PAGE);
	if (ROOT_USER) {
		// Without suexec the CGI runs as Apache's user: the data directory is
		// its, everything else stays the owner's and readable.
		await run('chown', ['www-data:www-data', path.join(HOME, 'siogate')]);
		for (const d of [VAR, path.join(VAR, 'home'), HOME, WWW]) fs.chmodSync(d, 0o755);
	}
	await startApache();
	userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-chromium-'));
	browser = await chromium.launchPersistentContext(userDir, {
		executablePath: CHROMIUM, headless: true, timeout: 60000,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	browser.setDefaultTimeout(WAIT);
	failed = false;
});

after(async () => {
	if (browser) await browser.close().catch(() => {});
	if (userDir) fs.rmSync(userDir, {recursive: true, force: true});
	await stopApache();
	for (const f of failed ? ['error.log', 'apache.out'] : []) {
		const p = path.join(HOST, f);
		if (fs.existsSync(p) && fs.statSync(p).size > 0)
			console.log(`-- ${path.relative(ROOT, p)} (last lines)\n${fs.readFileSync(p, 'utf8').split('\n').slice(-15).join('\n')}`);
	}
	if (!failed && !process.env.KEEP_VAR) fs.rmSync(VAR, {recursive: true, force: true});
});

check('the recipe in docs/shared-hosting.md is the files used here', () => {
	const doc = fs.readFileSync(path.join(ROOT, 'docs/shared-hosting.md'), 'utf8');
	for (const f of ['htaccess', 'siogate.conf', 'bridge.conf']) {
		const text = fs.readFileSync(path.join(ROOT, 'deploy/shared-hosting', f), 'utf8');
		assert.ok(doc.includes(text), `docs/shared-hosting.md holds deploy/shared-hosting/${f} verbatim`);
	}
});

check('sio-gateway.cgi is statically linked (no program interpreter)', () => {
	assert.equal(hasInterpreter(CGI), false);
	assert.equal(hasInterpreter(path.join(ROOT, 'build/sio-gateway')), true,
			'the check sees the interpreter of the ordinary build');
	console.log(`   ${path.relative(ROOT, GATEWAY)}: ${fs.statSync(GATEWAY).size} bytes, no PT_INTERP`);
});

check('the handshake reaches the gateway through the .htaccess rewrite', async () => {
	const res = await fetch(`${base}/socket.io/1/?t=${Date.now()}`);
	const body = await res.text();
	assert.equal(res.status, 200, body);
	const [sid, hb, close, transports] = body.split(':');
	assert.match(sid, /^[\w-]+$/);
	assert.equal(transports, 'xhr-polling,jsonp-polling,htmlfile');
	console.log(`   handshake: ${body} (heartbeat ${hb} s, close ${close} s)`);
});

check('after an internal rewrite the gateway reads REDIRECT_SIOGATE_CONF', async () => {
	// What Apache passes when SIOGATE_CONF was set on the first pass only
	// (mod_rewrite's [E=SIOGATE_CONF:...]): the CGI run as Apache runs it.
	const env = {GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', REQUEST_URI: '/socket.io/1/?t=1',
		QUERY_STRING: 't=1', SCRIPT_NAME: '/sio-gateway.cgi', REDIRECT_URL: '/socket.io/1/',
		REMOTE_ADDR: '127.0.0.1', SERVER_PROTOCOL: 'HTTP/1.1',
		REDIRECT_SIOGATE_CONF: path.join(HOME, 'siogate.conf')};
	const as = ROOT_USER ? ['setpriv', ['--reuid=www-data', '--regid=www-data', '--clear-groups', CGI]] : [CGI, []];
	const child = spawn(as[0], as[1], {env, cwd: WWW, stdio: ['ignore', 'pipe', 'inherit']});
	let stdout = '';
	child.stdout.on('data', (d) => (stdout += d));
	const code = await new Promise((r) => child.on('exit', r));
	assert.equal(code, 0, stdout);
	assert.match(stdout, /^Status: 200/);
	assert.match(stdout, /:xhr-polling,jsonp-polling,htmlfile$/, 'the recipe\'s transports: its configuration');
	console.log(`   REDIRECT_SIOGATE_CONF alone: ${stdout.split('\r\n')[0]}, body ${stdout.split('\r\n\r\n')[1]}`);
});

check('the interop suite over xhr-polling (socket.io-client 0.9.16 in Node)', async () => {
	const t0 = Date.now();
	const child = spawn(process.execPath, ['--test', '--test-reporter=spec',
		path.join(ROOT, 'tests/interop/testapp.test.mjs')], {
		// Its own run, not a subtest of this one (node --test passes
		// NODE_TEST_CONTEXT to the processes it starts).
		env: {...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')),
			SIO_URL: base, SIO_TRANSPORT: 'xhr-polling', SIO_CONNECT_TIMEOUT: '15000'},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let out = '';
	child.stdout.on('data', (d) => (out += d));
	child.stderr.on('data', (d) => (out += d));
	// The most gateway processes at once while the suite runs (sampled).
	let peak = 0;
	const sampler = setInterval(() => (peak = Math.max(peak, cgiProcesses())), 20);
	const code = await new Promise((r) => child.on('exit', r));
	clearInterval(sampler);
	const pass = /ℹ pass (\d+)/.exec(out), fail = /ℹ fail (\d+)/.exec(out);
	console.log(`   interop over xhr-polling through CGI: ${pass ? pass[1] : '?'} passed, ` +
			`${fail ? fail[1] : '?'} failed in ${Date.now() - t0} ms, at most ${peak} gateway processes at once (sampled every 20 ms)`);
	assert.equal(code, 0, out.slice(-3000));
	// Polls of sessions the suite left without a disconnect wait out
	// polling_duration (20 s in the recipe), each in its process.
	const left = cgiProcesses(), t1 = Date.now();
	await until('the processes left by the suite to end', () => cgiProcesses() === 0, 40000);
	console.log(`   gateway processes left when the suite ended: ${left}, none ${Date.now() - t1} ms later`);
});

// htmlfile needs IE's ActiveXObject('htmlfile') in the client: chromium
// has none, so it is tested below with raw requests.
for (const transport of ['xhr-polling', 'jsonp-polling']) {
	check(`a page in chromium over ${transport}: handshake, echo, ack, disconnect`, async () => {
		const page = await browser.newPage();
		const lines = [];
		page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
		page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
		try {
			await page.goto(`${base}/index.html?transport=${transport}`);
			await page.waitForFunction(() => window.state.step === 'ready' || window.state.error, null,
					{timeout: WAIT});
			const s = await page.evaluate(() => window.state);
			assert.equal(s.error, undefined, `page error: ${s.error} ${lines.join('\n')}`);
			assert.equal(s.used, transport);
			assert.equal(s.echo, `hello from ${transport}`);
			assert.deepEqual(s.ack, [42, 'x']);
			// Connected: its poll (or stream) waits in a CGI process of its own.
			const waiting = await until('a waiting gateway process', () => cgiProcesses(s.sid), WAIT);
			const t0 = Date.now();
			await page.evaluate(() => window.disconnectNow());
			await page.waitForFunction(() => window.state.step === 'disconnected', null, {timeout: WAIT});
			// Every process ends once the session has: the disconnect ends the
			// waiting request at once, not at the end of polling_duration (20 s).
			await until('the gateway processes to end', () => cgiProcesses(s.sid) === 0, 15000);
			console.log(`   ${transport}: connect ${s.connectMs} ms, echo ${s.echoMs} ms, ack ${s.ackMs} ms; ` +
					`${waiting} gateway process(es) while connected, none ${Date.now() - t0} ms after disconnect()`);
		} finally {
			await page.close();
		}
	});
}

check('an htmlfile stream: 1:: while the response is open, one process until the session ends', async () => {
	const sid = (await (await fetch(`${base}/socket.io/1/?t=${Date.now()}`)).text()).split(':')[0];
	const ac = new AbortController();
	const t0 = Date.now();
	const res = await fetch(`${base}/socket.io/1/htmlfile/${sid}?t=${t0}`, {signal: ac.signal});
	assert.equal(res.status, 200);
	const reader = res.body.getReader(), dec = new TextDecoder();
	let body = '';
	await until('1:: in the htmlfile stream', async () => {
		const {value, done} = await reader.read();
		assert.ok(!done, `the stream ended without 1:: (${body})`);
		body += dec.decode(value, {stream: true});
		return body.includes('_("1::")');
	}, WAIT);
	const firstMs = Date.now() - t0;
	const waiting = cgiProcesses(sid);
	assert.ok(waiting >= 1, 'the stream is a process of its own');
	// The client's disconnect (as socket.io-client sends it) ends the session,
	// its stream and its process.
	const t1 = Date.now();
	const d = await fetch(`${base}/socket.io/1/htmlfile/${sid}?disconnect&t=${t1}`);
	await d.text();
	await until('the stream to end', async () => (await reader.read()).done, WAIT);
	await until('the gateway processes to end', () => cgiProcesses(sid) === 0, 15000);
	ac.abort();
	console.log(`   htmlfile: 1:: ${firstMs} ms after the request; ${waiting} gateway process(es) ` +
			`while open, none ${Date.now() - t1} ms after ?disconnect`);
});

// A session over xhr-polling on the site; its messages gathered.
async function chatter() {
	const got = [];
	const {sock, nsp} = await openSession(io, base, 'xhr-polling',
		{ms: WAIT, prepare: (s, ns) => ns[''].on('message', (m) => got.push(m))});
	const wait = (want) => until(`"${want}" (got ${JSON.stringify(got.slice(-4))})`,
		() => got.includes(want), WAIT);
	return {sock, ns: nsp[''], wait};
}

check('the bridge: the chat in PHP (app = bridge) through the CGI gateway, PHP run as CGI', async () => {
	const secret = crypto.randomBytes(32).toString('hex');
	const secretFile = path.join(HOME, 'siogate-secret');
	fs.writeFileSync(secretFile, `${secret}\n`, {mode: 0o600});
	// without suexec PHP runs as the web server's user, as the gateway
	if (ROOT_USER) await run('chown', ['www-data:www-data', secretFile]);
	fs.copyFileSync(path.join(ROOT, 'ctl/siogate.php'), path.join(WWW, 'siogate.php'));
	fs.copyFileSync(path.join(ROOT, 'examples/chat-php/app.php'), path.join(WWW, 'app.php'));
	fs.writeFileSync(path.join(WWW, 'config.php'), "<?php\nreturn ['siogate_php' => __DIR__ . '/siogate.php',\n" +
		`    'secret_file' => '${secretFile}'];\n`);
	const recipe = fs.readFileSync(path.join(ROOT, 'deploy/shared-hosting/bridge.conf'), 'utf8')
		.replace('http://127.0.0.1/', `http://127.0.0.1:${port}/`)
		.replace(/^bridge_secret = .*$/m, `bridge_secret = ${secret}`);
	const conf = path.join(HOME, 'siogate.conf');
	fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^app = .*$/m, '') + recipe);
	const t0 = Date.now();
	const a = await chatter();
	await a.wait("Welcome! Emit 'join' with your name to enter a room.");
	const connectMs = Date.now() - t0;
	let t1 = Date.now();
	assert.deepEqual(await emitAck(a.ns, 'join', 'ann', 'lobby'), [true]);
	const ackMs = Date.now() - t1;
	await a.wait('ann joined lobby');
	const b = await chatter();
	assert.deepEqual(await emitAck(b.ns, 'join', 'bob', 'lobby'), [true]);
	await a.wait('bob joined lobby');
	t1 = Date.now();
	b.ns.send('hi from PHP on CGI');
	await a.wait('bob: hi from PHP on CGI');
	const messageMs = Date.now() - t1;
	await b.wait('bob: hi from PHP on CGI');
	b.sock.disconnect();
	await a.wait('bob left');
	shutdown(a.sock);
	shutdown(b.sock);
	console.log(`   chat-php through the CGI gateway: welcome ${connectMs} ms after connecting, ` +
		`join acked in ${ackMs} ms, a message to the room in ${messageMs} ms`);
});

check('what the requests cost: one CGI process each', () => {
	const log = fs.readFileSync(path.join(HOST, 'access.log'), 'utf8').trim().split('\n');
	const sio = log.filter((l) => l.includes('"GET /socket.io/') || l.includes('"POST /socket.io/'));
	const by = {};
	for (const l of sio) {
		const m = /\/socket\.io\/1\/([a-z-]*)/.exec(l);
		const k = m && m[1] ? m[1] : 'handshake';
		by[k] = (by[k] || 0) + 1;
	}
	assert.ok(sio.length > 0);
	console.log(`   ${sio.length} requests to the gateway, one process each: ` +
			Object.entries(by).map(([k, v]) => `${k} ${v}`).join(', '));
});
