/*
 * The Debian package on a clean root: `make deb`, a fresh Debian 12
 * minbase root with lighttpd (tests/package/root.sh, cached under
 * var/package/), `dpkg -i` of the .deb and `apt-get install -f` for its
 * dependencies inside it; then what the package installed is checked
 * (conffile, user, directories, man pages, units), and in a network
 * namespace of the test's own the installed programs are started with
 * their units' command lines and users (no systemd in a chroot), with the
 * run directory made from the installed tmpfiles.d entry, and lighttpd
 * with the installed snippet enabled (lighty-enable-mod). The chat demo
 * is then used from that namespace (nsenter --net) by chat-client.mjs:
 * the page, a handshake, two socket.io-client 0.9.16 users over
 * xhr-polling and over websocket. What was checked is printed.
 *
 *   node --test tests/package/          (make package-test; root)
 *
 * Environment (optional): PACKAGE_TIMEOUT ms per wait (default 15000),
 * KEEP=1 keeps the root.
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, spawn} from 'node:child_process';
import {promisify} from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {until} from '../lib/until.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.BUILD || path.join(ROOT, 'build');
const CACHE = path.join(ROOT, 'var/package');
const CHROOT = path.join(CACHE, 'root');
const TIMEOUT = Number(process.env.PACKAGE_TIMEOUT || 15000);
const started = [];   /* child processes this test started */
let holder;           /* the process holding the network namespace */
let debs = [];

async function sh(cmd, opts = {}) {
	return run('sh', ['-ec', cmd], {maxBuffer: 1 << 26, ...opts});
}
/* A command inside the root (and, once made, its network namespace). */
async function inRoot(cmd, {net = false} = {}) {
	const pre = net ? ['nsenter', `--net=/proc/${holder.pid}/ns/net`] : [];
	const argv = [...pre, 'chroot', CHROOT, 'sh', '-ec', cmd];
	return run(argv[0], argv.slice(1), {maxBuffer: 1 << 26,
	    env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8',
	        DEBIAN_FRONTEND: 'noninteractive'}});
}
function rooted(p) { return path.join(CHROOT, p); }

/* The command line of an installed unit's ExecStart=, and its user and group. */
function unit(name) {
	const text = fs.readFileSync(rooted(`lib/systemd/system/${name}`), 'utf8');
	const get = (k) => (text.match(new RegExp(`^${k}=(.*)$`, 'm')) || [])[1];
	return {exec: get('ExecStart'), user: get('User'), group: get('Group'),
	    nofile: Number(get('LimitNOFILE'))};
}

