import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry } from '../../src/protocol/index.js';
import { runMaintenance } from '../../src/server/maintenance.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { RawTcp } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Moderators and the audit log: a moderator acts on members (kick, ban,
 * unban, deleting their messages), admins also on moderators, and every
 * moderation and administrative action is written to the server's audit log
 * in the same transaction as the action, with who did it, to whom, why and
 * what changed; moderators and up read it, newest first, by action or actor.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

type User = { api: HttpApi; id: string; username: string };

async function newUser(prefix: string): Promise<User> {
  const api = new HttpApi(t.httpUrl);
  const username = uniqueName(prefix);
  const reg = await api.call('register', { username, password: PASSWORD });
  api.token = reg.token;
  return { api, id: reg.user.id, username };
}

/** A server of `owner` with `people` joined, and its first channel. */
async function serverWith(owner: User, people: User[]): Promise<{ serverId: string; channelId: string; name: string }> {
  const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Mod') });
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  for (const p of people) await p.api.call('invites.join', { code });
  return { serverId: server.id, channelId: channels[0]?.id ?? '', name: server.name };
}

async function log(u: User, serverId: string, filter: { action?: AuditEntry['action']; actorId?: string } = {}) {
  return (await u.api.call('audit.list', { serverId, ...filter })).entries;
}

/** An entry in a few fields, to compare. */
function brief(e: AuditEntry) {
  return {
    action: e.action,
    actor: e.actor?.id ?? null,
    target: e.targetUser?.id ?? null,
    reason: e.reason,
    details: e.details,
  };
}

