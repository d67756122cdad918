import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import type { NatterClient } from '../../src/client/client.js';
import { Natter } from '../../src/client/natter.js';
import type { Message } from '../../src/protocol/index.js';
import {
  type ClusterNode,
  httpStatus,
  messageIds,
  type Peer,
  registerOn,
  removeClusterDirs,
  startNode,
  startNodes,
} from '../helpers/cluster.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

// Faults of a three-node cluster: a node killed mid-traffic, NATS restarted,
// a node cut off from NATS. Each test has a database, a NATS and nodes of its own.

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await Promise.resolve(clean()).catch(() => {});
});

after(removeClusterDirs);

async function cluster(n = 3): Promise<{ db: TestDatabase; nats: TestNats; nodes: ClusterNode[] }> {
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  const nats = await testNats();
  cleanups.push(() => nats.dispose());
  const nodes = await startNodes(n, { database: db.url, nats: nats.url });
  cleanups.push(async () => {
    await Promise.all(nodes.map((x) => x.proc.stop().catch(() => x.proc.kill())));
  });
  return { db, nats, nodes };
}

function at<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`nothing at ${i}`);
  return v;
}

async function peer(url: string, username: string): Promise<Peer> {
  const p = await registerOn(url, username);
  cleanups.push(() => p.client.close());
  return p;
}

/** A server owned by `owner` that the others join; its general channel's id. */
async function sharedChannel(owner: { request: NatterClient['request'] }, members: Peer[]): Promise<string> {
  const created = await owner.request('servers.create', { name: 'Acme' });
  const { invite } = await owner.request('invites.create', { serverId: created.server.id });
  for (const m of members) await m.client.request('invites.join', { code: invite.code });
  return at(created.channels, 0).id;
}

