/*
 * The chat demo in Debian's chromium (headless) loading socket.io-client
 * from /socket.io/socket.io.js, as every socket.io 0.9 page does, served by
 * the gateway behind each web server (lighttpd, nginx, Apache with
 * mod_proxy_fcgi, Apache with mod_cgid) from scripts/webserver.sh: the
 * page connects and shows the app's welcome; the script came gzipped (the
 * bytes on the wire are printed beside the file's), with a strong ETag;
 * a second load of the page asks again with If-None-Match from the
 * browser's cache and gets 304.
 *
 *   node --test tests/browser/client.test.mjs        (make browser)
 *
 * Environment (optional; CHROMIUM, GATEWAY, WSD, CLIENT_DIR and
 * BROWSER_TIMEOUT as in setup.mjs):
 *   BROWSER_SERVERS  space-separated servers (default
 *                    "lighttpd nginx apache apache-cgi")
 * Files of each run are in var/browser/client-SERVER/.
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {CLIENT_DIR, ROOT, newPage, serve} from './setup.mjs';

const WELCOME = "Welcome! Emit 'join' with your name to enter a room.";
const SERVERS = (process.env.BROWSER_SERVERS || 'lighttpd nginx apache apache-cgi')
	.split(/\s+/).filter(Boolean);
const SCRIPT = '/socket.io/socket.io.js';

/* Loads the page and waits until it is connected and welcomed; returns the
 * response of socket.io.js. */
async function load(page, base) {
	const [response] = await Promise.all([
		page.waitForResponse((r) => new URL(r.url()).pathname === SCRIPT),
		page.goto(`${base}/`),
	]);
	await page.waitForFunction(
	    () => document.getElementById('status').textContent === 'connected');
	await page.waitForFunction((w) => [...document.querySelectorAll('#log li')]
	    .some((li) => li.textContent === w), WELCOME);
	return response;
}

for (const server of SERVERS) {
	describe(`the chat page loads socket.io.js from the gateway behind ${server}`, () => {
		const vardir = path.join(ROOT, 'var/browser', `client-${server}`);
		const consoleLines = [];
		let browser, base, stop;

		before(async () => {
			({base, browser, stop} = await serve({vardir, app: 'chat', server,
				by: 'tests/browser/client.test.mjs', consoleLines}));
		});

		after(async () => {
			if (stop) {
				await stop();
			}
		});

		test('served gzipped with an ETag, connects, and 304 on the second load', async () => {
			const file = fs.readFileSync(path.join(CLIENT_DIR, 'socket.io.js'));
			const page = await newPage(browser, server, consoleLines);

			const first = await load(page, base);
			const headers = await first.allHeaders();
			assert.equal(first.status(), 200);
			assert.match(headers['content-type'], /^(application|text)\/javascript/);
			assert.equal(headers['content-encoding'], 'gzip', 'chromium takes gzip');
			assert.match(headers.etag, /^"[0-9a-f]{16}"$/);
			assert.ok((await first.body()).equals(file), 'the page got socket.io-client\'s file');
			const wire = (await first.request().sizes()).responseBodySize;
			assert.ok(wire > 0 && wire < file.length, `gzip: ${wire} of ${file.length} bytes`);
			console.log(`# ${server}: socket.io.js ${file.length} bytes, ` +
			    `${wire} on the wire (${(100 * wire / file.length).toFixed(1)}%), ` +
			    `ETag ${headers.etag}; connected over ${await page.textContent('#transport')}`);
			assert.ok(await page.evaluate(() => typeof io === 'object' &&
			    io.version === '0.9.16'), 'the page runs socket.io-client 0.9.16');

			/* the same page again: the browser revalidates its copy */
			const second = await load(page, base);
			const asked = await second.request().allHeaders();
			assert.equal(asked['if-none-match'], headers.etag,
			    'the browser asks with the ETag it has');
			assert.equal(second.status(), 304, 'and the gateway answers 304');
			console.log(`# ${server}: second load: If-None-Match ${asked['if-none-match']}, ` +
			    `status ${second.status()}`);
			await page.close();
		});
	});
}
