/*
 * The publishing helpers, ctl/siogate.php (php-cli) and ctl/siogate.py
 * (python3), without a siogate server: each language's functions are
 * called through tests/clients/driver.php and driver.py, and compared with
 * Node's crypto, an independent implementation of HMAC-SHA256, and with
 * the JSON docs/bridge.md documents.
 *
 *   sign() is the header Node computes for the same secret, time and bytes,
 *   and the worked example of docs/bridge.md;
 *   verify() accepts it (one v1 of several too), and refuses a tampered
 *   body, a wrong secret, a time outside the window either side, and each
 *   malformed header;
 *   the builders give exactly the documented actions, and refuse what no
 *   server would take;
 *   publish() POSTs a signed body to a small HTTP server here, returns its
 *   results, and reports a refusal, a redirect and no answer as documented;
 *   siogate.py's command line: sign and publish, exit statuses 0, 1, 2.
 *
 *   node --test tests/clients/          (make clients)
 */
import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {ROOT, freePort} from '../lib/servers.mjs';

const DIR = path.join(ROOT, 'tests/clients');
const PY = path.join(ROOT, 'ctl/siogate.py');
const SECRET = crypto.randomBytes(32).toString('hex');
const LANGS = {php: ['php', path.join(DIR, 'driver.php')], python: ['python3', path.join(DIR, 'driver.py')]};
const have = (cmd) => {
	try {
		execFileSync(cmd, ['--version'], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
};
for (const [lang, [cmd]] of Object.entries(LANGS))
	assert.ok(have(cmd), `${cmd} for the ${lang} helper (scripts/deps.sh installs it)`);

/* Runs file with args, input on stdin; resolves {code, stdout, stderr}. */
function run(cmd, args, input = '') {
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, {stdio: ['pipe', 'pipe', 'pipe']});
		let stdout = '', stderr = '';
		p.stdout.on('data', (d) => { stdout += d; });
		p.stderr.on('data', (d) => { stderr += d; });
		p.on('error', reject);
		p.on('close', (code) => resolve({code, stdout, stderr}));
		p.stdin.end(input);
	});
}

