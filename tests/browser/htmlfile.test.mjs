/*
 * The htmlfile stream in Debian's chromium (headless). The 0.9 client uses
 * htmlfile only in Internet Explorer (it checks for ActiveXObject), so the
 * page plays the client's part itself: it handshakes, defines the
 * `s._(msg, document)` that the stream's scripts call on their parent, and
 * loads /socket.io/1/htmlfile/SID in an iframe, as the client's htmlfile
 * transport does. Behind lighttpd with app = transports (every message
 * comes back to its sender), it POSTs messages one at a time, each
 * coming back in a chunk of its own, and waits for each chunk's script
 * to run. A message holding "<!--<script" must not leave the HTML
 * tokenizer in a state where the later chunks' "</script>" no longer end
 * their elements (they would never run). It prints how many of the
 * chunks ran.
 *
 *   node --test tests/browser/htmlfile.test.mjs        (make browser)
 *
 * Environment (all optional): CHROMIUM, GATEWAY, BROWSER_TIMEOUT as in
 * setup.mjs. Files (config, logs, database, console.log) are in
 * var/browser/htmlfile/.
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {ROOT, TIMEOUT, newPage, serve} from './setup.mjs';

/* No later message may hold "-->", which would end the state early. */
const MESSAGES = [
	'first',
	'a comment and a script opened: <!--<script> x',
	'third </script>',
	'fourth',
];

describe('htmlfile stream in chromium', () => {
	const vardir = path.join(ROOT, 'var/browser/htmlfile');
	const consoleLines = [];
	let ctx;

	before(async () => {
		ctx = await serve({vardir, app: 'transports', by: 'tests/browser/htmlfile.test.mjs',
			start: ['--no-wsd'], consoleLines});
	});

	after(async () => {
		if (ctx) {
			await ctx.stop();
		}
	});

	test('a message holding "<!--<script" does not swallow the chunks after it', async () => {
		const page = await newPage(ctx.browser, 'htmlfile', consoleLines);
		await page.goto(`${ctx.base}/`);
		const sid = await page.evaluate(async () => {
			const r = await fetch(`/socket.io/1/?t=${Date.now()}`);
			const sid = (await r.text()).split(':')[0];
			window.chunks = [];
			window.s = {_: (msg) => window.chunks.push(msg)};
			const f = document.createElement('iframe');
			f.src = `/socket.io/1/htmlfile/${sid}?t=${Date.now()}`;
			document.body.appendChild(f);
			return sid;
		});
		await page.waitForFunction(() => window.chunks.some((c) => c.includes('1::')));

		let ran = 0;
		try {
			for (const m of MESSAGES) {
				const status = await page.evaluate(async ([sid, m]) => (await fetch(
				    `/socket.io/1/htmlfile/${sid}`, {method: 'POST', body: `3:::${m}`})).status,
				[sid, m]);
				assert.equal(status, 200, `POST of ${JSON.stringify(m)}`);
				await page.waitForFunction((want) => window.chunks.some((c) => c.includes(want)),
				    `3:::${m}`, {timeout: TIMEOUT});
				ran++;
			}
		} finally {
			const chunks = await page.evaluate(() => window.chunks.length);
			console.log(`htmlfile: ${ran} of ${MESSAGES.length} messages' chunks ran ` +
			    `(${chunks} chunks in all, the 1:: and the welcome included)`);
		}
		const all = await page.evaluate(() => window.chunks.join('\n'));
		let at = 0;
		for (const m of MESSAGES) {
			const i = all.indexOf(`3:::${m}`, at);
			assert.ok(i >= at, `${JSON.stringify(m)} arrived, in order`);
			at = i;
		}
		assert.deepEqual(consoleLines.filter((l) => l.includes('pageerror')), [],
		    'no uncaught errors in the page');
		await page.close();
	});
});
