import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ConnectionOptions, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { NatterClient } from '../../src/client/index.js';
import { PASSWORD } from '../helpers/api.js';
import { onceWithin } from '../helpers/deadline.js';
import { rawRequest, rawUpgrade } from '../helpers/http-raw.js';
import { ServeProcess } from '../helpers/serve-process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// natter serving TLS itself: HTTPS and WSS on the HTTP port, TLS on the TCP
// port, with the private test CA of test/fixtures/tls (see its README).

const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const CA = readFileSync(fixture('ca.pem'));
const TLS = { certFile: fixture('server.pem'), keyFile: fixture('server.key') };

const dirs: string[] = [];
const processes: ServeProcess[] = [];
after(() => {
  for (const p of processes) p.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'natter-tls-'));
  dirs.push(d);
  return d;
}

/** A TLS connection to `port` that checks the certificate against the test CA; resolves once secure. */
async function secureSocket(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: CA, ...options });
  await onceWithin(socket, 'secureConnect');
  return socket;
}

/** The DNS names of the certificate the server on `port` presents now. */
async function presentedNames(port: number): Promise<string[]> {
  const socket = await secureSocket(port);
  const cert: PeerCertificate = socket.getPeerCertificate();
  socket.destroy();
  return (cert.subjectaltname ?? '')
    .split(', ')
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4));
}

describe('TLS served by natter', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ tls: TLS });
  });
  after(() => t.destroy());

  test('HTTPS, WSS and TLS on the TCP port give the same hello and the same answers as in the clear', async () => {
    const wss = await NatterClient.connect(`wss://127.0.0.1:${t.server.port}`, { ca: CA });
    const tls = await NatterClient.connect(`tls://127.0.0.1:${t.server.tcpPort}`, { ca: CA });
    for (const c of [wss, tls]) {
      assert.equal(c.hello.protocol, 1);
      assert.equal(c.hello.authenticated, false);
      assert.deepEqual(c.hello.limits, { maxFrameBytes: 64 * 1024, authDeadlineMs: 10_000, heartbeatMs: 30_000 });
    }
    const reg = await wss.request('register', { username: 'secure', password: PASSWORD });
    const auth = await tls.request('auth', { token: reg.token });
    assert.equal(auth.user.id, reg.user.id);
    assert.equal(auth.session?.address, '127.0.0.1');
    const https = await rawRequest(`https://127.0.0.1:${t.server.port}/api/v1/whoami`, {
      ca: CA,
      headers: { authorization: `Bearer ${reg.token}` },
    });
    assert.equal(https.status, 200);
    assert.equal((https.body.result as { user: { id: string } }).user.id, reg.user.id);
    const health = await rawRequest(`https://localhost:${t.server.port}/healthz`, { method: 'GET', ca: CA });
    assert.equal(health.body.ok, true);
    wss.close();
    tls.close();
  });

  test('a line over the limit and undecodable lines are handled over TLS as over TCP', async () => {
    const socket = await secureSocket(t.server.tcpPort ?? 0);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.write(`${'x'.repeat(70 * 1024)}\n`);
    await onceWithin(socket, 'close');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string; error?: { code: string }; data?: { code: number } });
    assert.equal(lines[0]?.event, 'hello');
    assert.ok(lines.some((l) => l.error?.code === 'payload_too_large'));
    assert.ok(lines.some((l) => l.event === 'closing' && l.data?.code === 4010));
  });

  test('TLS 1.0 and 1.1 are refused; 1.2 and 1.3 are served', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = await secureSocket(t.server.port, { minVersion: version, maxVersion: version });
      assert.equal(s.getProtocol(), version);
      s.destroy();
    }
    const old = tlsConnect({
      host: '127.0.0.1',
      port: t.server.tcpPort ?? 0,
      ca: CA,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    const [err] = (await onceWithin(old, 'error')) as [NodeJS.ErrnoException];
    assert.match(`${err.code} ${err.message}`, /protocol version|unsupported protocol|no protocols available/i);
    old.destroy();
  });

  test("the Host check accepts the certificate's DNS names", async () => {
    const ok = await rawRequest(`https://127.0.0.1:${t.server.port}/healthz`, {
      method: 'GET',
      ca: CA,
      servername: 'localhost',
      headers: { host: 'chat.natter.test' },
    });
    assert.equal(ok.status, 200);
    const refused = await rawUpgrade(`https://127.0.0.1:${t.server.port}/`, {
      ca: CA,
      servername: 'localhost',
      headers: { host: 'renewed.natter.test' },
    });
    assert.equal(refused.status, 403, 'a name of a certificate not (yet) served');
    assert.equal(refused.body?.error?.code, 'host_not_allowed');
  });
});

