/*
 * Operational stats: GET /socket.io/stats (JSON) and /socket.io/metrics
 * (Prometheus text) against lighttpd + sio-gateway + sio-wsd (through
 * tests/lib/servers.mjs, config `stats = yes`), with socket.io-client
 * 0.9.16 on websocket. Three sessions opened, one ended: two active, peak
 * three, in the JSON, the metrics and the SQL view stats_view; the packet
 * totals grow after messages. The 404 (stats off) and 403 (an address not
 * in stats_allow) run sio-gateway as CGI, as tests/wire/gateway.sh does.
 *
 *   node --test tests/stats/          (make stats)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {startServers, BUILD, until} from '../lib/servers.mjs';

import {io, shutdown, openSession, httpGet} from '../lib/client.mjs';
const GATEWAY = path.join(BUILD, 'sio-gateway');
const CONNECT_TIMEOUT = 10000;

let s;
const socks = [];

function get(urlPath) {
	return httpGet({host: '127.0.0.1', port: s.port, path: urlPath, agent: false});
}

async function stats() {
	const r = await get('/socket.io/stats');
	assert.equal(r.status, 200, r.body);
	assert.match(r.type, /application\/json/);
	return JSON.parse(r.body);
}

/* Prometheus text -> {name or name{labels}: value}; checks HELP/TYPE. */
function parseMetrics(text) {
	const out = {}, typed = new Set(), helped = new Set();
	for (const line of text.split('\n')) {
		if (line === '') continue;
		let m = line.match(/^# (HELP|TYPE) (\w+) (.+)$/);
		if (m) {
			(m[1] === 'HELP' ? helped : typed).add(m[2]);
			if (m[1] === 'TYPE') assert.match(m[3], /^(gauge|counter)$/);
			continue;
		}
		m = line.match(/^(\w+)(\{[^}]*\})? (\S+)$/);
		assert.ok(m, `bad metrics line: ${line}`);
		assert.ok(typed.has(m[1]) && helped.has(m[1]), `${m[1]} has no HELP/TYPE`);
		out[m[1] + (m[2] || '')] = Number(m[3]);
	}
	return out;
}

/* A session on websocket; its root namespace. */
async function open() {
	const {sock, nsp} = await openSession(io, `http://127.0.0.1:${s.port}`,
	    'websocket', {ms: CONNECT_TIMEOUT});
	socks.push(sock);
	return nsp[''];
}

/* sio-gateway as one CGI request. */
function cgi(conf, env) {
	const r = spawnSync(GATEWAY, [], {
		env: {SIOGATE_CONF: conf, REQUEST_METHOD: 'GET', REMOTE_ADDR: '127.0.0.1', ...env},
		input: '', encoding: 'utf8',
	});
	return r.stdout.replace(/\r/g, '');
}

