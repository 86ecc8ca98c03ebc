/*
 * Stands in for a websocket route that refuses the upgrade: an HTTP server
 * on a UNIX socket or a loopback port that answers every request, upgrades
 * included, with 403 Forbidden.  run-servers.sh points the web server's
 * sio-wsd route at it (WSD_ADDR) for the "upgrade refused" fallback run.
 *
 *   node tests/interop/refuse-upgrade.mjs /path.sock | PORT
 */
import http from 'node:http';
import fs from 'node:fs';

const where = process.argv[2];
if (!where) {
	console.error('usage: refuse-upgrade.mjs /path.sock | PORT');
	process.exit(2);
}
const body = 'websocket upgrades are refused here\n';
const head = 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n' +
	`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
let refused = 0;
const server = http.createServer((req, res) => {
	refused++;
	res.writeHead(403, {'Content-Type': 'text/plain', 'Connection': 'close'});
	res.end(body);
});
server.on('upgrade', (req, socket) => {
	refused++;
	console.log(`refused upgrade ${req.method} ${req.url}`);
	socket.end(head);
});
if (/^\d+$/.test(where)) {
	server.listen(Number(where), '127.0.0.1');
} else {
	fs.rmSync(where, {force: true});
	server.listen(where, () => fs.chmodSync(where, 0o666));
}
const stop = () => {
	console.log(`refused ${refused} requests`);
	server.close();
	process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
