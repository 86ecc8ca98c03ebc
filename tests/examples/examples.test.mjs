/*
 * The example applications with the real client: each of multiplexed,
 * ackping, rpcping, stats and transports behind lighttpd, as `make run
 * APP=NAME` serves it (scripts/webserver.sh: lighttpd spawning
 * build/sio-gateway with app = NAME, sio-wsd behind the websocket route,
 * examples/NAME/index.html as a static file, socket.io-client 0.9.16's
 * socket.io.js from the gateway), exercised with socket.io-client 0.9.16
 * from node_modules over xhr-polling and websocket:
 *
 *   multiplexed  two users chat on /chat (unique UserN names, join, message,
 *                leave); a json message on /ping comes back with the time
 *   ackping      the ack of `ping` carries the client's date and [h,m,s,ms]
 *   rpcping      `ping` answered by `pong` (client, [h,m,s,ms]), positional
 *                and dict forms
 *   stats        the ack of `stats` gives counters that grow when a session
 *                opens
 *   transports   messages echoed to everyone over the forced transport
 *
 *   node --test tests/examples/        (make examples)
 *
 * Environment (all optional):
 *   GATEWAY, WSD      binaries (default build/sio-gateway, build/sio-wsd)
 *   EXAMPLES          space-separated apps (default: all five)
 *   TRANSPORTS        space-separated (default "xhr-polling websocket")
 *   EXAMPLE_TIMEOUT   ms for each wait (default 10000)
 *   EXAMPLE_PLUGINS=1 load each app from build/examples/NAME.so (the plugin
 *                     build) instead of the built-in of the same name
 * Files of each app's run are in var/examples/NAME/ (removed when it passed).
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {io, defaults, waitFor, emitAck,
	shutdown, openSession, httpGet as get} from '../lib/client.mjs';
import {until} from '../lib/until.mjs';
import {ROOT, BUILD, CLIENT_DIR, serveApp} from '../lib/servers.mjs';

const GATEWAY = path.resolve(ROOT, process.env.GATEWAY || 'build/sio-gateway');
const WSD = path.resolve(ROOT, process.env.WSD || 'build/sio-wsd');
const TIMEOUT = Number(process.env.EXAMPLE_TIMEOUT || 10000);
const APPS = (process.env.EXAMPLES || 'multiplexed ackping rpcping stats transports')
	.split(/\s+/).filter(Boolean);
const TRANSPORTS = (process.env.TRANSPORTS || 'xhr-polling websocket')
	.split(/\s+/).filter(Boolean);

defaults.ms = TIMEOUT;
let seq = 0;
const token = (what) => `${what}-${process.pid}-${++seq}`;

/* One app behind lighttpd, as make run serves it. */
async function startApp(app) {
	const srv = await serveApp({
		app: process.env.EXAMPLE_PLUGINS === '1' ? path.join(BUILD, 'examples', app + '.so') : app,
		page: app, vardir: path.join(ROOT, 'var/examples', app),
		by: 'tests/examples/examples.test.mjs',
		env: {GATEWAY, WSD},
	});
	return {
		url: srv.base,
		vardir: srv.vardir,
		fail() { srv.keep = true; },
		stop: () => srv.stop(),
	};
}

/* Every 'message' of a namespace since it was made, and a wait on them. */
class Inbox {
	constructor(nsp) {
		this.got = [];
		this.waiters = [];
		nsp.on('message', (m) => {
			this.got.push(m);
			this.waiters = this.waiters.filter((w) => !w(m));
		});
	}
	wait(match, what) {
		const seen = this.got.find(match);
		if (seen !== undefined) return Promise.resolve(seen);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(
			    `timed out after ${TIMEOUT} ms waiting for a message (${what}); ` +
			    `got ${JSON.stringify(this.got)}`)), TIMEOUT);
			this.waiters.push((m) => {
				if (!match(m)) return false;
				clearTimeout(timer);
				resolve(m);
				return true;
			});
		});
	}
}

/* A new session over transport with the given namespaces, each with an
 * Inbox; shut down when the test ends. */
