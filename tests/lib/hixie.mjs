/*
 * hixie.mjs: a hixie-76 (draft-ietf-hybi-thewebsocketprotocol-00)
 * client for siogate's tests, behaving like the WebSocketMain.swf that ships
 * with socket.io-client 0.9.16 (web-socket-js WebSocket.as): it sends the GET
 * with Sec-WebSocket-Key1/Key2 and the 8-byte key3 in one write, checks the
 * 101 response the way validateHeader() does (socketio-protocol.md 4.5) and
 * the 16-byte MD5 answer, then exchanges `0x00 <utf8> 0xFF` frames. Node 20,
 * no dependencies.
 *
 * Library:
 *   import {connect, fetchPolicy} from './hixie.mjs';
 *   const ws = await connect('ws://127.0.0.1:8080/socket.io/1/flashsocket/SID',
 *                            {origin: 'http://127.0.0.1:8080'});
 *   ws.send('3:::hello');
 *   const text = await ws.receive(5000);       // or: for await (const m of ws)
 *   ws.on('message', (text) => ...);           // 'close' (reason) too
 *   await ws.close();                          // 0xFF 0x00, waits for the end
 *
 * Close reasons ('close' event, ws.closeReason, close() and ended()):
 * 'closing frame' (the server sent 0xFF 0x00, as its own close or as the
 * answer to ours), 'closed' (we sent ours and the connection ended with no
 * answer), 'socket closed' (TCP ended with no closing frame), 'error: ...',
 * 'protocol error: ...' (a frame we cannot parse; the socket is destroyed).
 *
 * connect() rejects with an Error whose .response holds the bytes received
 * when the handshake fails (status, a header check, the digest, a timeout).
 * Options: origin, protocol (sent as Sec-WebSocket-Protocol and then
 * required in the answer), key3Delay (ms between the head and key3, as
 * through HAProxy), socketPath (a UNIX socket instead of host:port),
 * headers (extra header lines, {name: value}), key1/key2/key3 (override
 * the random keys, for bad-key tests), timeout (ms, default 10000),
 * maxMessage (bytes, default 16 MiB).
 *
 * CLI:
 *   node tests/lib/hixie.mjs [--origin O] [--protocol P] [--key3-delay MS]
 *        [--send TEXT]... [--expect N] [--timeout MS] ws://HOST:PORT/PATH
 *   node tests/lib/hixie.mjs --policy [--inline] HOST:PORT
 * prints the 101 head, each message received (JSON-quoted, one a line) and
 * exits 0 once N messages arrived (default: those sent) or 1 on an error.
 * --policy sends <policy-file-request/>\0 and prints the reply.
 */
import {createHash, randomBytes, randomInt} from 'node:crypto';
import {EventEmitter} from 'node:events';
import net from 'node:net';
import {pathToFileURL} from 'node:url';

const CRLF2 = Buffer.from('\r\n\r\n');
const POLICY_REQUEST = Buffer.from('<policy-file-request/>\0', 'latin1');

/*
 * One key as draft-76 section 4.1 makes it (and WebSocket.as
 * generateKey()): a random number times 1..12 spaces, with 1..12 random
 * non-digit characters inserted and the spaces put anywhere but the ends.
 */
export function makeKey() {
	const spaces = randomInt(1, 13);
	const max = Math.floor(4294967295 / spaces);
	const number = randomInt(0, max + 1);
	let key = String(number * spaces);
	const chars = randomInt(1, 13);
	for (let i = 0; i < chars; i++) {
		let c = randomInt(0x21, 0x7f - 10); // 0x21..0x2F, 0x3A..0x7E
		if (c >= 0x30) c += 10;
		const at = randomInt(0, key.length + 1);
		key = key.slice(0, at) + String.fromCharCode(c) + key.slice(at);
	}
	for (let i = 0; i < spaces; i++) {
		const at = randomInt(1, key.length);
		key = key.slice(0, at) + ' ' + key.slice(at);
	}
	return key;
}

/* A key's number: its digits divided by its spaces; null when invalid. */
export function keyNumber(key) {
	const digits = key.replace(/[^0-9]/g, '');
	const spaces = key.split(' ').length - 1;
	const n = digits === '' ? 0 : Number(digits);
	if (spaces === 0 || n > 4294967295 || n % spaces !== 0) return null;
	return n / spaces;
}

