// fcgi-limits.test.mjs: sio-gateway's limits per client, spoken to in
// FastCGI directly (as Apache's mod_proxy_fcgi does, which passes a body on
// as the client sends it), so each request names its own REMOTE_ADDR.
// Slow bodies from one address, well past `threads`: another client's
// handshake and echo are served at once, the slow ones are answered 408
// at body_timeout, one over max_payload 413 while it still comes. The
// waiting place of a poll is free again before its answer arrives. IPv6
// clients are counted by their /64, an IPv4-mapped address as the IPv4
// one. Everything at the defaults (threads 64, max_requests_per_address
// 8, body_timeout 10 s, max_polls_per_address 8). Prints what it measured.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {BUILD, freePort, until, unframe, frame, writeConf} from '../lib/servers.mjs';

const THREADS = 64;          // threads' default
const PER_ADDRESS = 8;       // max_requests_per_address's default
const POLLS_PER_ADDRESS = 8; // max_polls_per_address's default
const BODY_TIMEOUT_MS = 10000; // body_timeout's default
const BOUND_MS = 3000; // a few ms idle; generous for a loaded machine

let gw, port, dir, log = '';
const open = new Set(); // connections still open, destroyed at the end

before(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-fcgi-limits.'));
	const conf = writeConf(`${dir}/siogate.conf`, {database: `${dir}/siogate.db`,
		run_dir: `${dir}/run`, app: 'testapp', log_level: 'info', close_timeout: 120});
	port = await freePort();
	gw = spawn(path.join(BUILD, 'sio-gateway'), ['-c', conf, '--listen', `127.0.0.1:${port}`],
		{stdio: ['ignore', 'ignore', 'pipe']});
	gw.stderr.on('data', (d) => { log += d; });
	await until('sio-gateway to listen', () => new Promise((resolve) => {
		const c = net.connect(port, '127.0.0.1');
		c.on('connect', () => { c.destroy(); resolve(true); });
		c.on('error', () => resolve(false));
	}), 10000);
});
after(async () => {
	for (const c of open) c.destroy();
	if (gw && gw.exitCode === null) {
		const gone = new Promise((r) => gw.on('exit', r));
		gw.kill('SIGTERM');
		await gone;
	}
	fs.rmSync(dir, {recursive: true, force: true});
});

// Sessions with a poll attached (waiting), of sids.
// The poll's answer, or null once cond() holds (the poll waits): which
// comes first, however long a loaded machine takes (10 s at most).
async function answeredOrWaiting(poll, cond) {
	let settled = false;
	const waiting = until('the poll to be answered or to wait', () => settled || cond(), 10000)
		.then(() => null);
	try {
		return await Promise.race([poll.done, waiting]);
	} finally {
		settled = true;
		waiting.catch(() => {});
	}
}

const attached = (sids) => Number(execFileSync('sqlite3', ['-cmd', '.timeout 5000', `${dir}/siogate.db`,
	`SELECT count(*) FROM sessions WHERE holder IS NOT NULL AND sid IN (${sids.map((x) => `'${x}'`).join(',')})`],
{encoding: 'utf8'}).trim());

// --- a FastCGI client: one request per connection ---------------------

function record(type, content) {
	const h = Buffer.alloc(8);
	h[0] = 1; h[1] = type; h.writeUInt16BE(1, 2); h.writeUInt16BE(content.length, 4);
	return Buffer.concat([h, content]);
}
function nvlen(n) {
	if (n < 128) return Buffer.from([n]);
	const b = Buffer.alloc(4); b.writeUInt32BE((n | 0x80000000) >>> 0); return b;
}
function params(p) {
	const parts = Object.entries(p).map(([k, v]) => {
		const kb = Buffer.from(k), vb = Buffer.from(String(v));
		return Buffer.concat([nvlen(kb.length), nvlen(vb.length), kb, vb]);
	});
	return Buffer.concat(parts);
}

