// buffered.test.mjs: the unfinished messages sio-wsd holds have a total
// cap (max_buffered, 4M here; max_packet 1M). Each connection may hold up
// to max_packet of a message in fragments, but not all of them at once:
// 16,384 connections at 1.1 MiB each were 18 GiB. Eight sessions each
// send the first 900,000 bytes of a message, one after the other (a ping
// after each: its pong says wsd has read the fragment); the four that fit
// finish their message and get it echoed, whole; the four that do not are
// closed with 1013 (try again later) and a log line; a witness session
// echoes throughout; the share of the closed ones and of the finished
// messages comes back (four sessions do it all again). sio-wsd's RSS and
// CPU are printed, with generous bounds.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import {startServers, echoes} from './harness.mjs';

const CAP = 4 * 1048576;
const PART = 900000;
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}));

let s, witness;
before(async () => {
	s = await startServers({max_buffered: '4M', max_packet: '1M', log_level: 'info'});
	witness = await s.wsSession({autoHeartbeat: true});
});
after(async () => { if (s) await s.stop(); });

function cpuSeconds(pid) {
	const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(f[11]) + Number(f[12])) / TICK;
}

// Sends the first PART bytes of a message and a ping: 'held' when the
// pong comes (wsd read the fragment), else the close code or 'end'.
async function sendPart(ws, n) {
	ws.frame({opcode: 1, fin: false, payload: `3:::${n}`.padEnd(PART, 'x')});
	ws.ping('p');
	for (;;) {
		const ev = await ws.next(15000);
		if (ev.type === 'pong') return 'held';
		if (ev.type === 'close') return ev.code;
		if (ev.type === 'end') return 'end';
	}
}

// Sends the rest (the message is PART + 100000 bytes) and expects it back.
async function finish(ws, n) {
	const rest = 'y'.repeat(100000);
	ws.frame({opcode: 0, fin: true, payload: rest});
	const got = await ws.nextText(15000);
	assert.equal(got.length, PART + rest.length, `session ${n}: ${got.length} bytes echoed`);
	assert.ok(got === `3:::${n}`.padEnd(PART, 'x') + rest, `session ${n}: not its message`);
}

async function round(label) {
	const mark = s.wsd.mark();
	const rss0 = s.wsd.rssKb();
	const cpu0 = cpuSeconds(s.wsd.pid);
	const wss = [];
	for (let i = 0; i < 8; i++) wss.push(await s.wsSession());
	const results = [];
	for (let i = 0; i < 8; i++) results.push(await sendPart(wss[i], i));
	const rss = s.wsd.rssKb();
	await echoes(witness);
	const held = results.flatMap((r, i) => (r === 'held' ? [i] : []));
	for (const i of held) await finish(wss[i], i);
	await echoes(witness);
	const cpu = cpuSeconds(s.wsd.pid) - cpu0;
	console.log(`# ${label}: 8 x ${PART} bytes under max_buffered ${CAP}: ${JSON.stringify(results)}; ` +
		`sio-wsd RSS ${rss0} -> ${rss} KiB (+${rss - rss0}), CPU ${cpu.toFixed(2)} s`);
	for (const ws of wss) ws.destroy();
	return {results, held, rssGrowth: (rss - rss0) * 1024, log: s.wsd.log.slice(mark)};
}

test('eight unfinished messages of 900 KB under a 4 MiB cap: four held and echoed whole, four closed with 1013', async () => {
	const r = await round('first round');
	assert.deepEqual(r.results, ['held', 'held', 'held', 'held', 1013, 1013, 1013, 1013]);
	assert.match(r.log, /warn: \S+: max_buffered \(4194304\) reached: closing with 1013/);
	// buffers double as they grow: at most twice the cap, plus slack
	assert.ok(r.rssGrowth < 2 * CAP + 16 * 1048576, `RSS grew ${r.rssGrowth} bytes`);
});

test('what was held comes back: the same again', async () => {
	const r = await round('second round');
	assert.deepEqual(r.results.slice(0, 4), ['held', 'held', 'held', 'held']);
	await echoes(witness);
});
