/*
 * POST /socket.io/publish: actions queued from outside, signed with
 * bridge_secret, against lighttpd + sio-gateway + sio-wsd (through
 * tests/lib/servers.mjs, config `publish = yes`), with socket.io-client
 * 0.9.16 over websocket and xhr-polling. Requests are signed here with
 * node's crypto (HMAC-SHA256 over "<t>.<body>"), apart from siogate's C.
 * Each action reaches the client it targets (a sid, a room after a join
 * published too, an endpoint but the excluded session), set writes
 * session data, disconnect ends a session or one endpoint; every refusal
 * answers its status with nothing applied; several v1 entries accept when
 * one matches. The 404 (publish off), the 403 (an address not in
 * publish_allow), a Content-Length over max_payload and a full queue
 * (max_queue = 2) run sio-gateway as CGI, as tests/stats/ does; one
 * publish each goes through nginx, Apache and Apache as CGI.
 *
 *   node --test tests/publish/          (make publish)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {startServers, BUILD, until} from '../lib/servers.mjs';
import {io, waitFor, shutdown, openSession} from '../lib/client.mjs';

const GATEWAY = path.join(BUILD, 'sio-gateway');
const CONNECT_TIMEOUT = 10000;
const SECRET = crypto.randomBytes(24).toString('hex'); // 48 bytes
const MAX_ACTIONS = 5;
const CONF = {
	publish: 'yes', bridge_secret: SECRET, publish_max_actions: MAX_ACTIONS,
	max_payload: '128k', max_packet: '16k', polling_duration: 5, log_level: 'info',
};

let seq = 0;
const token = (what) => `${what}-${process.pid}-${++seq}`;

/* The header value for body at t (unix seconds), as docs/bridge.md says. */
function sign(body, t = Math.floor(Date.now() / 1000), secret = SECRET) {
	const mac = crypto.createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
	return `t=${t},v1=${mac}`;
}

/*
 * method /socket.io/publish on port with body (a string, or an object
 * sent as JSON) and headers; the signature unless headers has one (null:
 * none). Resolves {status, headers, body, json}.
 */
function publishRaw(port, body, {method = 'POST', headers = {}} = {}) {
	const text = typeof body === 'string' ? body : JSON.stringify(body);
	const h = {'Content-Type': 'application/json', ...headers};
	if (!('X-Siogate-Signature' in h)) h['X-Siogate-Signature'] = sign(text);
	if (h['X-Siogate-Signature'] === null) delete h['X-Siogate-Signature'];
	if (method !== 'GET') h['Content-Length'] = Buffer.byteLength(text);
	return new Promise((resolve, reject) => {
		const req = http.request({host: '127.0.0.1', port, path: '/socket.io/publish',
			method, headers: h, agent: false}, (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => {
				const b = Buffer.concat(parts).toString('utf8');
				let json;
				try { json = JSON.parse(b); } catch { json = undefined; }
				resolve({status: res.statusCode, headers: res.headers, body: b, json});
			});
		});
		req.setTimeout(10000, () => req.destroy(new Error('publish: no answer in 10 s')));
		req.on('error', reject);
		if (method !== 'GET') req.write(text);
		req.end();
	});
}

/* Publishes actions on srv; asserts 200 and JSON; returns the results. */
async function publish(srv, actions) {
	const r = await publishRaw(srv.port, {actions});
	assert.equal(r.status, 200, r.body);
	assert.match(r.headers['content-type'], /^application\/json/);
	assert.equal(r.headers['access-control-allow-origin'], undefined);
	assert.equal(r.json.results.length, actions.length, r.body);
	return r.json.results;
}

/* A session over transport with the root and /chat connected. */
async function open(srv, transport) {
	const {sock, nsp} = await openSession(io, `http://127.0.0.1:${srv.port}`,
	    transport, {endpoints: ['', '/chat'], ms: CONNECT_TIMEOUT});
	return {sock, nsp, sid: sock.sessionid, transport};
}

