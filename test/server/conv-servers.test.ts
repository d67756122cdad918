import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import type { EventMessage } from '../../src/protocol/index.js';
import { connectAs, HttpApi, httpPost, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let t: TestServer;
const clients: NatterClient[] = [];
before(async () => {
  t = await startTestServer();
});
after(async () => {
  for (const c of clients) c.close();
  await t.destroy();
});

type User = { id: string; username: string; token: string; c: NatterClient };

/** Registers an account over HTTP and opens one authenticated WebSocket connection for it. */
async function newUser(on: TestServer = t, prefix = 'cv'): Promise<User> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(on.httpUrl).call('register', { username, password: PASSWORD });
  const c = await connectAs(on.wsUrl, reg.token);
  clients.push(c);
  return { id: reg.user.id, username, token: reg.token, c };
}

/** Another authenticated connection of the same user. */
async function secondConnection(u: User, on: TestServer = t): Promise<NatterClient> {
  const c = await connectAs(on.tcpUrl, u.token);
  clients.push(c);
  return c;
}

type Community = { serverId: string; generalId: string; code: string };

/** A server owned by `owner`, joined by `members` through an unlimited invite; `admins` are promoted. */
async function community(owner: User, members: User[] = [], admins: User[] = []): Promise<Community> {
  const created = await owner.c.request('servers.create', { name: uniqueName('Srv') });
  const general = created.channels.find((ch) => ch.name === 'general');
  assert.ok(general, 'a new server has a general channel');
  const { invite } = await owner.c.request('invites.create', { serverId: created.server.id });
  for (const m of [...members, ...admins]) await m.c.request('invites.join', { code: invite.code });
  for (const a of admins) {
    await owner.c.request('members.role', { serverId: created.server.id, userId: a.id, role: 'admin' });
  }
  return { serverId: created.server.id, generalId: general.id, code: invite.code };
}

/** Records every event a client receives from now on. */
function record(c: NatterClient): EventMessage[] {
  const log: EventMessage[] = [];
  c.on('event', (m) => log.push(m));
  return log;
}

let nonces = 0;
function nonce(): string {
  nonces++;
  return `n${process.pid}-${Date.now()}-${nonces}`;
}