/* The calls [{fn, args, named}] in lang; resolves their outcomes. */
async function calls(lang, list) {
	const [cmd, file] = LANGS[lang];
	const r = await run(cmd, [file], JSON.stringify(list));
	assert.equal(r.code, 0, `${lang} driver: ${r.stderr}`);
	assert.equal(r.stderr, '', `${lang} driver wrote to stderr`);
	const out = JSON.parse(r.stdout);
	assert.equal(out.length, list.length);
	return out;
}
const call = async (lang, fn, args = [], named = {}) => (await calls(lang, [{fn, args, named}]))[0];
const bytes = (buf) => ({$bytes: Buffer.from(buf).toString('base64')});
const now = () => Math.floor(Date.now() / 1000);
const hmac = (secret, t, body) =>
	crypto.createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${t}.`), Buffer.from(body)])).digest('hex');

describe('sign and verify', () => {
	const vectors = [
		{what: 'a publish body', body: Buffer.from('{"actions":[{"do":"send","data":"hi"}]}'), t: 1700000000},
		{what: 'an empty body', body: Buffer.alloc(0), t: 0},
		{what: 'UTF-8 text', body: Buffer.from('{"name":"café ☕ 𝄞"}'), t: 4102444800},
		{what: 'bytes that are no text', body: Buffer.from([0, 0xff, 0xfe, 10, 13, 0x2e]), t: 1},
		{what: '1 MiB', body: crypto.randomBytes(1 << 20), t: 1750000000},
	];
	for (const lang of Object.keys(LANGS)) {
		test(`${lang}: sign() is Node's HMAC-SHA256 over "t.body"`, async () => {
			const out = await calls(lang, vectors.map((v) => ({fn: 'sign', args: [SECRET, bytes(v.body), v.t]})));
			vectors.forEach((v, i) =>
				assert.deepEqual(out[i], {ok: `t=${v.t},v1=${hmac(SECRET, v.t, v.body)}`}, v.what));
			/* the secret is bytes too: a UTF-8 one */
			const utf = 'sécret-'.repeat(6);
			assert.deepEqual(await call(lang, 'sign', [utf, 'x', 7]), {ok: `t=7,v1=${hmac(utf, 7, 'x')}`});
			/* default t: now */
			const t0 = now();
			const d = (await call(lang, 'sign', [SECRET, 'x'])).ok;
			const t = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(d)[1]);
			assert.ok(t >= t0 && t <= now(), `t=${t} is now`);
			assert.equal(d, `t=${t},v1=${hmac(SECRET, t, 'x')}`);
		});

		test(`${lang}: sign() gives the worked example of docs/bridge.md`, async () => {
			const doc = fs.readFileSync(path.join(ROOT, 'docs/bridge.md'), 'utf8');
			const secret = /^- secret: +`([^`]+)`$/m.exec(doc)?.[1];
			const t = /^- t: +`(\d+)`$/m.exec(doc)?.[1];
			const body = /^- body: +`([^`]+)`$/m.exec(doc)?.[1];
			const header = /^- header: +`X-Siogate-Signature: ([^`]+)`$/m.exec(doc)?.[1];
			assert.ok(secret && t && body && header, 'docs/bridge.md has the example (secret:, t:, body:, header:)');
			assert.equal(`t=${t},v1=${hmac(secret, t, body)}`, header, 'the document is right (Node)');
			assert.deepEqual(await call(lang, 'sign', [secret, body, Number(t)]), {ok: header});
		});

		test(`${lang}: verify() takes a good signature and refuses the rest`, async () => {
			const body = '{"actions":[{"do":"emit","name":"news","args":[1]}]}';
			const t = now();
			const good = `t=${t},v1=${hmac(SECRET, t, body)}`;
			const wrong = hmac('x'.repeat(32), t, body);
			const cases = [
				[true, 'Node\'s signature', body, good],
				[true, 'one good v1 of several', body, `t=${t},v1=${wrong},v1=${hmac(SECRET, t, body)}`],
				[true, 'an unknown scheme beside v1', body, `t=${t},v0=abc,v1=${hmac(SECRET, t, body)}`],
				[true, 'spaces after the commas', body, `t=${t}, v1=${hmac(SECRET, t, body)}`],
				[true, '200 s old', body, `t=${t - 200},v1=${hmac(SECRET, t - 200, body)}`],
				[true, '200 s ahead', body, `t=${t + 200},v1=${hmac(SECRET, t + 200, body)}`],
				[false, 'a tampered body', body.replace('news', 'newz'), good],
				[false, 'a body one byte longer', body + ' ', good],
				[false, 'another secret', body, `t=${t},v1=${wrong}`],
				[false, 'several v1, none good', body, `t=${t},v1=${wrong},v1=${'0'.repeat(64)}`],
				[false, '400 s old (stale)', body, `t=${t - 400},v1=${hmac(SECRET, t - 400, body)}`],
				[false, '400 s ahead', body, `t=${t + 400},v1=${hmac(SECRET, t + 400, body)}`],
				[false, 'another t than signed', body, `t=${t + 1},v1=${hmac(SECRET, t, body)}`],
				[true, 'uppercase hex', body, `t=${t},v1=${hmac(SECRET, t, body).toUpperCase()}`],
				[true, 'an item that is no key=value, ignored', body, `t=${t},x,v1=${hmac(SECRET, t, body)}`],
				[false, 'a v1 that is not 64 hex digits beside a good one', body, `t=${t},v1=abc,v1=${hmac(SECRET, t, body)}`],
				[false, 'a t of 19 digits', body, `t=${'1'.repeat(19)},v1=${hmac(SECRET, t, body)}`],
				[false, 'empty', body, ''],
				[false, 'no t', body, `v1=${hmac(SECRET, t, body)}`],
				[false, 'no v1', body, `t=${t}`],
				[false, 'two t', body, `t=${t},t=${t},v1=${hmac(SECRET, t, body)}`],
				[false, 'a signed t', body, `t=+${t},v1=${hmac(SECRET, t, body)}`],
				[false, 'a t that is not a number', body, `t=abc,v1=${hmac(SECRET, t, body)}`],
				[false, 'a t of 20 digits', body, `t=${'9'.repeat(20)},v1=${hmac(SECRET, t, body)}`],
				[false, 'a v1 without =', body, `t=${t},v1`],
				[false, 'garbage', body, 'Bearer abc'],
				[false, 'non-ASCII', body, `t=${t},v1=é${hmac(SECRET, t, body).slice(1)}`],
				[false, 'over 1024 bytes', body, `t=${t},` + `v1=${'0'.repeat(64)},`.repeat(15) + ' '.repeat(40) + `v1=${hmac(SECRET, t, body)}`],
				[true, 'up to 1024 bytes', body, `t=${t},` + `v1=${'0'.repeat(64)},`.repeat(13) + `v1=${hmac(SECRET, t, body)}`],
			];
			const out = await calls(lang, cases.map(([, , b, h]) => ({fn: 'verify', args: [SECRET, b, h]})));
			cases.forEach(([want, what], i) => assert.deepEqual(out[i], {ok: want}, what));
			/* what the helper signed itself, and a narrower window */
			const [signed] = await calls(lang, [{fn: 'sign', args: [SECRET, body, t - 100]}]);
			const more = await calls(lang, [
				{fn: 'verify', args: [SECRET, body, signed.ok]},
				{fn: 'verify', args: [SECRET, body, signed.ok, 50]},
			]);
			assert.deepEqual(more, [{ok: true}, {ok: false}]);
		});

		test(`${lang}: a secret shorter than 32 bytes is refused, not used`, async () => {
			const err = lang === 'php' ? 'InvalidArgumentException' : 'ValueError';
			for (const [fn, args] of [['sign', ['s'.repeat(31), 'x']], ['verify', ['', 'x', 't=1,v1=00']]]) {
				const r = await call(lang, fn, args);
				assert.equal(r.error, err, `${fn}: ${JSON.stringify(r)}`);
				assert.match(r.message, /at least 32 bytes/);
			}
			assert.match((await call(lang, 'sign', ['s'.repeat(32), 'x', 1])).ok, /^t=1,v1=/);
		});
	}
});

/*
 * The vectors of tests/test_sign.c, read from that file: siogate's own
 * sio_sign() must give them (make check), and both helpers must take
 * them, so that an application's verify() accepts what siogate signs.
 * Their MACs were computed with openssl; Node checks them again here.
 */
function cVectors() {
	const src = fs.readFileSync(path.join(ROOT, 'tests/test_sign.c'), 'utf8');
	const cstr = (lit) => JSON.parse(`"${lit}"`); // the C escapes used: \" and \\
	const def = (name) => {
		const m = new RegExp(`^#define ${name}\\s+(?:\\\\\\n\\s*)?(?:"((?:[^"\\\\]|\\\\.)*)"|(\\d+)LL)`, 'm').exec(src);
		assert.ok(m, `tests/test_sign.c defines ${name}`);
		return m[1] !== undefined ? cstr(m[1]) : Number(m[2]);
	};
	const other = /sio_sign\(SECRET2, "((?:[^"\\]|\\.)*)", \d+, T \+ (\d+),/.exec(src);
	assert.ok(other, 'tests/test_sign.c signs a body with SECRET2 at T + n');
	const T = def('T');
	return {
		T, secret: def('SECRET'), secret2: def('SECRET2'), body: def('BODY'),
		macBody: def('MAC_BODY'), macEmpty: def('MAC_EMPTY'), macOther: def('MAC_OTHER'),
		otherBody: cstr(other[1]), otherT: T + Number(other[2]),
	};
}