/* MD5(BE32(n1) || BE32(n2) || key3): the server's 16-byte answer. */
export function digest(key1, key2, key3) {
	const b = Buffer.alloc(16);
	b.writeUInt32BE(keyNumber(key1) ?? 0, 0);
	b.writeUInt32BE(keyNumber(key2) ?? 0, 4);
	Buffer.from(key3).copy(b, 8);
	return createHash('md5').update(b).digest();
}

/*
 * WebSocket.as validateHeader(): throws on the first check that fails.
 * Returns {status, headers} with header names lowercased.
 */
export function validateHead(head, origin, protocol) {
	const lines = head.split('\r\n');
	const status = lines.shift();
	if (!/^HTTP\/1\.1 101 /.test(status))
		throw new Error(`bad response: ${status}`);
	const headers = {};
	for (const line of lines) {
		if (line === '') continue;
		const m = /^(\S+): (.*)$/.exec(line);
		if (!m) throw new Error(`failed to parse response header line: ${line}`);
		headers[m[1].toLowerCase()] = m[2];
	}
	if ((headers['upgrade'] ?? '').toLowerCase() !== 'websocket')
		throw new Error(`invalid Upgrade: ${headers['upgrade']}`);
	if ((headers['connection'] ?? '').toLowerCase() !== 'upgrade')
		throw new Error(`invalid Connection: ${headers['connection']}`);
	const resOrigin = (headers['sec-websocket-origin'] ?? '').toLowerCase();
	if (resOrigin !== origin)
		throw new Error(`origin doesn't match: '${resOrigin}' != '${origin}'`);
	if (protocol !== undefined && headers['sec-websocket-protocol'] !== protocol)
		throw new Error(`protocol doesn't match: ${headers['sec-websocket-protocol']}`);
	return {status, headers};
}

/*
 * Splits the frames at the start of buf: returns {frames, rest} where each
 * frame is {text} or {close: true}; throws on a frame hixie-76 servers
 * never send to us or on invalid UTF-8.
 */
const utf8 = new TextDecoder('utf-8', {fatal: true});
export function parseFrames(buf, maxMessage = 16 << 20) {
	const frames = [];
	let off = 0;
	while (off < buf.length) {
		const type = buf[off];
		if (type === 0xff) {
			if (off + 1 >= buf.length) break;
			if (buf[off + 1] !== 0x00) throw new Error('bad closing frame');
			frames.push({close: true});
			off += 2;
			continue;
		}
		if (type !== 0x00) throw new Error(`unexpected frame type 0x${type.toString(16)}`);
		const end = buf.indexOf(0xff, off + 1);
		if (end < 0) {
			if (buf.length - off - 1 > maxMessage) throw new Error('message too long');
			break;
		}
		frames.push({text: utf8.decode(buf.subarray(off + 1, end))});
		off = end + 1;
	}
	return {frames, rest: buf.subarray(off)};
}

export function encodeFrame(text) {
	return Buffer.concat([Buffer.from([0x00]), Buffer.from(text, 'utf8'), Buffer.from([0xff])]);
}

class HixieSocket extends EventEmitter {
	constructor(sock, info, rest, opts) {
		super();
		this.socket = sock;
		this.status = info.status;
		this.headers = info.headers;
		this.head = info.head;
		this.closed = false;
		this.closeReason = null;
		this._buf = Buffer.alloc(0);
		this._queue = [];
		this._waiters = [];
		this._max = opts.maxMessage ?? 16 << 20;
		this._closing = false;
		this._ended = new Promise((resolve) => (this._resolveEnded = resolve));
		sock.on('data', (d) => this._data(d));
		sock.on('error', (e) => this._finish(`error: ${e.message}`));
		sock.on('close', () => this._finish(this._closing ? 'closed' : 'socket closed'));
		if (rest.length) process.nextTick(() => this._data(rest));
	}

	_data(d) {
		this._buf = this._buf.length ? Buffer.concat([this._buf, d]) : d;
		let parsed;
		try {
			parsed = parseFrames(this._buf, this._max);
		} catch (e) {
			this.socket.destroy();
			this._finish(`protocol error: ${e.message}`);
			return;
		}
		this._buf = Buffer.from(parsed.rest);
		for (const f of parsed.frames) {
			if (f.close) {
				// Answer the server's close (draft-76 section 4.2), then end.
				if (!this._closing) {
					this._closing = true;
					this.socket.end(Buffer.from([0xff, 0x00]));
				}
				this._finish('closing frame');
				return;
			}
			this.emit('message', f.text);
			const w = this._waiters.shift();
			if (w) w.resolve(f.text);
			else this._queue.push(f.text);
		}
	}

