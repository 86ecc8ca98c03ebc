// flash.test.mjs: the flashsocket transport and the Flash policy file of
// sio-wsd, with tests/lib/hixie.mjs behaving like WebSocketMain.swf,
// through each web server's websocket proxy as deployed.
//
// scripts/webserver.sh starts lighttpd, nginx and apache, each with its
// sio-gateway and sio-wsd (`--listen WSD_ADDR --flash-listen
// WSD_FLASH_ADDR`), from deploy/*.conf.in: an upgrade with
// Sec-WebSocket-Key1 (hixie-76) on /socket.io/1/websocket/ or
// /socket.io/1/flashsocket/ goes to the flash listener, any other (RFC
// 6455) to the websocket one. lighttpd's sio-wsd listens on TCP (WSD_ADDR,
// WSD_FLASH_ADDR = 127.0.0.1:free ports, flash_policy_port = a free port);
// nginx's and Apache's on the default UNIX sockets (VARDIR/sio-wsd.sock,
// VARDIR/sio-wsd-flash.sock; flash_policy_port = 0). Every config has
// heartbeat_interval 1.
// Through each server: handshake, hixie-76 (digest checked like the SWF),
// 1:: first, echo, event with ack, heartbeats, key3 sent late, unknown sid.
// Straight to lighttpd's sio-wsd: the policy port and the inline policy
// (byte for byte), the 101 head before key3, superseding, polling POST
// replies, large messages, bad input.
//
//   node --test tests/flash/         (make flash; KEEP_TMP=1 keeps the logs)
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {connect, fetchPolicy, makeKey} from '../lib/hixie.mjs';
import {connect as wsConnect} from '../lib/wsclient.mjs';
import {freePort, portAccepts} from '../lib/http.mjs';
import {until} from '../lib/until.mjs';
import {WEBSERVER, webserver, writeConf} from '../lib/servers.mjs';

const POLICY_XML =
	'<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM ' +
	'"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd"><cross-domain-policy>' +
	'<allow-access-from domain="*" to-ports="*"/></cross-domain-policy>';


// Distinct free ports.
async function ports(n) {
	const out = new Set();
	while (out.size < n) out.add(await freePort());
	return [...out];
}

// The next message that is not a heartbeat (heartbeats are answered).
async function next(ws, ms = 5000) {
	for (;;) {
		const m = await ws.receive(ms);
		if (m === '2::') {
			ws.send('2::');
			continue;
		}
		return m;
	}
}

// The next RFC 6455 text message that is not a heartbeat (answered).
async function wsNext(ws, ms = 5000) {
	for (;;) {
		const m = await ws.nextText(ms);
		if (m !== '2::') return m;
		ws.send('2::');
	}
}

// Raw bytes to a TCP port: resolves with everything received until the
// server ends the connection (or ms pass).
function rawExchange(port, bytes, ms = 5000) {
	return new Promise((resolve, reject) => {
		const sock = net.connect(port, '127.0.0.1');
		const chunks = [];
		const t = setTimeout(() => (sock.destroy(), reject(new Error(`no end in ${ms} ms`))), ms);
		sock.on('connect', () => sock.write(bytes));
		sock.on('data', (d) => chunks.push(d));
		sock.on('error', (e) => (clearTimeout(t), chunks.length ? resolve(Buffer.concat(chunks)) : reject(e)));
		sock.on('close', () => (clearTimeout(t), resolve(Buffer.concat(chunks))));
	});
}

const s = {};
// The servers started by webserver.sh: name -> {name, port, var, conf}.
const servers = {lighttpd: {}, nginx: {}, apache: {}};

function stopAll() {
	for (const srv of Object.values(servers))
		if (srv.var) try { execFileSync(WEBSERVER, ['stop', srv.var], {stdio: 'ignore'}); } catch { /* stopped */ }
}