function randomCode(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 16; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

describe('servers', () => {
  test('servers.create makes the creator the owner, with a general channel', async () => {
    const owner = await newUser();
    const res = await owner.c.request('servers.create', { name: '  Team Rocket ', description: 'we blast off' });
    assert.equal(res.server.name, 'Team Rocket', 'the name is trimmed');
    assert.equal(res.server.description, 'we blast off');
    assert.equal(res.server.ownerId, owner.id);
    assert.equal(res.server.role, 'owner');
    assert.equal(res.server.memberCount, 1);
    assert.deepEqual(
      res.channels.map((ch) => ch.name),
      ['general'],
    );
    assert.equal(res.channels[0]?.serverId, res.server.id);
    assert.equal(res.channels[0]?.lastSeq, 0);

    const got = await owner.c.request('servers.get', { serverId: res.server.id });
    assert.equal(got.server.id, res.server.id);
    assert.equal(got.server.role, 'owner');
    assert.deepEqual(
      got.channels.map((ch) => ch.id),
      res.channels.map((ch) => ch.id),
    );
    const members = await owner.c.request('members.list', { serverId: res.server.id });
    assert.equal(members.members.length, 1);
    assert.equal(members.members[0]?.user.id, owner.id);
    assert.equal(members.members[0]?.role, 'owner');
    assert.equal(members.members[0]?.online, true);
    const list = await owner.c.request('servers.list', {});
    assert.deepEqual(
      list.servers.map((s) => [s.id, s.role]),
      [[res.server.id, 'owner']],
    );
    const empty = await rejection(owner.c.request('servers.create', { name: '   ' }));
    assert.equal(empty.code, 'bad_request');
  });

  test('servers.list shows each member their own role', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const outsider = await newUser();
    const s = await community(owner, [member], [admin]);
    for (const [u, role] of [
      [owner, 'owner'],
      [admin, 'admin'],
      [member, 'member'],
    ] as const) {
      const list = await u.c.request('servers.list', {});
      const mine = list.servers.find((x) => x.id === s.serverId);
      assert.equal(mine?.role, role, u.username);
      assert.equal(mine?.memberCount, 3);
    }
    assert.equal((await outsider.c.request('servers.list', {})).servers.length, 0);
  });

  test('servers.update by the owner or an admin reaches members; a plain member is forbidden', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const s = await community(owner, [member], [admin]);
    const seen = member.c.nextEvent('server.updated', (d) => d.server.id === s.serverId && d.server.name === 'Renamed');
    const res = await admin.c.request('servers.update', { serverId: s.serverId, name: 'Renamed', description: 'new' });
    assert.equal(res.server.name, 'Renamed');
    assert.equal(res.server.description, 'new');
    await seen;
    const cleared = await owner.c.request('servers.update', { serverId: s.serverId, description: null });
    assert.equal(cleared.server.description, null);
    assert.equal(cleared.server.name, 'Renamed', 'an absent field is left as is');
    const err = await rejection(member.c.request('servers.update', { serverId: s.serverId, name: 'Mine now' }));
    assert.equal(err.code, 'forbidden');
    assert.equal((await member.c.request('servers.get', { serverId: s.serverId })).server.name, 'Renamed');
  });

  test('servers.delete: owner only; members get server.deleted and every id of it is then not_found', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const s = await community(owner, [member], [admin]);
    const sent = await member.c.request('messages.send', { conversationId: s.generalId, body: 'hi', nonce: nonce() });
    assert.equal((await rejection(admin.c.request('servers.delete', { serverId: s.serverId }))).code, 'forbidden');
    assert.equal((await rejection(member.c.request('servers.delete', { serverId: s.serverId }))).code, 'forbidden');

    const deleted = [member, admin].map((u) => u.c.nextEvent('server.deleted', (d) => d.serverId === s.serverId));
    await owner.c.request('servers.delete', { serverId: s.serverId });
    await Promise.all(deleted);
    for (const u of [owner, admin, member]) {
      for (const p of [
        () => u.c.request('servers.get', { serverId: s.serverId }),
        () => u.c.request('channels.list', { serverId: s.serverId }),
        () => u.c.request('members.list', { serverId: s.serverId }),
        () => u.c.request('messages.history', { conversationId: s.generalId }),
        () => u.c.request('messages.send', { conversationId: s.generalId, body: 'anyone?', nonce: nonce() }),
      ]) {
        assert.equal((await rejection(p())).code, 'not_found', u.username);
      }
      assert.ok(!(await u.c.request('servers.list', {})).servers.some((x) => x.id === s.serverId));
    }
    assert.equal(
      (await rejection(member.c.request('messages.edit', { messageId: sent.message.id, body: 'edited' }))).code,
      'not_found',
    );
    const outsider = await newUser();
    assert.equal((await rejection(outsider.c.request('invites.join', { code: s.code }))).code, 'not_found');
  });
});

