import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { NatterError } from '../../src/protocol/error-class.js';
import {
  type ClusterNode,
  httpStatus,
  messageIds,
  type Peer,
  registerOn,
  removeClusterDirs,
  startNodes,
} from '../helpers/cluster.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { createDatabase, type OwnPostgres, ownPostgres } from '../helpers/own-postgres.js';
import { waitFor } from '../helpers/wait.js';

// A three-node cluster on a PostgreSQL server of the test's own, stopped and
// started again under it.

let server: OwnPostgres | null = null;
let nats: TestNats | null = null;
let nodes: ClusterNode[] = [];
const peers: Peer[] = [];

after(async () => {
  for (const p of peers) p.client.close();
  await Promise.all(nodes.map((n) => n.proc.stop().catch(() => n.proc.kill())));
  await nats?.dispose();
  await server?.dispose();
  removeClusterDirs();
});

test('PostgreSQL restarted: requests answer unavailable and /readyz 503 while it is down, and service resumes by itself', async () => {
  server = await ownPostgres();
  await server.start();
  await createDatabase(server, 'natter');
  nats = await testNats();
  nodes = await startNodes(3, { database: server.url('natter'), nats: nats.url });
  const [n0, n1, n2] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const alice = await registerOn(n0.wsUrl, 'alice');
  const bob = await registerOn(n1.wsUrl, 'bob');
  peers.push(alice, bob);
  const created = await alice.client.request('servers.create', { name: 'Acme' });
  const { invite } = await alice.client.request('invites.create', { serverId: created.server.id });
  await bob.client.request('invites.join', { code: invite.code });
  const channelId = created.channels[0]?.id ?? '';
  const first = await alice.client.request('messages.send', { conversationId: channelId, body: 'up', nonce: 'pg-1' });
  await bob.next('message.created', (d) => d.message.id === first.message.id);
  for (const n of nodes) assert.equal(await httpStatus(n, '/readyz'), 200);

  await server.stop();
  // A write and a read, on two nodes: each answered, and answered unavailable.
  await assert.rejects(
    alice.client.request('messages.send', { conversationId: channelId, body: 'down', nonce: 'pg-2' }),
    (err: unknown) => err instanceof NatterError && err.code === 'unavailable',
  );
  await assert.rejects(
    bob.client.request('messages.history', { conversationId: channelId }),
    (err: unknown) => err instanceof NatterError && err.code === 'unavailable',
  );
  for (const n of nodes) assert.equal(await httpStatus(n, '/readyz'), 503, `${n.wsUrl} is not ready`);
  // The nodes keep running, their clients connected.
  assert.ok(!alice.client.closed && !bob.client.closed);

  await server.start();
  await waitFor(async () => (await Promise.all(nodes.map((n) => httpStatus(n, '/readyz')))).every((s) => s === 200), {
    what: 'every node ready again',
    timeoutMs: 60_000,
  });
  // The send that failed, sent again with its nonce: stored once, delivered once.
  const again = await waitFor(
    () =>
      alice.client
        .request('messages.send', { conversationId: channelId, body: 'down', nonce: 'pg-2' })
        .catch((err: unknown) => {
          if (err instanceof NatterError && err.code === 'unavailable') return null;
          throw err;
        }),
    { what: 'a send to succeed after the restart', timeoutMs: 60_000, intervalMs: 200 },
  );
  await bob.next('message.created', (d) => d.message.id === again.message.id, 60_000);
  // The third node takes writes again too.
  const onNode2 = await registerOn(n2.wsUrl, 'carol');
  peers.push(onNode2);
  const history = await bob.client.request('messages.history', { conversationId: channelId });
  assert.deepEqual(
    history.messages.map((m) => m.body),
    ['up', 'down'],
  );
  assert.deepEqual(messageIds(bob.events), [first.message.id, again.message.id]);
  for (const n of nodes) assert.equal(n.proc.exitCode, undefined, 'no node exited');
});
