import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { NatterError } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Checks made inside the write that creates: two natters sharing one
// database, each reading committed rows only, must not both slip under a cap,
// both find a name free, both open the same DM, both open a report of one
// thing, or both resolve one report.

const CAP = 3;
let db: TestDatabase;
let nodes: TestServer[] = [];
let bus: TestNats;
before(async () => {
  db = await freshDatabase();
  bus = await testNats({ started: true });
  const quotas = {
    serversOwnedPerUser: CAP,
    channelsPerServer: CAP,
    blocksPerUser: CAP,
    botTokensPerUser: CAP,
    openReportsPerUser: CAP,
  };
  const cluster = { database: db.url, bus: bus.url, cluster: db.name, quotas };
  nodes = [await startTestServer(cluster), await startTestServer(cluster)];
});
after(async () => {
  for (const node of nodes) await node.destroy();
  await bus.dispose();
  await db.drop();
});

/** Fires `n` calls at once, alternating between the two nodes; returns how many succeeded and the codes of those refused. */
async function race(n: number, call: (api: HttpApi, i: number) => Promise<unknown>, apis: HttpApi[]) {
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => call(apis[i % apis.length] as HttpApi, i)),
  );
  const refused = outcomes.flatMap((o) =>
    o.status === 'rejected' ? [o.reason instanceof NatterError ? o.reason.code : String(o.reason)] : [],
  );
  return { ok: outcomes.filter((o) => o.status === 'fulfilled').length, refused };
}

/** One account, logged in on both nodes. */
async function accountOnBothNodes(): Promise<{ apis: HttpApi[]; userId: string }> {
  const first = new HttpApi(nodes[0]?.httpUrl ?? '');
  const username = uniqueName('cap');
  const { user } = await first.call('register', { username, password: PASSWORD });
  const second = new HttpApi(nodes[1]?.httpUrl ?? '');
  await second.call('login', { username, password: PASSWORD });
  return { apis: [first, second], userId: user.id };
}

