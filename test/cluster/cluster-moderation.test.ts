import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { RawTcp } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Two natter nodes on one PostgreSQL database: a timeout set through one
 * holds on the other at once, and a member's sends through both nodes at the
 * same moment in a slow channel store exactly one message.
 */

let db: TestDatabase;
let bus: TestNats;
let east: TestServer;
let west: TestServer;
before(async () => {
  db = await freshDatabase();
  bus = await testNats({ started: true });
  east = await startTestServer({ database: db.url, bus: bus.url, cluster: 'mod' });
  west = await startTestServer({ database: db.url, bus: bus.url, cluster: 'mod' });
});
after(async () => {
  await west?.destroy();
  await east?.destroy();
  await bus.dispose();
  await db.drop();
});

async function user(t: TestServer, prefix: string) {
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username: uniqueName(prefix), password: PASSWORD });
  api.token = reg.token;
  return { api, id: reg.user.id, token: reg.token };
}

test('a timeout set through one node is enforced by the other; lifted there, the member writes through both', async () => {
  const owner = await user(east, 'cm-own');
  const bob = await user(east, 'cm-bob');
  const bobWest = new HttpApi(west.httpUrl);
  bobWest.token = bob.token;
  const { server, channels } = await owner.api.call('servers.create', { name: 'cluster calm' });
  const channelId = channels[0]?.id ?? '';
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  await bobWest.call('invites.join', { code });
  await owner.api.call('members.timeout', { serverId: server.id, userId: bob.id, seconds: 3600 });
  const refused = await rejection(bobWest.call('messages.send', { conversationId: channelId, body: 'x', nonce: 'w1' }));
  assert.equal(refused.code, 'timed_out');
  const ownerWest = new HttpApi(west.httpUrl);
  ownerWest.token = owner.api.token;
  await ownerWest.call('members.untimeout', { serverId: server.id, userId: bob.id });
  assert.equal(
    (await bob.api.call('messages.send', { conversationId: channelId, body: 'e', nonce: 'e1' })).message.seq,
    1,
  );
  assert.equal(
    (await bobWest.call('messages.send', { conversationId: channelId, body: 'w', nonce: 'w2' })).message.seq,
    2,
  );
});

test('in a slow channel, sends of one member through two nodes at once store exactly one message', async () => {
  const owner = await user(east, 'cs-own');
  const bob = await user(east, 'cs-bob');
  const { server, channels } = await owner.api.call('servers.create', { name: 'cluster slow' });
  const channelId = channels[0]?.id ?? '';
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  await bob.api.call('invites.join', { code });
  await owner.api.call('channels.slowmode', { channelId, seconds: 600 });
  const lines = await Promise.all(
    [east, west].map(async (t) => {
      const tcp = await RawTcp.open(t.tcpUrl);
      tcp.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token: bob.token } })}\n`);
      await tcp.reply('auth');
      return tcp;
    }),
  );
  try {
    const per = 15;
    const batches = lines.map((_tcp, node) =>
      Array.from({ length: per }, (_, i) => ({
        id: `n${node}-${i}`,
        op: 'messages.send',
        params: { conversationId: channelId, body: `node ${node} #${i}`, nonce: `n${node}-${i}` },
      })),
    );
    lines.forEach((tcp, node) => {
      tcp.write(batches[node]?.map((r) => `${JSON.stringify(r)}\n`).join('') ?? '');
    });
    const codes: string[] = [];
    for (const [node, tcp] of lines.entries()) {
      for (let i = 0; i < per; i++) {
        const reply = (await tcp.reply(`n${node}-${i}`)) as { result?: unknown; error?: { code: string } };
        codes.push(reply.error?.code ?? 'stored');
      }
    }
    assert.equal(codes.filter((c) => c === 'stored').length, 1, codes.join(' '));
    assert.equal(codes.filter((c) => c === 'slow_mode').length, 2 * per - 1, codes.join(' '));
    const { messages } = await owner.api.call('messages.history', { conversationId: channelId });
    assert.equal(messages.length, 1);
  } finally {
    for (const tcp of lines) tcp.close();
  }
});

test('a rule added through one node holds on the other at its next send; a flood counts the sends through both', async () => {
  const owner = await user(east, 'cr-own');
  const bob = await user(east, 'cr-bob');
  const bobWest = new HttpApi(west.httpUrl);
  bobWest.token = bob.token;
  const ownerWest = new HttpApi(west.httpUrl);
  ownerWest.token = owner.api.token;
  const { server, channels } = await owner.api.call('servers.create', { name: 'cluster rules' });
  const channelId = channels[0]?.id ?? '';
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  await bob.api.call('invites.join', { code });
  let n = 0;
  const send = (api: HttpApi, body: string) =>
    api.call('messages.send', { conversationId: channelId, body, nonce: `cr-${++n}` });
  // West compiles the server's rules (none) on this first send.
  await send(bobWest, 'promo one');
  const { rule } = await owner.api.call('automod.create', {
    serverId: server.id,
    rule: { name: 'ads', kind: 'keyword', config: { keywords: ['promo*'] }, actions: [{ block: {} }] },
  });
  assert.equal((await rejection(send(bobWest, 'promo two'))).code, 'blocked');
  await ownerWest.call('automod.update', { ruleId: rule.id, enabled: false });
  assert.equal((await send(bob.api, 'promo three')).message.body, 'promo three');
  await owner.api.call('automod.create', {
    serverId: server.id,
    rule: { name: 'flood', kind: 'flood', config: { messages: 4, seconds: 300 }, actions: [{ block: {} }] },
  });
  // Two sent already; two more through either node make four, the fifth is a flood wherever it comes.
  await send(bob.api, 'three');
  await send(bobWest, 'four');
  assert.equal((await rejection(send(bob.api, 'five'))).code, 'blocked');
  assert.equal((await rejection(send(bobWest, 'five again'))).code, 'blocked');
});
