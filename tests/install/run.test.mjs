/*
 * make run stopped by a signal to it alone, as a supervisor or timeout(1)
 * stops it, leaves nothing running: `make run` on a free port with its
 * own VARDIR, the page answered, then TERM, or HUP, to make's pid (not
 * its group); and scripts/run.sh itself with HUP, TERM and INT. Every process it
 * started (lighttpd, the sio-gateway processes lighttpd spawned, sio-wsd:
 * the pid files, lighttpd's children, and any process whose command line
 * or environment names the VARDIR) must be gone once make or the script
 * has exited.
 *
 *   node --test tests/install/        (make install-test)
 */
import {test, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

import {freePort, httpGet} from '../lib/client.mjs';
import {until} from '../lib/until.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/* make run builds (already built here) and may run npm ci: room for both. */
const TIMEOUT = Number(process.env.INSTALL_TIMEOUT || 10000) * 6;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-run-'));
let failed = false;
const started = [];

after(() => {
	/* Whatever a failed test left, by the pids this suite saw. */
	for (const pid of started) {
		try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
	}
	if (!failed && process.env.KEEP !== '1') fs.rmSync(TMP, {recursive: true, force: true});
	else console.log(`# files kept in ${TMP}`);
});

/* A live (not zombie) process's fields from /proc, or null. */
function proc(pid) {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		if (f[0] === 'Z' || f[0] === 'X') return null;
		return {ppid: Number(f[1])};
	} catch {
		return null;
	}
}

function readNul(file) {
	try { return fs.readFileSync(file, 'utf8').split('\0'); } catch { return []; }
}

/* Live processes whose command line or environment names dir. */
function naming(dir) {
	const out = [];
	for (const e of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(e) || Number(e) === process.pid || !proc(e)) continue;
		const words = [...readNul(`/proc/${e}/cmdline`), ...readNul(`/proc/${e}/environ`)];
		if (words.some((w) => w.includes(dir))) out.push(Number(e));
	}
	return out;
}

function childrenOf(pid) {
	return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e) && proc(e)?.ppid === pid).map(Number);
}

function pidFile(dir, name) {
	try { return Number(fs.readFileSync(path.join(dir, name), 'utf8').trim()) || null; } catch { return null; }
}

/* Starts cmd in a group of its own; waits for the demo page on its port;
 * returns the process and every pid of what it started. */
async function start(name, cmd, args, env) {
	const vardir = path.join(TMP, name);
	const port = await freePort();
	/* Not the jobserver of a make this suite may run under. */
	const {MAKEFLAGS, MFLAGS, MAKELEVEL, ...outer} = process.env;
	const p = spawn(cmd, args, {
		cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
		env: {...outer, ...env, PORT: String(port), VARDIR: vardir},
	});
	started.push(p.pid);
	let out = '';
	p.stdout.on('data', (d) => { out += d; });
	p.stderr.on('data', (d) => { out += d; });
	p.done = new Promise((resolve) => p.on('close', (code, sig) => resolve({code, sig})));
	p.output = () => out;
	const page = await until(`the page on port ${port}`, async () => {
		if (p.exitCode !== null || p.signalCode !== null)
			throw new Error(`${cmd} ended before serving:\n${out}`);
		const r = await httpGet(`http://127.0.0.1:${port}/`).catch(() => null);
		return r?.status === 200 && r;
	}, TIMEOUT);
	assert.match(page.body, /socket\.io\.js/);
	/* The socket.io resource answers too (lighttpd -> sio-gateway). */
	const hs = await httpGet(`http://127.0.0.1:${port}/socket.io/1/?t=1`);
	assert.equal(hs.status, 200, `handshake: ${hs.body}`);
	const web = pidFile(vardir, 'webserver.pid');
	const wsd = pidFile(vardir, 'wsd.pid');
	assert.ok(web && proc(web), 'lighttpd runs (webserver.pid)');
	assert.ok(wsd && proc(wsd), 'sio-wsd runs (wsd.pid)');
	const pids = new Set([web, wsd, ...childrenOf(web), ...naming(vardir)]);
	pids.delete(p.pid);
	for (const x of pids) started.push(x);
	return {p, vardir, pids: [...pids]};
}

async function stopAndCheck(r, target, sig, what) {
	process.kill(target, sig);
	const end = await until(`${what} to exit`, () => Promise.race([r.p.done,
	    new Promise((res) => setTimeout(() => res(null), 100))]), TIMEOUT);
	const left = [...r.pids.filter((x) => proc(x)), ...naming(r.vardir)];
	console.log(`# ${what}: ${sig} to pid ${target} only; it exited with ` +
	    `${end.code ?? end.sig}; it had started ${r.pids.length} processes ` +
	    `(${r.pids.join(' ')}); left running: ${left.length ? [...new Set(left)].join(' ') : 'none'}`);
	assert.deepEqual([...new Set(left)], [], `processes left after ${sig}:\n${r.p.output()}`);
}

async function check(fn) {
	try { await fn(); } catch (e) { failed = true; throw e; }
}

/* make passes TERM on to the script; HUP it does not (the script sees it
 * in make's blocked signals). */
for (const sig of ['SIGTERM', 'SIGHUP']) {
	test(`make run stopped with ${sig} to make alone stops what it started`, () => check(async () => {
		const r = await start(`make-${sig}`, 'make', ['--no-print-directory', 'run']);
		await stopAndCheck(r, r.p.pid, sig, 'make run');
	}));
}

for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT']) {
	test(`scripts/run.sh stopped with ${sig} to it alone stops what it started`, () => check(async () => {
		const r = await start(`run-${sig}`, path.join(ROOT, 'scripts/run.sh'), [], {APP: 'testapp'});
		await stopAndCheck(r, r.p.pid, sig, 'scripts/run.sh');
	}));
}
