// wsclient.mjs: a minimal RFC 6455 client over `net`, for wire tests that
// need control over every byte: the opening handshake (any key, any
// header), masked or unmasked frames with any bits set, fragments, ping,
// the close handshake, and a client that stops reading. Everything the
// server sends is an event on one queue; tests wait on it with deadlines.
//
//   const ws = await connect({port, path});   // throws on a non-101 answer
//   ws.send('3:::x'); await ws.expectText('3:::x', 2000);
//   ws.frame({opcode: 1, fin: false, payload: 'ab'});  // any frame
//   const ev = await ws.next(2000);  // {type: 'text'|'binary'|'ping'|'pong'|'close'|'end', ...}
import net from 'node:net';
import crypto from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key) {
	return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

// An HTTP upgrade request; opts.key === null leaves Sec-WebSocket-Key out.
function upgradeRequest(opts) {
	const host = opts.hostHeader ?? `${opts.host ?? '127.0.0.1'}:${opts.port}`;
	const lines = [`GET ${opts.path} HTTP/1.1`, `Host: ${host}`,
		'Upgrade: websocket', 'Connection: Upgrade',
		`Sec-WebSocket-Version: ${opts.version ?? 13}`];
	if (opts.key !== null) lines.push(`Sec-WebSocket-Key: ${opts.key}`);
	for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`);
	return lines.join('\r\n') + '\r\n\r\n';
}

// Sends an upgrade request and reads the answer's head. Resolves
// {status, headers, head, socket, rest} (rest: bytes after the head), or
// {status: 0, ...} when the server closed without an answer.
export function rawUpgrade(opts) {
	const key = opts.key === undefined ? crypto.randomBytes(16).toString('base64') : opts.key;
	const o = {...opts, key};
	return new Promise((resolve, reject) => {
		const sock = opts.socketPath ? net.connect({path: opts.socketPath})
			: net.connect({port: opts.port, host: opts.host ?? '127.0.0.1',
				localAddress: opts.localAddress});
		sock.setNoDelay(true);
		let buf = Buffer.alloc(0);
		const timer = setTimeout(() => {
			sock.destroy();
			reject(new Error(`no upgrade answer within ${opts.timeout ?? 5000} ms`));
		}, opts.timeout ?? 5000);
		const done = (status, head, rest) => {
			clearTimeout(timer);
			sock.removeAllListeners('data');
			sock.removeAllListeners('end');
			sock.removeAllListeners('close');
			const headers = {};
			for (const l of head.split('\r\n').slice(1)) {
				const i = l.indexOf(':');
				if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
			}
			resolve({status, headers, head, socket: sock, rest, key});
		};
		sock.on('error', (e) => { clearTimeout(timer); reject(e); });
		sock.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			const i = buf.indexOf('\r\n\r\n');
			if (i < 0) return;
			const head = buf.subarray(0, i).toString('latin1');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
			done(m ? Number(m[1]) : -1, head, buf.subarray(i + 4));
		});
		const closed = () => done(0, buf.toString('latin1'), Buffer.alloc(0));
		sock.on('end', closed);
		sock.on('close', closed);
		sock.on('connect', () => sock.write(opts.rawRequest ?? upgradeRequest(o)));
	});
}

// Encodes one frame. payload: string (UTF-8) or Buffer. mask: true (a
// random key), false (unmasked, a protocol error from a client) or a Buffer.
export function encodeFrame({fin = true, rsv = 0, opcode = 1, payload = '', mask = true, length}) {
	const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
	const len = length ?? data.length;
	let head;
	if (len < 126) {
		head = Buffer.alloc(2);
		head[1] = len;
	} else if (len < 65536) {
		head = Buffer.alloc(4);
		head[1] = 126;
		head.writeUInt16BE(len, 2);
	} else {
		head = Buffer.alloc(10);
		head[1] = 127;
		head.writeBigUInt64BE(BigInt(len), 2);
	}
	head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
	if (mask === false) return Buffer.concat([head, data]);
	head[1] |= 0x80;
	const key = Buffer.isBuffer(mask) ? mask : crypto.randomBytes(4);
	const body = Buffer.alloc(data.length);
	for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
	return Buffer.concat([head, key, body]);
}

export class WsClient {
	constructor(socket, rest, {autoPong = true, autoHeartbeat = false} = {}) {
		this.socket = socket;
		this.autoPong = autoPong;
		this.autoHeartbeat = autoHeartbeat; // answer `2::` with `2::`
		this.heartbeats = 0;
		this.events = [];
		this.waiters = [];
		this.buf = Buffer.alloc(0);
		this.frag = null; // {opcode, parts}
		this.closed = false; // TCP gone
		this.closeFrame = null;
		this.received = 0; // bytes
		socket.on('data', (d) => this.#onData(d));
		socket.on('error', (e) => this.#push({type: 'error', error: e}));
		socket.on('close', () => {
			this.closed = true;
			this.#push({type: 'end'});
		});
		if (rest && rest.length) this.#onData(rest);
	}

	#push(ev) {
		ev.at = performance.now();
		const w = this.waiters.shift();
		if (w) w(ev); else this.events.push(ev);
	}

	#onData(d) {
		this.received += d.length;
		this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
		for (;;) {
			const b = this.buf;
			if (b.length < 2) return;
			let len = b[1] & 0x7f, off = 2;
			if (len === 126) {
				if (b.length < 4) return;
				len = b.readUInt16BE(2); off = 4;
			} else if (len === 127) {
				if (b.length < 10) return;
				len = Number(b.readBigUInt64BE(2)); off = 10;
			}
			const masked = (b[1] & 0x80) !== 0;
			let key = null;
			if (masked) { key = b.subarray(off, off + 4); off += 4; }
			if (b.length < off + len) return;
			let payload = Buffer.from(b.subarray(off, off + len));
			if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
			this.buf = b.subarray(off + len);
			this.#onFrame({fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7,
				opcode: b[0] & 0x0f, masked, payload});
		}
	}

	#onFrame(f) {
		if (f.masked) this.#push({type: 'protocol-error', why: 'masked server frame'});
		switch (f.opcode) {
		case 0x0:
			if (!this.frag) { this.#push({type: 'protocol-error', why: 'stray continuation'}); return; }
			this.frag.parts.push(f.payload);
			if (f.fin) {
				const all = Buffer.concat(this.frag.parts), op = this.frag.opcode;
				this.frag = null;
				this.#message(op, all);
			}
			return;
		case 0x1: case 0x2:
			if (!f.fin) { this.frag = {opcode: f.opcode, parts: [f.payload]}; return; }
			this.#message(f.opcode, f.payload);
			return;
		case 0x8: {
			const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
			const reason = f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '';
			this.closeFrame = {code, reason};
			this.#push({type: 'close', code, reason});
			return;
		}
		case 0x9:
			if (this.autoPong && !this.closed) this.raw(encodeFrame({opcode: 0xA, payload: f.payload}));
			this.#push({type: 'ping', data: f.payload});
			return;
		case 0xA:
			this.#push({type: 'pong', data: f.payload});
			return;
		default:
			this.#push({type: 'protocol-error', why: `opcode ${f.opcode}`});
		}
	}

	#message(opcode, data) {
		if (opcode === 1 && data.length === 3 && data.toString() === '2::') {
			this.heartbeats++;
			if (this.autoHeartbeat) this.send('2::');
		}
		if (opcode === 1) this.#push({type: 'text', data: data.toString('utf8'), bytes: data.length});
		else this.#push({type: 'binary', data});
	}

	// The next event, or a rejection after ms.
	next(ms = 5000) {
		if (this.events.length) return Promise.resolve(this.events.shift());
		return new Promise((resolve, reject) => {
			const w = (ev) => { clearTimeout(t); resolve(ev); };
			const t = setTimeout(() => {
				const i = this.waiters.indexOf(w);
				if (i >= 0) this.waiters.splice(i, 1);
				reject(new Error(`no event within ${ms} ms`));
			}, ms);
			this.waiters.push(w);
		});
	}

	// The next text message, skipping pings/pongs (and `2::` when skipHb);
	// throws on close, end or the deadline.
	async nextText(ms = 5000, {skipHb = true} = {}) {
		const deadline = performance.now() + ms;
		for (;;) {
			const left = deadline - performance.now();
			if (left <= 0) throw new Error(`no text message within ${ms} ms`);
			const ev = await this.next(left);
			if (ev.type === 'text') {
				if (skipHb && ev.data === '2::') continue;
				return ev.data;
			}
			if (ev.type === 'ping' || ev.type === 'pong') continue;
			throw new Error(`expected a text message, got ${JSON.stringify(ev.type === 'close'
				? {type: 'close', code: ev.code, reason: ev.reason} : {type: ev.type, why: ev.why})}`);
		}
	}

	async expectText(want, ms = 5000) {
		const got = await this.nextText(ms);
		if (got !== want) throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
		return got;
	}

	// Waits for the server's close frame and/or the end of TCP; returns
	// {code, reason, texts} (texts: messages before the close).
	async waitClose(ms = 5000) {
		const deadline = performance.now() + ms;
		const texts = [];
		let close = null;
		for (;;) {
			const left = deadline - performance.now();
			if (left <= 0) throw new Error(`no close within ${ms} ms (texts: ${JSON.stringify(texts)})`);
			const ev = await this.next(left);
			if (ev.type === 'text') texts.push(ev.data);
			else if (ev.type === 'close') {
				close = {code: ev.code, reason: ev.reason};
				if (!this.closed) this.raw(encodeFrame({opcode: 8, payload: codePayload(ev.code)}));
			} else if (ev.type === 'end') return {...(close ?? {code: null, reason: ''}), closeFrame: !!close, texts};
		}
	}

	raw(buf) {
		if (!this.socket.destroyed) this.socket.write(buf);
	}

	send(text) { this.raw(encodeFrame({opcode: 1, payload: text})); }

	frame(f) { this.raw(encodeFrame(f)); }

	ping(data = '') { this.raw(encodeFrame({opcode: 9, payload: data})); }

	close(code = 1000, reason = '') {
		this.raw(encodeFrame({opcode: 8, payload: codePayload(code, reason)}));
	}

	destroy() { this.socket.destroy(); }
}

function codePayload(code, reason = '') {
	if (code == null) return Buffer.alloc(0);
	const b = Buffer.alloc(2);
	b.writeUInt16BE(code, 0);
	return Buffer.concat([b, Buffer.from(reason, 'utf8')]);
}

// Opens a websocket; throws unless the answer is a proper 101.
export async function connect(opts) {
	const r = await rawUpgrade(opts);
	if (r.status !== 101) {
		r.socket.destroy();
		const e = new Error(`upgrade answered ${r.status}: ${r.head.split('\r\n')[0]}`);
		e.status = r.status;
		throw e;
	}
	if (r.headers['sec-websocket-accept'] !== acceptFor(r.key)) {
		r.socket.destroy();
		throw new Error(`bad Sec-WebSocket-Accept ${r.headers['sec-websocket-accept']}`);
	}
	return new WsClient(r.socket, r.rest, opts);
}
