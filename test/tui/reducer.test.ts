import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AnyEvent, ConversationSummary, EventMessage, Message } from '../../src/protocol/index.js';
import { initialState, nextActivity, nextMatching, reduce, sidebarOrder, typingIn } from '../../src/tui/reducer.js';
import { type Action, KEPT_LINES, KEPT_SCROLLED_LINES, NEW_FROM_REACH, type State } from '../../src/tui/state.js';
import { layoutMessages, pageScroll, scrollView } from '../../src/tui/view/message-layout.js';

const ME = { id: 'me', username: 'alice' };
const BOB = { id: 'bob', username: 'bob', displayName: null };

function summary(
  id: string,
  kind: ConversationSummary['kind'],
  name: string,
  extra: Partial<ConversationSummary> = {},
): ConversationSummary {
  return {
    id,
    kind,
    serverId: kind === 'channel' ? 's1' : null,
    name,
    topic: null,
    peer: null,
    lastSeq: 0,
    lastReadSeq: 0,
    unread: 0,
    mentions: 0,
    lastMessage: null,
    ...extra,
  };
}

function msg(conversationId: string, seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: `${conversationId}-${seq}`,
    conversationId,
    seq,
    author: BOB,
    bot: false,
    kind: 'text',
    body: `m${seq}`,
    createdAt: 1000 + seq,
    editedAt: null,
    deletedAt: null,
    nonce: null,
    mentions: [],
    ...extra,
  };
}

function ev<N extends EventMessage['event']>(event: N, data: EventMessage<N>['data']): Action {
  return { type: 'event', event: { event, data } as AnyEvent };
}

function loaded(): State {
  let s = reduce(initialState('ws://x'), { type: 'authenticated', me: ME });
  s = reduce(s, {
    type: 'loaded',
    servers: [
      {
        id: 's1',
        name: 'acme',
        description: null,
        ownerId: 'me',
        createdAt: 0,
        memberCount: 2,
        role: 'owner',
        channelIds: ['c2', 'c1'],
      },
    ],
    conversations: [
      summary('c1', 'channel', 'general', { lastSeq: 2, lastReadSeq: 2 }),
      summary('c2', 'channel', 'dev'),
      summary('g1', 'group', 'friends'),
      summary('d1', 'dm', 'bob', { peer: { ...BOB, status: null, bio: null, createdAt: 0 } }),
    ],
    invitations: [],
  });
  return s;
}