before(async () => {
	s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-flash.'));
	fs.chmodSync(s.dir, 0o755); // as root, Apache's and nginx's workers are www-data
	const [lp, wsPort, flashPort, policyPort, np, ap] = await ports(6);
	Object.assign(s, {wsPort, flashPort, policyPort});
	const portOf = {lighttpd: lp, nginx: np, apache: ap};
	process.once('exit', stopAll);
	const starts = [];
	for (const [name, srv] of Object.entries(servers)) {
		srv.name = name;
		srv.port = portOf[name];
		srv.var = path.join(s.dir, name);
		fs.mkdirSync(srv.var);
		const conf = {
			database: `${srv.var}/siogate.db`, run_dir: `${srv.var}/run`, app: 'testapp',
			transports: 'websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling',
			// heartbeats every second; a client is given up after 60 s without
			// one (0.9's default): a hixie-76 client cannot answer in the middle
			// of a frame, and the 1 MB frame in pieces takes 5-10 s idle,
			// longer on a loaded machine
			polling_duration: 2, close_timeout: 20, heartbeat_interval: 1, heartbeat_timeout: 60,
			flash_policy_port: name === 'lighttpd' ? policyPort : 0, log_level: 'debug', threads: 8,
			max_buffered: '2M', // unfinished frames, all connections together
		};
		srv.conf = writeConf(`${srv.var}/siogate.conf`, conf);
		const env = {SIOGATE_CONF: srv.conf, NO_WSD: ''};
		if (name === 'lighttpd')
			Object.assign(env, {WSD_ADDR: `127.0.0.1:${wsPort}`, WSD_FLASH_ADDR: `127.0.0.1:${flashPort}`});
		else
			Object.assign(env, {WSD_ADDR: '', WSD_FLASH_ADDR: ''}); // the defaults: UNIX sockets
		starts.push(webserver(['start', name, String(srv.port), srv.var], env).catch((e) => {
			throw new Error(`webserver.sh start ${name}: ${e.message}\n${e.stderr}`);
		}));
	}
	const results = await Promise.allSettled(starts);
	const failed = results.filter((r) => r.status === 'rejected');
	if (failed.length) {
		stopAll();
		throw new Error(failed.map((r) => r.reason.message).join('\n'));
	}
	s.lighttpd = servers.lighttpd;
	s.port = s.lighttpd.port;
	s.wsdLog = `${s.lighttpd.var}/wsd.log`;
	s.agent = new http.Agent({keepAlive: true});
});

after(async () => {
	s.agent?.destroy();
	stopAll();
	process.removeListener('exit', stopAll);
	if (!process.env.KEEP_TMP) fs.rmSync(s.dir, {recursive: true, force: true});
	else console.log(`kept ${s.dir}`);
});

// What lighttpd's sio-wsd has logged so far.
const wsdLog = () => fs.readFileSync(s.wsdLog, 'utf8');

function wsdAlive(srv) {
	try {
		process.kill(Number(fs.readFileSync(`${srv.var}/wsd.pid`, 'utf8')), 0);
		return true;
	} catch {
		return false;
	}
}

// A kept-alive socket that lighttpd closed while idle (its keep-alive
// timeout is 5 s) fails at once on reuse: such a handshake is retried.
function handshake(port = s.port) {
	return handshake1(port).catch((e) => {
		if (e.reused && /hang up|ECONNRESET|EPIPE/.test(`${e.code} ${e.message}`)) return handshake1(port);
		throw e;
	});
}

function handshake1(port) {
	return new Promise((resolve, reject) => {
		const req = http.get(`http://127.0.0.1:${port}/socket.io/1/?t=${Date.now()}`, {agent: s.agent}, (res) => {
			let body = '';
			res.on('data', (d) => (body += d));
			res.on('end', () => res.statusCode === 200
				? resolve(body.split(':')[0])
				: reject(new Error(`handshake ${res.statusCode} ${body}`)));
		});
		req.on('error', (e) => { e.reused = req.reusedSocket; reject(e); });
	});
}

