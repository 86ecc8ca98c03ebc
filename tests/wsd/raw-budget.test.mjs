// raw-budget.test.mjs: the Flash policy port cannot starve sio-wsd of
// descriptors. sio-wsd here listens on loopback with flashsocket listed
// (it is off by default) and max_websockets = 200, so that its open-file
// limit is small: 300 connections to the policy port that never read
// (each held by wsd for the policy answer and the 5 s drain after it)
// once took every descriptor, made websocket connects fail and wrote one
// `accept: errno 24` line per turn of the loop. Now the policy and flash
// sockets have their own budget (max_raw_connections, 256 by default,
// counted on top of max_websockets in the limit), the listeners wait
// while it is spent, and the policy port binds where --listen does.
// Scenario, with figures printed: a witness websocket echoes and new
// websocket sessions open during the flood; the log stays short; wsd's
// CPU over the flood is printed with a generous bound.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {BUILD, startServers, echoes, freePort, until, writeConf} from '../lib/servers.mjs';
import {fetchPolicy} from '../lib/hixie.mjs';

const FLOOD = 300;
const FLOOD_MS = 4000;
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}));

let s, witness, policyPort;
before(async () => {
	policyPort = await freePort();
	s = await startServers({
		transports: 'websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling',
		flash_policy_port: policyPort, max_websockets: 200, log_level: 'info',
	});
	witness = await s.wsSession({autoHeartbeat: true});
});
after(async () => { if (s) await s.stop(); });

// CPU seconds (user + system) of a process so far.
function cpuSeconds(pid) {
	const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(f[11]) + Number(f[12])) / TICK;
}

// The local addresses listening on port, from /proc/net/tcp and tcp6.
function listeners(port) {
	const out = [];
	for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
		let text = '';
		try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
		for (const line of text.split('\n').slice(1)) {
			const f = line.trim().split(/\s+/);
			if (f.length < 4 || f[3] !== '0A') continue; // LISTEN
			const [addr, hexPort] = f[1].split(':');
			if (parseInt(hexPort, 16) === port) out.push(addr);
		}
	}
	return out;
}

test('the policy port listens on loopback, where --listen does', () => {
	const addrs = listeners(policyPort);
	assert.ok(addrs.length > 0, `nothing listens on ${policyPort}`);
	// 127.0.0.1 in /proc/net/tcp's byte order
	assert.deepEqual([...new Set(addrs)], ['0100007F'], `policy port bound on ${addrs.join(', ')}`);
});

test('300 policy connections that never read: websockets still work, the log stays short', async () => {
	const mark = s.wsd.mark();
	const cpu0 = cpuSeconds(s.wsd.pid);
	const t0 = performance.now();
	const socks = [];
	for (let i = 0; i < FLOOD; i++) {
		const sock = net.connect(policyPort, '127.0.0.1');
		sock.on('error', () => {});
		sock.pause(); // never reads: wsd's answer and FIN stay unread
		socks.push(sock);
	}
	let fds = 0;
	let echoed = 0, opened = 0;
	const failures = [];
	while (performance.now() - t0 < FLOOD_MS) {
		try {
			await echoes(witness, 5000);
			echoed++;
		} catch (e) { failures.push(`witness: ${e.message}`); }
		try {
			const ws = await s.wsSession();
			opened++;
			ws.destroy();
		} catch (e) { failures.push(`new session: ${e.message}`); }
		fds = Math.max(fds, fs.readdirSync(`/proc/${s.wsd.pid}/fd`).length);
		await new Promise((r) => setTimeout(r, 200));
	}
	const wall = (performance.now() - t0) / 1000;
	const cpu = cpuSeconds(s.wsd.pid) - cpu0;
	const lines = s.wsd.log.slice(mark).split('\n').filter((l) => l !== '');
	const accepts = lines.filter((l) => /accept/.test(l)).length;
	console.log(`# ${FLOOD} policy connections for ${wall.toFixed(1)} s: sio-wsd held up to ${fds} descriptors, ` +
		`witness echoed ${echoed} times, ${opened} new websocket sessions, ` +
		`${failures.length} failures; sio-wsd CPU ${cpu.toFixed(2)} s ` +
		`(${Math.round(100 * cpu / wall)}% of a core), ${lines.length} log lines ` +
		`(${accepts} about accept)`);
	for (const sock of socks) sock.destroy();
	assert.deepEqual(failures, []);
	assert.ok(echoed > 0 && opened > 0);
	// the rate limit allows 5 lines a minute of each kind
	assert.ok(lines.length <= 50, `${lines.length} log lines: ${lines.slice(0, 5).join(' / ')}`);
	assert.ok(cpu < 0.5 * wall, `sio-wsd used ${cpu.toFixed(2)} s of CPU in ${wall.toFixed(1)} s`);
	// the budget is what held the rest back
	assert.match(s.wsd.log.slice(mark), /max_raw_connections \(256\) reached/);
});