describe('reduce', () => {
  test('loading builds the sidebar in order: channels by name, then groups, then DMs', () => {
    const s = loaded();
    assert.deepEqual(sidebarOrder(s), ['c2', 'c1', 'g1', 'd1']);
    assert.equal(s.servers.s1?.name, 'acme');
  });

  test('a message in another conversation counts as unread, a mention also as a mention, and rings for mentions and DMs', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, ev('message.created', { message: msg('c2', 1) }));
    assert.equal(s.conversations.c2?.unread, 1);
    assert.equal(s.conversations.c2?.mentions, 0);
    assert.equal(s.bell, 0);
    s = reduce(s, ev('message.created', { message: msg('c2', 2, { mentions: ['me'] }) }));
    assert.equal(s.conversations.c2?.mentions, 1);
    assert.equal(s.bell, 1);
    s = reduce(s, ev('message.created', { message: msg('d1', 1) }));
    assert.equal(s.bell, 2);
    // The same event again (a replay overlap) changes nothing.
    assert.equal(reduce(s, ev('message.created', { message: msg('d1', 1) })), s);
  });

  test('messages in the open conversation are read at once; opening clears the counts', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 1), msg('c1', 2)],
      hasMore: false,
      direction: 'latest',
    });
    s = reduce(s, ev('message.created', { message: msg('c1', 3) }));
    assert.equal(s.conversations.c1?.unread, 0);
    assert.equal(s.conversations.c1?.lastReadSeq, 3);
    assert.deepEqual(
      s.views.c1?.lines.map((l) => l.seq),
      [1, 2, 3],
    );
    s = reduce(s, ev('message.created', { message: msg('g1', 1, { mentions: ['me'] }) }));
    s = reduce(s, { type: 'open', conversationId: 'g1' });
    assert.deepEqual([s.conversations.g1?.unread, s.conversations.g1?.mentions], [0, 0]);
  });

  test('a pending line is replaced by the stored message, whichever arrives first', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'history', conversationId: 'c1', messages: [], hasMore: false, direction: 'latest' });
    s = reduce(s, { type: 'pending', conversationId: 'c1', nonce: 'n1', body: 'hello', kind: 'text', at: 5 });
    assert.equal(s.views.c1?.lines[0]?.pending, true);
    const stored = msg('c1', 3, {
      author: { id: 'me', username: 'alice', displayName: null },
      body: 'hello',
      nonce: 'n1',
    });
    const viaEvent = reduce(s, ev('message.created', { message: stored }));
    const viaReply = reduce(s, { type: 'sent', nonce: 'n1', message: stored });
    for (const x of [viaEvent, viaReply, reduce(viaEvent, { type: 'sent', nonce: 'n1', message: stored })]) {
      assert.deepEqual(
        x.views.c1?.lines.map((l) => [l.id, l.pending]),
        [['c1-3', false]],
      );
    }
    const failed = reduce(s, { type: 'send-failed', conversationId: 'c1', nonce: 'n1', error: 'too long' });
    assert.equal(failed.views.c1?.lines[0]?.failed, 'too long');
  });

  test('a refused message stays where it was written: what comes after shows below it; Esc takes it away', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 1)],
      hasMore: false,
      direction: 'latest',
    });
    s = reduce(s, {
      type: 'pending',
      conversationId: 'c1',
      nonce: 'bad',
      body: 'x'.repeat(10),
      kind: 'text',
      at: 1001.5,
    });
    s = reduce(s, { type: 'send-failed', conversationId: 'c1', nonce: 'bad', error: 'too long' });
    s = reduce(s, ev('message.created', { message: msg('c1', 2, { body: 'after it' }) }));
    s = reduce(s, { type: 'pending', conversationId: 'c1', nonce: 'n2', body: 'on its way', kind: 'text', at: 1003 });
    assert.deepEqual(
      s.views.c1?.lines.map((l) => l.body),
      ['m1', 'x'.repeat(10), 'after it', 'on its way'],
      'refused in time order, the one being sent last',
    );
    s = reduce(s, { type: 'dismiss-failed', conversationId: 'c1' });
    assert.deepEqual(
      s.views.c1?.lines.map((l) => l.body),
      ['m1', 'after it', 'on its way'],
    );
  });

  test('a line keeps its kind and bot mark: pending, stored, edited; a server that sends neither gives text by a person', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'history', conversationId: 'c1', messages: [], hasMore: false, direction: 'latest' });
    s = reduce(s, { type: 'pending', conversationId: 'c1', nonce: 'n1', body: 'waves', kind: 'action', at: 5 });
    assert.deepEqual(
      s.views.c1?.lines.map((l) => [l.body, l.kind, l.bot, l.pending]),
      [['waves', 'action', false, true]],
    );
    const me = { id: 'me', username: 'alice', displayName: null };
    s = reduce(s, {
      type: 'sent',
      nonce: 'n1',
      message: msg('c1', 1, { author: me, body: 'waves', kind: 'action', nonce: 'n1' }),
    });
    s = reduce(s, ev('message.created', { message: msg('c1', 2, { body: 'deploy finished', bot: true }) }));
    s = reduce(
      s,
      ev('message.updated', { message: msg('c1', 1, { author: me, body: 'waves back', kind: 'action', editedAt: 9 }) }),
    );
    const { bot: _bot, kind: _kind, ...older } = msg('c1', 3, { body: 'from an older server' });
    s = reduce(s, ev('message.created', { message: older as Message }));
    assert.deepEqual(
      s.views.c1?.lines.map((l) => [l.body, l.kind, l.bot, l.pending]),
      [
        ['waves back', 'action', false, false],
        ['deploy finished', 'text', true, false],
        ['from an older server', 'text', false, false],
      ],
    );
  });

  test('edits and deletes replace the line in place', () => {
    let s = reduce(loaded(), {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 1), msg('c1', 2)],
      hasMore: false,
      direction: 'latest',
    });
    s = reduce(s, ev('message.updated', { message: msg('c1', 1, { body: 'fixed', editedAt: 9 }) }));
    s = reduce(s, ev('message.deleted', { message: msg('c1', 2, { body: '', deletedAt: 10 }) }));
    assert.deepEqual(
      s.views.c1?.lines.map((l) => [l.body, l.editedAt, l.deletedAt]),
      [
        ['fixed', 9, null],
        ['', null, 10],
      ],
    );
  });

  test('older pages are prepended; the beginning is known when seq 1 arrives', () => {
    let s = reduce(loaded(), {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 51), msg('c1', 52)],
      hasMore: true,
      direction: 'latest',
    });
    assert.equal(s.views.c1?.hasMoreBefore, true);
    s = reduce(s, { type: 'history-loading', conversationId: 'c1' });
    assert.equal(s.views.c1?.loading, true);
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 1), msg('c1', 50)],
      hasMore: false,
      direction: 'before',
    });
    assert.deepEqual(
      s.views.c1?.lines.map((l) => l.seq),
      [1, 50, 51, 52],
    );
    assert.equal(s.views.c1?.hasMoreBefore, false);
    assert.equal(s.views.c1?.loading, false);
  });

  test('being kicked removes the server and its channels, closes it if open, and says so', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, ev('server.removed', { serverId: 's1', reason: 'kicked' }));
    assert.equal(s.servers.s1, undefined);
    assert.equal(s.conversations.c1, undefined);
    assert.equal(s.active, null);
    assert.match(s.notice?.text ?? '', /acme: you were kicked/);
    // The app opens another conversation: the notice stays there to be read.
    s = reduce(s, { type: 'open', conversationId: 'g1' });
    assert.match(s.notice?.text ?? '', /acme: you were kicked/);
  });

  test('being banned says by whom and why, when the server says', () => {
    const s = reduce(loaded(), ev('server.removed', { serverId: 's1', reason: 'banned', by: BOB, note: 'spam links' }));
    assert.equal(s.notice?.text, 'acme: you were banned by bob (spam links)');
  });

  test('joining, channel changes, groups and DMs appear in the sidebar', () => {
    let s = loaded();
    s = reduce(
      s,
      ev('server.joined', {
        server: {
          id: 's2',
          name: 'beta',
          description: null,
          ownerId: 'x',
          createdAt: 0,
          memberCount: 3,
          role: 'member',
        },
        channels: [{ id: 'c9', serverId: 's2', name: 'general', topic: null, createdAt: 0, lastSeq: 7 }],
      }),
    );
    assert.deepEqual(s.serverOrder, ['s1', 's2']);
    assert.equal(s.conversations.c9?.unread, 0, 'history before joining is not unread');
    s = reduce(
      s,
      ev('channel.created', {
        channel: { id: 'c3', serverId: 's1', name: 'apple', topic: 't', createdAt: 0, lastSeq: 0 },
      }),
    );
    assert.deepEqual(s.servers.s1?.channelIds, ['c3', 'c2', 'c1']);
    s = reduce(s, ev('channel.deleted', { serverId: 's1', channelId: 'c2' }));
    assert.deepEqual(s.servers.s1?.channelIds, ['c3', 'c1']);
    s = reduce(
      s,
      ev('dm.opened', {
        conversationId: 'd2',
        peer: { id: 'carol', username: 'carol', displayName: null, status: null, bio: null, createdAt: 0 },
      }),
    );
    assert.equal(s.conversations.d2?.name, 'carol');
    s = reduce(s, ev('group.removed', { groupId: 'g1' }));
    assert.equal(s.conversations.g1, undefined);
  });

  test('typing appears, expires on a tick, and ends with a message', () => {
    let s = reduce(
      loaded(),
      ev('typing', { conversationId: 'c1', user: { id: 'bob', username: 'bob' }, expiresAt: 100 }),
    );
    assert.deepEqual(typingIn(s, 'c1', 50), ['bob']);
    assert.deepEqual(typingIn(reduce(s, { type: 'tick', now: 150 }), 'c1', 150), []);
    s = reduce(s, ev('message.created', { message: msg('c1', 3) }));
    assert.deepEqual(typingIn(s, 'c1', 50), []);
  });

  test('next unread and next mention skip the active conversation and wrap', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'd1' });
    s = reduce(s, ev('message.created', { message: msg('c2', 1) }));
    s = reduce(s, ev('message.created', { message: msg('g1', 1, { mentions: ['me'] }) }));
    assert.equal(
      nextMatching(s, (c) => c.unread > 0),
      'c2',
    );
    assert.equal(
      nextMatching(s, (c) => c.mentions > 0),
      'g1',
    );
    assert.equal(
      nextMatching(s, () => true, -1),
      'g1',
      'previous',
    );
  });

  test('a group invitation rings, says how to answer, and is forgotten once answered anywhere', () => {
    let s = loaded();
    const bell = s.bell;
    s = reduce(
      s,
      ev('group.invited', {
        invitation: {
          group: { id: 'g9', name: 'book club', memberCount: 2 },
          invitedBy: { id: 'u2', username: 'alice', displayName: null },
          createdAt: 5,
        },
      }),
    );
    assert.deepEqual(s.invitations.g9, { groupId: 'g9', name: 'book club', from: 'alice' });
    assert.equal(s.bell, bell + 1);
    assert.equal(s.bellReason, 'invitation');
    assert.match(s.notice?.text ?? '', /alice invited you to \+book club: \/accept book club or \/decline book club/);
    assert.equal(s.conversations.g9, undefined, 'not in the sidebar until accepted');
    s = reduce(s, ev('group.invitation_closed', { groupId: 'g9', outcome: 'accepted' }));
    assert.equal(s.invitations.g9, undefined);
  });

  test('a member list says who is online in the same action', () => {
    const s = reduce(loaded(), {
      type: 'members',
      scopeId: 's1',
      members: [
        { user: BOB, role: 'member' },
        { user: { id: 'me', username: 'alice', displayName: null }, role: 'owner' },
      ],
      online: { bob: true, me: false },
    });
    assert.deepEqual(
      s.members.s1?.map((m) => m.user.id),
      ['bob', 'me'],
    );
    assert.deepEqual(s.online, { bob: true, me: false });
  });

  test('mentions by a highlight word survive the server counts coming again (a reconnect), until read', () => {
    let s = reduce(loaded(), { type: 'highlights', words: ['deploy'] });
    s = reduce(s, { type: 'open', conversationId: 'c1' });
    s = reduce(s, ev('message.created', { message: msg('c2', 1, { body: 'deploy is green' }) }));
    s = reduce(s, ev('message.created', { message: msg('c2', 2, { body: 'ping @alice', mentions: ['me'] }) }));
    s = reduce(s, ev('message.created', { message: msg('c2', 3, { body: 'lunch?' }) }));
    assert.deepEqual([s.conversations.c2?.unread, s.conversations.c2?.mentions], [3, 2]);
    // The server counts the mention by name only; the lists load again after a reconnect, one more by name since.
    const again = (c2: Partial<ConversationSummary>) =>
      reduce(s, {
        type: 'loaded',
        servers: [],
        conversations: [
          summary('c1', 'channel', 'general', { lastSeq: 2, lastReadSeq: 2 }),
          summary('c2', 'channel', 'dev', c2),
        ],
        invitations: [],
      });
    const back = again({ lastSeq: 4, lastReadSeq: 0, unread: 4, mentions: 2 });
    assert.deepEqual([back.conversations.c2?.unread, back.conversations.c2?.mentions], [4, 3]);
    // Read elsewhere in the meantime: the server's counts are the whole truth.
    const readElsewhere = again({ lastSeq: 4, lastReadSeq: 3, unread: 1, mentions: 1 });
    assert.deepEqual([readElsewhere.conversations.c2?.unread, readElsewhere.conversations.c2?.mentions], [1, 1]);
    // So is a read mark from another client.
    const marked = reduce(s, ev('read.updated', { conversationId: 'c2', lastReadSeq: 2, unread: 1, mentions: 0 }));
    assert.equal(marked.conversations.c2?.mentions, 0);
    // Read here: nothing left to keep, and the next reload counts none.
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    assert.equal(s.conversations.c2?.mentions, 0);
    const later = reduce(s, {
      type: 'loaded',
      servers: [],
      conversations: [summary('c2', 'channel', 'dev', { lastSeq: 4, lastReadSeq: 3, unread: 1, mentions: 0 })],
      invitations: [],
    });
    assert.equal(later.conversations.c2?.mentions, 0);
  });

  test('a read mark from another client clears the counts; the echo of one that changes nothing leaves the state as it is', () => {
    let s = reduce(loaded(), ev('message.created', { message: msg('c2', 1) }));
    assert.equal(s.conversations.c2?.unread, 1);
    s = reduce(s, ev('read.updated', { conversationId: 'c2', lastReadSeq: 1, unread: 0, mentions: 0 }));
    assert.deepEqual([s.conversations.c2?.lastReadSeq, s.conversations.c2?.unread], [1, 0]);
    // Nothing new: the very same state, so nothing is rendered for it.
    assert.equal(reduce(s, ev('read.updated', { conversationId: 'c2', lastReadSeq: 1, unread: 0, mentions: 0 })), s);
  });

  test('the input state is never mutated', () => {
    const s = loaded();
    const copy = structuredClone(s);
    reduce(s, ev('message.created', { message: msg('c2', 1, { mentions: ['me'] }) }));
    reduce(s, { type: 'open', conversationId: 'c2' });
    reduce(s, ev('server.removed', { serverId: 's1', reason: 'banned' }));
    assert.deepEqual(s, copy);
  });
});