describe('stats and metrics against lighttpd + sio-gateway + sio-wsd', () => {
	before(async () => {
		s = await startServers({stats: 'yes', log_level: 'info'});
		// the rates need a sample from before the scenario: the sweep
		// writes one a second
		await until('a stats sample', () => execFileSync('sqlite3', [s.db,
			'SELECT count(*) FROM stats_samples'], {encoding: 'utf8'}).trim() !== '0', 5000, 100);
	});
	after(async () => {
		for (const sock of socks) shutdown(sock);
		if (s) await s.stop();
	});

	test('a fresh server: nothing active', async () => {
		const j = await stats();
		assert.equal(j.active_sessions, 0);
		assert.equal(j.peak_sessions, 0);
		assert.equal(j.active_connections, 0);
		assert.equal(j.queued_packets, 0);
	});

	let roots;
	test('three sessions opened, one ended: two active, peak three', async () => {
		roots = [await open(), await open(), await open()];
		await until('three connections', async () => (await stats()).active_connections === 3, 5000, 50);
		roots[2].socket.disconnect();
		let j;
		await until('one session ended and detached', async () => {
			j = await stats();
			return j.active_sessions === 2 && j.active_connections === 2;
		}, 5000, 50);
		assert.equal(j.active_sessions, 2);
		assert.equal(j.peak_sessions, 3);
		assert.equal(j.active_connections, 2);
		assert.equal(j.peak_connections, 3);
		assert.equal(j.sessions_opened, 3);
		assert.equal(j.sessions_by_transport.websocket, 2);
		assert.equal(j.sessions_by_transport['xhr-polling'], 0);
		assert.ok(j.connections_opened >= 3, JSON.stringify(j));
		for (const k of ['connections_ps', 'packets_sent_ps', 'packets_received_ps']) {
			assert.equal(typeof j[k], 'number');
			assert.ok(j[k] >= 0);
		}
	});

	test('metrics have the same numbers', async () => {
		const r = await get('/socket.io/metrics');
		assert.equal(r.status, 200, r.body);
		assert.match(r.type, /^text\/plain; version=0\.0\.4/);
		const m = parseMetrics(r.body);
		assert.equal(m.siogate_active_sessions, 2);
		assert.equal(m.siogate_peak_sessions, 3);
		assert.equal(m.siogate_active_connections, 2);
		assert.equal(m.siogate_peak_connections, 3);
		assert.equal(m.siogate_sessions_opened_total, 3);
		assert.equal(m['siogate_sessions{transport="websocket"}'], 2);
		for (const k of ['connections_per_second', 'packets_sent_per_second',
			'packets_received_per_second', 'packets_sent_total',
			'packets_received_total', 'queued_packets', 'connections_opened_total']) {
			assert.ok(Number.isFinite(m[`siogate_${k}`]), `siogate_${k}`);
		}
	});

	test('stats_view in the database says the same', () => {
		const out = execFileSync('sqlite3', [s.db,
			'SELECT active_sessions, peak_sessions, active_connections, peak_connections FROM stats_view'],
		{encoding: 'utf8'}).trim();
		assert.equal(out, '2|3|2|3');
	});

	test('packet counters and rates grow after messages', async () => {
		// a sample from before the messages, fresh (the rates read the
		// oldest of the last 10 s): one taken since this test began
		const t0 = Date.now();
		await until('a stats sample taken now', () => Number(execFileSync('sqlite3', [s.db,
			'SELECT coalesce(max(t), 0) FROM stats_samples'], {encoding: 'utf8'}).trim()) >= t0,
		10000, 100);
		const before = await stats();
		const N = 5;
		const echoed = new Promise((resolve) => {
			let n = 0;
			roots[0].on('message', () => { if (++n === N) resolve(); });
		});
		for (let i = 0; i < N; i++) roots[0].send(`hello ${i}`);
		await echoed;
		let j;
		await until('packet totals to grow', async () => {
			j = await stats();
			return j.packets_received >= before.packets_received + N &&
				j.packets_sent >= before.packets_sent + N;
		}, 5000, 50);
		// a sample taken before the messages (the sweep writes one a
		// second) turns them into a rate within about two seconds
		try {
			await until('rates above 0', async () => {
				j = await stats();
				return j.packets_received_ps > 0 && j.packets_sent_ps > 0 && j.connections_ps > 0;
			}, 10000, 200);
		} catch (e) {
			const samples = execFileSync('sqlite3', [s.db, 'SELECT * FROM stats_samples'], {encoding: 'utf8'});
			throw new Error(`${e.message}: ${JSON.stringify(j)}\n${samples}`);
		}
		const m = parseMetrics((await get('/socket.io/metrics')).body);
		assert.ok(m.siogate_packets_received_total >= j.packets_received);
		assert.ok(m.siogate_packets_sent_total >= j.packets_sent);
	});

	test('other paths under the resource are not stats', async () => {
		// socket.io reads them as a protocol version it does not know
		assert.equal((await get('/socket.io/stats/x')).status, 500);
		assert.equal((await get('/socket.io/statsx')).status, 500);
	});

	test('CGI from an allowed address: 200', () => {
		const out = cgi(s.confFile, {REQUEST_URI: '/socket.io/stats'});
		assert.match(out, /^Status: 200 OK\n/);
		const j = JSON.parse(out.slice(out.indexOf('\n\n') + 2));
		assert.equal(j.active_sessions, 2);
		assert.equal(j.peak_sessions, 3);
	});

	test('CGI from a disallowed address: 403', () => {
		for (const uri of ['/socket.io/stats', '/socket.io/metrics']) {
			const out = cgi(s.confFile, {REQUEST_URI: uri, REMOTE_ADDR: '10.1.1.1'});
			assert.match(out, /^Status: 403 Forbidden\n/);
			assert.doesNotMatch(out, /active_sessions/);
		}
	});

	test('stats off (the default): 404', () => {
		const off = path.join(s.var, 'stats-off.conf');
		const text = fs.readFileSync(s.confFile, 'utf8').replace(/^stats = .*$/m, '');
		fs.writeFileSync(off, text);
		for (const uri of ['/socket.io/stats', '/socket.io/metrics']) {
			const out = cgi(off, {REQUEST_URI: uri});
			assert.match(out, /^Status: 404 Not Found\n/);
		}
		fs.writeFileSync(off, text + 'stats = no\n');
		assert.match(cgi(off, {REQUEST_URI: '/socket.io/stats'}), /^Status: 404 Not Found\n/);
	});
});
