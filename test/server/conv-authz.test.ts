import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { NatterError, OP_NAMES, type OpName, type ParamsIn } from '../../src/protocol/index.js';
import { connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { upload } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * One authorization rule for every conversation operation: an id the caller
 * cannot see is `not_found`, exactly like an id that does not exist; a member
 * without the role gets `forbidden`.
 */

let t: TestServer;
const clients: NatterClient[] = [];

type User = { id: string; username: string; token: string; c: NatterClient };

async function newUser(prefix = 'az'): Promise<User> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD });
  const c = await connectAs(t.wsUrl, reg.token);
  clients.push(c);
  return { id: reg.user.id, username, token: reg.token, c };
}

let nonces = 0;
function nonce(): string {
  nonces++;
  return `az${process.pid}-${Date.now()}-${nonces}`;
}

/** An id in the server's alphabet that names nothing. */
function randomId(): string {
  return randomBytes(16).toString('base64url');
}

function randomCode(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(16), (b) => chars[b % chars.length]).join('');
}

/** The ids an operation can name. */
type Ids = {
  serverId: string;
  channelId: string;
  channelMsgId: string;
  groupId: string;
  groupMsgId: string;
  dmId: string;
  dmMsgId: string;
  /** A live invite code of the server. */
  code: string;
  /** A revoked invite code of the server (a live one would let anyone join: that is what invites are for). */
  revokedCode: string;
  /** A member of the server (user ids are public, so the "nonexistent" variant keeps the real one). */
  userId: string;
  /** A username that is not in the group (usernames are public too). */
  username: string;
  /** A report of the channel message, open. */
  reportId: number;
  /** An automatic moderation rule of the server, and a message it holds. */
  ruleId: string;
  heldId: string;
  /** Files posted in the channel, the group and the DM, and an upload of alice's not used yet. */
  channelFileId: string;
  groupFileId: string;
  dmFileId: string;
  uploadId: string;
};

type Case = { op: OpName; on: string; params: (x: Ids) => unknown };
function row<N extends OpName>(op: N, on: string, params: (x: Ids) => ParamsIn<N>): Case {
  return { op, on, params };
}

/**
 * Every conversation operation that names something, with each kind of thing it
 * can name. Destructive ones come last, so a server that wrongly lets them
 * through cannot spoil the cases before them.
 */