describe('the notice line', () => {
  test('a notice goes when another conversation opens, and stays when the same one is opened again', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'notice', text: 'no conversation with carol yet', level: 'info' });
    assert.equal(reduce(s, { type: 'open', conversationId: 'c1' }).notice?.text, 'no conversation with carol yet');
    assert.equal(reduce(s, { type: 'open', conversationId: 'c2' }).notice, null);
  });

  test('an info notice goes after 8 ticks of the clock, an error after 20', () => {
    let s = reduce(loaded(), { type: 'notice', text: 'invite code: X', level: 'info' });
    for (let i = 0; i < 7; i++) s = reduce(s, { type: 'tick', now: i });
    assert.equal(s.notice?.text, 'invite code: X', 'still there after 7');
    s = reduce(s, { type: 'tick', now: 8 });
    assert.equal(s.notice, null);
    let e = reduce(loaded(), { type: 'notice', text: 'forbidden', level: 'error' });
    for (let i = 0; i < 19; i++) e = reduce(e, { type: 'tick', now: i });
    assert.equal(e.notice?.text, 'forbidden');
    assert.equal(reduce(e, { type: 'tick', now: 20 }).notice, null);
  });

  test('a tick with no notice and nobody typing changes nothing (no render)', () => {
    const s = loaded();
    assert.equal(reduce(s, { type: 'tick', now: 5 }), s);
  });
});

describe('scrolling', () => {
  function withHistory(n: number): State {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h' });
    const messages = Array.from({ length: n }, (_, i) => msg('c1', i + 1));
    s = reduce(s, { type: 'history', conversationId: 'c1', messages, hasMore: false, direction: 'latest' });
    return s;
  }

  test('scrolled up, a new message below moves the window up by its rows, so the screen stays; End brings it down', () => {
    let s = withHistory(30);
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 10 });
    const three = msg('c1', 31, { body: 'one\ntwo\nthree' });
    s = reduce(s, ev('message.created', { message: three }));
    assert.equal(s.views.c1?.scrollBack, 13, 'three rows more from the bottom');
    assert.equal(s.views.c1?.newBelow, 1);
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 0 });
    assert.equal(s.views.c1?.newBelow, 0);
    // At the bottom, new messages are followed.
    s = reduce(s, ev('message.created', { message: msg('c1', 32) }));
    assert.equal(s.views.c1?.scrollBack, 0);
    assert.equal(s.views.c1?.newBelow, 0);
  });

  test('reopening a conversation keeps the older messages loaded, and the top marker stays at message 1', () => {
    const page = (s: State, messages: Message[], hasMore: boolean, direction: 'latest' | 'before') =>
      reduce(s, { type: 'history', conversationId: 'c1', messages, hasMore, direction });
    let s = withHistory(0);
    const all = Array.from({ length: 120 }, (_, i) => msg('c1', i + 1));
    s = page(s, all.slice(70), true, 'latest');
    s = page(s, all.slice(20, 70), true, 'before');
    s = page(s, all.slice(0, 20), false, 'before');
    assert.equal(s.views.c1?.hasMoreBefore, false);
    // Away and back: the latest page joins what is loaded.
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    s = reduce(s, { type: 'open', conversationId: 'c1' });
    s = page(s, all.slice(70), true, 'latest');
    assert.equal(s.views.c1?.lines.length, 120);
    assert.equal(s.views.c1?.hasMoreBefore, false);
    // After a gap (messages missed while away), the latest page replaces the view and more is before it.
    const later = Array.from({ length: 50 }, (_, i) => msg('c1', 500 + i));
    s = reduce(s, { type: 'history', conversationId: 'c1', messages: later, hasMore: true, direction: 'latest' });
    assert.deepEqual(
      s.views.c1?.lines.map((l) => l.seq),
      later.map((m) => m.seq),
    );
    assert.equal(s.views.c1?.hasMoreBefore, true, 'what is before the page is unknown again');
  });
});

