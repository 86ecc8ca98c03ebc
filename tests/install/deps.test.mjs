/*
 * scripts/deps.sh leaves no policy-rc.d behind, whatever way it ends: an
 * apt-get that fails, TERM or HUP while apt-get runs; and one that was
 * there before is not its own, so it stays. apt-get, dpkg-query and sudo
 * are stand-ins on PATH (every package "missing"; apt-get notes whether
 * the policy file exists while it runs, then fails or blocks), and
 * POLICY_RC_D points into a temporary folder: nothing is installed and
 * the machine's /usr/sbin is not touched. --check installs nothing and
 * prints the apt-get line.
 *
 *   node --test tests/install/        (make install-test)
 */
import {test, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {until} from '../lib/until.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPS = path.join(ROOT, 'scripts/deps.sh');
const TIMEOUT = Number(process.env.INSTALL_TIMEOUT || 10000);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-deps-'));
let failed = false;

after(() => {
	if (!failed && process.env.KEEP !== '1') fs.rmSync(TMP, {recursive: true, force: true});
	else console.log(`# files kept in ${TMP}`);
});

/* A folder of stand-ins; apt-get's install does `mode` (fail | block). */
function fakes(name, mode) {
	const dir = path.join(TMP, name);
	const bin = path.join(dir, 'bin');
	fs.mkdirSync(bin, {recursive: true});
	const policy = path.join(dir, 'policy-rc.d');
	const seen = path.join(dir, 'apt-get.seen');
	const write = (f, body) => fs.writeFileSync(path.join(bin, f), `#!/bin/sh\n${body}\n`, {mode: 0o755});
	write('dpkg-query', 'exit 1');
	write('sudo', 'exec "$@"');
	write('apt-get', `[ "$1" = install ] || exit 0
if [ -x '${policy}' ]; then echo policy >'${seen}'; else echo none >'${seen}'; fi
${mode === 'block' ? 'exec sleep infinity' : 'exit 100'}`);
	return {dir, bin, policy, seen};
}

/* Runs deps.sh SET with the stand-ins first on PATH, in a process group
 * of its own (a supervisor's TERM reaches the group); resolves with its
 * exit code or signal and output. */
function deps(f, args) {
	const p = spawn(DEPS, args, {
		detached: true,
		stdio: ['ignore', 'pipe', 'pipe'],
		env: {...process.env, PATH: `${f.bin}:${process.env.PATH}`, POLICY_RC_D: f.policy},
	});
	let out = '';
	p.stdout.on('data', (d) => { out += d; });
	p.stderr.on('data', (d) => { out += d; });
	p.done = new Promise((resolve) => p.on('close', (code, sig) => resolve({code, sig, out})));
	return p;
}

async function check(t, fn) {
	try { await fn(); } catch (e) { failed = true; throw e; }
}

test('a failed install removes the policy-rc.d it wrote', (t) => check(t, async () => {
	const f = fakes('fail', 'fail');
	const r = await deps(f, ['run']).done;
	console.log(`# deps.sh run with a failing apt-get: exit ${r.code}; ` +
	    `policy-rc.d during the install: ${fs.readFileSync(f.seen, 'utf8').trim()}`);
	assert.notEqual(r.code, 0, 'deps.sh fails with apt-get');
	assert.equal(fs.readFileSync(f.seen, 'utf8').trim(), 'policy', 'policy-rc.d is in place while apt-get runs');
	assert.equal(fs.existsSync(f.policy), false, 'no policy-rc.d left');
}));

for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT']) {
	test(`${sig} during the install removes the policy-rc.d`, (t) => check(t, async () => {
		const f = fakes(sig, 'block');
		const p = deps(f, ['test']);
		await until('apt-get install to start', () => fs.existsSync(f.seen), TIMEOUT);
		assert.equal(fs.readFileSync(f.seen, 'utf8').trim(), 'policy');
		process.kill(-p.pid, sig);
		const r = await p.done;
		console.log(`# deps.sh test, ${sig} to its group during apt-get: ` +
		    `exit ${r.code ?? r.sig}, policy-rc.d left: ${fs.existsSync(f.policy)}`);
		assert.notEqual(r.code, 0);
		assert.equal(fs.existsSync(f.policy), false, 'no policy-rc.d left');
	}));
}

test('a policy-rc.d that was there before stays', (t) => check(t, async () => {
	const f = fakes('theirs', 'fail');
	fs.writeFileSync(f.policy, '#!/bin/sh\nexit 0\n', {mode: 0o755});
	const r = await deps(f, ['bench']).done;
	assert.notEqual(r.code, 0);
	assert.equal(fs.readFileSync(f.policy, 'utf8'), '#!/bin/sh\nexit 0\n', 'left as it was');
}));

test('--check installs nothing and prints what is missing per set', (t) => check(t, async () => {
	const f = fakes('check', 'fail');
	const sets = {};
	for (const set of ['build', 'run', 'test', 'bench']) {
		const r = await deps(f, ['--check', set]).done;
		assert.equal(r.code, 1, `--check ${set} fails when packages are missing`);
		const m = /apt-get install ([^(\n]*)/.exec(r.out);
		assert.ok(m, `--check ${set} prints the apt-get line: ${r.out}`);
		sets[set] = m[1].trim().split(/\s+/);
	}
	assert.equal(fs.existsSync(f.seen), false, 'apt-get was not run');
	console.log(`# sets: ${Object.entries(sets).map(([k, v]) => `${k} ${v.length}`).join(', ')}`);
	/* Each set holds the one before it; only what each command needs. */
	const has = (set, pkgs) => pkgs.every((p) => sets[set].includes(p));
	assert.ok(has('build', ['libfcgi-dev', 'libwebsockets-dev', 'libsqlite3-dev', 'libjansson-dev']));
	assert.ok(!sets.build.includes('lighttpd') && !sets.build.includes('chromium'));
	assert.ok(has('run', [...sets.build, 'lighttpd']));
	assert.ok(!sets.run.includes('chromium') && !sets.run.includes('apache2'),
	    'make run does not need chromium or apache2');
	assert.ok(has('test', [...sets.run, 'chromium', 'apache2', 'nginx-light', 'libcunit1-dev']));
	assert.ok(has('bench', [...sets.test, 'libuv1-dev', 'linux-perf']));
	const bad = await deps(f, ['nonsense']).done;
	assert.equal(bad.code, 64, 'an unknown set is a usage error');
}));
