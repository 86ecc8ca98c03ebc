#!/usr/bin/env node
/*
 * bench/peer/server.js: the siogate testapp contract on socket.io 0.9.19.
 *
 * The comparison peer for benchmarks and the oracle for tests/interop/.
 * It behaves the same on the root endpoint "" and on "/chat", replying on
 * the endpoint the request came on (docs/development.md, "The test application"):
 *
 *   message / json     echoed with the same type; a data-ack request
 *                      (`3:1+::x`) is acked [data]
 *   echo + ack         acked with the same args
 *   echo, no ack       emits `echo` with the same args
 *   broadcast          emits `broadcast` with the same args to every socket
 *                      of the namespace, sender included; acks with no args
 *   trigger {name, args, count, delay, ack}
 *                      after delay ms (0) emits count (1) events name
 *                      (`triggered`) with args ([]), the 0-based index
 *                      appended when count > 1; with ack: true each asks
 *                      for a data ack and the client's ack args come back
 *                      as event `acked`; acks the trigger with [count]
 *   kick               root: ends the session (`0::`); /chat: ends that
 *                      namespace (`0::/chat`)
 *
 * Settings (argv wins over the environment):
 *   --port N          PORT            default 18000; 0 picks a free port
 *   --host H          HOST            default 127.0.0.1
 *   --transports L    SIO_TRANSPORTS  comma list, default websocket,
 *                                     htmlfile,xhr-polling,jsonp-polling
 *   --log-level N     SIO_LOG_LEVEL   socket.io log level, default 0
 *
 * Once listening it prints one line to stdout: `listening HOST:PORT`.
 * SIGTERM and SIGINT stop it; under node --expose-gc, SIGUSR2 runs the
 * garbage collector (bench/run.sh, before sampling memory).
 */
'use strict';

var http = require('http');
var sio = require('socket.io');

function parseArgs(argv) {
	var opts = {};
	for (var i = 0; i < argv.length; i++) {
		var m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
		if (!m) {
			usage('unexpected argument ' + argv[i]);
		}
		var val = m[2] !== undefined ? m[2] : argv[++i];
		if (val === undefined) {
			usage('--' + m[1] + ' needs a value');
		}
		opts[m[1]] = val;
	}
	return opts;
}

function usage(msg) {
	process.stderr.write('server.js: ' + msg + '\n' +
	    'usage: node bench/peer/server.js [--port N] [--host H] ' +
	    '[--transports a,b] [--log-level N]\n');
	process.exit(2);
}

var args = parseArgs(process.argv.slice(2));
var known = ['port', 'host', 'transports', 'log-level'];
Object.keys(args).forEach(function (k) {
	if (known.indexOf(k) < 0) {
		usage('unknown option --' + k);
	}
});

var port = Number(args.port !== undefined ? args.port :
    (process.env.PORT !== undefined ? process.env.PORT : 18000));
var host = args.host || process.env.HOST || '127.0.0.1';
var transports = (args.transports || process.env.SIO_TRANSPORTS ||
    'websocket,htmlfile,xhr-polling,jsonp-polling').split(',')
    .map(function (s) { return s.trim(); }).filter(Boolean);
var logLevel = Number(args['log-level'] !== undefined ? args['log-level'] :
    (process.env.SIO_LOG_LEVEL !== undefined ? process.env.SIO_LOG_LEVEL : 0));

if (!Number.isInteger(port) || port < 0 || port > 65535) {
	usage('bad port ' + port);
}
if (!Number.isInteger(logLevel) || logLevel < 0 || logLevel > 3) {
	usage('bad log level ' + logLevel);
}

var server = http.createServer(function (req, res) {
	res.writeHead(404, {'Content-Type': 'text/plain'});
	res.end('not found\n');
});

var io = sio.listen(server, {'log level': logLevel});
io.set('log level', logLevel);
io.set('transports', transports);

var slice = Array.prototype.slice;

/*
 * socket.io 0.9 hands both message (3) and json (4) packets to the 'message'
 * listener; remember the type of the packet being dispatched so that the
 * echo keeps it.  handlePacket dispatches synchronously.
 */
function rememberPacketType(nsp) {
	var orig = nsp.handlePacket;
	nsp.handlePacket = function (sessid, packet) {
		var socket = this.socket(sessid);
		socket.siogateType = packet.type;
		try {
			return orig.apply(this, arguments);
		} finally {
			socket.siogateType = undefined;
		}
	};
}

