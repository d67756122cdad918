import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry, Message } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { RawTcp } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Timeouts and slow mode. A timed-out member cannot send or edit in the
 * server's channels until the timeout ends or a moderator lifts it; slow
 * mode lets a member send one message per N seconds in a channel
 * (moderators and up exempt). Both refusals say when the member may write
 * again. Time passing is made by ageing rows in the database, never by
 * waiting.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

type User = { api: HttpApi; id: string; username: string; token: string };

async function newUser(prefix: string): Promise<User> {
  const api = new HttpApi(t.httpUrl);
  const username = uniqueName(prefix);
  const reg = await api.call('register', { username, password: PASSWORD });
  api.token = reg.token;
  return { api, id: reg.user.id, username, token: reg.token };
}

async function serverWith(owner: User, people: User[]): Promise<{ serverId: string; channelId: string }> {
  const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Tmo') });
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  for (const p of people) await p.api.call('invites.join', { code });
  return { serverId: server.id, channelId: channels[0]?.id ?? '' };
}

let n = 0;
function say(u: User, conversationId: string, body = 'hello'): Promise<{ message: Message }> {
  return u.api.call('messages.send', { conversationId, body, nonce: `tm-${++n}-${Date.now()}` });
}

async function member(u: User, serverId: string, userId: string) {
  const { members } = await u.api.call('members.list', { serverId });
  const m = members.find((x) => x.user.id === userId);
  assert.ok(m, 'a member');
  return m;
}

async function log(u: User, serverId: string, action: AuditEntry['action']) {
  return (await u.api.call('audit.list', { serverId, action })).entries;
}

