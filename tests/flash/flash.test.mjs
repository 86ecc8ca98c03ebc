// flash.test.mjs: the flashsocket transport and the Flash policy file of
// sio-wsd, with tests/hixie_client.mjs behaving like WebSocketMain.swf.
//
// lighttpd + sio-gateway come from scripts/webserver.sh (NO_WSD=1, with
// WSD_ADDR set to sio-wsd's flash listener, so lighttpd's flashsocket route
// reaches it); sio-wsd is started here:
//   sio-wsd -c CONF --listen 127.0.0.1:WS --flash-listen 127.0.0.1:FLASH
//           --policy-host 127.0.0.1        (flash_policy_port = POLICY)
// The handshake goes through lighttpd; hixie-76 goes straight to the flash
// listener and through lighttpd's proxy; the policy is fetched from the
// policy port and inline from both wsd listeners.
//
//   node --test tests/flash/         (make flash; KEEP_TMP=1 keeps the logs)
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {connect, fetchPolicy, makeKey} from '../hixie_client.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.resolve(process.env.BUILD ?? path.join(ROOT, 'build'));
const WEBSERVER = path.join(ROOT, 'scripts/webserver.sh');
const POLICY_XML =
  '<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM ' +
  '"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd"><cross-domain-policy>' +
  '<allow-access-from domain="*" to-ports="*"/></cross-domain-policy>';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

async function until(what, fn, ms = 5000, every = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// Distinct free ports (lighttpd, wsd, flash listener, policy port).
async function ports(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

// The next message that is not a heartbeat (heartbeats are answered).
async function next(ws, ms = 5000) {
  for (;;) {
    const m = await ws.receive(ms);
    if (m === '2::') {
      ws.send('2::');
      continue;
    }
    return m;
  }
}

// Raw bytes to a TCP port: resolves with everything received until the
// server ends the connection (or ms pass).
function rawExchange(port, bytes, ms = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const t = setTimeout(() => (sock.destroy(), reject(new Error(`no end in ${ms} ms`))), ms);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => (clearTimeout(t), chunks.length ? resolve(Buffer.concat(chunks)) : reject(e)));
    sock.on('close', () => (clearTimeout(t), resolve(Buffer.concat(chunks))));
  });
}

const s = {};

