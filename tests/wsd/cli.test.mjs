// cli.test.mjs: the command lines of every installed program (sio-gateway,
// sio-wsd, sioctl), as a service manager and an operator see them:
// --version prints "PROGRAM siogate VERSION", --help prints the usage with
// its "Exit status:" section to stdout and exits 0, a bad argument exits 64
// (EX_USAGE) with the usage on stderr, a configuration that cannot be read
// or has a bad or out-of-range setting exits 78 (EX_CONFIG), also under
// --check-config, and a runtime failure exits 1.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {BUILD, ROOT} from '../lib/servers.mjs';

const PROGS = ['sio-gateway', 'sio-wsd', 'sioctl'];
const VERSION = /#define SIOGATE_VERSION "([^"]+)"/.exec(
	fs.readFileSync(path.join(ROOT, 'common/siogate.h'), 'utf8'))[1];
let dir;

// Runs a program with args, without SIOGATE_CONF from the caller's
// environment; {code, stdout, stderr}.
function run(prog, args, env = {}) {
	const e = {...process.env, ...env};
	delete e.SIOGATE_CONF;
	Object.assign(e, env);
	const r = spawnSync(path.join(BUILD, prog), args, {encoding: 'utf8', env: e, timeout: 20000});
	if (r.error) throw r.error;
	return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

// The arguments that make prog read conf and stop: the servers check it,
// sioctl lists the sessions.
const checkArgs = (prog, conf) => (prog === 'sioctl' ? ['-c', conf, 'list'] : ['-c', conf, '--check-config']);

function conf(name, text) {
	const f = path.join(dir, name);
	fs.writeFileSync(f, text);
	return f;
}

before(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-cli.'));
});
after(() => fs.rmSync(dir, {recursive: true, force: true}));

for (const prog of PROGS) {
	test(`${prog} --version prints its name, siogate and the version, exit 0`, () => {
		const r = run(prog, ['--version']);
		console.log(`${prog} --version: ${JSON.stringify(r.stdout)} (exit ${r.code})`);
		assert.equal(r.code, 0);
		assert.equal(r.stdout, `${prog} siogate ${VERSION}\n`);
		assert.equal(r.stderr, '');
	});

	test(`${prog} --help prints the usage and the exit statuses to stdout, exit 0`, () => {
		const r = run(prog, ['--help']);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(r.stderr, '');
		assert.match(r.stdout, new RegExp(`^usage: ${prog} `));
		assert.match(r.stdout, /Exit status:/);
		for (const n of ['64', '78']) assert.match(r.stdout, new RegExp(`\\b${n}\\b`), `--help names status ${n}`);
		assert.match(r.stdout, /\/siogate\.conf/, 'names the default configuration file');
	});

	test(`${prog} with a bad argument exits 64 with the usage on stderr`, () => {
		const r = run(prog, ['--no-such-option']);
		console.log(`${prog} --no-such-option: exit ${r.code}`);
		assert.equal(r.code, 64);
		assert.equal(r.stdout, '');
		assert.match(r.stderr, /no-such-option/);
		assert.match(r.stderr, /usage:/);
	});

	test(`${prog}: a configuration error is exit 78 (unreadable, unparsable, out of range, no app)`, () => {
		const cases = {
			missing: path.join(dir, 'absent.conf'),
			unparsable: conf(`${prog}-syntax.conf`, 'this line has no equals sign\n'),
			'out of range': conf(`${prog}-range.conf`, 'max_sessions = 0\n'),
			'unknown key': conf(`${prog}-key.conf`, 'no_such_key = 1\n'),
			'no such app': conf(`${prog}-app.conf`, 'app = no-such-app\n'),
			'bound keys': conf(`${prog}-bounds.conf`, 'heartbeat_interval = 60\nheartbeat_timeout = 30\n'),
		};
		for (const [what, file] of Object.entries(cases)) {
			const r = run(prog, checkArgs(prog, file));
			console.log(`${prog} ${what}: exit ${r.code}: ${r.stderr.trim()}`);
			assert.equal(r.code, 78, `${what}: ${r.stderr}`);
			assert.match(r.stderr, /\S/, `${what}: says why`);
		}
		// SIOGATE_CONF is a configuration too
		const r = run(prog, prog === 'sioctl' ? ['list'] : ['--check-config'],
			{SIOGATE_CONF: cases['out of range']});
		assert.equal(r.code, 78, r.stderr);
		assert.match(r.stderr, /max_sessions/);
	});
}

test('sio-gateway and sio-wsd --check-config with a good file: exit 0, "configuration ok"', () => {
	const good = conf('good.conf', `database = ${dir}/good.db\nrun_dir = ${dir}/run\napp = testapp\n`);
	for (const prog of ['sio-gateway', 'sio-wsd']) {
		const r = run(prog, ['-c', good, '--check-config']);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(r.stdout, `${prog}: configuration ok\n`);
	}
});

test('a runtime failure is exit 1: a database that cannot be opened, a session that is not there', () => {
	fs.mkdirSync(path.join(dir, 'run'), {recursive: true});
	const bad = conf('nodb.conf', `database = ${dir}/no/such/dir/x.db\nrun_dir = ${dir}/run\n`);
	const gw = run('sio-gateway', ['-c', bad, '--listen', `${dir}/gw.sock`]);
	console.log(`sio-gateway, database in a missing directory: exit ${gw.code}`);
	assert.equal(gw.code, 1, gw.stderr);
	const wsd = run('sio-wsd', ['-c', bad, '--listen', '127.0.0.1:1']);
	console.log(`sio-wsd, database in a missing directory: exit ${wsd.code}`);
	assert.equal(wsd.code, 1, wsd.stderr);
	const good = conf('ctl.conf', `database = ${dir}/ctl.db\nrun_dir = ${dir}/run\n`);
	const ctl = run('sioctl', ['-c', good, 'show', 'nosuchsession']);
	assert.equal(ctl.code, 1, ctl.stderr);
});

test('relative paths in the file are taken from its directory, not the working directory', () => {
	const sub = path.join(dir, 'etc');
	fs.mkdirSync(path.join(sub, 'data'), {recursive: true});
	fs.mkdirSync(path.join(sub, 'run'), {recursive: true});
	fs.writeFileSync(path.join(sub, 'siogate.conf'), 'database = data/rel.db\nrun_dir = run\n');
	// sioctl opens (creates) the database: it must appear next to the file
	const r = spawnSync(path.join(BUILD, 'sioctl'), ['-c', 'etc/siogate.conf', 'list'],
		{cwd: dir, encoding: 'utf8', env: {...process.env, SIOGATE_CONF: ''}});
	assert.equal(r.status, 0, r.stderr);
	assert.ok(fs.existsSync(path.join(sub, 'data/rel.db')), 'database created next to the file');
	assert.ok(!fs.existsSync(path.join(dir, 'data/rel.db')), 'not in the working directory');
});