const CASES: readonly Case[] = [
  row('servers.get', 'server', (x) => ({ serverId: x.serverId })),
  row('servers.update', 'server', (x) => ({ serverId: x.serverId, name: 'Taken over' })),
  row('servers.transfer', 'server', (x) => ({ serverId: x.serverId, userId: x.userId })),
  row('members.list', 'server', (x) => ({ serverId: x.serverId })),
  row('members.online', 'server', (x) => ({ serverId: x.serverId })),
  row('members.role', 'server', (x) => ({ serverId: x.serverId, userId: x.userId, role: 'admin' })),
  row('members.kick', 'server', (x) => ({ serverId: x.serverId, userId: x.userId })),
  row('bans.add', 'server', (x) => ({ serverId: x.serverId, userId: x.userId, reason: 'because' })),
  row('bans.remove', 'server', (x) => ({ serverId: x.serverId, userId: x.userId })),
  row('bans.list', 'server', (x) => ({ serverId: x.serverId })),
  row('audit.list', 'server', (x) => ({ serverId: x.serverId })),
  row('reports.list', 'server', (x) => ({ serverId: x.serverId })),
  row('reports.resolve', 'report', (x) => ({ reportId: x.reportId, action: 'none' })),
  row('reports.create', 'channel message', (x) => ({ messageId: x.channelMsgId, reason: 'spam' })),
  row('reports.create', 'group message', (x) => ({ messageId: x.groupMsgId, reason: 'spam' })),
  row('reports.create', 'dm message', (x) => ({ messageId: x.dmMsgId, reason: 'spam' })),
  row('reports.create', 'channel', (x) => ({ conversationId: x.channelId, seq: 1, reason: 'spam' })),
  row('reports.create', 'group', (x) => ({ conversationId: x.groupId, seq: 1, reason: 'spam' })),
  row('reports.create', 'dm', (x) => ({ conversationId: x.dmId, seq: 1, reason: 'spam' })),
  row('reports.create', 'server', (x) => ({ userId: x.userId, serverId: x.serverId, reason: 'spam' })),
  row('members.timeout', 'server', (x) => ({ serverId: x.serverId, userId: x.userId, seconds: 60 })),
  row('members.untimeout', 'server', (x) => ({ serverId: x.serverId, userId: x.userId })),
  row('channels.slowmode', 'channel', (x) => ({ channelId: x.channelId, seconds: 30 })),
  row('automod.list', 'server', (x) => ({ serverId: x.serverId })),
  row('automod.create', 'server', (x) => ({
    serverId: x.serverId,
    rule: { name: 'intruder', kind: 'keyword', config: { keywords: ['hello'] }, actions: [{ block: {} }] },
  })),
  row('automod.update', 'rule', (x) => ({ ruleId: x.ruleId, enabled: false })),
  row('held.list', 'server', (x) => ({ serverId: x.serverId })),
  row('held.approve', 'held message', (x) => ({ heldId: x.heldId })),
  row('attachments.get', 'channel file', (x) => ({ attachmentId: x.channelFileId })),
  row('attachments.get', 'group file', (x) => ({ attachmentId: x.groupFileId })),
  row('attachments.get', 'dm file', (x) => ({ attachmentId: x.dmFileId })),
  row('attachments.get', 'unused upload', (x) => ({ attachmentId: x.uploadId })),
  row('channels.create', 'server', (x) => ({ serverId: x.serverId, name: 'intruders' })),
  row('channels.list', 'server', (x) => ({ serverId: x.serverId })),
  row('channels.update', 'channel', (x) => ({ channelId: x.channelId, topic: 'defaced' })),
  row('invites.create', 'server', (x) => ({ serverId: x.serverId })),
  row('invites.list', 'server', (x) => ({ serverId: x.serverId })),
  row('invites.revoke', 'server and code', (x) => ({ serverId: x.serverId, code: x.code })),
  row('invites.join', 'revoked code', (x) => ({ code: x.revokedCode })),
  row('groups.add', 'group', (x) => ({ groupId: x.groupId, usernames: [x.username] })),
  row('groups.rename', 'group', (x) => ({ groupId: x.groupId, name: 'pwned' })),
  row('groups.accept', 'group', (x) => ({ groupId: x.groupId })),
  row('groups.decline', 'group', (x) => ({ groupId: x.groupId })),
  row('messages.send', 'channel', (x) => ({ conversationId: x.channelId, body: 'hello?', nonce: nonce() })),
  row('messages.send', 'group', (x) => ({ conversationId: x.groupId, body: 'hello?', nonce: nonce() })),
  row('messages.send', 'dm', (x) => ({ conversationId: x.dmId, body: 'hello?', nonce: nonce() })),
  row('messages.history', 'channel', (x) => ({ conversationId: x.channelId })),
  row('messages.history', 'group', (x) => ({ conversationId: x.groupId })),
  row('messages.history', 'dm', (x) => ({ conversationId: x.dmId })),
  row('messages.search', 'channel', (x) => ({ query: 'secret', conversationId: x.channelId })),
  row('messages.search', 'group', (x) => ({ query: 'secret', conversationId: x.groupId })),
  row('messages.search', 'dm', (x) => ({ query: 'secret', conversationId: x.dmId })),
  row('read.mark', 'channel', (x) => ({ conversationId: x.channelId, seq: 1 })),
  row('read.mark', 'group', (x) => ({ conversationId: x.groupId, seq: 1 })),
  row('read.mark', 'dm', (x) => ({ conversationId: x.dmId, seq: 1 })),
  row('typing.start', 'channel', (x) => ({ conversationId: x.channelId })),
  row('typing.start', 'group', (x) => ({ conversationId: x.groupId })),
  row('typing.start', 'dm', (x) => ({ conversationId: x.dmId })),
  row('messages.edit', 'channel message', (x) => ({ messageId: x.channelMsgId, body: 'edited' })),
  row('messages.edit', 'group message', (x) => ({ messageId: x.groupMsgId, body: 'edited' })),
  row('messages.edit', 'dm message', (x) => ({ messageId: x.dmMsgId, body: 'edited' })),
  row('messages.delete', 'channel message', (x) => ({ messageId: x.channelMsgId })),
  row('messages.delete', 'group message', (x) => ({ messageId: x.groupMsgId })),
  row('messages.delete', 'dm message', (x) => ({ messageId: x.dmMsgId })),
  row('held.reject', 'held message', (x) => ({ heldId: x.heldId })),
  row('automod.delete', 'rule', (x) => ({ ruleId: x.ruleId })),
  row('servers.leave', 'server', (x) => ({ serverId: x.serverId })),
  row('groups.leave', 'group', (x) => ({ groupId: x.groupId })),
  row('channels.delete', 'channel', (x) => ({ channelId: x.channelId })),
  row('servers.delete', 'server', (x) => ({ serverId: x.serverId })),
];

