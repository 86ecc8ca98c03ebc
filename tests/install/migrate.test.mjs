/*
 * Follows docs/migrating.md with its own files: its app.js runs on
 * socket.io 0.9.19 (node_modules), its lobby.c is built with its cc line
 * against `make install PREFIX=<tmp>/prefix` and served with its
 * siogate.conf behind lighttpd (the installed webserver.sh, programs and
 * config), and its index.html, unchanged, is the page of both. The page's
 * script runs in Node against each server (a vm context with the few DOM
 * calls it makes, `io` being socket.io-client 0.9.16 over one transport),
 * as two users, ann and bob, taking the same steps; what each page shows
 * must be the same from both servers, over websocket and xhr-polling;
 * and the page itself in chromium, loading the client from each server,
 * must show the same, siogate's behind each web server webserver.sh
 * starts (lighttpd, nginx, apache, apache-cgi) in turn. Both servers must
 * also serve the page and /socket.io/socket.io.js,
 * answer the handshake with the same timers and transports, and refuse
 * ?name=nobody alike.
 *
 * The defaults (docs/configuration.md, "Differences from socket.io 0.9"):
 * a socket.io 0.9.19 Manager with no settings and the installed
 * sio-gateway as CGI with no key but its paths answer a handshake with
 * the same heartbeat timeout, close timeout and transports in the same
 * order; the table names every setting of that Manager; and where
 * siogate's key keeps 0.9's default, configuration.md and
 * siogate.conf.example say the value 0.9 has.
 *
 *   node --test tests/install/        (make install-test)
 *
 * Environment: see doc.mjs; CHROMIUM, the browser (default
 * /usr/bin/chromium).
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {createRequire} from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import vm from 'node:vm';
import {ROOT, TIMEOUT, doc, until, scratch, install, buildPlugin, writeConfig,
	serve, stopServing} from './doc.mjs';

const require = createRequire(import.meta.url);
const sio09 = require('socket.io');
import {io, defaults, shutdown, freePort, httpGet as get} from '../lib/client.mjs';
defaults.ms = TIMEOUT;

const S = scratch('migrate', 'lobby');
const NODEDIR = path.join(S.tmp, 'node09');   /* where app.js runs */
const started = [];                           /* child processes to stop */
let failed = false;
const servers = {};                           /* name -> base URL */
let siogateConf;                              /* the document's siogate.conf */
let page;                                     /* the document's index.html */

function guard(fn) {
	return async (...a) => {
		try { return await fn(...a); } catch (e) { failed = true; throw e; }
	};
}

/*
 * The page's inline script run against base, as a browser would with the
 * user answering name to its prompt. io.connect() resolves the page's
 * relative URLs against base and, as a page does, gives every endpoint one
 * socket; that socket uses only transport (the 0.9.16 client merges a
 * transports option index by index into its default list, so the list is
 * set on the socket) and does not reconnect.
 */
function openPage(html, base, transport, name) {
	const m = html.match(/<script>([\s\S]*?)<\/script>/);
	assert.ok(m, 'the page has an inline script');
	const els = new Map();
	const el = (id) => {
		if (!els.has(id)) {
			els.set(id, {id, textContent: '', value: '', items: [],
			    appendChild(c) { this.items.push(c); return c; }});
		}
		return els.get(id);
	};
	let sock = null;
	const context = {
		document: {getElementById: el, createElement: () => ({textContent: ''})},
		prompt: () => name,
		encodeURIComponent,
		io: {
			connect(uri, opts = {}) {
				const ep = new URL(uri ?? '/', base).pathname;
				if (!sock) {
					sock = io.connect(base, {...opts, 'auto connect': false,
					    'force new connection': true, 'reconnect': false,
					    'connect timeout': TIMEOUT}).socket;
					sock.options.transports = [transport];
				}
				return sock.of(ep === '/' ? '' : ep);
			},
		},
	};
	vm.runInNewContext(m[1], context, {filename: `index.html (${name})`});
	assert.ok(sock, 'the page connects');
	sock.connect();
	return {
		sock,
		log: () => el('log').items.map((i) => i.textContent),
		status: () => el('status').textContent,
		say(text) {
			el('text').value = text;
			el('form').onsubmit({preventDefault() {}});
		},
	};
}

