// parked.test.mjs: waiting requests (long polls, htmlfile streams) cannot
// starve the threaded gateway. One address opens many times `threads`
// polls; another client's handshake, POST and echo are still served at
// once. Then many addresses fill every unreserved thread: handshakes and
// POSTs are still served, a new client's first poll gets its 1:: and its
// data, and a poll that finds no place to wait is answered with a noop
// (8::, as at the end of polling_duration), never refused: a 0.9 client
// gives up its session on a 503.
// Loopback has every 127.x address, so the clients differ by localAddress.
// The limits are the defaults: reserved_threads a quarter of `threads`,
// max_polls_per_address 8. Prints what it measured.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import {startServers, until, unframe, frame} from '../lib/servers.mjs';

const THREADS = 16;
const PER_ADDRESS = 8; // max_polls_per_address's default
const PARKABLE = THREADS - THREADS / 4; // reserved_threads' default
const BOUND_MS = 3000; // "well under a second" idle; generous for a loaded machine

let s;
const open = []; // requests left parked, destroyed at the end
before(async () => {
	s = await startServers({threads: THREADS, polling_duration: 60, close_timeout: 120});
});
after(async () => {
	for (const r of open) r.destroy();
	await s?.stop();
});

// One request from localAddress on its own connection; resolves
// {status, body, ms} when it ends.
function request(method, path, localAddress, body = null, ms = 60000) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		const req = http.request(s.base + path, {method, localAddress, agent: false,
			headers: body === null ? {} : {'Content-Type': 'text/plain; charset=UTF-8',
				'Content-Length': Buffer.byteLength(body)}}, (res) => {
			let b = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { b += d; });
			res.on('end', () => resolve({status: res.statusCode, body: b, ms: Date.now() - t0}));
			res.on('error', reject);
		});
		req.setTimeout(ms, () => req.destroy(new Error(`${method} ${path} from ${localAddress}: no answer in ${ms} ms`)));
		req.on('error', reject);
		open.push(req);
		if (body !== null) req.write(body);
		req.end();
	});
}

async function handshake(addr, ms) {
	const r = await request('GET', `/?t=${Date.now()}`, addr, null, ms);
	assert.equal(r.status, 200, `handshake from ${addr}: ${r.status} ${r.body}`);
	return {sid: r.body.split(':')[0], ms: r.ms};
}

// n sessions of addr that have had their first poll (which answers 1::
// at once): the next poll of each waits.
async function sessions(addr, n) {
	const sids = [];
	for (let i = 0; i < n; i++) {
		const {sid} = await handshake(addr, 10000);
		const r = await request('GET', `/xhr-polling/${sid}?t=${Date.now()}`, addr, null, 10000);
		assert.deepEqual([r.status, unframe(r.body)], [200, ['1::']]);
		sids.push(sid);
	}
	return sids;
}

// Opens a waiting request from addr on each of sids (with streams, every
// fourth an htmlfile stream); returns their promises ({status}), which
// settle when refused or answered at once, or when the test ends them.
function park(addr, sids, streams = true) {
	return sids.map((sid, i) => request('GET',
		`/${streams && i % 4 === 3 ? 'htmlfile' : 'xhr-polling'}/${sid}?t=${Date.now()}`, addr)
		.catch(() => ({status: 'aborted'})));
}

// CPU time (ms) of the web server and of its children (the gateway), from
// /proc: what a stretch of requests cost.
function cpuMs() {
	const web = Number(fs.readFileSync(`${s.var}/webserver.pid`, 'utf8'));
	const ticks = (st) => { const f = st.slice(st.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); };
	let web_ = 0, gw = 0;
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		let st;
		try { st = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
		const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
		if (Number(d) === web) web_ += ticks(st);
		else if (ppid === web) gw += ticks(st);
	}
	return {web: web_ * 10, gw: gw * 10}; // USER_HZ 100
}

const attached = () => Number(s.sql('SELECT count(*) FROM sessions WHERE holder IS NOT NULL'));

// Settled answers among ps so far, by status.
function tally(ps) {
	const seen = {n: 0, refused: 0, noop: 0};
	for (const p of ps) p.then((r) => {
		seen.n++;
		if (r.status === 503) seen.refused++;
		if (r.status === 200 && unframe(r.body).join() === '8::') seen.noop++;
	});
	return seen;
}