/** Account operations (docs/protocol.md) and the conversation operations that name nothing. */
const ACCOUNT_OPS = [
  'hello',
  'ping',
  'register',
  'login',
  'auth',
  'logout',
  'whoami',
  'users.get',
  'profile.update',
  'username.change',
  'password.change',
  'account.delete',
  'account.export',
  'email.set',
  'email.resend',
  'email.verify',
  'email.remove',
  'password.resetRequest',
  'password.reset',
  'sessions.list',
  'sessions.revoke',
  'tokens.create',
  'tokens.list',
  'tokens.revoke',
  'settings.get',
  'settings.update',
  'blocks.add',
  'blocks.remove',
  'blocks.list',
];
const NO_ID_OPS = [
  'attachments.create',
  'servers.create',
  'servers.list',
  'groups.create',
  'groups.list',
  'groups.invitations',
  'dms.list',
  'conversations.list',
];

type Call = (op: OpName, params: unknown) => Promise<unknown>;

function wsCaller(u: User): Call {
  return (op, params) => u.c.request(op, params as never);
}

function httpCaller(u: User): Call {
  const api = new HttpApi(t.httpUrl);
  api.token = u.token;
  return (op, params) => api.call(op, params as never);
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await rejection(p);
  assert.ok(err instanceof NatterError);
  return { code: err.code, message: err.message };
}

/** Calls `op` with an id the caller cannot see and with one that does not exist: both not_found, alike. */
async function assertHidden(call: Call, op: OpName, real: unknown, fake: unknown): Promise<void> {
  const hidden = await failure(call(op, real));
  const missing = await failure(call(op, fake));
  assert.equal(hidden.code, 'not_found', `${op}: an id the caller cannot see`);
  assert.equal(missing.code, 'not_found', `${op}: an id that does not exist`);
  assert.deepEqual(hidden, missing, `${op}: the two answers must be indistinguishable`);
}

type Fixture = {
  alice: User;
  bob: User;
  carol: User;
  eve: User;
  ids: Ids;
  fake: Ids;
  serverName: string;
  groupName: string;
};
let fx: Fixture;