// Opens a request: {send(buf), end(), done} where done resolves
// {status, body, ms} once the gateway has ended the response (or the
// connection), and fails after ms.
function fcgi(method, uri, addr, {length = 0, ms = 60000} = {}) {
	const c = net.connect(port, '127.0.0.1');
	const connected = new Promise((resolve) => c.once('connect', resolve));
	open.add(c);
	const t0 = Date.now();
	let got = Buffer.alloc(0), out = Buffer.alloc(0), ended = false;
	const done = new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${method} ${uri} from ${addr}: no answer in ${ms} ms`)), ms);
		const finish = () => {
			if (ended) return;
			ended = true;
			clearTimeout(timer);
			const text = out.toString('utf8');
			const [head, ...rest] = text.split('\r\n\r\n');
			const m = /^Status: (\d+)/m.exec(head);
			resolve({status: m ? Number(m[1]) : (text ? 200 : 'closed'), body: rest.join('\r\n\r\n'), ms: Date.now() - t0});
			c.destroy();
			open.delete(c);
		};
		c.on('data', (d) => {
			got = Buffer.concat([got, d]);
			while (got.length >= 8) {
				const len = got.readUInt16BE(4), pad = got[6];
				if (got.length < 8 + len + pad) break;
				if (got[1] === 6) out = Buffer.concat([out, got.subarray(8, 8 + len)]);
				const type = got[1];
				got = got.subarray(8 + len + pad);
				if (type === 3) finish();
			}
		});
		c.on('close', finish);
		c.on('error', () => {});
	});
	const begin = Buffer.alloc(8); begin.writeUInt16BE(1, 0);
	c.write(Buffer.concat([record(1, begin),
		record(4, params({REQUEST_METHOD: method, REQUEST_URI: uri, REMOTE_ADDR: addr,
			SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_LENGTH: length,
			...(length ? {CONTENT_TYPE: 'text/plain; charset=UTF-8'} : {})})),
		record(4, Buffer.alloc(0))]));
	return {
		send(buf) { if (!c.destroyed) c.write(record(5, Buffer.from(buf))); },
		end() { if (!c.destroyed) c.write(record(5, Buffer.alloc(0))); },
		destroy() { c.destroy(); open.delete(c); },
		connected,
		done,
	};
}

async function request(method, uri, addr, body = null, ms = 60000) {
	const len = body === null ? 0 : Buffer.byteLength(body);
	const r = fcgi(method, uri, addr, {length: len, ms});
	if (body !== null) r.send(body);
	r.end();
	return r.done;
}

async function handshake(addr, ms = 10000) {
	const r = await request('GET', `/socket.io/1/?t=${Date.now()}`, addr, null, ms);
	assert.equal(r.status, 200, `handshake from ${addr}: ${r.status} ${r.body}`);
	return {sid: r.body.split(':')[0], ms: r.ms};
}
const pollUri = (sid) => `/socket.io/1/xhr-polling/${sid}?t=${Date.now()}`;

// n sessions of addr past their first poll: the next poll of each waits.
async function sessions(addr, n) {
	const sids = [];
	for (let i = 0; i < n; i++) {
		const {sid} = await handshake(addr);
		const r = await request('GET', pollUri(sid), addr, null, 10000);
		assert.deepEqual([r.status, unframe(r.body)], [200, ['1::']]);
		sids.push(sid);
	}
	return sids;
}

// A poll left waiting: {done, destroy}.
function park(addr, sid) {
	const r = fcgi('GET', pollUri(sid), addr);
	r.end();
	return r;
}

test('slow bodies from one address, well past threads: another client is served at once, the slow ones end at body_timeout', async () => {
	const N = THREADS + 36; // the reviewer's 100
	const {sid} = await handshake('10.0.0.1');
	const slow = [];
	for (let i = 0; i < N; i++) {
		const r = fcgi('POST', pollUri(sid), '10.0.0.1', {length: 60000, ms: BODY_TIMEOUT_MS + 30000});
		r.send('3:::');
		slow.push(r);
	}
	// one byte from each, every 0.5 s
	const trickle = setInterval(() => { for (const r of slow) r.send('x'); }, 500);
	const settled = slow.map((r) => r.done.catch((e) => ({status: String(e)})));
	try {
		await Promise.all(slow.map((r) => r.connected));
		// the other client, while they trickle
		const t1 = Date.now();
		const hs = await handshake('10.0.0.2', BOUND_MS + 2000);
		const first = await request('GET', pollUri(hs.sid), '10.0.0.2', null, BOUND_MS + 2000);
		assert.deepEqual([first.status, unframe(first.body)], [200, ['1::']]);
		const poll = park('10.0.0.2', hs.sid);
		const post = await request('POST', pollUri(hs.sid), '10.0.0.2', '3:::slow?', BOUND_MS + 2000);
		assert.equal(post.status, 200);
		const echo = await poll.done;
		assert.deepEqual([echo.status, unframe(echo.body)], [200, ['3:::slow?']]);
		const total = Date.now() - t1;

		const answers = await Promise.all(settled);
		const late = answers.filter((r) => r.status === 408);
		const slowest = Math.max(...late.map((r) => r.ms));
		console.log(`# ${N} POSTs from one address sending a byte every 0.5 s: ` +
			`${answers.filter((r) => r.status === 503).length} refused with 503 at once, ` +
			`${late.length} answered 408 after ${Math.min(...late.map((r) => r.ms))}-${slowest} ms ` +
			`(body_timeout ${BODY_TIMEOUT_MS} ms)`);
		console.log(`# the other client: handshake ${hs.ms} ms, first poll ${first.ms} ms, POST ${post.ms} ms, ` +
			`echo ${echo.ms} ms; all ${total} ms (bound ${BOUND_MS} ms)`);
		assert.ok(total < BOUND_MS, `handshake + echo took ${total} ms`);
		assert.equal(late.length, PER_ADDRESS, 'the admitted slow bodies end at body_timeout');
		assert.equal(answers.length - late.length, N - PER_ADDRESS);
		assert.ok(slowest >= BODY_TIMEOUT_MS - 1000,
			`a slow body answered after ${slowest} ms`);
		assert.ok(slowest < BODY_TIMEOUT_MS + 10000, `a slow body held its thread ${slowest} ms`);
	} finally {
		clearInterval(trickle);
		for (const r of slow) r.destroy();
	}
});