describe('the per-address cap over TLS', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ tls: TLS, maxConnectionsPerAddress: 2 });
  });
  after(() => t.destroy());

  test('sockets still in the TLS handshake hold slots; the connection over the cap is refused on both ports, in words', async () => {
    const silent: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = netConnect({ host: '127.0.0.1', port: t.server.port });
      s.on('error', () => {});
      await onceWithin(s, 'connect');
      silent.push(s);
    }
    // Both slots are held by sockets that never finish their handshake: the server counts
    // them (on its side) by the time a third connection's upgrade is read.
    const refused = await rawUpgrade(`https://127.0.0.1:${t.server.port}/`, { ca: CA });
    assert.equal(refused.status, 429);
    assert.equal(refused.body?.error?.code, 'rate_limited');
    const line = await secureSocket(t.server.tcpPort ?? 0);
    let text = '';
    line.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    await onceWithin(line, 'end');
    assert.equal((JSON.parse(text.trim()) as { error: { code: string } }).error.code, 'rate_limited');
    line.destroy();
    for (const s of silent) s.destroy();
  });

  test('HTTPS keep-alive sockets count toward the cap like any other, until they close', async () => {
    const t = await startTestServer({ tls: TLS, maxConnectionsPerAddress: 2 });
    after(() => t.destroy());
    const agent = new Agent({ keepAlive: true, maxSockets: 2, ca: CA });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        request(`https://127.0.0.1:${t.server.port}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
          .on('error', reject)
          .end();
      });
    assert.deepEqual(await Promise.all([get(), get()]), [200, 200]);
    // The two keep-alive sockets stay open and could still be upgraded: a third connection is over the cap.
    const refused = await rawUpgrade(`https://127.0.0.1:${t.server.port}/`, { ca: CA });
    assert.equal(refused.status, 429);
    assert.equal(refused.body?.error?.code, 'rate_limited');
    agent.destroy();
    await waitFor(() => t.server.services.sockets.count('127.0.0.1') === 0, {
      what: 'the keep-alive sockets to close',
    });
    assert.equal((await rawUpgrade(`https://127.0.0.1:${t.server.port}/`, { ca: CA })).status, 101);
  });
});

describe('reloading the certificate', () => {
  test('reloadTls() serves a renewed certificate on both ports to new connections; open ones carry on', async () => {
    const dir = tempDir();
    const files = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
    copyFileSync(fixture('server.pem'), files.certFile);
    copyFileSync(fixture('server.key'), files.keyFile);
    const t = await startTestServer({ tls: files });
    try {
      const tls = await NatterClient.connect(`tls://127.0.0.1:${t.server.tcpPort}`, { ca: CA });
      const { user } = await tls.request('register', { username: 'tcprenewal', password: PASSWORD });
      copyFileSync(fixture('renewed.pem'), files.certFile);
      copyFileSync(fixture('renewed.key'), files.keyFile);
      assert.equal(t.server.reloadTls(), true);
      assert.deepEqual(await presentedNames(t.server.tcpPort ?? 0), ['localhost', 'renewed.natter.test']);
      assert.deepEqual(await presentedNames(t.server.port), ['localhost', 'renewed.natter.test']);
      assert.equal((await tls.request('whoami', {})).user.id, user.id, 'not dropped');
      // A key that does not match is refused, and the renewed pair stays.
      copyFileSync(fixture('server.key'), files.keyFile);
      assert.equal(t.server.reloadTls(), false);
      assert.deepEqual(await presentedNames(t.server.tcpPort ?? 0), ['localhost', 'renewed.natter.test']);
      tls.close();
    } finally {
      await t.destroy();
    }
  });
});

