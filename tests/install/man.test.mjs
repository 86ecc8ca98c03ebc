/*
 * The man pages cannot drift from what they describe: siogate.conf(5) is
 * made from docs/configuration.md (scripts/man-conf.py) and must have a
 * section for every key of common/config.c's table; sio-gateway(8),
 * sio-wsd(8) and sioctl(8) must name every option (and sioctl every
 * command) that the program's --help prints. Every page formats without a
 * warning (groff -ww) and reads with man -l.
 *
 *   node --test tests/install/man.test.mjs        (make install-test)
 */
import {test, before} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, spawnSync} from 'node:child_process';
import {promisify} from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.BUILD || path.join(ROOT, 'build');
const MAN = path.join(BUILD, 'man');
const PAGES = ['siogate.conf.5', 'sio-gateway.8', 'sio-wsd.8', 'sioctl.8'];

before(async () => {
	await run('make', ['--no-print-directory', '-C', ROOT, `BUILD=${BUILD}`, 'all', 'man']);
});

/* The text of a page's source with roff's escapes undone: \- to -, fonts off. */
function plain(page) {
	return fs.readFileSync(path.join(MAN, page), 'utf8')
	    .replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '').replace(/\\e/g, '\\');
}

/* The keys of config.c's table: {"name", CONFIG_... */
function configKeys() {
	const src = fs.readFileSync(path.join(ROOT, 'common/config.c'), 'utf8');
	return [...src.matchAll(/^\s*\{"([a-z_]+)",\s*CONFIG_[A-Z]+/gm)].map((m) => m[1]);
}

/* Every option a program's --help shows (stdout or stderr, any status). */
function helpWords(prog) {
	const r = spawnSync(path.join(BUILD, prog), ['--help'], {encoding: 'utf8',
	    env: {PATH: process.env.PATH}});
	const text = r.stdout + r.stderr;
	assert.match(text, /usage/i, `${prog} --help prints a usage`);
	const opts = new Set([...text.matchAll(/(?:^|[\s[(|,])(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]));
	const cmds = new Set();
	if (prog === 'sioctl')
		for (const m of text.matchAll(/^ {2}([a-z]+)\b/gm)) cmds.add(m[1]);
	return {opts: [...opts], cmds: [...cmds]};
}

test('siogate.conf(5) has a section for every key of common/config.c', () => {
	const keys = configKeys();
	assert.ok(keys.length >= 30, `config.c's table read (${keys.length} keys)`);
	const page = plain('siogate.conf.5');
	const missing = keys.filter((k) => !new RegExp(`^\\.SS ${k}$`, 'm').test(page));
	assert.deepEqual(missing, [], 'keys without a section in docs/configuration.md, so in siogate.conf(5)');
	console.log(`# siogate.conf(5): ${keys.length} keys, each a section`);
});

for (const prog of ['sio-gateway', 'sio-wsd', 'sioctl']) {
	test(`${prog}(8) names every option of ${prog} --help`, () => {
		const {opts, cmds} = helpWords(prog);
		const page = plain(`${prog}.8`);
		const missing = [...opts, ...cmds].filter((w) =>
		    !new RegExp(`(^|[^\\w-])${w.replace(/[-]/g, '\\-')}([^\\w-]|$)`, 'm').test(page));
		assert.deepEqual(missing, [], `in --help, not in ${prog}.8`);
		console.log(`# ${prog}(8): ${opts.join(' ')}${cmds.length ? '; commands ' + cmds.join(' ') : ''}`);
	});
}

test('every page formats without a warning and reads with man -l', async () => {
	for (const page of PAGES) {
		const f = path.join(MAN, page);
		const g = spawnSync('groff', ['-t', '-man', '-Tutf8', '-ww', '-z', f], {encoding: 'utf8'});
		assert.equal(g.status, 0, `groff ${page}`);
		assert.equal(g.stderr, '', `groff -ww ${page}: no warnings`);
		const {stdout} = await run('man', ['-l', '-Tutf8', f], {env: {...process.env, MANWIDTH: '80'}});
		const name = page.replace(/\.\d$/, '').toUpperCase();
		assert.ok(stdout.includes(name), `man -l ${page} shows its title`);
	}
});