describe('members', () => {
  test('members.list gives role and presence, owner first, then admins, then by name', async () => {
    const owner = await newUser(t, 'zz');
    const admin = await newUser(t, 'yy');
    const m1 = await newUser(t, 'mb');
    const m2 = await newUser(t, 'ma');
    const s = await community(owner, [m1, m2], [admin]);
    const list = await owner.c.request('members.list', { serverId: s.serverId });
    assert.deepEqual(
      list.members.map((m) => [m.user.username, m.role, m.online]),
      [
        [owner.username, 'owner', true],
        [admin.username, 'admin', true],
        [m2.username, 'member', true],
        [m1.username, 'member', true],
      ],
    );
    assert.ok(list.members.every((m) => m.joinedAt > 0));

    const online = await m1.c.request('members.online', { serverId: s.serverId });
    assert.deepEqual(online.users.map((u) => u.id).sort(), [owner.id, admin.id, m1.id, m2.id].sort());

    // The last connection of m2 closes: m2 is offline.
    m2.c.close();
    await waitFor(
      async () => {
        const l = await owner.c.request('members.list', { serverId: s.serverId });
        return l.members.find((m) => m.user.id === m2.id)?.online === false;
      },
      { what: 'm2 to go offline', intervalMs: 50 },
    );
    const online2 = await owner.c.request('members.online', { serverId: s.serverId });
    assert.deepEqual(online2.users.map((u) => u.id).sort(), [owner.id, admin.id, m1.id].sort());
    const stillListed = await owner.c.request('members.list', { serverId: s.serverId });
    assert.equal(stillListed.members.length, 4, 'an offline member is still a member');
  });

  test('roles: the owner promotes and demotes; admins and members cannot change roles', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const other = await newUser();
    const s = await community(owner, [member, other], [admin]);

    const updated = other.c.nextEvent(
      'member.updated',
      (d) => d.serverId === s.serverId && d.member.user.id === member.id,
    );
    const res = await owner.c.request('members.role', { serverId: s.serverId, userId: member.id, role: 'admin' });
    assert.equal(res.member.role, 'admin');
    assert.equal(res.member.user.id, member.id);
    assert.equal((await updated).data.member.role, 'admin');
    assert.equal((await member.c.request('servers.get', { serverId: s.serverId })).server.role, 'admin');

    const down = await owner.c.request('members.role', { serverId: s.serverId, userId: member.id, role: 'member' });
    assert.equal(down.member.role, 'member');
    assert.equal((await member.c.request('servers.get', { serverId: s.serverId })).server.role, 'member');

    const byAdmin = await rejection(
      admin.c.request('members.role', { serverId: s.serverId, userId: other.id, role: 'admin' }),
    );
    assert.equal(byAdmin.code, 'forbidden');
    const byMember = await rejection(
      member.c.request('members.role', { serverId: s.serverId, userId: other.id, role: 'admin' }),
    );
    assert.equal(byMember.code, 'forbidden');
    const roles = await owner.c.request('members.list', { serverId: s.serverId });
    assert.equal(roles.members.find((m) => m.user.id === other.id)?.role, 'member');
  });

  test('transfer: the target must be a member; the old owner becomes an admin', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const stranger = await newUser();
    const s = await community(owner, [member], [admin]);

    const notMember = await rejection(
      owner.c.request('servers.transfer', { serverId: s.serverId, userId: stranger.id }),
    );
    assert.equal(notMember.code, 'not_found');
    const byAdmin = await rejection(admin.c.request('servers.transfer', { serverId: s.serverId, userId: admin.id }));
    assert.equal(byAdmin.code, 'forbidden');

    const seen = admin.c.nextEvent(
      'server.updated',
      (d) => d.server.id === s.serverId && d.server.ownerId === member.id,
    );
    const res = await owner.c.request('servers.transfer', { serverId: s.serverId, userId: member.id });
    assert.equal(res.server.ownerId, member.id);
    await seen;
    assert.equal((await owner.c.request('servers.get', { serverId: s.serverId })).server.role, 'admin');
    assert.equal((await member.c.request('servers.get', { serverId: s.serverId })).server.role, 'owner');
    const list = await owner.c.request('members.list', { serverId: s.serverId });
    assert.deepEqual(list.members[0]?.user.id, member.id);
    assert.equal(list.members.find((m) => m.user.id === owner.id)?.role, 'admin');

    // The old owner lost the owner's powers; the new owner cannot leave.
    assert.equal((await rejection(owner.c.request('servers.delete', { serverId: s.serverId }))).code, 'forbidden');
    assert.equal((await rejection(member.c.request('servers.leave', { serverId: s.serverId }))).code, 'conflict');
    await owner.c.request('servers.leave', { serverId: s.serverId });
    assert.equal((await rejection(owner.c.request('servers.get', { serverId: s.serverId }))).code, 'not_found');
  });

  test('servers.leave: the owner gets conflict; a member leaves, with events', async () => {
    const owner = await newUser();
    const member = await newUser();
    const other = await newUser();
    const s = await community(owner, [member, other]);
    const ownerLeaves = await rejection(owner.c.request('servers.leave', { serverId: s.serverId }));
    assert.equal(ownerLeaves.code, 'conflict');

    const side = await secondConnection(member);
    const removed = side.nextEvent('server.removed', (d) => d.serverId === s.serverId);
    const left = [owner, other].map((u) =>
      u.c.nextEvent('member.left', (d) => d.serverId === s.serverId && d.userId === member.id),
    );
    await member.c.request('servers.leave', { serverId: s.serverId });
    assert.equal((await removed).data.reason, 'left');
    for (const ev of await Promise.all(left)) assert.equal(ev.data.reason, 'left');

    assert.equal((await rejection(member.c.request('servers.get', { serverId: s.serverId }))).code, 'not_found');
    const list = await owner.c.request('members.list', { serverId: s.serverId });
    assert.deepEqual(list.members.map((m) => m.user.id).sort(), [owner.id, other.id].sort());
    assert.equal((await owner.c.request('servers.get', { serverId: s.serverId })).server.memberCount, 2);
    // Leaving is not a ban: the invite still works.
    const back = await member.c.request('invites.join', { code: s.code });
    assert.equal(back.alreadyMember, false);
  });

  test('member.joined, member.left and channel.created reach the other members', async () => {
    const owner = await newUser();
    const member = await newUser();
    const joiner = await newUser();
    const s = await community(owner, [member]);

    const joined = [owner, member].map((u) =>
      u.c.nextEvent('member.joined', (d) => d.serverId === s.serverId && d.member.user.id === joiner.id),
    );
    await joiner.c.request('invites.join', { code: s.code });
    for (const ev of await Promise.all(joined)) {
      assert.equal(ev.data.member.role, 'member');
      assert.equal(ev.data.member.user.username, joiner.username);
    }

    const created = [member, joiner].map((u) =>
      u.c.nextEvent('channel.created', (d) => d.channel.serverId === s.serverId && d.channel.name === 'news'),
    );
    const ch = await owner.c.request('channels.create', { serverId: s.serverId, name: 'News' });
    for (const ev of await Promise.all(created)) assert.equal(ev.data.channel.id, ch.channel.id);

    const left = [owner, member].map((u) =>
      u.c.nextEvent('member.left', (d) => d.serverId === s.serverId && d.userId === joiner.id),
    );
    await joiner.c.request('servers.leave', { serverId: s.serverId });
    for (const ev of await Promise.all(left)) assert.equal(ev.data.reason, 'left');
  });
});