async function open(t, url, transport, endpoints = ['']) {
	const inbox = {};
	const {sock, nsp} = await openSession(io, url, transport, {endpoints,
	    prepare: (s, n) => {
		t.after(() => shutdown(s));
		for (const ep of endpoints) inbox[ep] = new Inbox(n[ep]);
	    }});
	return {sock, nsp, inbox};
}

function assertClock(v, what) {
	assert.ok(Array.isArray(v) && v.length === 4, `${what}: [h, m, s, ms], got ${JSON.stringify(v)}`);
	const [h, m, s, ms] = v;
	for (const x of v) assert.ok(Number.isInteger(x), `${what}: integers`);
	assert.ok(h >= 0 && h < 24 && m >= 0 && m < 60 && s >= 0 && s < 61 && ms >= 0 && ms < 1000,
	    `${what}: in range, got ${JSON.stringify(v)}`);
}

/* Per app: the tests for one transport. */
const SUITES = {
	multiplexed(ctx, transport) {
		ctx.test('two users chat on /chat with unique names; join, message and leave reach them',
		    async (t) => {
			const a = await open(t, ctx.url, transport, ['/chat', '/ping']);
			await a.inbox['/chat'].wait((m) => m === 'Welcome from the server.', 'welcome');
			const aJoined = await a.inbox['/chat'].wait((m) => /^User\d+ joined$/.test(m), 'own join');
			const aName = aJoined.replace(/ joined$/, '');

			const b = await open(t, ctx.url, transport, ['/chat']);
			const bJoined = await b.inbox['/chat'].wait((m) => /^User\d+ joined$/.test(m), 'own join');
			const bName = bJoined.replace(/ joined$/, '');
			assert.notEqual(aName, bName, 'unique names');
			await a.inbox['/chat'].wait((m) => m === `${bName} joined`, 'A hears B join');

			const text = token('hello');
			b.nsp['/chat'].send(text);
			await a.inbox['/chat'].wait((m) => m === `${bName}: ${text}`, 'A gets B\'s message');
			await b.inbox['/chat'].wait((m) => m === `${bName}: ${text}`, 'B gets its own message');

			/*
			 * The 0.9 client sends one POST at a time and buffers what
			 * comes meanwhile; disconnect() drops that buffer, `0::`
			 * included. B's message POST may still be in flight here:
			 * its answer can come after the poll that carried the echo.
			 */
			await until('B has no POST in flight', () => !b.sock.doBuffer, defaults.ms);
			shutdown(b.sock);
			await a.inbox['/chat'].wait((m) => m === `${bName} left`, 'A hears B leave');
		});

		ctx.test('/ping echoes a json message with the server time', async (t) => {
			const a = await open(t, ctx.url, transport, ['/ping']);
			const client = token('ping');
			const before = Date.now();
			a.nsp['/ping'].json.send({client, n: 42});
			const got = await a.inbox['/ping'].wait((m) => m && m.client === client, 'the ping back');
			assert.equal(got.n, 42);
			assertClock(got.server, 'server');
			assert.ok(Math.abs(got.server_ms - before) < 60000, `server_ms near now: ${got.server_ms}`);
		});

		ctx.test('/chat and /ping do not cross', async (t) => {
			const a = await open(t, ctx.url, transport, ['/chat', '/ping']);
			const client = token('cross');
			a.nsp['/ping'].json.send({client});
			await a.inbox['/ping'].wait((m) => m && m.client === client, 'the ping back');
			assert.ok(!a.inbox['/chat'].got.some((m) => typeof m !== 'string'), 'no json on /chat');
			assert.ok(!a.inbox['/ping'].got.some((m) => typeof m === 'string'), 'no chat on /ping');
		});
	},

	ackping(ctx, transport) {
		ctx.test('the ack of ping carries the client date and the server time', async (t) => {
			const {nsp} = await open(t, ctx.url, transport);
			const date = new Date().toISOString();
			const args = await emitAck(nsp[''], 'ping', date);
			assert.equal(args.length, 2, `two values: ${JSON.stringify(args)}`);
			assert.equal(args[0], date);
			assertClock(args[1], 'server time');
		});
	},

	rpcping(ctx, transport) {
		ctx.test('ping (client, text) is answered by pong (client, [time])', async (t) => {
			const {nsp} = await open(t, ctx.url, transport);
			const client = token('rpc');
			const pong = waitFor(nsp[''], 'pong', {match: (a) => a[0] === client});
			nsp[''].emit('ping', client, 'some text');
			const args = await pong;
			assert.equal(args.length, 2);
			assertClock(args[1], 'server time');
		});

		ctx.test('ping {client, text} (the dict form) is answered the same way', async (t) => {
			const {nsp} = await open(t, ctx.url, transport);
			const client = token('rpcdict');
			const pong = waitFor(nsp[''], 'pong', {match: (a) => a[0] === client});
			nsp[''].emit('ping', {client, text: 'some text'});
			const args = await pong;
			assert.equal(args.length, 2);
			assertClock(args[1], 'server time');
		});
	},

	stats(ctx, transport) {
		ctx.test('the ack of stats gives the counters, which grow with a new session', async (t) => {
			const {nsp} = await open(t, ctx.url, transport);
			const [s1] = await emitAck(nsp[''], 'stats');
			for (const k of ['sessions_opened', 'packets_received', 'time']) {
				assert.ok(Number.isInteger(s1[k]) && s1[k] >= 0, `${k} is a count: ${JSON.stringify(s1)}`);
			}
			assert.ok(s1.sessions_opened >= 1);
			assert.ok(s1.packets_received >= 1, 'the stats event itself was received');
			await open(t, ctx.url, transport);
			// What a handler reads may be a moment old: the gateway's
			// writer adds its packet counts to the store once a second.
			let [s2] = await emitAck(nsp[''], 'stats');
			for (const deadline = Date.now() + 5000;
			    s2.packets_received <= s1.packets_received && Date.now() < deadline;)
				[s2] = await emitAck(nsp[''], 'stats');
			assert.ok(s2.sessions_opened >= s1.sessions_opened + 1,
			    `sessions_opened grew: ${s1.sessions_opened} -> ${s2.sessions_opened}`);
			assert.ok(s2.packets_received > s1.packets_received, 'packets_received grew');
			assert.ok(s2.time >= s1.time, 'time');
		});
	},

	transports(ctx, transport) {
		ctx.test(`messages are echoed to everyone over ${transport}`, async (t) => {
			const a = await open(t, ctx.url, transport);
			const b = await open(t, ctx.url, transport);
			await a.inbox[''].wait((m) => /^Welcome/.test(m), 'welcome');
			const text = token('echo') + ' 😀 </script>';
			a.nsp[''].send(text);
			await a.inbox[''].wait((m) => m === text, 'the echo');
			await b.inbox[''].wait((m) => m === text, 'the other client');
		});
	},
};

