/*
 * What the tests of the documents share (docs/guide.md in install.test.mjs,
 * docs/migrating.md in migrate.test.mjs), so that both follow their
 * document the same way: the document's fenced blocks, `make install` into
 * a temporary prefix, the document's plugin built in a folder outside the
 * tree with the document's cc line and PKG_CONFIG_PATH=<prefix>/lib/pkgconfig,
 * the document's config with its /srv/NAME paths moved into that folder,
 * and a web server (lighttpd unless told: nginx, apache or apache-cgi)
 * started by the installed share/siogate/scripts/webserver.sh with the
 * installed sbin/sio-gateway and sbin/sio-wsd.
 *
 * Environment (optional): INSTALL_TIMEOUT ms per wait (default 10000),
 * KEEP=1 keeps the temporary folder (it is kept when a test fails).
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {until} from '../lib/until.mjs';

export {until};

export const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TIMEOUT = Number(process.env.INSTALL_TIMEOUT || 10000);

/* The fenced blocks of docs/NAME with their language; pick() finds the
 * first of a language whose text matches re, or fails naming what. */
export function doc(name) {
	const md = fs.readFileSync(path.join(ROOT, 'docs', name), 'utf8');
	const all = [];
	const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
	let m;
	while ((m = re.exec(md))) all.push({lang: m[1], text: m[2]});
	return {
		name, md, all,
		pick(lang, match, what) {
			const b = all.find((x) => x.lang === lang && match.test(x.text));
			assert.ok(b, `docs/${name} has no ${what} block`);
			return b.text;
		},
	};
}

/* Every file (not directory) under dir, relative, sorted. */
export function files(dir) {
	const out = [];
	if (!fs.existsSync(dir)) return out;
	for (const e of fs.readdirSync(dir, {withFileTypes: true, recursive: true})) {
		if (!e.isDirectory()) out.push(path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
	}
	return out.sort();
}

/*
 * A temporary folder holding the prefix and the document's folder APP
 * (its var/ too). keep() marks it to be left for a look; cleanup() removes
 * it unless kept or KEEP=1.
 */
export function scratch(tag, app) {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `siogate-${tag}-`));
	const prefix = path.join(tmp, 'prefix');
	const appdir = path.join(tmp, app);
	let kept = false;
	return {
		tmp, prefix, appdir,
		vardir: path.join(appdir, 'var'),
		pcpath: path.join(prefix, 'lib/pkgconfig'),
		webserver: path.join(prefix, 'share/siogate/scripts/webserver.sh'),
		/* SYSCONFDIR and LOCALSTATEDIR moved into the folder too */
		etc: path.join(tmp, 'etc/siogate'),
		state: path.join(tmp, 'var/lib/siogate'),
		dirs: [`PREFIX=${prefix}`, `SYSCONFDIR=${path.join(tmp, 'etc/siogate')}`,
		    `LOCALSTATEDIR=${path.join(tmp, 'var/lib/siogate')}`],
		/* the daemons in sbin/, sioctl in bin/ */
		bin: (p) => path.join(prefix, /^sio-(gateway|wsd)$/.test(p) ? 'sbin' : 'bin', p),
		keep() { kept = true; },
		cleanup() {
			if (!kept && process.env.KEEP !== '1') fs.rmSync(tmp, {recursive: true, force: true});
			else console.log(`# files kept in ${tmp}`);
		},
	};
}

/* make install into s's folder (make uninstall takes the same s.dirs). */
export async function install(s) {
	await run('make', ['--no-print-directory', '-C', ROOT, 'install', ...s.dirs],
	    {maxBuffer: 1 << 24});
}

/*
 * Runs the document's build line (the `cc -shared` line of its sh block)
 * in s.appdir against the installed header, then again warning-free
 * (-Wall -Wextra -Werror); checks that no siogate library is linked (the
 * sio_* functions stay undefined). Returns the path of the plugin.
 */
export async function buildPlugin(s, d, source, file) {
	fs.mkdirSync(s.appdir, {recursive: true});
	fs.writeFileSync(path.join(s.appdir, file), source);
	const build = d.pick('sh', /^cc -shared -fPIC/m, 'build')
	    .split('\n').find((l) => l.startsWith('cc -shared'));
	const out = build.match(/-o (\S+\.so)/);
	assert.ok(out, `docs/${d.name}'s cc line names its .so`);
	const env = {...process.env, PKG_CONFIG_PATH: s.pcpath};
	await run('sh', ['-ec', build], {cwd: s.appdir, env});
	const so = path.join(s.appdir, out[1]);
	assert.ok(fs.existsSync(so), `${out[1]} built`);
	await run('sh', ['-ec', build.replace('cc ', 'cc -Wall -Wextra -Werror ')
	    .replace(`-o ${out[1]}`, '-o strict.so')], {cwd: s.appdir, env});
	const nm = await run('nm', ['-D', '--undefined-only', so]);
	assert.match(nm.stdout, /\bsio_data_set\b/);
	return so;
}

/*
 * Writes the document's config with srv (its /srv/NAME folder) moved to
 * s.appdir, and extra lines after it; checks it with the installed
 * sio-gateway --check-config. Returns its path.
 */
export async function writeConfig(s, conf, srv, extra = '') {
	const file = path.join(s.appdir, 'siogate.conf');
	fs.writeFileSync(file, conf.replaceAll(`${srv}/var`, s.vardir)
	    .replaceAll(srv, s.appdir) + extra);
	await run(s.bin('sio-gateway'), ['-c', file, '--check-config']);
	return file;
}

/* The config webserver.sh writes for each server, in VARDIR. */
const SERVER_CONF = {lighttpd: 'lighttpd.conf', nginx: 'nginx.conf',
	apache: 'apache.conf', 'apache-cgi': 'apache.conf'};

/*
 * Starts server (lighttpd, nginx, apache = mod_proxy_fcgi or apache-cgi =
 * mod_cgid) on port with the installed script, programs and config, the
 * document root s.vardir/www, sio-gateway and sio-wsd on conf. One at a
 * time: stopServing() before the next. As root, nginx's and Apache's
 * workers and the CGI run as www-data (webserver.sh): they are let
 * through the temporary folder (0711, mkdtemp makes it 0700) to the
 * document root, the programs, the plugin and the database. Returns the
 * server's config as written.
 */
export async function serve(s, port, conf, server = 'lighttpd') {
	assert.ok(SERVER_CONF[server], `a server webserver.sh starts: ${server}`);
	if (server !== 'lighttpd' && process.getuid?.() === 0) fs.chmodSync(s.tmp, 0o711);
	await run(s.webserver, ['start', server, String(port), s.vardir], {
		cwd: s.appdir,
		env: {...process.env, GATEWAY: s.bin('sio-gateway'), WSD: s.bin('sio-wsd'),
		    SIOGATE_CONF: conf, DOCROOT: path.join(s.vardir, 'www')},
	});
	return fs.readFileSync(path.join(s.vardir, SERVER_CONF[server]), 'utf8');
}

export async function stopServing(s) {
	await run(s.webserver, ['stop', s.vardir]).catch(() => {});
	await run(path.join(ROOT, 'scripts/webserver.sh'), ['stop', s.vardir]).catch(() => {});
}
