import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry, Message, NatterError } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { RawTcp } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Automatic moderation in the send and edit path: a server's rules block,
 * hold, alert and time out, checked in the transaction that would store the
 * message; moderators are told and review held messages; rules are managed
 * by admins and checked with errors that point at the problem.
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

type Place = { serverId: string; channelId: string; owner: User; mod: User; bob: User };

/** A server with its owner, a moderator and a member, bob. */
async function place(prefix: string): Promise<Place> {
  const [owner, mod, bob] = await Promise.all([newUser(`${prefix}o`), newUser(`${prefix}m`), newUser(`${prefix}b`)]);
  const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Auto') });
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  for (const p of [mod, bob]) await p.api.call('invites.join', { code });
  await owner.api.call('members.role', { serverId: server.id, userId: mod.id, role: 'moderator' });
  return { serverId: server.id, channelId: channels[0]?.id ?? '', owner, mod, bob };
}

let n = 0;
function say(u: User, conversationId: string, body: string, nonce = `am-${++n}-${Date.now()}`) {
  return u.api.call('messages.send', { conversationId, body, nonce });
}

async function history(u: User, conversationId: string): Promise<Message[]> {
  return (await u.api.call('messages.history', { conversationId, limit: 100 })).messages;
}

async function rule(p: Place, definition: Record<string, unknown>) {
  return (await p.owner.api.call('automod.create', { serverId: p.serverId, rule: definition })).rule;
}

