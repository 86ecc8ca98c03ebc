// local.test.mjs: what another user of the same machine could do. A
// second sio-wsd must not take the UNIX socket of a running one; a
// run_dir every user can write to is refused (a replaced doorbell would
// receive live session ids), and so is one reached through a link another
// user owns (the review's attack, replayed as uid 65534); the gateway's
// TCP FastCGI listener accepts
// only FCGI_WEB_SERVER_ADDRS when set, and says so when it is not (any
// local user can connect and choose REMOTE_ADDR).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {BUILD, freePort, until, writeConf} from '../lib/servers.mjs';
import {connect} from '../lib/wsclient.mjs';

let dir, conf;
const procs = [];

before(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-local.'));
	conf = writeConf(path.join(dir, 'siogate.conf'), {database: `${dir}/siogate.db`,
		run_dir: `${dir}/run`, flash_policy_port: 0, log_level: 'info'});
});
after(async () => {
	for (const p of procs) {
		if (p.exitCode === null && p.signalCode === null) {
			const gone = new Promise((r) => p.on('exit', r));
			p.kill('SIGKILL');
			await gone;
		}
	}
	if (!process.env.KEEP_TMP) fs.rmSync(dir, {recursive: true, force: true});
});

// Starts a program; p.log gathers its stderr, p.exited resolves with its code.
function start(bin, args, env = {}) {
	const p = spawn(path.join(BUILD, bin), args, {stdio: ['ignore', 'ignore', 'pipe'],
		env: {...process.env, ...env}});
	p.log = '';
	p.stderr.on('data', (d) => { p.log += d; });
	p.exited = new Promise((r) => p.on('exit', (code, sig) => r(code ?? sig)));
	procs.push(p);
	return p;
}

// Waits until p exits or logs that it serves: 'exited' or 'serving'.
function exitsOrServes(p) {
	return until('exit or serving', () => (p.exitCode !== null || p.signalCode !== null ? 'exited'
		: /serving (websocket|with)/.test(p.log) ? 'serving' : null), 10000);
}

