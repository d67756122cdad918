import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { connectAs, HttpApi, openApi, PASSWORD, rejection, TRANSPORTS, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Nobody is put in a group, DMed or notified against their will: adds are
 * invitations unless the person allows them (groupAdds), and a block stops
 * DMs, group adds and mention notifications either way.
 */

let t: TestServer;
const open: NatterClient[] = [];
before(async () => {
  t = await startTestServer();
});
after(async () => {
  for (const c of open) c.close();
  await t.destroy();
});

type User = { id: string; username: string; token: string; http: HttpApi };

async function user(prefix = 'cs'): Promise<User> {
  const username = uniqueName(prefix);
  const http = new HttpApi(t.httpUrl);
  const reg = await http.call('register', { username, password: PASSWORD });
  return { id: reg.user.id, username, token: reg.token, http };
}

async function live(u: User): Promise<NatterClient> {
  const c = await connectAs(t.wsUrl, u.token);
  open.push(c);
  return c;
}

let nonces = 0;
const nonce = () => `cs-${process.pid}-${++nonces}`;

describe('group invitations', () => {
  test('by default an add is an invitation: the invitee hears of it and is not a member until they accept', async () => {
    const alice = await user('ga');
    const bob = await user('gb');
    const bobLive = await live(bob);
    const invited = bobLive.nextEvent('group.invited', (d) => d.invitation.invitedBy.id === alice.id);
    const { group } = await alice.http.call('groups.create', { name: 'book club', usernames: [bob.username] });
    assert.deepEqual(
      group.members.map((m) => m.id),
      [alice.id],
    );
    assert.deepEqual(
      group.invited.map((m) => m.id),
      [bob.id],
    );
    const ev = await invited;
    assert.equal(ev.data.invitation.group.id, group.id);
    assert.equal(ev.data.invitation.group.name, 'book club');
    assert.equal(ev.data.invitation.group.memberCount, 1);
    assert.match(ev.cursor ?? '', /^\d+$/, 'the invitation is a stream event: a resume replays it');
    // Invited is not a member: nothing of the group can be read, sent or changed.
    assert.equal((await rejection(bob.http.call('messages.history', { conversationId: group.id }))).code, 'not_found');
    const send = bob.http.call('messages.send', { conversationId: group.id, body: 'early', nonce: nonce() });
    assert.equal((await rejection(send)).code, 'not_found');
    assert.equal((await bob.http.call('groups.list', {})).groups.length, 0);
    const waiting = await bob.http.call('groups.invitations', {});
    assert.deepEqual(
      waiting.invitations.map((i) => [i.group.id, i.invitedBy.username]),
      [[group.id, alice.username]],
    );
    // Accepting: bob is a member, hears the group's messages, the invitation is closed on all his connections.
    const closed = bobLive.nextEvent('group.invitation_closed', (d) => d.groupId === group.id);
    const accepted = await bob.http.call('groups.accept', { groupId: group.id });
    assert.deepEqual(accepted.group.members.map((m) => m.id).sort(), [alice.id, bob.id].sort());
    assert.deepEqual(accepted.group.invited, []);
    assert.equal((await closed).data.outcome, 'accepted');
    const message = bobLive.nextEvent('message.created', (d) => d.message.conversationId === group.id);
    await alice.http.call('messages.send', { conversationId: group.id, body: 'welcome', nonce: nonce() });
    assert.equal((await message).data.message.body, 'welcome');
    assert.equal((await bob.http.call('groups.invitations', {})).invitations.length, 0);
    // An answered invitation cannot be answered again.
    const again = await rejection(bob.http.call('groups.accept', { groupId: group.id }));
    assert.equal(again.code, 'not_found');
  });

  test('declining leaves the invitee out and tells the members', async () => {
    const alice = await user('da');
    const carol = await user('dc');
    const aliceLive = await live(alice);
    const { group } = await alice.http.call('groups.create', { name: 'no thanks', usernames: [carol.username] });
    const updated = aliceLive.nextEvent(
      'group.updated',
      (d) => d.group.id === group.id && d.group.invited.length === 0,
    );
    await carol.http.call('groups.decline', { groupId: group.id });
    assert.deepEqual(
      (await updated).data.group.members.map((m) => m.id),
      [alice.id],
    );
    assert.equal((await rejection(carol.http.call('groups.accept', { groupId: group.id }))).code, 'not_found');
    // Invited again, carol can still say yes later.
    await alice.http.call('groups.add', { groupId: group.id, usernames: [carol.username] });
    await carol.http.call('groups.accept', { groupId: group.id });
    const list = await carol.http.call('groups.list', {});
    assert.deepEqual(
      list.groups.map((g) => g.id),
      [group.id],
    );
  });

  test('groupAdds: everyone is added at once; contacts only by people who share a server or group', async () => {
    const alice = await user('ea');
    const open1 = await user('eo');
    const picky = await user('ep');
    await open1.http.call('settings.update', { groupAdds: 'everyone' });
    const updated = await picky.http.call('settings.update', { groupAdds: 'contacts' });
    assert.equal(updated.settings.groupAdds, 'contacts');
    assert.equal((await picky.http.call('settings.get', {})).settings.groupAdds, 'contacts');
    const first = await alice.http.call('groups.create', {
      name: 'mixed',
      usernames: [open1.username, picky.username],
    });
    assert.deepEqual(first.group.members.map((m) => m.id).sort(), [alice.id, open1.id].sort());
    assert.deepEqual(
      first.group.invited.map((m) => m.id),
      [picky.id],
    );
    // Once they share a server, alice counts as a contact of picky's: a direct add.
    const { server } = await alice.http.call('servers.create', { name: uniqueName('Shared') });
    const { invite } = await alice.http.call('invites.create', { serverId: server.id });
    await picky.http.call('invites.join', { code: invite.code });
    const second = await alice.http.call('groups.create', { name: 'contacts', usernames: [picky.username] });
    assert.deepEqual(second.group.members.map((m) => m.id).sort(), [alice.id, picky.id].sort());
  });

  test('someone with a pending invitation who now lets anyone add them is added by the next add, and told so', async () => {
    const alice = await user('pa');
    const erin = await user('pe');
    const erinLive = await live(erin);
    const { group } = await alice.http.call('groups.create', { name: 'pending', usernames: [erin.username] });
    await erin.http.call('settings.update', { groupAdds: 'everyone' });
    const closed = erinLive.nextEvent('group.invitation_closed', (d) => d.groupId === group.id);
    const added = await alice.http.call('groups.add', { groupId: group.id, usernames: [erin.username] });
    assert.deepEqual(added.group.members.map((m) => m.id).sort(), [alice.id, erin.id].sort());
    assert.deepEqual(added.group.invited, []);
    assert.equal((await closed).data.outcome, 'added');
    assert.equal((await erin.http.call('groups.invitations', {})).invitations.length, 0);
  });

  test('a group where the last member left takes its pending invitations with it', async () => {
    const alice = await user('la');
    const dave = await user('ld');
    const daveLive = await live(dave);
    const { group } = await alice.http.call('groups.create', { name: 'short lived', usernames: [dave.username] });
    const gone = daveLive.nextEvent('group.invitation_closed', (d) => d.groupId === group.id);
    await alice.http.call('groups.leave', { groupId: group.id });
    assert.equal((await gone).data.outcome, 'gone');
    assert.equal((await dave.http.call('groups.invitations', {})).invitations.length, 0);
    assert.equal((await rejection(dave.http.call('groups.accept', { groupId: group.id }))).code, 'not_found');
  });

  test('members and pending invitations together stay within 50', async () => {
    const alice = await user('ma');
    const people: User[] = [];
    for (let i = 0; i < 50; i++) people.push(await user('mp'));
    const tooMany = await rejection(
      alice.http.call('groups.create', { name: 'crowd', usernames: people.map((p) => p.username) }),
    );
    assert.equal(tooMany.code, 'bad_request');
    assert.equal(tooMany.field, 'params.usernames');
    const { group } = await alice.http.call('groups.create', {
      name: 'crowd',
      usernames: people.slice(0, 49).map((p) => p.username),
    });
    assert.equal(group.members.length + group.invited.length, 50);
    const over = await rejection(
      alice.http.call('groups.add', { groupId: group.id, usernames: [people[49]?.username ?? ''] }),
    );
    assert.equal(over.code, 'bad_request');
  });

  test('groups forced on someone: each is only an invitation, the adder’s cap stops them, the invitations are paged', async () => {
    // The adder's own cap on groups (200 by default; 30 here) stops them; each add is only an invitation.
    const small = await startTestServer({ quotas: { groupsCreatedPerUser: 30 } });
    try {
      const v = new HttpApi(small.httpUrl);
      const vreg = await v.call('register', { username: uniqueName('fv'), password: PASSWORD });
      const a = new HttpApi(small.httpUrl);
      await a.call('register', { username: uniqueName('fa'), password: PASSWORD });
      for (let i = 0; i < 30; i++)
        await a.call('groups.create', { name: `spam ${i}`, usernames: [vreg.user.username] });
      const capped = await rejection(a.call('groups.create', { name: 'spam 30', usernames: [vreg.user.username] }));
      assert.equal(capped.code, 'limit_reached');
      assert.match(capped.message, /30 groups/);
      // The victim is in none of them, and sees the invitations page by page.
      assert.equal((await v.call('groups.list', {})).groups.length, 0);
      const page1 = await v.call('groups.invitations', { limit: 20 });
      assert.equal(page1.invitations.length, 20);
      assert.ok(page1.next);
      const page2 = await v.call('groups.invitations', { limit: 20, after: page1.next });
      assert.equal(page2.invitations.length, 10);
      assert.equal(page2.next, null);
      const ids = new Set([...page1.invitations, ...page2.invitations].map((i) => i.group.id));
      assert.equal(ids.size, 30, 'every invitation exactly once');
    } finally {
      await small.destroy();
    }
  });
});

describe('blocks', () => {
  for (const transport of TRANSPORTS) {
    test(`a blocked user cannot DM, add or invite the blocker, and neither can the blocker them (${transport})`, async () => {
      const alice = await user('ba');
      const mallory = await user('bm');
      await alice.http.call('settings.update', { groupAdds: 'everyone' });
      const api = await openApi(t, transport);
      if (transport === 'http') api.token = alice.token;
      else await api.call('auth', { token: alice.token });
      // An existing DM before the block.
      const dm = await mallory.http.call('messages.send', { to: alice.username, body: 'hi', nonce: nonce() });
      const { block } = await api.call('blocks.add', { username: mallory.username });
      assert.equal(block.user.id, mallory.id);
      // Idempotent.
      await api.call('blocks.add', { userId: mallory.id });
      const listed = await api.call('blocks.list', {});
      assert.deepEqual(
        listed.blocks.map((b) => b.user.id),
        [mallory.id],
      );
      // Each request is made when its turn comes: none can be refused before its rejection is awaited.
      for (const [what, request] of [
        [
          'a new DM by name',
          () => mallory.http.call('messages.send', { to: alice.username, body: 'again', nonce: nonce() }),
        ],
        [
          'a send in the existing DM',
          () =>
            mallory.http.call('messages.send', {
              conversationId: dm.message.conversationId,
              body: 'again',
              nonce: nonce(),
            }),
        ],
        ['an edit in the DM', () => mallory.http.call('messages.edit', { messageId: dm.message.id, body: 'edited' })],
        ['a group with alice', () => mallory.http.call('groups.create', { name: 'trap', usernames: [alice.username] })],
        [
          'the blocker writing back',
          () => api.call('messages.send', { conversationId: dm.message.conversationId, body: 'no', nonce: nonce() }),
        ],
      ] as const) {
        const err = await rejection(request());
        assert.equal(err.code, 'forbidden', what);
        assert.match(err.message, /cannot reach each other/, what);
      }
      const history = await api.call('messages.history', { conversationId: dm.message.conversationId });
      assert.deepEqual(
        history.messages.map((m) => m.body),
        ['hi'],
        'nothing new reached the DM',
      );
      // Unblocked, they can talk again.
      await api.call('blocks.remove', { userId: mallory.id });
      assert.equal((await api.call('blocks.list', {})).blocks.length, 0);
      await mallory.http.call('messages.send', { to: alice.username, body: 'sorry', nonce: nonce() });
      assert.equal((await rejection(api.call('blocks.remove', { userId: mallory.id }))).code, 'not_found');
      api.close();
    });
  }

  test('blocking someone declines the invitations they sent me; others’ invitations stay', async () => {
    const alice = await user('bi');
    const mallory = await user('bj');
    const carol = await user('bk');
    const aliceLive = await live(alice);
    const fromMallory: string[] = [];
    for (const name of ['spam one', 'spam two']) {
      fromMallory.push((await mallory.http.call('groups.create', { name, usernames: [alice.username] })).group.id);
    }
    const fromCarol = (await carol.http.call('groups.create', { name: 'real', usernames: [alice.username] })).group.id;
    const closed = fromMallory.map((id) =>
      aliceLive.nextEvent('group.invitation_closed', (d) => d.groupId === id && d.outcome === 'declined'),
    );
    await alice.http.call('blocks.add', { username: mallory.username });
    await Promise.all(closed);
    assert.deepEqual(
      (await alice.http.call('groups.invitations', {})).invitations.map((i) => i.group.id),
      [fromCarol],
    );
    for (const id of fromMallory) {
      assert.equal((await rejection(alice.http.call('groups.accept', { groupId: id }))).code, 'not_found');
    }
  });

  test('a blocked user’s @mention does not notify the blocker, but reaches everyone else', async () => {
    const owner = await user('mo');
    const alice = await user('mb');
    const bob = await user('mc');
    const mallory = await user('md');
    const { server, channels } = await owner.http.call('servers.create', { name: uniqueName('Mentions') });
    const conversationId = channels[0]?.id ?? '';
    const { invite } = await owner.http.call('invites.create', { serverId: server.id });
    for (const u of [alice, bob, mallory]) await u.http.call('invites.join', { code: invite.code });
    await alice.http.call('blocks.add', { userId: mallory.id });
    const sent = await mallory.http.call('messages.send', {
      conversationId,
      body: `hey @${alice.username} and @${bob.username}`,
      nonce: nonce(),
    });
    assert.deepEqual(sent.message.mentions, [bob.id], 'only bob is mentioned');
    const aliceState = (await alice.http.call('conversations.list', {})).conversations.find(
      (c) => c.id === conversationId,
    );
    const bobState = (await bob.http.call('conversations.list', {})).conversations.find((c) => c.id === conversationId);
    assert.equal(aliceState?.mentions, 0);
    assert.equal(aliceState?.unread, 1, 'the message itself is still in the channel');
    assert.equal(bobState?.mentions, 1);
  });

  test('blocking yourself or nobody is refused in words; the block list is capped', async () => {
    const alice = await user('sa');
    const self = await rejection(alice.http.call('blocks.add', { userId: alice.id }));
    assert.equal(self.code, 'bad_request');
    assert.match(self.message, /yourself/);
    const nobody = await rejection(alice.http.call('blocks.add', { username: uniqueName('nobody') }));
    assert.equal(nobody.code, 'not_found');
    const small = await startTestServer({ quotas: { blocksPerUser: 2 } });
    try {
      const a = new HttpApi(small.httpUrl);
      await a.call('register', { username: uniqueName('sb'), password: PASSWORD });
      const names: string[] = [];
      for (let i = 0; i < 3; i++) {
        const n = uniqueName('sx');
        await new HttpApi(small.httpUrl).call('register', { username: n, password: PASSWORD });
        names.push(n);
      }
      await a.call('blocks.add', { username: names[0] ?? '' });
      await a.call('blocks.add', { username: names[1] ?? '' });
      const capped = await rejection(a.call('blocks.add', { username: names[2] ?? '' }));
      assert.equal(capped.code, 'limit_reached');
      // Blocking someone already blocked again is fine at the cap.
      await a.call('blocks.add', { username: names[0] ?? '' });
    } finally {
      await small.destroy();
    }
  });

  test('settings and blocks reach every connection of their owner', async () => {
    const alice = await user('wa');
    const other = await user('wo');
    const c = await live(alice);
    const settings = c.nextEvent('settings.updated');
    await alice.http.call('settings.update', { groupAdds: 'everyone' });
    assert.equal((await settings).data.settings.groupAdds, 'everyone');
    const blocked = c.nextEvent('block.updated');
    await alice.http.call('blocks.add', { userId: other.id });
    assert.deepEqual((await blocked).data, {
      user: { id: other.id, username: other.username, displayName: null },
      blocked: true,
    });
    // Blocking again changes nothing and says nothing more.
    await alice.http.call('blocks.add', { userId: other.id });
    const unblocked = c.nextEvent('block.updated');
    await alice.http.call('blocks.remove', { userId: other.id });
    assert.equal((await unblocked).data.blocked, false, 'the next block.updated is the unblock, not a repeat');
    const bad = await rejection(alice.http.call('settings.update', { groupAdds: 'friends' as never }));
    assert.equal(bad.code, 'bad_request');
    assert.equal(bad.field, 'params.groupAdds');
  });
});
