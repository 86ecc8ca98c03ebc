/*
 * Text that is not UTF-8 never blocks a session. Every transport carries
 * packets as text, so one packet that is not UTF-8 (or empty) would make
 * every poll of its session fail and hold back what is queued behind it.
 * Against running servers (lighttpd + sio-gateway + sio-wsd, app =
 * testapp, tests/lib/servers.mjs):
 *
 *   sioctl send / emit and ctl/push.php refuse such text (exit 64 and 2) and
 *   queue nothing; what is sent next arrives;
 *   rows that are not UTF-8 or are empty, inserted with the sqlite3 shell
 *   ahead of a good one, are dropped with a log line, and the good one
 *   reaches a session on each transport: websocket and xhr-polling
 *   (socket.io-client 0.9.16), jsonp-polling and htmlfile (raw HTTP, as
 *   the browser's client does), flashsocket (tests/lib/hixie.mjs).
 *
 * Delivery times are printed; the failure condition is a deadline of
 * DEADLINE ms (CTL_DEADLINE).
 *
 *   node --test tests/ctl/          (make ctl)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {startServers, ROOT, BUILD, until, unframe} from '../lib/servers.mjs';
import {connect as hixie} from '../lib/hixie.mjs';

import {io, waitFor, shutdown, openSession, freePort} from '../lib/client.mjs';
const CTL = path.join(BUILD, 'sioctl');
const PUSH = path.join(ROOT, 'ctl/push.php');
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
/* "café" cut inside the é, as a shell word: printf writes the raw bytes */
const CUT = '"$(printf \'caf\\303\')"';

let s; // the servers
let flash; // a second sio-wsd, with a flashsocket (hixie-76) listener
const clients = {}; // transport -> {sock, nsp, sid, transport}

function run(file, args) {
	return new Promise((resolve) => {
		execFile(file, args, {encoding: 'utf8'}, (e, stdout, stderr) =>
			resolve({code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr}));
	});
}
/* Runs a shell command line with $1.. set to args (bytes no JS string can
 * carry come from printf inside the line). */
const sh = (line, ...args) => run('sh', ['-c', line, 'sh', ...args]);
const sioctl = (...args) => run(CTL, ['-c', s.confFile, ...args]);

/* Waits for a message text on the root of a real client. */
function message(c, text) {
	return waitFor(c.nsp[''], 'message', {match: (a) => a[0] === text, ms: DEADLINE,
		what: `${JSON.stringify(text)} on ${c.transport}`});
}

/* A sio-wsd of the same configuration listening for flashsocket too (the
 * harness's has a websocket listener only); its log is wsd-flash.log. */
async function flashWsd() {
	const [port, wsPort] = [await freePort(), await freePort()];
	const log = fs.openSync(path.join(s.var, 'wsd-flash.log'), 'a');
	const proc = spawn(path.join(BUILD, 'sio-wsd'), ['-c', s.confFile,
		'--listen', `127.0.0.1:${wsPort}`, '--flash-listen', `127.0.0.1:${port}`],
		{stdio: ['ignore', 'ignore', log]});
	fs.closeSync(log);
	const exited = new Promise((resolve) => proc.on('exit', resolve));
	await until('the flash listener', () => new Promise((resolve) => {
		const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
		c.on('error', () => resolve(false));
	}), CONNECT_TIMEOUT);
	return {port, proc, exited};
}

/* The lines of the servers' logs that say rows were dropped. */
function dropLines() {
	let n = 0;
	for (const f of fs.readdirSync(s.var)) {
		if (!f.endsWith('.log') && f !== 'webserver.out') continue;
		n += fs.readFileSync(path.join(s.var, f), 'utf8').split('\n')
			.filter((l) => /queued packets dropped: not valid UTF-8 or empty/.test(l)).length;
	}
	return n;
}

/* jsonp-polling GETs, as the browser's script tags make them. */
async function jsonpPoll(sid) {
	const r = await s.request('GET', `/jsonp-polling/${sid}?t=${Date.now()}&i=0`);
	assert.equal(r.status, 200, `jsonp-polling GET: ${r.status} ${r.body}`);
	const m = /^io\.j\[0\]\(("(?:[^"\\]|\\.)*")\);$/s.exec(r.body);
	assert.ok(m, `a jsonp body: ${r.body}`);
	return unframe(JSON.parse(m[1]));
}