describe('siogate\'s signatures (the vectors of tests/test_sign.c)', () => {
	const v = cVectors();
	test('the vectors are HMAC-SHA256 for Node too', () => {
		assert.equal(hmac(v.secret, v.T, v.body), v.macBody);
		assert.equal(hmac(v.secret, v.T, ''), v.macEmpty);
		assert.equal(hmac(v.secret2, v.otherT, v.otherBody), v.macOther);
	});
	for (const lang of Object.keys(LANGS)) {
		test(`${lang}: sign() gives siogate's headers; verify() takes them, and refuses them changed or stale`, async () => {
			/* the vectors are old: a window that reaches back to them, and
			 * one that stops a minute short */
			const reach = now() - v.T + 60, short = now() - v.T - 60;
			const h = `t=${v.T},v1=${v.macBody}`;
			const cases = [
				[true, 'the body vector', v.secret, v.body, h, reach],
				[true, 'the empty body vector', v.secret, '', `t=${v.T},v1=${v.macEmpty}`, reach],
				[true, 'the other secret\'s vector', v.secret2, v.otherBody, `t=${v.otherT},v1=${v.macOther}`, reach],
				[true, 'its v1 after another', v.secret, v.body, `t=${v.T},v1=${v.macEmpty},v1=${v.macBody}`, reach],
				[true, 'its v1 before another', v.secret, v.body, `t=${v.T},v1=${v.macBody},v1=${v.macEmpty}`, reach],
				[true, 'in uppercase, a space after the comma', v.secret, v.body, `t=${v.T}, v1=${v.macBody.toUpperCase()}`, reach],
				[false, 'stale', v.secret, v.body, h, short],
				[false, 'a tampered body', v.secret, v.body.replace('1', '2'), h, reach],
				[false, 'the empty body\'s MAC on the body', v.secret, v.body, `t=${v.T},v1=${v.macEmpty}`, reach],
				[false, 'the other secret', v.secret2, v.body, h, reach],
				[false, 'another t', v.secret, v.body, `t=${v.T + 1},v1=${v.macBody}`, reach],
			];
			const out = await calls(lang, [
				{fn: 'sign', args: [v.secret, v.body, v.T]},
				{fn: 'sign', args: [v.secret, '', v.T]},
				{fn: 'sign', args: [v.secret2, v.otherBody, v.otherT]},
				...cases.map(([, , secret, body, header, skew]) => ({fn: 'verify', args: [secret, body, header, skew]})),
			]);
			assert.deepEqual(out.slice(0, 3), [
				{ok: h}, {ok: `t=${v.T},v1=${v.macEmpty}`}, {ok: `t=${v.otherT},v1=${v.macOther}`},
			], 'sign() writes what sio_sign() writes');
			cases.forEach(([want, what], i) => assert.deepEqual(out[3 + i], {ok: want}, what));
		});
	}
});