for (const app of APPS) {
	if (!SUITES[app]) throw new Error(`no tests for example '${app}' (${Object.keys(SUITES).join(' ')})`);
	describe(`example ${app}`, () => {
		const ctx = {};
		before(async () => Object.assign(ctx, await startApp(app)));
		after(async () => ctx.stop && ctx.stop());

		test('the page and socket.io.js are served', async (t) => {
			try {
				const page = await get(ctx.url + '/');
				assert.equal(page.status, 200);
				assert.match(page.body, /<script src="\/socket\.io\/socket\.io\.js"><\/script>/);
				const js = await get(ctx.url + '/socket.io/socket.io.js');
				assert.equal(js.status, 200);
				assert.equal(js.body, fs.readFileSync(path.join(CLIENT_DIR, 'socket.io.js'), 'utf8'));
			} catch (e) {
				ctx.fail();
				throw e;
			}
		});

		for (const transport of TRANSPORTS) {
			describe(`over ${transport}`, () => {
				SUITES[app]({
					get url() { return ctx.url; },
					/* a failure keeps var/examples/APP for its logs */
					test: (name, fn) => test(name, async (t) => {
						try {
							await fn(t);
						} catch (e) {
							ctx.fail();
							throw e;
						}
					}),
				}, transport);
			});
		}
	});
}
