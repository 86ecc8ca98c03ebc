// bind.test.mjs: bind_address behind lighttpd with the threaded FastCGI
// gateway (tests/wire covers it as CGI): a session answers only requests
// from its handshake's address. Loopback has every 127.x address, so the
// other client connects from 127.0.0.2.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {startServers, unframe} from '../lib/servers.mjs';

let s;
before(async () => { s = await startServers({bind_address: 'yes'}); });
after(async () => { await s?.stop(); });

// A GET from localAddress; resolves with the body once it holds want (the
// request is then dropped) or once it ends.
function get(path, localAddress, want = null) {
	return new Promise((resolve, reject) => {
		const req = http.get(s.base + path, {localAddress, agent: false}, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => {
				body += d;
				if (want !== null && body.includes(want)) {
					req.destroy();
					resolve(body);
				}
			});
			res.on('end', () => resolve(body));
		});
		req.setTimeout(10000, () => req.destroy(new Error(`GET ${path}: no answer`)));
		req.on('error', reject);
	});
}

test('a poll from another address gets 7:::1+0, one from the handshake\'s 1::', async () => {
	const sid = await s.handshake();
	assert.equal(await get(`/xhr-polling/${sid}?t=${Date.now()}`, '127.0.0.2'), '7:::1+0');
	assert.deepEqual(unframe(await get(`/xhr-polling/${sid}?t=${Date.now()}`, '127.0.0.1')), ['1::']);
});

test('an htmlfile stream from the handshake\'s address opens with 1::', async () => {
	const sid = await s.handshake();
	const body = await get(`/htmlfile/${sid}?t=${Date.now()}`, '127.0.0.1', '_("1::")');
	assert.match(body, /<script>_\("1::"\);<\/script>/);
});
