/*
 * One set of names for the server's counters: the members of sio_stats()
 * (what the stats example's ack carries), the keys of /socket.io/stats, the
 * columns of the SQL view stats_view, and the metric names of
 * /socket.io/metrics (siogate_ + the name, _total on a counter, a rate's
 * _ps written _per_second, as Prometheus names them). Against lighttpd +
 * sio-gateway + sio-wsd with app = stats and socket.io-client 0.9.16.
 *
 *   node --test tests/stats/          (make stats)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {startServers} from '../lib/servers.mjs';

import {io, shutdown, openSession, httpGet, emitAck} from '../lib/client.mjs';

let s, sock;

describe('one set of names for the counters (app = stats)', () => {
	before(async () => { s = await startServers({stats: 'yes', app: 'stats'}); });
	after(async () => {
		if (sock) shutdown(sock);
		if (s) await s.stop();
	});

	test('sio_stats, /socket.io/stats, stats_view and the metrics name the same counters', async () => {
		const get = (p) => httpGet({host: '127.0.0.1', port: s.port, path: p, agent: false});
		const r = await openSession(io, `http://127.0.0.1:${s.port}`, 'websocket', {ms: 10000});
		sock = r.sock;
		const [acked] = await emitAck(r.nsp[''], 'stats');
		const api = Object.keys(acked).sort();
		const http = Object.keys(JSON.parse((await get('/socket.io/stats')).body))
		    .filter((k) => k !== 'sessions_by_transport').sort();
		const view = execFileSync('sqlite3', [s.db, 'SELECT name FROM pragma_table_info(\'stats_view\')'],
		    {encoding: 'utf8'}).trim().split('\n').sort();
		const metrics = new Set((await get('/socket.io/metrics')).body.split('\n')
		    .filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
		console.log(`sio_stats: ${api.join(' ')}`);
		console.log(`/socket.io/stats: ${http.join(' ')}`);
		console.log(`stats_view: ${view.join(' ')}`);
		console.log(`metrics: ${[...metrics].sort().join(' ')}`);
		assert.ok(api.length >= 12, 'sio_stats sets the counters');
		assert.deepEqual(api, http, 'sio_stats and /socket.io/stats');
		assert.deepEqual(api, view, 'sio_stats and stats_view');
		for (const k of api.filter((n) => n !== 'time')) {
			const forms = [k, `${k}_total`, k.replace(/_ps$/, '_per_second')]
			    .map((n) => `siogate_${n}`);
			assert.ok(forms.some((m) => metrics.has(m)), `a metric for ${k} (${forms.join(', ')})`);
		}
	});
});
