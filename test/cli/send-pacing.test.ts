import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { natter, removeTempDirs, tempDir } from './helpers.js';

// A server that allows one message, then one every 1.5 s: `natter send` in a loop must wait, not fail.
let t: TestServer;
before(async () => {
  t = await startTestServer({ limits: { ...LOOSE_LIMITS, sendPerUser: { capacity: 1, refillMs: 1500 } } });
});
after(async () => {
  await t.destroy();
  removeTempDirs();
});

test('natter send waits out rate_limited and sends each message once, to a channel and by name', async () => {
  const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
  const reg = await natter(['register', 'pacer', '--password-stdin'], env, `${PASSWORD}\n`);
  assert.equal(reg.code, 0, reg.stderr);
  const other = new HttpApi(t.httpUrl);
  await other.call('register', { username: 'paced', password: PASSWORD });
  assert.equal((await natter(['server', 'create', 'pace'], env)).code, 0);
  const sent: string[] = [];
  for (let i = 0; i < 4; i++) {
    const target = i % 2 === 0 ? 'pace/general' : '@paced';
    const r = await natter(['send', target, `loop ${i}`], env);
    assert.equal(r.code, 0, `send ${i}: ${r.stderr}`);
    sent.push(`loop ${i}`);
  }
  const login = await other.call('login', { username: 'pacer', password: PASSWORD });
  other.token = login.token;
  const convs = await other.call('conversations.list', {});
  const bodies: string[] = [];
  for (const c of convs.conversations) {
    const h = await other.call('messages.history', { conversationId: c.id });
    bodies.push(...h.messages.map((m) => m.body));
  }
  assert.deepEqual(bodies.sort(), sent.sort(), 'each message stored once');
});