// Bytes in flight between a client's port and a server's port on
// loopback (any 127.x address) that the receiving side has not read, from
// /proc/net/tcp (tx_queue of the client's socket, rx_queue of the
// server's).
function unread(serverPort, clientPort) {
	const port = (a) => parseInt(a.split(':')[1], 16);
	let n = 0;
	for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
		const f = line.trim().split(/\s+/);
		if (f.length < 5 || !f[1].includes(':')) continue;
		const [tx, rx] = f[4].split(':').map((x) => parseInt(x, 16));
		if (port(f[1]) === clientPort && port(f[2]) === serverPort) n += tx;
		if (port(f[1]) === serverPort && port(f[2]) === clientPort) n += rx;
	}
	return n;
}

const direct = (sid) => `ws://127.0.0.1:${s.flashPort}/socket.io/1/flashsocket/${sid}`;

describe('policy file', () => {
	test('a policy port only where flash_policy_port is set (lighttpd, not nginx, apache)', async () => {
		assert.match(wsdLog(), new RegExp(`serving the Flash policy on \\S*:${s.policyPort}\\b`));
		for (const name of ['nginx', 'apache'])
			assert.doesNotMatch(fs.readFileSync(`${servers[name].var}/wsd.log`, 'utf8'), /serving the Flash policy on/);
	});

	test('policy port: the XML byte for byte, no NUL', async () => {
		const got = await fetchPolicy('127.0.0.1', s.policyPort);
		assert.equal(got.toString('latin1'), POLICY_XML);
	});

	test('policy port: also to a client that sends nothing', async () => {
		const got = await rawExchange(s.policyPort, Buffer.alloc(0));
		assert.equal(got.toString('latin1'), POLICY_XML);
	});

	test('inline on the flash listener: the XML and a NUL', async () => {
		const got = await fetchPolicy('127.0.0.1', s.flashPort);
		assert.equal(got.toString('latin1'), POLICY_XML + '\0');
	});

	test('inline on the websocket listener: the XML and a NUL', async () => {
		const got = await fetchPolicy('127.0.0.1', s.wsPort);
		assert.equal(got.toString('latin1'), POLICY_XML + '\0');
	});

	test('inline on a flash listener on a UNIX socket (nginx\'s sio-wsd)', async () => {
		const got = await fetchPolicy(null, null, {socketPath: `${servers.nginx.var}/sio-wsd-flash.sock`});
		assert.equal(got.toString('latin1'), POLICY_XML + '\0');
	});

	test('inline, the request in pieces', async () => {
		const got = await new Promise((resolve, reject) => {
			const sock = net.connect(s.flashPort, '127.0.0.1');
			const chunks = [];
			sock.on('connect', () => {
				sock.write('<policy-file');
				setTimeout(() => sock.write('-request/>\0'), 100);
			});
			sock.on('data', (d) => chunks.push(d));
			sock.on('error', reject);
			sock.on('close', () => resolve(Buffer.concat(chunks)));
		});
		assert.equal(got.toString('latin1'), POLICY_XML + '\0');
	});
});

// Each row: a name, a URL for a sid, the port the client sees (the
// Sec-WebSocket-Location the server must give).
const routes = [
	['direct to sio-wsd', direct, () => s.flashPort, () => s.port],
	...Object.keys(servers).map((name) => [`through ${name}`,
		(sid) => `ws://127.0.0.1:${servers[name].port}/socket.io/1/flashsocket/${sid}`,
		() => servers[name].port, () => servers[name].port]),
];