/* sio-gateway as one CGI request for POST /socket.io/publish. */
function cgi(conf, body, env = {}) {
	const r = spawnSync(GATEWAY, [], {
		env: {SIOGATE_CONF: conf, REQUEST_METHOD: 'POST', REQUEST_URI: '/socket.io/publish',
			REMOTE_ADDR: '127.0.0.1', CONTENT_LENGTH: String(Buffer.byteLength(body)),
			HTTP_X_SIOGATE_SIGNATURE: sign(body), ...env},
		input: body, encoding: 'utf8',
	});
	const out = r.stdout.replace(/\r/g, '');
	const [head, ...rest] = out.split('\n\n');
	return {status: Number(/^Status: (\d+)/m.exec(head)?.[1]), head, body: rest.join('\n\n')};
}

/* Resolves with the args of the next `event` on ns whose first argument
 * is tok; rejects after the deadline. */
const gets = (ns, event, tok, what) => waitFor(ns, event,
	{match: (a) => a[0] === tok || a[0]?.tok === tok, what});

describe('POST /socket.io/publish against lighttpd + sio-gateway + sio-wsd', () => {
	let s;
	const c = {}; // transport -> client
	before(async () => {
		s = await startServers(CONF);
		for (const tr of ['websocket', 'xhr-polling']) c[tr] = await open(s, tr);
	});
	after(async () => {
		for (const x of Object.values(c)) shutdown(x.sock);
		if (s) await s.stop();
	});

	test('an emit published to a sid reaches that session on websocket and on xhr-polling', async () => {
		for (const x of Object.values(c)) {
			const tok = token(x.transport);
			const other = Object.values(c).find((y) => y !== x);
			let strays = 0;
			const stray = () => strays++;
			other.nsp[''].on('news', stray);
			const got = gets(x.nsp[''], 'news', tok, x.transport);
			const res = await publish(s, [{do: 'emit', sid: x.sid, name: 'news', args: [tok, {n: 1}]}]);
			assert.deepEqual(res[0], {queued: 1});
			assert.deepEqual(await got, [tok, {n: 1}]);
			other.nsp[''].removeListener('news', stray);
			assert.equal(strays, 0, 'the other session got nothing');
		}
	});

	test('send and json to a sid arrive as a message and a JSON message', async () => {
		const x = c['xhr-polling'];
		const tok = token('send');
		const msg = gets(x.nsp[''], 'message', tok, 'send');
		const obj = waitFor(x.nsp['/chat'], 'message',
			{match: (a) => a[0]?.tok === tok, what: 'json on /chat'});
		const res = await publish(s, [
			{do: 'send', sid: x.sid, data: tok},
			{do: 'json', sid: x.sid, endpoint: '/chat', data: {tok, l: [1, null, 'é']}},
		]);
		assert.deepEqual(res, [{queued: 1}, {queued: 1}]);
		assert.deepEqual(await msg, [tok]);
		assert.deepEqual((await obj)[0], {tok, l: [1, null, 'é']});
	});

	test('a published join puts a session in a room; an emit to the room reaches its members only', async () => {
		const member = c.websocket, outsider = c['xhr-polling'];
		const room = token('room');
		const res = await publish(s, [{do: 'join', sid: member.sid, endpoint: '/chat', room}]);
		assert.deepEqual(res, [{done: true}]);
		assert.equal(s.sql(`SELECT count(*) FROM rooms WHERE sid='${member.sid}' AND endpoint='/chat' AND room='${room}'`), '1');
		const tok = token('to-room');
		let strays = 0;
		const stray = (a) => { if (a === tok) strays++; };
		outsider.nsp['/chat'].on('news', stray);
		const got = gets(member.nsp['/chat'], 'news', tok, 'room member');
		const r2 = await publish(s, [{do: 'emit', endpoint: '/chat', room, name: 'news', args: [tok]}]);
		assert.deepEqual(r2, [{queued: 1}]);
		await got;
		// the outsider's poll gets what the room got, or nothing: a marker
		// sent after it to the outsider proves the emit did not come first
		const mark = token('mark');
		const marked = gets(outsider.nsp['/chat'], 'news', mark, 'marker');
		await publish(s, [{do: 'emit', sid: outsider.sid, endpoint: '/chat', name: 'news', args: [mark]}]);
		await marked;
		outsider.nsp['/chat'].removeListener('news', stray);
		assert.equal(strays, 0);
		const r3 = await publish(s, [{do: 'leave', sid: member.sid, endpoint: '/chat', room}]);
		assert.deepEqual(r3, [{done: true}]);
		assert.equal(s.sql(`SELECT count(*) FROM rooms WHERE sid='${member.sid}' AND room='${room}'`), '0');
	});

	test('an endpoint broadcast with exclude reaches every session of the endpoint but the excluded one', async () => {
		const skipped = c.websocket, reached = c['xhr-polling'];
		const tok = token('all');
		let strays = 0;
		const stray = (a) => { if (a === tok) strays++; };
		skipped.nsp['/chat'].on('news', stray);
		const got = gets(reached.nsp['/chat'], 'news', tok, 'endpoint broadcast');
		const res = await publish(s, [{do: 'emit', endpoint: '/chat', exclude: skipped.sid, name: 'news', args: [tok]}]);
		assert.equal(res[0].queued, 1, JSON.stringify(res));
		await got;
		const mark = token('mark');
		const marked = gets(skipped.nsp['/chat'], 'news', mark, 'marker');
		await publish(s, [{do: 'emit', sid: skipped.sid, endpoint: '/chat', name: 'news', args: [mark]}]);
		await marked;
		skipped.nsp['/chat'].removeListener('news', stray);
		assert.equal(strays, 0, 'the excluded session got nothing');
	});

	test('a volatile emit to a session with no transport is dropped: queued 0', async () => {
		const sid = await s.handshake();
		const res = await publish(s, [
			{do: 'emit', sid, name: 'news', args: ['gone'], volatile: true},
			{do: 'emit', sid, name: 'news', args: ['kept']},
		]);
		assert.equal(res[0].queued, 0, JSON.stringify(res));
		assert.equal(res[1].queued, 1, JSON.stringify(res));
		assert.equal(s.queue(sid), 1);
	});

	test('set writes session data the application reads; null deletes it', async () => {
		const x = c.websocket;
		const v = token('value');
		assert.deepEqual(await publish(s, [{do: 'set', sid: x.sid, key: 'name', value: v}]), [{done: true}]);
		assert.equal(s.sql(`SELECT value FROM data WHERE sid='${x.sid}' AND key='name'`), v);
		assert.deepEqual(await publish(s, [{do: 'set', sid: x.sid, key: 'name', value: null}]), [{done: true}]);
		assert.equal(s.sql(`SELECT count(*) FROM data WHERE sid='${x.sid}' AND key='name'`), '0');
	});

	test('every refusal has its status, and nothing of a refused body applies', async () => {
		const x = c['xhr-polling'];
		const good = {actions: [{do: 'emit', sid: x.sid, name: 'never', args: []}]};
		const text = JSON.stringify(good);
		let nevers = 0;
		x.nsp[''].on('never', () => nevers++);
		const t = Math.floor(Date.now() / 1000);
		const cases = [
			['GET', await publishRaw(s.port, '', {method: 'GET'}), 405],
			['no signature', await publishRaw(s.port, good, {headers: {'X-Siogate-Signature': null}}), 401, 'bad signature'],
			['bad MAC', await publishRaw(s.port, good, {headers: {'X-Siogate-Signature': sign(text + ' ')}}), 401, 'bad signature'],
			['other secret', await publishRaw(s.port, good, {headers: {'X-Siogate-Signature': sign(text, t, SECRET + 'x')}}), 401, 'bad signature'],
			['stale', await publishRaw(s.port, good, {headers: {'X-Siogate-Signature': sign(text, t - 1000)}}), 401, 'stale signature'],
			['from the future', await publishRaw(s.port, good, {headers: {'X-Siogate-Signature': sign(text, t + 1000)}}), 401, 'stale signature'],
			['over max_packet', await publishRaw(s.port, {actions: [{do: 'send', sid: x.sid, data: 'x'.repeat(17 * 1024)}]}), 400,
				/^action 0: packet of \d+ bytes, over max_packet 16384$/],
			['a misspelt field', await publishRaw(s.port, {actions: [{...good.actions[0], arg: []}]}), 400, "action 0: emit has no field 'arg'"],
			['broadcast (a bridge response\'s)', await publishRaw(s.port, {actions: [{...good.actions[0], broadcast: true}]}), 400,
				"action 0: emit has no field 'broadcast'"],
			['a set value over 64 KiB', await publishRaw(s.port, {actions: [{do: 'set', sid: x.sid, key: 'k', value: 'v'.repeat(65537)}]}), 400,
				'action 0: value of 65537 bytes, over 65536'],
			['not JSON', await publishRaw(s.port, '{"actions": ['), 400],
			['not the shape', await publishRaw(s.port, '[1]'), 400],
			['unknown do', await publishRaw(s.port, {actions: [good.actions[0], {do: 'explode', sid: x.sid}]}), 400, /^action 1: /],
			['emit without name', await publishRaw(s.port, {actions: [good.actions[0], {do: 'emit', sid: x.sid}]}), 400, /^action 1: .*name/],
			['too many', await publishRaw(s.port, {actions: Array(MAX_ACTIONS + 1).fill(good.actions[0])}), 413],
			['too big', await publishRaw(s.port, {actions: [{do: 'send', sid: x.sid, data: 'x'.repeat(140 * 1024)}]}), 413],
		];
		for (const [what, r, status, error] of cases) {
			assert.equal(r.status, status, `${what}: ${r.status} ${r.body}`);
			assert.equal(r.headers['access-control-allow-origin'], undefined, what);
			if (status === 405) assert.equal(r.headers.allow, 'POST');
			else assert.equal(typeof r.json?.error, 'string', `${what}: ${r.body}`);
			if (typeof error === 'string') assert.equal(r.json.error, error, what);
			else if (error) assert.match(r.json.error, error, what);
		}
		// a marker after them all: had any applied, 'never' came first
		const mark = token('mark');
		const marked = gets(x.nsp[''], 'news', mark, 'marker');
		await publish(s, [{do: 'emit', sid: x.sid, name: 'news', args: [mark]}]);
		await marked;
		assert.equal(nevers, 0, 'a refused body applied');
	});

	test('several v1 entries: any that matches accepts (a secret being rotated)', async () => {
		const x = c.websocket;
		const tok = token('rotated');
		const got = gets(x.nsp[''], 'news', tok, 'rotated');
		const text = JSON.stringify({actions: [{do: 'emit', sid: x.sid, name: 'news', args: [tok]}]});
		const t = Math.floor(Date.now() / 1000);
		const good = sign(text, t).split(',')[1];
		const other = sign(text, t, SECRET + 'old').split(',')[1];
		const r = await publishRaw(s.port, text, {headers: {'X-Siogate-Signature': `t=${t},${other},${good}`}});
		assert.equal(r.status, 200, r.body);
		assert.deepEqual(r.json.results, [{queued: 1}]);
		await got;
		const bad = await publishRaw(s.port, text, {headers: {'X-Siogate-Signature': `t=${t},${other},${other}`}});
		assert.equal(bad.status, 401, bad.body);
	});

	test('disconnect of an endpoint: the client sees /chat disconnect and keeps the root', async () => {
		const x = await open(s, 'xhr-polling');
		try {
			const down = waitFor(x.nsp['/chat'], 'disconnect', {what: '/chat disconnected'});
			assert.deepEqual(await publish(s, [{do: 'disconnect', sid: x.sid, endpoint: '/chat'}]), [{done: true}]);
			await down;
			assert.equal(s.sql(`SELECT count(*) FROM endpoints WHERE sid='${x.sid}' AND endpoint='/chat'`), '0');
			// a second one finds it gone; the root still hears
			const tok = token('root');
			const got = gets(x.nsp[''], 'news', tok, 'the root after /chat went');
			const res = await publish(s, [
				{do: 'disconnect', sid: x.sid, endpoint: '/chat'},
				{do: 'emit', sid: x.sid, endpoint: '/chat', name: 'news', args: [tok]},
				{do: 'emit', sid: x.sid, name: 'news', args: [tok]},
			]);
			assert.deepEqual(res, [{error: 'endpoint not connected'}, {error: 'endpoint not connected'}, {queued: 1}]);
			await got;
		} finally {
			shutdown(x.sock);
		}
	});

	test('disconnect ends a session: its client sees the disconnect; a later action to it says no such session while the others apply', async () => {
		const gone = await open(s, 'websocket');
		const x = c['xhr-polling'];
		const down = waitFor(gone.sock, 'disconnect', {what: 'the published disconnect'});
		assert.deepEqual(await publish(s, [{do: 'disconnect', sid: gone.sid}]), [{done: true}]);
		await down;
		shutdown(gone.sock);
		await until('the session ended', () => s.session(gone.sid)?.state !== 'open' &&
			s.session(gone.sid)?.state !== 'handshaken');
		const tok = token('after');
		const got = gets(x.nsp[''], 'news', tok, 'the live session');
		const res = await publish(s, [
			{do: 'emit', sid: gone.sid, name: 'news', args: [tok]},
			{do: 'emit', sid: x.sid, name: 'news', args: [tok]},
			{do: 'set', sid: gone.sid, key: 'k', value: 'v'},
		]);
		assert.deepEqual(res[0], {error: 'no such session'});
		assert.deepEqual(res[1], {queued: 1});
		assert.deepEqual(res[2], {error: 'no such session'});
		await got;
	});

	test('as CGI: publish = no answers 404, an address not in publish_allow 403, and a signed publish applies', async () => {
		const body = JSON.stringify({actions: [{do: 'set', sid: c.websocket.sid, key: 'cgi', value: 'yes'}]});
		const off = path.join(s.var, 'off.conf');
		fs.writeFileSync(off, fs.readFileSync(s.confFile, 'utf8') + 'publish = no\n');
		const r404 = cgi(off, body);
		assert.equal(r404.status, 404, r404.head);
		const far = path.join(s.var, 'far.conf');
		fs.writeFileSync(far, fs.readFileSync(s.confFile, 'utf8') + 'publish_allow = 192.0.2.7\n');
		const r403 = cgi(far, body);
		assert.equal(r403.status, 403, r403.head);
		assert.equal(JSON.parse(r403.body).error, 'address not allowed');
		// the address the list names is let in
		const r200 = cgi(far, body, {REMOTE_ADDR: '192.0.2.7'});
		assert.equal(r200.status, 200, r200.head + r200.body);
		assert.match(r200.head, /^Content-Type: application\/json/m);
		assert.deepEqual(JSON.parse(r200.body), {results: [{done: true}]});
		assert.equal(s.sql(`SELECT value FROM data WHERE sid='${c.websocket.sid}' AND key='cgi'`), 'yes');
	});

	test('as CGI: a Content-Length over max_payload is refused before the body is read', async () => {
		const r = cgi(s.confFile, '', {CONTENT_LENGTH: String(64 * 1024 * 1024)});
		assert.equal(r.status, 413, r.head + r.body);
		assert.equal(JSON.parse(r.body).error, 'body over max_payload');
	});

	test('as CGI with max_queue = 2: a full queue drops the packet and says so', async () => {
		const sid = await s.handshake();
		const small = path.join(s.var, 'small.conf');
		fs.writeFileSync(small, fs.readFileSync(s.confFile, 'utf8') + 'max_queue = 2\n');
		const body = JSON.stringify({actions: ['1', '2', '3'].map((data) => ({do: 'send', sid, data}))});
		const r = cgi(small, body);
		assert.equal(r.status, 200, r.head + r.body);
		assert.deepEqual(JSON.parse(r.body).results, [{queued: 1}, {queued: 1}, {queued: 0, dropped: 1}]);
		assert.equal(s.queue(sid), 2);
	});
});

for (const server of ['nginx', 'apache', 'apache-cgi']) {
	describe(`POST /socket.io/publish behind ${server}`, () => {
		let s, x;
		before(async () => {
			// as root, apache-cgi gives the directory to www-data, whose
			// sio-wsd webserver.sh would start: this one needs none
			s = await startServers(CONF, {server, wsd: server === 'apache-cgi' ? 'none' : 'own'});
			x = await open(s, 'xhr-polling');
		});
		after(async () => {
			if (x) shutdown(x.sock);
			if (s) await s.stop();
		});
		test('an emit published to a sid reaches its client', async () => {
			const tok = token(server);
			const got = gets(x.nsp[''], 'news', tok, server);
			assert.deepEqual(await publish(s, [{do: 'emit', sid: x.sid, name: 'news', args: [tok]}]), [{queued: 1}]);
			await got;
			const r = await publishRaw(s.port, {actions: []}, {headers: {'X-Siogate-Signature': null}});
			assert.equal(r.status, 401, `${server} passes no signature: ${r.body}`);
		});
	});
}
