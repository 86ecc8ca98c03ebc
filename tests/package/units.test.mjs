/*
 * The systemd units and the tmpfiles.d entry as `make install` writes them
 * for PREFIX=/usr, staged in a temporary root with what they name (the
 * programs at their ExecStart paths, /bin/kill, the man pages of
 * Documentation=) and the host's own systemd units, checked there by
 * `systemd-analyze verify --root` (any message fails); then read:
 * LimitNOFILE above max_websockets' default, the users, the socket unit's
 * fd-0 pairing, the tmpfiles.d entry; and the socket-activated gateway's
 * command line, given a listening socket on fd 0 as StandardInput=socket
 * gives it, answers a FastCGI handshake request. systemd is not
 * PID 1 in the test machines, so the units are not started here; the
 * package test runs their command lines in a clean root.
 *
 *   node --test tests/package/units.test.mjs      (make package-test)
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, spawn, spawnSync} from 'node:child_process';
import net from 'node:net';
import {promisify} from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-units-'));
const STAGE = path.join(TMP, 'root');
const UNITDIR = path.join(STAGE, 'lib/systemd/system');
const UNITS = ['sio-wsd.service', 'sio-gateway.service', 'sio-gateway-activated.socket',
    'sio-gateway-activated.service'];
let failed = false;

before(async () => {
	await run('make', ['--no-print-directory', '-C', ROOT, 'install', `DESTDIR=${STAGE}`,
	    'PREFIX=/usr', 'SYSTEMDUNITDIR=/lib/systemd/system'], {maxBuffer: 1 << 24});
	/* what the units refer to beyond siogate: the host's targets, kill */
	for (const d of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
		if (!fs.existsSync(d)) continue;
		for (const f of fs.readdirSync(d))
			if (/\.(target|service|socket|mount|slice)$/.test(f) && !fs.existsSync(path.join(UNITDIR, f)))
				fs.cpSync(path.join(d, f), path.join(UNITDIR, f), {dereference: true});
	}
	fs.mkdirSync(path.join(STAGE, 'bin'), {recursive: true});
	fs.copyFileSync('/bin/kill', path.join(STAGE, 'bin/kill'));
});

after(() => {
	if (!failed) fs.rmSync(TMP, {recursive: true, force: true});
	else console.log(`# kept ${TMP}`);
});

function unit(name) {
	return fs.readFileSync(path.join(UNITDIR, name), 'utf8');
}

test('systemd-analyze verify passes every unit, without a message', () => {
	try {
		const r = spawnSync('systemd-analyze', ['verify', `--root=${STAGE}`,
		    ...UNITS.map((u) => path.join(UNITDIR, u))], {encoding: 'utf8',
		    env: {...process.env, MANPATH: path.join(STAGE, 'usr/share/man'), SYSTEMD_LOG_LEVEL: 'notice'}});
		const out = (r.stdout + r.stderr).trim();
		console.log(`# systemd-analyze verify ${UNITS.join(' ')}: status ${r.status}${out ? '\n' + out : ', no message'}`);
		assert.equal(r.status, 0, out);
		assert.equal(out, '', 'no warnings');
		const pid1 = fs.readFileSync('/proc/1/comm', 'utf8').trim();
		console.log(`# PID 1 is ${pid1}: ${pid1 === 'systemd' ? 'units could be started' : 'no systemd to start the units under'}`);
	} catch (e) { failed = true; throw e; }
});

test('LimitNOFILE is max_websockets\' default plus headroom; users, sockets, fd 0', () => {
	try {
		const src = fs.readFileSync(path.join(ROOT, 'common/config.c'), 'utf8');
		const maxws = Number(src.match(/c->max_websockets = (\d+);/)[1]);
		const wsd = unit('sio-wsd.service');
		const nofile = Number(wsd.match(/^LimitNOFILE=(\d+)$/m)[1]);
		assert.ok(nofile > maxws, `LimitNOFILE ${nofile} > max_websockets ${maxws}`);
		console.log(`# max_websockets ${maxws} -> LimitNOFILE ${nofile}`);
		for (const u of ['sio-wsd.service', 'sio-gateway.service', 'sio-gateway-activated.service']) {
			assert.match(unit(u), /^User=siogate$/m, `${u} User`);
			assert.match(unit(u), /^Group=www-data$/m, `${u} Group`);
			assert.match(unit(u), /^RestartPreventExitStatus=64 78$/m, `${u} no restart on 64/78`);
		}
		assert.match(wsd, /--listen \/run\/siogate\/wsd\.sock --flash-listen \/run\/siogate\/wsd-flash\.sock$/m);
		const sock = unit('sio-gateway-activated.socket');
		assert.match(sock, /^ListenStream=\/run\/siogate\/gateway\.sock$/m);
		assert.match(sock, /^Accept=no$/m);
		const act = unit('sio-gateway-activated.service');
		assert.match(act, /^StandardInput=socket$/m, 'the listening socket on fd 0');
		assert.doesNotMatch(act, /--listen/, 'no --listen: libfcgi takes fd 0');
		const tmpf = fs.readFileSync(path.join(STAGE, 'usr/lib/tmpfiles.d/siogate.conf'), 'utf8');
		assert.match(tmpf, /^d \/run\/siogate 0750 siogate www-data -$/m);
	} catch (e) { failed = true; throw e; }
});

