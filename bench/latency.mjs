// latency.mjs: the latency of a packet POSTed through the gateway and
// delivered on a websocket held by sio-wsd, behind lighttpd.
//
//   node bench/latency.mjs [COUNT]      (make bench-latency; COUNT default 2000)
//
// Session A holds a websocket on sio-wsd (through lighttpd's proxy; WS=direct
// for wsd's own port); session B POSTs `5:::{"name":"broadcast","args":[i]}`
// on xhr-polling through lighttpd + sio-gateway with a keep-alive agent;
// testapp broadcasts it to every session, so A receives it on its
// websocket. Latency: from just before the POST to A's receipt of event i.
// One packet in flight at a time; B's own copies are drained by a poller.
// Prints p50, p90, p99 and max in ms; the target is p99 < 5 ms.
// make bench reports the same path side by side with socket.io 0.9 from
// the C load generator (bench/loadgen --mode relay, its websocket straight
// to sio-wsd); this is the Node-client version, through lighttpd's
// websocket proxy unless WS=direct.
import {startServers} from '../tests/lib/servers.mjs';

const COUNT = Number(process.argv[2] ?? process.env.COUNT ?? 2000);
const WARMUP = 100;
const s = await startServers({heartbeat_interval: 25, heartbeat_timeout: 60, log_level: 'info', max_queue: 100000});
let stopPoll = false;
try {
	const a = await s.wsSession({via: process.env.WS === 'direct' ? 'wsd' : 'proxy', autoHeartbeat: true});
	const b = await s.handshake();
	await s.poll(b); // 1::
	// B receives its own broadcasts: keep its queue drained.
	const drain = (async () => { while (!stopPoll) await s.poll(b).catch(() => {}); })();

	const lat = [];
	for (let i = 0; i < COUNT + WARMUP; i++) {
		const want = `5:::{"name":"broadcast","args":[${i}]}`;
		const t0 = performance.now();
		await s.post(b, want);
		let got;
		do got = await a.nextText(5000); while (got !== want && !got.includes(`"args":[${i}]`));
		if (got !== want) throw new Error(`unexpected ${got}`);
		if (i >= WARMUP) lat.push(performance.now() - t0);
	}
	stopPoll = true;
	lat.sort((x, y) => x - y);
	const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
	const mean = (lat.reduce((x, y) => x + y, 0) / lat.length).toFixed(2);
	console.log(`latency POST (gateway, lighttpd) -> websocket (sio-wsd, ${process.env.WS === 'direct' ? 'direct' : 'via lighttpd'}), ` +
		`${lat.length} packets after ${WARMUP} warm-up:`);
	console.log(`p50 ${q(0.5)} ms  p90 ${q(0.9)} ms  p99 ${q(0.99)} ms  max ${lat.at(-1).toFixed(2)} ms  mean ${mean} ms`);
	console.log(Number(q(0.99)) < 5 ? 'p99 under the 5 ms target' : 'p99 OVER the 5 ms target');
	a.destroy();
	await Promise.race([drain, new Promise((r) => setTimeout(r, 3000))]);
} finally {
	stopPoll = true;
	await s.stop();
}