before(async () => {
  t = await startTestServer();
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const carol = await newUser('carol');
  const eve = await newUser('eve');
  const serverName = uniqueName('Fort');
  const created = await alice.c.request('servers.create', { name: serverName });
  const serverId = created.server.id;
  const channelId = created.channels[0]?.id;
  assert.ok(channelId);
  const code = (await alice.c.request('invites.create', { serverId })).invite.code;
  const revokedCode = (await alice.c.request('invites.create', { serverId })).invite.code;
  await alice.c.request('invites.revoke', { serverId, code: revokedCode });
  await bob.c.request('invites.join', { code });
  const files = new HttpApi(t.httpUrl);
  files.token = alice.token;
  const secretFile = async () => (await upload(files, t.httpUrl, 'secret.txt', Buffer.from('a secret file'))).id;
  const [channelFileId, groupFileId, dmFileId, uploadId] = [
    await secretFile(),
    await secretFile(),
    await secretFile(),
    await secretFile(),
  ];
  const channelMsg = await alice.c.request('messages.send', {
    conversationId: channelId,
    body: 'channel secret',
    nonce: nonce(),
    attachments: [channelFileId],
  });
  const groupName = uniqueName('Cabal');
  const group = await alice.c.request('groups.create', { name: groupName, usernames: [bob.username] });
  // By default an add is an invitation: bob accepts it.
  await bob.c.request('groups.accept', { groupId: group.group.id });
  const groupMsg = await alice.c.request('messages.send', {
    conversationId: group.group.id,
    body: 'group secret',
    nonce: nonce(),
    attachments: [groupFileId],
  });
  const dmMsg = await alice.c.request('messages.send', {
    to: bob.username,
    body: 'dm secret',
    nonce: nonce(),
    attachments: [dmFileId],
  });
  const { report } = await bob.c.request('reports.create', { messageId: channelMsg.message.id, reason: 'other' });
  const { rule } = await alice.c.request('automod.create', {
    serverId,
    rule: { name: 'review', kind: 'keyword', config: { keywords: ['hold me'] }, actions: ['hold'] },
  });
  await rejection(
    bob.c.request('messages.send', { conversationId: channelId, body: 'please hold me', nonce: nonce() }),
  );
  const [held] = (await alice.c.request('held.list', { serverId })).messages;
  assert.ok(held, 'a held message');
  const ids: Ids = {
    serverId,
    channelId,
    channelMsgId: channelMsg.message.id,
    groupId: group.group.id,
    groupMsgId: groupMsg.message.id,
    dmId: dmMsg.message.conversationId,
    dmMsgId: dmMsg.message.id,
    code,
    revokedCode,
    userId: bob.id,
    username: carol.username,
    reportId: report.id,
    ruleId: rule.id,
    heldId: held.id,
    channelFileId,
    groupFileId,
    dmFileId,
    uploadId,
  };
  const fake: Ids = {
    serverId: randomId(),
    channelId: randomId(),
    channelMsgId: randomId(),
    groupId: randomId(),
    groupMsgId: randomId(),
    dmId: randomId(),
    dmMsgId: randomId(),
    code: randomCode(),
    revokedCode: randomCode(),
    userId: bob.id,
    username: carol.username,
    reportId: 9_999_999,
    ruleId: randomId(),
    heldId: randomId(),
    channelFileId: randomId(),
    groupFileId: randomId(),
    dmFileId: randomId(),
    uploadId: randomId(),
  };
  fx = { alice, bob, carol, eve, ids, fake, serverName, groupName };
});

after(async () => {
  for (const c of clients) c.close();
  await t.destroy();
});

describe('the operation table', () => {
  test('every conversation operation that names something is in the table', () => {
    const excluded = new Set<string>([...ACCOUNT_OPS, ...NO_ID_OPS]);
    const expected = OP_NAMES.filter((op) => !excluded.has(op)).sort();
    const covered = [...new Set(CASES.map((c) => c.op))].sort();
    assert.deepEqual(covered, expected);
    for (const op of [...ACCOUNT_OPS, ...NO_ID_OPS]) assert.ok(OP_NAMES.includes(op as OpName), op);
  });
});

for (const transport of ['ws', 'http'] as const) {
  describe(`over ${transport}, a non-member gets not_found, the same as for an id that does not exist`, () => {
    for (const c of CASES) {
      test(`${c.op} (${c.on})`, async () => {
        const call = transport === 'ws' ? wsCaller(fx.eve) : httpCaller(fx.eve);
        await assertHidden(call, c.op, c.params(fx.ids), c.params(fx.fake));
      });
    }
  });
}