for (const [name, url, seenPort, httpPort] of routes) {
	describe(`hixie-76 ${name}`, () => {
		test('handshake, 1:: first, echo, event with ack, heartbeats, close', async () => {
			const origin = `http://127.0.0.1:${httpPort()}`;
			const sid = await handshake(httpPort());
			// connect() checks the 101 head as the SWF does (status, Upgrade,
			// Connection, Sec-WebSocket-Origin = our Origin) and the MD5 digest
			// of Key1, Key2 and key3, so all three reached sio-wsd intact.
			const ws = await connect(url(sid), {origin});
			assert.match(ws.head, /^HTTP\/1\.1 101 /);
			assert.match(ws.head, /\r\nUpgrade: WebSocket(\r\n|$)/);
			assert.match(ws.head, new RegExp(`\r\nSec-WebSocket-Origin: ${origin.replace(/\./g, '\\.')}(\r\n|$)`));
			assert.match(ws.head, new RegExp(`\r\nSec-WebSocket-Location: ws://127\\.0\\.0\\.1:${seenPort()}/socket\\.io/1/flashsocket/${sid}(\r\n|$)`));
			assert.equal(await ws.receive(5000), '1::');
			ws.send('3:::x');
			assert.equal(await next(ws), '3:::x');
			ws.send('5:1+::{"name":"echo","args":[1]}');
			assert.equal(await next(ws), '6:::1+[1]');
			// heartbeat_interval 1: several arrive, each answered
			for (let i = 0; i < 3; i++) {
				assert.equal(await ws.receive(4000), '2::');
				ws.send('2::');
			}
			ws.send('3:::after heartbeats');
			assert.equal(await next(ws), '3:::after heartbeats');
			assert.equal(await ws.close(), 'closing frame');
		});

		test('key3 half a second after the head', async () => {
			const sid = await handshake(httpPort());
			const ws = await connect(url(sid), {key3Delay: 500});
			assert.equal(await ws.receive(5000), '1::');
			ws.send('3:::late key3');
			assert.equal(await next(ws), '3:::late key3');
			assert.equal(await ws.close(), 'closing frame');
		});

		test('unknown sid: 7:::1+0, then the closing frame', async () => {
			const ws = await connect(url('nosuchsid123'));
			assert.equal(await ws.receive(5000), '7:::1+0');
			assert.equal(await ws.ended(), 'closing frame');
		});
	});
}

// socket.io 0.9's flashsocket transport is its websocket transport: it
// accepts every websocket version. Each web server sends an upgrade that
// carries Sec-WebSocket-Key1 (hixie-76) to the flash listener and any other
// to the websocket listener, on /websocket/ and /flashsocket/ alike.
for (const name of Object.keys(servers)) {
	describe(`both protocols on both paths through ${name}`, () => {
		test('RFC 6455 on /socket.io/1/flashsocket/<sid>: 101, 1:: first, echo, event with ack', async () => {
			const sid = await handshake(servers[name].port);
			const ws = await wsConnect({port: servers[name].port, path: `/socket.io/1/flashsocket/${sid}`});
			assert.equal(await ws.nextText(5000), '1::');
			ws.send('3:::rfc6455 on flashsocket');
			assert.equal(await wsNext(ws), '3:::rfc6455 on flashsocket');
			ws.send('5:1+::{"name":"echo","args":[2]}');
			assert.equal(await wsNext(ws), '6:::1+[2]');
			const row = execFileSync('sqlite3', ['-cmd', '.timeout 5000', `${servers[name].var}/siogate.db`,
				`SELECT transport FROM sessions WHERE sid = '${sid}'`], {encoding: 'utf8'}).trim();
			assert.equal(row, 'flashsocket', 'the session is on the flashsocket transport');
			ws.close();
			await ws.waitClose();
		});

		test('RFC 6455 on /flashsocket/ for an unknown sid: 7:::1+0, then the close', async () => {
			const ws = await wsConnect({port: servers[name].port, path: '/socket.io/1/flashsocket/nosuchsid123'});
			assert.equal(await ws.nextText(5000), '7:::1+0');
		});

		test('hixie-76 on /socket.io/1/websocket/<sid>: 101, 1:: first, echo', async () => {
			const port = servers[name].port;
			const sid = await handshake(port);
			const ws = await connect(`ws://127.0.0.1:${port}/socket.io/1/websocket/${sid}`,
				{origin: `http://127.0.0.1:${port}`});
			assert.match(ws.head, new RegExp(`\r\nSec-WebSocket-Location: ws://127\\.0\\.0\\.1:${port}/socket\\.io/1/websocket/${sid}(\r\n|$)`));
			assert.equal(await ws.receive(5000), '1::');
			ws.send('3:::hixie on websocket');
			assert.equal(await next(ws), '3:::hixie on websocket');
			assert.equal(await ws.close(), 'closing frame');
		});
	});
}