function sockAccepts(p) {
	return new Promise((resolve) => {
		const s = net.connect({path: p});
		s.on('connect', () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
}

// A GET of the policy-free root of sio-wsd over its UNIX socket: status.
function getOverSocket(socketPath) {
	return new Promise((resolve, reject) => {
		const r = http.get({socketPath, path: '/socket.io/1/websocket/nosuch'}, (res) => {
			res.resume();
			resolve(res.statusCode);
		});
		r.on('error', reject);
	});
}

test('a second sio-wsd on the UNIX socket of a running one is refused; a stale socket is reused', async () => {
	const sock = path.join(dir, 'wsd.sock');
	const a = start('sio-wsd', ['-c', conf, '--listen', sock]);
	await until('the first sio-wsd', () => sockAccepts(sock), 10000);
	assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
	const ino = fs.statSync(sock).ino;
	const b = start('sio-wsd', ['-c', conf, '--listen', sock]);
	assert.equal(await exitsOrServes(b), 'exited', `the second one: ${b.log}`);
	assert.notEqual(await b.exited, 0);
	assert.match(b.log, /another server listens there/);
	assert.equal(fs.statSync(sock).ino, ino, 'the socket file is the first one\'s');
	assert.ok((await getOverSocket(sock)) > 0, 'the first one still answers');
	// killed without cleaning up: the next one takes the stale file
	a.kill('SIGKILL');
	await a.exited;
	const c = start('sio-wsd', ['-c', conf, '--listen', sock]);
	await until('sio-wsd on a stale socket file', async () => {
		if (c.exitCode !== null) throw new Error(`sio-wsd exited: ${c.log}`);
		return sockAccepts(sock);
	}, 10000);
	c.kill('SIGTERM');
	await c.exited;
});

test('a run_dir every user can write to is refused with a clear message', async () => {
	fs.mkdirSync(path.join(dir, 'run'), {recursive: true});
	fs.chmodSync(path.join(dir, 'run'), 0o777);
	try {
		const w = start('sio-wsd', ['-c', conf, '--listen', path.join(dir, 'w2.sock')]);
		assert.equal(await exitsOrServes(w), 'exited', `sio-wsd: ${w.log}`);
		assert.notEqual(await w.exited, 0);
		assert.match(w.log, /run_dir .* is writable by every user/);
		const port = await freePort();
		const g = start('sio-gateway', ['-c', conf, '--listen', `127.0.0.1:${port}`]);
		assert.equal(await exitsOrServes(g), 'exited', `sio-gateway: ${g.log}`);
		assert.notEqual(await g.exited, 0);
		assert.match(g.log, /run_dir .* is writable by every user/);
	} finally {
		fs.chmodSync(path.join(dir, 'run'), 0o700);
	}
});

// The review's attacker, as uid 65534: reads the bell names under link
// from /proc/net/unix, points its own link at a directory of its own,
// binds sockets under those names and prints what they receive.
const THIEF = `
import os, shutil, socket, select, sys, tempfile, time
link = sys.argv[1]
names = [l.split()[-1].rsplit('/', 1)[1] for l in open('/proc/net/unix') if link + '/' in l]
mine = tempfile.mkdtemp(prefix='sio-thief.')
os.chmod(mine, 0o755)
os.symlink(mine, link + '.new'); os.rename(link + '.new', link)
socks = []
for n in names:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(os.path.join(mine, n)); socks.append(s)
print('ready', len(names), flush=True)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    for s in select.select(socks, [], [], 0.2)[0]:
        print('RECEIVED', s.recv(200).decode(), flush=True); end = 0
for s in socks: s.close()
shutil.rmtree(mine)
`;

// Runs the thief while a victim's session on sio-wsd (port wport) gets a
// message queued by sioctl; what the thief received ('' for nothing).
async function steal(link, conf2, gport, wport) {
	const thief = spawn('/usr/bin/python3', ['-c', THIEF, link, '10'],
		{uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'pipe']});
	let out = '';
	thief.stdout.on('data', (d) => { out += d; });
	thief.stderr.on('data', (d) => { out += d; });
	const done = new Promise((r) => thief.on('exit', r));
	await until('the thief', () => /ready|Error/.test(out) || thief.exitCode !== null, 10000);
	const hs = await fcgiHandshake(gport, '127.0.0.1');
	const sid = hs.split('\r\n\r\n')[1].split(':')[0];
	const ws = await connect({port: wport, path: `/socket.io/1/websocket/${sid}`});
	await ws.expectText('1::', 5000);
	execFileSync(path.join(BUILD, 'sioctl'), ['-c', conf2, 'send', sid, 'hello']);
	await done;
	ws.destroy();
	const m = /RECEIVED (\S+)/.exec(out);
	return m ? `${m[1]} (the victim's sid: ${sid})` : '';
}

test('a run_dir through a link another user owns is refused: its rings are not theirs to take',
	{skip: process.getuid() !== 0 && 'the other user takes root to play'}, async (t) => {
	const sticky = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-local-sticky.'));
	fs.chmodSync(sticky, 0o1777); // like /tmp
	const link = path.join(sticky, 'runlink');
	fs.mkdirSync(path.join(dir, 'vrun'), {mode: 0o700});
	fs.symlinkSync(path.join(dir, 'vrun'), link);
	fs.lchownSync(link, 65534, 65534);
	const conf2 = path.join(dir, 'link.conf');
	fs.writeFileSync(conf2, `database = ${dir}/link.db\nrun_dir = ${link}\n` +
		'bind_address = no\nflash_policy_port = 0\nlog_level = info\n');
	try {
		const wport = await freePort();
		const w = start('sio-wsd', ['-c', conf2, '--listen', `127.0.0.1:${wport}`]);
		const gport = await freePort();
		const g = start('sio-gateway', ['-c', conf2, '--listen', `127.0.0.1:${gport}`],
			{FCGI_WEB_SERVER_ADDRS: '127.0.0.1'});
		const states = [await exitsOrServes(w), await exitsOrServes(g)];
		// what a program that accepted the link would have let happen
		const stolen = states.every((x) => x === 'serving') ? await steal(link, conf2, gport, wport) : '';
		t.diagnostic(`sio-wsd ${states[0]}, sio-gateway ${states[1]}; uid 65534 received: ${stolen || 'nothing'}`);
		assert.equal(stolen, '', 'another user received a live session id');
		assert.deepEqual(states, ['exited', 'exited']);
		for (const p of [w, g]) {
			assert.notEqual(await p.exited, 0);
			assert.match(p.log, /run_dir .*: symbolic link .*runlink belongs to uid 65534, not to root or this user/);
		}
		t.diagnostic(w.log.trim());
	} finally {
		fs.rmSync(sticky, {recursive: true, force: true});
	}
});

test('a run_dir under a directory every user can write is refused', async () => {
	const theirs = path.join(dir, 'theirs');
	fs.mkdirSync(path.join(theirs, 'run'), {recursive: true, mode: 0o755});
	fs.chmodSync(theirs, 0o777);
	const conf3 = path.join(dir, 'theirs.conf');
	fs.writeFileSync(conf3, `database = ${dir}/theirs.db\nrun_dir = ${theirs}/run\n` +
		'flash_policy_port = 0\nlog_level = info\n');
	const w = start('sio-wsd', ['-c', conf3, '--listen', path.join(dir, 'w3.sock')]);
	assert.equal(await exitsOrServes(w), 'exited', `sio-wsd: ${w.log}`);
	assert.match(w.log, /run_dir .*: directory .*theirs is writable by every user without the sticky bit/);
});

// One FastCGI request (a handshake) from localAddress: the bytes answered.
function fcgiHandshake(port, localAddress) {
	const rec = (type, content) => {
		const h = Buffer.alloc(8);
		h[0] = 1; h[1] = type; h.writeUInt16BE(1, 2); h.writeUInt16BE(content.length, 4);
		return Buffer.concat([h, content]);
	};
	const nv = (n, v) => Buffer.concat([Buffer.from([n.length, v.length]), Buffer.from(n), Buffer.from(v)]);
	const params = Buffer.concat([nv('REQUEST_METHOD', 'GET'), nv('REQUEST_URI', '/socket.io/1/?t=1'),
		nv('REMOTE_ADDR', '192.0.2.9')]);
	return new Promise((resolve, reject) => {
		const s = net.connect({port, host: '127.0.0.1', localAddress});
		let out = Buffer.alloc(0);
		s.on('connect', () => s.write(Buffer.concat([rec(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])),
			rec(4, params), rec(4, Buffer.alloc(0)), rec(5, Buffer.alloc(0))])));
		s.on('data', (d) => { out = Buffer.concat([out, d]); });
		s.on('error', (e) => (e.code === 'ECONNRESET' ? null : reject(e)));
		s.on('close', () => resolve(out.toString('latin1')));
		s.setTimeout(10000, () => s.destroy(new Error('no answer')));
	});
}