/* An htmlfile stream: packets as its scripts would hand them over. */
function htmlfile(sid) {
	const packets = [];
	let body = '';
	const req = http.get(`${s.base}/htmlfile/${sid}?t=${Date.now()}`, (res) => {
		res.setEncoding('utf8');
		res.on('data', (d) => {
			body += d;
			const re = /<script>_\(("(?:[^"\\]|\\.)*")\);<\/script>/g;
			let m, end = 0;
			while ((m = re.exec(body))) {
				packets.push(...unframe(JSON.parse(m[1])));
				end = re.lastIndex;
			}
			body = body.slice(end);
		});
		res.on('error', () => {});
	});
	req.on('error', () => {});
	return {packets, close: () => req.destroy()};
}

describe('text that is not UTF-8 never blocks a session', () => {
	before(async () => {
		assert.ok(fs.existsSync(CTL), `${CTL} is not built (make)`);
		s = await startServers({polling_duration: 5, log_level: 'info',
			transports: 'websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling'});
		flash = await flashWsd();
		for (const tr of ['websocket', 'xhr-polling']) {
			const {sock, nsp} = await openSession(io, `http://127.0.0.1:${s.port}`, tr,
				{ms: CONNECT_TIMEOUT});
			clients[tr] = {sock, nsp, sid: sock.sessionid, transport: tr};
		}
	});
	after(async () => {
		for (const c of Object.values(clients)) shutdown(c.sock);
		if (flash) {
			flash.proc.kill('SIGTERM');
			await flash.exited;
		}
		if (s) await s.stop();
	});

	test('sioctl send and emit refuse it (exit 64), queue nothing, and what follows arrives', async (t) => {
		for (const c of Object.values(clients)) {
			const before = s.queue(c.sid);
			let r = await sh(`exec "$1" -c "$2" send "$3" ${CUT}`, CTL, s.confFile, c.sid);
			assert.equal(r.code, 64, `send: ${r.stdout}${r.stderr}`);
			assert.match(r.stderr, /not valid UTF-8/);
			r = await sh(`exec "$1" -c "$2" send --endpoint ${CUT} "$3" x`, CTL, s.confFile, c.sid);
			assert.equal(r.code, 64, `send --endpoint: ${r.stdout}${r.stderr}`);
			r = await sh(`exec "$1" -c "$2" emit "$3" ${CUT}`, CTL, s.confFile, c.sid);
			assert.equal(r.code, 64, `emit: ${r.stdout}${r.stderr}`);
			r = await sh(`exec "$1" -c "$2" send --room lobby ${CUT}`, CTL, s.confFile);
			assert.equal(r.code, 64, `send --room: ${r.stdout}${r.stderr}`);
			assert.equal(s.queue(c.sid), before, 'nothing queued');
			const tok = token('after-sioctl');
			const t0 = Date.now();
			const got = message(c, tok);
			r = await sioctl('send', c.sid, tok);
			assert.equal(r.code, 0, r.stderr);
			await got;
			t.diagnostic(`sioctl send after the refusals -> ${c.transport}: ${Date.now() - t0} ms`);
		}
	});

	test('ctl/push.php refuses it (exit 2), queues nothing, and what follows arrives',
		{skip: !HAVE_PHP && 'php-cli with pdo_sqlite is not installed (scripts/deps.sh)'}, async (t) => {
		for (const c of Object.values(clients)) {
			const before = s.queue(c.sid);
			let r = await sh(`exec php "$1" "$2" "$3" ${CUT}`, PUSH, s.db, c.sid);
			assert.equal(r.code, 2, `push.php: ${r.stdout}${r.stderr}`);
			assert.match(r.stderr, /not valid UTF-8/);
			r = await sh(`exec php "$1" --event ${CUT} "$2" "$3" '[1]'`, PUSH, s.db, c.sid);
			assert.equal(r.code, 2, `push.php --event: ${r.stdout}${r.stderr}`);
			r = await sh(`exec php "$1" --endpoint ${CUT} "$2" "$3" x`, PUSH, s.db, c.sid);
			assert.equal(r.code, 2, `push.php --endpoint: ${r.stdout}${r.stderr}`);
			assert.equal(s.queue(c.sid), before, 'nothing queued');
			const tok = token('after-php');
			const t0 = Date.now();
			const got = message(c, tok);
			r = await run('php', [PUSH, s.db, c.sid, tok]);
			assert.equal(r.code, 0, r.stderr);
			await got;
			t.diagnostic(`push.php after the refusals -> ${c.transport}: ${Date.now() - t0} ms`);
		}
	});

	test('rows that are not UTF-8 or empty, from the sqlite3 shell, are dropped with a log line; every transport gets what follows', async (t) => {
		/* the bad rows, then a good one, in one statement */
		const push = (sid, tok) => s.sqlAsync(
			'INSERT INTO outbox (sid, packet, created) VALUES ' +
			`('${sid}', CAST(X'333a3a3a636166c3' AS TEXT), 0), ('${sid}', '', 0), ` +
			`('${sid}', X'333a3a3aff', 0), ('${sid}', '3:::${tok}', 0)`);
		const drops = dropLines();
		const sids = [];
		const timed = async (what, sid, fn) => {
			const t0 = Date.now();
			await fn();
			t.diagnostic(`sqlite3 shell, 3 bad rows then one -> ${what}: ${Date.now() - t0} ms`);
			sids.push(sid);
		};

		for (const c of Object.values(clients)) {
			const tok = token(`sql-${c.transport}`);
			await timed(c.transport, c.sid, async () => {
				const got = message(c, tok);
				await push(c.sid, tok);
				await got;
			});
		}

		{ // jsonp-polling: a parked GET is woken by the commit
			const sid = await s.handshake();
			assert.deepEqual(await jsonpPoll(sid), ['1::']);
			const tok = token('sql-jsonp');
			await timed('jsonp-polling', sid, async () => {
				const got = [];
				const deadline = Date.now() + DEADLINE;
				const poll = jsonpPoll(sid);
				await push(sid, tok);
				got.push(...await poll);
				while (!got.includes(`3:::${tok}`) && Date.now() < deadline) got.push(...await jsonpPoll(sid));
				assert.ok(got.includes(`3:::${tok}`), `jsonp-polling got ${JSON.stringify(got)}`);
			});
		}

		{ // htmlfile: the stream goes on after the bad rows
			const sid = await s.handshake();
			const h = htmlfile(sid);
			try {
				await until('htmlfile 1::', () => h.packets.includes('1::'), CONNECT_TIMEOUT);
				const tok = token('sql-htmlfile');
				await timed('htmlfile', sid, async () => {
					await push(sid, tok);
					await until(`htmlfile ${tok}`, () => h.packets.includes(`3:::${tok}`), DEADLINE);
				});
				const next = token('sql-htmlfile-next');
				await s.sqlAsync(`INSERT INTO outbox (sid, packet, created) VALUES ('${sid}', '3:::${next}', 0)`);
				await until(`htmlfile ${next}`, () => h.packets.includes(`3:::${next}`), DEADLINE);
			} finally {
				h.close();
			}
		}

		{ // flashsocket: hixie-76 frames straight to a second sio-wsd's flash listener
			const sid = await s.handshake();
			const ws = await hixie(`ws://127.0.0.1:${flash.port}/socket.io/1/flashsocket/${sid}`,
				{origin: `http://127.0.0.1:${s.port}`});
			try {
				assert.equal(await ws.receive(CONNECT_TIMEOUT), '1::');
				const tok = token('sql-flash');
				await timed('flashsocket', sid, async () => {
					await push(sid, tok);
					let m;
					do m = await ws.receive(DEADLINE); while (m === '2::');
					assert.equal(m, `3:::${tok}`);
				});
			} finally {
				await ws.close().catch(() => {});
			}
		}

		for (const sid of sids) {
			await until(`the bad rows of ${sid} deleted`, () => s.queue(sid) === 0, DEADLINE);
		}
		await until('a log line for the dropped rows', () => dropLines() > drops, DEADLINE);
		t.diagnostic(`log lines saying rows were dropped: ${dropLines() - drops}`);
	});
});
