// config.test.mjs: --check-config refuses a number the programs cannot
// honour (each key's bounds are in tests/test_config.c), naming the file,
// the line and the bound, in sio-gateway and sio-wsd alike; the largest
// accepted values pass.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {BUILD} from '../lib/servers.mjs';

let dir;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-config-')); });
after(() => { if (dir) fs.rmSync(dir, {recursive: true, force: true}); });

function check(program, text) {
	const conf = path.join(dir, 'siogate.conf');
	fs.writeFileSync(conf, text);
	const r = spawnSync(path.join(BUILD, program), ['-c', conf, '--check-config'], {encoding: 'utf8'});
	return {status: r.status, out: r.stdout + r.stderr, conf};
}

const refused = [
	['max_payload_packets = 2147483647', 'at most 65536'],
	['max_queue = 2147483647', 'at most 1000000'],
	['max_packet = 2048M', 'at most 1073741824'],
	['max_payload = 4194304k', 'at most 1073741824'],
	['max_buffered_per_address = 2048M', 'at most 1073741824'],
];

for (const program of ['sio-gateway', 'sio-wsd']) {
	test(`${program} --check-config refuses numbers beyond what it can honour`, () => {
		for (const [line, bound] of refused) {
			const r = check(program, `# limits\n${line}\n`);
			assert.notEqual(r.status, 0, `${line}: refused`);
			assert.ok(r.out.includes(`${r.conf}:2:`) && r.out.includes(bound), `${line}: ${r.out}`);
		}
		const r = check(program, 'max_payload_packets = 64k\nmax_queue = 1000000\n' +
		                'max_payload = 1024M\nmax_packet = 1024M\nmax_buffered = 1024M\n' +
		                'max_buffered_per_address = 1024M\n');
		assert.equal(r.status, 0, r.out);
	});
}

// One address's share of max_buffered lies between max_packet and
// max_buffered; refused after the file is read, naming both.
test('sio-wsd --check-config refuses max_buffered_per_address outside max_packet .. max_buffered', () => {
	for (const [text, why] of [
		['max_buffered_per_address = 512k\n', 'max_buffered_per_address (524288) must be at least max_packet (1048576)'],
		['max_buffered = 2M\nmax_buffered_per_address = 4M\n', 'and at most max_buffered (2097152)'],
	]) {
		const r = check('sio-wsd', text);
		assert.notEqual(r.status, 0, `${text}: refused`);
		assert.ok(r.out.includes(why), `${text}: ${r.out}`);
	}
	assert.equal(check('sio-wsd', 'max_buffered = 2M\nmax_buffered_per_address = 1M\n').status, 0);
});