describe('read_secret()', () => {
	let dir;
	before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-clients.')); });
	after(() => fs.rmSync(dir, {recursive: true, force: true}));
	const file = (name, content) => {
		const f = path.join(dir, name);
		fs.writeFileSync(f, content, {mode: 0o600});
		return f;
	};
	/* what each driver prints for a string: PHP's string, Python's bytes */
	const asText = (lang, ok) => (lang === 'python' ? Buffer.from(ok.$bytes, 'base64').toString('latin1') : ok);

	for (const lang of Object.keys(LANGS)) {
		test(`${lang}: the file without the ASCII whitespace at its ends, as siogate.conf reads a value`, async () => {
			const spaced = `${SECRET.slice(0, 20)} ${SECRET.slice(20)}`;
			const kept = [
				['a line', `${SECRET}\n`, SECRET],
				['a CRLF line', `${SECRET}\r\n`, SECRET],
				['no line end', SECRET, SECRET],
				['every ASCII space around', ` \t\x0b\x0c${SECRET} \t\x0b\x0c\r\n\n\n`, SECRET],
				['a space inside is the secret\'s', `  ${spaced}\t\n`, spaced],
			];
			const out = await calls(lang, kept.map(([, content], i) => ({fn: 'read_secret', args: [file(`k${i}`, content)]})));
			kept.forEach(([what, , want], i) => assert.equal(asText(lang, out[i].ok), want, what));
		});

		test(`${lang}: an unreadable, two-line or oversized file is refused`, async () => {
			const refused = [
				['no such file', path.join(dir, 'none'), /No such file/],
				['two lines', file('two', `${SECRET}\n${SECRET}\n`), /one line/],
				['over 64 KiB', file('big', 'x'.repeat((64 << 10) + 1)), /over 65536 bytes/],
			];
			const out = await calls(lang, refused.map(([, f]) => ({fn: 'read_secret', args: [f]})));
			refused.forEach(([what, , re], i) => {
				assert.ok(out[i].error, `${what}: refused (${JSON.stringify(out[i])})`);
				assert.match(out[i].message, re, what);
			});
			const [exact] = await calls(lang, [{fn: 'read_secret', args: [file('max', 'y'.repeat(64 << 10))]}]);
			assert.equal(asText(lang, exact.ok).length, 64 << 10, '64 KiB exactly is read');
		});
	}
});