describe('nothing a non-member tried had any effect', () => {
  test('the server, channel, group, DM and invites are as they were', async () => {
    const { alice, bob, eve, ids } = fx;
    const got = await alice.c.request('servers.get', { serverId: ids.serverId });
    assert.equal(got.server.name, fx.serverName);
    assert.equal(got.server.ownerId, alice.id);
    assert.deepEqual(
      got.channels.map((ch) => [ch.id, ch.topic, ch.slowmode]),
      [[ids.channelId, null, undefined]],
    );
    const { rules } = await alice.c.request('automod.list', { serverId: ids.serverId });
    assert.deepEqual(
      rules.map((r) => [r.id, r.name, r.enabled]),
      [[ids.ruleId, 'review', true]],
    );
    const { messages: held } = await alice.c.request('held.list', { serverId: ids.serverId });
    assert.deepEqual(
      held.map((h) => h.id),
      [ids.heldId],
    );
    const members = await alice.c.request('members.list', { serverId: ids.serverId });
    assert.deepEqual(
      members.members.map((m) => [m.user.id, m.role, m.timeoutUntil]),
      [
        [alice.id, 'owner', undefined],
        [bob.id, 'member', undefined],
      ],
    );
    assert.equal((await alice.c.request('bans.list', { serverId: ids.serverId })).bans.length, 0);
    assert.ok(
      (await alice.c.request('invites.list', { serverId: ids.serverId })).invites.some((i) => i.code === ids.code),
    );
    const groups = await bob.c.request('groups.list', {});
    const group = groups.groups.find((g) => g.id === ids.groupId);
    assert.equal(group?.name, fx.groupName);
    assert.deepEqual(group?.members.map((m) => m.id).sort(), [alice.id, bob.id].sort());
    for (const [conversationId, body] of [
      [ids.channelId, 'channel secret'],
      [ids.groupId, 'group secret'],
      [ids.dmId, 'dm secret'],
    ] as const) {
      const h = await bob.c.request('messages.history', { conversationId });
      assert.deepEqual(
        h.messages.map((m) => [m.body, m.editedAt, m.deletedAt]),
        [[body, null, null]],
        conversationId,
      );
    }
    assert.equal((await eve.c.request('servers.list', {})).servers.length, 0);
    assert.equal((await eve.c.request('groups.list', {})).groups.length, 0);
    assert.equal((await eve.c.request('dms.list', {})).dms.length, 0);
    assert.equal((await eve.c.request('conversations.list', {})).conversations.length, 0);
    // Search finds what bob can read, and nothing of it for eve.
    const found = await bob.c.request('messages.search', { query: 'secret' });
    assert.deepEqual(found.hits.map((h) => h.message.body).sort(), ['channel secret', 'dm secret', 'group secret']);
    assert.deepEqual((await eve.c.request('messages.search', { query: 'secret' })).hits, []);
  });
});