	_finish(reason) {
		if (this.closed) return;
		this.closed = true;
		this.closeReason = reason;
		for (const w of this._waiters.splice(0)) w.reject(new Error(`closed before a message (${reason})`));
		this.emit('close', reason);
		this._resolveEnded(reason);
	}

	/* Sends one text frame. */
	send(text) {
		if (this.closed) throw new Error('socket closed');
		this.socket.write(encodeFrame(text));
	}

	/* Writes bytes as they are (for bad-input tests). */
	sendRaw(bytes) {
		this.socket.write(Buffer.from(bytes));
	}

	/* The next message, waiting at most timeout ms. */
	receive(timeout = 10000) {
		if (this._queue.length) return Promise.resolve(this._queue.shift());
		if (this.closed) return Promise.reject(new Error(`closed (${this.closeReason})`));
		return new Promise((resolve, reject) => {
			const w = {resolve, reject};
			const t = setTimeout(() => {
				this._waiters.splice(this._waiters.indexOf(w), 1);
				reject(new Error(`no message within ${timeout} ms`));
			}, timeout);
			w.resolve = (v) => (clearTimeout(t), resolve(v));
			w.reject = (e) => (clearTimeout(t), reject(e));
			this._waiters.push(w);
		});
	}

	async *[Symbol.asyncIterator]() {
		for (;;) {
			if (this._queue.length) {
				yield this._queue.shift();
				continue;
			}
			if (this.closed) return;
			try {
				yield await this.receive(2 ** 31 - 1);
			} catch (e) {
				if (this.closed) return;
				throw e;
			}
		}
	}

	/* Sends the closing frame and resolves with the reason once the
   * connection has ended (or after timeout ms, destroying it). */
	close(timeout = 5000) {
		if (!this.closed && !this._closing) {
			this._closing = true;
			this.socket.write(Buffer.from([0xff, 0x00]));
		}
		const t = setTimeout(() => this.socket.destroy(), timeout);
		return this._ended.finally(() => clearTimeout(t));
	}

	/* Resolves with the close reason, whoever closes. */
	ended() {
		return this._ended;
	}
}

function target(url, opts) {
	const u = new URL(url);
	if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`not a ws:// URL: ${url}`);
	if (u.protocol === 'wss:') throw new Error('wss:// is not supported by this test client');
	const port = Number(u.port || 80);
	return {
		host: u.hostname.replace(/^\[|\]$/g, ''),
		port,
		hostHeader: u.port ? `${u.hostname}:${u.port}` : u.hostname,
		path: (u.pathname || '/') + u.search,
		origin: opts.origin ?? `http://${u.port ? `${u.hostname}:${u.port}` : u.hostname}`,
	};
}

/*
 * Opens a hixie-76 connection to url (ws://host:port/path) and completes the
 * handshake; resolves with a HixieSocket (see the file comment).
 */