describe('channels', () => {
  test('create with a canonical name, rename, set and clear the topic, delete; with events', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const s = await community(owner, [member], [admin]);

    const created = member.c.nextEvent('channel.created', (d) => d.channel.serverId === s.serverId);
    const dev = await admin.c.request('channels.create', { serverId: s.serverId, name: '  Dev Talk ', topic: 'code' });
    assert.equal(dev.channel.name, 'dev-talk');
    assert.equal(dev.channel.topic, 'code');
    assert.equal(dev.channel.serverId, s.serverId);
    assert.equal(dev.channel.lastSeq, 0);
    assert.equal((await created).data.channel.id, dev.channel.id);

    const updated = member.c.nextEvent('channel.updated', (d) => d.channel.id === dev.channel.id);
    const renamed = await owner.c.request('channels.update', { channelId: dev.channel.id, name: 'Ops Room' });
    assert.equal(renamed.channel.name, 'ops-room');
    assert.equal(renamed.channel.topic, 'code', 'an absent topic is left as is');
    assert.equal((await updated).data.channel.name, 'ops-room');

    const topic = await admin.c.request('channels.update', { channelId: dev.channel.id, topic: '  deploys here ' });
    assert.equal(topic.channel.topic, 'deploys here');
    const cleared = await admin.c.request('channels.update', { channelId: dev.channel.id, topic: null });
    assert.equal(cleared.channel.topic, null);
    assert.equal(cleared.channel.name, 'ops-room');

    const list = await member.c.request('channels.list', { serverId: s.serverId });
    assert.deepEqual(
      list.channels.map((ch) => ch.name),
      ['general', 'ops-room'],
    );

    const deleted = member.c.nextEvent('channel.deleted', (d) => d.channelId === dev.channel.id);
    await admin.c.request('channels.delete', { channelId: dev.channel.id });
    assert.equal((await deleted).data.serverId, s.serverId);
    assert.equal(
      (await rejection(member.c.request('messages.history', { conversationId: dev.channel.id }))).code,
      'not_found',
    );
    assert.deepEqual(
      (await member.c.request('channels.list', { serverId: s.serverId })).channels.map((ch) => ch.name),
      ['general'],
    );
  });

  test('duplicate names conflict, bad names and topics are bad_request, the last channel stays', async () => {
    const owner = await newUser();
    const s = await community(owner);
    await owner.c.request('channels.create', { serverId: s.serverId, name: 'random' });
    assert.equal(
      (await rejection(owner.c.request('channels.create', { serverId: s.serverId, name: ' RANDOM ' }))).code,
      'conflict',
    );
    assert.equal(
      (await rejection(owner.c.request('channels.create', { serverId: s.serverId, name: 'General' }))).code,
      'conflict',
    );
    const rename = await rejection(owner.c.request('channels.update', { channelId: s.generalId, name: 'Random' }));
    assert.equal(rename.code, 'conflict');
    // Another server may use the same name.
    const other = await community(owner);
    await owner.c.request('channels.create', { serverId: other.serverId, name: 'random' });

    for (const name of ['a/b', 'x'.repeat(33), '', 'dots.not.allowed']) {
      const err = await rejection(owner.c.request('channels.create', { serverId: s.serverId, name }));
      assert.equal(err.code, 'bad_request', JSON.stringify(name));
    }
    const multiline = await rejection(
      owner.c.request('channels.update', { channelId: s.generalId, topic: 'line one\nline two' }),
    );
    assert.equal(multiline.code, 'bad_request');
    const long = await rejection(
      owner.c.request('channels.update', { channelId: s.generalId, topic: 'x'.repeat(513) }),
    );
    assert.equal(long.code, 'bad_request');

    const channels = (await owner.c.request('channels.list', { serverId: s.serverId })).channels;
    const random = channels.find((ch) => ch.name === 'random');
    assert.ok(random);
    await owner.c.request('channels.delete', { channelId: random.id });
    const last = await rejection(owner.c.request('channels.delete', { channelId: s.generalId }));
    assert.equal(last.code, 'conflict');
    assert.deepEqual(
      (await owner.c.request('channels.list', { serverId: s.serverId })).channels.map((ch) => ch.id),
      [s.generalId],
    );
  });

  test('a plain member cannot create, change or delete channels', async () => {
    const owner = await newUser();
    const member = await newUser();
    const s = await community(owner, [member]);
    for (const p of [
      () => member.c.request('channels.create', { serverId: s.serverId, name: 'mine' }),
      () => member.c.request('channels.update', { channelId: s.generalId, topic: 'hijacked' }),
      () => member.c.request('channels.delete', { channelId: s.generalId }),
    ]) {
      assert.equal((await rejection(p())).code, 'forbidden');
    }
    const list = await owner.c.request('channels.list', { serverId: s.serverId });
    assert.deepEqual(
      list.channels.map((ch) => [ch.name, ch.topic]),
      [['general', null]],
    );
  });
});

