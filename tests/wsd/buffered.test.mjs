// buffered.test.mjs: the unfinished messages sio-wsd holds have a total
// cap (max_buffered, 4M here; max_packet 1M). Each connection may hold up
// to max_packet of a message in fragments, but not all of them at once:
// 16,384 connections at 1.1 MiB each were 18 GiB. Eight sessions, each
// from an address of its own, each send the first 900,000 bytes of a
// message, one after the other (a ping after each: its pong says wsd has
// read the fragment); the four that fit finish their message and get it
// echoed, whole; the four that do not are closed with 1013 (try again
// later) and a log line; a witness session echoes throughout; the share
// of the closed ones and of the finished messages comes back (four
// sessions do it all again). sio-wsd's RSS and CPU are printed, with
// generous bounds.
//
// And the cap is fair: one client address holds at most its share
// (max_buffered_per_address, by default max_buffered / 8 but at least
// max_packet: 1M here), so that it cannot close everyone else's messages;
// and the first 4 KiB a connection holds are not counted at all, so that
// small messages in pieces pass even when the cap is reached.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import {startServers, echoes} from '../lib/servers.mjs';

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

// Sends the first PART bytes of a message (or the text given) and a
// ping: 'held' when the pong comes (wsd read the fragment), else the close
// code or 'end'.
async function sendPart(ws, n, text = `3:::${n}`.padEnd(PART, 'x')) {
	ws.frame({opcode: 1, fin: false, payload: text});
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

// Ends ws (a close frame, if the server has not closed it) and waits for
// the end of TCP: its connection has closed in sio-wsd, and what it held
// is free.
async function finished(ws) {
	if (!ws.closed) ws.close();
	while (!ws.closed) if ((await ws.next(15000)).type === 'end') break;
}

// What the server answers to a message: the text echoed, or the close
// code ('end' when TCP ends first).
async function reply(ws, ms = 15000) {
	for (;;) {
		const ev = await ws.next(ms);
		if (ev.type === 'text' && ev.data !== '2::') return ev.data;
		if (ev.type === 'close') return ev.code;
		if (ev.type === 'end') return 'end';
	}
}

async function round(label) {
	const mark = s.wsd.mark();
	const rss0 = s.wsd.rssKb();
	const cpu0 = cpuSeconds(s.wsd.pid);
	const wss = [];
	for (let i = 0; i < 8; i++) wss.push(await s.wsSession({localAddress: `127.0.0.${10 + i}`}));
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
	for (const ws of wss) await finished(ws);
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

// The review's case: an attacker from 127.0.0.2 sends the first
// 1,000,000 + 1,000,000 + 1,000,000 + 1,000,000 + 194,304 bytes of five
// messages, exactly max_buffered (4 MiB). Only the first is held: the
// others would pass the address's share (1M) and are closed with 1013.
// Witnesses from 127.0.0.3 then send a short message, a fragmented one, a
// 20 KB single frame (lws hands it over in 128-byte pieces) and 900 KB in
// fragments: all echoed. (Before the share, the attacker held all 4 MiB
// and each of these but the short one was closed with 1013.)
test('one address at its share of max_buffered: another address\'s messages, fragmented and large, go on', async () => {
	const mark = s.wsd.mark();
	const from = (a) => s.wsSession({localAddress: a});
	const [w, w2, w3] = [await from('127.0.0.3'), await from('127.0.0.3'), await from('127.0.0.3')];
	const parts = [1000000, 1000000, 1000000, 1000000, 194304];
	const att = [];
	for (let i = 0; i < parts.length; i++) att.push(await from('127.0.0.2'));
	const results = [];
	for (const [i, ws] of att.entries()) results.push(await sendPart(ws, i, `3:::${i}`.padEnd(parts[i], 'x')));
	w.send('3:::small');
	const small = await reply(w);
	w.frame({opcode: 1, fin: false, payload: '3:::frag'});
	w.frame({opcode: 0, fin: true, payload: 'ment'});
	const frag = await reply(w);
	const big = '3:::'.padEnd(20000, 'z');
	w2.send(big);
	const bigBack = await reply(w2);
	const large = await sendPart(w3, 3, '3:::large'.padEnd(PART, 'l'));
	let largeBack = large;
	if (large === 'held') {
		w3.frame({opcode: 0, fin: true, payload: 'end'});
		largeBack = await reply(w3);
	}
	const show = (r, want) => (r === want ? 'echoed' : JSON.stringify(String(r).slice(0, 40)));
	console.log(`# attacker 127.0.0.2 (${parts.join(' + ')} bytes): ${JSON.stringify(results)}; witness ` +
		`127.0.0.3: 9-byte message ${show(small, '3:::small')}, fragmented ${show(frag, '3:::fragment')}, ` +
		`20 KB frame ${show(bigBack, big)}, ${PART} bytes in fragments ${large === 'held'
			? show(largeBack, '3:::large'.padEnd(PART, 'l') + 'end') : `closed ${large}`}`);
	assert.deepEqual(results, ['held', 1013, 1013, 1013, 1013]);
	assert.equal(small, '3:::small');
	assert.equal(frag, '3:::fragment');
	assert.ok(bigBack === big, `the 20 KB frame: ${String(bigBack).slice(0, 40)}`);
	assert.equal(large, 'held');
	assert.ok(largeBack === '3:::large'.padEnd(PART, 'l') + 'end', 'the 900 KB message came back changed');
	assert.match(s.wsd.log.slice(mark),
		/warn: \S+: max_buffered_per_address \(1048576\) reached by 127\.0\.0\.2: closing with 1013/);
	// the attacker's held message is whole when it ends
	att[0].frame({opcode: 0, fin: true, payload: 'end'});
	assert.ok(await reply(att[0]) === '3:::0'.padEnd(parts[0], 'x') + 'end', 'the held message came back changed');
	for (const ws of [w, w2, w3, ...att]) await finished(ws);
});

// When max_buffered is reached by many addresses together, the first
// WSD_BUFFER_FREE (4 KiB) of each message still pass: 127.0.0.4 to .7
// each hold a whole max_packet (1 MiB) in fragments and 127.0.0.8 holds
// 20 KiB, which makes the counted bytes exactly 4 MiB. Then, from
// 127.0.0.9: a 4,000-byte message in two fragments, a 3,000-byte and a
// 4,096-byte single frame are echoed; a 20 KB frame is closed with 1013.
test('max_buffered reached: small messages in pieces still pass, a larger one gets 1013', async () => {
	const holders = [], held = [];
	for (const [a, n] of [['4', 1048576], ['5', 1048576], ['6', 1048576], ['7', 1048576], ['8', 20480]]) {
		const ws = await s.wsSession({localAddress: `127.0.0.${a}`});
		holders.push(ws);
		held.push(await sendPart(ws, a, `3:::${a}`.padEnd(n, 'h')));
	}
	const w = await s.wsSession({localAddress: '127.0.0.9'});
	const got = {};
	// each answer: 'echoed', or the close code (then nothing more is sent)
	const answer = async (name, want, ...frames) => {
		if (Object.values(got).some((r) => r !== 'echoed')) return;
		for (const f of frames) w.frame(f);
		const r = await reply(w);
		got[name] = r === want ? 'echoed' : r;
	};
	await answer('fragmented4000', '3:::'.padEnd(2000, 'a') + 'b'.repeat(2000),
		{opcode: 1, fin: false, payload: '3:::'.padEnd(2000, 'a')}, {opcode: 0, fin: true, payload: 'b'.repeat(2000)});
	for (const n of [3000, 4096])
		await answer(`frame${n}`, '3:::'.padEnd(n, 'c'), {opcode: 1, payload: '3:::'.padEnd(n, 'c')});
	await answer('frame20000', '3:::'.padEnd(20000, 'd'), {opcode: 1, payload: '3:::'.padEnd(20000, 'd')});
	console.log(`# 4 x 1048576 + 20480 bytes from 127.0.0.4 to .8 (counted: exactly max_buffered): ` +
		`${JSON.stringify(held)}; from 127.0.0.9: ${JSON.stringify(got)}`);
	assert.deepEqual(held, ['held', 'held', 'held', 'held', 'held']);
	assert.deepEqual(got, {fragmented4000: 'echoed', frame3000: 'echoed', frame4096: 'echoed', frame20000: 1013});
	await echoes(witness);
	for (const ws of [w, ...holders]) await finished(ws);
});