before(async () => {
  s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sio-flash.'));
  fs.chmodSync(s.dir, 0o755);
  s.var = path.join(s.dir, 'srv');
  fs.mkdirSync(s.var);
  [s.port, s.wsPort, s.flashPort, s.policyPort] = await ports(4);
  const conf = {
    database: `${s.var}/siogate.db`, run_dir: `${s.var}/run`, app: 'testapp',
    transports: 'websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling',
    polling_duration: 2, close_timeout: 20, heartbeat_interval: 1, heartbeat_timeout: 10,
    flash_policy_port: s.policyPort, log_level: 'debug', threads: 8,
  };
  s.conf = `${s.var}/siogate.conf`;
  fs.writeFileSync(s.conf, Object.entries(conf).map(([k, v]) => `${k} = ${v}\n`).join(''));
  s.cleanup = () => {
    if (s.wsd && s.wsd.exitCode === null) try { s.wsd.kill('SIGKILL'); } catch { /* gone */ }
    try { execFileSync(WEBSERVER, ['stop', s.var], {stdio: 'ignore'}); } catch { /* stopped */ }
  };
  process.once('exit', s.cleanup);
  try {
    execFileSync(WEBSERVER, ['start', 'lighttpd', String(s.port), s.var], {
      env: {...process.env, GATEWAY: path.join(BUILD, 'sio-gateway'), SIOGATE_CONF: s.conf,
        // lighttpd routes /socket.io/1/(websocket|flashsocket)/ here
        WSD_ADDR: `127.0.0.1:${s.flashPort}`, NO_WSD: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    s.cleanup();
    throw new Error(`webserver.sh start failed: ${e.stderr}`);
  }
  s.log = '';
  const logFd = fs.openSync(`${s.var}/wsd.log`, 'a');
  s.wsd = spawn(path.join(BUILD, 'sio-wsd'), ['-c', s.conf, '--listen', `127.0.0.1:${s.wsPort}`,
    '--flash-listen', `127.0.0.1:${s.flashPort}`, '--policy-host', '127.0.0.1'],
  {stdio: ['ignore', 'ignore', 'pipe']});
  s.wsdExit = new Promise((resolve) => s.wsd.on('exit', (code, sig) => resolve({code, sig})));
  s.wsd.stderr.on('data', (d) => {
    s.log += d.toString();
    fs.writeSync(logFd, d);
  });
  for (const p of [s.wsPort, s.flashPort, s.policyPort])
    await until(`sio-wsd on port ${p}`, async () => {
      if (s.wsd.exitCode !== null) throw new Error(`sio-wsd exited: ${s.log}`);
      return portAccepts(p);
    }, 10000);
  s.agent = new http.Agent({keepAlive: true});
});

after(async () => {
  s.agent?.destroy();
  if (s.wsd && s.wsd.exitCode === null) {
    s.wsd.kill('SIGTERM');
    const t = setTimeout(() => s.wsd.kill('SIGKILL'), 3000);
    const r = await s.wsdExit;
    clearTimeout(t);
    assert.equal(r.code, 0, `sio-wsd exit ${JSON.stringify(r)}\n${s.log}`);
  }
  try { execFileSync(WEBSERVER, ['stop', s.var], {stdio: 'ignore'}); } catch { /* stopped */ }
  process.removeListener('exit', s.cleanup);
  if (!process.env.KEEP_TMP) fs.rmSync(s.dir, {recursive: true, force: true});
  else console.log(`kept ${s.dir}`);
});

function handshake() {
  return new Promise((resolve, reject) => {
    const req = http.get(`http://127.0.0.1:${s.port}/socket.io/1/?t=${Date.now()}`, {agent: s.agent}, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => res.statusCode === 200
        ? resolve(body.split(':')[0])
        : reject(new Error(`handshake ${res.statusCode} ${body}`)));
    });
    req.on('error', reject);
  });
}

const direct = (sid) => `ws://127.0.0.1:${s.flashPort}/socket.io/1/flashsocket/${sid}`;
const proxied = (sid) => `ws://127.0.0.1:${s.port}/socket.io/1/flashsocket/${sid}`;

describe('policy file', () => {
  test('policy port: the XML byte for byte, no NUL', async () => {
    const got = await fetchPolicy('127.0.0.1', s.policyPort);
    assert.equal(got.toString('latin1'), POLICY_XML);
  });

  test('policy port: also to a client that sends nothing', async () => {
    const got = await rawExchange(s.policyPort, Buffer.alloc(0));
    assert.equal(got.toString('latin1'), POLICY_XML);
  });

  test('inline on the flash listener: the XML and a NUL', async () => {
    const got = await fetchPolicy('127.0.0.1', s.flashPort);
    assert.equal(got.toString('latin1'), POLICY_XML + '\0');
  });

  test('inline on the websocket listener: the XML and a NUL', async () => {
    const got = await fetchPolicy('127.0.0.1', s.wsPort);
    assert.equal(got.toString('latin1'), POLICY_XML + '\0');
  });

  test('inline, the request in pieces', async () => {
    const got = await new Promise((resolve, reject) => {
      const sock = net.connect(s.flashPort, '127.0.0.1');
      const chunks = [];
      sock.on('connect', () => {
        sock.write('<policy-file');
        setTimeout(() => sock.write('-request/>\0'), 100);
      });
      sock.on('data', (d) => chunks.push(d));
      sock.on('error', reject);
      sock.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.equal(got.toString('latin1'), POLICY_XML + '\0');
  });
});

for (const [name, url] of [['direct', direct], ['through lighttpd', proxied]]) {
  describe(`hixie-76 ${name}`, () => {
    test('handshake, 1:: first, echo, event with ack, heartbeats, close', async () => {
      const sid = await handshake();
      const ws = await connect(url(sid), {origin: `http://127.0.0.1:${s.port}`});
      assert.match(ws.head, /^HTTP\/1\.1 101 /);
      assert.equal(await ws.receive(5000), '1::');
      ws.send('3:::x');
      assert.equal(await next(ws), '3:::x');
      ws.send('5:1+::{"name":"echo","args":[1]}');
      assert.equal(await next(ws), '6:::1+[1]');
      // heartbeat_interval 1: several arrive, each answered
      for (let i = 0; i < 3; i++) {
        assert.equal(await ws.receive(4000), '2::');
        ws.send('2::');
      }
      ws.send('3:::after heartbeats');
      assert.equal(await next(ws), '3:::after heartbeats');
      assert.equal(await ws.close(), 'closing frame');
    });

    test('key3 half a second after the head', async () => {
      const sid = await handshake();
      const ws = await connect(url(sid), {key3Delay: 500});
      assert.equal(await ws.receive(5000), '1::');
      ws.send('3:::late key3');
      assert.equal(await next(ws), '3:::late key3');
      assert.equal(await ws.close(), 'closing frame');
    });

    test('unknown sid: 7:::1+0, then the closing frame', async () => {
      const ws = await connect(url('nosuchsid123'));
      assert.equal(await ws.receive(5000), '7:::1+0');
      assert.equal(await ws.ended(), 'closing frame');
    });
  });
}

describe('hixie-76 sessions', () => {
  test('the 101 head comes before key3 is sent', async () => {
    const sid = await handshake();
    const sock = net.connect(s.flashPort, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    sock.write([`GET /socket.io/1/flashsocket/${sid} HTTP/1.1`, 'Upgrade: WebSocket',
      'Connection: Upgrade', `Host: 127.0.0.1:${s.flashPort}`, 'Origin: http://example.com',
      `Sec-WebSocket-Key1: ${makeKey()}`, `Sec-WebSocket-Key2: ${makeKey()}`, '', ''].join('\r\n'));
    const head = await new Promise((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error('no 101 head before key3')), 3000);
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) (clearTimeout(t), resolve(buf));
      });
    });
    assert.match(head, /^HTTP\/1\.1 101 WebSocket Protocol Handshake\r\n/);
    assert.match(head, /\r\nSec-WebSocket-Origin: http:\/\/example\.com\r\n/);
    assert.match(head, new RegExp(`\r\nSec-WebSocket-Location: ws://127\\.0\\.0\\.1:${s.flashPort}/socket\\.io/1/flashsocket/${sid}\r\n`));
    sock.destroy();
  });

  test('a second connection supersedes the first; the session goes on', async () => {
    const sid = await handshake();
    const a = await connect(direct(sid));
    assert.equal(await a.receive(5000), '1::');
    const b = await connect(direct(sid));
    b.send('3:::to b');
    assert.equal(await next(b), '3:::to b');
    assert.equal(a.closed, false);
    await b.close();
    await a.close();
  });

  test('a packet POSTed on xhr-polling gets its reply on the flashsocket', async () => {
    const sid = await handshake();
    const ws = await connect(direct(sid));
    assert.equal(await ws.receive(5000), '1::');
    const body = '3:::via polling';
    await new Promise((resolve, reject) => {
      const req = http.request(`http://127.0.0.1:${s.port}/socket.io/1/xhr-polling/${sid}?t=${Date.now()}`,
        {method: 'POST', agent: s.agent, headers: {'Content-Type': 'text/plain; charset=UTF-8',
          'Content-Length': Buffer.byteLength(body)}}, (res) => (res.resume(), res.on('end', resolve)));
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(await next(ws), '3:::via polling');
    await ws.close();
  });

  test('a large message both ways (max_packet is the limit)', async () => {
    const sid = await handshake();
    const ws = await connect(direct(sid));
    assert.equal(await ws.receive(5000), '1::');
    const text = '3:::' + 'é'.repeat(30000);
    ws.send(text);
    assert.equal(await next(ws), text);
    await ws.close();
  });

  test('a bad frame: closing frame and a log line', async () => {
    const sid = await handshake();
    const ws = await connect(direct(sid));
    assert.equal(await ws.receive(5000), '1::');
    const mark = s.log.length;
    ws.sendRaw([0x00, 0xc3, 0x28, 0xff]); // invalid UTF-8
    assert.equal(await ws.ended(), 'closing frame');
    await until('the log line', () => /bad hixie frame/.test(s.log.slice(mark)));
  });

  for (const [what, bytes, status] of [
    ['garbage', 'hello there\r\n\r\n', 400],
    ['a bad key', `GET /socket.io/1/flashsocket/x HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: h\r\nOrigin: o\r\nSec-WebSocket-Key1: 12345\r\nSec-WebSocket-Key2: 1 2\r\n\r\n12345678`, 400],
    ['an RFC 6455 upgrade', `GET /socket.io/1/flashsocket/x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nHost: h\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400],
    ['another path', `GET /other/1/flashsocket/x HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: h\r\nOrigin: o\r\nSec-WebSocket-Key1: 1 2\r\nSec-WebSocket-Key2: 1 2\r\n\r\n12345678`, 404],
  ]) {
    test(`${what}: ${status}`, async () => {
      const got = (await rawExchange(s.flashPort, bytes)).toString('latin1');
      assert.match(got, new RegExp(`^HTTP/1\\.1 ${status} `));
    });
  }

  test('sio-wsd is still serving', async () => {
    assert.equal(s.wsd.exitCode, null);
    const got = await fetchPolicy('127.0.0.1', s.policyPort);
    assert.equal(got.toString('latin1'), POLICY_XML);
  });
});
