/*
 * The publishing helpers against a real gateway: lighttpd + sio-gateway +
 * sio-wsd (tests/lib/servers.mjs, app = testapp) with publish = yes and a
 * bridge_secret, socket.io-client 0.9.16 sessions on websocket and
 * xhr-polling with the root and /chat connected.
 *
 *   a PHP script using ctl/siogate.php publishes an emit to each session,
 *   a join and an emit to that room: the clients get both;
 *   python3 ctl/siogate.py publish does the same, and an emit to an
 *   endpoint with exclude reaches every session but the excluded one;
 *   a session that does not exist is that action's result, the others
 *   still apply;
 *   a wrong secret is a 401: PHP's RuntimeException (code 401, "bad
 *   signature"), siogate.py's exit status 1 and message;
 *   the secret file has whitespace around the secret (read_secret() of
 *   each helper drops it, as siogate.conf does around bridge_secret), so
 *   every publish here also checks that the gateway's libcrypto accepts
 *   the helpers' signatures.
 *
 *   node --test tests/clients/          (make clients)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {startServers, ROOT} from '../lib/servers.mjs';
import {io, waitFor, shutdown, openSession} from '../lib/client.mjs';

const PHP_LIB = path.join(ROOT, 'ctl/siogate.php');
const PY = path.join(ROOT, 'ctl/siogate.py');
const SECRET = crypto.randomBytes(32).toString('hex');
const DEADLINE = Number(process.env.CTL_DEADLINE || 3000);
const CONNECT_TIMEOUT = 10000;
const PUBLISH_CONF = {publish: 'yes', bridge_secret: SECRET};
let seq = 0;
const token = (what) => `${what}-${process.pid}-${++seq}`;


/* Runs cmd with args; resolves {code, stdout, stderr}. */
function run(cmd, args) {
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '', stderr = '';
		p.stdout.on('data', (d) => { stdout += d; });
		p.stderr.on('data', (d) => { stderr += d; });
		p.on('error', reject);
		p.on('close', (code) => resolve({code, stdout, stderr}));
	});
}

/*
 * A PHP program that requires ctl/siogate.php and publishes the actions
 * that code (PHP, over $sid, $a and $b) builds: prints the results as
 * JSON, or "CODE MESSAGE" of the exception on stderr with exit 1.
 */
const PHP = `
require $argv[1];
[, , $url, $secretFile, $sid, $a, $b] = $argv + array_fill(0, 7, '');
$secret = Siogate\\read_secret($secretFile);
try {
	echo json_encode(Siogate\\publish($url, $secret, eval('return ' . getenv('ACTIONS') . ';')));
} catch (RuntimeException $e) {
	fwrite(STDERR, $e->getCode() . ' ' . $e->getMessage());
	exit(1);
}`;
function php(actions, url, secretFile, ...args) {
	return new Promise((resolve, reject) => {
		const p = spawn('php', ['-r', PHP, PHP_LIB, url, secretFile, ...args],
		    {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ACTIONS: actions}});
		let stdout = '', stderr = '';
		p.stdout.on('data', (d) => { stdout += d; });
		p.stderr.on('data', (d) => { stderr += d; });
		p.on('error', reject);
		p.on('close', (code) => resolve({code, stdout, stderr}));
	});
}

