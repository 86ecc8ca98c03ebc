// syslog.test.mjs: log = syslog end to end. sio-gateway runs in a user and
// mount namespace of its own (unshare -rm) whose /dev is a directory of
// this test: /dev/null, zero, urandom and random bound from the real one,
// and /dev/log a datagram socket read here (python3), so that what the
// program sends to syslog(3) is seen with its priority: LOG_DAEMON, info
// <30>, warning <28>. Skipped, saying why, where user namespaces are off.
import {test, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {BUILD, freePort, until} from '../lib/servers.mjs';

const userns = spawnSync('unshare', ['-rm', 'true']);
const skip = userns.status === 0 ? false : `no user namespace here (unshare -rm: ${String(userns.stderr).trim() || userns.status})`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-syslog.'));
const started = [];
after(() => {
	for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
	fs.rmSync(dir, {recursive: true, force: true});
});

test('log = syslog: lines go to /dev/log as LOG_DAEMON with the level as priority', {skip}, async () => {
	const dev = path.join(dir, 'dev');
	fs.mkdirSync(dev);
	for (const f of ['null', 'zero', 'urandom', 'random']) fs.writeFileSync(path.join(dev, f), '');
	// the reader: one line per datagram
	let got = '';
	const reader = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(s.recv(65536).decode("utf-8", "replace").replace("\\n", "\\\\n"), flush=True)
`, path.join(dev, 'log')], {stdio: ['ignore', 'pipe', 'inherit']});
	started.push(reader);
	reader.stdout.on('data', (d) => { got += d; });
	await until('the syslog reader', () => got.startsWith('ready'), 10000);

	const conf = path.join(dir, 'siogate.conf');
	fs.writeFileSync(conf, 'database = gw.db\nrun_dir = run\nlog = syslog\nlog_level = info\n');
	const port = await freePort();
	const script = 'set -e; for f in null zero urandom random; do mount --bind /dev/$f "$1/$f"; done; ' +
		'mount --bind "$1" /dev; shift; exec "$@"';
	let stderr = '';
	const gw = spawn('unshare', ['-rm', 'sh', '-c', script, 'sh', dev, path.join(BUILD, 'sio-gateway'),
		'-c', conf, '--listen', `127.0.0.1:${port}`], {stdio: ['ignore', 'ignore', 'pipe']});
	started.push(gw);
	gw.stderr.on('data', (d) => { stderr += d; });
	// a TCP listener without FCGI_WEB_SERVER_ADDRS is a warning
	await until('the info and warning lines', () => /serving with/.test(got) && /FastCGI on TCP/.test(got), 15000);
	gw.kill('SIGTERM');
	await until('the stop line', () => /stopping on signal 15/.test(got), 10000);
	const lines = got.split('\n').filter((l) => /sio-gateway/.test(l));
	console.log(`syslog datagrams:\n  ${lines.join('\n  ')}`);
	const find = (re) => lines.find((l) => re.test(l));
	assert.match(find(/configuration /), /^<30>.*sio-gateway\[\d+\]: configuration \//);
	assert.match(find(/FastCGI on TCP/), /^<28>.*sio-gateway\[\d+\]: FastCGI on TCP/);
	assert.match(find(/stopping on signal 15/), /^<30>/);
	assert.ok(!lines.some((l) => /: (info|warn|error): /.test(l)), 'the level is the priority, not in the text');
	assert.equal(stderr, '', 'nothing on stderr');
});