describe('a PageUp at the top of what is loaded', () => {
  /** c1 open in a list 60 wide and 20 high, its latest 50 of 300 messages loaded. */
  function tall(): State {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h', height: 20 });
    const latest = Array.from({ length: 50 }, (_, i) => msg('c1', 251 + i));
    return reduce(s, { type: 'history', conversationId: 'c1', messages: latest, hasMore: true, direction: 'latest' });
  }
  const geometry = { meId: ME.id, meUsername: ME.username, width: 60, height: 20, timeFormat: '24h' as const };
  const older = (from: number, n: number) => Array.from({ length: n }, (_, i) => msg('c1', from + i));

  test('owes the rows it could not go up, and the older messages come in scrolled up by them: a whole page in all', () => {
    let s = tall();
    // 50 one-line messages and their day's separator: 51 rows; scrolled up, 19 of them show.
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 30 });
    const v = s.views.c1;
    if (!v) return assert.fail('no view');
    const page = pageScroll(30, 20, false, 'up') - 30;
    const to = scrollView(v, page, geometry, true);
    assert.deepEqual(to, { scrollBack: 32, owed: page - 2, fetch: true }, 'two rows up, the rest owed');
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: to.scrollBack, owed: to.owed });
    s = reduce(s, { type: 'history-loading', conversationId: 'c1' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: older(201, 50),
      hasMore: true,
      direction: 'before',
    });
    assert.equal(s.views.c1?.scrollBack, 30 + page, 'one page up from where the press was made');
    assert.equal(s.views.c1?.owed, 0);
  });

  test('without a debt, older messages come in above and the window stays where it is', () => {
    let s = tall();
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 32 });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: older(201, 50),
      hasMore: true,
      direction: 'before',
    });
    assert.equal(s.views.c1?.scrollBack, 32);
  });

  test('older messages that do not cover the debt pay what they can and leave the rest owed; at the first message nothing is owed', () => {
    let s = tall();
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 32, owed: 40 });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: older(231, 20),
      hasMore: true,
      direction: 'before',
    });
    // 20 more rows above: the window goes up by them, and owes the other 20.
    assert.equal(s.views.c1?.scrollBack, 52);
    assert.equal(s.views.c1?.owed, 20);
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: older(221, 10),
      hasMore: false,
      direction: 'before',
    });
    // Only 10 more rows, plus the "beginning of conversation" row: as far up as there is, and no debt.
    assert.equal(s.views.c1?.scrollBack, 63);
    assert.equal(s.views.c1?.owed, 0);
  });

  test('any other scroll, or opening the conversation again, cancels the debt', () => {
    let s = tall();
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 32, owed: 17 });
    assert.equal(reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 20 }).views.c1?.owed, 0);
    assert.equal(reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 32 }).views.c1?.owed, 0, 'same place');
    assert.equal(reduce(s, { type: 'open', conversationId: 'c1' }).views.c1?.owed, 0);
  });
});

describe('messages kept per conversation', () => {
  const all = Array.from({ length: KEPT_LINES + 200 }, (_, i) => msg('c1', i + 1));
  const seqs = (s: State, id = 'c1') => s.views[id]?.lines.map((l) => l.seq) ?? [];
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  /** c1 open with every message loaded (scrolled up to the first), as scrolling back leaves it. */
  function everythingLoaded(): State {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(-50),
      hasMore: true,
      direction: 'latest',
    });
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 5000 });
    for (let end = all.length - 50; end > 0; end -= 50) {
      s = reduce(s, { type: 'history-loading', conversationId: 'c1' });
      const page = all.slice(Math.max(0, end - 50), end);
      s = reduce(s, { type: 'history', conversationId: 'c1', messages: page, hasMore: end > 50, direction: 'before' });
    }
    return s;
  }

  test('scrolled up, everything scrolled through stays loaded, down to message 1', () => {
    const s = everythingLoaded();
    assert.deepEqual(seqs(s), range(1, all.length));
    assert.equal(s.views.c1?.hasMoreBefore, false);
    // Messages arriving below while reading up there drop nothing.
    const more = reduce(s, ev('message.created', { message: msg('c1', all.length + 1) }));
    assert.deepEqual(seqs(more), range(1, all.length + 1));
  });

  test('back at the newest (End), only the newest KEPT_LINES stay, and older ones are to be fetched again', () => {
    let s = reduce(everythingLoaded(), { type: 'scroll', conversationId: 'c1', scrollBack: 0 });
    assert.deepEqual(seqs(s), range(all.length - KEPT_LINES + 1, all.length));
    assert.equal(s.views.c1?.hasMoreBefore, true, 'scrolling up fetches what was dropped');
    // Following the newest, each message that arrives pushes the oldest one out.
    s = reduce(s, ev('message.created', { message: msg('c1', all.length + 1) }));
    assert.deepEqual(seqs(s), range(all.length - KEPT_LINES + 2, all.length + 1));
    // Scrolling back up fetches the dropped pages, reaching message 1 exactly.
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 100 });
    while (s.views.c1?.hasMoreBefore) {
      const oldest = s.views.c1.lines[0]?.seq ?? 1;
      const page = all.slice(Math.max(0, oldest - 51), oldest - 1);
      s = reduce(s, {
        type: 'history',
        conversationId: 'c1',
        messages: page,
        hasMore: oldest - 51 > 0,
        direction: 'before',
      });
    }
    assert.deepEqual(seqs(s), range(1, all.length + 1));
  });

  test('a pending message of mine is never dropped', () => {
    let s = everythingLoaded();
    s = reduce(s, { type: 'pending', conversationId: 'c1', nonce: 'n1', body: 'on its way', kind: 'text', at: 5 });
    // Sending brings the view down to the newest, which drops the older ones but not the pending line.
    assert.equal(s.views.c1?.scrollBack, 0);
    s = reduce(s, ev('message.created', { message: msg('c1', all.length + 1) }));
    const lines = s.views.c1?.lines ?? [];
    assert.equal(lines.filter((l) => l.id !== null).length, KEPT_LINES);
    assert.equal(lines.at(-1)?.pending, true);
  });

  test('a conversation left at its newest keeps its newest messages only, and never piles up', () => {
    let s = reduce(everythingLoaded(), { type: 'scroll', conversationId: 'c1', scrollBack: 0 });
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    assert.deepEqual(seqs(s), range(all.length - KEPT_LINES + 1, all.length));
    assert.equal(s.views.c1?.hasMoreBefore, true);
    for (let seq = all.length + 1; seq <= all.length + 30; seq++)
      s = reduce(s, ev('message.created', { message: msg('c1', seq) }));
    assert.deepEqual(seqs(s), range(all.length + 30 - KEPT_LINES + 1, all.length + 30));
  });

  test('a conversation left scrolled up is found where it was left, what came since below and unread', () => {
    let s = everythingLoaded();
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 120 });
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    assert.deepEqual(seqs(s), range(1, all.length), 'nothing dropped');
    assert.equal(s.views.c1?.scrollBack, 120);
    for (let seq = all.length + 1; seq <= all.length + 3; seq++)
      s = reduce(s, ev('message.created', { message: msg('c1', seq) }));
    // Each one-line message below moved the window up by its row: the same messages are in it.
    assert.equal(s.views.c1?.scrollBack, 123);
    s = reduce(s, { type: 'open', conversationId: 'c1' });
    assert.equal(s.views.c1?.scrollBack, 123, 'back where it was');
    assert.equal(s.views.c1?.newBelow, 3);
    assert.equal(s.conversations.c1?.unread, 3, 'not read: not seen yet');
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 0 });
    assert.equal(s.conversations.c1?.unread, 0, 'read at the bottom');
    // Opening the one already open goes to its newest messages.
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 40 });
    assert.equal(reduce(s, { type: 'open', conversationId: 'c1' }).views.c1?.scrollBack, 0);
  });

  test('a conversation left scrolled up while far more than it keeps arrive goes back to its newest', () => {
    let s = everythingLoaded();
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 120 });
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    const last = KEPT_SCROLLED_LINES + 1;
    for (let seq = all.length + 1; seq <= last; seq++)
      s = reduce(s, ev('message.created', { message: msg('c1', seq) }));
    assert.equal(s.views.c1?.scrollBack, 0);
    assert.deepEqual(seqs(s), range(last - KEPT_LINES + 1, last));
  });

  test('while older pages load (a search hit being reached), arrivals drop nothing', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(50),
      hasMore: true,
      direction: 'latest',
    });
    s = reduce(s, { type: 'history-loading', conversationId: 'c1' });
    s = reduce(s, ev('message.created', { message: msg('c1', all.length + 1) }));
    assert.deepEqual(seqs(s), range(51, all.length + 1));
  });

  test('the first message unread on opening stays loaded while it is near, for the new-messages line', () => {
    // Opened with everything after message 100 unread.
    let s = loaded();
    s = reduce(s, {
      type: 'loaded',
      servers: [],
      conversations: [
        summary('c1', 'channel', 'general', { lastSeq: all.length, lastReadSeq: 100, unread: all.length - 100 }),
      ],
      invitations: [],
    });
    s = reduce(s, { type: 'open', conversationId: 'c1' });
    assert.equal(s.views.c1?.newFrom, 101);
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(50),
      hasMore: true,
      direction: 'latest',
    });
    s = reduce(s, ev('message.created', { message: msg('c1', all.length + 1) }));
    // More than KEPT_LINES are loaded: those before message 101 go, none from it on.
    assert.deepEqual(seqs(s), range(101, all.length + 1));
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 0 });
    assert.equal(s.views.c1?.lines[0]?.seq, 101);
    // Once the conversation has moved on further than the app fetches back, the older ones go.
    for (let seq = all.length + 2; seq <= 100 + NEW_FROM_REACH + 1; seq++) {
      s = reduce(s, ev('message.created', { message: msg('c1', seq) }));
    }
    assert.equal(s.views.c1?.lines.filter((l) => l.id !== null).length, KEPT_LINES);
  });
});

