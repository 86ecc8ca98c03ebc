/*
 * Follows docs/guide.md: `make install PREFIX=<tmp>/prefix`, then, in a
 * folder outside the tree, the guide's myapp.c (taken from the guide's C
 * block, so the document cannot drift from what is tested) compiled with
 * the guide's cc line and PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, the
 * guide's config (paths moved into the temporary folder) and page, served
 * behind lighttpd by the installed share/siogate/scripts/webserver.sh with
 * the installed sbin/sio-gateway and sbin/sio-wsd. socket.io-client 0.9.16
 * from node_modules talks to it over xhr-polling and websocket: on_open
 * reads ?name=, `hello` is acked with [greeting, count], a message reaches
 * every session as "name: text", ?name=nobody is refused with 403. Last,
 * `make uninstall PREFIX=...` leaves no file in the prefix. SYSCONFDIR and
 * LOCALSTATEDIR are moved into the folder too. Apart, `make install
 * DESTDIR=<tmp>/stage PREFIX=/usr` stages the system layout of
 * docs/service.md (the Debian package's): it is checked file by file, a
 * second install keeps an edited siogate.conf, and `make uninstall` then
 * removes everything but that edited file.
 * What it shares with the test of docs/migrating.md is in doc.mjs.
 *
 *   node --test tests/install/        (make install-test)
 *
 * Environment (optional): INSTALL_TIMEOUT ms per wait (default 10000),
 * KEEP=1 keeps the temporary folder. The folder is kept when a test fails.
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {ROOT, TIMEOUT, run, doc, files, until, scratch, install, buildPlugin,
	writeConfig, serve, stopServing} from './doc.mjs';

import {io, defaults, emitAck,
	shutdown, openSession, freePort, httpGet as get} from '../lib/client.mjs';

const CLIENT = path.join(ROOT, 'node_modules/socket.io-client/dist');
defaults.ms = TIMEOUT;

const S = scratch('install', 'myapp');   /* the guide's empty folder */
const PREFIX = S.prefix;
const VARDIR = S.vardir;
const PCPATH = S.pcpath;
const ETC = S.etc;
const STATE = S.state;
const STAGE = path.join(S.tmp, 'stage');
const DIRS = S.dirs;
const SYSDIRS = ['PREFIX=/usr', 'SYSTEMDUNITDIR=/lib/systemd/system'];
let failed = false;
let url;

/* A session over transport, as the guide's page opens it (query name=). */
async function open(t, transport, name) {
	const messages = [];
	const {sock, nsp} = await openSession(io, url, transport, {
		query: 'name=' + encodeURIComponent(name),
		prepare: (s, n) => {
			t.after(() => shutdown(s));
			n[''].on('message', (m) => messages.push(m));
		},
	});
	return {nsp: nsp[''], sock, messages};
}

before(async () => {
	/* 1. Install. */
	await install(S);
});

after(async () => {
	await stopServing(S);
	if (failed) S.keep();
	S.cleanup();
});

test('make install puts everything in the prefix', () => {
	try {
		const got = new Set(files(PREFIX));
		for (const f of ['sbin/sio-gateway', 'sbin/sio-wsd', 'bin/sioctl', 'include/siogate.h',
		    'lib/pkgconfig/siogate.pc', 'share/siogate/deploy/lighttpd.conf.in',
		    'share/siogate/deploy/nginx.conf.in', 'share/siogate/deploy/README.md',
		    'share/siogate/scripts/webserver.sh', 'share/siogate/examples/chat/chat.c',
		    'share/siogate/examples/chat/index.html', 'lib/siogate/chat.so',
		    'share/siogate/client/socket.io.js', 'share/siogate/client/socket.io.js.gz',
		    'share/siogate/client/socket.io.min.js', 'share/siogate/client/WebSocketMain.swf',
		    'share/siogate/client/WebSocketMainInsecure.swf',
		    'share/doc/siogate/README.md', 'share/doc/siogate/docs/guide.md',
		    'share/doc/siogate/docs/api.md', 'share/doc/siogate/docs/configuration.md',
		    'share/doc/siogate/docs/migrating.md']) {
			assert.ok(got.has(f), `installed ${f}`);
		}
		for (const f of ['sbin/sio-gateway', 'sbin/sio-wsd', 'bin/sioctl'])
			assert.equal(fs.statSync(path.join(PREFIX, f)).mode & 0o777, 0o755, `${f} mode`);
		assert.equal(fs.statSync(path.join(PREFIX, 'include/siogate.h')).mode & 0o777, 0o644);
		assert.equal(fs.readFileSync(path.join(PREFIX, 'include/siogate.h'), 'utf8'),
		    fs.readFileSync(path.join(ROOT, 'common/siogate.h'), 'utf8'));
	} catch (e) { failed = true; throw e; }
});

test('pkg-config finds the installed header', async () => {
	try {
		const env = {...process.env, PKG_CONFIG_PATH: PCPATH};
		const {stdout} = await run('pkg-config', ['--cflags', 'siogate'], {env});
		assert.match(stdout, new RegExp(`-I${PREFIX}/include(\\s|$)`));
		const req = await run('pkg-config', ['--print-requires', 'siogate'], {env});
		assert.match(req.stdout, /jansson/);
	} catch (e) { failed = true; throw e; }
});