/* One FastCGI request (RESPONDER) on a UNIX socket; resolves with STDOUT. */
function fcgiRequest(sockPath, params) {
	const rec = (type, body) => {
		const h = Buffer.alloc(8);
		h.writeUInt8(1, 0); h.writeUInt8(type, 1); h.writeUInt16BE(1, 2);
		h.writeUInt16BE(body.length, 4);
		return Buffer.concat([h, body]);
	};
	const len = (n) => n < 128 ? Buffer.from([n]) :
	    Buffer.from([(n >>> 24) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
	const pairs = Buffer.concat(Object.entries(params).map(([k, v]) =>
	    Buffer.concat([len(Buffer.byteLength(k)), len(Buffer.byteLength(v)), Buffer.from(k), Buffer.from(v)])));
	return new Promise((resolve, reject) => {
		const c = net.connect(sockPath);
		let buf = Buffer.alloc(0), out = '';
		c.setTimeout(15000, () => { c.destroy(); reject(new Error('no FastCGI answer in 15 s')); });
		c.on('error', reject);
		c.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			while (buf.length >= 8) {
				const type = buf[1], n = buf.readUInt16BE(4), pad = buf[6];
				if (buf.length < 8 + n + pad) break;
				if (type === 6) out += buf.subarray(8, 8 + n).toString();
				buf = buf.subarray(8 + n + pad);
				if (type === 3) { c.end(); resolve(out); return; }
			}
		});
		c.write(Buffer.concat([rec(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])),
		    rec(4, pairs), rec(4, Buffer.alloc(0)), rec(5, Buffer.alloc(0))]));
	});
}

test('the socket-activated gateway serves FastCGI on a listening socket at fd 0', async () => {
	let gw;
	try {
		const exec = unit('sio-gateway-activated.service').match(/^ExecStart=(.*)$/m)[1].split(/\s+/);
		assert.equal(exec[0], '/usr/sbin/sio-gateway');
		const dir = path.join(TMP, 'fd0');
		fs.mkdirSync(dir, {mode: 0o700});
		const conf = path.join(dir, 'siogate.conf');
		fs.writeFileSync(conf, `database = ${dir}/siogate.db\nrun_dir = ${dir}/run\n`);
		const argv = exec.map((a, i) => i === 0 ? path.join(STAGE, a) : a === '/etc/siogate/siogate.conf' ? conf : a);
		const sock = path.join(dir, 'gateway.sock');
		/* What systemd does for StandardInput=socket: the bound, listening
		 * socket as fd 0 of the service's process. */
		const helper = 'import os, socket, sys\n' +
		    's = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(16)\n' +
		    'os.dup2(s.fileno(), 0)\nos.execv(sys.argv[2], sys.argv[2:])\n';
		gw = spawn('python3', ['-c', helper, sock, ...argv], {stdio: ['ignore', 'inherit', 'pipe']});
		let err = '';
		gw.stderr.on('data', (d) => { err += d; });
		const deadline = Date.now() + 15000;
		while (!fs.existsSync(sock)) {
			assert.ok(gw.exitCode === null, `gateway exited: ${err}`);
			assert.ok(Date.now() < deadline, 'the socket was bound');
			await new Promise((r) => setTimeout(r, 20));
		}
		const out = await fcgiRequest(sock, {REQUEST_METHOD: 'GET', REQUEST_URI: '/socket.io/1/?t=1',
		    SCRIPT_NAME: '/socket.io', QUERY_STRING: 't=1', REMOTE_ADDR: '127.0.0.1',
		    SERVER_PROTOCOL: 'HTTP/1.1', HTTP_HOST: 'localhost'});
		const body = out.split(/\r?\n\r?\n/).slice(1).join('\n');
		console.log(`# ${argv.slice(1).join(' ')} on fd 0: ${out.split(/\r?\n/)[0]} ... ${body.replace(/^[^:]+/, 'SID')}`);
		assert.match(body, /^[0-9A-Za-z_-]+:\d+:\d+:[a-z-,]+$/, 'a handshake over FastCGI from fd 0');
	} catch (e) { failed = true; throw e; } finally {
		if (gw && gw.exitCode === null) {
			gw.kill('SIGTERM');
			await new Promise((r) => gw.on('exit', r));
		}
	}
});