test('one address with 3 x threads polls waiting: another client\'s handshake and echo are served at once', async () => {
	const N = 3 * THREADS;
	const t0 = Date.now();
	const polls = park('127.0.0.1', await sessions('127.0.0.1', N));
	const seen = tally(polls);
	await until('the first polls to attach', () => attached() >= PER_ADDRESS, 30000);

	// the other client: handshake, first poll (1::), POST, the echo
	const t1 = Date.now();
	const hs = await handshake('127.0.0.2', BOUND_MS + 2000);
	const first = await request('GET', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.2', null, BOUND_MS + 2000);
	assert.equal(first.status, 200);
	assert.deepEqual(unframe(first.body), ['1::']);
	const poll = request('GET', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.2', null, BOUND_MS + 2000);
	const post = await request('POST', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.2',
		'3:::starved?', BOUND_MS + 2000);
	assert.equal(post.status, 200);
	const echo = await poll;
	assert.equal(echo.status, 200);
	assert.deepEqual(unframe(echo.body), ['3:::starved?']);
	const total = Date.now() - t1;

	await until(`${N - PER_ADDRESS} polls refused`, () => seen.refused >= N - PER_ADDRESS, 10000);
	const waiting = attached();
	console.log(`# ${N} polls from one address (threads ${THREADS}): ${seen.refused} refused with 503, ` +
		`${waiting} attached and waiting; set up in ${t1 - t0} ms`);
	console.log(`# the other client: handshake ${hs.ms} ms, first poll ${first.ms} ms, ` +
		`POST ${post.ms} ms, echo ${echo.ms} ms; all ${total} ms (bound ${BOUND_MS} ms)`);
	assert.equal(seen.refused, N - PER_ADDRESS, 'every poll past max_polls_per_address refused');
	assert.ok(total < BOUND_MS, `handshake + echo took ${total} ms`);
});

test('polls of many addresses fill every unreserved thread: a new client\'s polls are answered (1::, data, noop), never refused', async () => {
	const before1 = attached(); // the first test's PER_ADDRESS, still waiting
	const addrs = [];
	for (let i = 0; PER_ADDRESS * i + before1 < PARKABLE + PER_ADDRESS; i++) addrs.push(`127.0.0.${10 + i}`);
	const sids = [];
	for (const a of addrs) sids.push(await sessions(a, PER_ADDRESS));
	const polls = addrs.flatMap((a, i) => park(a, sids[i], false));
	const seen = tally(polls);
	const offered = polls.length + before1;
	await until('the unreserved threads to fill', () => attached() >= PARKABLE &&
		seen.noop + seen.refused >= offered - PARKABLE, 30000);

	const t1 = Date.now();
	const hs = await handshake('127.0.0.3', BOUND_MS + 2000);
	// its first poll has its 1:: to answer: never refused
	const first = await request('GET', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS + 2000);
	assert.deepEqual([first.status, unframe(first.body)], [200, ['1::']],
		`the first poll with every unreserved thread waiting: ${first.status} ${first.body}`);
	const post = await request('POST', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.3',
		frame('3:::a', '3:::b'), BOUND_MS + 2000);
	assert.equal(post.status, 200);
	const data = await request('GET', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS + 2000);
	assert.deepEqual([data.status, unframe(data.body)], [200, ['3:::a', '3:::b']]);
	const total = Date.now() - t1;

	// nothing to answer and no place to wait: a noop at once, and the
	// client (as socket.io-client 0.9 does) polls again at once
	const loop = {n: 0, ms: 0, statuses: new Set()};
	const cpu0 = cpuMs();
	const l0 = Date.now();
	while (Date.now() - l0 < 1000) {
		const r = await request('GET', `/xhr-polling/${hs.sid}?t=${Date.now()}`, '127.0.0.3', null, BOUND_MS + 2000);
		loop.n++;
		loop.statuses.add(`${r.status} ${unframe(r.body).join('|')}`);
	}
	loop.ms = Date.now() - l0;
	const cpu1 = cpuMs();
	console.log(`# ${offered} polls from ${addrs.length + 1} addresses: ${attached()} waiting ` +
		`(threads ${THREADS} less ${THREADS - PARKABLE} reserved), ${seen.noop} answered 8:: at once, ${seen.refused} refused`);
	console.log(`# a new client: handshake ${hs.ms} ms, first poll (1::) ${first.ms} ms, POST ${post.ms} ms, ` +
		`its data ${data.ms} ms; all ${total} ms (bound ${BOUND_MS} ms)`);
	console.log(`# with no place to wait, its polls answered ${[...loop.statuses].join(', ')}: ` +
		`${loop.n} in ${loop.ms} ms (${Math.round(loop.n * 1000 / loop.ms)} polls/s from one client); CPU: ` +
		`gateway ${cpu1.gw - cpu0.gw} ms, lighttpd ${cpu1.web - cpu0.web} ms`);
	assert.equal(attached(), PARKABLE, 'waiting polls are capped at threads less reserved_threads');
	assert.equal(seen.refused, 0, 'no poll refused under max_polls_per_address');
	assert.deepEqual([...loop.statuses], ['200 8::']);
	assert.ok(total < BOUND_MS, `handshake + first poll + POST + data took ${total} ms`);
});