async function count(sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return Number((await client.query(sql, values)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

test('servers created at once through two nodes stop at the cap of servers owned', async () => {
  const { apis, userId } = await accountOnBothNodes();
  const { ok, refused } = await race(10, (api, i) => api.call('servers.create', { name: `race ${i}` }), apis);
  assert.equal(ok, CAP);
  assert.deepEqual(refused, Array(10 - CAP).fill('limit_reached'));
  assert.equal(await count('SELECT count(*) AS n FROM servers WHERE owner_id = $1', [userId]), CAP);
});

test('channels created at once through two nodes stop at the cap of channels per server', async () => {
  const { apis } = await accountOnBothNodes();
  const owner = apis[0] as HttpApi;
  const { server } = await owner.call('servers.create', { name: 'channel race' });
  // The server starts with one channel.
  const { ok, refused } = await race(
    8,
    (api, i) => api.call('channels.create', { serverId: server.id, name: `race-${i}` }),
    apis,
  );
  assert.equal(ok, CAP - 1);
  assert.deepEqual(refused, Array(8 - (CAP - 1)).fill('limit_reached'));
  assert.equal(
    await count("SELECT count(*) AS n FROM conversations WHERE server_id = $1 AND kind = 'channel'", [server.id]),
    CAP,
  );
});

test('blocks added at once through two nodes stop at the cap of blocks', async () => {
  const { apis, userId } = await accountOnBothNodes();
  const others: string[] = [];
  for (let i = 0; i < 8; i++) {
    const username = uniqueName('target');
    await new HttpApi(nodes[0]?.httpUrl ?? '').call('register', { username, password: PASSWORD });
    others.push(username);
  }
  const { ok, refused } = await race(8, (api, i) => api.call('blocks.add', { username: others[i] ?? '' }), apis);
  assert.equal(ok, CAP);
  assert.deepEqual(refused, Array(8 - CAP).fill('limit_reached'));
  assert.equal(await count('SELECT count(*) AS n FROM blocks WHERE user_id = $1', [userId]), CAP);
});

test('bot tokens made at once through two nodes stop at the cap of bot tokens', async () => {
  const { apis, userId } = await accountOnBothNodes();
  const { ok, refused } = await race(8, (api, i) => api.call('tokens.create', { name: `bot-${i}` }), apis);
  assert.equal(ok, CAP);
  assert.deepEqual(refused, Array(8 - CAP).fill('limit_reached'));
  assert.equal(await count("SELECT count(*) AS n FROM sessions WHERE user_id = $1 AND kind = 'bot'", [userId]), CAP);
});

test('channels with one name created at once through two nodes: one is made, the others are told the name is taken', async () => {
  const { apis } = await accountOnBothNodes();
  const owner = apis[0] as HttpApi;
  const { server } = await owner.call('servers.create', { name: 'name race' });
  const { ok, refused } = await race(
    6,
    (api) => api.call('channels.create', { serverId: server.id, name: 'same' }),
    apis,
  );
  assert.equal(ok, 1);
  assert.deepEqual(refused, Array(5).fill('conflict'));
});

test('two people sending each other their first DM at once through two nodes share one DM with both messages', async () => {
  for (let round = 0; round < 5; round++) {
    const ann = new HttpApi(nodes[0]?.httpUrl ?? '');
    const ben = new HttpApi(nodes[1]?.httpUrl ?? '');
    const annName = uniqueName('ann');
    const benName = uniqueName('ben');
    await ann.call('register', { username: annName, password: PASSWORD });
    await ben.call('register', { username: benName, password: PASSWORD });
    const [a, b] = await Promise.all([
      ann.call('messages.send', { to: benName, body: 'hi ben', nonce: uniqueName('n') }),
      ben.call('messages.send', { to: annName, body: 'hi ann', nonce: uniqueName('n') }),
    ]);
    assert.equal(a.message.conversationId, b.message.conversationId, `round ${round}: one DM`);
    const { messages } = await ann.call('messages.history', { conversationId: a.message.conversationId });
    assert.deepEqual(messages.map((m) => m.body).sort(), ['hi ann', 'hi ben']);
  }
});

/** A server of its own on the first node with a moderator and a reporter (both also on the second), and messages of a third. */
async function reportScene(messages: number) {
  const mod = await accountOnBothNodes();
  const reporter = await accountOnBothNodes();
  const author = new HttpApi(nodes[0]?.httpUrl ?? '');
  await author.call('register', { username: uniqueName('author'), password: PASSWORD });
  const owner = mod.apis[0] as HttpApi;
  const { server, channels } = await owner.call('servers.create', { name: 'report race' });
  const { code } = (await owner.call('invites.create', { serverId: server.id })).invite;
  await (reporter.apis[0] as HttpApi).call('invites.join', { code });
  await author.call('invites.join', { code });
  const ids: string[] = [];
  for (let i = 0; i < messages; i++) {
    const sent = await author.call('messages.send', {
      conversationId: channels[0]?.id ?? '',
      body: `junk ${i}`,
      nonce: uniqueName('n'),
    });
    ids.push(sent.message.id);
  }
  return { mod, reporter, serverId: server.id, ids };
}

test('reports of one message at once through two nodes: one is open, the others are told it is already reported', async () => {
  const { reporter, ids } = await reportScene(1);
  const { ok, refused } = await race(
    8,
    (api) => api.call('reports.create', { messageId: ids[0] ?? '', reason: 'spam' }),
    reporter.apis,
  );
  assert.equal(ok, 1);
  assert.deepEqual(refused, Array(7).fill('conflict'));
  assert.equal(
    await count("SELECT count(*) AS n FROM reports WHERE reporter_id = $1 AND status = 'open'", [reporter.userId]),
    1,
  );
});

test('reports made at once through two nodes stop at the cap of open reports', async () => {
  const { reporter, ids } = await reportScene(8);
  const { ok, refused } = await race(
    8,
    (api, i) => api.call('reports.create', { messageId: ids[i] ?? '', reason: 'spam' }),
    reporter.apis,
  );
  assert.equal(ok, CAP);
  assert.deepEqual(refused, Array(8 - CAP).fill('limit_reached'));
  assert.equal(await count('SELECT count(*) AS n FROM reports WHERE reporter_id = $1', [reporter.userId]), CAP);
});

test('one report resolved at once through two nodes: one resolution, one ban, one audit entry', async () => {
  const { mod, reporter, serverId, ids } = await reportScene(1);
  const { report } = await (reporter.apis[0] as HttpApi).call('reports.create', {
    messageId: ids[0] ?? '',
    reason: 'spam',
  });
  const { ok, refused } = await race(
    6,
    (api) => api.call('reports.resolve', { reportId: report.id, action: 'ban' }),
    mod.apis,
  );
  assert.equal(ok, 1);
  assert.deepEqual(refused, Array(5).fill('conflict'));
  assert.equal(
    await count("SELECT count(*) AS n FROM audit_log WHERE server_id = $1 AND action = 'report.resolve'", [serverId]),
    1,
  );
  assert.equal(
    await count("SELECT count(*) AS n FROM audit_log WHERE server_id = $1 AND action = 'member.ban'", [serverId]),
    1,
  );
});

test("an invite code's last uses, taken at once through two nodes by joins and by registrations, stop at its uses", async () => {
  const { apis } = await accountOnBothNodes();
  const owner = apis[0] as HttpApi;
  const { server } = await owner.call('servers.create', { name: 'invite race' });
  const { invite } = await owner.call('invites.create', { serverId: server.id, maxUses: CAP });
  const joiners = await Promise.all(
    Array.from({ length: 5 }, async (_, i) => {
      const api = new HttpApi(nodes[i % 2]?.httpUrl ?? '');
      await api.call('register', { username: uniqueName('inv'), password: PASSWORD });
      return api;
    }),
  );
  const { ok, refused } = await race(
    10,
    (api, i) =>
      i < 5
        ? (joiners[i] as HttpApi).call('invites.join', { code: invite.code })
        : api.call('register', { username: uniqueName('inv-new'), password: PASSWORD, invite: invite.code }),
    [new HttpApi(nodes[0]?.httpUrl ?? ''), new HttpApi(nodes[1]?.httpUrl ?? '')],
  );
  assert.equal(ok, CAP);
  assert.deepEqual(refused, Array(10 - CAP).fill('not_found'));
  assert.equal(await count('SELECT uses AS n FROM invites WHERE code = $1', [invite.code]), CAP);
  assert.equal(await count('SELECT count(*) AS n FROM members WHERE server_id = $1', [server.id]), CAP + 1);
});