describe('cross-tenant ids are not_found, the same as ids that do not exist', () => {
  test('a message or channel of server A, used by the owner of server B only', async () => {
    const { ids, fake } = fx;
    const frank = await newUser('frank');
    const own = await frank.c.request('servers.create', { name: uniqueName('Other') });
    const ownId = own.server.id;
    const call = wsCaller(frank);
    const cases: [OpName, (x: Ids) => unknown][] = [
      ['messages.edit', (x) => ({ messageId: x.channelMsgId, body: 'mine now' })],
      ['messages.history', (x) => ({ conversationId: x.channelId })],
      ['messages.search', (x) => ({ query: 'secret', conversationId: x.channelId })],
      ['messages.send', (x) => ({ conversationId: x.channelId, body: 'hi', nonce: nonce() })],
      ['read.mark', (x) => ({ conversationId: x.channelId, seq: 1 })],
      ['typing.start', (x) => ({ conversationId: x.channelId })],
      ['channels.update', (x) => ({ channelId: x.channelId, name: 'hijacked' })],
      // Server B's id with server A's invite code or member.
      ['invites.revoke', (x) => ({ serverId: ownId, code: x.code })],
      ['members.kick', (x) => ({ serverId: ownId, userId: x.userId })],
      ['members.role', (x) => ({ serverId: ownId, userId: x.userId, role: 'admin' })],
      ['servers.transfer', (x) => ({ serverId: ownId, userId: x.userId })],
      ['messages.delete', (x) => ({ messageId: x.channelMsgId })],
      ['channels.delete', (x) => ({ channelId: x.channelId })],
    ];
    const fakeUser = { ...fake, userId: randomId() };
    for (const [op, params] of cases) {
      await assertHidden(
        call,
        op,
        params(ids),
        params(op.startsWith('members.') || op === 'servers.transfer' ? fakeUser : fake),
      );
    }
    // Still intact.
    const h = await fx.bob.c.request('messages.history', { conversationId: ids.channelId });
    assert.equal(h.messages[0]?.body, 'channel secret');
    assert.ok(
      (await fx.alice.c.request('invites.list', { serverId: ids.serverId })).invites.some((i) => i.code === ids.code),
    );
  });

  test('another pair’s DM conversation and its messages', async () => {
    const { alice, carol, ids, fake } = fx;
    // Carol has a DM of her own with Alice, so she knows what DMs look like.
    await carol.c.request('messages.send', { to: alice.username, body: 'hi alice', nonce: nonce() });
    const call = wsCaller(carol);
    for (const [op, params] of [
      ['messages.history', (x: Ids) => ({ conversationId: x.dmId })],
      ['messages.search', (x: Ids) => ({ query: 'secret', conversationId: x.dmId })],
      ['messages.send', (x: Ids) => ({ conversationId: x.dmId, body: 'let me in', nonce: nonce() })],
      ['read.mark', (x: Ids) => ({ conversationId: x.dmId, seq: 1 })],
      ['typing.start', (x: Ids) => ({ conversationId: x.dmId })],
      ['messages.edit', (x: Ids) => ({ messageId: x.dmMsgId, body: 'edited' })],
      ['messages.delete', (x: Ids) => ({ messageId: x.dmMsgId })],
    ] as const) {
      await assertHidden(call, op, params(ids), params(fake));
    }
    const dms = await carol.c.request('dms.list', {});
    assert.deepEqual(
      dms.dms.map((d) => d.peer?.id),
      [alice.id],
    );
  });

  test('a group I left, and my own messages in it', async () => {
    const { alice, bob } = fx;
    const group = await alice.c.request('groups.create', { name: 'soon left', usernames: [bob.username] });
    const groupId = group.group.id;
    await bob.c.request('groups.accept', { groupId });
    const mine = await bob.c.request('messages.send', { conversationId: groupId, body: 'bye', nonce: nonce() });
    await bob.c.request('groups.leave', { groupId });
    const call = wsCaller(bob);
    const real = { groupId, messageId: mine.message.id };
    const fake = { groupId: randomId(), messageId: randomId() };
    for (const [op, params] of [
      ['messages.history', (x: typeof real) => ({ conversationId: x.groupId })],
      ['messages.search', (x: typeof real) => ({ query: 'bye', conversationId: x.groupId })],
      ['messages.send', (x: typeof real) => ({ conversationId: x.groupId, body: 'back', nonce: nonce() })],
      ['read.mark', (x: typeof real) => ({ conversationId: x.groupId, seq: 1 })],
      ['typing.start', (x: typeof real) => ({ conversationId: x.groupId })],
      ['groups.rename', (x: typeof real) => ({ groupId: x.groupId, name: 'renamed' })],
      ['groups.add', (x: typeof real) => ({ groupId: x.groupId, usernames: [bob.username] })],
      ['groups.leave', (x: typeof real) => ({ groupId: x.groupId })],
      ['messages.edit', (x: typeof real) => ({ messageId: x.messageId, body: 'edited' })],
      ['messages.delete', (x: typeof real) => ({ messageId: x.messageId })],
    ] as const) {
      await assertHidden(call, op, params(real), params(fake));
    }
    const left = (await alice.c.request('groups.list', {})).groups.find((g) => g.id === groupId);
    assert.equal(left?.name, 'soon left');
    assert.deepEqual(
      left?.members.map((m) => m.id),
      [alice.id],
    );
    assert.ok(!(await bob.c.request('groups.list', {})).groups.some((g) => g.id === groupId));
  });
});

