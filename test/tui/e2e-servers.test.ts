import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The terminal app given several servers (--server a,b): bin/natter runs dist/ (npm run build first).

const servers: TestServer[] = [];
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
});
after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** A port nothing listens on (it was free a moment ago, and nothing here takes it). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

test('the status line names the server of the list it is connected to, after a move to another too', async () => {
  // The other node is the same database served on another port (test servers cannot share one database).
  const first = await startTestServer({}, join(dir, 'data'));
  servers.push(first);
  const otherPort = await closedPort();
  const other = `ws://127.0.0.1:${otherPort}`;
  const list = `${other},${first.wsUrl}`;
  const me = await new HttpApi(first.httpUrl).call('register', { username: uniqueName('tui'), password: PASSWORD });
  const c = await connectAs(first.wsUrl, me.token);
  const { channels } = await c.request('servers.create', { name: 'acme' });
  await c.request('messages.send', { conversationId: channels[0]?.id ?? '', body: 'said first', nonce: 'tui-1' });
  c.close();
  const home = join(dir, 'home');
  // Logged in with the list: the credential is the list's.
  saveLogin(home, list, me);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: list });
  try {
    // The first of the list is down: connected to the second, and the status line says which.
    await screen.waitFor(
      (s) => /said first/.test(s) && s.includes(`connected ${first.wsUrl}`),
      'connected to the second server of the list',
    );
    await first.stop();
    const moved = await startTestServer({ port: otherPort }, first.dataDir);
    servers.push(moved);
    await screen.waitFor((s) => s.includes(`connected ${other}`), 'connected to the first server of the list');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});

test('the login screen takes a list: it logs in through the server that answers and saves the login for the list', async () => {
  const live = await startTestServer();
  servers.push(live);
  const dead = `ws://127.0.0.1:${await closedPort()}`;
  const list = `${dead},${live.wsUrl}`;
  const name = uniqueName('log');
  await new HttpApi(live.httpUrl).call('register', { username: name, password: PASSWORD });
  const home = join(dir, 'login');
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: list });
  try {
    await screen.waitFor(
      (s) => /log ?in/i.test(s) && s.includes(list),
      'the login screen, the list in its server field',
    );
    await screen.type(name, new RegExp(`› Username {2}${name}`), 'the username typed');
    await screen.type('\r', /› Password/, 'the password field focused');
    await screen.type(PASSWORD, /› Password {2}•+/, 'the password typed');
    await screen.type('\r', (s) => s.includes(`connected ${live.wsUrl}`), 'the chat, on the server that answered');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  const saved = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8')) as { servers: object };
  assert.deepEqual(Object.keys(saved.servers), [list]);
});
