/*
 * sioctl, and pushing from outside, against running servers: lighttpd +
 * sio-gateway (scripts/webserver.sh) and sio-wsd, app = testapp, through
 * tests/lib/servers.mjs. Two socket.io-client 0.9.16 sessions stay
 * connected through the run, one on websocket and one on xhr-polling, each
 * on the root and /chat, both in room `lobby` of the root and of /chat
 * (rows written as an app's sio_join would). Every subcommand has a test;
 * a message sent with sioctl, one inserted with the README's SQL from the
 * sqlite3 shell and one from ctl/push.php (php-cli) must reach both
 * clients. Delivery times are printed (diagnostics); the failure condition
 * is a deadline of DEADLINE ms.
 *
 *   node --test tests/ctl/          (make ctl)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {startServers, ROOT, BUILD, until} from '../lib/servers.mjs';

import {io, waitFor, shutdown, openSession} from '../lib/client.mjs';
const CTL = path.join(BUILD, 'sioctl');
const DEADLINE = Number(process.env.CTL_DEADLINE || 3000);
const CONNECT_TIMEOUT = 10000;
const HAVE_PHP = (() => {
	try {
		execFileSync('php', ['-r', 'new PDO("sqlite::memory:");'], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
})();
let seq = 0;
const token = (what) => `${what}-${process.pid}-${++seq}`;

let s; // the servers
const clients = {}; // transport -> {sock, nsp: {'': ns, '/chat': ns}, sid}

/* Runs a program without blocking the clients' event loop. */
function run(file, args, input) {
	return new Promise((resolve) => {
		const p = execFile(file, args, {encoding: 'utf8'}, (e, stdout, stderr) =>
			resolve({code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr}));
		if (input !== undefined) p.stdin.end(input);
	});
}
const sioctl = (...args) => run(CTL, ['-c', s.confFile, ...args]);
async function ok(...args) {
	const r = await sioctl(...args);
	assert.equal(r.code, 0, `sioctl ${args.join(' ')}: ${r.stderr}`);
	return r.stdout;
}

/* A session over transport with the root and /chat connected. */
async function open(transport) {
	const {sock, nsp} = await openSession(io, `http://127.0.0.1:${s.port}`,
	    transport, {endpoints: ['', '/chat'], ms: CONNECT_TIMEOUT});
	return {sock, nsp, sid: sock.sessionid, transport};
}

/*
 * Runs action and waits until every client got `event` on endpoint with
 * args matching; prints each client's delay from the start of action.
 */
async function delivered(t, what, action, {ep = '', event = 'message', match, to = Object.values(clients)}) {
	const t0 = Date.now();
	const got = to.map((c) => waitFor(c.nsp[ep], event, {match, ms: DEADLINE}).then((args) => {
		t.diagnostic(`${what} -> ${c.transport}: ${Date.now() - t0} ms`);
		return args;
	}).catch((e) => {
		throw new Error(`${what} -> ${c.transport} (${c.sid}): ${e.message}`);
	}));
	const r = await action();
	if (r && r.code !== undefined) assert.equal(r.code, 0, `${what}: ${r.stderr}`);
	return Promise.all(got);
}

