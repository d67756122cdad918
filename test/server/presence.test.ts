import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventMessage } from '../../src/protocol/index.js';
import { connectAs, connectClient, HttpApi, PASSWORD, settled, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// Presence is checked against what the server knows, never against the clock: a grace period far
// longer than any test (nothing can be announced during it), and one short enough to wait for.
let lingering: TestServer;
let brief: TestServer;
let immediate: TestServer;
before(async () => {
  lingering = await startTestServer({ presenceGraceMs: 10 * 60_000 });
  brief = await startTestServer({ presenceGraceMs: 200 });
  immediate = await startTestServer({ presenceGraceMs: 0 });
});
after(async () => {
  await lingering.destroy();
  await brief.destroy();
  await immediate.destroy();
});

/** Alice and Bob in one server of `t`; alice's connection records the presence events about bob. */
async function pair(t: TestServer) {
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
  /** Resolves once the server has seen every connection of bob's close. */
  const bobGone = () =>
    waitFor(() => t.server.services.hub.userConnections(bob.user.id).size === 0, {
      what: "the server to see bob's connections close",
    });
  const bobListed = async () =>
    (await watcher.request('members.online', { serverId: server.id })).users.some((u) => u.id === bob.user.id);
  return { watcher, bob, b, seen, bobGone, bobListed };
}

test('within the grace period a departure is not announced, bob stays listed online, and a reconnect is not news', async () => {
  const { watcher, bob, b, seen, bobGone, bobListed } = await pair(lingering);
  b.close();
  await bobGone();
  assert.equal(await bobListed(), true, 'still online during the grace period');
  const again = await connectAs(lingering.tcpUrl, bob.token);
  // A presence event for the reconnect would have gone out before the auth reply; this reply comes after it.
  await settled(watcher);
  assert.deepEqual(seen, [], 'a quick reconnect is not news');
  again.close();
  await bobGone();
  await settled(watcher);
  assert.deepEqual(seen, [], 'a departure is not announced before the grace period is over');
  assert.equal(await bobListed(), true);
  watcher.close();
});

test('once the grace period is over, a departure is announced and bob is no longer listed', async () => {
  const { watcher, b, seen, bobListed } = await pair(brief);
  b.close();
  await waitFor(() => seen.length > 0, { what: 'the presence event for bob' });
  assert.deepEqual(
    seen.map((e) => e.data.online),
    [false],
  );
  assert.equal(await bobListed(), false);
  watcher.close();
});

test('a connection that opts out of presence does not make its user appear online', async () => {
  const { watcher, bob, b, seen, bobGone, bobListed } = await pair(immediate);
  b.close();
  await waitFor(() => seen.some((e) => !e.data.online), { what: 'bob to go offline' });
  seen.length = 0;
  const script = await connectClient(immediate.wsUrl);
  await script.request('auth', { token: bob.token, presence: false });
  const { servers } = await script.request('servers.list', {});
  const serverId = servers[0]?.id ?? '';
  await script.request('messages.history', {
    conversationId: (await script.request('servers.get', { serverId })).channels[0]?.id ?? '',
  });
  assert.equal(await bobListed(), false);
  script.close();
  await bobGone();
  // Any presence event for the script's arrival or departure would be ahead of this reply.
  await settled(watcher);
  assert.deepEqual(seen, [], 'no presence events for a one-shot connection');
  watcher.close();
});