async function tcpAs(token: string): Promise<RawTcp> {
  const tcp = await RawTcp.open(t.tcpUrl);
  tcp.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token } })}\n`);
  await tcp.reply('auth');
  return tcp;
}

type EventLine = { event?: string; data?: Record<string, unknown>; cursor?: string };

function eventNamed(name: string, pred: (d: Record<string, unknown>) => boolean = () => true) {
  return (m: unknown) => (m as EventLine).event === name && pred((m as EventLine).data ?? {});
}

async function audit(u: User, serverId: string, action: AuditEntry['action']) {
  return (await u.api.call('audit.list', { serverId, action })).entries;
}

describe('blocking', () => {
  test('a keyword rule blocks a message in any disguise, stores nothing, tells moderators and keeps it in the log', async () => {
    const p = await place('bl');
    await say(p.bob, p.channelId, 'hello before the rule');
    await rule(p, {
      name: 'no spam',
      kind: 'keyword',
      config: { keywords: ['spam*', 'scam'] },
      actions: [{ block: { message: 'no spam here' } }],
    });
    const modLine = await tcpAs(p.mod.token);
    const bobLine = await tcpAs(p.bob.token);
    try {
      for (const body of ['buy SP4MMY pills', 'ｓｃａｍ alert', 'this is a ѕсаm']) {
        const refused = await rejection(say(p.bob, p.channelId, body));
        assert.equal(refused.code, 'blocked', body);
        assert.equal(refused.message, 'no spam here');
      }
      const flagged = (await modLine.waitFor(
        eventNamed('automod.flagged', (d) => d.body === 'buy SP4MMY pills'),
        undefined,
        'the flag',
      )) as EventLine;
      assert.deepEqual(flagged.data?.actions, ['block']);
      assert.deepEqual(flagged.data?.rules, [{ name: 'no spam', trigger: 'spam*' }]);
      assert.equal((flagged.data?.user as { id: string } | undefined)?.id, p.bob.id);
      assert.equal(flagged.data?.seq, null);
      assert.ok(flagged.cursor, 'kept for resume');
      // A concatenation is not the whole word `scam`, and the member is not told about the rule.
      assert.equal((await say(p.bob, p.channelId, 'scampi for dinner')).message.seq, 2);
      // Events reach a connection in commit order: the flags, had he been sent them, would be here by now.
      await bobLine.waitFor(
        eventNamed('message.created', (d) => (d.message as Message).body === 'scampi for dinner'),
        undefined,
        'bob sees his message',
      );
      assert.equal(
        bobLine.messages.some((l) => (l as EventLine).event === 'automod.flagged'),
        false,
        'members never get the flags',
      );
    } finally {
      modLine.close();
      bobLine.close();
    }
    assert.deepEqual(
      (await history(p.owner, p.channelId)).map((m) => m.body),
      ['hello before the rule', 'scampi for dinner'],
    );
    const flags = await audit(p.owner, p.serverId, 'automod.flag');
    assert.equal(flags.length, 3);
    assert.equal(flags[0]?.actor, null, 'the rule acted, not a person');
    assert.equal(flags[0]?.targetUser?.id, p.bob.id);
    assert.equal((await audit(p.owner, p.serverId, 'automod.create'))[0]?.details?.name, 'no spam');
  });

  test('an edit into blocked words is refused and the message stays as it was', async () => {
    const p = await place('be');
    await rule(p, { name: 'slurs', kind: 'preset', config: { preset: 'profanity' }, actions: [{ block: {} }] });
    const sent = await say(p.bob, p.channelId, 'what a nice day');
    const refused = await rejection(
      p.bob.api.call('messages.edit', { messageId: sent.message.id, body: 'what a f4cking day' }),
    );
    assert.equal(refused.code, 'blocked');
    assert.match(refused.message, /this edit was blocked by the server's rules; it was not saved/);
    assert.deepEqual(
      (await history(p.bob, p.channelId)).map((m) => [m.body, m.editedAt]),
      [['what a nice day', null]],
    );
    for (const body of ['fück this', 'ｆｕｃｋ', 'fuuuuck', 'shiitake risotto']) {
      const r = await say(p.bob, p.channelId, body).then(
        () => 'posted',
        (e: NatterError) => e.code,
      );
      assert.equal(r, body === 'shiitake risotto' ? 'posted' : 'blocked', body);
    }
  });

  test('exempt roles and channels are left alone; mention spam and floods are caught', async () => {
    const p = await place('bx');
    const { channel: offTopic } = await p.owner.api.call('channels.create', { serverId: p.serverId, name: 'anything' });
    await rule(p, {
      name: 'bad words',
      kind: 'keyword',
      config: { keywords: ['*darn*'] },
      actions: [{ block: {} }],
      exemptRoles: ['moderator', 'admin', 'owner'],
      exemptChannels: [offTopic.id],
    });
    await rule(p, { name: 'mention bombs', kind: 'mentions', config: { max: 2 }, actions: [{ block: {} }] });
    await rule(p, { name: 'flood', kind: 'flood', config: { messages: 3, seconds: 60 }, actions: [{ block: {} }] });
    assert.equal((await rejection(say(p.bob, p.channelId, 'DARNIT'))).code, 'blocked');
    await say(p.mod, p.channelId, 'darn it, moderators may');
    await say(p.bob, offTopic.id, 'darn, off topic');
    const names = `@${p.owner.username} @${p.mod.username} @${p.bob.username}`;
    assert.equal((await rejection(say(p.bob, offTopic.id, `hey ${names}`))).code, 'blocked');
    await say(p.bob, offTopic.id, `hey @${p.owner.username} @${p.mod.username}`);
    // Bob sent two messages in the last minute; the third goes, the fourth is a flood.
    await say(p.bob, p.channelId, 'three');
    const flood = await rejection(say(p.bob, p.channelId, 'four'));
    assert.equal(flood.code, 'blocked');
    assert.match(flood.message, /blocked by the server's rules/);
    // A minute later, he may speak again.
    await t.sql.run('UPDATE messages SET created_at = created_at - 61000 WHERE author_id = ?', p.bob.id);
    await say(p.bob, p.channelId, 'calm again');
  });

  test('a regex a moderator got wrong cannot freeze the server', async () => {
    const p = await place('br');
    await rule(p, { name: 'catastrophic', kind: 'regex', config: { patterns: ['(a+)+$'] }, actions: [{ block: {} }] });
    const long = `${'a'.repeat(3000)}!`;
    // RE2 has no backtracking: the answer comes, whatever the input.
    assert.equal((await say(p.bob, p.channelId, long)).message.body, long);
    assert.equal((await rejection(say(p.bob, p.channelId, 'aaaa'))).code, 'blocked');
  });
});

describe('holding', () => {
  test('a held message reaches moderators only; approved, it is posted and its author told; a retry is not held twice', async () => {
    const p = await place('ho');
    await rule(p, { name: 'links', kind: 'regex', config: { patterns: ['https?://'] }, actions: ['hold'] });
    const modLine = await tcpAs(p.mod.token);
    const bobLine = await tcpAs(p.bob.token);
    try {
      const nonce = `held-${Date.now()}`;
      const held = await rejection(say(p.bob, p.channelId, 'see http://example.com', nonce));
      assert.equal(held.code, 'held');
      assert.match(held.message, /held for review by the server's moderators \(rule "links"\)/);
      const again = await rejection(say(p.bob, p.channelId, 'see http://example.com', nonce));
      assert.equal(again.code, 'held');
      const seen = (await modLine.waitFor(eventNamed('message.held'), undefined, 'the held event')) as EventLine;
      const heldInfo = seen.data?.held as { id: string; body: string; heldBy: string; channel: string };
      assert.equal(heldInfo.body, 'see http://example.com');
      assert.equal(heldInfo.heldBy, 'links');
      assert.equal(heldInfo.channel, 'general');
      const listed = (await p.mod.api.call('held.list', { serverId: p.serverId })).messages;
      assert.deepEqual(
        listed.map((m) => [m.id, m.author.id, m.body]),
        [[heldInfo.id, p.bob.id, 'see http://example.com']],
      );
      assert.deepEqual(await history(p.owner, p.channelId), [], 'nobody sees it in the channel');
      assert.equal((await rejection(p.bob.api.call('held.list', { serverId: p.serverId }))).code, 'forbidden');
      assert.equal((await rejection(p.bob.api.call('held.approve', { heldId: heldInfo.id }))).code, 'forbidden');

      const { message } = await p.mod.api.call('held.approve', { heldId: heldInfo.id, reason: 'a known site' });
      assert.equal(message.seq, 1);
      assert.equal(message.author.id, p.bob.id);
      assert.equal(message.body, 'see http://example.com');
      const told = (await bobLine.waitFor(eventNamed('held.resolved'), undefined, 'bob told')) as EventLine;
      assert.equal(told.data?.outcome, 'approved');
      assert.equal(told.data?.seq, 1);
      assert.deepEqual(
        (await history(p.owner, p.channelId)).map((m) => m.body),
        ['see http://example.com'],
      );
      assert.deepEqual((await p.mod.api.call('held.list', { serverId: p.serverId })).messages, []);
      // The retry after approval is the posted message.
      const retried = await say(p.bob, p.channelId, 'see http://example.com', nonce);
      assert.equal(retried.message.seq, 1);
      assert.equal((await rejection(p.mod.api.call('held.approve', { heldId: heldInfo.id }))).code, 'not_found');
    } finally {
      modLine.close();
      bobLine.close();
    }
    const approvals = await audit(p.owner, p.serverId, 'held.approve');
    assert.equal(approvals[0]?.actor?.id, p.mod.id);
    assert.equal(approvals[0]?.reason, 'a known site');
  });

  test('a rejected message is gone and its author told; an edit a rule would hold is refused', async () => {
    const p = await place('hr');
    await rule(p, { name: 'caps', kind: 'regex', config: { patterns: ['[A-Z]{8,}'] }, actions: ['hold'] });
    const bobLine = await tcpAs(p.bob.token);
    try {
      await rejection(say(p.bob, p.channelId, 'WHY IS NOBODY ANSWERING'));
      const [heldMsg] = (await p.owner.api.call('held.list', { serverId: p.serverId })).messages;
      assert.ok(heldMsg);
      await p.owner.api.call('held.reject', { heldId: heldMsg.id, reason: 'shouting' });
      const told = (await bobLine.waitFor(eventNamed('held.resolved'), undefined, 'bob told')) as EventLine;
      assert.equal(told.data?.outcome, 'rejected');
      assert.equal(told.data?.note, 'shouting');
      assert.deepEqual((await p.owner.api.call('held.list', { serverId: p.serverId })).messages, []);
      assert.deepEqual(await history(p.owner, p.channelId), []);
      const sent = await say(p.bob, p.channelId, 'sorry');
      const edit = await rejection(
        p.bob.api.call('messages.edit', { messageId: sent.message.id, body: 'SORRY EVERYBODY' }),
      );
      assert.equal(edit.code, 'blocked');
      assert.match(edit.message, /needs a moderator's review; it was not saved/);
    } finally {
      bobLine.close();
    }
    assert.equal((await audit(p.owner, p.serverId, 'held.reject'))[0]?.reason, 'shouting');
  });
});

describe('the review queue', () => {
  test('a moderator decides only on held messages of those below them; the owner decides on their own', async () => {
    const p = await place('hk');
    await rule(p, { name: 'links', kind: 'regex', config: { patterns: ['https?://'] }, actions: ['hold'] });
    assert.equal((await rejection(say(p.owner, p.channelId, 'owner https://o.example'))).code, 'held');
    assert.equal((await rejection(say(p.mod, p.channelId, 'mod https://m.example'))).code, 'held');
    const held = (await p.owner.api.call('held.list', { serverId: p.serverId })).messages;
    const byOwner = held.find((h) => h.author.id === p.owner.id);
    const byMod = held.find((h) => h.author.id === p.mod.id);
    assert.ok(byOwner && byMod);
    const up = await rejection(p.mod.api.call('held.reject', { heldId: byOwner.id }));
    assert.equal(up.code, 'forbidden');
    assert.match(up.message, /someone of your rank or above/);
    const own = await rejection(p.mod.api.call('held.approve', { heldId: byMod.id }));
    assert.equal(own.code, 'forbidden');
    assert.match(own.message, /your own held message/);
    assert.equal((await p.owner.api.call('held.approve', { heldId: byMod.id })).message.body, 'mod https://m.example');
    assert.equal(
      (await p.owner.api.call('held.approve', { heldId: byOwner.id })).message.body,
      'owner https://o.example',
    );
    assert.deepEqual(await audit(p.owner, p.serverId, 'held.reject'), [], 'the refused rejection left nothing');
  });

  test('a member with 20 messages waiting is blocked, not held again: holding cannot flood the moderators', async () => {
    const p = await place('hc');
    await rule(p, { name: 'everything', kind: 'regex', config: { patterns: ['.'] }, actions: ['hold'] });
    const now = t.server.services.clock();
    for (let i = 0; i < 20; i++) {
      await t.sql.run(
        `INSERT INTO held_messages (id, server_id, conversation_id, author_id, body, kind, bot, nonce, held_by, created_at)
         VALUES (?, ?, ?, ?, ?, 'text', false, ?, 'everything', ?)`,
        `waiting-${p.bob.id}-${i}`,
        p.serverId,
        p.channelId,
        p.bob.id,
        `waiting ${i}`,
        `w-${i}`,
        now + i,
      );
    }
    const refused = await rejection(say(p.bob, p.channelId, 'one more'));
    assert.equal(refused.code, 'blocked');
    assert.match(refused.message, /you have 20 messages waiting for a moderator's review here/);
    assert.equal((await p.mod.api.call('held.list', { serverId: p.serverId, limit: 50 })).messages.length, 20);
    const [flag] = await audit(p.owner, p.serverId, 'automod.flag');
    assert.deepEqual(flag?.details?.actions, ['block']);
    // Someone else is held as before.
    assert.equal((await rejection(say(p.mod, p.channelId, 'mine'))).code, 'held');
  });
});

describe('alerts and timeouts', () => {
  test('an alert posts a notice in the moderators’ channel, quoting only what was posted anyway; a timeout rule times the author out', async () => {
    const p = await place('al');
    const { channel: mods } = await p.owner.api.call('channels.create', { serverId: p.serverId, name: 'mod-log' });
    await rule(p, {
      name: 'watch',
      kind: 'keyword',
      config: { keywords: ['crypto*'] },
      actions: [{ alert: { channelId: mods.id } }],
    });
    await rule(p, {
      name: 'threats',
      kind: 'keyword',
      config: { keywords: ['*kill you*'] },
      actions: [{ block: {} }, { alert: { channelId: mods.id } }, { timeout: { seconds: 600 } }],
    });
    const posted = await say(p.bob, p.channelId, 'anyone into cryptocurrency?');
    assert.equal(posted.message.seq, 1);
    const blocked = await rejection(say(p.bob, p.channelId, 'i will kill you'));
    assert.equal(blocked.code, 'blocked');
    const notices = await history(p.owner, mods.id);
    assert.deepEqual(
      notices.map((m) => [m.kind, m.author.id, m.body]),
      [
        [
          'automod',
          p.bob.id,
          `#1 by @${p.bob.username} in #general matched "watch" (posted): anyone into cryptocurrency?`,
        ],
        ['automod', p.bob.id, `a message by @${p.bob.username} in #general matched "threats" (blocked)`],
      ],
    );
    // The notices name bob as their author, but they are not his to change or remove.
    const notice = notices[0];
    assert.ok(notice);
    const edit = await rejection(p.bob.api.call('messages.edit', { messageId: notice.id, body: 'nothing happened' }));
    assert.equal(edit.code, 'forbidden');
    assert.match(edit.message, /an automatic moderation notice cannot be edited/);
    const del = await rejection(p.bob.api.call('messages.delete', { messageId: notice.id }));
    assert.equal(del.code, 'forbidden');
    assert.match(del.message, /only moderators can delete an automatic moderation notice/);
    assert.equal((await p.mod.api.call('messages.delete', { messageId: notice.id })).message.deletedAt !== null, true);
    const timedOut = await rejection(say(p.bob, p.channelId, 'hello?'));
    assert.equal(timedOut.code, 'timed_out');
    const { members } = await p.owner.api.call('members.list', { serverId: p.serverId });
    assert.ok(members.find((m) => m.user.id === p.bob.id)?.timeoutUntil);
    // Admins and the owner are never timed out by a rule (only by someone above them).
    await rejection(say(p.owner, p.channelId, 'i will kill you (a quote)'));
    assert.equal((await say(p.owner, p.channelId, 'still here')).message.body, 'still here');
  });
});