test('a TCP FastCGI listener takes FCGI_WEB_SERVER_ADDRS only, and warns without it', async () => {
	let port = await freePort();
	const g = start('sio-gateway', ['-c', conf, '--listen', `127.0.0.1:${port}`],
		{FCGI_WEB_SERVER_ADDRS: '127.0.0.1'});
	await until('the gateway', () => /serving with/.test(g.log), 10000);
	assert.match(await fcgiHandshake(port, '127.0.0.1'), /Status: 200/);
	assert.equal(await fcgiHandshake(port, '127.0.0.2'), '', 'another address gets nothing');
	assert.match(g.log, /from 127\.0\.0\.1 only/);
	g.kill('SIGTERM');
	await g.exited;
	port = await freePort();
	const open = start('sio-gateway', ['-c', conf, '--listen', `127.0.0.1:${port}`],
		{FCGI_WEB_SERVER_ADDRS: ''});
	await until('the gateway', () => /serving with/.test(open.log), 10000);
	assert.match(open.log, /warn: FastCGI on TCP 127\.0\.0\.1:\d+ from any address/);
	open.kill('SIGTERM');
	await open.exited;
});

test('the gateway\'s UNIX socket is 0660 under any umask', async () => {
	const sock = path.join(dir, 'gw.sock');
	const g = start('sio-gateway', ['-c', conf, '--listen', sock]);
	await until('the gateway socket', () => sockAccepts(sock), 10000);
	assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
	g.kill('SIGTERM');
	await g.exited;
});