describe('nextActivity (Alt-A)', () => {
  test('mentions first, then DMs with unread messages, then any unread; none: null', () => {
    const withCounts = (counts: Record<string, { unread: number; mentions: number }>) => {
      let s = reduce(loaded(), { type: 'open', conversationId: 'c2' });
      for (const [id, c] of Object.entries(counts)) {
        const conv = s.conversations[id];
        if (conv) s = { ...s, conversations: { ...s.conversations, [id]: { ...conv, ...c } } };
      }
      return s;
    };
    assert.equal(nextActivity(withCounts({})), null);
    assert.equal(nextActivity(withCounts({ c1: { unread: 3, mentions: 0 } })), 'c1');
    assert.equal(nextActivity(withCounts({ c1: { unread: 3, mentions: 0 }, d1: { unread: 1, mentions: 0 } })), 'd1');
    assert.equal(
      nextActivity(
        withCounts({ c1: { unread: 3, mentions: 0 }, d1: { unread: 1, mentions: 0 }, g1: { unread: 1, mentions: 1 } }),
      ),
      'g1',
    );
  });
});

describe('what goes away under me', () => {
  test('the open channel deleted: a notice says so; another channel deleted: no notice', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    const other = reduce(s, ev('channel.deleted', { serverId: 's1', channelId: 'c2' }));
    assert.equal(other.notice, null);
    s = reduce(s, ev('channel.deleted', { serverId: 's1', channelId: 'c1' }));
    assert.equal(s.active, null);
    assert.equal(s.notice?.text, '#general was deleted');
  });

  test('the open group left: a notice says so', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'g1' });
    s = reduce(s, ev('group.removed', { groupId: 'g1' }));
    assert.equal(s.notice?.text, 'you are no longer in +friends');
  });
});

describe('the new-messages line', () => {
  test('opening a conversation with unread messages remembers where they begin; one with none, nothing', () => {
    let s = loaded();
    const c2 = s.conversations.c2;
    if (!c2) return assert.fail('no c2');
    s = { ...s, conversations: { ...s.conversations, c2: { ...c2, lastSeq: 9, lastReadSeq: 6, unread: 3 } } };
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    assert.equal(s.views.c2?.newFrom, 7);
    assert.equal(s.conversations.c2?.unread, 0, 'and marks them read');
    // Opening it again (read now) shows no line.
    s = reduce(s, { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'open', conversationId: 'c2' });
    assert.equal(s.views.c2?.newFrom, null);
  });
});