describe('invites', () => {
  test('create with uses and expiry, list with use counts, revoke', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    const s = await community(owner, [member], [admin]);
    const before = Date.now();
    const limited = await admin.c.request('invites.create', {
      serverId: s.serverId,
      maxUses: 2,
      expiresInSeconds: 3600,
    });
    assert.equal(limited.invite.serverId, s.serverId);
    assert.equal(limited.invite.maxUses, 2);
    assert.equal(limited.invite.uses, 0);
    assert.equal(limited.invite.createdBy.id, admin.id);
    assert.ok(limited.invite.expiresAt !== null);
    assert.ok(
      limited.invite.expiresAt >= before + 3_600_000 - 1000 &&
        limited.invite.expiresAt <= Date.now() + 3_600_000 + 1000,
      `expiresAt ${limited.invite.expiresAt}`,
    );
    const open = await owner.c.request('invites.create', { serverId: s.serverId });
    assert.equal(open.invite.maxUses, null);
    assert.equal(open.invite.expiresAt, null);

    for (const bad of [{ expiresInSeconds: 59 }, { expiresInSeconds: 31_536_001 }, { maxUses: 0 }]) {
      const err = await rejection(owner.c.request('invites.create', { serverId: s.serverId, ...bad }));
      assert.equal(err.code, 'bad_request', JSON.stringify(bad));
    }

    const joiner = await newUser();
    await joiner.c.request('invites.join', { code: limited.invite.code });
    const listed = await owner.c.request('invites.list', { serverId: s.serverId });
    const byCode = new Map(listed.invites.map((i) => [i.code, i]));
    assert.equal(byCode.get(limited.invite.code)?.uses, 1);
    assert.equal(byCode.get(limited.invite.code)?.maxUses, 2);
    assert.equal(byCode.get(open.invite.code)?.uses, 0);
    assert.ok(byCode.has(s.code));

    await admin.c.request('invites.revoke', { serverId: s.serverId, code: open.invite.code });
    const after = await owner.c.request('invites.list', { serverId: s.serverId });
    assert.ok(!after.invites.some((i) => i.code === open.invite.code), 'a revoked code is not listed');
    assert.ok(after.invites.some((i) => i.code === limited.invite.code));
    const unknown = await rejection(owner.c.request('invites.revoke', { serverId: s.serverId, code: randomCode() }));
    assert.equal(unknown.code, 'not_found');

    for (const p of [
      () => member.c.request('invites.create', { serverId: s.serverId }),
      () => member.c.request('invites.list', { serverId: s.serverId }),
      () => member.c.request('invites.revoke', { serverId: s.serverId, code: limited.invite.code }),
    ]) {
      assert.equal((await rejection(p())).code, 'forbidden');
    }
  });

  test('codes are at least 11 characters of [A-Za-z0-9] (64 random bits) and never repeat', async () => {
    const owner = await newUser();
    const s = await community(owner);
    const codes = new Set<string>([s.code]);
    for (let i = 0; i < 30; i++) {
      codes.add((await owner.c.request('invites.create', { serverId: s.serverId })).invite.code);
    }
    assert.equal(codes.size, 31);
    for (const code of codes) {
      assert.match(code, /^[A-Za-z0-9]{11,64}$/);
      assert.ok(code.length * Math.log2(62) >= 64, code);
    }
    // Not a counter or a timestamp: codes share no long common prefix.
    const sorted = [...codes].sort();
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1] ?? '';
      const b = sorted[i] ?? '';
      let common = 0;
      while (common < a.length && a[common] === b[common]) common++;
      assert.ok(common < 6, `${a} and ${b} share a ${common}-character prefix`);
    }
  });

  test('a new member joins with events; joining again is idempotent and uses nothing', async () => {
    const owner = await newUser();
    const member = await newUser();
    const s = await community(owner, [member]);
    const { invite } = await owner.c.request('invites.create', { serverId: s.serverId, maxUses: 5 });
    const joiner = await newUser();
    const side = await secondConnection(joiner);

    const serverJoined = side.nextEvent('server.joined', (d) => d.server.id === s.serverId);
    const memberJoined = member.c.nextEvent('member.joined', (d) => d.serverId === s.serverId);
    const res = await joiner.c.request('invites.join', { code: invite.code });
    assert.equal(res.alreadyMember, false);
    assert.equal(res.server.id, s.serverId);
    assert.equal(res.server.role, 'member');
    assert.equal(res.server.memberCount, 3);
    assert.ok(res.channels.some((ch) => ch.id === s.generalId));
    const ev = await serverJoined;
    assert.ok(ev.data.channels.some((ch) => ch.id === s.generalId));
    assert.equal((await memberJoined).data.member.user.id, joiner.id);

    const uses = async () =>
      (await owner.c.request('invites.list', { serverId: s.serverId })).invites.find((i) => i.code === invite.code)
        ?.uses;
    assert.equal(await uses(), 1);

    const log = record(member.c);
    const again = await joiner.c.request('invites.join', { code: invite.code });
    assert.equal(again.alreadyMember, true);
    assert.equal(again.server.id, s.serverId);
    const ownerToo = await owner.c.request('invites.join', { code: invite.code });
    assert.equal(ownerToo.alreadyMember, true);
    assert.equal(ownerToo.server.role, 'owner', 'joining again does not change the role');
    assert.equal(await uses(), 1, 'a member joining again does not use the code');
    assert.equal((await owner.c.request('servers.get', { serverId: s.serverId })).server.memberCount, 3);
    // A marker on the member's own stream: nothing about a re-join came before it.
    const marker = member.c.nextEvent('user.updated', (d) => d.user.id === member.id);
    await member.c.request('profile.update', { status: 'marker' });
    await marker;
    assert.ok(!log.some((m) => m.event === 'member.joined'), 'no member.joined for a re-join');
  });

  test('what was said before a member joined is not unread for them; what comes after is', async () => {
    const owner = await newUser();
    const s = await community(owner);
    for (let i = 1; i <= 3; i++)
      await owner.c.request('messages.send', { conversationId: s.generalId, body: `before ${i}`, nonce: `pre-${i}` });
    const joiner = await newUser();
    await joiner.c.request('invites.join', { code: s.code });
    const general = async () =>
      (await joiner.c.request('conversations.list', {})).conversations.find((c) => c.id === s.generalId);
    assert.deepEqual(
      [(await general())?.lastReadSeq, (await general())?.unread],
      [3, 0],
      'read up to the newest message at the join',
    );
    await owner.c.request('messages.send', { conversationId: s.generalId, body: 'after', nonce: 'post-1' });
    assert.deepEqual([(await general())?.lastReadSeq, (await general())?.unread], [3, 1]);
  });

  test('used-up, expired, revoked and unknown codes all get the same not_found', async () => {
    const owner = await newUser();
    const s = await community(owner);
    const usedUp = (await owner.c.request('invites.create', { serverId: s.serverId, maxUses: 1 })).invite.code;
    const expired = (await owner.c.request('invites.create', { serverId: s.serverId, expiresInSeconds: 60 })).invite
      .code;
    const revoked = (await owner.c.request('invites.create', { serverId: s.serverId })).invite.code;
    const first = await newUser();
    await first.c.request('invites.join', { code: usedUp });
    await t.sql.run('UPDATE invites SET expires_at = ? WHERE code = ?', Date.now() - 1000, expired);
    await owner.c.request('invites.revoke', { serverId: s.serverId, code: revoked });

    const late = await newUser();
    const errors = [];
    for (const code of [usedUp, expired, revoked, randomCode()]) {
      const err = await rejection(late.c.request('invites.join', { code }));
      errors.push({ code: err.code, message: err.message });
    }
    assert.equal(errors[0]?.code, 'not_found');
    for (const e of errors) assert.deepEqual(e, errors[0]);
    assert.equal((await late.c.request('servers.list', {})).servers.length, 0);
    const row = await t.sql.get<{ uses: number }>('SELECT uses FROM invites WHERE code = ?', usedUp);
    assert.equal(row?.uses, 1, 'failed joins do not count');
    assert.equal((await owner.c.request('servers.get', { serverId: s.serverId })).server.memberCount, 2);
  });

  test('failed joins are throttled per user and per address', async () => {
    const t2 = await startTestServer({ limits: { ...LOOSE_LIMITS, inviteFail: { capacity: 3, refillMs: 60_000 } } });
    try {
      const guesser = await newUser(t2);
      for (let i = 0; i < 3; i++) {
        const err = await rejection(guesser.c.request('invites.join', { code: randomCode() }));
        assert.equal(err.code, 'not_found');
      }
      const limited = await rejection(guesser.c.request('invites.join', { code: randomCode() }));
      assert.equal(limited.code, 'rate_limited');
      assert.ok((limited.retryAfterMs ?? 0) > 0, `retryAfterMs ${limited.retryAfterMs}`);
      // Another account from the same address is throttled too.
      const other = await newUser(t2);
      const r = await httpPost(t2.httpUrl, 'invites.join', { code: randomCode() }, other.token);
      assert.equal(r.status, 429);
      assert.equal(r.body.error?.code, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    } finally {
      await t2.destroy();
    }
  });
});

