// bind-routes.test.mjs: bind_address on every route that takes a session
// id besides polling (bind.test.mjs): websocket and flashsocket on
// sio-wsd, straight and through lighttpd's proxy (which sends
// X-Forwarded-For; trusted_proxies = 127.0.0.1 names it) or its UNIX
// socket (whose peer is trusted), and the forced
// disconnect on the gateway. Loopback has every 127.x address: the
// handshakes come from 127.0.0.1, the other client from 127.0.0.2.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import {startServers, freePort, until, BUILD} from '../lib/servers.mjs';
import {rawUpgrade} from '../lib/wsclient.mjs';
import {connect as hixie} from '../lib/hixie.mjs';

let s, flashWsd, flashPort, wsdSock;

before(async () => {
	s = await startServers({bind_address: 'yes', trusted_proxies: '127.0.0.1',
		transports: 'websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling'});
	// a second sio-wsd on the same store: websocket on a UNIX socket (the
	// web server's way in), and a hixie-76 listener
	wsdSock = path.join(s.var, 'wsd2.sock');
	flashPort = await freePort();
	flashWsd = spawn(path.join(BUILD, 'sio-wsd'), ['-c', s.confFile,
		'--listen', wsdSock, '--flash-listen', `127.0.0.1:${flashPort}`],
	{stdio: 'ignore'});
	for (const o of [{port: flashPort, host: '127.0.0.1'}, {socketPath: wsdSock}])
		await until('the second sio-wsd', () => new Promise((resolve) => {
			const c = http.get({...o, path: '/'}, (res) => { res.resume(); resolve(true); });
			c.on('error', () => resolve(false));
		}), 10000);
});
after(async () => {
	if (flashWsd && flashWsd.exitCode === null) {
		const gone = new Promise((r) => flashWsd.on('exit', r));
		flashWsd.kill('SIGTERM');
		await gone;
	}
	await s?.stop();
});

function get(p, localAddress) {
	return new Promise((resolve, reject) => {
		const req = http.get(s.base + p, {localAddress, agent: false}, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({status: res.statusCode, body}));
		});
		req.setTimeout(10000, () => req.destroy(new Error(`GET ${p}: no answer`)));
		req.on('error', reject);
	});
}

// An upgrade to port from localAddress: its status (the socket is closed).
async function upgradeStatus(port, sid, localAddress, headers = {}) {
	const r = await rawUpgrade({port, path: `/socket.io/1/websocket/${sid}`, localAddress, headers});
	r.socket.destroy();
	return r.status;
}

test('a websocket through the proxy from another address is refused, from the handshake\'s opens', async () => {
	const sid = await s.handshake();
	assert.equal(await upgradeStatus(s.port, sid, '127.0.0.2'), 403);
	assert.equal(s.session(sid).state, 'handshaken', 'the refused upgrade attached nothing');
	const ws = await s.ws(sid, {via: 'proxy', localAddress: '127.0.0.1'});
	await ws.expectText('1::', 5000);
	ws.destroy();
});

test('a websocket straight to sio-wsd from another address is refused, whatever X-Forwarded-For it sends', async () => {
	const sid = await s.handshake();
	// 127.0.0.2 is not a trusted proxy: its header is not read
	assert.equal(await upgradeStatus(s.wsdPort, sid, '127.0.0.2', {'X-Forwarded-For': '127.0.0.1'}), 403);
	assert.equal(s.session(sid).state, 'handshaken');
});

test('through sio-wsd\'s UNIX socket the client is the last X-Forwarded-For address', async () => {
	const sid = await s.handshake();
	const up = async (headers) => {
		const r = await rawUpgrade({socketPath: wsdSock, port: 80,
			path: `/socket.io/1/websocket/${sid}`, headers});
		r.socket.destroy();
		return r.status;
	};
	assert.equal(await up({'X-Forwarded-For': '127.0.0.2'}), 403);
	assert.equal(await up({'X-Forwarded-For': '127.0.0.1, 127.0.0.2'}), 403);
	assert.equal(await up({}), 403, 'no header: the address is unknown');
	assert.equal(s.session(sid).state, 'handshaken');
	assert.equal(await up({'X-Forwarded-For': '127.0.0.2, 127.0.0.1'}), 101);
});

test('a flashsocket from another address is refused, from the handshake\'s opens', async () => {
	const sid = await s.handshake();
	const url = `ws://127.0.0.1:${flashPort}/socket.io/1/flashsocket/${sid}`;
	await assert.rejects(hixie(url, {localAddress: '127.0.0.2', timeout: 5000}), /403/);
	assert.equal(s.session(sid).state, 'handshaken');
	const ws = await hixie(url, {localAddress: '127.0.0.1', timeout: 5000});
	assert.equal(await ws.receive(5000), '1::');
	await ws.close();
});

test('?disconnect from another address leaves the session; from the handshake\'s ends it', async () => {
	const sid = await s.handshake();
	const other = await get(`/xhr-polling/${sid}?disconnect`, '127.0.0.2');
	assert.equal(other.status, 403);
	assert.equal(s.session(sid).state, 'handshaken');
	const own = await get(`/xhr-polling/${sid}?disconnect`, '127.0.0.1');
	assert.equal(own.status, 200);
	assert.equal(s.session(sid).state, 'closed');
});
