/*
 * The systemd units and the tmpfiles.d entry as `make install` writes them
 * for PREFIX=/usr, staged in a temporary root with what they name (the
 * programs at their ExecStart paths, /bin/kill, the man pages of
 * Documentation=) and the host's own systemd units, checked there by
 * `systemd-analyze verify --root` (any message fails); then read:
 * LimitNOFILE above max_websockets' default, the users, the socket unit's
 * fd-0 pairing, the tmpfiles.d entry. systemd is not
 * PID 1 in the test machines, so the units are not started here; the
 * package test runs their command lines in a clean root.
 *
 *   node --test tests/package/units.test.mjs      (make package-test)
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, spawnSync} from 'node:child_process';
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
