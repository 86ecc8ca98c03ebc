/*
 * The chat demo in Debian's chromium (headless), the way `make run` serves
 * it: lighttpd from scripts/webserver.sh spawning build/sio-gateway with
 * app = chat, sio-wsd behind lighttpd's websocket route, and
 * examples/chat/index.html and socket.io-client 0.9.16's socket.io.js (from
 * node_modules) as static files. Two pages join as two names; a message
 * from one shows up in the other's #log. The runs:
 *
 *   websocket      the page's default transports, sio-wsd running: the
 *                  pages chat over websocket
 *   fallback       the default transports with the upgrade path disabled
 *                  (sio-wsd not started: lighttpd answers the upgrade 503),
 *                  ?connect_timeout=1500: each page tries websocket, moves
 *                  to xhr-polling in the same session (same sid, the
 *                  welcome sent on open shows up) and chats
 *   xhr-polling, jsonp-polling   forced with ?transports=
 *
 *   node --test tests/browser/        (make browser)
 *
 * Environment (all optional):
 *   CHROMIUM        browser binary (default /usr/bin/chromium)
 *   GATEWAY         sio-gateway binary (default build/sio-gateway)
 *   WSD             sio-wsd binary (default build/sio-wsd)
 *   BROWSER_TIMEOUT ms for each wait in a page (default 15000)
 *   BROWSER_RUNS    space-separated list of runs
 *                   (default "websocket fallback xhr-polling jsonp-polling";
 *                   BROWSER_TRANSPORTS is read as well, for the old name)
 * Files of each run (configs, logs, database, screenshots) are in
 * var/browser/RUN/; the screenshots are RUN-NAME.png there.
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const GATEWAY = path.resolve(ROOT, process.env.GATEWAY || 'build/sio-gateway');
const WSD = path.resolve(ROOT, process.env.WSD || 'build/sio-wsd');
const TIMEOUT = Number(process.env.BROWSER_TIMEOUT || 15000);
const WELCOME = "Welcome! Emit 'join' with your name to enter a room.";
const FALLBACK_TIMEOUT = 1500;
/* name -> the page's query, the transport it must end up on, how to start */
const RUNS = {
	'websocket': {query: '', expect: 'websocket', tried: ['websocket'], start: []},
	'fallback': {query: `?connect_timeout=${FALLBACK_TIMEOUT}`, expect: 'xhr-polling',
		tried: ['websocket', 'xhr-polling'], start: ['--no-wsd']},
	'xhr-polling': {query: '?transports=xhr-polling', expect: 'xhr-polling',
		tried: ['xhr-polling'], start: []},
	'jsonp-polling': {query: '?transports=jsonp-polling', expect: 'jsonp-polling',
		tried: ['jsonp-polling'], start: []},
};
const SELECTED = (process.env.BROWSER_RUNS || process.env.BROWSER_TRANSPORTS ||
	'websocket fallback xhr-polling jsonp-polling').split(/\s+/).filter(Boolean);
for (const name of SELECTED) {
	if (!RUNS[name]) {
		throw new Error(`unknown browser run '${name}' (${Object.keys(RUNS).join(' ')})`);
	}
}
const CLIENT = path.join(ROOT, 'node_modules/socket.io-client/dist');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
	'--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync'];

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const {port} = s.address();
			s.close(() => resolve(port));
		});
	});
}

/* var/browser/TRANSPORT with the demo as scripts/run.sh lays it out. */
function prepare(vardir) {
	fs.rmSync(vardir, {recursive: true, force: true});
	fs.mkdirSync(path.join(vardir, 'run'), {recursive: true});
	fs.mkdirSync(path.join(vardir, 'www'), {recursive: true});
	fs.writeFileSync(path.join(vardir, 'siogate.conf'),
	    '# written by tests/browser/chat.test.mjs (as scripts/run.sh does)\n' +
	    `database = ${vardir}/siogate.db\nrun_dir = ${vardir}/run\napp = chat\n` +
	    'polling_duration = 5\nlog_level = debug\n' +
	    '# no Flash policy listener: runs may overlap (make interop)\nflash_policy_port = 0\n');
	fs.copyFileSync(path.join(CLIENT, 'socket.io.js'), path.join(vardir, 'www/socket.io.js'));
	fs.copyFileSync(path.join(ROOT, 'examples/chat/index.html'),
	    path.join(vardir, 'www/index.html'));
}

async function webserver(...args) {
	return run(path.join(ROOT, 'scripts/webserver.sh'), args, {
		cwd: ROOT,
		env: {...process.env, GATEWAY, WSD},
		timeout: 60000,
	});
}

const textsOf = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));