describe('a member without the role gets forbidden, not not_found', () => {
  type Roles = {
    owner: User;
    admin: User;
    admin2: User;
    mod: User;
    mod2: User;
    member: User;
    member2: User;
    banned: User;
  };
  type Place = { serverId: string; channelId: string; code: string; ownerMsgId: string; name: string };
  let r: Roles;
  let p: Place;

  before(async () => {
    r = {
      owner: await newUser('own'),
      admin: await newUser('adm'),
      admin2: await newUser('adm'),
      mod: await newUser('mod'),
      mod2: await newUser('mod'),
      member: await newUser('mem'),
      member2: await newUser('mem'),
      banned: await newUser('ban'),
    };
    const name = uniqueName('Keep');
    const created = await r.owner.c.request('servers.create', { name });
    const serverId = created.server.id;
    const channelId = created.channels[0]?.id;
    assert.ok(channelId);
    const code = (await r.owner.c.request('invites.create', { serverId })).invite.code;
    for (const u of [r.admin, r.admin2, r.mod, r.mod2, r.member, r.member2])
      await u.c.request('invites.join', { code });
    for (const u of [r.admin, r.admin2]) {
      await r.owner.c.request('members.role', { serverId, userId: u.id, role: 'admin' });
    }
    for (const u of [r.mod, r.mod2]) {
      await r.owner.c.request('members.role', { serverId, userId: u.id, role: 'moderator' });
    }
    await r.owner.c.request('bans.add', { serverId, userId: r.banned.id });
    const msg = await r.owner.c.request('messages.send', { conversationId: channelId, body: 'rules', nonce: nonce() });
    p = { serverId, channelId, code, ownerMsgId: msg.message.id, name };
  });

  type Who = 'member' | 'moderator' | 'admin';
  type Attempt = { who: Who; op: OpName; what: string; params: () => unknown };
  function attempt<N extends OpName>(who: Who, op: N, what: string, params: () => ParamsIn<N>): Attempt {
    return { who, op, what, params };
  }
  const ATTEMPTS: readonly Attempt[] = [
    attempt('member', 'servers.update', 'rename the server', () => ({ serverId: p.serverId, name: 'Mine' })),
    attempt('member', 'servers.transfer', 'take the server', () => ({ serverId: p.serverId, userId: r.member.id })),
    attempt('member', 'members.role', 'promote self', () => ({
      serverId: p.serverId,
      userId: r.member.id,
      role: 'admin',
    })),
    attempt('member', 'members.role', 'demote an admin', () => ({
      serverId: p.serverId,
      userId: r.admin.id,
      role: 'member',
    })),
    attempt('member', 'members.kick', 'kick a member', () => ({ serverId: p.serverId, userId: r.member2.id })),
    attempt('member', 'bans.add', 'ban a member', () => ({ serverId: p.serverId, userId: r.member2.id })),
    attempt('member', 'bans.remove', 'unban', () => ({ serverId: p.serverId, userId: r.banned.id })),
    attempt('member', 'bans.list', 'list bans', () => ({ serverId: p.serverId })),
    attempt('member', 'audit.list', 'read the audit log', () => ({ serverId: p.serverId })),
    attempt('member', 'members.role', 'make someone a moderator', () => ({
      serverId: p.serverId,
      userId: r.member2.id,
      role: 'moderator',
    })),
    attempt('member', 'channels.create', 'create a channel', () => ({ serverId: p.serverId, name: 'mine' })),
    attempt('member', 'channels.update', 'set a topic', () => ({ channelId: p.channelId, topic: 'mine' })),
    attempt('member', 'channels.delete', 'delete a channel', () => ({ channelId: p.channelId })),
    attempt('member', 'invites.create', 'create an invite', () => ({ serverId: p.serverId })),
    attempt('member', 'invites.list', 'list invites', () => ({ serverId: p.serverId })),
    attempt('member', 'invites.revoke', 'revoke an invite', () => ({ serverId: p.serverId, code: p.code })),
    attempt('member', 'messages.edit', "edit the owner's message", () => ({ messageId: p.ownerMsgId, body: 'x' })),
    attempt('member', 'messages.delete', "delete the owner's message", () => ({ messageId: p.ownerMsgId })),
    attempt('member', 'servers.delete', 'delete the server', () => ({ serverId: p.serverId })),
    attempt('admin', 'servers.transfer', 'take the server', () => ({ serverId: p.serverId, userId: r.admin.id })),
    attempt('admin', 'members.role', 'promote a member', () => ({
      serverId: p.serverId,
      userId: r.member.id,
      role: 'admin',
    })),
    attempt('admin', 'members.role', 'demote another admin', () => ({
      serverId: p.serverId,
      userId: r.admin2.id,
      role: 'member',
    })),
    attempt('admin', 'members.kick', 'kick another admin', () => ({ serverId: p.serverId, userId: r.admin2.id })),
    attempt('admin', 'members.kick', 'kick the owner', () => ({ serverId: p.serverId, userId: r.owner.id })),
    attempt('admin', 'bans.add', 'ban another admin', () => ({ serverId: p.serverId, userId: r.admin2.id })),
    attempt('admin', 'bans.add', 'ban the owner', () => ({ serverId: p.serverId, userId: r.owner.id })),
    attempt('admin', 'messages.edit', "edit the owner's message", () => ({ messageId: p.ownerMsgId, body: 'x' })),
    attempt('admin', 'servers.delete', 'delete the server', () => ({ serverId: p.serverId })),
    attempt('admin', 'members.role', 'change their own role', () => ({
      serverId: p.serverId,
      userId: r.admin.id,
      role: 'moderator',
    })),
    attempt('admin', 'messages.delete', "delete the owner's message", () => ({ messageId: p.ownerMsgId })),
    attempt('moderator', 'members.kick', 'kick another moderator', () => ({ serverId: p.serverId, userId: r.mod2.id })),
    attempt('moderator', 'members.kick', 'kick an admin', () => ({ serverId: p.serverId, userId: r.admin.id })),
    attempt('moderator', 'bans.add', 'ban an admin', () => ({ serverId: p.serverId, userId: r.admin.id })),
    attempt('moderator', 'bans.add', 'ban another moderator', () => ({ serverId: p.serverId, userId: r.mod2.id })),
    attempt('moderator', 'members.role', 'make a member a moderator', () => ({
      serverId: p.serverId,
      userId: r.member.id,
      role: 'moderator',
    })),
    attempt('moderator', 'members.role', 'demote another moderator', () => ({
      serverId: p.serverId,
      userId: r.mod2.id,
      role: 'member',
    })),
    attempt('moderator', 'messages.delete', "delete the owner's message", () => ({ messageId: p.ownerMsgId })),
    attempt('moderator', 'channels.create', 'create a channel', () => ({ serverId: p.serverId, name: 'mods' })),
    attempt('moderator', 'channels.update', 'set a topic', () => ({ channelId: p.channelId, topic: 'mods rule' })),
    attempt('moderator', 'invites.create', 'create an invite', () => ({ serverId: p.serverId })),
    attempt('moderator', 'invites.list', 'list invites', () => ({ serverId: p.serverId })),
    attempt('moderator', 'servers.update', 'rename the server', () => ({ serverId: p.serverId, name: 'Mods' })),
  ];

  for (const a of ATTEMPTS) {
    test(`${a.who}: ${a.op} (${a.what})`, async () => {
      const u = a.who === 'member' ? r.member : a.who === 'moderator' ? r.mod : r.admin;
      const err = await failure(u.c.request(a.op, a.params() as never));
      assert.equal(err.code, 'forbidden');
    });
  }

  test('none of the refused attempts changed anything', async () => {
    const got = await r.owner.c.request('servers.get', { serverId: p.serverId });
    assert.equal(got.server.name, p.name);
    assert.equal(got.server.ownerId, r.owner.id);
    assert.deepEqual(
      got.channels.map((ch) => [ch.id, ch.name, ch.topic]),
      [[p.channelId, 'general', null]],
    );
    const members = await r.owner.c.request('members.list', { serverId: p.serverId });
    assert.deepEqual(Object.fromEntries(members.members.map((m) => [m.user.id, m.role])), {
      [r.owner.id]: 'owner',
      [r.admin.id]: 'admin',
      [r.admin2.id]: 'admin',
      [r.mod.id]: 'moderator',
      [r.mod2.id]: 'moderator',
      [r.member.id]: 'member',
      [r.member2.id]: 'member',
    });
    assert.deepEqual(
      (await r.owner.c.request('bans.list', { serverId: p.serverId })).bans.map((b) => b.user.id),
      [r.banned.id],
    );
    const invites = await r.owner.c.request('invites.list', { serverId: p.serverId });
    assert.deepEqual(
      invites.invites.map((i) => i.code),
      [p.code],
    );
    const h = await r.member.c.request('messages.history', { conversationId: p.channelId });
    assert.deepEqual(
      h.messages.map((m) => [m.id, m.body, m.deletedAt]),
      [[p.ownerMsgId, 'rules', null]],
    );
    const log = await r.owner.c.request('audit.list', { serverId: p.serverId });
    assert.deepEqual(
      log.entries.map((e) => e.action),
      ['member.ban', 'member.role', 'member.role', 'member.role', 'member.role', 'invite.create'],
      'the refused attempts left nothing in the audit log',
    );
  });
});