describe('the helpers publish to a running gateway', () => {
	let s, url, dir, key, wrongKey;
	const clients = {}; // transport -> {sock, nsp, sid, transport}

	before(async () => {
		s = await startServers({...PUBLISH_CONF, polling_duration: 5, log_level: 'info'});
		url = `http://127.0.0.1:${s.port}/socket.io/publish`;
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-clients.'));
		key = path.join(dir, 'secret');
		wrongKey = path.join(dir, 'wrong');
		/* whitespace around it, as an editor may leave: both helpers
		 * read the secret as siogate.conf does */
		fs.writeFileSync(key, ` \t${SECRET}\r\n\n`, {mode: 0o600});
		fs.writeFileSync(wrongKey, crypto.randomBytes(32).toString('hex') + '\n', {mode: 0o600});
		const probe = await s.request('POST', url, '{"actions":[]}');
		assert.notEqual(probe.status, 404, `publish = yes and ${url} answers 404: the route is missing`);
		for (const transport of ['websocket', 'xhr-polling']) {
			const {sock, nsp} = await openSession(io, `http://127.0.0.1:${s.port}`, transport,
			    {endpoints: ['', '/chat'], ms: CONNECT_TIMEOUT});
			clients[transport] = {sock, nsp, sid: sock.sessionid, transport};
		}
	});
	after(async () => {
		for (const c of Object.values(clients)) shutdown(c.sock);
		if (s) await s.stop();
		if (dir) fs.rmSync(dir, {recursive: true, force: true});
	});

	/* Waits for event on ep at every client of to whose first arg is tok. */
	const arrives = (to, event, tok, ep = '') => Promise.all(to.map((c) =>
		waitFor(c.nsp[ep], event, {match: (a) => a[0] === tok, ms: DEADLINE, what: `${tok} at ${c.transport}`})));

	test('php: an emit to each session, then a join and an emit to that room, arrive', async () => {
		for (const c of Object.values(clients)) {
			const tok = token('php'), room = token('room');
			const got = arrives([c], 'news', tok);
			const inRoom = arrives([c], 'said', tok, '/chat');
			const r = await php(`[
				Siogate\\emit('news', [$a, ['n' => 1]], sid: $sid),
				Siogate\\join($sid, $b, endpoint: '/chat'),
				Siogate\\emit('said', [$a], room: $b, endpoint: '/chat'),
			]`, url, key, c.sid, tok, room);
			assert.equal(r.code, 0, `php: ${r.stderr}`);
			assert.deepEqual(JSON.parse(r.stdout), [{queued: 1}, {done: true}, {queued: 1}]);
			const [args] = await got;
			assert.deepEqual(args, [tok, {n: 1}], `${c.transport} got the event's args`);
			await inRoom;
		}
	});

	test('python: an emit to each session, to a room, and to an endpoint but one', async () => {
		const py = (actions) => run('python3', [PY, 'publish', url, '--secret-file', key, JSON.stringify(actions)]);
		const all = Object.values(clients);
		for (const c of all) {
			const tok = token('py');
			const got = arrives([c], 'news', tok);
			const r = await py([{do: 'emit', name: 'news', args: [tok, [true, null]], sid: c.sid}]);
			assert.equal(r.code, 0, `siogate.py: ${r.stderr}`);
			assert.deepEqual(JSON.parse(r.stdout), [{queued: 1}]);
			const [args] = await got;
			assert.deepEqual(args, [tok, [true, null]]);
		}
		const room = token('room'), tok = token('py-room');
		const inRoom = arrives(all, 'said', tok, '/chat');
		let r = await py([...all.map((c) => ({do: 'join', sid: c.sid, room, endpoint: '/chat'})),
			{do: 'emit', name: 'said', args: [tok], room, endpoint: '/chat'}]);
		assert.equal(r.code, 0, r.stderr);
		assert.deepEqual(JSON.parse(r.stdout), [...all.map(() => ({done: true})), {queued: all.length}]);
		await inRoom;

		/* every session on /chat but the websocket one */
		const [ws, xhr] = [clients.websocket, clients['xhr-polling']];
		const but = token('py-exclude');
		let leaked = null;
		const spy = (a) => { if (a === but) leaked = a; };
		ws.nsp['/chat'].on('message', spy);
		const got = arrives([xhr], 'message', but, '/chat');
		r = await py([{do: 'send', data: but, endpoint: '/chat', exclude: ws.sid}]);
		assert.equal(r.code, 0, r.stderr);
		const [res] = JSON.parse(r.stdout);
		assert.ok(res.queued >= 1, `queued to the other sessions: ${r.stdout}`);
		await got;
		/* a marker sent after it to the excluded session, which arrives
		 * in order: had the excluded one been queued, it came first */
		const after_ = token('py-after');
		const marker = arrives([ws], 'message', after_, '/chat');
		r = await py([{do: 'send', data: after_, sid: ws.sid, endpoint: '/chat'}]);
		assert.equal(r.code, 0, r.stderr);
		await marker;
		ws.nsp['/chat'].removeListener('message', spy);
		assert.equal(leaked, null, 'the excluded session did not get it');
	});

	test('a session that does not exist is its action\'s result; the others apply', async () => {
		const c = clients.websocket;
		const tok = token('py-mixed');
		const got = arrives([c], 'news', tok);
		const r = await run('python3', [PY, 'publish', url, '--secret-file', key, JSON.stringify([
			{do: 'emit', name: 'news', args: ['x'], sid: 'AAAAAAAAAAAAAAAAAAAAAA'},
			{do: 'emit', name: 'news', args: [tok], sid: c.sid},
		])]);
		assert.equal(r.code, 0, r.stderr);
		assert.deepEqual(JSON.parse(r.stdout), [{error: 'no such session'}, {queued: 1}]);
		await got;
	});

	test('a wrong secret: 401 as each helper reports it, nothing delivered', async () => {
		const c = clients.websocket;
		const tok = token('wrong');
		let leaked = false;
		const spy = (a) => { if (a === tok) leaked = true; };
		c.nsp[''].on('news', spy);
		const p = await php(`[Siogate\\emit('news', [$a], sid: $sid)]`, url, wrongKey, c.sid, tok);
		assert.equal(p.code, 1);
		assert.equal(p.stderr, '401 siogate publish: 401 bad signature');
		const r = await run('python3', [PY, 'publish', url, '--secret-file', wrongKey,
			JSON.stringify([{do: 'emit', name: 'news', args: [tok], sid: c.sid}])]);
		assert.equal(r.code, 1);
		assert.equal(r.stderr, 'siogate.py: siogate publish: 401 bad signature\n');
		/* what the right secret sends next arrives, and nothing before it */
		const next = token('right');
		const got = arrives([c], 'news', next);
		const ok = await php(`[Siogate\\emit('news', [$a], sid: $sid)]`, url, key, c.sid, next);
		assert.equal(ok.code, 0, ok.stderr);
		await got;
		c.nsp[''].removeListener('news', spy);
		assert.equal(leaked, false, 'the refused emits were not delivered');
	});
});