/* What the two pages show after each step, on one server and transport. */
async function scenario(base, transport) {
	const ann = openPage(page, base, transport, 'ann');
	let bob;
	const lines = (p, n, what) => until(`${what} (ann ${JSON.stringify(ann.log())}, bob ${JSON.stringify(bob?.log())})`, () => p.log().length >= n, TIMEOUT);
	try {
		await lines(ann, 2, 'ann: the ack of hello and /chat\'s answer');
		const steps = {annConnected: {status: ann.status(), log: ann.log().sort()}};
		bob = openPage(page, base, transport, 'bob');
		await lines(bob, 2, 'bob: the ack of hello and /chat\'s answer');
		await lines(ann, 3, 'ann hears that bob joined');
		steps.bobJoined = {ann: ann.log().slice(2), bob: bob.log().sort(), status: bob.status()};
		ann.say('hi everyone');
		await lines(ann, 4, 'ann hears what she said');
		await lines(bob, 3, 'bob hears what ann said');
		steps.annSaid = {ann: ann.log().slice(3), bob: bob.log().slice(2)};
		bob.sock.disconnect();
		await lines(ann, 5, 'ann hears that bob left');
		steps.bobLeft = {ann: ann.log().slice(4), bob: bob.status()};
		return steps;
	} finally {
		shutdown(ann.sock);
		if (bob) shutdown(bob.sock);
	}
}

/* The handshake's fields after the sid: heartbeat timeout, close timeout,
 * transports. */
function handshakeFields(body) {
	const f = body.split(':');
	assert.equal(f.length, 4, `a handshake: ${body}`);
	return f.slice(1).join(':');
}

/* The installed sio-gateway as CGI, as Apache's mod_cgid runs it: a GET
 * has no body (stdin at its end). Resolves with its whole output. */
function cgi(conf, uri) {
	return new Promise((resolve, reject) => {
		const p = spawn(S.bin('sio-gateway'), [], {
			stdio: ['ignore', 'pipe', 'pipe'],
			env: {PATH: process.env.PATH, SIOGATE_CONF: conf,
			    GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET',
			    REQUEST_URI: uri, QUERY_STRING: uri.split('?')[1] ?? '',
			    REMOTE_ADDR: '127.0.0.1', SERVER_PROTOCOL: 'HTTP/1.1'},
		});
		let out = '', err = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { err += d; });
		p.on('error', reject);
		p.on('close', (code) => {
			if (code === 0) resolve(out);
			else reject(new Error(`sio-gateway as CGI: exit ${code}: ${err}`));
		});
	});
}

before(guard(async () => {
	await install(S);
	const d = doc('migrating.md');
	page = d.pick('html', /<script src="\/socket\.io\/socket\.io\.js">/, 'index.html');

	/* socket.io 0.9: app.js and index.html side by side, as step 1 runs it. */
	fs.mkdirSync(NODEDIR, {recursive: true});
	fs.writeFileSync(path.join(NODEDIR, 'app.js'), d.pick('js', /^\/\/ app\.js/, 'app.js'));
	fs.writeFileSync(path.join(NODEDIR, 'index.html'), page);
	const nodePort = await freePort();
	const child = spawn(process.execPath, ['app.js'], {cwd: NODEDIR,
	    env: {...process.env, PORT: String(nodePort), NODE_PATH: path.join(ROOT, 'node_modules')},
	    stdio: ['ignore', 'inherit', 'inherit']});
	started.push(child);
	servers['socket.io 0.9'] = `http://127.0.0.1:${nodePort}`;

	/* siogate: steps 3 to 5. */
	const source = d.pick('c', /^\/\* lobby\.c/, 'lobby.c');
	const so = await buildPlugin(S, d, source, 'lobby.c');
	const conf = await writeConfig(S, d.pick('ini', /^app = /m, 'siogate.conf'), '/srv/lobby');
	assert.match(fs.readFileSync(conf, 'utf8'), new RegExp(`^app = ${so}$`, 'm'));
	fs.mkdirSync(path.join(S.vardir, 'www'), {recursive: true});
	fs.writeFileSync(path.join(S.vardir, 'www/index.html'), page);
	siogateConf = conf;
	const port = await freePort();
	await serve(S, port, conf);
	servers.siogate = `http://127.0.0.1:${port}`;

	await until('app.js listening', async () => {
		assert.equal(child.exitCode, null, 'app.js runs');
		const r = await get(servers['socket.io 0.9'] + '/').catch(() => null);
		return r?.status === 200;
	}, TIMEOUT);
}));

