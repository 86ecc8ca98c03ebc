/*
 * The chat demo in Debian's chromium (headless), the way `make run` serves
 * it: lighttpd from scripts/webserver.sh spawning build/sio-gateway with
 * app = chat, sio-wsd behind lighttpd's websocket route, and
 * examples/chat/index.html as a static file and socket.io-client 0.9.16's
 * socket.io.js (from node_modules) served by the gateway. Two pages join
 * as two names; a message from one shows up in the other's #log, and so does one longer than a
 * chat line in 3-byte characters (cut between characters), and the
 * message after it. The runs:
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
 * Environment (all optional; CHROMIUM, GATEWAY, WSD and BROWSER_TIMEOUT as
 * in setup.mjs, which this file shares with pages.test.mjs):
 *   BROWSER_RUNS    space-separated list of runs
 *                   (default "websocket fallback xhr-polling jsonp-polling";
 *                   BROWSER_TRANSPORTS is read as well, for the old name)
 * Files of each run (configs, logs, database, screenshots) are in
 * var/browser/RUN/; the screenshots are RUN-NAME.png there.
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {ROOT, newPage, screenshot, serve} from './setup.mjs';

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
const textsOf = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));

for (const run of SELECTED) {
	const {query, expect, tried, start} = RUNS[run];
	const transport = expect;
	const title = run === 'fallback'
		? 'over xhr-polling after the websocket upgrade fails (sio-wsd not running)'
		: `over ${transport}`;
	describe(`chat demo in chromium ${title}`, () => {
		const vardir = path.join(ROOT, 'var/browser', run);
		let browser, base, stop;
		const pages = {};
		const consoleLines = [];

		before(async () => {
			({base, browser, stop} = await serve({vardir, app: 'chat',
				by: 'tests/browser/chat.test.mjs', start, consoleLines}));
		});

		after(async () => {
			if (stop) {
				await stop();
			}
		});

		async function openAs(name) {
			const page = await newPage(browser, name, consoleLines);
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

			/* longer than a chat line (4095 bytes), in 3-byte characters
			 * (4088 bytes after "alice: " end inside one): cut between
			 * characters, it still reaches the room, and what follows
			 * it too */
			const long = '€'.repeat(2000);
			await alice.fill('#text', long);
			await alice.click('#send');
			const cut = await bob.waitForFunction(() => [...document.querySelectorAll('#log li')]
			    .map((li) => li.textContent).find((x) => x.startsWith('alice: €€')));
			const got = await cut.jsonValue();
			assert.equal(got, `alice: ${'€'.repeat(Math.floor((4095 - 'alice: '.length) / 3))}`,
			    'the long line, cut on a character boundary');

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
				await screenshot(page, path.join(vardir, `${run}-${name}.png`));
			}
		});
	});
}
