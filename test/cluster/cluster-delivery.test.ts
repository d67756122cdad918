import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { NatterClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/error-class.js';
import { POSTGRES_MIGRATIONS } from '../../src/server/store/postgres/migrate.js';
import {
  authOn,
  type ClusterNode,
  cursors,
  messageIds,
  type Peer,
  registerOn,
  removeClusterDirs,
  startNode,
  startNodes,
} from '../helpers/cluster.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

// Three `natter serve` processes on one PostgreSQL database and one NATS:
// people on different nodes hear each other, and a resume on another node
// is exact. (Faults: cluster-faults.test.ts, cluster-postgres-restart.test.ts.)

let db: TestDatabase;
let nats: TestNats;
let nodes: ClusterNode[] = [];
const clients: NatterClient[] = [];

function node(i: number): ClusterNode {
  const n = nodes[i];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

async function register(i: number, username: string): Promise<Peer> {
  const p = await registerOn(node(i).wsUrl, username);
  clients.push(p.client);
  return p;
}

async function auth(i: number, who: Peer, cursor?: string): Promise<Peer> {
  const p = await authOn(node(i).wsUrl, who, cursor);
  clients.push(p.client);
  return p;
}

before(async () => {
  db = await freshDatabase();
  nats = await testNats();
  // All three at once on an empty database: they race to migrate it.
  nodes = await startNodes(3, { database: db.url, nats: nats.url });
});

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.proc.stop().catch(() => n.proc.kill())));
  await nats?.dispose();
  await db?.drop();
  removeClusterDirs();
});

test('three nodes started at once on an empty database apply each migration exactly once', async () => {
  const journal = JSON.parse(readFileSync(`${POSTGRES_MIGRATIONS}/meta/_journal.json`, 'utf8')) as {
    entries: { when: number }[];
  };
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const rows = await client.query<{ created_at: string }>(
      'SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY id',
    );
    assert.deepEqual(
      rows.rows.map((r) => Number(r.created_at)),
      journal.entries.map((e) => e.when),
    );
  } finally {
    await client.end();
  }
});

