/*
 * The chat demo in Debian's chromium (headless), the way `make run` serves
 * it: lighttpd from scripts/webserver.sh spawning build/sio-gateway with
 * app = chat, examples/chat/index.html and socket.io-client 0.9.16's
 * socket.io.js (from node_modules) as static files. Two pages join as two
 * names over a forced polling transport; a message from one shows up in the
 * other's #log.
 *
 *   node --test tests/browser/        (make browser)
 *
 * Environment (all optional):
 *   CHROMIUM        browser binary (default /usr/bin/chromium)
 *   GATEWAY         sio-gateway binary (default build/sio-gateway)
 *   BROWSER_TIMEOUT ms for each wait in a page (default 15000)
 *   BROWSER_TRANSPORTS  space-separated list (default "xhr-polling jsonp-polling")
 * Files of each run (configs, logs, database, screenshots) are in
 * var/browser/TRANSPORT/; the screenshots are TRANSPORT-NAME.png there.
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
const TIMEOUT = Number(process.env.BROWSER_TIMEOUT || 15000);
const TRANSPORTS = (process.env.BROWSER_TRANSPORTS || 'xhr-polling jsonp-polling')
	.split(/\s+/).filter(Boolean);
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
	    'polling_duration = 5\nlog_level = debug\n');
	fs.copyFileSync(path.join(CLIENT, 'socket.io.js'), path.join(vardir, 'www/socket.io.js'));
	fs.copyFileSync(path.join(ROOT, 'examples/chat/index.html'),
	    path.join(vardir, 'www/index.html'));
}

async function webserver(...args) {
	return run(path.join(ROOT, 'scripts/webserver.sh'), args, {
		cwd: ROOT,
		env: {...process.env, GATEWAY},
		timeout: 60000,
	});
}

const textsOf = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));

for (const transport of TRANSPORTS) {
	describe(`chat demo in chromium over ${transport}`, () => {
		const vardir = path.join(ROOT, 'var/browser', transport);
		let port, browser, userDir, base;
		const pages = {};
		const consoleLines = [];

		before(async () => {
			assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing (apt-get install chromium)`);
			assert.ok(fs.existsSync(GATEWAY), `${GATEWAY} not built (make)`);
			assert.ok(fs.existsSync(path.join(CLIENT, 'socket.io.js')),
			    'node_modules missing (npm ci)');
			prepare(vardir);
			port = await freePort();
			base = `http://127.0.0.1:${port}`;
			await webserver('start', 'lighttpd', String(port), vardir);
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
			await page.goto(`${base}/?transports=${transport}`);
			await page.waitForFunction(
			    () => document.getElementById('status').textContent === 'connected');
			assert.equal(await page.textContent('#transport'), transport,
			    `${name}: the transport shown`);
			assert.equal(await page.evaluate(() => window.socket.socket.transport.name),
			    transport, `${name}: the transport the client uses`);
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
				await page.screenshot({path: path.join(vardir, `${transport}-${name}.png`)});
			}
		});
	});
}
