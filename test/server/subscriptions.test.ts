import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { scopesOfUser, settleScopes } from '../../src/server/access.js';
import type { Connection } from '../../src/server/connection.js';
import { serverScope } from '../../src/server/event-log.js';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// A connection is authenticated with the scopes read just before; a join or a
// removal committed between that read and the authentication reaches it only
// if its scopes are read again (settleScopes), and a read older than a
// removal's effect must never give the removed member the server back.

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
});

/** Alice owns a server with an invite; bob is registered and connected over WebSocket. */
async function setup() {
  const alice = new HttpApi(t.httpUrl);
  await alice.call('register', { username: uniqueName('sa'), password: PASSWORD });
  const bobHttp = new HttpApi(t.httpUrl);
  const bob = await bobHttp.call('register', { username: uniqueName('sb'), password: PASSWORD });
  const { server, channels } = await alice.call('servers.create', { name: 'scopes' });
  const { invite } = await alice.call('invites.create', { serverId: server.id });
  const client = await connectAs(t.wsUrl, bob.token);
  const { hub, chat } = t.server.services;
  await waitFor(() => hub.userConnections(bob.user.id).size === 1, { what: "bob's connection to be authenticated" });
  const conn = [...hub.userConnections(bob.user.id)][0] as Connection;
  const channelId = channels[0]?.id ?? '';
  return { alice, bobHttp, bobId: bob.user.id, server, invite, client, conn, hub, chat, channelId };
}

test('a connection authenticated with scopes read before its user joined a server gets the server once settled', async () => {
  const { alice, bobHttp, bobId, server, invite, client, conn, hub, chat, channelId } = await setup();
  const before = await scopesOfUser(chat, bobId);
  await bobHttp.call('invites.join', { code: invite.code });
  // As if the connection had been authenticated with the read made before the join's effect reached it.
  hub.setScopes(conn, before);
  assert.equal(conn.scopes.has(serverScope(server.id)), false);

  const settled = await settleScopes(
    hub,
    bobId,
    () => scopesOfUser(chat, bobId),
    (scopes) => hub.setScopes(conn, scopes),
  );
  assert.equal(settled, true);
  assert.equal(conn.scopes.has(serverScope(server.id)), true);
  const got = new Promise<string>((resolve) =>
    client.on('event', (e) => {
      if (e.event === 'message.created') resolve((e.data as { message: { body: string } }).message.body);
    }),
  );
  await alice.call('messages.send', { conversationId: channelId, body: 'welcome in', nonce: uniqueName('n') });
  assert.equal(await got, 'welcome in');
  client.close();
});

test('a read of the scopes that began before a removal took effect is read again, so the removed member stays out', async () => {
  const { alice, bobHttp, bobId, server, invite, client, conn, hub, chat } = await setup();
  await bobHttp.call('invites.join', { code: invite.code });
  await waitFor(() => conn.scopes.has(serverScope(server.id)), { what: 'bob subscribed to the server' });

  let reads = 0;
  const settled = await settleScopes(
    hub,
    bobId,
    async () => {
      reads++;
      const scopes = await scopesOfUser(chat, bobId);
      if (reads === 1) {
        // The kick commits, and its effect reaches the connection, while this (older) read is under way.
        await alice.call('members.kick', { serverId: server.id, userId: bobId });
        await waitFor(() => !conn.scopes.has(serverScope(server.id)), { what: "the kick's effect" });
        assert.ok(scopes.includes(serverScope(server.id)), 'the first read still says bob is a member');
      }
      return scopes;
    },
    (scopes) => hub.setScopes(conn, scopes),
  );
  assert.equal(settled, true);
  assert.equal(reads, 2, 'the read that predates the kick is not applied');
  assert.equal(conn.scopes.has(serverScope(server.id)), false, 'the kicked member does not get the server back');
  client.close();
});

test('when the subscriptions change during every read, the connection keeps what the changes gave it', async () => {
  const { bobHttp, bobId, server, invite, client, conn, hub, chat } = await setup();
  await bobHttp.call('invites.join', { code: invite.code });
  await waitFor(() => conn.scopes.has(serverScope(server.id)), { what: 'bob subscribed to the server' });
  let applied = false;
  const settled = await settleScopes(
    hub,
    bobId,
    async () => {
      const scopes = await scopesOfUser(chat, bobId);
      // Something changes bob's subscriptions during each read.
      hub.subscribeUser(bobId, serverScope(server.id));
      return scopes.filter((s) => s !== serverScope(server.id));
    },
    () => {
      applied = true;
    },
  );
  assert.equal(settled, false);
  assert.equal(applied, false);
  assert.equal(conn.scopes.has(serverScope(server.id)), true);
  client.close();
});

test('the scope version moves with joins, removals, resubscriptions and deleted servers, and is forgotten with the last connection', async () => {
  const { bobId, server, client, conn, hub } = await setup();
  const v0 = hub.scopeVersion(bobId);
  hub.subscribeUser(bobId, serverScope(server.id));
  const v1 = hub.scopeVersion(bobId);
  assert.ok(v1 > v0);
  hub.unsubscribeUser(bobId, serverScope(server.id));
  const v2 = hub.scopeVersion(bobId);
  assert.ok(v2 > v1);
  hub.resubscribeUser(bobId, []);
  const v3 = hub.scopeVersion(bobId);
  assert.ok(v3 > v2);
  hub.dropScope(serverScope('nothing-here'));
  assert.ok(hub.scopeVersion(bobId) > v3);
  const drops = hub.scopeVersion('someone-not-connected');
  client.close();
  await waitFor(() => hub.userConnections(bobId).size === 0 && conn.closed, { what: "bob's connection to close" });
  assert.equal(hub.scopeVersion(bobId), drops, "bob's own count went with his last connection");
});