async function tcpAs(token: string): Promise<RawTcp> {
  const tcp = await RawTcp.open(t.tcpUrl);
  tcp.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token } })}\n`);
  await tcp.reply('auth');
  return tcp;
}

describe('timeouts', () => {
  test('a timed-out member cannot send or edit in the server until it is lifted; everyone is told, the log keeps it', async () => {
    const [owner, mod, bob, carol] = await Promise.all([
      newUser('tm-own'),
      newUser('tm-mod'),
      newUser('tm-bob'),
      newUser('tm-car'),
    ]);
    const { serverId, channelId } = await serverWith(owner, [mod, bob, carol]);
    await owner.api.call('members.role', { serverId, userId: mod.id, role: 'moderator' });
    const earlier = (await say(bob, channelId, 'before the timeout')).message;
    const watcher = await tcpAs(carol.token);
    try {
      const before = t.server.services.clock();
      const { member: timed } = await mod.api.call('members.timeout', {
        serverId,
        userId: bob.id,
        seconds: 600,
        reason: 'cool down',
      });
      assert.ok(timed.timeoutUntil !== undefined && timed.timeoutUntil >= before + 600_000);
      const seen = (await watcher.waitFor(
        (m) => (m as { event?: string }).event === 'member.timeout',
        undefined,
        'the timeout event',
      )) as { data: { user: { id: string }; until: number; by: { id: string }; note: string } };
      assert.equal(seen.data.user.id, bob.id);
      assert.equal(seen.data.by.id, mod.id);
      assert.equal(seen.data.note, 'cool down');
      assert.equal(seen.data.until, timed.timeoutUntil);

      const sent = await rejection(say(bob, channelId, 'let me talk'));
      assert.equal(sent.code, 'timed_out');
      assert.ok(
        sent.retryAfterMs !== undefined && sent.retryAfterMs > 590_000 && sent.retryAfterMs <= 600_000,
        `${sent.retryAfterMs}`,
      );
      assert.match(sent.message, /timed out in this server until .* UTC; you can write again in 10 min/);
      const edited = await rejection(bob.api.call('messages.edit', { messageId: earlier.id, body: 'changed' }));
      assert.equal(edited.code, 'timed_out');
      // Their direct messages are theirs: a server's timeout stays in the server.
      const dm = await bob.api.call('messages.send', { to: carol.username, body: 'psst', nonce: `tm-dm-${n}` });
      assert.equal(dm.message.body, 'psst');
      assert.equal((await member(carol, serverId, bob.id)).timeoutUntil, timed.timeoutUntil);

      const lifted = await mod.api.call('members.untimeout', { serverId, userId: bob.id, reason: 'apologised' });
      assert.equal(lifted.member.timeoutUntil, undefined);
      const liftSeen = (await watcher.waitFor(
        (m) =>
          (m as { event?: string; data?: { until?: unknown } }).event === 'member.timeout' &&
          (m as { data: { until: unknown } }).data.until === null,
        undefined,
        'the lift event',
      )) as { data: { note: string } };
      assert.equal(liftSeen.data.note, 'apologised');
      assert.equal((await say(bob, channelId, 'thanks')).message.body, 'thanks');
      const again = await rejection(mod.api.call('members.untimeout', { serverId, userId: bob.id }));
      assert.equal(again.code, 'conflict');

      const [lift] = await log(owner, serverId, 'member.untimeout');
      const [put] = await log(owner, serverId, 'member.timeout');
      assert.equal(put?.actor?.id, mod.id);
      assert.equal(put?.targetUser?.id, bob.id);
      assert.equal(put?.reason, 'cool down');
      assert.equal(put?.details?.seconds, 600);
      assert.equal(lift?.reason, 'apologised');
    } finally {
      watcher.close();
    }
  });

  test('a timeout ends by itself when its time has passed', async () => {
    const [owner, bob] = await Promise.all([newUser('te-own'), newUser('te-bob')]);
    const { serverId, channelId } = await serverWith(owner, [bob]);
    await owner.api.call('members.timeout', { serverId, userId: bob.id, seconds: 60 });
    assert.equal((await rejection(say(bob, channelId))).code, 'timed_out');
    await t.sql.run(
      'UPDATE members SET timeout_until = ? WHERE server_id = ? AND user_id = ?',
      t.server.services.clock() - 1,
      serverId,
      bob.id,
    );
    assert.equal((await say(bob, channelId, 'free again')).message.body, 'free again');
    assert.equal((await member(owner, serverId, bob.id)).timeoutUntil, undefined);
    assert.equal((await rejection(owner.api.call('members.untimeout', { serverId, userId: bob.id }))).code, 'conflict');
  });

  test('who may time out whom: moderators on members, admins on moderators, the owner on admins; nobody on themself', async () => {
    const [owner, admin, mod, mod2, bob, stranger] = await Promise.all([
      newUser('tr-own'),
      newUser('tr-adm'),
      newUser('tr-mod'),
      newUser('tr-mo2'),
      newUser('tr-bob'),
      newUser('tr-str'),
    ]);
    const { serverId, channelId } = await serverWith(owner, [admin, mod, mod2, bob]);
    await owner.api.call('members.role', { serverId, userId: admin.id, role: 'admin' });
    await owner.api.call('members.role', { serverId, userId: mod.id, role: 'moderator' });
    await owner.api.call('members.role', { serverId, userId: mod2.id, role: 'moderator' });
    const timeout = (u: User, userId: string, seconds = 60) =>
      rejection(u.api.call('members.timeout', { serverId, userId, seconds }));

    assert.equal((await timeout(bob, mod.id)).code, 'forbidden');
    assert.equal((await timeout(mod, mod2.id)).code, 'forbidden');
    assert.equal((await timeout(mod, admin.id)).code, 'forbidden');
    assert.equal((await timeout(admin, owner.id)).code, 'forbidden');
    const self = await timeout(mod, mod.id);
    assert.equal(self.code, 'bad_request');
    assert.match(self.message, /you cannot time out yourself/);
    assert.equal((await timeout(stranger, bob.id)).code, 'not_found');
    assert.equal((await timeout(mod, stranger.id)).code, 'not_found');
    assert.equal((await timeout(mod, bob.id, 0)).code, 'bad_request');
    assert.equal((await timeout(mod, bob.id, 28 * 86_400 + 1)).code, 'bad_request');
    assert.deepEqual(await log(owner, serverId, 'member.timeout'), [], 'nothing refused is logged');

    // An admin times a moderator out: a moderator is not exempt from a timeout.
    await admin.api.call('members.timeout', { serverId, userId: mod.id, seconds: 28 * 86_400 });
    assert.equal((await rejection(say(mod, channelId))).code, 'timed_out');
    assert.match((await rejection(say(mod, channelId))).message, /in 28 days/);
    // A moderator cannot lift a timeout an admin put on another moderator.
    assert.equal((await rejection(mod2.api.call('members.untimeout', { serverId, userId: mod.id }))).code, 'forbidden');
    await owner.api.call('members.timeout', { serverId, userId: admin.id, seconds: 60 });
    assert.equal((await rejection(say(admin, channelId))).code, 'timed_out');
  });

  test('sends of a timed-out member arriving together are all refused, and take no numbers', async () => {
    const [owner, bob] = await Promise.all([newUser('tp-own'), newUser('tp-bob')]);
    const { serverId, channelId } = await serverWith(owner, [bob]);
    await say(owner, channelId, 'first');
    const tcp = await tcpAs(bob.token);
    try {
      const base = `tp-${Date.now()}`;
      const requests = [
        { op: 'messages.send', params: { conversationId: channelId, body: 'a', nonce: `${base}-a` } },
        { op: 'members.timeout', params: { serverId, userId: bob.id, seconds: 60 } },
        { op: 'messages.send', params: { conversationId: channelId, body: 'b', nonce: `${base}-b` } },
      ];
      // Bob, a member, cannot time anyone out: the middle request fails, and both sends go through.
      tcp.write(requests.map((r, i) => `${JSON.stringify({ id: `${base}-${i}`, ...r })}\n`).join(''));
      const first = (await tcp.reply(`${base}-0`)) as { result?: { message: Message } };
      const second = (await tcp.reply(`${base}-1`)) as { error?: { code: string } };
      const third = (await tcp.reply(`${base}-2`)) as { result?: { message: Message } };
      assert.equal(first.result?.message.seq, 2);
      assert.equal(second.error?.code, 'forbidden');
      assert.equal(third.result?.message.seq, 3);

      await owner.api.call('members.timeout', { serverId, userId: bob.id, seconds: 60 });
      const many = Array.from({ length: 20 }, (_, i) => ({
        op: 'messages.send',
        params: { conversationId: channelId, body: `m${i}`, nonce: `${base}-m${i}` },
      }));
      tcp.write(many.map((r, i) => `${JSON.stringify({ id: `${base}-m${i}`, ...r })}\n`).join(''));
      for (let i = 0; i < many.length; i++) {
        const reply = (await tcp.reply(`${base}-m${i}`)) as { error?: { code: string } };
        assert.equal(reply.error?.code, 'timed_out', `send ${i}`);
      }
      assert.equal((await say(owner, channelId, 'next')).message.seq, 4, 'no number was taken');
    } finally {
      tcp.close();
    }
  });
});

describe('slow mode', () => {
  test('a member sends one message per period in a slow channel; moderators are exempt; other channels are not slowed', async () => {
    const [owner, mod, bob] = await Promise.all([newUser('sm-own'), newUser('sm-mod'), newUser('sm-bob')]);
    const { serverId, channelId } = await serverWith(owner, [mod, bob]);
    await owner.api.call('members.role', { serverId, userId: mod.id, role: 'moderator' });
    const other = (await owner.api.call('channels.create', { serverId, name: 'fast' })).channel.id;

    assert.equal(
      (await rejection(bob.api.call('channels.slowmode', { channelId, seconds: 30 }))).code,
      'forbidden',
      'members cannot set slow mode',
    );
    const { channel } = await mod.api.call('channels.slowmode', { channelId, seconds: 3600, reason: 'raid' });
    assert.equal(channel.slowmode, 3600);
    const listed = (await bob.api.call('servers.get', { serverId })).channels.find((c) => c.id === channelId);
    assert.equal(listed?.slowmode, 3600);

    const sent = await say(bob, channelId, 'one');
    const slowed = await rejection(say(bob, channelId, 'two'));
    assert.equal(slowed.code, 'slow_mode');
    assert.ok(
      slowed.retryAfterMs !== undefined && slowed.retryAfterMs > 3_500_000 && slowed.retryAfterMs <= 3_600_000,
      `${slowed.retryAfterMs}`,
    );
    assert.match(slowed.message, /#general is in slow mode \(one message every 1 h\); you can send again in 1 h/);
    // Editing is not sending.
    assert.equal(
      (await bob.api.call('messages.edit', { messageId: sent.message.id, body: 'one (edited)' })).message.body,
      'one (edited)',
    );
    assert.equal((await say(bob, other, 'elsewhere')).message.body, 'elsewhere');
    await say(mod, channelId, 'mod 1');
    await say(mod, channelId, 'mod 2');
    await say(owner, channelId, 'owner 1');
    await say(owner, channelId, 'owner 2');

    // An hour later.
    await t.sql.run('UPDATE messages SET created_at = created_at - 3600000 WHERE id = ?', sent.message.id);
    assert.equal((await say(bob, channelId, 'an hour later')).message.body, 'an hour later');
    assert.equal((await rejection(say(bob, channelId, 'too soon'))).code, 'slow_mode');

    await mod.api.call('channels.slowmode', { channelId, seconds: 0 });
    await say(bob, channelId, 'free 1');
    await say(bob, channelId, 'free 2');
    const entries = (await owner.api.call('audit.list', { serverId, action: 'channel.slowmode' })).entries;
    assert.deepEqual(
      entries.map((e) => [e.actor?.id, e.details?.from, e.details?.to, e.reason]),
      [
        [mod.id, 3600, 0, null],
        [mod.id, 0, 3600, 'raid'],
      ],
    );
  });

  test('sends of one member arriving together in a slow channel: exactly the first is stored', async () => {
    const [owner, bob] = await Promise.all([newUser('sp-own'), newUser('sp-bob')]);
    const { channelId } = await serverWith(owner, [bob]);
    await owner.api.call('channels.slowmode', { channelId, seconds: 600 });
    const tcp = await tcpAs(bob.token);
    try {
      const base = `sp-${Date.now()}`;
      const many = Array.from({ length: 12 }, (_, i) => ({
        op: 'messages.send',
        params: { conversationId: channelId, body: `m${i}`, nonce: `${base}-${i}` },
      }));
      tcp.write(many.map((r, i) => `${JSON.stringify({ id: `${base}-${i}`, ...r })}\n`).join(''));
      const codes: string[] = [];
      for (let i = 0; i < many.length; i++) {
        const reply = (await tcp.reply(`${base}-${i}`)) as { result?: unknown; error?: { code: string } };
        codes.push(reply.error?.code ?? 'stored');
      }
      assert.deepEqual(codes, ['stored', ...Array.from({ length: 11 }, () => 'slow_mode')]);
      const { messages } = await owner.api.call('messages.history', { conversationId: channelId });
      assert.deepEqual(
        messages.map((m) => [m.seq, m.body]),
        [[1, 'm0']],
      );
    } finally {
      tcp.close();
    }
  });

  test('slow mode values are checked, and only a channel the caller can see is found', async () => {
    const [owner, stranger] = await Promise.all([newUser('sv-own'), newUser('sv-str')]);
    const { channelId } = await serverWith(owner, []);
    for (const seconds of [-1, 21_601, 1.5]) {
      assert.equal(
        (await rejection(owner.api.call('channels.slowmode', { channelId, seconds }))).code,
        'bad_request',
        `${seconds}`,
      );
    }
    assert.equal(
      (await rejection(stranger.api.call('channels.slowmode', { channelId, seconds: 5 }))).code,
      'not_found',
    );
  });
});