describe('every event the app follows', () => {
  const bobUser = { ...BOB, status: null, bio: null, createdAt: 0 };
  const carol = { id: 'carol', username: 'carol', displayName: null, status: null, bio: null, createdAt: 0 };
  function withMembers(): State {
    return reduce(loaded(), {
      type: 'members',
      scopeId: 's1',
      members: [
        { user: { id: 'me', username: 'alice', displayName: null }, role: 'owner' },
        { user: BOB, role: 'member' },
      ],
    });
  }

  test('read.updated (from another of my clients) sets the read position and the counts', () => {
    let s = reduce(loaded(), ev('message.created', { message: msg('c2', 1, { mentions: ['me'] }) }));
    assert.equal(s.conversations.c2?.unread, 1);
    s = reduce(s, ev('read.updated', { conversationId: 'c2', lastReadSeq: 1, unread: 0, mentions: 0 }));
    assert.equal(s.conversations.c2?.lastReadSeq, 1);
    assert.equal(s.conversations.c2?.unread, 0);
    assert.equal(s.conversations.c2?.mentions, 0);
    // For a conversation I do not have: nothing changes.
    assert.equal(reduce(s, ev('read.updated', { conversationId: 'zz', lastReadSeq: 1, unread: 0, mentions: 0 })), s);
  });

  test('member.joined adds to a loaded member list with presence; member.updated changes the role in place; member.left removes', () => {
    let s = withMembers();
    s = reduce(
      s,
      ev('member.joined', { serverId: 's1', member: { user: carol, role: 'member', joinedAt: 1, online: true } }),
    );
    assert.deepEqual(
      s.members.s1?.map((m) => [m.user.username, m.role]),
      [
        ['alice', 'owner'],
        ['bob', 'member'],
        ['carol', 'member'],
      ],
    );
    assert.equal(s.online.carol, true);
    s = reduce(
      s,
      ev('member.updated', { serverId: 's1', member: { user: bobUser, role: 'admin', joinedAt: 1, online: false } }),
    );
    assert.equal(s.members.s1?.find((m) => m.user.id === 'bob')?.role, 'admin');
    assert.equal(s.members.s1?.length, 3, 'replaced, not added');
    s = reduce(s, ev('member.left', { serverId: 's1', userId: 'carol', reason: 'kicked' }));
    assert.deepEqual(
      s.members.s1?.map((m) => m.user.username),
      ['alice', 'bob'],
    );
    // A server whose members were never loaded: nothing to update.
    const fresh = loaded();
    assert.equal(
      reduce(
        fresh,
        ev('member.joined', { serverId: 's1', member: { user: carol, role: 'member', joinedAt: 1, online: true } }),
      ),
      fresh,
    );
  });

  test('user.updated renames a DM, the member lists, and me', () => {
    let s = withMembers();
    s = reduce(s, ev('user.updated', { user: { ...bobUser, username: 'robert' } }));
    assert.equal(s.conversations.d1?.name, 'robert');
    assert.equal(s.conversations.d1?.peer?.username, 'robert');
    assert.equal(s.members.s1?.find((m) => m.user.id === 'bob')?.user.username, 'robert');
    s = reduce(s, ev('user.updated', { user: { ...bobUser, id: 'me', username: 'alicia' } }));
    assert.deepEqual(s.me, { id: 'me', username: 'alicia' });
  });

  test('server.updated renames the server; one I am not in changes nothing', () => {
    const info = {
      id: 's1',
      name: 'acme corp',
      description: null,
      ownerId: 'me',
      createdAt: 0,
      memberCount: 2,
      role: 'owner' as const,
    };
    const s = reduce(loaded(), ev('server.updated', { server: info }));
    assert.equal(s.servers.s1?.name, 'acme corp');
    const other = reduce(s, ev('server.updated', { server: { ...info, id: 's9' } }));
    assert.equal(other, s);
  });

  test('channel.updated renames and re-sorts the channel, and sets its topic', () => {
    const s = reduce(
      loaded(),
      ev('channel.updated', {
        channel: { id: 'c1', serverId: 's1', name: 'a-first', topic: 'all about it', createdAt: 0, lastSeq: 2 },
      }),
    );
    assert.equal(s.conversations.c1?.name, 'a-first');
    assert.equal(s.conversations.c1?.topic, 'all about it');
    assert.deepEqual(s.servers.s1?.channelIds, ['c1', 'c2'], 'sorted by name again');
  });

  test('channel.updated sets and clears slow mode', () => {
    const channel = { id: 'c1', serverId: 's1', name: 'general', topic: null, createdAt: 0, lastSeq: 2 };
    const slow = reduce(loaded(), ev('channel.updated', { channel: { ...channel, slowmode: 30 } }));
    assert.equal(slow.conversations.c1?.slowmode, 30);
    const off = reduce(slow, ev('channel.updated', { channel }));
    assert.equal(off.conversations.c1?.slowmode, undefined);
  });

  test('group.updated renames a group and sets its members; a new one appears', () => {
    let s = reduce(
      loaded(),
      ev('group.updated', {
        group: {
          id: 'g1',
          name: 'pals',
          members: [BOB, { id: 'me', username: 'alice', displayName: null }],
          invited: [],
          createdAt: 0,
          lastSeq: 4,
        },
      }),
    );
    assert.equal(s.conversations.g1?.name, 'pals');
    assert.equal(s.conversations.g1?.lastSeq, 4);
    assert.deepEqual(
      s.members.g1?.map((m) => m.user.username),
      ['bob', 'alice'],
    );
    s = reduce(
      s,
      ev('group.updated', { group: { id: 'g2', name: 'new', members: [BOB], invited: [], createdAt: 0, lastSeq: 0 } }),
    );
    assert.equal(s.conversations.g2?.kind, 'group');
    assert.ok(sidebarOrder(s).includes('g2'));
  });

  test('presence sets who is online', () => {
    let s = reduce(loaded(), ev('presence', { userId: 'bob', online: true }));
    assert.equal(s.online.bob, true);
    s = reduce(s, ev('presence', { userId: 'bob', online: false }));
    assert.equal(s.online.bob, false);
  });

  test('scroll sets the window of one conversation; negative is the bottom; End clears the count of new ones', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 12 });
    assert.equal(s.views.c1?.scrollBack, 12);
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: -5 });
    assert.equal(s.views.c1?.scrollBack, 0);
  });

  test('toggle-server folds a server out of the sidebar order and back', () => {
    let s = reduce(loaded(), { type: 'toggle-server', serverId: 's1' });
    assert.equal(s.servers.s1?.expanded, false);
    assert.deepEqual(sidebarOrder(s), ['g1', 'd1']);
    s = reduce(s, { type: 'toggle-server', serverId: 's1' });
    assert.deepEqual(sidebarOrder(s), ['c2', 'c1', 'g1', 'd1']);
  });

  test('select picks a message of the open conversation and scrolls to it; opening another ends it', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'select', conversationId: 'c1', seq: 2, scrollBack: 3 });
    assert.deepEqual(s.selected, { conversationId: 'c1', seq: 2 });
    assert.equal(s.views.c1?.scrollBack, 3);
    assert.equal(reduce(s, { type: 'open', conversationId: 'c1' }).selected?.seq, 2, 'the same one again keeps it');
    assert.equal(reduce(s, { type: 'open', conversationId: 'c2' }).selected, null);
    assert.equal(reduce(s, { type: 'select', conversationId: 'c1', seq: null }).selected, null);
  });
});

describe('a resize while scrolled up', () => {
  test('keeps the same message at the bottom of the window, however its rows wrap now', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h', height: 20 });
    // Bodies of many lengths, so a narrower list wraps each differently.
    const messages = Array.from({ length: 100 }, (_, i) =>
      msg('c1', i + 1, { body: `m${i + 1} ${'word '.repeat((i * 7) % 23)}` }),
    );
    s = reduce(s, { type: 'history', conversationId: 'c1', messages, hasMore: false, direction: 'latest' });
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 137 });
    const bottom = (st: State, width: number) => {
      const v = st.views.c1;
      if (!v) return assert.fail('no view');
      const rows = layoutMessages({
        lines: v.lines,
        meId: ME.id,
        meUsername: ME.username,
        width,
        height: 20,
        scrollBack: v.scrollBack,
        hasMoreBefore: false,
        loading: false,
        timeFormat: '24h',
      }).rows;
      // The last message row (under it, a row says there is more below).
      return rows
        .map((r) => r.key.replace(/:\d+$/, ''))
        .filter((k) => k.startsWith('c1-'))
        .at(-1);
    };
    const before = bottom(s, 60);
    assert.ok(before?.startsWith('c1-'), `a message at the bottom (${before})`);
    const narrow = reduce(s, { type: 'layout', width: 30, timeFormat: '24h', height: 20 });
    assert.notEqual(narrow.views.c1?.scrollBack, 137, 'counted again in rows of the new width');
    assert.equal(bottom(narrow, 30), before);
    const wide = reduce(narrow, { type: 'layout', width: 100, timeFormat: '24h', height: 30 });
    assert.equal(bottom(wide, 100), before);
    // A change of height alone moves nothing: the window keeps its bottom.
    assert.equal(reduce(s, { type: 'layout', width: 60, timeFormat: '24h', height: 35 }).views.c1?.scrollBack, 137);
  });
});