describe('managing rules', () => {
  test('admins manage rules; moderators read them; members and strangers cannot; a change holds at the next send', async () => {
    const p = await place('mr');
    const stranger = await newUser('mr-s');
    const definition = { name: 'no ads', kind: 'keyword', config: { keywords: ['promo'] }, actions: [{ block: {} }] };
    assert.equal(
      (await rejection(p.mod.api.call('automod.create', { serverId: p.serverId, rule: definition }))).code,
      'forbidden',
    );
    assert.equal((await rejection(p.bob.api.call('automod.list', { serverId: p.serverId }))).code, 'forbidden');
    assert.equal((await rejection(stranger.api.call('automod.list', { serverId: p.serverId }))).code, 'not_found');
    const made = await rule(p, definition);
    assert.equal(made.enabled, true);
    assert.equal(made.createdBy?.id, p.owner.id);
    const listed = (await p.mod.api.call('automod.list', { serverId: p.serverId })).rules;
    assert.deepEqual(
      listed.map((r) => [r.name, r.kind, r.config]),
      [['no ads', 'keyword', { keywords: ['promo'], allow: [] }]],
    );
    assert.equal((await rejection(say(p.bob, p.channelId, 'promo inside'))).code, 'blocked');
    await p.owner.api.call('automod.update', { ruleId: made.id, enabled: false });
    assert.equal((await say(p.bob, p.channelId, 'promo inside')).message.body, 'promo inside');
    const changed = await p.owner.api.call('automod.update', {
      ruleId: made.id,
      rule: { ...definition, name: 'no ads at all', config: { keywords: ['promo*'] } },
      enabled: true,
    });
    assert.equal(changed.rule.name, 'no ads at all');
    assert.equal((await rejection(say(p.bob, p.channelId, 'promotions!'))).code, 'blocked');
    assert.equal((await rejection(stranger.api.call('automod.delete', { ruleId: made.id }))).code, 'not_found');
    assert.equal((await rejection(p.mod.api.call('automod.delete', { ruleId: made.id }))).code, 'forbidden');
    await p.owner.api.call('automod.delete', { ruleId: made.id });
    assert.equal((await say(p.bob, p.channelId, 'promotions!')).message.body, 'promotions!');
    assert.deepEqual(
      (await audit(p.owner, p.serverId, 'automod.update')).map((e) => e.details?.name),
      ['no ads at all', 'no ads'],
    );
    assert.equal((await audit(p.owner, p.serverId, 'automod.delete')).length, 1);
  });

  test('bad rules are refused with the field and the words of the problem; a server holds at most 20', async () => {
    const p = await place('rv');
    const other = await p.owner.api.call('servers.create', { name: uniqueName('Other') });
    const bad = async (definition: Record<string, unknown>) =>
      rejection(p.owner.api.call('automod.create', { serverId: p.serverId, rule: definition }));
    const regex = await bad({ name: 'r', kind: 'regex', config: { patterns: ['ok', '(unclosed'] }, actions: ['hold'] });
    assert.equal(regex.code, 'bad_request');
    assert.equal(regex.field, 'params.rule.config.patterns.1');
    assert.match(regex.message, /regex 2 does not compile/);
    const back = await bad({ name: 'r', kind: 'regex', config: { patterns: ['(a)\\1'] }, actions: ['hold'] });
    assert.match(back.message, /backreference/);
    const empty = await bad({ name: 'k', kind: 'keyword', config: { keywords: ['**'] }, actions: ['hold'] });
    assert.match(empty.message, /keyword 1 \(`\*\*`\) has no letters or digits/);
    const both = await bad({
      name: 'k',
      kind: 'keyword',
      config: { keywords: ['x1'] },
      actions: ['hold', { block: {} }],
    });
    assert.match(both.message, /cannot both block and hold/);
    const noActions = await bad({ name: 'k', kind: 'keyword', config: { keywords: ['x1'] }, actions: [] });
    assert.match(noActions.message, /at least one action/);
    const elsewhere = await bad({
      name: 'k',
      kind: 'keyword',
      config: { keywords: ['x1'] },
      actions: [{ alert: { channelId: other.channels[0]?.id } }],
    });
    assert.equal(elsewhere.field, 'params.rule.actions.0.alert.channelId');
    assert.match(elsewhere.message, /the alert channel is not a channel of this server/);
    const many = await bad({
      name: 'k',
      kind: 'keyword',
      config: { keywords: Array.from({ length: 501 }, (_, i) => `w${i}`) },
      actions: ['hold'],
    });
    assert.match(many.message, /at most 500 keywords per rule/);
    for (let i = 0; i < 20; i++) {
      await rule(p, { name: `rule ${i}`, kind: 'keyword', config: { keywords: [`word${i}`] }, actions: ['hold'] });
    }
    const dup = await rejection(
      p.owner.api.call('automod.create', {
        serverId: p.serverId,
        rule: { name: 'rule 3', kind: 'keyword', config: { keywords: ['x1'] }, actions: ['hold'] },
      }),
    );
    assert.equal(dup.code, 'limit_reached');
    await p.owner.api.call('automod.delete', {
      ruleId: (await p.owner.api.call('automod.list', { serverId: p.serverId })).rules[0]?.id ?? '',
    });
    const named = await bad({ name: 'rule 3', kind: 'keyword', config: { keywords: ['x1'] }, actions: ['hold'] });
    assert.equal(named.code, 'conflict');
    assert.deepEqual(await audit(p.owner, p.serverId, 'automod.flag'), [], 'nothing was flagged');
  });
});