for (const run of SELECTED) {
	const {query, expect, tried, start} = RUNS[run];
	const transport = expect;
	const title = run === 'fallback'
		? 'over xhr-polling after the websocket upgrade fails (sio-wsd not running)'
		: `over ${transport}`;
	describe(`chat demo in chromium ${title}`, () => {
		const vardir = path.join(ROOT, 'var/browser', run);
		let port, browser, userDir, base;
		const pages = {};
		const consoleLines = [];

		before(async () => {
			assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing (apt-get install chromium)`);
			assert.ok(fs.existsSync(GATEWAY), `${GATEWAY} not built (make)`);
			assert.ok(start.includes('--no-wsd') || fs.existsSync(WSD), `${WSD} not built (make)`);
			assert.ok(fs.existsSync(path.join(CLIENT, 'socket.io.js')),
			    'node_modules missing (npm ci)');
			prepare(vardir);
			port = await freePort();
			base = `http://127.0.0.1:${port}`;
			await webserver('start', ...start, 'lighttpd', String(port), vardir);
			userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-chromium-'));
			browser = await chromium.launchPersistentContext(userDir, {
				executablePath: CHROMIUM,
				headless: true,
				args: ARGS,
				timeout: 60000,
			});
			browser.setDefaultTimeout(TIMEOUT);
		});

		after(async () => {
			if (browser) {
				await browser.close().catch(() => {});
			}
			if (userDir) {
				fs.rmSync(userDir, {recursive: true, force: true});
			}
			await webserver('stop', vardir).catch(() => {});
			if (consoleLines.length) {
				fs.writeFileSync(path.join(vardir, 'console.log'), consoleLines.join('\n') + '\n');
			}
		});

		async function openAs(name) {
			const page = await browser.newPage();
			page.on('console', (m) => consoleLines.push(`${name}: ${m.type()}: ${m.text()}`));
			page.on('pageerror', (e) => consoleLines.push(`${name}: pageerror: ${e.message}`));
			const t0 = Date.now();
			await page.goto(`${base}/${query}`);
			await page.waitForFunction(
			    () => document.getElementById('status').textContent === 'connected');
			const ms = Date.now() - t0;
			assert.equal(await page.textContent('#transport'), transport,
			    `${name}: the transport shown`);
			assert.equal(await page.evaluate(() => window.socket.socket.transport.name),
			    transport, `${name}: the transport the client uses`);
			/* the transports tried, each on the sid of the one handshake */
			const seen = await page.evaluate(() => ({
				tried: window.transportsTried,
				sid: window.socket.socket.sessionid,
				sessid: window.socket.socket.transport.sessid,
			}));
			assert.deepEqual(seen.tried.map((x) => x.name), tried, `${name}: transports tried`);
			for (const x of seen.tried) {
				assert.equal(x.sid, seen.sid, `${name}: ${x.name} tried on the session's sid`);
			}
			assert.equal(seen.sessid, seen.sid, `${name}: ${transport} opened on it`);
			if (run === 'fallback') {
				assert.ok(ms >= FALLBACK_TIMEOUT, `${name}: connected after ${ms} ms`);
			}
			/* what the app sent on open, whichever transport took it */
			await page.waitForFunction((w) => [...document.querySelectorAll('#log li')]
			    .some((li) => li.textContent === w), WELCOME);
			await page.fill('#name', name);
			await page.click('#join');
			await page.waitForFunction(
			    (n) => [...document.querySelectorAll('#log li')]
				.some((li) => li.textContent.includes(`${n} joined`)), name);
			await page.waitForFunction(() => document.getElementById('name').disabled);
			pages[name] = page;
			return page;
		}

		test('two pages join and exchange a chat message', async () => {
			const alice = await openAs('alice');
			const bob = await openAs('bob');
			/* alice sees bob join: the room reaches both sessions */
			await alice.waitForFunction(() => [...document.querySelectorAll('#log li')]
			    .some((li) => li.textContent.includes('bob joined')));

			const text = `hello over ${transport} 😀 </script> ${Date.now()}`;
			await alice.fill('#text', text);
			await alice.click('#send');
			await bob.waitForFunction((t) => [...document.querySelectorAll('#log li')]
			    .some((li) => li.textContent === `alice: ${t}`), text);
			assert.ok((await textsOf(bob, '#log li')).includes(`alice: ${text}`));

			const reply = `hi alice ${Date.now()}`;
			await bob.fill('#text', reply);
			await bob.press('#text', 'Enter');
			await alice.waitForFunction((t) => [...document.querySelectorAll('#log li')]
			    .some((li) => li.textContent === `bob: ${t}`), reply);

			assert.deepEqual(consoleLines.filter((l) => l.includes('pageerror')), [],
			    'no uncaught errors in the pages');
			for (const [name, page] of Object.entries(pages)) {
				assert.equal(await page.textContent('#status'), 'connected');
				assert.equal(await page.textContent('#transport'), transport);
				await page.screenshot({path: path.join(vardir, `${run}-${name}.png`)});
			}
		});
	});
}