describe('info lines: what happens in a conversation, written by the app', () => {
  const AT = Date.UTC(2024, 2, 5, 12, 0);
  const carol = { id: 'carol', username: 'carol', displayName: null, status: null, bio: null, createdAt: 0 };
  const bobUser = { ...BOB, status: null, bio: null, createdAt: 0 };
  let cursor = 0;
  /** An event as the server streams it: with a cursor, at `at` on the app's clock. */
  function live<N extends EventMessage['event']>(event: N, data: EventMessage<N>['data'], at = AT): Action {
    cursor += 1;
    return { type: 'event', event: { event, data, cursor: String(cursor) } as AnyEvent, at };
  }
  const infos = (s: State, id = 'c1') =>
    (s.views[id]?.lines ?? []).filter((l) => l.kind === 'info').map((l) => [l.body, l.createdAt]);
  const order = (s: State, id = 'c1') =>
    (s.views[id]?.lines ?? []).map((l) => (l.kind === 'info' ? l.body : `#${l.seq}`));
  /** c1 open with messages 1 and 2, c2 loaded but not open, g1 with its members; acme's members known. */
  function here(): State {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 1), msg('c1', 2)],
      hasMore: false,
      direction: 'latest',
    });
    s = reduce(s, { type: 'history', conversationId: 'c2', messages: [], hasMore: false, direction: 'latest' });
    s = reduce(s, {
      type: 'members',
      scopeId: 's1',
      members: [
        { user: { id: 'me', username: 'alice', displayName: null }, role: 'owner' },
        { user: BOB, role: 'member' },
      ],
    });
    return s;
  }

  test('joined, left, kicked and banned show in every loaded channel of the server, at their time, and count as nothing unread', () => {
    const before = here();
    let s = reduce(
      before,
      live('member.joined', {
        serverId: 's1',
        member: { user: carol, role: 'member', joinedAt: AT - 5, online: true },
      }),
    );
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'carol', reason: 'left' }));
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'kicked' }, AT + 1));
    s = reduce(
      s,
      live('member.joined', {
        serverId: 's1',
        member: { user: bobUser, role: 'member', joinedAt: AT + 2, online: true },
      }),
    );
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'banned' }, AT + 3));
    const expected = [
      ['carol joined', AT - 5],
      ['carol left', AT],
      ['bob was kicked', AT + 1],
      ['bob joined', AT + 2],
      ['bob was banned', AT + 3],
    ];
    assert.deepEqual(infos(s, 'c1'), expected, 'the open channel');
    assert.deepEqual(infos(s, 'c2'), expected, 'another loaded channel of the server');
    assert.deepEqual(order(s), ['#1', '#2', ...expected.map(([t]) => t)], 'after the messages');
    for (const l of s.views.c1?.lines.filter((l) => l.kind === 'info') ?? []) {
      assert.deepEqual([l.id, l.seq, l.mentionsMe, l.pending], [null, null, false, false]);
    }
    for (const id of ['c1', 'c2']) {
      const c = s.conversations[id];
      assert.deepEqual(
        [c?.unread, c?.mentions, c?.lastSeq],
        [before.conversations[id]?.unread, 0, before.conversations[id]?.lastSeq],
      );
    }
    assert.deepEqual([s.bell, s.alert, s.notice], [0, null, null], 'no bell, no notification');
    // The member list follows, as before.
    assert.deepEqual(
      s.members.s1?.map((m) => m.user.username),
      ['alice'],
    );
    // A conversation whose messages were never loaded gets nothing (it shows none of its messages either).
    assert.equal(s.views.g1, undefined);
  });

  test('someone who left is named from a loaded message of theirs when the member list is not known', () => {
    let s = here();
    s = { ...s, members: {} };
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'left' }));
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'nobody-known', reason: 'kicked' }));
    assert.deepEqual(
      infos(s).map(([t]) => t),
      ['bob left', 'a member was kicked'],
    );
  });

  test('who kicked, banned or changed the topic, and why a ban was given, when the server says; "you" when it was me', () => {
    let s = here();
    const carol = { id: 'carol', username: 'carol', displayName: null };
    const me = { id: ME.id, username: ME.username, displayName: null };
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'kicked', by: carol, note: null }));
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'banned', by: me, note: 'spam' }));
    const channel = { id: 'c1', serverId: 's1', name: 'general', topic: 'ship it', createdAt: 0, lastSeq: 2 };
    s = reduce(s, live('channel.updated', { channel, by: carol }));
    s = reduce(s, live('channel.updated', { channel: { ...channel, name: 'lobby', topic: null }, by: me }));
    assert.deepEqual(
      infos(s, 'c1').map(([t]) => t),
      [
        'bob was kicked by carol',
        'bob was banned by you (spam)',
        'carol set the topic: ship it',
        'you renamed the channel #lobby',
        'you cleared the topic',
      ],
    );
  });

  test('timeouts, slow mode, automod flags and held messages decided are lines where they happened', () => {
    let s = here();
    const carol = { id: 'carol', username: 'carol', displayName: null };
    const bob = { id: 'bob', username: 'bob', displayName: null };
    const until = new Date(2026, 11, 1, 14, 5).getTime();
    s = reduce(s, live('member.timeout', { serverId: 's1', user: bob, until, by: carol, note: 'cool down' }));
    s = reduce(s, live('member.timeout', { serverId: 's1', user: bob, until: null, by: carol, note: null }));
    s = reduce(s, live('member.timeout', { serverId: 's1', user: bob, until, by: null, rule: 'flood', note: null }));
    const channel = { id: 'c1', serverId: 's1', name: 'general', topic: null, createdAt: 0, lastSeq: 2 };
    s = reduce(s, live('channel.updated', { channel: { ...channel, slowmode: 30 }, by: carol }));
    s = reduce(s, live('channel.updated', { channel, by: carol }));
    s = reduce(
      s,
      live('automod.flagged', {
        serverId: 's1',
        conversationId: 'c1',
        channel: 'general',
        user: bob,
        rules: [{ name: 'no spam', trigger: 'spam*' }],
        actions: ['block'],
        body: 'spam',
        seq: null,
        heldId: null,
        edit: false,
      }),
    );
    s = reduce(
      s,
      live('held.resolved', {
        serverId: 's1',
        heldId: 'h1',
        conversationId: 'c1',
        outcome: 'rejected',
        seq: null,
        nonce: 'n-other',
        by: carol,
        note: 'spam',
      }),
    );
    assert.deepEqual(
      infos(s, 'c1').map(([t]) => t),
      [
        'bob is timed out until 14:05 by carol (cool down)',
        "carol lifted bob's timeout",
        'bob is timed out until 14:05 by the rule "flood"',
        'carol set slow mode: one message every 30 s',
        'carol turned slow mode off',
        'automod blocked a message by bob: "no spam"',
        'carol rejected a held message (spam)',
      ],
    );
    assert.equal(s.conversations.c1?.slowmode, undefined);
  });

  test('my send held for review stays as held, not as failed; approved, the message takes its place; rejected, it goes', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 1)],
      hasMore: false,
      direction: 'latest',
    });
    for (const nonce of ['h1', 'h2']) {
      s = reduce(s, { type: 'pending', conversationId: 'c1', nonce, body: `see ${nonce}`, kind: 'text', at: 1001 });
      s = reduce(s, { type: 'send-held', conversationId: 'c1', nonce, note: 'held for review (rule "links")' });
    }
    assert.deepEqual(
      s.views.c1?.lines.map((l) => [l.body, l.pending, l.failed, l.held]),
      [
        ['m1', false, null, undefined],
        ['see h1', false, null, 'held for review (rule "links")'],
        ['see h2', false, null, 'held for review (rule "links")'],
      ],
    );
    // Esc takes refused lines away, not held ones.
    s = reduce(s, { type: 'dismiss-failed', conversationId: 'c1' });
    assert.equal(s.views.c1?.lines.length, 3);
    s = reduce(s, ev('message.created', { message: msg('c1', 2, { body: 'see h1', nonce: 'h1' }) }));
    const resolved = {
      serverId: 's1',
      heldId: 'x',
      conversationId: 'c1',
      seq: null,
      nonce: 'h2',
      by: { id: 'carol', username: 'carol', displayName: null },
      note: null,
    };
    s = reduce(s, ev('held.resolved', { ...resolved, outcome: 'rejected' as const }));
    assert.deepEqual(
      s.views.c1?.lines.filter((l) => l.kind !== 'info').map((l) => [l.body, l.id, l.held]),
      [
        ['m1', 'c1-1', undefined],
        ['see h1', 'c1-2', undefined],
      ],
    );
  });

  test('a role, a topic, a channel name, a server name: each change is a line where it shows; the same again is none', () => {
    let s = here();
    s = reduce(
      s,
      live('member.updated', { serverId: 's1', member: { user: bobUser, role: 'admin', joinedAt: 1, online: true } }),
    );
    s = reduce(
      s,
      live('member.updated', { serverId: 's1', member: { user: bobUser, role: 'admin', joinedAt: 1, online: true } }),
    );
    const channel = { id: 'c1', serverId: 's1', name: 'general', topic: 'ship it', createdAt: 0, lastSeq: 2 };
    s = reduce(s, live('channel.updated', { channel }));
    s = reduce(s, live('channel.updated', { channel }));
    s = reduce(s, live('channel.updated', { channel: { ...channel, name: 'lobby', topic: null } }));
    s = reduce(
      s,
      live('server.updated', {
        server: {
          id: 's1',
          name: 'acme2',
          description: null,
          ownerId: 'me',
          createdAt: 0,
          memberCount: 2,
          role: 'owner',
        },
      }),
    );
    assert.deepEqual(
      infos(s, 'c1').map(([t]) => t),
      [
        'bob is now an admin',
        'the topic is now: ship it',
        'the channel is now #lobby',
        'the topic was cleared',
        'the server is now called acme2',
      ],
    );
    assert.deepEqual(
      infos(s, 'c2').map(([t]) => t),
      ['bob is now an admin', 'the server is now called acme2'],
      "a channel's topic is its own",
    );
    assert.equal(s.conversations.c1?.name, 'lobby', 'the sidebar follows, as before');
  });

  test("a group's members who came and went, and its new name, show in the group", () => {
    let s = reduce(here(), { type: 'open', conversationId: 'g1' });
    s = reduce(s, { type: 'history', conversationId: 'g1', messages: [], hasMore: false, direction: 'latest' });
    const me = { id: 'me', username: 'alice', displayName: null };
    s = reduce(s, { type: 'members', scopeId: 'g1', members: [me, BOB].map((user) => ({ user, role: null })) });
    const group = { id: 'g1', name: 'friends', members: [me, BOB], invited: [], createdAt: 0, lastSeq: 0 };
    s = reduce(s, live('group.updated', { group: { ...group, members: [me, BOB, carol] } }));
    s = reduce(s, live('group.updated', { group: { ...group, name: 'pals', members: [me, carol] } }));
    assert.deepEqual(
      infos(s, 'g1').map(([t]) => t),
      ['carol joined', 'the group is now +pals', 'bob left'],
    );
    assert.deepEqual(
      s.members.g1?.map((m) => m.user.username),
      ['alice', 'carol'],
    );
    assert.deepEqual(infos(s, 'c1'), [], 'nowhere else');
  });

  test('the same event again (a replay) adds no second line', () => {
    const kicked = live('member.left', { serverId: 's1', userId: 'bob', reason: 'kicked' });
    const s = reduce(reduce(here(), kicked), kicked);
    assert.deepEqual(
      infos(s).map(([t]) => t),
      ['bob was kicked'],
    );
  });

  test('an info line stays after the message it followed: messages after it, older pages, the latest page again', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    const all = Array.from({ length: 120 }, (_, i) => msg('c1', i + 1));
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(60, 100),
      hasMore: true,
      direction: 'latest',
    });
    s = reduce(
      s,
      live('channel.updated', {
        channel: { id: 'c1', serverId: 's1', name: 'general', topic: 't1', createdAt: 0, lastSeq: 100 },
      }),
    );
    // The app's clock is ahead of the server's (the line's time is after the later messages'): that does not move it.
    for (const m of all.slice(100, 110)) s = reduce(s, ev('message.created', { message: m }));
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(10, 60),
      hasMore: true,
      direction: 'before',
    });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(60, 110),
      hasMore: true,
      direction: 'latest',
    });
    const o = order(s);
    assert.equal(o.indexOf('the topic is now: t1'), o.indexOf('#100') + 1);
    assert.equal(o.at(-1), '#110');
    assert.equal(o.filter((x) => x.startsWith('the topic')).length, 1);
    // After a gap the latest page replaces the view: a line about an earlier time goes with what was shown.
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [msg('c1', 500)],
      hasMore: true,
      direction: 'latest',
    });
    assert.deepEqual(order(s), ['#500']);
  });

  test('a line in a conversation with no message yet is found when the messages come in', () => {
    let s = reduce(loaded(), { type: 'members', scopeId: 's1', members: [{ user: BOB, role: 'member' }] });
    s = reduce(s, { type: 'history-loading', conversationId: 'c2' });
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'left' }));
    s = reduce(s, { type: 'history', conversationId: 'c2', messages: [], hasMore: false, direction: 'latest' });
    s = reduce(s, ev('message.created', { message: msg('c2', 1) }));
    assert.deepEqual(order(s, 'c2'), ['bob left', '#1']);
  });

  test('trimmed to the newest messages, info lines go with the messages around them', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h' });
    const all = Array.from({ length: KEPT_LINES + 100 }, (_, i) => msg('c1', i + 1));
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(0, 50),
      hasMore: false,
      direction: 'latest',
    });
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'kicked' }));
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: all.slice(50, 300),
      hasMore: false,
      direction: 'gap',
    });
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'banned' }));
    for (const m of all.slice(300)) s = reduce(s, ev('message.created', { message: m }));
    const o = order(s);
    assert.equal(o.filter((x) => x.startsWith('#')).length, KEPT_LINES);
    assert.deepEqual(
      o.filter((x) => !x.startsWith('#')),
      ['bob was banned'],
      'the line among dropped messages went with them',
    );
    assert.equal(o.indexOf('bob was banned'), o.indexOf('#300') + 1);
  });

  test('scrolled up, an info line below moves the window up by its rows; it is not a new message below', () => {
    let s = reduce(loaded(), { type: 'open', conversationId: 'c1' });
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h' });
    const messages = Array.from({ length: 30 }, (_, i) => msg('c1', i + 1, { createdAt: AT - 1000 + i }));
    s = reduce(s, { type: 'history', conversationId: 'c1', messages, hasMore: false, direction: 'latest' });
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 10 });
    const long = `a topic ${'that goes on '.repeat(8)}`.trim();
    s = reduce(
      s,
      live('channel.updated', {
        channel: { id: 'c1', serverId: 's1', name: 'general', topic: long, createdAt: 0, lastSeq: 30 },
      }),
    );
    assert.ok(s.views.c1 && s.views.c1.scrollBack > 11, 'a wrapped line moves it by each of its rows');
    const rows = (s.views.c1?.scrollBack ?? 0) - 10;
    s = reduce(s, live('member.left', { serverId: 's1', userId: 'bob', reason: 'left' }));
    assert.equal(s.views.c1?.scrollBack, 10 + rows + 1);
    assert.equal(s.views.c1?.newBelow, 0);
  });
});