describe('kick and ban', () => {
  async function removalTakesEffect(how: 'kicked' | 'banned'): Promise<void> {
    const owner = await newUser();
    const victim = await newUser();
    const bystander = await newUser();
    const s = await community(owner, [victim, bystander]);
    const side = await secondConnection(victim);
    const log = record(victim.c);

    const removed = victim.c.nextEvent('server.removed', (d) => d.serverId === s.serverId);
    const sideRemoved = side.nextEvent('server.removed', (d) => d.serverId === s.serverId);
    const left = bystander.c.nextEvent('member.left', (d) => d.serverId === s.serverId && d.userId === victim.id);
    if (how === 'kicked') await owner.c.request('members.kick', { serverId: s.serverId, userId: victim.id });
    else await owner.c.request('bans.add', { serverId: s.serverId, userId: victim.id, reason: 'spam' });
    assert.equal((await removed).data.reason, how);
    assert.equal((await sideRemoved).data.reason, how);
    assert.equal((await left).data.reason, how);
    const removedAt = log.findIndex((m) => m.event === 'server.removed');

    // Life goes on in the server...
    await bystander.c.request('messages.send', { conversationId: s.generalId, body: 'are they gone?', nonce: nonce() });
    await owner.c.request('channels.create', { serverId: s.serverId, name: 'after' });
    await owner.c.request('servers.update', { serverId: s.serverId, name: 'Quieter' });
    // ...and a marker that does reach the removed user arrives after all of it.
    const marker = victim.c.nextEvent('user.updated', (d) => d.user.id === victim.id && d.user.status === 'marker');
    await side.request('profile.update', { status: 'marker' });
    await marker;
    const leaked = log
      .slice(removedAt + 1)
      .filter((m) => JSON.stringify(m.data).includes(s.serverId) || JSON.stringify(m.data).includes(s.generalId));
    assert.deepEqual(
      leaked.map((m) => m.event),
      [],
      'no event of the server after server.removed',
    );

    for (const p of [
      () => victim.c.request('messages.send', { conversationId: s.generalId, body: 'still here', nonce: nonce() }),
      () => victim.c.request('messages.history', { conversationId: s.generalId }),
      () => victim.c.request('servers.get', { serverId: s.serverId }),
      () => victim.c.request('channels.list', { serverId: s.serverId }),
      () => victim.c.request('typing.start', { conversationId: s.generalId }),
    ]) {
      assert.equal((await rejection(p())).code, 'not_found');
    }
    assert.ok(!(await victim.c.request('servers.list', {})).servers.some((x) => x.id === s.serverId));
    const members = await owner.c.request('members.list', { serverId: s.serverId });
    assert.ok(!members.members.some((m) => m.user.id === victim.id));
    if (how === 'kicked') {
      // A kick is not a ban: the invite still works.
      const back = await victim.c.request('invites.join', { code: s.code });
      assert.equal(back.alreadyMember, false);
      await victim.c.request('messages.history', { conversationId: s.generalId });
    } else {
      assert.equal((await rejection(victim.c.request('invites.join', { code: s.code }))).code, 'forbidden');
    }
  }

  test('a kick takes effect at once on the kicked user’s open connections; they may rejoin', async () => {
    await removalTakesEffect('kicked');
  });

  test('a ban takes effect at once on the banned user’s open connections', async () => {
    await removalTakesEffect('banned');
  });

  test('a banned user is refused by invites until unbanned, then rejoins', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const victim = await newUser();
    const s = await community(owner, [victim], [admin]);
    await admin.c.request('bans.add', { serverId: s.serverId, userId: victim.id, reason: 'flooding' });
    const refused = await rejection(victim.c.request('invites.join', { code: s.code }));
    assert.equal(refused.code, 'forbidden');
    const fresh = (await owner.c.request('invites.create', { serverId: s.serverId })).invite.code;
    assert.equal((await rejection(victim.c.request('invites.join', { code: fresh }))).code, 'forbidden');

    const bans = await owner.c.request('bans.list', { serverId: s.serverId });
    assert.equal(bans.bans.length, 1);
    assert.equal(bans.bans[0]?.user.id, victim.id);
    assert.equal(bans.bans[0]?.bannedBy.id, admin.id);
    assert.equal(bans.bans[0]?.reason, 'flooding');

    await owner.c.request('bans.remove', { serverId: s.serverId, userId: victim.id });
    assert.equal((await owner.c.request('bans.list', { serverId: s.serverId })).bans.length, 0);
    const joined = victim.c.nextEvent('server.joined', (d) => d.server.id === s.serverId);
    const memberJoined = owner.c.nextEvent('member.joined', (d) => d.member.user.id === victim.id);
    const res = await victim.c.request('invites.join', { code: s.code });
    assert.equal(res.alreadyMember, false);
    await joined;
    await memberJoined;
    await victim.c.request('messages.history', { conversationId: s.generalId });
  });

  test('a user who is not a member can be banned in advance', async () => {
    const owner = await newUser();
    const s = await community(owner);
    const troll = await newUser();
    await owner.c.request('bans.add', { serverId: s.serverId, userId: troll.id });
    const bans = await owner.c.request('bans.list', { serverId: s.serverId });
    assert.deepEqual(
      bans.bans.map((b) => [b.user.id, b.reason]),
      [[troll.id, null]],
    );
    assert.equal((await rejection(troll.c.request('invites.join', { code: s.code }))).code, 'forbidden');
    assert.equal((await owner.c.request('servers.get', { serverId: s.serverId })).server.memberCount, 1);
  });

  test('who may kick or ban whom', async () => {
    const owner = await newUser();
    const admin = await newUser();
    const admin2 = await newUser();
    const m1 = await newUser();
    const m2 = await newUser();
    const m3 = await newUser();
    const s = await community(owner, [m1, m2, m3], [admin, admin2]);
    const sid = s.serverId;
    const expect = async (p: Promise<unknown>, code: string, what: string) =>
      assert.equal((await rejection(p)).code, code, what);

    await expect(
      admin.c.request('members.kick', { serverId: sid, userId: admin2.id }),
      'forbidden',
      'admin kicks admin',
    );
    await expect(
      admin.c.request('members.kick', { serverId: sid, userId: owner.id }),
      'forbidden',
      'admin kicks owner',
    );
    await expect(admin.c.request('bans.add', { serverId: sid, userId: admin2.id }), 'forbidden', 'admin bans admin');
    await expect(admin.c.request('bans.add', { serverId: sid, userId: owner.id }), 'forbidden', 'admin bans owner');
    await expect(m1.c.request('members.kick', { serverId: sid, userId: m2.id }), 'forbidden', 'member kicks member');
    await expect(m1.c.request('bans.add', { serverId: sid, userId: m2.id }), 'forbidden', 'member bans member');
    await expect(m1.c.request('bans.list', { serverId: sid }), 'forbidden', 'member lists bans');
    await expect(owner.c.request('members.kick', { serverId: sid, userId: owner.id }), 'bad_request', 'owner self');
    await expect(owner.c.request('bans.add', { serverId: sid, userId: owner.id }), 'bad_request', 'owner bans self');
    await expect(admin.c.request('members.kick', { serverId: sid, userId: admin.id }), 'bad_request', 'admin self');
    await expect(admin.c.request('bans.add', { serverId: sid, userId: admin.id }), 'bad_request', 'admin bans self');

    await admin.c.request('members.kick', { serverId: sid, userId: m1.id });
    await admin.c.request('bans.add', { serverId: sid, userId: m2.id });
    await owner.c.request('members.kick', { serverId: sid, userId: admin2.id });
    await expect(m3.c.request('bans.remove', { serverId: sid, userId: m2.id }), 'forbidden', 'member unbans');
    const members = await owner.c.request('members.list', { serverId: sid });
    assert.deepEqual(members.members.map((m) => m.user.id).sort(), [owner.id, admin.id, m3.id].sort());
    assert.deepEqual(
      (await admin.c.request('bans.list', { serverId: sid })).bans.map((b) => b.user.id),
      [m2.id],
    );
  });
});