test('the guide\'s app, built outside the tree, served behind lighttpd, with the real client', async (t) => {
	try {
		/* 2. The guide's files, in an empty folder outside the tree. */
		const guide = doc('guide.md');
		const source = guide.pick('c', /^\/\* myapp\.c/, 'myapp.c');
		const page = guide.pick('html', /socket\.io\.js/, 'page');
		const conf = guide.pick('ini', /^app = /m, 'siogate.conf');
		fs.mkdirSync(path.join(VARDIR, 'www'), {recursive: true});

		/* 3. Build it with the guide's line, against the installed header. */
		const so = await buildPlugin(S, guide, source, 'myapp.c');
		assert.equal(so, path.join(S.appdir, 'myapp.so'));

		/* 4. The config, its paths moved into the folder. */
		const confPath = await writeConfig(S, conf, '/srv/myapp',
		    'polling_duration = 5\nflash_policy_port = 0\n');
		assert.match(fs.readFileSync(confPath, 'utf8'), new RegExp(`^app = ${so}$`, 'm'));
		await run(S.bin('sio-gateway'), ['-c', confPath, '--check-config']);

		/* 5. The page in the document root (the gateway serves the client). */
		fs.writeFileSync(path.join(VARDIR, 'www/index.html'), page);

		/* 6. Serve it: the installed script, programs and lighttpd config. */
		const port = await freePort();
		const lconf = await serve(S, port, confPath);
		url = `http://127.0.0.1:${port}`;
		assert.ok(lconf.includes(path.join(PREFIX, 'sbin/sio-gateway')), 'lighttpd spawns the installed gateway');
		assert.ok(!lconf.includes(ROOT + '/'), 'nothing from the source tree in the lighttpd config');

		const home = await get(url + '/');
		assert.equal(home.status, 200);
		assert.ok(home.body.includes('<script src="/socket.io/socket.io.js">'),
		    'the guide\'s page is served');
		/* the client, from the installed share/siogate/client (client_dir's
		 * compiled-in default: the config does not name it) */
		assert.doesNotMatch(fs.readFileSync(confPath, 'utf8'), /client_dir/);
		const js = await get(url + '/socket.io/socket.io.js');
		assert.equal(js.status, 200);
		/* lighttpd 1.4.69 says text/javascript (RFC 9239) */
		assert.match(js.type, /^(application|text)\/javascript/);
		assert.equal(js.body, fs.readFileSync(path.join(CLIENT, 'socket.io.js'), 'utf8'));
		const refused = await get(url + '/socket.io/1/?name=nobody&t=1');
		assert.equal(refused.status, 403, 'on_open refuses name=nobody');
	} catch (e) { failed = true; throw e; }

	for (const transport of ['xhr-polling', 'websocket']) {
		await t.test(transport, async (tt) => {
			try {
				const ann = await open(tt, transport, `ann-${transport}`);
				const bob = await open(tt, transport, `bob-${transport}`);
				/* event with ack: [greeting, count], the count in the session data */
				assert.deepEqual(await emitAck(ann.nsp, 'hello', 'hi'), [`Hello, ann-${transport}!`, 1]);
				assert.deepEqual(await emitAck(ann.nsp, 'hello', 'hi'), [`Hello, ann-${transport}!`, 2]);
				assert.deepEqual(await emitAck(bob.nsp, 'hello', 'hi'), [`Hello, bob-${transport}!`, 1]);
				/* message: to every session, the sender too */
				const line = `ann-${transport}: hi from ${transport}`;
				ann.nsp.send(`hi from ${transport}`);
				await until(`'${line}' at both clients (ann ${JSON.stringify(ann.messages)}, bob ${JSON.stringify(bob.messages)})`, () => ann.messages.includes(line) && bob.messages.includes(line), TIMEOUT);
			} catch (e) { failed = true; throw e; }
		});
	}
});

test('make uninstall leaves the prefix empty of siogate files', async () => {
	try {
		await run(S.webserver, ['stop', VARDIR]);
		await run('make', ['--no-print-directory', '-C', ROOT, 'uninstall', ...DIRS]);
		assert.deepEqual(files(PREFIX), [], 'no file left');
		assert.ok(!fs.existsSync(ETC), 'the config, unchanged, removed with its directory');
		assert.ok(!fs.existsSync(STATE), 'the empty data directory removed');
		assert.ok(!fs.existsSync(path.join(PREFIX, 'share/siogate')), 'share/siogate removed');
		assert.ok(!fs.existsSync(path.join(PREFIX, 'share/doc/siogate')), 'share/doc/siogate removed');
		/* idempotent: again is fine */
		await run('make', ['--no-print-directory', '-C', ROOT, 'uninstall', ...DIRS]);
	} catch (e) { failed = true; throw e; }
});

