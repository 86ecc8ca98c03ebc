// client.mjs: what the Node suites share to drive socket.io-client 0.9.16
// (io, a CommonJS package, imported as is): waiting on events with a
// deadline, acks, shutting a client down completely, opening a session
// over one transport.
import io from 'socket.io-client';

export {io};
export {freePort, httpGet} from './http.mjs';

/* Default deadline of every wait, in ms; a suite may change it. */
export const defaults = {ms: Number(process.env.SIO_EVENT_TIMEOUT) || 5000};

function timedOut(ms, what) {
	return new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/*
 * Resolves with the argument list of the first `event` on emitter for which
 * match(args) holds; rejects after ms. The listener is registered now, so
 * call this before the action that causes the event.
 */
export function waitFor(emitter, event, {match = () => true, ms = defaults.ms, what} = {}) {
	return collect(emitter, event, 1, {match, ms, what}).then((got) => got[0]);
}

/* Like waitFor, for n matching events; resolves with their argument lists. */
export function collect(emitter, event, n, {match = () => true, ms = defaults.ms, what} = {}) {
	return new Promise((resolve, reject) => {
		const got = [];
		const timer = setTimeout(() => {
			emitter.removeListener(event, on);
			reject(timedOut(ms, `${n > 1 ? `${got.length}/${n} ` : ''}'${event}'` +
			    (what ? ` (${what})` : '')));
		}, ms);
		function on(...args) {
			if (!match(args)) return;
			got.push(args);
			if (got.length < n) return;
			clearTimeout(timer);
			emitter.removeListener(event, on);
			resolve(got);
		}
		emitter.on(event, on);
	});
}

/* Emits ev with args and a callback; resolves with what the server acks. */
export function emitAck(nsp, ev, ...args) {
	return new Promise((resolve, reject) => {
		const ms = defaults.ms;
		const timer = setTimeout(() => reject(timedOut(ms, `the ack of '${ev}'`)), ms);
		nsp.emit(ev, ...args, (...ack) => {
			clearTimeout(timer);
			resolve(ack);
		});
	});
}

/* Stops everything a client socket may still have running. */
export function shutdown(sock) {
	sock.options.reconnect = false;
	try {
		if (sock.connected || sock.connecting) sock.disconnect();
	} catch {
		/* the client still counts as connected while its websocket is
		 * already closing (a host cut off): its send of 0:: throws
		 * "not opened"; there is nothing left to say goodbye on */
	}
	sock.reconnecting = false;
	clearTimeout(sock.reconnectionTimer);
	clearTimeout(sock.connectTimeoutTimer);
	clearTimeout(sock.heartbeatTimeoutTimer);
	if (sock.transport) {
		sock.transport.clearTimeouts();
		/*
		 * ws 0.4.32 close() ends the TCP connection and arms a 30 s
		 * cleanup timer that, on Node 20, is not cleared when the
		 * connection is gone; it would hold the process for 30 s.
		 */
		const ws = sock.transport.websocket;
		if (ws && ws._closeTimer && typeof ws._closeTimer.unref === 'function') {
			ws._closeTimer.unref();
		}
	}
}

/*
 * A new session over exactly one transport with the given namespaces, each
 * connected. The 0.9.16 client merges a transports option index by index
 * into its shared default list, so the socket is made with 'auto connect':
 * false and given its own list. Rejects on connect_failed, an error, or the
 * deadline; checks the transport really used. prepare(sock, nsp) runs
 * before connecting, to listen for what arrives with the connect. Returns
 * {sock, nsp: {ep: ns}}.
 */
export async function openSession(io, url, transport,
    {endpoints = [''], query, ms = defaults.ms, prepare} = {}) {
	const opts = {
		'auto connect': false,
		'force new connection': true,
		'connect timeout': ms,
		'reconnect': false,
	};
	if (query !== undefined) opts.query = query;
	const first = io.connect(url + endpoints[0], opts);
	const sock = first.socket;
	sock.options.transports = [transport];
	const nsp = {};
	for (const ep of endpoints) nsp[ep] = sock.of(ep);
	const connected = Promise.all(endpoints.map((ep) => waitFor(nsp[ep], 'connect',
	    {ms, what: `namespace '${ep}' over ${transport}`})));
	const failed = new Promise((resolve, reject) => {
		sock.on('connect_failed', () => reject(new Error(`connect_failed over ${transport}`)));
		sock.on('error', (e) => reject(new Error(`error over ${transport}: ${e}`)));
	});
	failed.catch(() => {});
	if (prepare) prepare(sock, nsp);
	sock.connect();
	try {
		await Promise.race([connected, failed]);
	} catch (e) {
		shutdown(sock);
		throw e;
	}
	if (sock.transport.name !== transport) {
		shutdown(sock);
		throw new Error(`connected over ${sock.transport.name}, not ${transport}`);
	}
	return {sock, nsp};
}
