/*
 * What the browser tests share: an example served the way `make run` serves
 * it (lighttpd from scripts/webserver.sh spawning build/sio-gateway with
 * app = APP, sio-wsd behind lighttpd's websocket route, the example's
 * index.html as a static file and socket.io-client 0.9.16's socket.io.js
 * from the gateway, out of build/client) and Debian's chromium (headless)
 * through playwright-core.
 *
 * Environment (all optional):
 *   CHROMIUM        browser binary (default /usr/bin/chromium)
 *   GATEWAY         sio-gateway binary (default build/sio-gateway)
 *   WSD             sio-wsd binary (default build/sio-wsd)
 *   CLIENT_DIR      the gateway's client_dir (default build/client)
 *   BROWSER_TIMEOUT ms for each wait in a page (default 15000)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {ROOT, CLIENT_DIR, serveApp} from '../lib/servers.mjs';

export {ROOT, CLIENT_DIR};
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const GATEWAY = path.resolve(ROOT, process.env.GATEWAY || 'build/sio-gateway');
export const WSD = path.resolve(ROOT, process.env.WSD || 'build/sio-wsd');
export const TIMEOUT = Number(process.env.BROWSER_TIMEOUT || 15000);
export const CLIENT = path.join(ROOT, 'node_modules/socket.io-client/dist');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
	'--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync'];

/*
 * Checks what a run needs, lays out vardir for app, starts the web server
 * (server: lighttpd, nginx, apache or apache-cgi; start: extra
 * `webserver.sh start` flags such as --no-wsd) on a free port
 * and chromium. Returns {base, browser, stop}; stop() closes both, and
 * writes consoleLines (if any) to vardir/console.log.
 */
export async function serve({vardir, app, by, start = [], consoleLines = [],
	server = 'lighttpd'}) {
	assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing (apt-get install chromium)`);
	assert.ok(fs.existsSync(GATEWAY), `${GATEWAY} not built (make)`);
	assert.ok(start.includes('--no-wsd') || fs.existsSync(WSD), `${WSD} not built (make)`);
	assert.ok(fs.existsSync(path.join(CLIENT_DIR, 'socket.io.js')),
	    `${CLIENT_DIR}/socket.io.js missing (npm ci, then make)`);
	let browser, userDir, srv;
	const stop = async () => {
		if (browser) {
			await browser.close().catch(() => {});
		}
		if (userDir) {
			fs.rmSync(userDir, {recursive: true, force: true});
		}
		if (srv) {
			srv.keep = true; /* the screenshots and logs stay in vardir */
			await srv.stop();
		}
		if (consoleLines.length) {
			fs.writeFileSync(path.join(vardir, 'console.log'), consoleLines.join('\n') + '\n');
		}
	};
	try {
		srv = await serveApp({app, vardir, by, server, start,
			conf: {log_level: 'debug'}, env: {GATEWAY, WSD}});
		userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-chromium-'));
		browser = await chromium.launchPersistentContext(userDir, {
			executablePath: CHROMIUM,
			headless: true,
			args: ARGS,
			timeout: 60000,
		});
		browser.setDefaultTimeout(TIMEOUT);
	} catch (e) {
		await stop();
		throw e;
	}
	return {base: srv.base, browser, stop};
}

/* A new page whose console and uncaught errors go to consoleLines, as
 * "NAME: TYPE: TEXT". */
export async function newPage(browser, name, consoleLines) {
	const page = await browser.newPage();
	page.on('console', (m) => consoleLines.push(`${name}: ${m.type()}: ${m.text()}`));
	page.on('pageerror', (e) => consoleLines.push(`${name}: pageerror: ${e.message}`));
	return page;
}

/* Saves a screenshot of page at file and checks it is a non-empty PNG. */
export async function screenshot(page, file) {
	await page.screenshot({path: file});
	const buf = fs.readFileSync(file);
	assert.ok(buf.length > 8, `${file} is not empty`);
	assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
	    `${file} is a PNG`);
	return file;
}
