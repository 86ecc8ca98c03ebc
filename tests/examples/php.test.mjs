/*
 * The PHP examples (app = bridge): TornadIO2's chat and ackping written as
 * PHP scripts (examples/chat-php/app.php, examples/ackping-php/app.php)
 * behind lighttpd, which serves them with Debian's php-cgi beside the
 * gateway, as `make run APP=chat-php` does, and behind Apache
 * (mod_proxy_fcgi), which sends them to Debian's PHP-FPM
 * (scripts/webserver.sh starts it when the document root has PHP pages).
 * Exercised with socket.io-client 0.9.16 over websocket and xhr-polling,
 * and the chat once in chromium behind each:
 *
 *   chat-php     welcome on connect; two users join a room (acked true, a
 *                second join acked false), each hears the other join; a
 *                message reaches both as "name: text"; a user who leaves
 *                is announced to the other
 *   ackping-php  the ack of `ping` carries the client's date and [h,m,s,ms]
 *
 *   node --test tests/examples/php.test.mjs     (make examples)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {io, emitAck, shutdown, openSession} from '../lib/client.mjs';
import {ROOT, serveApp} from '../lib/servers.mjs';

const TRANSPORTS = (process.env.TRANSPORTS || 'xhr-polling websocket').split(/\s+/);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MS = Number(process.env.EXAMPLE_TIMEOUT) || 10000;
let n = 0;
const token = (what) => `${what}${process.pid % 1000}x${++n}`;

/* A session of transport on url; messages collected in got. */
async function open(t, url, transport) {
	const got = [];
	const {sock, nsp} = await openSession(io, url, transport, {ms: MS,
		prepare: (s, ns) => ns[''].on('message', (m) => got.push(m))});
	t.after(() => shutdown(sock));
	const wait = (match, what) => new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${transport}: no ${what} in ${MS} ms: ${JSON.stringify(got)}`)), MS);
		const look = () => {
			const m = got.find(match);
			if (m !== undefined) {
				clearTimeout(timer);
				resolve(m);
			} else setTimeout(look, 10);
		};
		look();
	});
	return {sock, ns: nsp[''], got, wait};
}

const skip = fs.existsSync('/usr/bin/php-cgi') ? false : 'php-cgi is not installed (scripts/deps.sh test)';

/* lighttpd runs the scripts with php-cgi, Apache with PHP-FPM. */
const SERVERS = {lighttpd: 'php-cgi', apache: 'PHP-FPM'};
const skipFpm = fs.readdirSync('/usr/sbin').some((f) => f.startsWith('php-fpm')) ? false
	: 'php-fpm is not installed (scripts/deps.sh test)';

for (const [server, php] of Object.entries(SERVERS))
describe(`chat-php behind ${server} with ${php}`, {skip: server === 'apache' ? skipFpm : skip}, () => {
	let srv;
	before(async () => {
		srv = await serveApp({app: 'bridge', page: 'chat-php', by: 'tests/examples/php.test.mjs',
			server, vardir: path.join(ROOT, `var/examples/chat-php-${server}`)});
	});
	after(async () => srv && srv.stop());

	for (const transport of TRANSPORTS)
		test(`${transport}: join, messages, leave`, async (t) => {
			const room = token('room'), an = token('ann'), bn = token('bob');
			const a = await open(t, srv.base, transport);
			await a.wait((m) => m.startsWith('Welcome!'), 'welcome');
			assert.deepEqual(await emitAck(a.ns, 'join', an, room), [true]);
			assert.deepEqual(await emitAck(a.ns, 'join', 'again', room), [false]);
			await a.wait((m) => m === `${an} joined ${room}`, 'own join');
			const b = await open(t, srv.base, transport);
			assert.deepEqual(await emitAck(b.ns, 'join', bn, room), [true]);
			await a.wait((m) => m === `${bn} joined ${room}`, 'the other join');
			const text = token('hello é');
			b.ns.send(text);
			await a.wait((m) => m === `${bn}: ${text}`, 'the message');
			await b.wait((m) => m === `${bn}: ${text}`, 'its own message');
			b.sock.disconnect();
			await a.wait((m) => m === `${bn} left`, 'the leave');
		});

	test('chromium: the page joins and chats over its best transport',
	    {skip: !fs.existsSync(CHROMIUM) && `no ${CHROMIUM} (scripts/deps.sh test)`}, async () => {
		const {chromium} = await import('playwright-core');
		const browser = await chromium.launch({executablePath: CHROMIUM,
			args: ['--no-sandbox', '--disable-gpu']});
		try {
			const page = await browser.newPage();
			await page.goto(`${srv.base}/`);
			await page.waitForFunction(() => window.socket && window.socket.socket.connected,
				null, {timeout: MS});
			const name = token('web');
			const transport = await page.evaluate(() => window.socket.socket.transport.name);
			const acked = await page.evaluate((nm) => new Promise((resolve) =>
				window.socket.emit('join', nm, 'web', (ok) => resolve(ok))), name);
			assert.equal(acked, true);
			const seen = await page.evaluate(() => new Promise((resolve) => {
				window.socket.on('message', (m) => { if (/: from chromium$/.test(m)) resolve(m); });
				window.socket.send('from chromium');
			}));
			assert.equal(seen, `${name}: from chromium`);
			process.stdout.write(`# chromium chat-php behind ${server} over ${transport}: ${seen}\n`);
		} finally {
			await browser.close();
		}
	});
});

for (const [server, php] of Object.entries(SERVERS))
describe(`ackping-php behind ${server} with ${php}`, {skip: server === 'apache' ? skipFpm : skip}, () => {
	let srv;
	before(async () => {
		srv = await serveApp({app: 'bridge', page: 'ackping-php', by: 'tests/examples/php.test.mjs',
			server, vardir: path.join(ROOT, `var/examples/ackping-php-${server}`)});
	});
	after(async () => srv && srv.stop());

	for (const transport of TRANSPORTS)
		test(`${transport}: the ack carries the date sent and the server's clock`, async (t) => {
			const a = await open(t, srv.base, transport);
			const sent = new Date().toISOString();
			const [date, clock] = await emitAck(a.ns, 'ping', sent);
			assert.equal(date, sent);
			assert.ok(Array.isArray(clock) && clock.length === 4 && clock.every(Number.isInteger),
				JSON.stringify(clock));
		});
});
