import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CertificateError, Natter, NatterClient } from '../../src/client/index.js';
import { natter, removeTempDirs, tempDir } from '../cli/helpers.js';
import { PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Clients on wss:// and tls://: the server's certificate is checked, against
// the public CAs by default or the given ones; one that does not verify is an
// error in words. The server's certificate comes from test/fixtures/tls, signed
// by a private test CA that no machine trusts.

const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const CA_FILE = join(FIXTURES, 'ca.pem');
const TLS = { certFile: join(FIXTURES, 'server.pem'), keyFile: join(FIXTURES, 'server.key') };

let t: TestServer;
/** The same certificate, served on an address it was not issued for. */
let elsewhere: TestServer;
let wss = '';
let tls = '';
before(async () => {
  t = await startTestServer({ tls: TLS });
  elsewhere = await startTestServer({ tls: TLS, host: '127.0.0.2' });
  wss = `wss://127.0.0.1:${t.server.port}`;
  tls = `tls://127.0.0.1:${t.server.tcpPort}`;
});
after(async () => {
  await t.destroy();
  await elsewhere.destroy();
  removeTempDirs();
});

/** The rejection of `p`, which must reject. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure, but it connected');
}

describe('the client library', () => {
  test('a certificate signed by the given CA verifies, on wss:// and tls://, by IP address and by name', async () => {
    const ca = readFileSync(CA_FILE);
    for (const url of [wss, tls, `wss://localhost:${t.server.port}`, `tls://localhost:${t.server.tcpPort}`]) {
      const c = await NatterClient.connect(url, { ca });
      assert.equal(c.hello.protocol, 1, url);
      c.close();
    }
  });

  test('without the CA the certificate is not trusted: a CertificateError that says so in words', async () => {
    for (const url of [wss, tls]) {
      const err = await failure(NatterClient.connect(url));
      assert.ok(err instanceof CertificateError, `${url}: ${err.message}`);
      assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      assert.equal(
        err.message,
        "the server's certificate is not trusted: it is signed by a certificate authority that is not trusted here [UNABLE_TO_VERIFY_LEAF_SIGNATURE]",
      );
    }
  });

  test('a certificate for other names is not trusted, even with its CA, and the error names both', async () => {
    const ca = readFileSync(CA_FILE);
    const err = await failure(NatterClient.connect(`tls://127.0.0.2:${elsewhere.server.tcpPort}`, { ca }));
    assert.ok(err instanceof CertificateError);
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(
      err.message,
      /it was issued for other names \(IP: 127\.0\.0\.2 is not in the cert's list: 127\.0\.0\.1, .*\)/,
    );
  });

  test('a bot (Natter) connects and authenticates over tls:// with a private CA', async () => {
    const ca = readFileSync(CA_FILE, 'utf8');
    const reg = await NatterClient.connect(wss, { ca });
    const { token } = await reg.request('register', { username: 'tlsbot', password: PASSWORD });
    reg.close();
    const bot = await Natter.connect({ url: tls, token, ca, reconnect: false });
    assert.equal(bot.user?.username, 'tlsbot');
    bot.close();
  });
});

describe('the CLI', () => {
  test('--ca FILE (or NATTER_CA) trusts a private CA on wss:// and tls://', async () => {
    const home = tempDir();
    const reg = await natter(['--ca', CA_FILE, 'register', 'tlscli'], {
      NATTER_SERVER: wss,
      NATTER_HOME: home,
      NATTER_PASSWORD: PASSWORD,
    });
    assert.equal(reg.code, 0, reg.stderr);
    const who = await natter(['--json', 'whoami'], { NATTER_SERVER: wss, NATTER_HOME: home, NATTER_CA: CA_FILE });
    assert.equal(who.code, 0, who.stderr);
    assert.equal((JSON.parse(who.stdout) as { user: { username: string } }).user.username, 'tlscli');
    const login = await natter(['--server', tls, '--ca', CA_FILE, 'login', 'tlscli'], {
      NATTER_HOME: home,
      NATTER_PASSWORD: PASSWORD,
    });
    assert.equal(login.code, 0, login.stderr);
  });

  test('--ca applies to each wss:// and tls:// server of a list, whatever comes first', async () => {
    // A plain ws:// node first (nothing listens on port 1), and one for other names: the next is tried.
    const list = `ws://127.0.0.1:1,tls://127.0.0.2:${elsewhere.server.tcpPort},${wss}`;
    const r = await natter(['--server', list, '--ca', CA_FILE, 'whoami'], {
      NATTER_HOME: tempDir(),
      NATTER_TOKEN: 'nts_x',
    });
    // Reached: the token is what is refused.
    assert.equal(r.code, 3, r.stderr);
    const c = await NatterClient.connect(list, { ca: readFileSync(CA_FILE) });
    assert.equal(c.url, wss);
    c.close();
  });

  test('a certificate that does not verify: exit 4 (as for an unreachable server) and what to do, in words', async () => {
    for (const url of [wss, tls]) {
      const r = await natter(['whoami'], { NATTER_SERVER: url, NATTER_HOME: tempDir(), NATTER_TOKEN: 'nts_x' });
      assert.equal(r.code, 4, r.stderr);
      assert.match(
        r.stderr,
        /^error: untrusted_certificate: the server's certificate is not trusted: it is signed by a certificate authority that is not trusted here \[UNABLE_TO_VERIFY_LEAF_SIGNATURE\]; pass --ca FILE if it is signed by your own CA$/m,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const json = await natter(['--json', 'whoami'], { NATTER_SERVER: wss, NATTER_HOME: tempDir(), NATTER_TOKEN: 'x' });
    const doc = JSON.parse(json.stdout) as { error: { code: string; exitCode: number } };
    assert.deepEqual([doc.error.code, doc.error.exitCode], ['untrusted_certificate', 4]);
    const listen = await natter(['listen'], { NATTER_SERVER: tls, NATTER_HOME: tempDir(), NATTER_TOKEN: 'x' });
    assert.equal(listen.code, 4);
    assert.match(listen.stderr, /untrusted_certificate: .*pass --ca FILE/);
  });

  test('a --ca file that cannot be read or holds no certificate is a usage error (exit 2)', async () => {
    const dir = tempDir();
    const notPem = join(dir, 'ca.txt');
    writeFileSync(notPem, 'not a certificate\n');
    const env = { NATTER_SERVER: wss, NATTER_HOME: dir, NATTER_TOKEN: 'x' };
    const missing = await natter(['--ca', join(dir, 'nope.pem'), 'whoami'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read --ca .*nope\.pem: no such file/);
    const garbage = await natter(['--ca', notPem, 'whoami'], env);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /--ca .*ca\.txt holds no PEM certificate/);
  });

  test('--server takes tls:// URLs and refuses other schemes in words', async () => {
    const r = await natter(['--server', 'https://127.0.0.1:7777', 'whoami'], { NATTER_HOME: tempDir() });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected a ws:\/\/, wss:\/\/, tcp:\/\/ or tls:\/\/ URL/);
  });
});
