// nofile.test.mjs: sio-wsd sets its open-file limit from max_websockets
// (lws sizes its table of connections by that limit, and walks the table
// as each connection opens and closes): raised or lowered to
// max_websockets plus a reserve of 64, or to the hard limit with a
// warning when that is lower.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {BUILD, freePort, until, writeConf} from '../lib/servers.mjs';

// [soft, hard] "Max open files" of a process
function nofile(pid) {
	const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8')
		.split('\n').find((l) => l.startsWith('Max open files'));
	const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/);
	return [soft, hard];
}

// Starts sio-wsd with max_websockets, under `ulimit -n` when given;
// resolves once it serves, with its pid and what it logged so far.
async function startWsd(t, maxConnections, ulimit) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-nofile-'));
	const conf = writeConf(path.join(dir, 'siogate.conf'), {database: `${dir}/siogate.db`,
		run_dir: `${dir}/run`, app: 'testapp', flash_policy_port: 0,
		max_websockets: maxConnections});
	const port = await freePort();
	const wsd = path.join(BUILD, 'sio-wsd');
	const args = ['-c', conf, '--listen', `127.0.0.1:${port}`];
	const proc = ulimit === undefined
		? spawn(wsd, args, {stdio: ['ignore', 'ignore', 'pipe']})
		: spawn('/bin/sh', ['-c', `ulimit -n ${ulimit} && exec "$0" "$@"`, wsd, ...args],
			{stdio: ['ignore', 'ignore', 'pipe']});
	let log = '';
	proc.stderr.on('data', (d) => { log += d.toString(); });
	const exited = new Promise((resolve) => proc.on('exit', resolve));
	t.after(async () => {
		if (proc.exitCode === null && proc.signalCode === null) {
			proc.kill('SIGTERM');
			await exited;
		}
		fs.rmSync(dir, {recursive: true, force: true});
	});
	await until('sio-wsd serving', () => /serving websocket on/.test(log) ||
		proc.exitCode !== null ? true : null);
	assert.equal(proc.exitCode, null, `sio-wsd exited: ${log}`);
	return {pid: proc.pid, log: () => log};
}

test('the open-file limit is max_websockets plus 64, the hard limit kept', async (t) => {
	const [, hard] = nofile(process.pid);
	if (hard !== 'unlimited' && Number(hard) < 164) {
		t.skip(`the hard limit here is ${hard}`);
		return;
	}
	const w = await startWsd(t, 100);
	assert.deepEqual(nofile(w.pid), ['164', hard]);
	assert.doesNotMatch(w.log(), /max_websockets/);
});

test('under a lower hard limit: that limit, and a warning saying so', async (t) => {
	const w = await startWsd(t, 100, 120);
	assert.deepEqual(nofile(w.pid), ['120', '120']);
	assert.match(w.log(), /warn: max_websockets = 100 needs 164 open files, the hard limit allows 120: at most about 56 connections/);
});