/* The ```sql blocks of the README's "Pushing from outside" section. */
function readmeSql() {
	const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
	const start = readme.indexOf('\n## Pushing from outside');
	assert.ok(start >= 0, 'README has a "Pushing from outside" section');
	const end = readme.indexOf('\n## ', start + 1);
	const section = readme.slice(start, end < 0 ? undefined : end);
	return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('sioctl against lighttpd + sio-gateway + sio-wsd', () => {
	before(async () => {
		assert.ok(fs.existsSync(CTL), `${CTL} is not built (make)`);
		s = await startServers({polling_duration: 5, log_level: 'info'});
		for (const tr of ['websocket', 'xhr-polling']) clients[tr] = await open(tr);
		for (const c of Object.values(clients)) {
			s.sql(`INSERT INTO rooms (sid, endpoint, room) VALUES ('${c.sid}', '', 'lobby'), ('${c.sid}', '/chat', 'lobby')`);
		}
	});
	after(async () => {
		for (const c of Object.values(clients)) shutdown(c.sock);
		if (s) await s.stop();
	});

	test('list: one line per session with state, transport, age, queue, endpoints and rooms', async () => {
		// a polling session is open while its poll waits, detached
		// between two polls (one ends every polling_duration, and on a
		// loaded machine the next may take a while): a listing taken
		// while every session had its transport attached, which the
		// listing itself says
		const allOpen = (out) => Object.values(clients).every((c) =>
			out.split('\n').some((l) => l.startsWith(c.sid + ' ') && l.split(/\s+/)[1] === 'open'));
		const out = await until('a listing with every session open', async () => {
			const o = await ok('list');
			return allOpen(o) && o;
		}, 10000, 50);
		const lines = out.trim().split('\n');
		assert.match(lines[0], /^SID\s+STATE\s+TRANSPORT\s+AGE\s+QUEUE\s+ENDPOINTS\s+ROOMS$/);
		for (const c of Object.values(clients)) {
			const line = lines.find((l) => l.startsWith(c.sid + ' '));
			assert.ok(line, `a line for ${c.sid}:\n${out}`);
			const [, state, transport, age, queue, eps, rooms] = line.split(/\s+/);
			assert.equal(state, 'open');
			assert.equal(transport, c.transport);
			assert.match(age, /^\d+[smhd]/);
			assert.match(queue, /^\d+$/);
			assert.deepEqual(eps.split(',').sort(), ['/', '/chat']);
			assert.deepEqual(rooms.split(',').sort(), ['/chat:lobby', 'lobby']);
		}
		const json = await until('a JSON listing with every session open', async () => {
			const j = JSON.parse(await ok('list', '--json'));
			return Object.values(clients).every((c) => j.find((x) => x.sid === c.sid)?.state === 'open') && j;
		}, 10000, 50);
		for (const c of Object.values(clients)) {
			const o = json.find((x) => x.sid === c.sid);
			assert.equal(o.state, 'open');
			assert.equal(o.transport, c.transport);
			assert.ok(o.holder, 'held by a process');
			assert.equal(typeof o.age, 'number');
			assert.equal(typeof o.queue, 'number');
			assert.deepEqual(o.endpoints.sort(), ['/', '/chat']);
			assert.deepEqual(o.rooms, [{endpoint: '/', room: 'lobby'}, {endpoint: '/chat', room: 'lobby'}]);
		}
	});

	test('show: one session with its handshake; an unknown sid is exit 1', async () => {
		const c = clients.websocket;
		const out = await ok('show', c.sid);
		assert.match(out, new RegExp(`^sid +${c.sid}$`, 'm'));
		assert.match(out, /^state +open$/m);
		assert.match(out, /^transport +websocket$/m);
		assert.match(out, /^request +\{.*"remote":"127\.0\.0\.1"/m);
		const o = JSON.parse(await ok('show', '--json', c.sid));
		assert.equal(o.sid, c.sid);
		assert.ok(Array.isArray(o.packets));
		const r = await sioctl('show', 'no-such-session');
		assert.equal(r.code, 1);
		assert.match(r.stderr, /no session 'no-such-session'/);
	});

	test('send SID: a message reaches a client on websocket and one on xhr-polling', async (t) => {
		for (const c of Object.values(clients)) {
			const tok = token('send');
			await delivered(t, `sioctl send ${c.transport}`, () => sioctl('send', c.sid, tok),
				{match: (a) => a[0] === tok, to: [c]});
			const chat = token('send-chat');
			await delivered(t, `sioctl send --endpoint /chat ${c.transport}`,
				() => sioctl('send', '--endpoint', '/chat', c.sid, chat),
				{ep: '/chat', match: (a) => a[0] === chat, to: [c]});
		}
		const r = await sioctl('send', 'no-such-session', 'x');
		assert.equal(r.code, 1);
		assert.match(r.stderr, /no session/);
	});

	test('send to a room and to an endpoint reaches both clients', async (t) => {
		const tok = token('room');
		await delivered(t, 'sioctl send --room lobby', () => sioctl('send', '--room', 'lobby', tok),
			{match: (a) => a[0] === tok});
		const chat = token('room-chat');
		await delivered(t, 'sioctl send --endpoint /chat --room lobby',
			() => sioctl('send', '--endpoint', '/chat', '--room', 'lobby', chat),
			{ep: '/chat', match: (a) => a[0] === chat});
		const all = token('endpoint');
		await delivered(t, 'sioctl send --endpoint /chat', () => sioctl('send', '--endpoint', '/chat', all),
			{ep: '/chat', match: (a) => a[0] === all});
	});

	test('emit: an event with JSON args to a session, a room and an endpoint; bad JSON is exit 64', async (t) => {
		for (const c of Object.values(clients)) {
			const tok = token('emit');
			const [args] = await delivered(t, `sioctl emit ${c.transport}`,
				() => sioctl('emit', c.sid, 'news', JSON.stringify(tok), '{"n":1,"l":[true,null]}'),
				{event: 'news', match: (a) => a[0] === tok, to: [c]});
			assert.deepEqual(args, [tok, {n: 1, l: [true, null]}]);
		}
		const room = token('emit-room');
		await delivered(t, 'sioctl emit --endpoint /chat --room lobby',
			() => sioctl('emit', '--endpoint', '/chat', '--room', 'lobby', 'news', JSON.stringify(room)),
			{ep: '/chat', event: 'news', match: (a) => a[0] === room});
		const all = token('emit-all');
		await delivered(t, 'sioctl emit --endpoint /',
			() => sioctl('emit', '--endpoint', '/', 'news', JSON.stringify(all), '2'),
			{event: 'news', match: (a) => a[0] === all && a[1] === 2});

		let r = await sioctl('emit', clients.websocket.sid, 'news', '{bad');
		assert.equal(r.code, 64);
		assert.match(r.stderr, /argument 1 is not JSON: \{bad/);
		r = await sioctl('emit', 'no-such-session', 'news', '1');
		assert.equal(r.code, 1);
		assert.match(r.stderr, /no session/);
		r = await sioctl('emit', '--endpoint', '/nowhere', clients.websocket.sid, 'news');
		assert.equal(r.code, 1);
		assert.match(r.stderr, /not connected to \/nowhere/);
	});

	test('bad usage prints the usage and exits 2', async () => {
		for (const args of [[], ['frobnicate'], ['send', clients.websocket.sid], ['emit'],
			['kick'], ['list', '--bogus'], ['send', '--room', 'x', '--sid', 'y', 'z']]) {
			const r = await sioctl(...args);
			assert.equal(r.code, 64, `sioctl ${args.join(' ')}`);
			assert.match(r.stderr, /^usage: sioctl/m, `sioctl ${args.join(' ')}`);
		}
	});

	test("the README's SQL from the sqlite3 shell reaches both clients", async (t) => {
		const [toSession, toRoom] = readmeSql();
		assert.ok(toSession && toRoom, 'two sql blocks in the README');
		for (const c of Object.values(clients)) {
			const tok = token('sql');
			const sql = toSession.replace('<sid>', c.sid).replace('hello from SQL', tok);
			await delivered(t, `sqlite3 shell ${c.transport}`,
				() => run('sqlite3', ['-cmd', '.timeout 5000', s.db], sql),
				{match: (a) => a[0] === tok, to: [c]});
		}
		const tok = token('sql-room');
		const sql = toRoom.replace('"hi"', JSON.stringify(tok));
		await delivered(t, 'sqlite3 shell room', () => run('sqlite3', ['-cmd', '.timeout 5000', s.db], sql),
			{ep: '/chat', event: 'news', match: (a) => a[0] === tok});
	});

	test('ctl/push.php (php-cli, PDO SQLite) reaches both clients', {skip: !HAVE_PHP && 'php-cli with pdo_sqlite is not installed (scripts/deps.sh)'}, async (t) => {
		const php = path.join(ROOT, 'ctl/push.php');
		for (const c of Object.values(clients)) {
			const tok = token('php');
			await delivered(t, `php ${c.transport}`, () => run('php', [php, s.db, c.sid, tok]),
				{match: (a) => a[0] === tok, to: [c]});
		}
		const tok = token('php-room');
		await delivered(t, 'php room',
			() => run('php', [php, '--endpoint', '/chat', '--event', 'news', s.db, '--room', 'lobby', JSON.stringify([tok])]),
			{ep: '/chat', event: 'news', match: (a) => a[0] === tok});
		const r = await run('php', [php, s.db, 'no-such-session', 'x']);
		assert.equal(r.code, 1);
	});

	test('stats: counters and sessions by state and transport', async () => {
		const o = JSON.parse(await ok('stats', '--json'));
		assert.ok(o.sessions >= 2);
		assert.ok(o.by_state.open >= 2);
		assert.ok(o.by_transport.websocket >= 1);
		assert.ok(o.by_transport['xhr-polling'] >= 1);
		assert.equal(typeof o.queued, 'number');
		assert.ok(o.counters.sessions_opened >= 2);
		const out = await ok('stats');
		assert.match(out, /^sessions: \d+$/m);
		assert.match(out, /^by_state:\n {2}handshaken +\d+\n {2}open +\d+/m);
		assert.match(out, /^ {2}websocket +\d+$/m);
		assert.match(out, /^ {2}sessions_opened +\d+$/m);
	});

	test('processes: the running sio-wsd and sio-gateway, their leases and sessions', async () => {
		const ps = JSON.parse(await ok('processes', '--json'));
		const wsd = ps.find((p) => /^wsd-[A-Za-z0-9]+-\d+-[0-9a-f]{8}$/.test(p.name));
		const gw = ps.find((p) => /^gw-[A-Za-z0-9]+-\d+-[0-9a-f]{8}$/.test(p.name));
		assert.ok(wsd, JSON.stringify(ps));
		assert.ok(gw, JSON.stringify(ps));
		for (const p of [wsd, gw]) {
			assert.ok(p.pid > 0 && p.name.includes(`-${p.pid}-`), JSON.stringify(p));
			assert.ok(p.renewed_ms < 10000, `${p.name} renewed ${p.renewed_ms} ms ago`);
		}
		assert.ok(wsd.sessions >= 1, 'the websocket client is held by sio-wsd');
		const out = await ok('processes');
		assert.match(out, /^NAME +PID +AGE +RENEWED +SESSIONS$/m);
		assert.ok(out.includes(wsd.name) && out.includes(gw.name), out);
	});

	test('kick: the client is booted (0::) on websocket and on xhr-polling, the session closed', async (t) => {
		for (const tr of ['websocket', 'xhr-polling']) {
			const c = await open(tr);
			try {
				const [[reason]] = await delivered(t, `sioctl kick ${tr}`, () => sioctl('kick', c.sid),
					{event: 'disconnect', match: () => true, to: [c]});
				assert.equal(reason, 'booted');
				const row = s.session(c.sid);
				assert.equal(row.state, 'closed');
				assert.equal(row.reason, 'kicked');
				assert.match(await ok('kick', c.sid), /already closed/);
			} finally {
				shutdown(c.sock);
			}
		}
		const r = await sioctl('kick', 'no-such-session');
		assert.equal(r.code, 1);
		assert.match(r.stderr, /no session 'no-such-session'/);
	});

	test('cleanup: ends timed-out sessions and deletes closed ones', async () => {
		// A handshake never followed by a transport, made an hour old.
		const stale = await s.handshake();
		s.sql(`UPDATE sessions SET created = created - 3600000 WHERE sid = '${stale}'`);
		// A kicked session whose 0:: nobody will fetch: deleted with --all.
		const kicked = await s.handshake();
		await ok('kick', kicked);
		// One whose final packets went out: deleted at once.
		const drained = await s.handshake();
		await ok('kick', drained);
		s.sql(`DELETE FROM outbox WHERE sid = '${drained}'`);

		const out = await ok('cleanup');
		assert.match(out, /^ended \d+ timed-out sessions?, deleted \d+ closed sessions?$/m);
		// The servers sweep too: the stale one is ended by someone. It
		// timed out with no transport: no 0:: waits for it (as socket.io
		// 0.9, its client would be told to reconnect), so it may be
		// deleted as soon as it is closed.
		await until('the stale session to end', () => s.session(stale)?.state !== 'handshaken');
		const row = s.session(stale);
		if (row) assert.deepEqual([row.state, row.reason], ['closed', 'close timeout']);
		assert.equal(s.queue(stale), 0, 'nothing queued for the timed-out session');
		assert.equal(s.session(drained), null, 'a drained closed session is deleted');
		assert.equal(s.session(kicked).state, 'closed', 'kept while its 0:: waits');
		assert.match(await ok('cleanup', '--all'), /deleted [1-9]\d* closed sessions?/);
		assert.equal(s.session(kicked), null);
		assert.equal(s.session(stale), null);
		// (open, or detached between two polls)
		for (const c of Object.values(clients))
			assert.match(s.session(c.sid).state, /^(open|detached)$/, `live sessions stay: ${c.transport}`);
	});
});