test('a body over max_payload is answered 413 while it still comes, not read to its end', async () => {
	const {sid} = await handshake('10.0.0.3');
	const r = fcgi('POST', pollUri(sid), '10.0.0.3', {length: 1 << 30, ms: 20000});
	const chunk = Buffer.alloc(60000, 'x');
	let sent = 0;
	const feed = setInterval(() => { for (let i = 0; i < 10; i++) r.send(chunk); sent += 10 * chunk.length; }, 50);
	try {
		const a = await r.done;
		console.log(`# a body of 1 GiB announced: answered ${a.status} after ${a.ms} ms, ${sent} bytes sent`);
		assert.equal(a.status, 413);
	} finally {
		clearInterval(feed);
		r.destroy();
	}
});

test('a poll\'s waiting place is free before its answer arrives: the next poll at once is not refused', async () => {
	const addr = '10.0.0.4';
	const sids = await sessions(addr, POLLS_PER_ADDRESS);
	const polls = sids.map((sid) => park(addr, sid));
	let refused = 0;
	const times = [];
	try {
		await until('the polls to wait', () => attached(sids) === POLLS_PER_ADDRESS, 10000);
		for (let i = 0; i < 10; i++) {
			const k = i % POLLS_PER_ADDRESS;
			const post = await request('POST', pollUri(sids[k]), addr, frame(`3:::m${i}`));
			assert.equal(post.status, 200);
			const a = await polls[k].done;
			assert.deepEqual([a.status, unframe(a.body)], [200, [`3:::m${i}`]]);
			// the client polls again as soon as it has the answer
			const t = Date.now();
			polls[k] = park(addr, sids[k]);
			const early = await answeredOrWaiting(polls[k], () => attached(sids) === POLLS_PER_ADDRESS);
			times.push(Date.now() - t);
			if (early?.status === 503) {
				refused++;
				break;
			}
			if (early) polls[k] = park(addr, sids[k]);
			await until('the poll to wait again', () => attached(sids) === POLLS_PER_ADDRESS, 10000);
		}
	} finally {
		for (const p of polls) p.destroy();
	}
	console.log(`# ${times.length} polls answered at max_polls_per_address (${POLLS_PER_ADDRESS}) and polled again at once: ` +
		`${refused} refused with 503`);
	assert.equal(refused, 0);
});

test('IPv6 clients are counted by their /64, an IPv4-mapped address as the IPv4 one', async () => {
	const sids = await sessions('2001:db8:1:2::1', POLLS_PER_ADDRESS + 2);
	const polls = [];
	try {
		// each poll from another address of the same /64
		for (let i = 0; i < POLLS_PER_ADDRESS; i++) polls.push(park(`2001:db8:1:2::${i + 1}`, sids[i]));
		await until('the polls to wait', () => attached(sids) === POLLS_PER_ADDRESS, 10000);
		const next = await request('GET', pollUri(sids[POLLS_PER_ADDRESS]), '2001:db8:1:2:ffff::9', null, BOUND_MS);
		console.log(`# ${POLLS_PER_ADDRESS} polls waiting from 2001:db8:1:2::/64: a poll from another address ` +
			`of it answered ${next.status}`);
		assert.equal(next.status, 503);
		// another /64 is another client
		const other = park('2001:db8:1:3::1', sids[POLLS_PER_ADDRESS + 1]);
		polls.push(other);
		const early = await answeredOrWaiting(other, () => attached([sids[POLLS_PER_ADDRESS + 1]]) === 1);
		assert.equal(early, null, `a poll from another /64: ${early?.status}`);
	} finally {
		for (const p of polls) p.destroy();
	}
	const v4 = await sessions('10.0.0.5', POLLS_PER_ADDRESS + 1);
	const polls4 = [];
	try {
		for (let i = 0; i < POLLS_PER_ADDRESS; i++)
			polls4.push(park(i % 2 ? '::ffff:10.0.0.5' : '10.0.0.5', v4[i]));
		await until('the polls to wait', () => attached(v4) === POLLS_PER_ADDRESS, 10000);
		const next = await request('GET', pollUri(v4[POLLS_PER_ADDRESS]), '::ffff:10.0.0.5', null, BOUND_MS);
		assert.equal(next.status, 503, 'IPv4-mapped and IPv4 count together');
	} finally {
		for (const p of polls4) p.destroy();
	}
});
