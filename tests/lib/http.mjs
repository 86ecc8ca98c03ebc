// http.mjs: what the Node suites share to reach a server over HTTP: a free
// loopback port, whether a port accepts, a plain GET, requests through a
// keep-alive agent, and socket.io's payload framing.
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

// A port free on 127.0.0.1 right now.
export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
	});
}

// Whether something accepts connections on 127.0.0.1:port now.
export function portAccepts(port, host = '127.0.0.1') {
	return new Promise((resolve) => {
		const s = net.connect(port, host);
		s.on('connect', () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
}

// GET url (a string or http.get options): {status, type, body}.
export function httpGet(url) {
	return new Promise((resolve, reject) => {
		http.get(url, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({status: res.statusCode,
				type: res.headers['content-type'], body}));
		}).on('error', reject);
	});
}

// method url [body] through agent, with a deadline of ms: resolves
// {status, headers, body}. A kept-alive socket that the server closed while
// idle fails at once on reuse: such a request is retried once.
export function request(agent, method, url, body = null, ms = 10000) {
	return request1(agent, method, url, body, ms).catch((e) => {
		if (e.reused && /hang up|ECONNRESET|EPIPE/.test(`${e.code} ${e.message}`))
			return request1(agent, method, url, body, ms);
		throw e;
	});
}

function request1(agent, method, url, body, ms) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, {
			method, agent,
			headers: body === null ? {} : {'Content-Type': 'text/plain; charset=UTF-8',
				'Content-Length': Buffer.byteLength(body)},
		}, (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => resolve({status: res.statusCode, headers: res.headers,
				body: Buffer.concat(parts).toString('utf8')}));
			res.on('error', reject);
		});
		req.setTimeout(ms, () => req.destroy(new Error(`${method} ${url}: no answer in ${ms} ms`)));
		req.on('error', (e) => { e.reused = req.reusedSocket; reject(e); });
		if (body !== null) req.write(body);
		req.end();
	});
}

// Payload framing, lengths in UTF-16 units (JS string lengths).
export function frame(...packets) {
	return packets.map((p) => `\ufffd${p.length}\ufffd${p}`).join('');
}
export function unframe(body) {
	if (!body.startsWith('\ufffd')) return body === '' ? [] : [body];
	const out = [];
	let i = 0;
	while (i < body.length) {
		const j = body.indexOf('\ufffd', i + 1);
		const n = Number(body.slice(i + 1, j));
		out.push(body.slice(j + 1, j + 1 + n));
		i = j + 1 + n;
	}
	return out;
}

/*
 * POST /socket.io/publish on the server at base (http://host:port) with
 * actions, signed with secret as docs/bridge.md says (HMAC-SHA256 over
 * "<t>.<body>"); resolves {status, body}.
 */
export function publishTo(base, secret, actions) {
	const body = JSON.stringify({actions});
	const t = Math.floor(Date.now() / 1000);
	const mac = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
	const u = new URL(base);
	return new Promise((resolve, reject) => {
		const req = http.request({host: u.hostname, port: u.port || 80, path: '/socket.io/publish',
			method: 'POST', agent: false, headers: {'Content-Type': 'application/json',
				'Content-Length': Buffer.byteLength(body), 'X-Siogate-Signature': `t=${t},v1=${mac}`}},
		(res) => {
			let b = '';
			res.on('data', (d) => { b += d; });
			res.on('end', () => resolve({status: res.statusCode, body: b}));
		});
		req.setTimeout(10000, () => req.destroy(new Error('publish: no answer in 10 s')));
		req.on('error', reject);
		req.end(body);
	});
}
