// slowbody-apache.test.mjs: slow request bodies behind Apache
// (deploy/apache.conf.in, mod_proxy_fcgi), which passes a body on to the
// gateway as the client sends it. One address opens 100 POSTs of 60000
// announced bytes and sends each a byte every half second: another
// client's handshake, first poll, POST and echo are served at once, and
// every slow POST is ended (408, by mod_reqtimeout or the gateway's
// body_timeout; 503 past max_requests_per_address) within a bound.
// Everything at the defaults (threads 64). Prints what it measured.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {BUILD, ROOT, freePort, unframe} from '../lib/servers.mjs';

const N = 100;
// a few ms idle; Apache adds up to a second or two when the slow POSTs
// fill its children's threads and it starts another (one a second)
const BOUND_MS = 6000;
const END_MS = 40000;     // every slow POST ended by then (timeouts of 10 s)

let dir, port;
const socks = [];
before(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-slowbody.'));
	fs.writeFileSync(`${dir}/siogate.conf`, `database = ${dir}/siogate.db\nrun_dir = ${dir}/run\n` +
		'app = testapp\nclose_timeout = 120\n');
	port = await freePort();
	execFileSync(path.join(ROOT, 'scripts/webserver.sh'), ['start', 'apache', String(port), dir], {
		env: {...process.env, GATEWAY: path.join(BUILD, 'sio-gateway'), NO_WSD: '1'},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
});
after(() => {
	for (const c of socks) c.destroy();
	try { execFileSync(path.join(ROOT, 'scripts/webserver.sh'), ['stop', dir], {stdio: 'ignore'}); } catch { /* stopped */ }
	if (!process.env.KEEP) fs.rmSync(dir, {recursive: true, force: true});
});

function request(method, p, localAddress, body = null, ms = 60000) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		const req = http.request(`http://127.0.0.1:${port}/socket.io/1${p}`, {method, localAddress, agent: false,
			headers: body === null ? {} : {'Content-Type': 'text/plain; charset=UTF-8',
				'Content-Length': Buffer.byteLength(body)}}, (res) => {
			let b = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { b += d; });
			res.on('end', () => resolve({status: res.statusCode, body: b, ms: Date.now() - t0}));
		});
		req.setTimeout(ms, () => req.destroy(new Error(`${method} ${p} from ${localAddress}: no answer in ${ms} ms`)));
		req.on('error', reject);
		if (body !== null) req.write(body);
		req.end();
	});
}

// A POST whose body comes a byte at a time: {sock, done} where done
// resolves {status, ms} when the server answers or closes.
function slowPost(sid) {
	const t0 = Date.now();
	const c = net.connect({port, host: '127.0.0.1', localAddress: '127.0.0.2'});
	socks.push(c);
	let got = '';
	const done = new Promise((resolve) => {
		c.on('data', (d) => { got += d; });
		c.on('close', () => resolve({status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0), ms: Date.now() - t0}));
		c.on('error', () => {});
	});
	const connected = new Promise((resolve) => c.once('connect', resolve));
	c.write(`POST /socket.io/1/xhr-polling/${sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n` +
		'Content-Length: 60000\r\n\r\n3:::');
	return {sock: c, done, connected};
}

test('behind Apache: 100 slow POSTs from one address; another client is served at once, every slow POST is ended', async () => {
	const hs0 = await request('GET', `/?t=${Date.now()}`, '127.0.0.2');
	const sid = hs0.body.split(':')[0];
	const slow = Array.from({length: N}, () => slowPost(sid));
	const trickle = setInterval(() => { for (const p of slow) if (!p.sock.destroyed) p.sock.write('x'); }, 500);
	try {
		await Promise.all(slow.map((p) => p.connected));
		const t1 = Date.now();
		// Apache's balancer may take its member out for its retry (1 s)
		// after the gateway refused a slow POST: a 503 of Apache's own,
		// which the client's next attempt gets past (counted, printed)
		let hs, apache503 = 0;
		for (;;) {
			hs = await request('GET', `/?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS + 2000);
			if (hs.status !== 503 || Date.now() - t1 > BOUND_MS) break;
			apache503++;
			await new Promise((r) => setTimeout(r, 100));
		}
		assert.equal(hs.status, 200, `the other client's handshake: ${hs.body.slice(0, 200)}`);
		const other = hs.body.split(':')[0];
		const first = await request('GET', `/xhr-polling/${other}?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS + 2000);
		assert.deepEqual([first.status, unframe(first.body)], [200, ['1::']]);
		const poll = request('GET', `/xhr-polling/${other}?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS + 2000);
		const post = await request('POST', `/xhr-polling/${other}?t=${Date.now()}`, '127.0.0.3', '3:::slow?', BOUND_MS + 2000);
		assert.equal(post.status, 200);
		const echo = await poll;
		assert.deepEqual([echo.status, unframe(echo.body)], [200, ['3:::slow?']]);
		const total = Date.now() - t1;

		const ends = await Promise.race([Promise.all(slow.map((p) => p.done)),
			new Promise((res) => setTimeout(() => res(null), END_MS))]);
		const by = {};
		for (const e of ends ?? []) by[e.status] = (by[e.status] ?? 0) + 1;
		console.log(`# ${N} slow POSTs from one address behind Apache: ended ${JSON.stringify(by)}, ` +
			`the last after ${ends ? Math.max(...ends.map((e) => e.ms)) : '>' + END_MS} ms`);
		console.log(`# the other client: handshake ${hs.ms} ms (after ${apache503} answers 503 from Apache), first poll ${first.ms} ms, POST ${post.ms} ms, ` +
			`echo ${echo.ms} ms; all ${total} ms (bound ${BOUND_MS} ms)`);
		assert.ok(total < BOUND_MS, `handshake + echo took ${total} ms`);
		assert.ok(ends !== null, `slow POSTs still open after ${END_MS} ms`);
		assert.ok(ends.every((e) => [408, 503].includes(e.status)), `answers: ${JSON.stringify(by)}`);
		// and the gateway serves on
		const after = await request('GET', `/?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS);
		assert.equal(after.status, 200, `a handshake after them: ${after.status} ${after.body}`);
	} finally {
		clearInterval(trickle);
	}
});