describe('natter serve --tls-cert/--tls-key', () => {
  test('SIGHUP serves a renewed certificate to new connections while open ones carry on; a bad file keeps the old one', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    copyFileSync(fixture('server.pem'), cert);
    copyFileSync(fixture('server.key'), key);
    const server = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', join(dir, 'data')], {
      env: { NATTER_TLS_CERT: cert, NATTER_TLS_KEY: key },
    });
    processes.push(server);
    const { port } = await server.listening();
    assert.match(server.stderr, /listening on https:\/\/127\.0\.0\.1:\d+ \(WebSocket wss:\/\/127\.0\.0\.1:\d+\)/);
    await server.logged(/TLS certificate for localhost, 127\.0\.0\.1, .*chat\.natter\.test, valid until 2126-/);
    assert.deepEqual(await presentedNames(port), ['localhost', 'chat.natter.test']);

    const wss = await NatterClient.connect(`wss://localhost:${port}`, { ca: CA });
    await wss.request('register', { username: 'renewal', password: PASSWORD });

    copyFileSync(fixture('renewed.pem'), cert);
    copyFileSync(fixture('renewed.key'), key);
    server.child.kill('SIGHUP');
    await server.logged(/TLS certificate for .*renewed\.natter\.test.*\(reloaded\)/);
    assert.deepEqual(await presentedNames(port), ['localhost', 'renewed.natter.test']);
    // The connection made before the reload was not dropped.
    assert.equal((await wss.request('whoami', {})).user.username, 'renewal');
    // The Host check follows the certificate.
    const renamed = await rawRequest(`https://127.0.0.1:${port}/healthz`, {
      method: 'GET',
      ca: CA,
      servername: 'localhost',
      headers: { host: 'renewed.natter.test' },
    });
    assert.equal(renamed.status, 200);

    writeFileSync(cert, 'not a certificate\n');
    server.child.kill('SIGHUP');
    await server.logged(
      /TLS certificate not reloaded, still serving the previous one: --tls-cert .*cert\.pem does not hold a PEM certificate/,
    );
    assert.deepEqual(await presentedNames(port), ['localhost', 'renewed.natter.test']);
    assert.equal(typeof (await wss.request('ping', {})).now, 'number', 'still serving');
    wss.close();
    assert.equal(await server.stop(), 0);
  });

  test('a certificate or key that cannot be used stops the start with a usage error naming the file (exit 2)', async () => {
    const dir = tempDir();
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'hello\n');
    const cases: [string[], RegExp][] = [
      [
        ['--tls-cert', join(dir, 'missing.pem'), '--tls-key', TLS.keyFile],
        /cannot read --tls-cert .*missing\.pem: no such file/,
      ],
      [['--tls-cert', garbage, '--tls-key', TLS.keyFile], /--tls-cert .*garbage\.pem does not hold a PEM certificate/],
      [['--tls-cert', TLS.certFile, '--tls-key', garbage], /--tls-key .*garbage\.pem does not hold a PEM private key/],
      [
        ['--tls-cert', TLS.certFile, '--tls-key', fixture('renewed.key')],
        /--tls-key .*renewed\.key is not the key of the certificate in --tls-cert .*server\.pem/,
      ],
      [['--tls-cert', TLS.certFile], /--tls-cert and --tls-key go together .*--tls-key is missing/],
    ];
    for (const [args, expected] of cases) {
      const data = join(dir, 'data');
      const p = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', data, ...args]);
      processes.push(p);
      assert.equal(await p.exit(), 2, p.stderr);
      assert.match(p.stderr, expected);
      assert.doesNotMatch(p.stderr, /\n\s+at /, 'no stack trace');
      assert.throws(() => readFileSync(join(data, 'natter.db')), 'nothing was opened');
    }
  });
});