/*
 * Kicking the root socket: socket.disconnect() writes `0::` only when a
 * transport is open at that moment.  With xhr-polling the client POSTs the
 * kick and re-issues its GET concurrently, so the POST can win the race and
 * 0.9 would then end the session silently (the next GET gets `7:::1+0` and
 * the client reconnects).  Queue `0::` instead, and end the session once
 * the next GET has carried it.
 */
var pendingKicks = {};
var manager = io;
var origOnOpen = manager.onOpen;
manager.onOpen = function (id) {
	var r = origOnOpen.apply(this, arguments);
	if (pendingKicks[id]) {
		delete pendingKicks[id];
		var self = this;
		setImmediate(function () {
			if (self.connected[id]) {
				var t = self.transports[id];
				if (t && t.open) {
					t.onForcedDisconnect();
				} else {
					self.onClientDisconnect(id, 'booted');
				}
			}
		});
	}
	return r;
};

function kick(socket) {
	if (socket.namespace.name !== '') {
		socket.disconnect();	/* writes 0::/chat (or queues it) */
		return;
	}
	var t = manager.transports[socket.id];
	if (t && t.open) {
		socket.disconnect();	/* writes 0:: and ends */
	} else {
		socket.packet({type: 'disconnect'});	/* queued */
		pendingKicks[socket.id] = true;
	}
}

function splitAck(list) {
	if (list.length && typeof list[list.length - 1] === 'function') {
		return {args: list.slice(0, -1), ack: list[list.length - 1]};
	}
	return {args: list, ack: null};
}

function attach(nsp) {
	rememberPacketType(nsp);

	nsp.on('connection', function (socket) {
		socket.on('message', function (data, ack) {
			if (socket.siogateType === 'json') {
				socket.json.send(data);
			} else {
				socket.send(data);
			}
			if (typeof ack === 'function') {
				ack(data);
			}
		});

		socket.on('echo', function () {
			var a = splitAck(slice.call(arguments));
			if (a.ack) {
				a.ack.apply(null, a.args);
			} else {
				socket.emit.apply(socket, ['echo'].concat(a.args));
			}
		});

		socket.on('broadcast', function () {
			var a = splitAck(slice.call(arguments));
			nsp.emit.apply(nsp, ['broadcast'].concat(a.args));
			if (a.ack) {
				a.ack();
			}
		});

		socket.on('trigger', function () {
			var a = splitAck(slice.call(arguments));
			var spec = a.args[0];
			if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
				spec = {};
			}
			var name = typeof spec.name === 'string' ? spec.name : 'triggered';
			var targs = Array.isArray(spec.args) ? spec.args : [];
			var count = Number.isInteger(spec.count) && spec.count >= 0 ? spec.count : 1;
			var delay = typeof spec.delay === 'number' && spec.delay > 0 ? spec.delay : 0;
			var wantAck = spec.ack === true;

			function fire() {
				if (socket.disconnected) {
					return;
				}
				for (var i = 0; i < count; i++) {
					var eargs = targs.slice();
					if (count > 1) {
						eargs.push(i);
					}
					var packet = [name].concat(eargs);
					if (wantAck) {
						/* a callback with parameters: `5:<id>+::` */
						packet.push(function (ackArg) {
							socket.emit.apply(socket,
							    ['acked'].concat(slice.call(arguments)));
						});
					}
					socket.emit.apply(socket, packet);
				}
			}

			/* like the C testapp: with no delay the events precede the ack */
			if (delay) {
				setTimeout(fire, delay);
			} else {
				fire();
			}
			if (a.ack) {
				a.ack(count);
			}
		});

		socket.on('kick', function () {
			var a = splitAck(slice.call(arguments));
			if (a.ack) {
				a.ack();
			}
			kick(socket);
		});
	});
}

attach(io.sockets);
attach(io.of('/chat'));

server.on('error', function (err) {
	process.stderr.write('server.js: ' + err.message + '\n');
	process.exit(1);
});

server.listen(port, host, function () {
	var addr = server.address();
	process.stdout.write('listening ' + addr.address + ':' + addr.port + '\n');
});

function stop() {
	server.close();
	process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/*
 * Run with --expose-gc, SIGUSR2 collects garbage: bench/run.sh does before
 * each memory sample, so that the peer's RSS is what it holds live rather
 * than whatever the collector has not got to yet.
 */
if (typeof global.gc === 'function') {
	process.on('SIGUSR2', function () {
		global.gc();
	});
}
