/*
 * Follows docs/guide.md: `make install PREFIX=<tmp>/prefix`, then, in a
 * folder outside the tree, the guide's myapp.c (taken from the guide's C
 * block, so the document cannot drift from what is tested) compiled with
 * the guide's cc line and PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, the
 * guide's config (paths moved into the temporary folder) and page, served
 * behind lighttpd by the installed share/siogate/scripts/webserver.sh with
 * the installed bin/sio-gateway and bin/sio-wsd. socket.io-client 0.9.16
 * from node_modules talks to it over xhr-polling and websocket: on_open
 * reads ?name=, `hello` is acked with [greeting, count], a message reaches
 * every session as "name: text", ?name=nobody is refused with 403. Last,
 * `make uninstall PREFIX=...` leaves no file in the prefix. What it shares
 * with the test of docs/migrating.md is in doc.mjs.
 *
 *   node --test tests/install/        (make install-test)
 *
 * Environment (optional): INSTALL_TIMEOUT ms per wait (default 10000),
 * KEEP=1 keeps the temporary folder. The folder is kept when a test fails.
 */
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import {ROOT, TIMEOUT, run, doc, files, until, scratch, install, buildPlugin,
	writeConfig, serve, stopServing} from './doc.mjs';

const require = createRequire(import.meta.url);
const io = require('socket.io-client');
const {defaults, emitAck, shutdown, openSession, freePort, httpGet: get} =
	require('../lib/client.cjs');

const CLIENT = path.join(ROOT, 'node_modules/socket.io-client/dist/socket.io.js');
defaults.ms = TIMEOUT;

const S = scratch('install', 'myapp');   /* the guide's empty folder */
const PREFIX = S.prefix;
const VARDIR = S.vardir;
const PCPATH = S.pcpath;
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
	await install(PREFIX);
});

after(async () => {
	await stopServing(S);
	if (failed) S.keep();
	S.cleanup();
});

test('make install puts everything in the prefix', () => {
	try {
		const got = new Set(files(PREFIX));
		for (const f of ['bin/sio-gateway', 'bin/sio-wsd', 'bin/sioctl', 'include/siogate.h',
		    'lib/pkgconfig/siogate.pc', 'share/siogate/deploy/lighttpd.conf.in',
		    'share/siogate/deploy/nginx.conf.in', 'share/siogate/deploy/README.md',
		    'share/siogate/scripts/webserver.sh', 'share/siogate/examples/chat/chat.c',
		    'share/siogate/examples/chat/index.html', 'share/siogate/examples/chat/chat.so',
		    'share/doc/siogate/README.md', 'share/doc/siogate/docs/guide.md',
		    'share/doc/siogate/docs/api.md', 'share/doc/siogate/docs/configuration.md',
		    'share/doc/siogate/docs/migrating.md']) {
			assert.ok(got.has(f), `installed ${f}`);
		}
		for (const f of ['bin/sio-gateway', 'bin/sio-wsd', 'bin/sioctl'])
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

		/* 5. The page and the client script in the document root. */
		fs.writeFileSync(path.join(VARDIR, 'www/index.html'), page);
		fs.copyFileSync(CLIENT, path.join(VARDIR, 'www/socket.io.js'));

		/* 6. Serve it: the installed script, programs and lighttpd config. */
		const port = await freePort();
		const lconf = await serve(S, port, confPath);
		url = `http://127.0.0.1:${port}`;
		assert.ok(lconf.includes(path.join(PREFIX, 'bin/sio-gateway')), 'lighttpd spawns the installed gateway');
		assert.ok(!lconf.includes(ROOT + '/'), 'nothing from the source tree in the lighttpd config');

		const home = await get(url + '/');
		assert.equal(home.status, 200);
		assert.ok(home.body.includes('/socket.io.js'), 'the guide\'s page is served');
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
				await until(() => ann.messages.includes(line) && bob.messages.includes(line),
				    `'${line}' at both clients (ann ${JSON.stringify(ann.messages)}, bob ${JSON.stringify(bob.messages)})`);
			} catch (e) { failed = true; throw e; }
		});
	}
});

test('make uninstall leaves the prefix empty of siogate files', async () => {
	try {
		await run(S.webserver, ['stop', VARDIR]);
		await run('make', ['--no-print-directory', '-C', ROOT, 'uninstall', `PREFIX=${PREFIX}`]);
		assert.deepEqual(files(PREFIX), [], 'no file left');
		assert.ok(!fs.existsSync(path.join(PREFIX, 'share/siogate')), 'share/siogate removed');
		assert.ok(!fs.existsSync(path.join(PREFIX, 'share/doc/siogate')), 'share/doc/siogate removed');
		/* idempotent: again is fine */
		await run('make', ['--no-print-directory', '-C', ROOT, 'uninstall', `PREFIX=${PREFIX}`]);
	} catch (e) { failed = true; throw e; }
});