async function busMode(node: ClusterNode): Promise<string> {
  try {
    const res = await fetch(`${node.httpUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { bus: { mode: string; connected: boolean } };
    return `${body.bus.mode}${body.bus.connected ? '+connected' : ''}`;
  } catch {
    return 'no answer';
  }
}

test('a node killed mid-traffic: its clients move to another node of their list and nothing acknowledged is lost; its users go offline', async () => {
  const { nodes } = await cluster();
  const [n0, n1, n2] = [at(nodes, 0), at(nodes, 1), at(nodes, 2)];
  const bob = await peer(n1.wsUrl, 'bob');
  const dave = await peer(n0.wsUrl, 'dave');
  // Alice's client knows the three nodes and is on the first.
  const alice = Natter.create({ url: `${n0.wsUrl},${n1.wsUrl},${n2.wsUrl}`, backoff: { initialMs: 50, maxMs: 500 } });
  cleanups.push(() => alice.close());
  await alice.start({ untilConnected: true });
  await alice.register('alice', 'correct horse battery');
  assert.equal(alice.url, n0.wsUrl);
  const channelId = await sharedChannel(alice, [bob, dave]);

  const acked: Message[] = [];
  const sends: Promise<void>[] = [];
  let killed = false;
  for (let i = 0; i < 60; i++) {
    sends.push(
      alice.send({ conversationId: channelId }, `m${i}`).then((m) => {
        acked.push(m);
      }),
    );
    if (i === 20) {
      // Some sends are acknowledged, some under way: the node dies now.
      await waitFor(() => acked.length >= 10, { what: 'ten sends acknowledged before the kill' });
      n0.proc.kill();
      killed = true;
    }
  }
  assert.ok(killed);
  await n0.proc.exit(30_000);
  await Promise.all(sends);
  assert.notEqual(alice.url, n0.wsUrl, 'alice moved to another node');
  assert.equal(new Set(acked.map((m) => m.id)).size, 60, 'sixty distinct messages were acknowledged');

  // Bob, on a node that stayed, receives every acknowledged message once, in order.
  const expected = [...acked].sort((a, b) => a.seq - b.seq).map((m) => m.id);
  await waitFor(() => expected.every((id) => messageIds(bob.events).includes(id)), {
    what: 'bob to receive every acknowledged message',
    timeoutMs: 60_000,
    detail: () => `missing: ${expected.filter((id) => !messageIds(bob.events).includes(id)).join(',')}`,
  });
  assert.deepEqual(
    messageIds(bob.events).filter((id) => expected.includes(id)),
    expected,
  );
  // The history, read on the third node, holds each once: retried sends were not stored twice.
  const history = await alice.request('messages.history', { conversationId: channelId, limit: 100 });
  const bodies = history.messages.map((m) => m.body).sort();
  assert.deepEqual(bodies, Array.from({ length: 60 }, (_, i) => `m${i}`).sort());

  // Dave was only on the dead node: once it has been silent for the node timeout, bob sees him offline.
  await bob.next('presence', (d) => d.userId === dave.userId && !d.online, 60_000);
  const online = await bob.client.request('members.online', {
    serverId: (await bob.client.request('servers.list', {})).servers[0]?.id ?? '',
  });
  const names = online.users.map((u) => u.username);
  assert.ok(!names.includes('dave'), `dave is not listed online: ${names.join(',')}`);
  assert.ok(names.includes('alice'), `alice, on another node now, still is: ${names.join(',')}`);
});

test('NATS restarted: nodes keep serving by reading the database, go back to push, and lose nothing', async () => {
  const { nats, nodes } = await cluster();
  const [n0, n1, n2] = [at(nodes, 0), at(nodes, 1), at(nodes, 2)];
  await waitFor(async () => (await Promise.all(nodes.map(busMode))).every((m) => m === 'push+connected'), {
    what: 'every node to be on push',
  });
  const alice = await peer(n0.wsUrl, 'alice');
  const bob = await peer(n1.wsUrl, 'bob');
  const carol = await peer(n2.wsUrl, 'carol');
  const channelId = await sharedChannel(alice.client, [bob, carol]);
  const sent: Message[] = [];
  const send = async (body: string, by: Peer = alice) => {
    const { message } = await by.client.request('messages.send', {
      conversationId: channelId,
      body,
      nonce: body.replace(' ', '-'),
    });
    sent.push(message);
    return message;
  };

  // A message committed right before NATS goes away, then NATS killed at once.
  await send('just before');
  await nats.stop();
  await waitFor(async () => (await Promise.all(nodes.map(busMode))).every((m) => m === 'poll'), {
    what: 'every node to read the database',
    detail: () => 'modes not all poll',
  });
  // Still serving, from every node, while NATS is down.
  await send('during 1');
  await send('during 2', bob);
  await send('during 3', carol);
  for (const p of [alice, bob, carol]) {
    await p.next('message.created', (d) => d.message.body === 'during 3', 60_000);
  }
  assert.equal(await httpStatus(n1, '/readyz'), 200, 'NATS down does not make a node unready');

  await nats.start();
  await waitFor(async () => (await Promise.all(nodes.map(busMode))).every((m) => m === 'push+connected'), {
    what: 'every node back on push',
    timeoutMs: 60_000,
  });
  await send('after 1');
  await send('after 2', carol);
  for (const p of [alice, bob, carol]) {
    await p.next('message.created', (d) => d.message.body === 'after 2', 60_000);
    const expected = [...sent].sort((a, b) => a.seq - b.seq).map((m) => m.id);
    assert.deepEqual(messageIds(p.events), expected, `${p.username} got every message once, in order`);
  }
});

test('a message committed on a node cut off from NATS reaches clients of the others, with no later write to show the gap', async () => {
  const { db, nodes } = await cluster(2);
  // A third node whose NATS never answers: what it commits, it cannot publish.
  const unreachable = await testNats({ started: false });
  cleanups.push(() => unreachable.dispose());
  const cut = await startNode({ database: db.url, nats: unreachable.url });
  cleanups.push(async () => {
    await cut.proc.stop().catch(() => cut.proc.kill());
  });
  const alice = await peer(cut.wsUrl, 'alice');
  const bob = await peer(at(nodes, 0).wsUrl, 'bob');
  const carol = await peer(at(nodes, 1).wsUrl, 'carol');
  const channelId = await sharedChannel(alice.client, [bob, carol]);
  const { message } = await alice.client.request('messages.send', {
    conversationId: channelId,
    body: 'from the cut-off node',
    nonce: 'cut-1',
  });
  for (const p of [bob, carol]) {
    await p.next('message.created', (d) => d.message.id === message.id, 60_000);
    assert.equal(messageIds(p.events).filter((id) => id === message.id).length, 1);
  }
});