/* A long-running program inside the root and the namespace, as user:group. */
function startInRoot(name, argv, userspec) {
	const log = fs.openSync(path.join(CACHE, `${name}.log`), 'w');
	const args = [`--net=/proc/${holder.pid}/ns/net`, 'chroot'];
	if (userspec) args.push(`--userspec=${userspec}`);
	args.push(CHROOT, ...argv);
	const p = spawn('nsenter', args, {stdio: ['ignore', log, log],
	    env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin'}});
	started.push(p);
	return p;
}

before(async () => {
	const d = await sh(`make --no-print-directory -C ${ROOT} deb 2>&1 | tail -3`);
	debs = fs.readdirSync(path.join(BUILD, 'deb')).filter((f) => f.endsWith('.deb') && !f.includes('-dbgsym_'));
	console.log(`# built: ${debs.join(' ')}\n# ${d.stdout.trim().split('\n').pop()}`);
	await run(path.join(ROOT, 'tests/package/root.sh'), [CACHE, CHROOT], {maxBuffer: 1 << 24});
});

after(async () => {
	for (const p of started.reverse()) if (p.exitCode === null) p.kill('SIGTERM');
	await Promise.all(started.map((p) => p.exitCode !== null ? null :
	    new Promise((r) => { p.on('exit', r); setTimeout(r, TIMEOUT); })));
	if (holder && holder.exitCode === null) holder.kill('SIGKILL');
	if (process.env.KEEP !== '1')
		await run(path.join(ROOT, 'tests/package/root.sh'), ['--clean', CHROOT]);
	else console.log(`# root kept in ${CHROOT}`);
});

test('dpkg -i in a clean Debian 12 root, then apt-get install -f', async () => {
	assert.ok(debs.length > 0, 'make deb built a .deb');
	fs.mkdirSync(rooted('tmp/debs'), {recursive: true});
	for (const f of debs) fs.copyFileSync(path.join(BUILD, 'deb', f), rooted(`tmp/debs/${f}`));
	const before = await inRoot('dpkg-query -W -f="\\${Package}\\n" | wc -l');
	const first = await inRoot('dpkg -i /tmp/debs/*.deb 2>&1 || echo DEPENDS_MISSING');
	console.log(`# dpkg -i: ${/DEPENDS_MISSING/.test(first.stdout) ? 'dependencies missing, as expected on a clean root' : 'installed'}`);
	await inRoot('apt-get update -qq && apt-get install -f -y -qq >/dev/null 2>&1');
	const st = await inRoot('dpkg-query -W -f="\\${Status} \\${Version}" siogate');
	assert.match(st.stdout, /^install ok installed /);
	const after = await inRoot('dpkg-query -W -f="\\${Package}\\n" | wc -l');
	const deps = await inRoot('dpkg-query -W -f="\\${Depends}" siogate');
	console.log(`# ${st.stdout}; packages ${before.stdout.trim()} -> ${after.stdout.trim()}; Depends: ${deps.stdout}`);
	for (const lib of ['libjansson4', 'libsqlite3-0', 'libfcgi0ldbl', 'libwebsockets17'])
		assert.match(deps.stdout, new RegExp(`\\b${lib}\\b`), `Depends names ${lib} (shlibs)`);
});

test('what the package installed', async () => {
	for (const f of ['usr/sbin/sio-gateway', 'usr/sbin/sio-wsd', 'usr/bin/sioctl',
	    'usr/include/siogate.h', 'usr/lib/pkgconfig/siogate.pc', 'usr/lib/siogate/chat.so',
	    'usr/share/siogate/examples/chat/index.html', 'usr/share/siogate/ctl/push.php',
	    'usr/share/siogate/ctl/siogate.php', 'usr/share/siogate/ctl/siogate.py',
	    'usr/share/siogate/schema/schema.sql', 'usr/share/doc/siogate/docs/service.md.gz',
	    'usr/share/man/man5/siogate.conf.5.gz', 'usr/share/man/man8/sio-gateway.8.gz',
	    'usr/share/man/man8/sio-wsd.8.gz', 'usr/share/man/man8/sioctl.8.gz',
	    'lib/systemd/system/sio-wsd.service', 'lib/systemd/system/sio-gateway.service',
	    'lib/systemd/system/sio-gateway-activated.socket', 'usr/lib/tmpfiles.d/siogate.conf',
	    'etc/siogate/siogate.conf', 'etc/lighttpd/conf-available/50-siogate.conf'])
		assert.ok(fs.existsSync(rooted(f)), `installed /${f}`);
	const conffiles = (await inRoot('dpkg-query -W -f="\\${Conffiles}" siogate')).stdout;
	assert.match(conffiles, /^ \/etc\/siogate\/siogate\.conf [0-9a-f]{32}$/m, 'the config is a conffile');
	const user = (await inRoot('id siogate')).stdout.trim();
	assert.match(user, /gid=\d+\(www-data\)/, 'user siogate in group www-data');
	const st = fs.statSync(rooted('var/lib/siogate'));
	const ids = (await inRoot('echo $(id -u siogate) $(getent group www-data | cut -d: -f3)')).stdout.trim().split(' ').map(Number);
	assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [...ids, 0o750], '/var/lib/siogate siogate:www-data 0750');
	const check = await inRoot('sio-gateway -c /etc/siogate/siogate.conf --check-config && sio-wsd -c /etc/siogate/siogate.conf --check-config');
	console.log(`# conffiles:${conffiles.trimEnd()}\n# ${user}\n# ${check.stdout.trim().replace(/\n/g, '; ')}`);
	const man = (await inRoot('zcat /usr/share/man/man5/siogate.conf.5.gz')).stdout;
	assert.match(man, /^\.SS max_websockets$/m, 'siogate.conf(5) documents max_websockets');
});

test('the chat demo behind the installed lighttpd snippet, in a namespace of its own', async (t) => {
	/* The demo's configuration, as an operator edits the conffile. */
	await inRoot("sed -i 's/^#app = .*/app = chat/' /etc/siogate/siogate.conf && grep -q '^app = chat$' /etc/siogate/siogate.conf");
	await inRoot('cp /usr/share/siogate/examples/chat/index.html /var/www/html/index.html');
	if (!fs.existsSync(rooted('usr/share/siogate/client/socket.io.js')))
		fs.copyFileSync(path.join(ROOT, 'node_modules/socket.io-client/dist/socket.io.js'),
		    rooted('var/www/html/socket.io.js'));
	const en = await inRoot('lighty-enable-mod siogate 2>&1; ls /etc/lighttpd/conf-enabled/');
	assert.match(en.stdout, /50-siogate\.conf/, 'lighty-enable-mod siogate');

	holder = spawn('unshare', ['-n', 'sleep', '100000'], {stdio: 'ignore'});
	await until('the network namespace', () => fs.readlinkSync(`/proc/${holder.pid}/ns/net`) !==
	    fs.readlinkSync('/proc/self/ns/net'), TIMEOUT);
	await run('nsenter', [`--net=/proc/${holder.pid}/ns/net`, 'ip', 'link', 'set', 'lo', 'up']);

	/* The run directory as systemd-tmpfiles would make it at boot. */
	const tmpf = fs.readFileSync(rooted('usr/lib/tmpfiles.d/siogate.conf'), 'utf8');
	const made = [];
	for (const l of tmpf.split('\n').filter((x) => /^d\s/.test(x))) {
		const [, p, mode, user, group] = l.split(/\s+/);
		await inRoot(`install -d -m ${mode} -o ${user} -g ${group} ${p}`);
		made.push(`${p} ${mode} ${user}:${group}`);
	}
	console.log(`# tmpfiles.d: ${made.join(', ')}`);

	/* The units' command lines, users and groups. */
	for (const name of ['sio-wsd.service', 'sio-gateway.service']) {
		const u = unit(name);
		console.log(`# ${name}: ${u.user}:${u.group} ${u.exec} (LimitNOFILE=${u.nofile})`);
		assert.ok(u.nofile > 0);
		startInRoot(name, u.exec.split(/\s+/), `${u.user}:${u.group}`);
	}
	for (const s of ['gateway.sock', 'wsd.sock'])
		await until(`/run/siogate/${s}`, () => fs.existsSync(rooted(`run/siogate/${s}`)), TIMEOUT);
	startInRoot('lighttpd', ['lighttpd', '-D', '-f', '/etc/lighttpd/lighttpd.conf']);
	await until('lighttpd on port 80 in the namespace', async () => {
		try {
			await inRoot('curl -fsS -o /dev/null http://127.0.0.1/', {net: true});
			return true;
		} catch { return false; }
	}, TIMEOUT);
	const hs = await inRoot('curl -fsS "http://127.0.0.1/socket.io/1/?t=1"', {net: true});
	assert.match(hs.stdout, /^[0-9A-Za-z_-]+:\d+:\d+:[a-z-,]+$/, 'a handshake from curl in the root');
	console.log(`# curl in the root: handshake ${hs.stdout.replace(/^[^:]+/, 'SID')}`);

	for (const transport of ['xhr-polling', 'websocket']) {
		await t.test(transport, async () => {
			const {stdout} = await run('nsenter', [`--net=/proc/${holder.pid}/ns/net`,
			    process.execPath, path.join(ROOT, 'tests/package/chat-client.mjs'),
			    'http://127.0.0.1', transport], {env: {...process.env, PACKAGE_TIMEOUT: String(TIMEOUT)}});
			const seen = JSON.parse(stdout);
			console.log(`# ${transport}: ${stdout.trim()}`);
			assert.deepEqual(seen.page, {status: 200, socketio: true, chat: true});
			assert.equal(seen.handshake.status, 200);
			assert.deepEqual(seen.used, [transport, transport]);
			assert.equal(seen.bob_got, `ann-${transport}: hello from ${transport}`);
		});
	}
});
