/*
 * streams.mjs: what the interop suite does not cover, through a web server
 * in front of siogate (the app is testapp: a message is echoed):
 *  - an htmlfile session: its `1::` must reach the client while the
 *    response is still open (a server that buffers the response, or
 *    compresses text/html, holds it back until the end);
 *  - a flashsocket session as the Flash SWF of socket.io-client 0.9.16
 *    makes it: hixie-76 (Sec-WebSocket-Key1/Key2, key3) on
 *    /socket.io/1/flashsocket/SID. Only sio-wsd's flash listener speaks
 *    hixie-76, so an answer proves that the server routed the upgrade
 *    there by its Sec-WebSocket-Key1 header.
 *
 *   node tests/snippets/streams.mjs http://127.0.0.1:PORT
 *
 * Prints what it saw; exits 0 on success, 1 otherwise.
 */
import http from 'node:http';
import {connect} from '../lib/hixie.mjs';

const base = process.argv[2];

function handshake() {
	return new Promise((resolve, reject) => {
		const req = http.get(`${base}/socket.io/1/?t=${Date.now()}`, (res) => {
			let body = '';
			res.on('data', (d) => (body += d));
			res.on('end', () => res.statusCode === 200
				? resolve(body)
				: reject(new Error(`handshake ${res.statusCode} ${body}`)));
		});
		req.on('error', reject);
		req.setTimeout(10000, () => req.destroy(new Error('handshake: no answer in 10 s')));
	});
}

// Resolves with the ms from the request to the first `1::` in the body,
// rejects when the response ends (or 10 s pass) without it.
function htmlfile(sid) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		let body = '';
		const req = http.get(`${base}/socket.io/1/htmlfile/${sid}?t=${t0}`, (res) => {
			if (res.statusCode !== 200) reject(new Error(`htmlfile ${res.statusCode}`));
			res.setEncoding('utf8');
			res.on('data', (d) => {
				body += d;
				if (body.includes("_('1::')") || body.includes('_("1::")')) {
					resolve(Date.now() - t0);
					req.destroy();
				}
			});
			res.on('end', () => reject(new Error(`htmlfile ended without 1:: in the stream: ${JSON.stringify(body.slice(-200))}`)));
		});
		req.on('error', (e) => reject(e));
		req.setTimeout(10000, () => req.destroy(new Error(`htmlfile: no 1:: in 10 s (body so far ${body.length} bytes)`)));
	});
}

try {
	const ms = await htmlfile((await handshake()).split(':')[0]);
	console.log(`   htmlfile: 1:: streamed ${ms} ms after the request, response still open`);
	const body = await handshake();
	const [sid, , , transports] = body.split(':');
	if (!transports.split(',').includes('flashsocket'))
		throw new Error(`flashsocket not offered: ${body}`);
	const url = `${base.replace(/^http/, 'ws')}/socket.io/1/flashsocket/${sid}`;
	const ws = await connect(url, {origin: base});
	// The SWF checks the Location against the URL it opened: the server
	// must pass the client's Host on.
	const loc = /\r\nSec-WebSocket-Location: ([^\r]*)/i.exec(ws.head);
	if (!loc || loc[1] !== url) throw new Error(`Sec-WebSocket-Location ${loc && loc[1]}, expected ${url}`);
	const first = await ws.receive(10000);
	if (first !== '1::') throw new Error(`first message ${JSON.stringify(first)}, expected "1::"`);
	ws.send('3:::through the snippet');
	let echo;
	do echo = await ws.receive(10000); while (echo === '2::');
	if (echo !== '3:::through the snippet') throw new Error(`echo ${JSON.stringify(echo)}`);
	const how = await ws.close();
	console.log(`   hixie-76: 101 from the flash listener, ${first}, echo ${JSON.stringify(echo)}, close: ${how}`);
} catch (e) {
	console.error(`   failed: ${e.message}${e.response ? ` (received ${JSON.stringify(String(e.response).slice(0, 200))})` : ''}`);
	process.exit(1);
}