describe('people on different nodes', () => {
  let alice: Peer;
  let bob: Peer;
  let carol: Peer;
  let channelId: string;
  let serverId: string;

  before(async () => {
    alice = await register(0, 'alice');
    bob = await register(1, 'bob');
    carol = await register(2, 'carol');
    const created = await alice.client.request('servers.create', { name: 'Acme' });
    serverId = created.server.id;
    const general = created.channels[0];
    assert.ok(general);
    channelId = general.id;
    const { invite } = await alice.client.request('invites.create', { serverId });
    await bob.client.request('invites.join', { code: invite.code });
    await carol.client.request('invites.join', { code: invite.code });
  });

  test('a member joining on one node is announced live to the owner on another', async () => {
    await alice.next('member.joined', (d) => JSON.stringify(d).includes(bob.userId));
    await alice.next('member.joined', (d) => JSON.stringify(d).includes(carol.userId));
  });

  test('a channel message sent on one node reaches members on the two others, once each', async () => {
    const { message } = await alice.client.request('messages.send', {
      conversationId: channelId,
      body: 'hello from node 0',
      nonce: 'n-channel-1',
    });
    for (const p of [bob, carol]) {
      const got = await p.next('message.created', (d) => d.message.id === message.id);
      assert.equal(got.message.body, 'hello from node 0');
    }
    // The sender's own connection hears it too.
    await alice.next('message.created', (d) => d.message.id === message.id);
    const second = await bob.client.request('messages.send', {
      conversationId: channelId,
      body: 'and from node 1',
      nonce: 'n-channel-2',
    });
    await carol.next('message.created', (d) => d.message.id === second.message.id);
    await alice.next('message.created', (d) => d.message.id === second.message.id);
    for (const p of [alice, bob, carol]) {
      const ids = messageIds(p.events);
      assert.deepEqual(
        ids.filter((id) => id === message.id || id === second.message.id),
        [message.id, second.message.id],
        `${p.username} got each message once, in order`,
      );
    }
  });

  test('a DM between nodes reaches its two people and nobody else', async () => {
    const { message } = await bob.client.request('messages.send', { to: 'carol', body: 'psst', nonce: 'n-dm-1' });
    const got = await carol.next('message.created', (d) => d.message.id === message.id);
    assert.equal(got.message.body, 'psst');
    const reply = await carol.client.request('messages.send', {
      conversationId: message.conversationId,
      body: 'hi bob',
      nonce: 'n-dm-2',
    });
    await bob.next('message.created', (d) => d.message.id === reply.message.id);
    // Alice shares a server with both: a later channel message reaching her shows the DM would have by now.
    const marker = await carol.client.request('messages.send', {
      conversationId: channelId,
      body: 'marker',
      nonce: 'n-dm-3',
    });
    await alice.next('message.created', (d) => d.message.id === marker.message.id);
    assert.ok(!messageIds(alice.events).includes(message.id), 'alice did not get the DM');
    assert.ok(!messageIds(alice.events).includes(reply.message.id), 'alice did not get the reply');
  });

  test('a group made on one node carries messages to members on the others', async () => {
    const { group } = await carol.client.request('groups.create', { name: 'trio', usernames: ['alice', 'bob'] });
    for (const p of [alice, bob]) {
      const mine = await p.client.request('groups.list', {});
      if (!mine.groups.some((g) => g.id === group.id)) {
        await p.next('group.invited', (d) => JSON.stringify(d).includes(group.id));
        await p.client.request('groups.accept', { groupId: group.id });
      }
    }
    const { message } = await alice.client.request('messages.send', {
      conversationId: group.id,
      body: 'group hello',
      nonce: 'n-group-1',
    });
    await bob.next('message.created', (d) => d.message.id === message.id);
    await carol.next('message.created', (d) => d.message.id === message.id);
  });

  test('typing on one node is shown on the others; presence follows a person across nodes', async () => {
    await alice.client.request('typing.start', { conversationId: channelId });
    for (const p of [bob, carol]) {
      const t = await p.next('typing', (d) => d.user.id === alice.userId && d.conversationId === channelId);
      assert.equal(t.user.username, 'alice');
    }
    // Bob leaves node 1: once his grace period is over, people on the other nodes see him offline.
    bob.client.close();
    await alice.next('presence', (d) => d.userId === bob.userId && !d.online);
    await carol.next('presence', (d) => d.userId === bob.userId && !d.online);
    // And back, on node 2.
    bob = await auth(2, bob);
    await alice.next('presence', (d) => d.userId === bob.userId && d.online);
    const online = await alice.client.request('members.online', { serverId });
    assert.ok(JSON.stringify(online).includes(bob.userId), 'members.online on node 0 lists bob, who is on node 2');
  });

  test('a resume on another node with a cursor is exact while messages keep committing', async () => {
    // Bob reads on node 1 up to a cursor, then leaves.
    const away = await auth(1, bob);
    const before = await alice.client.request('messages.send', {
      conversationId: channelId,
      body: 'before',
      nonce: 'n-resume-0',
    });
    await away.next('message.created', (d) => d.message.id === before.message.id);
    const cursor = String(Math.max(...cursors(away.events)));
    away.client.close();
    const sent: { id: string; seq: number }[] = [];
    const send = async (i: number) => {
      const { message } = await alice.client.request('messages.send', {
        conversationId: channelId,
        body: `missed ${i}`,
        nonce: `n-resume-${i + 1}`,
      });
      return { id: message.id, seq: message.seq };
    };
    for (let i = 0; i < 5; i++) sent.push(await send(i));
    // The resume on node 2 while alice, on node 0, keeps sending.
    const during = Promise.all(Array.from({ length: 20 }, (_, i) => send(5 + i)));
    const back = await auth(2, bob, cursor);
    sent.push(...(await during));
    // Then one more: everything before it must have arrived once it has.
    const fence = await send(99);
    await back.next('message.created', (d) => d.message.id === fence.id, 60_000);
    const expected = [...sent, fence].sort((a, b) => a.seq - b.seq).map((m) => m.id);
    assert.deepEqual(messageIds(back.events), expected, 'every message after the cursor, each once, in order');
    const seen = cursors(back.events);
    assert.ok(
      seen.every((c, i) => c > Number(cursor) && (i === 0 || c > (seen[i - 1] as number))),
      `cursors ascend past ${cursor}: ${seen.join(',')}`,
    );
  });

  test('a node that has not yet delivered up to the client’s cursor sends nothing twice', async (t) => {
    // A fourth node whose NATS never answers reads the database every 250 ms, so it
    // runs behind the others: a client resuming there with a cursor from a node that
    // already delivered further must get nothing at or below that cursor.
    const silent = await testNats({ started: false });
    const lagging = await startNode({ database: db.url, nats: silent.url });
    try {
      let behind = 0;
      for (let round = 0; behind === 0; round++) {
        assert.ok(round < 25, 'the lagging node was behind a resume at least once in 25 rounds');
        const reader = await auth(1, bob);
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const { message } = await alice.client.request('messages.send', {
            conversationId: channelId,
            body: `lag ${round}.${i}`,
            nonce: `n-lag-${round}-${i}`,
          });
          ids.push(message.id);
        }
        await reader.next('message.created', (d) => d.message.id === ids[2]);
        const cursor = Math.max(...cursors(reader.events));
        reader.client.close();
        const resumed = await authOn(lagging.wsUrl, bob, String(cursor));
        clients.push(resumed.client);
        const res = await fetch(`${lagging.httpUrl}/readyz`);
        const status = (await res.json()) as { bus: { lastApplied: number } };
        if (status.bus.lastApplied < cursor) {
          behind++;
          t.diagnostic(`the lagging node was behind the cursor in round ${round + 1}`);
        }
        const { message: after } = await alice.client.request('messages.send', {
          conversationId: channelId,
          body: `after ${round}`,
          nonce: `n-lag-after-${round}`,
        });
        await resumed.next('message.created', (d) => d.message.id === after.id);
        assert.deepEqual(messageIds(resumed.events), [after.id], 'only the message after the cursor, once');
        assert.ok(
          cursors(resumed.events).every((c) => c > cursor),
          `nothing at or below ${cursor}: ${cursors(resumed.events).join(',')}`,
        );
        resumed.client.close();
      }
    } finally {
      await lagging.proc.stop().catch(() => lagging.proc.kill());
      await silent.dispose();
    }
  });

  test('logout and a password change close the session’s connections on every node', async () => {
    const dave = await register(0, 'dave');
    const elsewhere = [await auth(1, dave), await auth(2, dave)];
    const closes = elsewhere.map(
      (p) => new Promise<number>((resolve) => p.client.once('close', (code: number) => resolve(code))),
    );
    await dave.client.request('logout', {});
    for (const code of await Promise.all(closes)) assert.equal(code, CloseCode.sessionRevoked);

    const erin = await register(1, 'erin');
    const other = await NatterClient.connect(node(2).wsUrl);
    clients.push(other);
    const login = await other.request('login', { username: 'erin', password: 'correct horse battery' });
    const onNode0 = await auth(0, { ...erin, token: login.token });
    const revoked = [other, onNode0.client].map(
      (c) => new Promise<number>((resolve) => c.once('close', (code: number) => resolve(code))),
    );
    const changed = await erin.client.request('password.change', {
      currentPassword: 'correct horse battery',
      newPassword: 'a different horse battery',
    });
    assert.equal(changed.revokedSessions, 1);
    for (const code of await Promise.all(revoked)) assert.equal(code, CloseCode.sessionRevoked);
    // The connection that changed it stays.
    await erin.client.request('whoami', {});
  });
});
