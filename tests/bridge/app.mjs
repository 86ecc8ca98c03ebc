/*
 * A bridge application for the tests (docs/bridge.md, "The bridge"): a
 * plain Node HTTP server that checks each request's signature with
 * node's crypto (apart from siogate's C), records every event, and
 * answers by what the event asks:
 *
 *   event ping(x)        ack [x, 'pong']
 *   event echo(x)        emit echo(x) back to the session
 *   event sleep(ms, x)   answers ack [x] after ms milliseconds
 *   event join(room)     join the room of the event's endpoint; ack
 *   event say(room, x)   emit said(x) to the room, the sender excluded
 *   event tell(sid, x)   emit told(x) to sid (maybe ended); ack
 *   event status(code)   answers with that HTTP status
 *   event garbage()      answers 200 with a body that is not JSON
 *   event set(k, v)      set session data k = v; ack
 *   event bye()          disconnect the session
 *   connect              reject when the session's open query had deny=1,
 *                        held when it had slow=1, until app.held.get(sid)()
 *   open ?reject=1       reject
 *   open ?welcome=W      send W to the session, set its data greeted = W
 *   anything else        204
 *
 * app.events: every event received, in arrival order; app.bad: requests
 * whose signature did not check.
 */
import crypto from 'node:crypto';
import http from 'node:http';

export function verify(secret, header, body) {
	const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
	if (!m) return false;
	const mac = crypto.createHmac('sha256', secret).update(`${m[1]}.`).update(body).digest();
	return crypto.timingSafeEqual(mac, Buffer.from(m[2], 'hex')) &&
		Math.abs(Date.now() / 1000 - Number(m[1])) <= 300;
}

export async function startApp(secret) {
	const app = {events: [], bad: [], waiters: [], denied: new Set(), slow: new Set(),
		held: new Map()};
	const answer = (res, status, body) => {
		res.writeHead(status, body ? {'Content-Type': 'application/json'} : {});
		res.end(body ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined);
	};
	app.server = http.createServer((req, res) => {
		const parts = [];
		req.on('data', (d) => parts.push(d));
		req.on('end', () => {
			const body = Buffer.concat(parts);
			if (!verify(secret, req.headers['x-siogate-signature'], body)) {
				app.bad.push(req.headers);
				return answer(res, 403);
			}
			const e = JSON.parse(body.toString('utf8'));
			e.headersSeen = {event: req.headers['x-siogate-event'], session: req.headers['x-siogate-session']};
			if (process.env.APP_DEBUG) console.log('app got', e.type, e.seq, e.try, Date.now(), req.socket.remotePort);
			app.events.push(e);
			for (const w of app.waiters.splice(0)) w();
			const a = e.args ?? [];
			if (e.type === 'open' && e.query?.deny === '1') app.denied.add(e.sid);
			if (e.type === 'open' && e.query?.slow === '1') app.slow.add(e.sid);
			if (e.type === 'connect' && app.slow.has(e.sid)) {
				app.held.set(e.sid, () => answer(res, 204));
				return;
			}
			if (e.type === 'open' && e.query?.reject === '1')
				return answer(res, 200, {actions: [{do: 'reject'}]});
			if (e.type === 'open' && e.query?.welcome)
				return answer(res, 200, {actions: [{do: 'send', data: e.query.welcome},
					{do: 'set', key: 'greeted', value: e.query.welcome}]});
			if (e.type === 'connect' && app.denied.has(e.sid))
				return answer(res, 200, {actions: [{do: 'reject'}]});
			if (e.type !== 'event') return answer(res, 204);
			switch (e.name) {
			case 'ping': return answer(res, 200, {actions: [{do: 'ack', args: [a[0], 'pong']}]});
			case 'echo': return answer(res, 200, {actions: [{do: 'emit', name: 'echo', args: [a[0]]}]});
			case 'sleep': return setTimeout(() => answer(res, 200,
				{actions: [{do: 'ack', args: [a[1]]}]}), a[0]);
			case 'join': return answer(res, 200, {actions: [{do: 'join', room: a[0]}, {do: 'ack', args: []}]});
			case 'say': return answer(res, 200, {actions: [{do: 'emit', room: a[0], exclude: e.sid,
				name: 'said', args: [a[1]]}]});
			case 'tell': return answer(res, 200, {actions: [{do: 'emit', sid: a[0], name: 'told', args: [a[1]]},
				{do: 'ack', args: ['told']}]});
			case 'status': return answer(res, a[0]);
			case 'garbage': return answer(res, 200, '{"actions": [');
			case 'set': return answer(res, 200, {actions: [{do: 'set', key: a[0], value: a[1]}, {do: 'ack'}]});
			case 'bye': return answer(res, 200, {actions: [{do: 'disconnect'}]});
			default: return answer(res, 204);
			}
		});
	});
	await new Promise((resolve) => app.server.listen(0, '127.0.0.1', resolve));
	app.port = app.server.address().port;
	app.url = `http://127.0.0.1:${app.port}/app`;
	/* Resolves with the first event (from now on or already in) matching. */
	app.next = (match, ms = 10000) => new Promise((resolve, reject) => {
		const deadline = setTimeout(() => reject(new Error(`no such event in ${ms} ms: ${match}`)), ms);
		const look = () => {
			const e = app.events.find(match);
			if (e) {
				clearTimeout(deadline);
				resolve(e);
			} else app.waiters.push(look);
		};
		look();
	});
	app.of = (sid) => app.events.filter((e) => e.sid === sid);
	app.close = () => new Promise((resolve) => {
		app.server.closeAllConnections?.();
		app.server.close(resolve);
	});
	return app;
}