describe('the action builders', () => {
	/* [fn, args, named (PHP's named arguments, Python's keywords), the action] */
	const built = [
		['emit', ['news'], {sid: 'S1'}, {do: 'emit', name: 'news', args: [], sid: 'S1'}],
		['emit', ['news', ['a', {b: [1, null, true]}, 2.5]], {room: 'lobby', endpoint: '/chat', exclude: 'S1'},
			{do: 'emit', name: 'news', args: ['a', {b: [1, null, true]}, 2.5], room: 'lobby', endpoint: '/chat', exclude: 'S1'}],
		['emit', ['tick', [1]], {endpoint: '/chat', volatile: true}, {do: 'emit', name: 'tick', args: [1], endpoint: '/chat', volatile: true}],
		['emit', ['tick'], {volatile: false}, {do: 'emit', name: 'tick', args: []}],
		['emit', ['café ☕'], {}, {do: 'emit', name: 'café ☕', args: []}],
		['send', ['hello'], {sid: 'S1'}, {do: 'send', data: 'hello', sid: 'S1'}],
		['send', [''], {room: 'r', exclude: 'S2'}, {do: 'send', data: '', room: 'r', exclude: 'S2'}],
		['send', ['all'], {}, {do: 'send', data: 'all'}],
		['json', [{a: [1, 2]}], {sid: 'S1', endpoint: '/x'}, {do: 'json', data: {a: [1, 2]}, sid: 'S1', endpoint: '/x'}],
		['json', [[1, 'two']], {room: 'r'}, {do: 'json', data: [1, 'two'], room: 'r'}],
		['json', ['text'], {}, {do: 'json', data: 'text'}],
		['json', [null], {}, {do: 'json', data: null}],
		['join', ['S1', 'lobby'], {}, {do: 'join', sid: 'S1', room: 'lobby'}],
		['join', ['S1', 'lobby'], {endpoint: '/chat'}, {do: 'join', sid: 'S1', room: 'lobby', endpoint: '/chat'}],
		['leave', ['S1', 'lobby'], {endpoint: '/chat'}, {do: 'leave', sid: 'S1', room: 'lobby', endpoint: '/chat'}],
		['set', ['S1', 'name', 'ann'], {}, {do: 'set', sid: 'S1', key: 'name', value: 'ann'}],
		['set', ['S1', 'name', null], {}, {do: 'set', sid: 'S1', key: 'name', value: null}],
		['disconnect', ['S1'], {}, {do: 'disconnect', sid: 'S1'}],
		['disconnect', ['S1'], {endpoint: '/chat'}, {do: 'disconnect', sid: 'S1', endpoint: '/chat'}],
	];
	const refused = [
		['emit without a name', 'emit', [''], {}, /needs a name/],
		['emit with args that are not a list', 'emit', ['x', {$assoc: {a: 1}}], {}, /must be a list/],
		['a sid and a room', 'send', ['x'], {sid: 'S1', room: 'r'}, /sid or a room, not both/],
		['exclude with a sid', 'emit', ['x'], {sid: 'S1', exclude: 'S2'}, /exclude goes with a room or an endpoint/],
	];
	for (const lang of Object.keys(LANGS)) {
		test(`${lang}: each builder gives the documented action`, async () => {
			const out = await calls(lang, built.map(([fn, args, named]) => ({fn, args, named})));
			built.forEach(([fn, args, named, want], i) =>
				assert.deepEqual(out[i], {ok: want}, `${fn}(${JSON.stringify(args)}, ${JSON.stringify(named)})`));
		});

		test(`${lang}: builders refuse what no server takes`, async () => {
			const out = await calls(lang, refused.map(([, fn, args, named]) => ({fn, args, named})));
			refused.forEach(([what, , , , re], i) => {
				assert.ok(out[i].error, `${what}: refused (${JSON.stringify(out[i])})`);
				assert.match(out[i].message, re, what);
			});
		});
	}
});