test('once the flood ends the policy port answers again', async () => {
	// the flood's sockets leave as their drains end (5 s each)
	const xml = await until('a policy answer', () => fetchPolicy('127.0.0.1', policyPort, {timeout: 3000})
		.catch(() => null), 20000, 200);
	assert.match(xml.toString('latin1'), /^<\?xml .*<\/cross-domain-policy>$/);
	await echoes(witness);
});

// Under a hard open-file limit below what the budget needs, accept()
// itself fails (EMFILE): the raw listeners pause and retry, instead of
// spinning on a listener that stays readable.
test('accept() failing with EMFILE: the listeners pause, the log stays short, the CPU low', async (t) => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-emfile-'));
	const port = await freePort();
	let ppol = await freePort();
	while (ppol === port) ppol = await freePort();
	const conf = writeConf(path.join(dir, 'siogate.conf'), {database: `${dir}/siogate.db`,
		run_dir: `${dir}/run`, app: 'testapp',
		transports: 'websocket,flashsocket,xhr-polling', flash_policy_port: ppol,
		max_websockets: 20, log_level: 'info'});
	const wsd = path.join(BUILD, 'sio-wsd');
	const proc = spawn('/bin/sh', ['-c', 'ulimit -n 100 && exec "$0" "$@"', wsd,
		'-c', conf, '--listen', `127.0.0.1:${port}`], {stdio: ['ignore', 'ignore', 'pipe']});
	let log = '';
	proc.stderr.on('data', (d) => { log += d.toString(); });
	const exited = new Promise((resolve) => proc.on('exit', resolve));
	const socks = [];
	t.after(async () => {
		for (const sock of socks) sock.destroy();
		if (proc.exitCode === null && proc.signalCode === null) {
			proc.kill('SIGTERM');
			await exited;
		}
		fs.rmSync(dir, {recursive: true, force: true});
	});
	await until('sio-wsd serving', () => /serving websocket on/.test(log) || proc.exitCode !== null);
	assert.equal(proc.exitCode, null, `sio-wsd exited: ${log}`);
	const mark = log.length;
	const cpu0 = cpuSeconds(proc.pid);
	const t0 = performance.now();
	for (let i = 0; i < 200; i++) {
		const sock = net.connect(ppol, '127.0.0.1');
		sock.on('error', () => {});
		sock.pause();
		socks.push(sock);
	}
	// The pause first (a loaded machine may take a while to get there),
	// then 3 s of it: CPU and log lines over the whole time.
	await until('accept() to fail and the listeners to pause',
		() => /Too many open files: pausing the raw listeners/.test(log.slice(mark)), 20000, 50);
	await new Promise((r) => setTimeout(r, 3000)); // the window measured
	const wall = (performance.now() - t0) / 1000;
	const cpu = cpuSeconds(proc.pid) - cpu0;
	const lines = log.slice(mark).split('\n').filter((l) => l !== '');
	console.log(`# 200 policy connections under ulimit -n 100 for ${wall.toFixed(1)} s: ` +
		`sio-wsd CPU ${cpu.toFixed(2)} s (${Math.round(100 * cpu / wall)}% of a core), ` +
		`${lines.length} log lines`);
	assert.match(log.slice(mark), /accept on 127\.0\.0\.1:\d+: Too many open files: pausing the raw listeners/);
	assert.ok(lines.length <= 20, `${lines.length} log lines: ${lines.slice(0, 5).join(' / ')}`);
	assert.ok(cpu < 0.5 * wall, `sio-wsd used ${cpu.toFixed(2)} s of CPU in ${wall.toFixed(1)} s`);
	for (const sock of socks) sock.destroy();
	const xml = await until('a policy answer', () => fetchPolicy('127.0.0.1', ppol, {timeout: 3000})
		.catch(() => null), 20000, 200);
	assert.match(xml.toString('latin1'), /<\/cross-domain-policy>$/);
});