after(async () => {
	for (const c of started) if (c.exitCode === null) c.kill();
	await stopServing(S);
	if (failed) S.keep();
	S.cleanup();
});

test('both servers serve the page unchanged and the client under the resource', guard(async () => {
	const dist = fs.readFileSync(path.join(ROOT,
	    'node_modules/socket.io-client/dist/socket.io.js'), 'utf8');
	const banner = dist.split('\n')[0];
	for (const [name, base] of Object.entries(servers)) {
		const home = await get(base + '/');
		assert.equal(home.status, 200, `${name}: GET /`);
		assert.equal(home.body, page, `${name}: the page of docs/migrating.md`);
		const js = await get(base + '/socket.io/socket.io.js');
		console.log(`# ${name}: GET /socket.io/socket.io.js: ${js.status} ${js.type}, ${js.body.length} chars`);
		assert.equal(js.status, 200, `${name}: GET /socket.io/socket.io.js`);
		assert.equal(js.body.split('\n')[0], banner, `${name}: socket.io-client 0.9.16`);
	}
}));

test('both servers answer the handshake alike and refuse name=nobody', guard(async () => {
	const got = {};
	for (const [name, base] of Object.entries(servers)) {
		const ok = await get(base + '/socket.io/1/?name=ann&t=1');
		assert.equal(ok.status, 200, `${name}: handshake ${ok.body}`);
		const no = await get(base + '/socket.io/1/?name=nobody&t=1');
		got[name] = {handshake: handshakeFields(ok.body), nobody: no.status};
		console.log(`# ${name}: handshake ...:${got[name].handshake}, name=nobody: ${no.status}`);
	}
	assert.deepEqual(got.siogate, got['socket.io 0.9']);
	assert.equal(got.siogate.nobody, 403);
}));

for (const transport of ['websocket', 'xhr-polling']) {
	test(`the page's script sees the same from both servers over ${transport}`, guard(async () => {
		const got = {};
		for (const [name, base] of Object.entries(servers)) {
			got[name] = await scenario(base, transport);
			console.log(`# ${name} over ${transport}: ${JSON.stringify(got[name])}`);
		}
		assert.deepEqual(got.siogate, got['socket.io 0.9']);
		/* the scenario ran: the acks and the room carried something */
		assert.equal(got.siogate.annSaid.bob.length, 1);
		assert.ok(got.siogate.annSaid.bob[0].includes('hi everyone'));
	}));
}

/* The rows of configuration.md's table of differences: setting -> cells. */
function differences() {
	const md = fs.readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
	const at = md.indexOf('\n## Differences from socket.io 0.9\n');
	assert.ok(at >= 0, 'configuration.md has "Differences from socket.io 0.9"');
	const section = md.slice(at + 1, md.indexOf('\n## ', at + 1));
	const rows = new Map();
	for (const line of section.split('\n')) {
		const m = line.match(/^\| `([^`]+)` \|(.*)\|$/);
		if (m) rows.set(m[1], m[2].split(' | ').map((c) => c.trim()));
	}
	return {md, rows};
}

/* A key's default as configuration.md's "### key" and siogate.conf.example
 * write it. */
function documented(md, key) {
	const m = md.match(new RegExp(`^### ${key}\\n\\n- Default: \`([^\`]*)\``, 'm'));
	const ex = fs.readFileSync(path.join(ROOT, 'siogate.conf.example'), 'utf8')
	    .match(new RegExp(`^#${key} = (.*)$`, 'm'));
	return {doc: m && m[1], example: ex && ex[1]};
}