describe('publish() against a stand-in HTTP server', () => {
	let srv, url, answer;
	const got = [];
	before(async () => {
		srv = http.createServer((req, res) => {
			const chunks = [];
			req.on('data', (c) => chunks.push(c));
			req.on('end', () => {
				got.push({method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks)});
				const [status, headers, body] = answer;
				res.writeHead(status, headers);
				res.end(body);
			});
		});
		await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${srv.address().port}/socket.io/publish`;
	});
	after(() => new Promise((resolve) => srv.close(resolve)));
	const JSON_TYPE = {'Content-Type': 'application/json'};

	/* The request the helper sent: a POST of {"actions": ...} signed by SECRET. */
	function checkRequest(r, actions) {
		assert.equal(r.method, 'POST');
		assert.equal(r.url, '/socket.io/publish');
		assert.match(r.headers['content-type'], /^application\/json/);
		const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.headers['x-siogate-signature']);
		assert.ok(m, `signature header: ${r.headers['x-siogate-signature']}`);
		assert.ok(Math.abs(now() - Number(m[1])) <= 5, 't is now');
		assert.equal(m[2], hmac(SECRET, m[1], r.body), 'signed over the exact body sent');
		assert.deepEqual(JSON.parse(r.body.toString('utf8')), {actions});
		assert.equal(Number(r.headers['content-length']), r.body.length);
	}

	for (const lang of Object.keys(LANGS)) {
		test(`${lang}: a 200 gives the results; the request is signed`, async () => {
			const actions = [{do: 'emit', name: 'news', args: ['é', {n: 1}], sid: 'S1'}, {do: 'send', data: 'x', room: 'r'}];
			const results = [{queued: 1}, {queued: 12, dropped: 1}];
			answer = [200, JSON_TYPE, JSON.stringify({results})];
			got.length = 0;
			assert.deepEqual(await call(lang, 'publish', [url, SECRET, actions]), {ok: results});
			assert.equal(got.length, 1);
			checkRequest(got[0], actions);
		});

		test(`${lang}: a refusal raises with the status and the server's error text`, async () => {
			const cls = lang === 'php' ? 'RuntimeException' : 'PublishError';
			const refusals = [
				[401, JSON_TYPE, '{"error":"bad signature"}', 'bad signature'],
				[400, JSON_TYPE, '{"error":"action 3: emit needs a name"}', 'action 3: emit needs a name'],
				[404, {'Content-Type': 'text/plain'}, 'Not Found\n', 'Not Found'],
				[503, JSON_TYPE, '{"error":"store unavailable"}', 'store unavailable'],
				[302, {Location: '/elsewhere'}, '', ''],
			];
			for (const [status, headers, body, text] of refusals) {
				answer = [status, headers, body];
				got.length = 0;
				const r = await call(lang, 'publish', [url, SECRET, [{do: 'send', data: 'x'}]]);
				assert.equal(r.error, cls, `${status}: ${JSON.stringify(r)}`);
				assert.equal(r.code, status);
				assert.equal(r.message, `siogate publish: ${status} ${text}`.trimEnd());
				assert.equal(got.length, 1, `${status}: one request, no redirect followed`);
			}
			answer = [200, JSON_TYPE, '{"no":"results"}'];
			const r = await call(lang, 'publish', [url, SECRET, []]);
			assert.equal(r.error, cls);
			assert.equal(r.code, 200);
		});

		test(`${lang}: no answer raises with status 0`, async () => {
			const port = await freePort();
			const r = await call(lang, 'publish', [`http://127.0.0.1:${port}/socket.io/publish`, SECRET, []]);
			assert.equal(r.error, lang === 'php' ? 'RuntimeException' : 'PublishError');
			assert.equal(r.code, 0);
			assert.match(r.message, new RegExp(`^siogate publish: .*127\\.0\\.0\\.1:${port}`));
		});
	}

	test('siogate.py: the command line signs, publishes, and exits 0, 1 or 2', async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-clients.'));
		try {
			const key = path.join(dir, 'secret');
			/* whitespace around the secret is not part of it */
			fs.writeFileSync(key, `\t ${SECRET} \r\n\n`, {mode: 0o600});
			const py = (...a) => run('python3', [PY, ...a.slice(0, -1)], a.at(-1));

			let r = await py('sign', '--secret-file', key, '-t', '1700000000', 'a body');
			assert.equal(r.code, 0, r.stderr);
			assert.equal(r.stdout, `t=1700000000,v1=${hmac(SECRET, 1700000000, 'a body')}\n`);

			const actions = [{do: 'send', data: 'x', sid: 'S1'}];
			answer = [200, JSON_TYPE, '{"results":[{"queued":1}]}'];
			got.length = 0;
			r = await py('publish', url, '--secret-file', key, JSON.stringify(actions), '');
			assert.equal(r.code, 0, r.stderr);
			assert.deepEqual(JSON.parse(r.stdout), [{queued: 1}]);
			checkRequest(got[0], actions);
			/* the actions from stdin, as {"actions": [...]} */
			got.length = 0;
			r = await py('publish', url, '--secret-file', key, '-', JSON.stringify({actions}));
			assert.equal(r.code, 0, r.stderr);
			checkRequest(got[0], actions);

			answer = [401, JSON_TYPE, '{"error":"stale signature"}'];
			r = await py('publish', url, '--secret-file', key, '[]', '');
			assert.equal(r.code, 1);
			assert.equal(r.stderr, 'siogate.py: siogate publish: 401 stale signature\n');
			assert.equal(r.stdout, '');

			got.length = 0;
			for (const [what, args, re] of [
				['no secret file', ['publish', url, '--secret-file', path.join(dir, 'none'), '[]'], /No such file/],
				['actions that are not JSON', ['publish', url, '--secret-file', key, '[{'], /siogate\.py: /],
				['actions that are not a list', ['publish', url, '--secret-file', key, '{"do":"send"}'], /JSON array of actions/],
				['a short secret', ['sign', '--secret-file', (fs.writeFileSync(path.join(dir, 's'), 'short\n'), path.join(dir, 's'))], /at least 32 bytes/],
				['a secret file of two lines', ['sign', '--secret-file', (fs.writeFileSync(path.join(dir, 'two'), `${SECRET}\nmore\n`), path.join(dir, 'two'))], /one line/],
				['no subcommand', [], /usage: siogate\.py/],
				['no secret file option', ['publish', url, '[]'], /--secret-file/],
			]) {
				r = await py(...args, '');
				assert.equal(r.code, 2, `${what}: exit 2 (${r.stderr})`);
				assert.match(r.stderr, re, what);
			}
			assert.equal(got.length, 0, 'nothing sent on a usage error');
		} finally {
			fs.rmSync(dir, {recursive: true, force: true});
		}
	});
});

