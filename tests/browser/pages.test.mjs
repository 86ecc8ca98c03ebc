/*
 * The stats and transports examples in Debian's chromium (headless), served
 * the way `make run APP=stats` and `make run APP=transports` serve them
 * (setup.mjs, shared with chat.test.mjs), over each of websocket,
 * xhr-polling and jsonp-polling, forced through the client's transports
 * option:
 *
 *   stats        /?transports=T: the page shows the counters of sio_stats
 *                as numbers (active_sessions >= 1, peak_sessions >=
 *                active_sessions, ...) and has drawn its graph at least
 *                twice, with lines on it; screenshot stats-T.png
 *   transports   / with only T's checkbox checked, Connect: connected over
 *                T (the page and socket.socket.transport.name), nothing
 *                else tried; a message sent comes back in #log (the app
 *                echoes to everyone); screenshot transports-T.png
 *
 *   node --test tests/browser/        (make browser)
 *
 * Environment (all optional; CHROMIUM, GATEWAY, WSD and BROWSER_TIMEOUT as
 * in setup.mjs):
 *   BROWSER_PAGES_TRANSPORTS  space-separated transports
 *                             (default "websocket xhr-polling jsonp-polling")
 * Files of each server (config, logs, database, console.log) are in
 * var/browser/pages-APP/; the screenshots are var/browser/APP-T.png.
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {ROOT, newPage, screenshot, serve} from './setup.mjs';

const ALL = ['websocket', 'xhr-polling', 'jsonp-polling'];
const TRANSPORTS = (process.env.BROWSER_PAGES_TRANSPORTS || ALL.join(' '))
	.split(/\s+/).filter(Boolean);
for (const t of TRANSPORTS) {
	if (!ALL.includes(t)) {
		throw new Error(`unknown transport '${t}' (${ALL.join(' ')})`);
	}
}
const OUT = path.join(ROOT, 'var/browser');
const BY = 'tests/browser/pages.test.mjs';

/* A running server for app, with chromium; the describe's before/after. */
function server(app) {
	const ctx = {vardir: path.join(OUT, `pages-${app}`), consoleLines: []};
	before(async () => {
		fs.mkdirSync(OUT, {recursive: true});
		Object.assign(ctx, await serve({vardir: ctx.vardir, app, by: BY,
			consoleLines: ctx.consoleLines}));
	});
	after(async () => {
		if (ctx.stop) {
			await ctx.stop();
		}
	});
	return ctx;
}

function noPageErrors(ctx, name) {
	assert.deepEqual(ctx.consoleLines.filter((l) => l.startsWith(`${name}: pageerror`)), [],
	    `${name}: no uncaught errors in the page`);
}

const num = (page, id) => page.evaluate((i) => Number(document.getElementById(i).textContent), id);

describe('stats page in chromium', () => {
	const ctx = server('stats');

	for (const transport of TRANSPORTS) {
		test(`shows the counters and graphs them over ${transport}`, async () => {
			const name = `stats-${transport}`;
			const page = await newPage(ctx.browser, name, ctx.consoleLines);
			try {
				await page.goto(`${ctx.base}/?transports=${transport}`);
				await page.waitForFunction(
				    () => document.getElementById('status').textContent === 'connected');
				assert.equal(await page.textContent('#transport'), transport, 'the transport shown');
				assert.equal(await page.evaluate(() => window.socket.socket.transport.name),
				    transport, 'the transport the client uses');
				/* numbers shown, and the graph drawn twice (two acks) */
				await page.waitForFunction(() => {
					const n = (i) => Number(document.getElementById(i).textContent);
					return n('active_sessions') >= 1 && n('draws') >= 2;
				});
				for (const id of ['active_sessions', 'peak_sessions', 'active_connections',
					'peak_connections', 'sessions_opened', 'connections_opened',
					'packets_sent', 'packets_received', 'queued_packets',
					'connections_ps', 'packets_sent_ps', 'packets_received_ps']) {
					const text = await page.textContent(`#${id}`);
					assert.match(text, /^\d+(\.\d+)?$/, `#${id} shows a number: '${text}'`);
				}
				assert.ok(await num(page, 'peak_sessions') >= await num(page, 'active_sessions'),
				    'peak sessions >= active sessions');
				assert.ok(await num(page, 'peak_connections') >= 1, 'peak connections >= 1');
				assert.ok(await num(page, 'sessions_opened') >= 1, 'sessions opened >= 1');
				assert.ok(await num(page, 'packets_received') >= 2,
				    'packets received counts the stats events');
				/* lines on the canvas in both panels: coloured pixels (the
				 * grid and the labels are grey) */
				const colored = await page.evaluate(() => {
					const c = document.getElementById('graph');
					const g = c.getContext('2d');
					return [0, 1].map((k) => {
						const d = g.getImageData(0, k * c.height / 2, c.width, c.height / 2).data;
						let n = 0;
						for (let i = 0; i < d.length; i += 4) {
							if (d[i + 3] > 0 && (Math.abs(d[i] - d[i + 1]) > 40 ||
							    Math.abs(d[i + 1] - d[i + 2]) > 40)) {
								n++;
							}
						}
						return n;
					});
				});
				assert.ok(colored[0] > 0, 'the active sessions/connections lines are drawn');
				assert.ok(colored[1] > 0, 'the rate lines are drawn');
				noPageErrors(ctx, name);
				await screenshot(page, path.join(OUT, `${name}.png`));
			} finally {
				await page.close().catch(() => {});
			}
		});
	}
});

describe('transports page in chromium', () => {
	const ctx = server('transports');

	for (const transport of TRANSPORTS) {
		test(`connects over ${transport} alone and echoes a message`, async () => {
			const name = `transports-${transport}`;
			const page = await newPage(ctx.browser, name, ctx.consoleLines);
			try {
				await page.goto(`${ctx.base}/`);
				await page.waitForSelector('#t-websocket');
				/* only this transport's checkbox checked */
				const boxes = await page.$$eval('#transports input[type=checkbox]',
				    (els) => els.map((e) => e.value));
				assert.ok(boxes.includes(transport), `a checkbox for ${transport}: ${boxes}`);
				for (const b of boxes) {
					await page.setChecked(`#t-${b}`, b === transport);
				}
				await page.click('#connect');
				await page.waitForFunction(
				    () => document.getElementById('status').textContent === 'connected');
				assert.equal(await page.textContent('#transport'), transport, 'the transport shown');
				assert.equal(await page.evaluate(() => window.socket.socket.transport.name),
				    transport, 'the transport the client really uses');
				assert.deepEqual(await page.evaluate(() => window.socket.socket.options.transports),
				    [transport], 'the transports option');
				const log = await page.$$eval('#log li', (els) => els.map((e) => e.textContent));
				assert.deepEqual(log.filter((l) => l.startsWith('trying ')), [`trying ${transport}`],
				    'only that transport tried');
				assert.ok(log.includes(`connected over ${transport}`), `log: ${log}`);

				const text = `hello over ${transport} 😀 </script> ${Date.now()}`;
				await page.fill('#text', text);
				await page.click('#send');
				await page.waitForFunction((t) => [...document.querySelectorAll('#log li')]
				    .some((li) => li.textContent === t), text);
				assert.equal(await page.evaluate(() => window.socket.socket.transport.name),
				    transport, 'still on that transport');
				noPageErrors(ctx, name);
				await screenshot(page, path.join(OUT, `${name}.png`));
			} finally {
				await page.close().catch(() => {});
			}
		});
	}
});