/* The system layout (docs/service.md), as the Debian package installs it. */
const LAYOUT = [
	'etc/siogate/siogate.conf',
	'lib/systemd/system/sio-gateway-activated.service',
	'lib/systemd/system/sio-gateway-activated.socket',
	'lib/systemd/system/sio-gateway.service',
	'lib/systemd/system/sio-wsd.service',
	'usr/bin/sioctl',
	'usr/include/siogate.h',
	'usr/lib/pkgconfig/siogate.pc',
	'usr/lib/tmpfiles.d/siogate.conf',
	'usr/sbin/sio-gateway',
	'usr/sbin/sio-wsd',
	'usr/share/doc/siogate/README.md',
	'usr/share/doc/siogate/siogate.conf.example',
	'usr/share/man/man5/siogate.conf.5',
	'usr/share/man/man8/sio-gateway.8',
	'usr/share/man/man8/sio-wsd.8',
	'usr/share/man/man8/sioctl.8',
	'usr/share/siogate/ctl/push.php',
	'usr/share/siogate/ctl/siogate.php',
	'usr/share/siogate/ctl/siogate.py',
	'usr/share/siogate/deploy/README.md',
	'usr/share/siogate/schema/schema.sql',
	'usr/share/siogate/scripts/webserver.sh',
];

test('make install DESTDIR= stages the system layout; uninstall keeps an edited config', async () => {
	try {
		const make = (...a) => run('make', ['--no-print-directory', '-C', ROOT, ...a,
		    `DESTDIR=${STAGE}`, ...SYSDIRS], {maxBuffer: 1 << 24});
		await make('install');
		const got = files(STAGE);
		for (const f of LAYOUT) assert.ok(got.includes(f), `staged /${f}`);
		const examples = fs.readdirSync(path.join(ROOT, 'examples'));
		for (const n of examples) {
			/* a C example is a plugin; a PHP one (app = bridge) its script */
			if (fs.existsSync(path.join(ROOT, 'examples', n, 'app.php')))
				assert.ok(got.includes(`usr/share/siogate/examples/${n}/app.php`), `${n}/app.php in share/`);
			else
				assert.ok(got.includes(`usr/lib/siogate/${n}.so`), `plugin ${n}.so in lib/siogate/`);
			assert.ok(!got.some((f) => f.startsWith('usr/share/') && f.endsWith('.so')), 'no .so under share/');
		}
		for (const f of ['docs/guide.md', 'docs/configuration.md'])
			assert.ok(got.includes(`usr/share/doc/siogate/${f}`), `doc ${f}`);
		const client = path.join(ROOT, 'build/client');
		if (fs.existsSync(client))
			for (const f of fs.readdirSync(client).filter((n) => !n.startsWith('.')))
				assert.ok(got.includes(`usr/share/siogate/client/${f}`), `client file ${f}`);
		/* only what the list, the examples, the docs and the client name */
		const known = (f) => LAYOUT.includes(f) || /^usr\/share\/siogate\/(examples|deploy|client)\//.test(f) ||
		    /^usr\/lib\/siogate\/[a-z]+\.so$/.test(f) || /^usr\/share\/doc\/siogate\/docs\/[\w-]+\.md$/.test(f);
		assert.deepEqual(got.filter((f) => !known(f)), [], 'nothing outside the layout');
		/* the data directory, made; the run directory left to tmpfiles.d */
		const st = fs.statSync(path.join(STAGE, 'var/lib/siogate'));
		assert.ok(st.isDirectory() && (st.mode & 0o777) === 0o750, 'var/lib/siogate 0750');
		assert.ok(!fs.existsSync(path.join(STAGE, 'run')), 'no run/ in the package');
		const tmpf = fs.readFileSync(path.join(STAGE, 'usr/lib/tmpfiles.d/siogate.conf'), 'utf8');
		assert.match(tmpf, /^d \/run\/siogate 0750 siogate www-data -$/m);
		/* the installed config names the system's directories */
		const conf = path.join(STAGE, 'etc/siogate/siogate.conf');
		const text = fs.readFileSync(conf, 'utf8');
		assert.match(text, /^database = \/var\/lib\/siogate\/siogate\.db$/m);
		assert.match(text, /^run_dir = \/run\/siogate$/m);
		const unit = fs.readFileSync(path.join(STAGE, 'lib/systemd/system/sio-gateway.service'), 'utf8');
		assert.match(unit, /^ExecStart=\/usr\/sbin\/sio-gateway -c \/etc\/siogate\/siogate\.conf --listen \/run\/siogate\/gateway\.sock$/m);
		const pc = fs.readFileSync(path.join(STAGE, 'usr/lib/pkgconfig/siogate.pc'), 'utf8');
		assert.match(pc, /^pluginsdir=\/usr\/lib\/siogate$/m);
		console.log(`# staged ${got.length} files for PREFIX=/usr`);

		/* an edited config is never overwritten, nor removed */
		fs.writeFileSync(conf, text + 'log_level = debug\n');
		const again = await make('install');
		assert.match(again.stdout, /siogate\.conf exists: kept/);
		assert.match(fs.readFileSync(conf, 'utf8'), /^log_level = debug$/m, 'kept the edit');
		await make('uninstall');
		assert.deepEqual(files(STAGE), ['etc/siogate/siogate.conf'], 'only the edited config left');
	} catch (e) { failed = true; throw e; }
});
