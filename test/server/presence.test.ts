import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventMessage } from '../../src/protocol/index.js';
import { connectAs, connectClient, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ presenceGraceMs: 300 });
});
after(() => t.destroy());

/** Alice and Bob in one server; alice watches presence events. */
async function pair() {
  const alice = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('pa'), password: PASSWORD });
  const bob = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('pb'), password: PASSWORD });
  const watcher = await connectAs(t.wsUrl, alice.token);
  const { server } = await watcher.request('servers.create', { name: 'presence' });
  const { invite } = await watcher.request('invites.create', { serverId: server.id });
  const b = await connectAs(t.wsUrl, bob.token);
  await b.request('invites.join', { code: invite.code });
  const seen: EventMessage<'presence'>[] = [];
  watcher.on('event', (e) => {
    if (e.event === 'presence' && (e.data as { userId: string }).userId === bob.user.id)
      seen.push(e as EventMessage<'presence'>);
  });
  return { watcher, bob, b, serverId: server.id, seen };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a reconnect within the grace period is not announced; a real departure is, after the grace', async () => {
  const { watcher, bob, b, serverId, seen } = await pair();
  b.close();
  await sleep(50);
  const again = await connectAs(t.tcpUrl, bob.token);
  await sleep(400);
  assert.equal(seen.length, 0, 'a quick reconnect is not news');
  again.close();
  await sleep(100);
  const online = await watcher.request('members.online', { serverId });
  assert.ok(
    online.users.some((u) => u.id === bob.user.id),
    'still online during the grace period',
  );
  await sleep(400);
  assert.deepEqual(
    seen.map((e) => e.data.online),
    [false],
  );
  const later = await watcher.request('members.online', { serverId });
  assert.ok(!later.users.some((u) => u.id === bob.user.id));
  watcher.close();
});

test('a connection that opts out of presence does not make its user appear online', async () => {
  const { watcher, bob, b, serverId, seen } = await pair();
  b.close();
  await sleep(450);
  seen.length = 0;
  const script = await connectClient(t.wsUrl);
  await script.request('auth', { token: bob.token, presence: false });
  await script.request('messages.history', {
    conversationId: (await script.request('servers.get', { serverId })).channels[0]?.id ?? '',
  });
  const online = await watcher.request('members.online', { serverId });
  assert.ok(!online.users.some((u) => u.id === bob.user.id));
  script.close();
  await sleep(450);
  assert.equal(seen.length, 0, 'no presence events for a one-shot connection');
  watcher.close();
});