describe('the bridge side: an event checked, an answer built', () => {
	const event = {type: 'event', sid: 'A'.repeat(22), endpoint: '/chat', seq: 7, try: 1,
		time: 1700000000000, name: 'say', args: ['hé', {n: 1}], ack: 3};
	const body = JSON.stringify(event);
	const signed = (b, t = now()) => `t=${t},v1=${hmac(SECRET, t, b)}`;
	/* PHP's bridge_event() answers and exits on a bad request unless told
	 * not to (answer: false), which the driver needs */
	const ev = (lang, b, header) => lang === 'php'
		? call(lang, 'bridge_event', [SECRET, b, header, false])
		: call(lang, 'bridge_event', [SECRET, b, header]);

	for (const lang of Object.keys(LANGS)) {
		test(`${lang}: bridge_event() takes what siogate signs and refuses the rest`, async () => {
			assert.deepEqual(await ev(lang, body, signed(body)), {ok: event});
			const refused = [
				[401, 'a bad signature', body, signed(body + ' ')],
				[401, 'a stale signature', body, signed(body, now() - 400)],
				[401, 'no signature', body, ''],
				[400, 'not an object', '[1]', signed('[1]')],
				[400, 'not JSON', '{"type":', signed('{"type":')],
				[400, 'no sid', '{"type":"open","endpoint":""}', signed('{"type":"open","endpoint":""}')],
			];
			for (const [code, what, b, h] of refused) {
				const r = await ev(lang, b, h);
				assert.equal(r.error, lang === 'php' ? 'Siogate\\BridgeError' : 'BridgeError', what);
				assert.equal(r.code, code, `${what}: ${r.message}`);
			}
		});

		test(`${lang}: the answer's builders: ack, reject, broadcast, the event's own session`, async () => {
			const out = await calls(lang, [
				{fn: 'ack', args: [[1, 'x']]},
				{fn: 'ack', args: []},
				{fn: 'reject', args: []},
				{fn: 'broadcast', args: [{$assoc: {do: 'send', data: 'hi', room: 'r'}}]},
				{fn: 'join', args: [null, 'lobby']},
				{fn: 'set', args: [null, 'name', 'ann']},
				{fn: 'disconnect', args: [null]},
				{fn: 'send', args: ['to me']},
			]);
			assert.deepEqual(out.map((o) => o.ok), [
				{do: 'ack', args: [1, 'x']}, {do: 'ack', args: []}, {do: 'reject'},
				{do: 'send', data: 'hi', room: 'r', broadcast: true},
				{do: 'join', room: 'lobby'}, {do: 'set', key: 'name', value: 'ann'},
				{do: 'disconnect'}, {do: 'send', data: 'to me'},
			]);
		});
	}

	test('php: respond() answers JSON, or 204 with nothing (php-cgi)', {skip: !have('php-cgi') && 'no php-cgi'}, async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-respond-'));
		try {
			const script = path.join(dir, 'r.php');
			fs.writeFileSync(script, `<?php require ${JSON.stringify(path.join(ROOT, 'ctl/siogate.php'))};\n` +
				'Siogate\\respond(json_decode(file_get_contents("php://stdin"), true));\n');
			const cgi = (input) => run('php-cgi', ['-d', 'cgi.force_redirect=0', script], input);
			let r = await cgi('[{"do":"ack","args":[1]}]');
			assert.match(r.stdout, /^Content-type: application\/json/mi);
			assert.equal(r.stdout.split('\r\n\r\n')[1], '{"actions":[{"do":"ack","args":[1]}]}');
			r = await cgi('[]');
			assert.match(r.stdout, /^Status: 204/m);
			assert.equal(r.stdout.split('\r\n\r\n')[1], '');
		} finally {
			fs.rmSync(dir, {recursive: true, force: true});
		}
	});

	test('python: bridge_app() is a WSGI application: 200 with actions, 204, 401', async () => {
		const script = `
import io, json, sys, time, hmac, hashlib
sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'ctl'))})
import siogate
secret = ${JSON.stringify(SECRET)}
def handler(e):
    return [siogate.ack([e['args'][0]])] if e['type'] == 'event' else []
app = siogate.bridge_app(secret, handler)
def call(body, header):
    env = {'REQUEST_METHOD': 'POST', 'CONTENT_LENGTH': str(len(body)), 'wsgi.input': io.BytesIO(body)}
    if header: env['HTTP_X_SIOGATE_SIGNATURE'] = header
    got = {}
    out = b''.join(app(env, lambda s, h: got.update(status=s, headers=dict(h))))
    return [got['status'], got['headers'].get('Content-Type'), out.decode()]
res = []
for body in (${JSON.stringify(body)}.encode(), b'{"type":"open","sid":"x","endpoint":""}'):
    res.append(call(body, siogate.sign(secret, body)))
res.append(call(b'{}', 't=1,v1=' + '0' * 64))
print(json.dumps(res))
`;
		const r = await run('python3', ['-c', script]);
		assert.equal(r.code, 0, r.stderr);
		assert.deepEqual(JSON.parse(r.stdout), [
			['200 OK', 'application/json', '{"actions":[{"do":"ack","args":["hé"]}]}'],
			['204 No Content', null, ''],
			['401 Unauthorized', 'text/plain', 'siogate bridge: bad or stale signature\n'],
		]);
	});
});