export function connect(url, opts = {}) {
	const t = target(url, opts);
	const key1 = opts.key1 ?? makeKey();
	const key2 = opts.key2 ?? makeKey();
	const key3 = Buffer.from(opts.key3 ?? randomBytes(8));
	const lines = [
		`GET ${t.path} HTTP/1.1`,
		'Upgrade: WebSocket',
		'Connection: Upgrade',
		`Host: ${t.hostHeader}`,
		`Origin: ${t.origin}`,
	];
	if (opts.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${opts.protocol}`);
	for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`);
	lines.push(`Sec-WebSocket-Key1: ${key1}`, `Sec-WebSocket-Key2: ${key2}`, '', '');
	const head = Buffer.from(lines.join('\r\n'), 'latin1');
	const expected = digest(key1, key2, key3);
	const timeout = opts.timeout ?? 10000;

	return new Promise((resolve, reject) => {
		const sock = opts.socketPath
			? net.connect({path: opts.socketPath})
			: net.connect({host: t.host, port: t.port, localAddress: opts.localAddress});
		let buf = Buffer.alloc(0);
		let delayTimer = null;
		let info = null;
		const fail = (msg) => {
			cleanup();
			sock.destroy();
			const e = new Error(msg);
			e.response = buf;
			reject(e);
		};
		const timer = setTimeout(() => fail(`handshake timed out after ${timeout} ms`), timeout);
		const onData = (d) => {
			buf = Buffer.concat([buf, d]);
			const end = buf.indexOf(CRLF2);
			if (end < 0) return;
			// The head is checked as soon as it is whole: a server behind a
			// proxy sends it before key3 reaches it, and the digest after.
			if (!info) {
				try {
					const text = buf.subarray(0, end).toString('latin1');
					info = {...validateHead(text, t.origin, opts.protocol), head: text};
				} catch (e) {
					fail(e.message);
					return;
				}
			}
			if (buf.length < end + 4 + 16) return;
			const answer = buf.subarray(end + 4, end + 4 + 16);
			if (!answer.equals(expected)) {
				fail(`digest doesn't match: ${answer.toString('hex')} != ${expected.toString('hex')}`);
				return;
			}
			cleanup();
			resolve(new HixieSocket(sock, info, buf.subarray(end + 20), opts));
		};
		const onError = (e) => fail(`connection error: ${e.message}`);
		const onClose = () => fail('connection closed during the handshake');
		function cleanup() {
			clearTimeout(timer);
			clearTimeout(delayTimer);
			sock.off('data', onData);
			sock.off('error', onError);
			sock.off('close', onClose);
		}
		sock.on('data', onData);
		sock.on('error', onError);
		sock.on('close', onClose);
		sock.once('connect', () => {
			sock.setNoDelay(true);
			if (opts.key3Delay) {
				sock.write(head);
				delayTimer = setTimeout(() => sock.write(key3), opts.key3Delay);
			} else {
				sock.write(Buffer.concat([head, key3])); // one write, as Flash does
			}
		});
	});
}

/*
 * Sends <policy-file-request/>\0 to host:port and resolves with every byte
 * received until the server ends the connection (policy port and inline).
 */
export function fetchPolicy(host, port, {timeout = 5000, socketPath} = {}) {
	return new Promise((resolve, reject) => {
		const sock = socketPath ? net.connect({path: socketPath}) : net.connect({host, port});
		const chunks = [];
		const timer = setTimeout(() => {
			sock.destroy();
			reject(new Error(`policy not ended within ${timeout} ms`));
		}, timeout);
		sock.on('connect', () => sock.write(POLICY_REQUEST));
		sock.on('data', (d) => chunks.push(d));
		// A server that ends without reading our request resets the
		// connection: what arrived before the reset is still the answer.
		sock.on('error', (e) => {
			clearTimeout(timer);
			if (chunks.length) resolve(Buffer.concat(chunks));
			else reject(e);
		});
		sock.on('close', () => (clearTimeout(timer), resolve(Buffer.concat(chunks))));
	});
}

async function main(argv) {
	const opts = {};
	const sends = [];
	let expect = null;
	let url = null;
	let policy = false;
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const val = () => {
			if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
			return argv[++i];
		};
		if (a === '--origin') opts.origin = val();
		else if (a === '--protocol') opts.protocol = val();
		else if (a === '--key3-delay') opts.key3Delay = Number(val());
		else if (a === '--timeout') opts.timeout = Number(val());
		else if (a === '--socket') opts.socketPath = val();
		else if (a === '--send') sends.push(val());
		else if (a === '--expect') expect = Number(val());
		else if (a === '--policy') policy = true;
		else if (a === '--inline') { /* same request either way */ }
		else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
		else url = a;
	}
	if (!url) {
		console.error('usage: hixie.mjs [options] ws://host:port/path | --policy host:port');
		return 2;
	}
	if (policy) {
		const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(url);
		if (!m) throw new Error(`not host:port: ${url}`);
		const bytes = await fetchPolicy(m[1], Number(m[2]), opts);
		process.stdout.write(JSON.stringify(bytes.toString('utf8')) + '\n');
		return bytes.length ? 0 : 1;
	}
	const ws = await connect(url, opts);
	process.stdout.write(ws.head + '\r\n\r\n');
	for (const s of sends) ws.send(s);
	const want = expect ?? sends.length;
	const timeout = opts.timeout ?? 10000;
	for (let n = 0; n < want; n++)
		console.log(JSON.stringify(await ws.receive(timeout)));
	console.error(`closed: ${await ws.close()}`);
	return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	main(process.argv.slice(2)).then(
		(rc) => process.exit(rc),
		(e) => {
			console.error(`hixie: ${e.message}`);
			if (e.response?.length) console.error(JSON.stringify(e.response.toString('latin1')));
			process.exit(1);
		},
	);
}
