/*
 * The chat demo from a client's side, run by package.test.mjs inside the
 * test's network namespace (nsenter --net), where the installed lighttpd
 * listens on port 80: the page, a raw handshake, then two socket.io-client
 * 0.9.16 sessions over TRANSPORT that join the chat and see each other's
 * message. Prints one JSON object of what it saw; exits 1 on a failure.
 *
 *   node tests/package/chat-client.mjs http://127.0.0.1 xhr-polling
 */
import {io, defaults, emitAck, shutdown, openSession, httpGet, waitFor} from '../lib/client.mjs';

const [url, transport] = process.argv.slice(2);
defaults.ms = Number(process.env.PACKAGE_TIMEOUT || 15000);

async function main() {
	const seen = {transport};
	const page = await httpGet(url + '/');
	seen.page = {status: page.status, socketio: /socket\.io/.test(page.body),
	    chat: /join-form/.test(page.body)};
	const hs = await httpGet(url + '/socket.io/1/?t=1');
	seen.handshake = {status: hs.status, body: hs.body.replace(/^[^:]+/, 'SID')};
	const users = [];
	for (const name of ['ann', 'bob']) {
		const got = [];
		const s = await openSession(io, url, transport, {prepare: (sock, nsp) =>
		    nsp[''].on('message', (m) => got.push(m))});
		users.push({name, sock: s.sock, nsp: s.nsp[''], got});
	}
	try {
		for (const u of users)
			u.joined = await emitAck(u.nsp, 'join', `${u.name}-${transport}`);
		const line = `ann-${transport}: hello from ${transport}`;
		const got = waitFor(users[1].nsp, 'message', {match: ([m]) => m === line,
		    what: `'${line}' at bob`});
		users[0].nsp.send(`hello from ${transport}`);
		[seen.bob_got] = await got;
		seen.joined = users.map((u) => u.joined);
		seen.used = users.map((u) => u.sock.transport.name);
	} catch (e) {
		throw new Error(`${e.message}; ann saw ${JSON.stringify(users[0].got)}, bob saw ${JSON.stringify(users[1].got)}, joins ${JSON.stringify(users.map((u) => u.joined))}`);
	} finally {
		for (const u of users) shutdown(u.sock);
	}
	console.log(JSON.stringify(seen));
}

main().then(() => process.exit(0), (e) => {
	console.error(String(e && e.stack || e));
	process.exit(1);
});
