// gateway-http.test.mjs: what the gateway's HTTP answers let a hostile page
// or client do, behind lighttpd. CORS headers only for an allowed Origin
// on every route; X-Content-Type-Options: nosniff on every response and no
// X-XSS-Protection; max_packet on polling POSTs (xhr and jsonp); one rule
// for the jsonp index, refused with 400 beyond it, and a first poll whose
// response fails loses no 1::.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {spawn} from 'node:child_process';
import {startServers, unframe, BUILD} from '../lib/servers.mjs';

const ALLOWED = 'http://allowed.example';
const OTHER = 'http://evil.example';
const MAX_PACKET = 1024;

let s;
before(async () => {
	s = await startServers({origins: 'allowed.example:80', max_packet: '1k', polling_duration: 1});
});
after(async () => { await s?.stop(); });

// One request on its own connection: {status, headers, body}.
function request(method, path, {origin = ALLOWED, body = null, type = 'text/plain; charset=UTF-8'} = {}) {
	return new Promise((resolve, reject) => {
		const headers = {};
		if (origin !== null) headers.Origin = origin;
		if (body !== null) Object.assign(headers, {'Content-Type': type, 'Content-Length': Buffer.byteLength(body)});
		if (method === 'OPTIONS') headers['Access-Control-Request-Method'] = 'POST';
		const url = path.startsWith('/../') ? `http://127.0.0.1:${s.port}/socket.io/${path.slice(4)}` : s.base + path;
		const req = http.request(url, {method, agent: false, headers}, (res) => {
			let b = '';
			res.setEncoding('utf8');
			res.on('data', (d) => {
				b += d;
				// an htmlfile stream: its head and prelude are enough
				if (path.startsWith('/htmlfile/') && b.length >= 256) { req.destroy(); resolve({status: res.statusCode, headers: res.headers, body: b}); }
			});
			res.on('end', () => resolve({status: res.statusCode, headers: res.headers, body: b}));
			res.on('error', reject);
		});
		req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
		req.on('error', (e) => (e.code === 'ECONNRESET' ? null : reject(e)));
		if (body !== null) req.write(body);
		req.end();
	});
}

async function session() {
	const r = await request('GET', `/?t=${Date.now()}`);
	assert.equal(r.status, 200, r.body);
	const sid = r.body.split(':')[0];
	const first = await request('GET', `/xhr-polling/${sid}?t=${Date.now()}`);
	assert.deepEqual(unframe(first.body), ['1::']);
	return sid;
}

// The routes a page can reach, for one session.
function routes(sid) {
	return [
		['GET', `/?t=${Date.now()}`],
		['GET', `/?t=${Date.now()}&jsonp=0`],
		['OPTIONS', '/'],
		['OPTIONS', `/xhr-polling/${sid}`],
		['GET', `/xhr-polling/${sid}?t=${Date.now()}`],
		['POST', `/xhr-polling/${sid}?t=${Date.now()}`, '3:::x'],
		['GET', `/jsonp-polling/${sid}?t=${Date.now()}&i=1`],
		['POST', `/jsonp-polling/${sid}?t=${Date.now()}&i=1`, 'd=%223%3A%3A%3Ay%22'],
		['GET', `/htmlfile/${sid}?t=${Date.now()}`],
		['GET', `/xhr-polling/${sid}?t=${Date.now()}&disconnect`],
	];
}

test('a disallowed Origin gets no CORS headers on any route; an allowed one gets them', async () => {
	const sid = await session();
	for (const [method, path, body] of routes(sid)) {
		const r = await request(method, path, {origin: OTHER, body: body ?? null,
			type: path.startsWith('/jsonp') ? 'application/x-www-form-urlencoded' : 'text/plain; charset=UTF-8'});
		assert.equal(r.headers['access-control-allow-origin'], undefined, `${method} ${path} (${r.status})`);
		assert.equal(r.headers['access-control-allow-credentials'], undefined, `${method} ${path}`);
	}
	const sid2 = await session();
	for (const [method, path, body] of routes(sid2)) {
		const r = await request(method, path, {body: body ?? null,
			type: path.startsWith('/jsonp') ? 'application/x-www-form-urlencoded' : 'text/plain; charset=UTF-8'});
		assert.equal(r.headers['access-control-allow-origin'], ALLOWED, `${method} ${path} (${r.status})`);
		assert.equal(r.headers['access-control-allow-credentials'], 'true', `${method} ${path}`);
	}
});

test('every response says nosniff, none says X-XSS-Protection', async () => {
	const sid = await session();
	const more = [
		['GET', '/nope/a/b/c'],                                    // 404
		['GET', `/gopher/${sid}?t=1`],                              // 404 transport
		['GET', `/jsonp-polling/${sid}?i=x`],                       // 400
		['POST', `/xhr-polling/${sid}`, 'x'.repeat(MAX_PACKET + 1)], // 400 or 413
		['GET', '/../2/'],                                          // another protocol
		['GET', `/xhr-polling/${'A'.repeat(22)}?t=1`],              // 7:::1+0
	];
	for (const [method, path, body] of [...routes(sid), ...more]) {
		const r = await request(method, path, {body: body ?? null,
			type: path.startsWith('/jsonp') ? 'application/x-www-form-urlencoded' : 'text/plain; charset=UTF-8'});
		assert.equal(r.headers['x-content-type-options'], 'nosniff', `${method} ${path} (${r.status})`);
		assert.equal(r.headers['x-xss-protection'], undefined, `${method} ${path}`);
	}
	const bad = await request('GET', '/', {origin: OTHER}); // 403 bad origin
	assert.equal(bad.status, 403);
	assert.equal(bad.headers['x-content-type-options'], 'nosniff');
});