test('siogate\'s defaults are socket.io 0.9\'s where configuration.md says so', guard(async () => {
	/* socket.io 0.9.19 with no setting changed */
	const srv = http.createServer();
	const mgr = new sio09.Manager(srv);
	const settings = {...mgr.settings};
	mgr.set('log', false);
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	let theirs;
	try {
		const hs = await get(`http://127.0.0.1:${srv.address().port}/socket.io/1/?t=1`);
		theirs = handshakeFields(hs.body);
	} finally {
		clearInterval(mgr.gc);
		srv.close();
	}
	/* siogate with no key but where its files go */
	const conf = path.join(S.tmp, 'defaults.conf');
	fs.writeFileSync(conf, `database = ${S.tmp}/defaults.db\nrun_dir = ${S.tmp}/defaults-run\n`);
	const out = await cgi(conf, '/socket.io/1/?t=1');
	const ours = handshakeFields(out.split(/\r?\n\r?\n/)[1] ?? '');
	console.log(`# handshake with the defaults: socket.io 0.9 ...:${theirs}, siogate ...:${ours}`);
	assert.equal(ours, theirs);

	const {md, rows} = differences();
	const missing = Object.keys(settings).filter((k) => !rows.has(k));
	console.log(`# socket.io 0.9.19 settings: ${Object.keys(settings).length}, in the table: ${rows.size}`);
	assert.deepEqual(missing, [], 'settings of socket.io 0.9 missing from the table');

	/* the keys that keep 0.9's default, as their sections and the example say */
	const same = {
		heartbeat_interval: settings['heartbeat interval'],
		heartbeat_timeout: settings['heartbeat timeout'],
		close_timeout: settings['close timeout'],
		polling_duration: settings['polling duration'],
		flash_policy_port: settings['flash policy port'],
		origins: settings.origins,
		resource: settings.resource.replace(/^\//, ''),
		transports: settings.transports.join(','),
	};
	for (const [key, value] of Object.entries(same)) {
		const d = documented(md, key);
		console.log(`# ${key}: socket.io 0.9 ${value}, configuration.md ${d.doc}, example ${d.example}`);
		assert.equal(d.doc, String(value), `configuration.md's default of ${key}`);
		assert.equal(d.example, String(value), `siogate.conf.example's ${key}`);
	}
}));

test('what app.js emitted from outside a handler: the document\'s sioctl and push.php lines reach the page', guard(async () => {
	const d = doc('migrating.md');
	const lines = d.pick('sh', /^sioctl -c siogate\.conf emit/m, 'pushing from outside')
	    .split('\n').filter((l) => /^(sioctl|php) /.test(l));
	assert.ok(lines.length >= 3, 'sioctl and php lines');
	const ann = openPage(page, servers.siogate, 'websocket', 'ann');
	try {
		await until('ann connected', () => ann.log().length >= 2, TIMEOUT);
		for (const line of lines) {
			/* sioctl and push.php as installed, in the folder of
			 * siogate.conf, on the folder's database */
			const [cmd, cwd] = line.startsWith('sioctl ')
			    ? [S.bin('sioctl') + line.slice('sioctl'.length), S.appdir]
			    : [line.replaceAll('/srv/lobby', S.appdir)
				.replaceAll('/usr/local', S.prefix), S.appdir];
			await new Promise((resolve, reject) => {
				const p = spawn('sh', ['-ec', cmd], {cwd, stdio: ['ignore', 'inherit', 'inherit']});
				p.on('close', (code) => (code === 0 ? resolve()
				    : reject(new Error(`${line}: exit ${code}`))));
			});
		}
		await until(`a line for each of ${lines.length} pushes (${JSON.stringify(ann.log())})`, () => ann.log().length >= 2 + lines.length, TIMEOUT);
		const pushed = ann.log().slice(2);
		console.log(`# pushed from outside: ${JSON.stringify(pushed)}`);
		for (const l of pushed) assert.match(l, /^server: /);
	} finally {
		shutdown(ann.sock);
	}
}));

/*
 * The page itself, unchanged, in Debian's chromium (headless, through
 * playwright-core): ann and bob, each in a tab answering the page's prompt,
 * take the steps of scenario() by typing into the page's form; the
 * transport is the one the client picks (websocket). Both pages end with
 * socket.disconnect() before their tab closes, so that no session of one
 * run waits out close_timeout into the next run's room.
 */
async function browse(browser, base) {
	const tabs = [];
	const open = async (who) => {
		const p = await browser.newPage();
		tabs.push(p);
		p.on('dialog', (dlg) => dlg.accept(who));
		p.on('pageerror', (e) => console.log(`# ${base} ${who}: ${e.message}`));
		await p.goto(base + '/');
		return p;
	};
	const log = (p) => p.$$eval('#log li', (li) => li.map((x) => x.textContent));
	const lines = (p, n) => p.waitForFunction((k) =>
	    document.querySelectorAll('#log li').length >= k, n);
	try {
		const ann = await open('ann');
		await lines(ann, 2);
		const steps = {annConnected: {status: await ann.textContent('#status'),
		    transport: await ann.evaluate(() => socket.socket.transport.name),
		    log: (await log(ann)).sort()}};
		const bob = await open('bob');
		await lines(bob, 2);
		await lines(ann, 3);
		steps.bobJoined = {ann: (await log(ann)).slice(2), bob: (await log(bob)).sort()};
		await ann.fill('#text', 'hi everyone');
		await ann.click('button');
		await lines(ann, 4);
		await lines(bob, 3);
		steps.annSaid = {ann: (await log(ann)).slice(3), bob: (await log(bob)).slice(2)};
		/* what a page's own code would call; closing the tab would leave
		 * the server waiting for close_timeout on both servers */
		await bob.evaluate(() => socket.disconnect());
		await lines(ann, 5);
		steps.bobLeft = {ann: (await log(ann)).slice(4), bob: await bob.textContent('#status')};
		return steps;
	} finally {
		for (const p of tabs) {
			await p.evaluate(() => socket.disconnect()).catch(() => {});
			await p.close().catch(() => {});
		}
	}
}

/* The web servers siogate runs behind in chromium, one after another. */
const WEBSERVERS = ['lighttpd', 'nginx', 'apache', 'apache-cgi'];

test('the page, unchanged, in chromium: the same from socket.io 0.9 and from siogate behind each web server', guard(async () => {
	const {chromium} = await import('playwright-core');
	const exe = process.env.CHROMIUM || '/usr/bin/chromium';
	assert.ok(fs.existsSync(exe), `${exe} missing (apt-get install chromium)`);
	const browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(S.tmp, 'chromium-')), {
		executablePath: exe, headless: true, timeout: 60000,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	browser.setDefaultTimeout(TIMEOUT);
	try {
		const ref = 'socket.io 0.9';
		const got = {[ref]: await browse(browser, servers[ref])};
		console.log(`# chromium, ${ref}: ${JSON.stringify(got[ref])}`);
		/* siogate behind each server in turn: lighttpd is the one before()
		 * started; each next one on a free port once the last has stopped */
		for (const server of WEBSERVERS) {
			let base = servers.siogate;
			if (server !== 'lighttpd') {
				await stopServing(S);
				const port = await freePort();
				await serve(S, port, siogateConf, server);
				base = `http://127.0.0.1:${port}`;
			}
			assert.equal(fs.readFileSync(path.join(S.vardir, 'webserver.name'), 'utf8').trim(),
			    server, 'the server webserver.sh runs');
			const name = `siogate behind ${server}`;
			const t0 = Date.now();
			got[name] = await browse(browser, base);
			console.log(`# chromium, ${name} (${Date.now() - t0} ms): ${JSON.stringify(got[name])}`);
		}
		await stopServing(S);
		for (const server of WEBSERVERS) {
			assert.deepEqual(got[`siogate behind ${server}`], got[ref], `siogate behind ${server}`);
		}
	} finally {
		await browser.close();
	}
}));
