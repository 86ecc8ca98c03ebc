// admission.test.mjs: a handshake flood from one address behind lighttpd
// and the threaded gateway. Each handshake carries about 7 KB of headers
// (a long User-Agent, the Cookie header of another application: lighttpd
// takes 8 KB of header at most); the
// address gets max_sessions_per_address sessions and 503 after that, the
// refusal is logged a few times a minute at most, the stored requests keep
// neither the other application's cookie nor the long header, and the
// database stays within a stated size. Another address still connects.
// Prints the figures it measured.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {startServers} from '../lib/servers.mjs';

const CAP = 50;          // max_sessions_per_address
const FLOOD = 400;       // handshakes from the flooding address
const DB_BOUND = 4 << 20; // bytes: database + WAL after the flood
let s;

before(async () => { s = await startServers({max_sessions_per_address: CAP, request_cookies: 'lang'}); });
after(async () => { await s?.stop(); });

const bigAgent = 'Mozilla/5.0 ' + 'x'.repeat(3000);
const bigCookie = `lang=fr; other_app_session=${'s'.repeat(4000)}`;

function handshake(localAddress, agent) {
	return new Promise((resolve, reject) => {
		const req = http.get(`${s.base}/?t=${Date.now()}`, {
			localAddress, agent,
			headers: {'User-Agent': bigAgent, Cookie: bigCookie},
		}, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({status: res.statusCode, body}));
		});
		req.setTimeout(30000, () => req.destroy(new Error('handshake: no answer')));
		req.on('error', reject);
	});
}

function fileSize(f) {
	try { return fs.statSync(f).size; } catch { return 0; }
}

test('a handshake flood from one address is capped; the database stays small; another address connects', async () => {
	const agent = new http.Agent({keepAlive: true, maxSockets: 16, localAddress: '127.0.0.2'});
	const t0 = Date.now();
	const results = await Promise.all(Array.from({length: FLOOD}, () => handshake('127.0.0.2', agent)));
	const ms = Date.now() - t0;
	agent.destroy();
	const ok = results.filter((r) => r.status === 200).length;
	const refused = results.filter((r) => r.status === 503).length;
	const dbBytes = fileSize(s.db) + fileSize(`${s.db}-wal`);
	const stored = Number(s.sql("SELECT max(length(request)) FROM sessions"));
	const logs = fs.readdirSync(s.var).filter((f) => f.endsWith('.log') || f === 'webserver.out')
		.map((f) => fs.readFileSync(path.join(s.var, f), 'utf8')).join('');
	const lines = logs.split('\n').filter((l) => /handshake from 127\.0\.0\.2 refused/.test(l)).length;
	console.log(`flood: ${FLOOD} handshakes from 127.0.0.2 in ${ms} ms: ${ok} sessions, ${refused} refused (503); ` +
		`${lines} refusal log lines; database + WAL ${dbBytes} bytes (bound ${DB_BOUND}); largest stored request ${stored} bytes`);
	assert.deepEqual([...new Set(results.map((r) => r.status))].sort(), [200, 503]);
	assert.equal(ok, CAP);
	assert.equal(refused, FLOOD - CAP);
	// past the session cap, or (16 at once from one address)
	// past max_requests_per_address
	assert.match(results.find((r) => r.status === 503 && !/too many requests/.test(r.body)).body,
		/too many sessions/);
	assert.ok(lines >= 1 && lines <= 10, `${lines} refusal lines: rate-limited`);
	assert.ok(dbBytes < DB_BOUND, `database + WAL ${dbBytes} bytes`);
	assert.ok(stored < 2048, `a stored request of ${stored} bytes`);
	assert.equal(Number(s.sql("SELECT count(*) FROM sessions WHERE request LIKE '%other_app_session%'")), 0);
	assert.equal(Number(s.sql("SELECT count(*) FROM sessions WHERE request LIKE '%lang=fr%'")), CAP);
	// another address is not affected
	const other = await handshake('127.0.0.1', false);
	assert.equal(other.status, 200);
	const sid = other.body.split(':')[0];
	assert.deepEqual(await s.poll(sid), ['1::']);
});