describe('hixie-76 sessions', () => {
	test('the 101 head comes before key3 is sent', async () => {
		const sid = await handshake();
		const sock = net.connect(s.flashPort, '127.0.0.1');
		await new Promise((r) => sock.on('connect', r));
		sock.write([`GET /socket.io/1/flashsocket/${sid} HTTP/1.1`, 'Upgrade: WebSocket',
			'Connection: Upgrade', `Host: 127.0.0.1:${s.flashPort}`, 'Origin: http://example.com',
			`Sec-WebSocket-Key1: ${makeKey()}`, `Sec-WebSocket-Key2: ${makeKey()}`, '', ''].join('\r\n'));
		const head = await new Promise((resolve, reject) => {
			let buf = '';
			const t = setTimeout(() => reject(new Error('no 101 head before key3')), 3000);
			sock.on('data', (d) => {
				buf += d.toString('latin1');
				if (buf.includes('\r\n\r\n')) (clearTimeout(t), resolve(buf));
			});
		});
		assert.match(head, /^HTTP\/1\.1 101 WebSocket Protocol Handshake\r\n/);
		assert.match(head, /\r\nSec-WebSocket-Origin: http:\/\/example\.com\r\n/);
		assert.match(head, new RegExp(`\r\nSec-WebSocket-Location: ws://127\\.0\\.0\\.1:${s.flashPort}/socket\\.io/1/flashsocket/${sid}\r\n`));
		sock.destroy();
	});

	test('a second connection supersedes the first; the session goes on', async () => {
		const sid = await handshake();
		const a = await connect(direct(sid));
		assert.equal(await a.receive(5000), '1::');
		const b = await connect(direct(sid));
		b.send('3:::to b');
		assert.equal(await next(b), '3:::to b');
		assert.equal(a.closed, false);
		await b.close();
		await a.close();
	});

	test('a packet POSTed on xhr-polling gets its reply on the flashsocket', async () => {
		const sid = await handshake();
		const ws = await connect(direct(sid));
		assert.equal(await ws.receive(5000), '1::');
		const body = '3:::via polling';
		await new Promise((resolve, reject) => {
			const req = http.request(`http://127.0.0.1:${s.port}/socket.io/1/xhr-polling/${sid}?t=${Date.now()}`,
				{method: 'POST', agent: s.agent, headers: {'Content-Type': 'text/plain; charset=UTF-8',
					'Content-Length': Buffer.byteLength(body)}}, (res) => (res.resume(), res.on('end', resolve)));
			req.on('error', reject);
			req.end(body);
		});
		assert.equal(await next(ws), '3:::via polling');
		await ws.close();
	});

	test('a large message both ways (max_packet is the limit)', async () => {
		const sid = await handshake();
		const ws = await connect(direct(sid));
		assert.equal(await ws.receive(5000), '1::');
		const text = '3:::' + 'é'.repeat(30000);
		ws.send(text);
		assert.equal(await next(ws), text);
		await ws.close();
	});

	// The frame parser resumes where it stopped: a frame that arrives in
	// small pieces costs its length once, not its length once per piece
	// (0.77 s of CPU for this one when every read rescanned the frame).
	test('a 1 MB message in 256-byte pieces: echoed, sio-wsd\'s CPU printed and bounded', async () => {
		const sid = await handshake();
		const ws = await connect(direct(sid), {maxMessage: 4 << 20});
		assert.equal(await ws.receive(5000), '1::');
		const text = '3:::' + 'é'.repeat(499000); // 998,004 bytes, under max_packet
		const bytes = Buffer.concat([Buffer.from([0x00]), Buffer.from(text), Buffer.from([0xff])]);
		const pid = Number(fs.readFileSync(`${s.lighttpd.var}/wsd.pid`, 'utf8'));
		const tick = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}));
		const cpu = () => {
			const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
			return (Number(f[11]) + Number(f[12])) / tick;
		};
		ws.socket.setNoDelay(true);
		const cpu0 = cpu();
		const t0 = performance.now();
		// each piece its own write, the next a timer turn later: sio-wsd,
		// waiting for input, reads each piece on its own
		for (let off = 0; off < bytes.length; off += 256) {
			await new Promise((r) => ws.socket.write(bytes.subarray(off, off + 256), r));
			await new Promise((r) => setTimeout(r, 0));
		}
		assert.equal(await next(ws, 20000), text);
		const used = cpu() - cpu0;
		console.log(`# ${bytes.length} bytes in ${Math.ceil(bytes.length / 256)} pieces: echoed in ` +
			`${Math.round(performance.now() - t0)} ms, sio-wsd CPU ${used.toFixed(3)} s`);
		assert.ok(used < 0.4, `sio-wsd used ${used.toFixed(3)} s of CPU`);
		await ws.close();
	});

	// Sends bytes on ws and waits until sio-wsd has read them (the kernel
	// says so: nothing left in either socket's queue) or ws is closed.
	async function sendRead(ws, bytes, what) {
		ws.sendRaw(bytes);
		await until(`${what} read or closed`, () => ws.closed ||
			(ws.socket.writableLength === 0 && unread(s.flashPort, ws.socket.localPort) === 0), 10000);
	}

	// A flash connection from local address addr, its `1::` read.
	async function flashFrom(addr) {
		const ws = await connect(direct(await handshake()), {maxMessage: 4 << 20, localAddress: addr});
		assert.equal(await ws.receive(5000), '1::');
		return ws;
	}

	// The unfinished frames of every connection together are capped
	// (max_buffered, 2M here): three connections, each from an address of
	// its own (each address may hold 1M, max_buffered_per_address's
	// default here), each send 900,000 bytes of a frame, one after the
	// other, each once sio-wsd has read the last; the third passes the cap
	// and gets the closing frame, the first two finish their message and
	// get it back whole.
	test('unfinished frames over max_buffered: the one that passes it is closed, the others finish', async () => {
		const PART = 900000;
		const mark = wsdLog().length;
		const wss = [];
		for (let i = 0; i < 3; i++) wss.push(await flashFrom(`127.0.0.${2 + i}`));
		for (const [i, ws] of wss.entries())
			await sendRead(ws, Buffer.concat([Buffer.from([0x00]), Buffer.from(`3:::${i}`.padEnd(PART, 'x'))]),
				`connection ${i}`);
		// 1.8 MB held: the third passes 2 MiB
		await until('the third connection closed', () => wss[2].closed, 10000);
		assert.deepEqual(wss.map((ws) => ws.closeReason), [null, null, 'closing frame']);
		for (const [i, ws] of wss.slice(0, 2).entries()) {
			ws.sendRaw(Buffer.concat([Buffer.from('y'.repeat(1000)), Buffer.from([0xff])]));
			assert.equal(await next(ws, 10000), `3:::${i}`.padEnd(PART, 'x') + 'y'.repeat(1000));
			await ws.close();
		}
		assert.match(wsdLog().slice(mark), /warn: \S+: max_buffered \(2097152\) reached: closing/);
	});

	// One client address cannot take the whole of max_buffered (2M here)
	// from everyone else: it holds at most its share (1M, max_packet, the
	// default when max_buffered / 8 is less). The attacker's connections
	// from 127.0.0.5 send unfinished frames of 1,000,000 + 1,000,000 +
	// 97,152 bytes, exactly 2 MiB: the first is held, the two that would
	// pass the share get the closing frame. A witness from 127.0.0.6,
	// connected before, then sends a small frame, a 20 KB frame in two
	// pieces (sio-wsd reads the first alone) and opens a new flashsocket:
	// all served. (Before the share, the attacker held all 2 MiB and each
	// of these was refused.) Complete frames and the handshake's bytes are
	// not counted at all.
	test('one address holding its share of max_buffered: another address\'s flashsockets go on', async () => {
		const mark = wsdLog().length;
		const witness = await flashFrom('127.0.0.6');
		witness.send('3:::before');
		assert.equal(await next(witness), '3:::before');
		const parts = [1000000, 1000000, 97152];
		const att = [];
		for (let i = 0; i < parts.length; i++) att.push(await flashFrom('127.0.0.5'));
		for (const [i, ws] of att.entries())
			await sendRead(ws, Buffer.concat([Buffer.from([0x00]), Buffer.from(`3:::${i}`.padEnd(parts[i] - 1, 'x'))]),
				`attacker ${i}`);
		witness.send('3:::after');
		const after = await next(witness, 10000).catch((e) => `failed: ${e.message} (${witness.closeReason})`);
		const big = '3:::' + 'z'.repeat(20000 - 4);
		const frame = Buffer.concat([Buffer.from([0x00]), Buffer.from(big), Buffer.from([0xff])]);
		await sendRead(witness, frame.subarray(0, 10000), 'the first half');
		witness.sendRaw(frame.subarray(10000));
		const bigBack = await next(witness, 10000).catch((e) => `failed: ${e.message} (${witness.closeReason})`);
		const fresh = await flashFrom('127.0.0.6').catch((e) => e);
		// the closing frames went out when sio-wsd read the bytes (above)
		await until('the attacker\'s second and third closed', () => att[1].closed && att[2].closed, 10000)
			.catch(() => {});
		const reasons = att.map((ws) => ws.closeReason);
		console.log(`# attacker 127.0.0.5 (${parts.join(' + ')} bytes): ${JSON.stringify(reasons)}; ` +
			`witness: small frame ${after === '3:::after' ? 'echoed' : after}, ` +
			`20 KB frame in 2 pieces ${bigBack === big ? 'echoed' : String(bigBack).slice(0, 80)}, ` +
			`new flashsocket ${fresh instanceof Error ? fresh.message : 'open'}`);
		assert.deepEqual(reasons, [null, 'closing frame', 'closing frame']);
		assert.equal(after, '3:::after');
		assert.equal(bigBack.length, big.length);
		assert.ok(bigBack === big, 'the 20 KB frame came back changed');
		assert.ok(!(fresh instanceof Error), `a new flashsocket from another address: ${fresh.message}`);
		fresh.send('3:::fresh');
		assert.equal(await next(fresh), '3:::fresh');
		assert.match(wsdLog().slice(mark),
			/warn: \S+: max_buffered_per_address \(1048576\) reached by 127\.0\.0\.5: closing/);
		// the attacker's held frame is whole when it ends
		att[0].sendRaw(Buffer.from([0xff]));
		assert.equal(await next(att[0], 10000), '3:::0'.padEnd(parts[0] - 1, 'x'));
		for (const ws of [witness, fresh, att[0]]) await ws.close();
	});

	test('a bad frame: closing frame and a log line', async () => {
		const sid = await handshake();
		const ws = await connect(direct(sid));
		assert.equal(await ws.receive(5000), '1::');
		const mark = wsdLog().length;
		ws.sendRaw([0x00, 0xc3, 0x28, 0xff]); // invalid UTF-8
		assert.equal(await ws.ended(), 'closing frame');
		await until('the log line', () => /bad hixie frame/.test(wsdLog().slice(mark)));
	});

	for (const [what, bytes, status] of [
		['garbage', 'hello there\r\n\r\n', 400],
		['a bad key', `GET /socket.io/1/flashsocket/x HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: h\r\nOrigin: o\r\nSec-WebSocket-Key1: 12345\r\nSec-WebSocket-Key2: 1 2\r\n\r\n12345678`, 400],
		['an RFC 6455 upgrade', `GET /socket.io/1/flashsocket/x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nHost: h\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400],
		['another path', `GET /other/1/flashsocket/x HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: h\r\nOrigin: o\r\nSec-WebSocket-Key1: 1 2\r\nSec-WebSocket-Key2: 1 2\r\n\r\n12345678`, 404],
	]) {
		test(`${what}: ${status}`, async () => {
			const got = (await rawExchange(s.flashPort, bytes)).toString('latin1');
			assert.match(got, new RegExp(`^HTTP/1\\.1 ${status} `));
		});
	}

	test('every sio-wsd is still serving', async () => {
		for (const srv of Object.values(servers)) assert.ok(wsdAlive(srv), `${srv.name}'s sio-wsd exited`);
		const got = await fetchPolicy('127.0.0.1', s.policyPort);
		assert.equal(got.toString('latin1'), POLICY_XML);
	});
});