test('a POST with a packet over max_packet is refused whole (413), xhr and jsonp; one at the limit passes', async () => {
	const sid = await session();
	const over = `3:::${'a'.repeat(MAX_PACKET - 3)}`; // MAX_PACKET + 1 bytes
	const at = `3:::${'b'.repeat(MAX_PACKET - 4)}`;
	assert.equal(over.length, MAX_PACKET + 1);
	const framed = `\ufffd5\ufffd3:::c\ufffd${over.length}\ufffd${over}`;
	let r = await request('POST', `/xhr-polling/${sid}?t=${Date.now()}`, {body: over});
	assert.deepEqual([r.status, r.body], [413, 'packet too large']);
	r = await request('POST', `/xhr-polling/${sid}?t=${Date.now()}`, {body: framed});
	assert.deepEqual([r.status, r.body], [413, 'packet too large']);
	r = await request('POST', `/jsonp-polling/${sid}?t=${Date.now()}&i=2`,
		{body: `d=${encodeURIComponent(JSON.stringify(over))}`, type: 'application/x-www-form-urlencoded'});
	assert.deepEqual([r.status, r.body], [413, 'packet too large']);
	assert.equal(s.queue(sid), 0, 'nothing of the refused POSTs was received (the echo app queued nothing)');
	r = await request('POST', `/xhr-polling/${sid}?t=${Date.now()}`, {body: at});
	assert.deepEqual([r.status, r.body], [200, '1']);
	const got = unframe((await request('GET', `/xhr-polling/${sid}?t=${Date.now()}`)).body);
	assert.deepEqual(got, [at], 'the packet at the limit is echoed, and only it');
});

test('a jsonp index past 9 digits is a 400 on the poll, and the next poll still gets 1::', async () => {
	const hs = await request('GET', `/?t=${Date.now()}&jsonp=123456789`);
	assert.equal(hs.status, 200);
	assert.match(hs.body, /^io\.j\[123456789\]\("[A-Za-z0-9_-]{22}:/);
	const sid = /"([A-Za-z0-9_-]{22}):/.exec(hs.body)[1];
	for (const i of ['1234567890', '12345678901234567890123']) {
		const r = await request('GET', `/jsonp-polling/${sid}?t=${Date.now()}&i=${i}`);
		assert.deepEqual([r.status, r.body], [400, 'bad jsonp index'], `poll i=${i}`);
	}
	const r = await request('GET', `/jsonp-polling/${sid}?t=${Date.now()}&i=123456789`);
	assert.deepEqual([r.status, r.body], [200, 'io.j[123456789]("1::");']);
});

test('a jsonp index past 9 digits is a 400 on the handshake', async () => {
	for (const i of ['1234567890', '12345678901234567890123', '1x']) {
		const r = await request('GET', `/?t=${Date.now()}&jsonp=${i}`);
		assert.deepEqual([r.status, r.body], [400, 'bad jsonp index'], `handshake jsonp=${i}`);
	}
});

// The gateway as CGI, for one request whose response cannot be written
// (stdout is /dev/full): resolves with its exit code and stderr.
function cgiToFull(env) {
	return new Promise((resolve, reject) => {
		const full = fs.openSync('/dev/full', 'w');
		const p = spawn(path.join(BUILD, 'sio-gateway'), [], {
			env: {SIOGATE_CONF: s.confFile, GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET',
				REMOTE_ADDR: '127.0.0.1', SERVER_PROTOCOL: 'HTTP/1.1', ...env},
			stdio: ['ignore', full, 'pipe'],
		});
		fs.closeSync(full);
		let err = '';
		p.stderr.on('data', (d) => { err += d; });
		p.on('error', reject);
		p.on('exit', (code) => resolve({code, err}));
	});
}

test('a first poll whose response fails leaves its 1:: for the next poll', async () => {
	for (const t of ['xhr-polling', 'jsonp-polling']) {
		const hs = await request('GET', `/?t=${Date.now()}`);
		const sid = hs.body.split(':')[0];
		const q = t === 'jsonp-polling' ? '&i=0' : '';
		const r = await cgiToFull({REQUEST_URI: `/socket.io/1/${t}/${sid}?t=1${q}`, QUERY_STRING: `t=1${q}`});
		assert.match(r.err, /write failed/, `${t}: the CGI poll's write failed (${r.code}): ${r.err}`);
		const next = await request('GET', `/${t}/${sid}?t=${Date.now()}${q}`);
		const body = t === 'jsonp-polling' ? next.body : unframe(next.body);
		assert.deepEqual(body, t === 'jsonp-polling' ? 'io.j[0]("1::");' : ['1::'], t);
	}
});
