// bridge.mjs: events and acks through the bridge (app = bridge) to a PHP
// application (bench/bridge/echo.php on PHP-FPM behind nginx), beside the
// same through a C plugin (testapp, behind the same nginx) and socket.io
// 0.9.19 with the handler in Node (bench/peer/server.js), in one run.
//
//   node bench/bridge.mjs [SESSIONS] [EVENTS]   (make bench-bridge; make bench runs it)
//
// SESSIONS websocket sessions (default 10) each emit EVENTS `echo` events
// (default 300, after 30 of warm-up) with an ack, one at a time per
// session, all sessions at once; the ack carries the arguments back.
// Prints acked events per second (all sessions) and the ack latency p50
// and p99 (ms, emit to ack) for each server, and the ratios: the bridge
// against the C plugin (the floor of siogate's architecture) and against
// socket.io 0.9.
import crypto from 'node:crypto';
import {spawn} from 'node:child_process';
import path from 'node:path';

import {ROOT, serveApp} from '../tests/lib/servers.mjs';
import {connect} from '../tests/lib/wsclient.mjs';

const SESSIONS = Number(process.argv[2] ?? process.env.SESSIONS ?? 10);
const EVENTS = Number(process.argv[3] ?? process.env.EVENTS ?? 300);
const WARMUP = 30;

/* One session on host:port over websocket: handshake, then `1::`. */
async function session(port) {
	const res = await fetch(`http://127.0.0.1:${port}/socket.io/1/?t=${Date.now()}`);
	const body = await res.text();
	if (res.status !== 200) throw new Error(`handshake ${res.status} ${body}`);
	const sid = body.split(':')[0];
	const ws = await connect({port, path: `/socket.io/1/websocket/${sid}`, autoHeartbeat: true});
	await ws.expectText('1::', 10000);
	return ws;
}

/* SESSIONS sessions, each emitting its events one after the other. */
async function run(port) {
	const wss = [];
	for (let i = 0; i < SESSIONS; i++) wss.push(await session(port));
	const lat = [];
	const one = async (ws, k) => {
		for (let i = 1; i <= WARMUP + EVENTS; i++) {
			const t0 = performance.now();
			ws.send(`5:${i}+::{"name":"echo","args":[${k},${i}]}`);
			const want = `6:::${i}+[${k},${i}]`;
			let got;
			do got = await ws.nextText(30000); while (got !== want && got.startsWith('8::'));
			if (got !== want) throw new Error(`session ${k}: ${got}, not ${want}`);
			if (i > WARMUP) lat.push(performance.now() - t0);
		}
	};
	const t0 = performance.now();
	await Promise.all(wss.map((ws, k) => one(ws, k)));
	const ms = performance.now() - t0;
	for (const ws of wss) ws.destroy();
	lat.sort((a, b) => a - b);
	const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
	/* the rate over the whole run (warm-up included), all sessions */
	return {rate: (SESSIONS * (WARMUP + EVENTS)) / (ms / 1000), p50: q(0.5), p99: q(0.99)};
}

/* socket.io 0.9.19 with the same contract, on a free port. */
async function peer() {
	const p = spawn(process.execPath, [path.join(ROOT, 'bench/peer/server.js'), '--port', '0',
		'--transports', 'websocket'], {stdio: ['ignore', 'pipe', 'inherit']});
	const port = await new Promise((resolve, reject) => {
		let out = '';
		p.stdout.on('data', (d) => {
			out += d;
			const m = /listening [^:]+:(\d+)/.exec(out);
			if (m) resolve(Number(m[1]));
		});
		p.on('exit', (c) => reject(new Error(`socket.io peer exited ${c}`)));
	});
	return {port, stop: () => p.kill('SIGTERM')};
}

const results = {};
const by = 'bench/bridge.mjs';
const conf = {log_level: 'warn', heartbeat_interval: 25, heartbeat_timeout: 60, max_queue: 10000};
{
	const p = await peer();
	try {
		results['socket.io 0.9.19, handler in Node'] = await run(p.port);
	} finally {
		p.stop();
	}
}
for (const [name, opts] of [
	['siogate, C plugin (testapp)', {app: 'testapp'}],
	['siogate, bridge to PHP-FPM', {app: 'bridge', script: path.join(ROOT, 'bench/bridge/echo.php'),
		conf: {...conf, bridge_max_inflight: 64}}],
]) {
	const srv = await serveApp({server: 'nginx', by, conf, ...opts,
		vardir: path.join(ROOT, 'var/bench-bridge', crypto.randomBytes(4).toString('hex')),
		env: {PHP_CHILDREN: '8'}});
	try {
		results[name] = await run(srv.port);
	} finally {
		await srv.stop();
	}
}

const f = (x, d = 2) => x.toFixed(d);
console.log(`bridge benchmark: ${SESSIONS} websocket sessions x ${EVENTS} events with an ack ` +
	`(+${WARMUP} warm-up), one in flight per session; siogate behind nginx`);
console.log('server                              acks/s    p50 ms   p99 ms');
for (const [name, r] of Object.entries(results))
	console.log(`${name.padEnd(34)} ${f(r.rate, 0).padStart(7)} ${f(r.p50).padStart(9)} ${f(r.p99).padStart(8)}`);
const b = results['siogate, bridge to PHP-FPM'], c = results['siogate, C plugin (testapp)'],
	s = results['socket.io 0.9.19, handler in Node'];
console.log(`bridge / C plugin: ${f(b.rate / c.rate)}x the acks/s, ${f(b.p50 / c.p50)}x p50, ${f(b.p99 / c.p99)}x p99`);
console.log(`bridge / socket.io 0.9: ${f(b.rate / s.rate)}x the acks/s, ${f(b.p50 / s.p50)}x p50, ${f(b.p99 / s.p99)}x p99`);
