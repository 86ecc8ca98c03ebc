// heartbeat.test.mjs: `2::` every heartbeat_interval on a websocket held by
// sio-wsd; a client that never answers is ended after heartbeat_timeout
// (`0::`, a close, the session closed in the database); one that answers
// stays. heartbeat_interval = 1, heartbeat_timeout = 3.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startServers, echoes, until} from '../lib/servers.mjs';

let s;
before(async () => { s = await startServers({heartbeat_interval: 1, heartbeat_timeout: 3}); });
after(async () => { if (s) await s.stop(); });

test('heartbeats: 2:: every second; silence ends the session after 3 s, answering keeps it', async () => {
	const [silent, answering] = await Promise.all([s.wsSession(), s.wsSession({autoHeartbeat: true})]);
	const t0 = performance.now();

	// The silent one: heartbeats, then 0:: and a close, within the timeout + 2 ticks.
	const hb = [];
	let ended = null;
	for (;;) {
		const ev = await silent.next(8000);
		if (ev.type === 'text' && ev.data === '2::') hb.push(ev.at);
		else if (ev.type === 'text') { assert.equal(ev.data, '0::', 'the last packet is 0::'); ended = ev.at; }
		else if (ev.type === 'close') { assert.equal(ev.code, 1000); break; }
		else assert.fail(`unexpected ${ev.type}`);
	}
	assert.ok(ended !== null, '0:: before the close');
	const life = ended - t0;
	assert.ok(life >= 2900 && life <= 5500, `ended after ${Math.round(life)} ms (timeout 3 s)`);
	assert.ok(hb.length >= 2, `${hb.length} heartbeats before the end`);
	for (let i = 1; i < hb.length; i++) {
		const gap = hb[i] - hb[i - 1];
		assert.ok(gap >= 700 && gap <= 1600, `heartbeat gap ${Math.round(gap)} ms (interval 1 s)`);
	}
	const end = await silent.waitClose(3000);
	assert.equal(end.texts.length, 0);
	await until('the session to be closed in the database', () => s.session(silent.sid)?.state === 'closed');
	assert.match(s.session(silent.sid).reason, /heartbeat|timeout/i, 'close_reason names the timeout');
	assert.match(s.wsd.log, new RegExp(`${silent.sid}.*(heartbeat|timeout|ended)`, 'i'), 'wsd logs the end');

	// The answering one stays past twice the timeout, and still echoes.
	await until('6 s of answered heartbeats', () => performance.now() - t0 > 6500, 8000, 100);
	assert.ok(answering.heartbeats >= 4, `${answering.heartbeats} heartbeats answered`);
	assert.equal(s.session(answering.sid).state, 'open');
	assert.equal(answering.closed, false);
	await echoes(answering);
	answering.close();
	await answering.waitClose();
});