describe('moderators', () => {
  test('an admin makes a member a moderator; the moderator kicks, bans and unbans members with reasons, all in the log', async () => {
    const [owner, admin, mod, spammer, troll] = await Promise.all([
      newUser('mo-own'),
      newUser('mo-adm'),
      newUser('mo-mod'),
      newUser('mo-spam'),
      newUser('mo-troll'),
    ]);
    const { serverId } = await serverWith(owner, [admin, mod, spammer, troll]);
    await owner.api.call('members.role', { serverId, userId: admin.id, role: 'admin' });
    const made = await admin.api.call('members.role', {
      serverId,
      userId: mod.id,
      role: 'moderator',
      reason: 'helps a lot',
    });
    assert.equal(made.member.role, 'moderator');
    // The spammer is connected: they are told who removed them, and why.
    const line = await RawTcp.open(t.tcpUrl);
    line.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token: spammer.api.token } })}\n`);
    await line.reply('auth');
    await mod.api.call('members.kick', { serverId, userId: spammer.id, reason: 'spam links' });
    const removed = (await line.waitFor(
      (m) => (m as { event?: string }).event === 'server.removed',
      undefined,
      'server.removed',
    )) as { data: { reason: string; by?: { id: string }; note?: string | null } };
    line.close();
    assert.deepEqual([removed.data.reason, removed.data.by?.id, removed.data.note], ['kicked', mod.id, 'spam links']);
    await mod.api.call('bans.add', { serverId, userId: troll.id, reason: 'trolling' });
    assert.deepEqual(
      (await mod.api.call('bans.list', { serverId })).bans.map((b) => [b.user.id, b.reason]),
      [[troll.id, 'trolling']],
      'a moderator sees the bans',
    );
    await mod.api.call('bans.remove', { serverId, userId: troll.id, reason: 'appealed' });

    const entries = await log(mod, serverId);
    assert.deepEqual(entries.map(brief), [
      { action: 'member.unban', actor: mod.id, target: troll.id, reason: 'appealed', details: null },
      { action: 'member.ban', actor: mod.id, target: troll.id, reason: 'trolling', details: null },
      { action: 'member.kick', actor: mod.id, target: spammer.id, reason: 'spam links', details: null },
      {
        action: 'member.role',
        actor: admin.id,
        target: mod.id,
        reason: 'helps a lot',
        details: { from: 'member', to: 'moderator' },
      },
      {
        action: 'member.role',
        actor: owner.id,
        target: admin.id,
        reason: null,
        details: { from: 'member', to: 'admin' },
      },
      {
        action: 'invite.create',
        actor: owner.id,
        target: null,
        reason: null,
        details: { maxUses: null, expiresAt: null },
      },
    ]);
    assert.equal(entries[0]?.actor?.username, mod.username, 'the actor comes with their name');
    const members = await owner.api.call('members.list', { serverId });
    assert.deepEqual(
      members.members.map((m) => m.role),
      ['owner', 'admin', 'moderator'],
      'owner first, then admins, then moderators; the kicked and banned are gone',
    );
  });

  test('a moderator deletes a member’s message with a reason; an author deleting their own leaves no entry', async () => {
    const [owner, mod, member] = await Promise.all([newUser('md-own'), newUser('md-mod'), newUser('md-mem')]);
    const { serverId, channelId } = await serverWith(owner, [mod, member]);
    await owner.api.call('members.role', { serverId, userId: mod.id, role: 'moderator' });
    const send = (u: User, body: string) =>
      u.api.call('messages.send', { conversationId: channelId, body, nonce: randomUUID() });
    const rude = (await send(member, 'something rude')).message;
    const mine = (await send(mod, 'oops, typo')).message;
    await mod.api.call('messages.delete', { messageId: rude.id, reason: 'insults' });
    await mod.api.call('messages.delete', { messageId: mine.id });
    const deletions = await log(owner, serverId, { action: 'message.delete' });
    assert.deepEqual(deletions.map(brief), [
      {
        action: 'message.delete',
        actor: mod.id,
        target: member.id,
        reason: 'insults',
        details: { conversationId: channelId, channel: 'general', seq: rude.seq },
      },
    ]);
    assert.equal(deletions[0]?.targetId, rude.id);
  });

  test('a moderator cannot act on admins, other moderators or the owner, nor change roles, and nothing is logged for it', async () => {
    const [owner, admin, mod, mod2, member] = await Promise.all([
      newUser('mx-own'),
      newUser('mx-adm'),
      newUser('mx-mod'),
      newUser('mx-mod'),
      newUser('mx-mem'),
    ]);
    const { serverId, channelId } = await serverWith(owner, [admin, mod, mod2, member]);
    await owner.api.call('members.role', { serverId, userId: admin.id, role: 'admin' });
    for (const m of [mod, mod2]) await owner.api.call('members.role', { serverId, userId: m.id, role: 'moderator' });
    const adminMsg = await admin.api.call('messages.send', { conversationId: channelId, body: 'rules', nonce: 'r1' });
    const before = (await log(owner, serverId)).length;
    const attempts = await Promise.all([
      rejection(mod.api.call('members.kick', { serverId, userId: mod2.id })),
      rejection(mod.api.call('members.kick', { serverId, userId: admin.id })),
      rejection(mod.api.call('bans.add', { serverId, userId: owner.id })),
      rejection(mod.api.call('messages.delete', { messageId: adminMsg.message.id })),
      rejection(mod.api.call('members.role', { serverId, userId: member.id, role: 'moderator' })),
      rejection(admin.api.call('members.role', { serverId, userId: member.id, role: 'admin' })),
      rejection(admin.api.call('members.role', { serverId, userId: owner.id, role: 'member' })),
    ]);
    assert.deepEqual(
      attempts.map((e) => [e.code, e.message]),
      [
        ['forbidden', 'you cannot kick a moderator'],
        ['forbidden', 'you cannot kick an admin'],
        ['forbidden', 'you cannot ban the owner'],
        ['forbidden', 'you cannot delete a message of an admin'],
        ['forbidden', 'only server admins can do this'],
        ['forbidden', 'only the server owner can make admins'],
        ['forbidden', "you cannot change the owner's role"],
      ],
    );
    assert.equal((await log(owner, serverId)).length, before, 'no entry for a refused action');
    // An admin acts on moderators; once demoted, a moderator cannot read the log.
    await admin.api.call('members.role', { serverId, userId: mod.id, role: 'member', reason: 'inactive' });
    assert.equal((await rejection(log(mod, serverId))).code, 'forbidden');
    await admin.api.call('members.kick', { serverId, userId: mod2.id });
    assert.deepEqual(
      (await log(owner, serverId)).slice(0, 2).map((e) => [e.action, e.actor?.id, e.targetUser?.id, e.reason]),
      [
        ['member.kick', admin.id, mod2.id, null],
        ['member.role', admin.id, mod.id, 'inactive'],
      ],
    );
  });
});

describe('the audit log', () => {
  test('channel, invite and server changes are logged by what changed; an invite is named by its first characters only', async () => {
    const owner = await newUser('al-own');
    const { serverId, name } = await serverWith(owner, []);
    const { channel } = await owner.api.call('channels.create', { serverId, name: 'Dev Talk' });
    await owner.api.call('channels.update', { channelId: channel.id, name: 'dev', topic: 'builds' });
    // Nothing changes: nothing logged.
    await owner.api.call('channels.update', { channelId: channel.id, topic: 'builds' });
    await owner.api.call('channels.delete', { channelId: channel.id });
    const { invite } = await owner.api.call('invites.create', { serverId, maxUses: 5 });
    await owner.api.call('invites.revoke', { serverId, code: invite.code });
    await owner.api.call('servers.update', { serverId, name: 'Renamed' });
    const entries = await log(owner, serverId);
    assert.deepEqual(
      entries.slice(0, 6).map((e) => [e.action, e.targetId, e.details]),
      [
        ['server.update', null, { name: { from: name, to: 'Renamed' } }],
        ['invite.revoke', `${invite.code.slice(0, 4)}…`, null],
        ['invite.create', `${invite.code.slice(0, 4)}…`, { maxUses: 5, expiresAt: null }],
        ['channel.delete', channel.id, { name: 'dev' }],
        ['channel.update', channel.id, { name: { from: 'dev-talk', to: 'dev' }, topic: { from: null, to: 'builds' } }],
        ['channel.create', channel.id, { name: 'dev-talk' }],
      ],
    );
    for (const e of entries) assert.ok(!JSON.stringify(e).includes(invite.code), 'the whole code is never shown');
  });

  test('filters by action and by actor, and pages newest first without repeating or skipping an entry', async () => {
    const [owner, admin] = await Promise.all([newUser('ap-own'), newUser('ap-adm')]);
    const { serverId } = await serverWith(owner, [admin]);
    await owner.api.call('members.role', { serverId, userId: admin.id, role: 'admin' });
    for (let i = 0; i < 7; i++) {
      await (i % 2 === 0 ? owner : admin).api.call('channels.create', { serverId, name: `room-${i}` });
    }
    const all = await log(owner, serverId);
    assert.equal(all.length, 9, 'the invite, the role and seven channels');
    assert.deepEqual(
      all.map((e) => e.id),
      [...all.map((e) => e.id)].sort((a, b) => b - a),
      'newest first',
    );
    const paged: AuditEntry[] = [];
    let after: string | undefined;
    for (let n = 0; n < 10; n++) {
      const page = await owner.api.call('audit.list', { serverId, limit: 2, ...(after ? { after } : {}) });
      paged.push(...page.entries);
      if (page.next === null) break;
      after = page.next;
    }
    assert.deepEqual(
      paged.map((e) => e.id),
      all.map((e) => e.id),
    );
    const byAdmin = await log(owner, serverId, { actorId: admin.id });
    assert.deepEqual(
      byAdmin.map((e) => e.details?.name),
      ['room-5', 'room-3', 'room-1'],
    );
    const creations = await log(owner, serverId, { action: 'channel.create' });
    assert.equal(creations.length, 7);
    assert.deepEqual(await log(owner, serverId, { action: 'member.ban' }), []);
    const bad = await rejection(owner.api.call('audit.list', { serverId, after: 'bm90IGEgY3Vyc29y' }));
    assert.equal(bad.code, 'bad_request');
  });

  test('entries past the retention are removed by the hourly maintenance; newer ones stay', async () => {
    const owner = await newUser('ar-own');
    const { serverId } = await serverWith(owner, []);
    await owner.api.call('channels.create', { serverId, name: 'old' });
    await owner.api.call('channels.create', { serverId, name: 'new' });
    const entries = await log(owner, serverId);
    const oldest = entries.at(-1);
    const old = entries.find((e) => e.details?.name === 'old');
    assert.ok(oldest && old);
    // Those two were written long ago.
    const aged = t.server.services.clock() - t.server.services.config.auditRetentionMs - 60_000;
    await t.sql.run('UPDATE audit_log SET created_at = ? WHERE id IN (?, ?)', aged, oldest.id, old.id);
    const report = await runMaintenance(t.server.services);
    assert.ok(report.audit >= 2, `${report.audit} entries pruned`);
    assert.deepEqual(
      (await log(owner, serverId)).map((e) => e.details?.name),
      ['new'],
    );
  });
});
