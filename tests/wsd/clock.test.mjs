// clock.test.mjs: a wall clock stepped while an xhr-polling GET waits.
// sio-gateway runs as a CGI program (no web server needed), its wall clock
// stepped through tests/clockstep.c (LD_PRELOAD; the machine's clock is
// left alone): an hour back in the middle of the poll must not keep it
// waiting for that hour; it still ends with 8:: after polling_duration.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {BUILD, until, writeConf} from '../lib/servers.mjs';

const POLLING_DURATION = 2; // s
let dir, conf, db, stepFile;

before(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-clock-'));
	db = path.join(dir, 'siogate.db');
	stepFile = path.join(dir, 'step');
	conf = writeConf(path.join(dir, 'siogate.conf'), {database: db,
		run_dir: path.join(dir, 'run'), transports: 'xhr-polling',
		polling_duration: POLLING_DURATION});
	fs.writeFileSync(stepFile, '0\n');
});
after(() => { if (dir && !process.env.KEEP_TMP) fs.rmSync(dir, {recursive: true, force: true}); });

// One CGI request; resolves with the status line's code, the body and the
// milliseconds it took.
function cgi(method, uri) {
	return new Promise((resolve, reject) => {
		const t0 = performance.now();
		const p = spawn(path.join(BUILD, 'sio-gateway'), [], {
			env: {
				PATH: process.env.PATH,
				GATEWAY_INTERFACE: 'CGI/1.1',
				REQUEST_METHOD: method,
				REQUEST_URI: uri,
				QUERY_STRING: uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : '',
				REMOTE_ADDR: '127.0.0.1',
				CONTENT_LENGTH: '0',
				SIOGATE_CONF: conf,
				LD_PRELOAD: path.join(BUILD, 'tests/clockstep.so'),
				SIO_TEST_CLOCK_STEP: stepFile,
			},
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '', err = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { err += d; });
		p.on('error', reject);
		p.on('close', (code) => {
			const [head, ...rest] = out.split('\r\n\r\n');
			const status = /^Status: (\d+)/m.exec(head);
			resolve({exit: code, status: status ? Number(status[1]) : 200,
			         body: rest.join('\r\n\r\n'), err, ms: performance.now() - t0});
		});
		cgi.last = p;
	});
}

function sql(q) {
	return execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, q], {encoding: 'utf8'}).trim();
}

test('a wall clock stepped an hour back does not stretch a waiting long poll', async () => {
	const hs = await cgi('GET', '/socket.io/1/?t=1');
	assert.equal(hs.status, 200, hs.err);
	const sid = hs.body.split(':')[0];
	assert.match(sid, /^[A-Za-z0-9_-]{22}$/);
	const hello = await cgi('GET', `/socket.io/1/xhr-polling/${sid}?t=2`);
	assert.equal(hello.body, '1::');

	const poll = cgi('GET', `/socket.io/1/xhr-polling/${sid}?t=3`);
	const proc = cgi.last;
	await until('the poll to attach', () => sql(`SELECT holder IS NOT NULL FROM sessions WHERE sid = '${sid}'`) === '1');
	const stepped = performance.now();
	fs.writeFileSync(stepFile, '-3600\n');
	const bound = POLLING_DURATION * 1000 + 15000; // generous: a loaded machine
	const timer = setTimeout(() => proc.kill('SIGTERM'), bound);
	const res = await poll;
	clearTimeout(timer);
	const afterStep = performance.now() - stepped;
	console.log(`    poll answered ${Math.round(res.ms)} ms after it started, ${Math.round(afterStep)} ms after the step ` +
	            `(polling_duration ${POLLING_DURATION} s)`);
	assert.equal(res.exit, 0, `the poll ended by itself within ${bound} ms (${res.err})`);
	assert.equal(res.body, '8::');
	assert.ok(res.ms >= POLLING_DURATION * 1000 - 50, `not cut short: ${Math.round(res.ms)} ms`);
	assert.equal(sql(`SELECT state FROM sessions WHERE sid = '${sid}'`), 'detached');
});

// A sweep from a process in its own time namespace (a container started
// with `unshare --time --boottime`): its boot clock is offset, not
// stepped, so the stored times stay where they are and nothing expires.
const TIMENS = (() => {
	try {
		execFileSync('unshare', ['--time', '--boottime', '1000', '--fork', 'true'], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
})();

test('a sweep from another time namespace moves no stored time', {skip: !TIMENS && 'unshare --time is not permitted here'}, async () => {
	fs.writeFileSync(stepFile, '0\n');
	const hs = await cgi('GET', '/socket.io/1/?t=4');
	assert.equal(hs.status, 200, hs.err);
	const sid = hs.body.split(':')[0];
	// older than the band of rows a step leaves alone (they may be on the
	// new clock already)
	sql(`UPDATE sessions SET created = created - 10000, last_recv = last_recv - 10000 WHERE sid = '${sid}'`);
	const ctl = path.join(BUILD, 'sioctl');
	execFileSync(ctl, ['-c', conf, 'cleanup'], {stdio: 'ignore'}); // the clock, as this namespace reads it
	const before = sql(`SELECT created, last_recv, state FROM sessions WHERE sid = '${sid}'`);
	execFileSync('unshare', ['--time', '--boottime', '1000', '--fork', ctl, '-c', conf, 'cleanup'], {stdio: 'ignore'});
	const after = sql(`SELECT created, last_recv, state FROM sessions WHERE sid = '${sid}'`);
	console.log(`    before: ${before}; after a sweep with the boot clock 1000 s ahead: ${after}`);
	assert.equal(after, before);
	assert.notEqual(after.split('|')[2], 'closed');
});
