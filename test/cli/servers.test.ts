import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// --server with several URLs (the nodes of one cluster), end to end: bin/natter runs dist/ (npm run build first).

let t: TestServer;
let dead = '';
let dead2 = '';

/** A port nothing listens on (it was free a moment ago, and nothing here takes it). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

before(async () => {
  t = await startTestServer();
  dead = `ws://127.0.0.1:${await closedPort()}`;
  dead2 = `tcp://127.0.0.1:${await closedPort()}`;
});

after(async () => {
  await t.destroy();
  removeTempDirs();
});

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

test('a list with a dead node first: login keeps one credential for the list, and send finds it', async () => {
  const home = tempDir();
  const name = uniqueName('ann');
  await new HttpApi(t.httpUrl).call('register', { username: name, password: PASSWORD });
  const list = `${dead},${t.wsUrl}`;
  ok(await natter(['--server', list, 'login', name], { NATTER_HOME: home, NATTER_PASSWORD: PASSWORD }), 'login');
  const saved = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8')) as { servers: object };
  assert.deepEqual(Object.keys(saved.servers), [list]);

  // The same list, with blanks, from the environment: the same credential.
  const env = { NATTER_HOME: home, NATTER_SERVER: ` ${dead} , ${t.wsUrl} ` };
  ok(await natter(['server', 'create', 'acme'], env), 'server create');
  const sent = ok(await natter(['--server', list, 'send', 'acme/general', 'hello'], { NATTER_HOME: home }), 'send');
  assert.match(sent.stdout, /sent #1 to acme\/general/);
  const history = ok(await natter(['history', 'acme/general'], env), 'history');
  assert.match(history.stdout, /hello/);

  // The live server alone is another key: not logged in there.
  const alone = await natter(['--server', t.wsUrl, 'whoami'], { NATTER_HOME: home });
  assert.equal(alone.code, 3, alone.stderr);

  // listen says which server of the list it reached.
  const listener = await Listener.start(['acme/general'], env);
  try {
    assert.match(listener.stderr, new RegExp(`listening on ${t.wsUrl} \\(of ${dead},${t.wsUrl}\\) as ${name} `));
  } finally {
    await listener.stop();
  }
});

test('a bad entry in the list is a usage error (exit 2) that names it', async () => {
  const home = tempDir();
  const empty = await natter(['--server', `${t.wsUrl},,${dead}`, 'whoami'], { NATTER_HOME: home });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /server 2 of 3 is empty/);
  const scheme = await natter(['whoami'], { NATTER_HOME: home, NATTER_SERVER: `${t.wsUrl},https://b.example` });
  assert.equal(scheme.code, 2);
  assert.match(scheme.stderr, /server 2 of 2 "https:\/\/b\.example" has the wrong scheme/);
  const json = await natter(['--json', '--server', `${t.wsUrl},nope`, 'whoami'], { NATTER_HOME: home });
  assert.equal(json.code, 2);
  const doc = JSON.parse(json.stdout) as { error: { code: string; message: string } };
  assert.equal(doc.error.code, 'usage');
  assert.match(doc.error.message, /server 2 of 2 "nope" is not a URL/);
});

test('when no server of the list answers: exit 4, naming each and why', async () => {
  const r = await natter(['--server', `${dead},${dead2}`, 'whoami'], { NATTER_HOME: tempDir(), NATTER_TOKEN: 'x' });
  assert.equal(r.code, 4, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `^error: unreachable: cannot reach any of the servers: ${dead}: .*ECONNREFUSED.*; ${dead2}: .*ECONNREFUSED`,
      'm',
    ),
  );
});
