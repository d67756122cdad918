import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AnyEvent, EventMessage, HeldMessage, Report } from '../../src/protocol/index.js';
import { parseCommand } from '../../src/tui/commands.js';
import {
  itemText,
  moderationItems,
  moreCommand,
  reviewScopes,
  selectedIndex,
  waitingBadge,
} from '../../src/tui/moderation.js';
import { initialState, reduce } from '../../src/tui/reducer.js';
import { type Action, INSTANCE_QUEUE, type State } from '../../src/tui/state.js';

const CAROL = { id: 'carol', username: 'carol', displayName: null };
const BOB = { id: 'bob', username: 'bob', displayName: null };

function ev<N extends EventMessage['event']>(event: N, data: EventMessage<N>['data'], cursor?: string): Action {
  return { type: 'event', event: { event, data, ...(cursor ? { cursor } : {}) } as AnyEvent };
}

function held(id: string, serverId = 's1', extra: Partial<HeldMessage> = {}): HeldMessage {
  return {
    id,
    serverId,
    conversationId: 'c1',
    channel: 'general',
    author: CAROL,
    body: `see https://example.com/${id}`,
    kind: 'text',
    heldBy: 'links',
    createdAt: 1000,
    ...extra,
  };
}

function report(id: number, serverId: string | null = 's1', extra: Partial<Report> = {}): Report {
  return {
    id,
    serverId,
    conversation: { id: 'c1', kind: 'channel', name: 'general' },
    messageId: `m${id}`,
    seq: id,
    targetUser: CAROL,
    reporter: BOB,
    reason: 'spam',
    details: null,
    snapshot: 'cheap watches',
    status: 'open',
    resolution: null,
    resolvedBy: null,
    note: null,
    createdAt: 2000 + id,
    resolvedAt: null,
    ...extra,
  };
}

/** Me in two servers: moderator of acme (s1), a member of other (s2); `operator` when asked. */
function start(operator = false): State {
  let s = reduce(initialState('ws://x'), {
    type: 'authenticated',
    me: { id: 'me', username: 'alice', ...(operator ? { operator: true } : {}) },
  });
  const server = (id: string, name: string, role: 'moderator' | 'member') => ({
    id,
    name,
    description: null,
    ownerId: 'o',
    createdAt: 0,
    memberCount: 3,
    role,
    channelIds: [],
  });
  s = reduce(s, {
    type: 'loaded',
    servers: [server('s1', 'acme', 'moderator'), server('s2', 'other', 'member')],
    conversations: [],
    invitations: [],
  });
  return s;
}

describe('what waits for review', () => {
  test("only the servers I moderate are my queues, and the operators' when I am one", () => {
    assert.deepEqual(reviewScopes(start()), ['s1']);
    assert.deepEqual(reviewScopes(start(true)), ['s1', INSTANCE_QUEUE]);
    const member = reduce(initialState('ws://x'), { type: 'authenticated', me: { id: 'me', username: 'alice' } });
    assert.deepEqual(reviewScopes(member), []);
    assert.equal(waitingBadge(member), null, 'nobody who moderates nothing sees a badge');
  });

  test('the badge counts held messages and open reports from events; a repeat (a replay) adds nothing and rings once', () => {
    let s = start();
    assert.equal(waitingBadge(s), null, 'nothing waits: no badge');
    s = reduce(s, ev('message.held', { held: held('h1') }, '10'));
    assert.equal(waitingBadge(s), '1');
    assert.equal(s.bell, 1);
    assert.equal(s.alert?.reason, 'review');
    assert.equal(s.alert?.where, '#general (acme)');
    const again = reduce(s, ev('message.held', { held: held('h1') }, '10'));
    assert.equal(again, s, 'the same held message again changes nothing');
    s = reduce(s, ev('report.created', { report: report(12) }, '11'));
    s = reduce(s, ev('report.created', { report: report(12) }, '11'));
    assert.equal(waitingBadge(s), '2');
    assert.equal(s.bell, 2, 'the replayed report did not ring again');
    // Resolved (by me or by another moderator): off the list, the badge goes down; a replay of it changes nothing.
    s = reduce(
      s,
      ev('held.resolved', {
        serverId: 's1',
        heldId: 'h1',
        conversationId: 'c1',
        outcome: 'approved',
        seq: 7,
        nonce: 'n',
        by: BOB,
        note: null,
      }),
    );
    assert.equal(waitingBadge(s), '1');
    const resolved = report(12, 's1', { status: 'resolved', resolution: 'none', resolvedBy: BOB });
    s = reduce(s, ev('report.resolved', { report: resolved }));
    assert.equal(waitingBadge(s), null);
    assert.equal(reduce(s, ev('report.resolved', { report: resolved })), s);
    // A created event replayed after its report was resolved and listed again: the list decides.
    assert.equal(s.bell, 2);
  });

  test('items of servers I do not moderate are neither listed nor counted', () => {
    let s = start();
    s = reduce(s, ev('message.held', { held: held('h9', 's2') }));
    s = reduce(s, ev('report.created', { report: report(3, null) }));
    assert.deepEqual(moderationItems(s), []);
    assert.equal(waitingBadge(s), null);
    // Made a moderator of other: its held message counts; the operators' queue still does not.
    s = reduce(
      s,
      ev('member.updated', {
        serverId: 's2',
        member: {
          user: { id: 'me', username: 'alice', displayName: null, status: null, bio: null, createdAt: 0 },
          role: 'moderator',
          joinedAt: 0,
          online: true,
        },
      }),
    );
    assert.equal(s.servers.s2?.role, 'moderator');
    assert.deepEqual(
      moderationItems(s).map((i) => i.key),
      ['held:h9'],
    );
  });

  test('a loaded queue replaces what was known of it, says when it has more, and keeps the other queues', () => {
    let s = start(true);
    s = reduce(s, ev('message.held', { held: held('gone') }));
    s = reduce(s, ev('report.created', { report: report(5, null) }));
    s = reduce(s, { type: 'moderation-loading', scopes: ['s1', INSTANCE_QUEUE] });
    assert.equal(s.moderation.queues.s1?.loading, true);
    assert.equal(moderationItems(s).length, 2, 'what is known stays while loading');
    s = reduce(s, {
      type: 'moderation-loaded',
      queues: [
        {
          scope: 's1',
          held: [held('h2', 's1', { createdAt: 3000 })],
          reports: [report(7), report(8, 's1', { status: 'resolved' })],
          moreHeld: true,
          moreReports: false,
          error: null,
        },
        { scope: INSTANCE_QUEUE, held: [], reports: [], moreHeld: false, moreReports: false, error: 'forbidden' },
      ],
    });
    assert.deepEqual(
      moderationItems(s).map((i) => i.key),
      ['report:7', 'held:h2', 'report:5'],
      "acme oldest first (the held message that went is gone), then the operators' queue, kept as it failed to load",
    );
    assert.equal(waitingBadge(s), '3+');
    assert.equal(s.moderation.queues[INSTANCE_QUEUE]?.error, 'forbidden');
    assert.equal(s.moderation.queues.s1?.loading, false);
    assert.equal(moreCommand('s1', 'held', new Map([['s1', 'acme']])), 'natter hold list acme');
    assert.equal(moreCommand(INSTANCE_QUEUE, 'reports', new Map()), 'natter reports --instance');
    // Dealt with here: off the list at once; its event then changes nothing.
    s = reduce(s, { type: 'moderation-done', key: 'report:7' });
    assert.deepEqual(
      moderationItems(s).map((i) => i.key),
      ['held:h2', 'report:5'],
    );
  });

  test('the overlay keeps its item by key; when it goes, the one in its place is chosen', () => {
    let s = start();
    for (const id of ['a', 'b', 'c'])
      s = reduce(s, ev('message.held', { held: held(id, 's1', { createdAt: id.charCodeAt(0) }) }));
    s = reduce(s, { type: 'overlay', overlay: { kind: 'moderation', selected: 'held:b', index: 1 } });
    const o = s.overlay;
    assert.equal(o?.kind, 'moderation');
    if (o?.kind !== 'moderation') return;
    assert.equal(selectedIndex(moderationItems(s), o), 1);
    // Another moderator approves the first: the chosen item stays b, now first.
    s = reduce(
      s,
      ev('held.resolved', {
        serverId: 's1',
        heldId: 'a',
        conversationId: 'c1',
        outcome: 'rejected',
        seq: null,
        nonce: null,
        by: BOB,
        note: null,
      }),
    );
    assert.equal(selectedIndex(moderationItems(s), o), 0);
    assert.equal(moderationItems(s)[0]?.key, 'held:b');
    // b goes too: c, which took its place, is chosen; nothing left: index 0.
    s = reduce(s, { type: 'moderation-done', key: 'held:b' });
    assert.equal(moderationItems(s)[selectedIndex(moderationItems(s), o)]?.key, 'held:c');
    s = reduce(s, { type: 'moderation-done', key: 'held:c' });
    assert.equal(selectedIndex(moderationItems(s), o), 0);
    assert.deepEqual(moderationItems(s), []);
  });

  test('an item in words: where, who, what, why, every server string sanitized', () => {
    const s = start();
    const names = new Map([['s1', 'acme']]);
    const [h] = moderationItems(
      reduce(
        s,
        ev('message.held', { held: held('x', 's1', { body: 'hi\u001b[2Jthere\nnext', heldBy: 'classifier' }) }),
      ),
    );
    assert.ok(h);
    const t = itemText(h, names);
    assert.equal(t.where, '#general (acme)');
    assert.equal(t.why, 'held by the classifier');
    assert.doesNotMatch(t.what, /\u001b/);
    assert.match(t.what, /^hi␛\[2Jthere next$/);
    const [r] = moderationItems(
      reduce(
        s,
        ev('report.created', {
          report: report(4, 's1', {
            details: 'same link\u0007 everywhere',
            messageId: null,
            seq: null,
            snapshot: null,
            conversation: null,
          }),
        }),
      ),
    );
    assert.ok(r);
    const rt = itemText(r, names);
    assert.equal(rt.where, 'acme');
    assert.equal(rt.who, 'carol');
    assert.equal(rt.what, '(a report about the person)');
    assert.equal(rt.why, 'report #4 spam by bob: same link␇ everywhere');
  });
});

describe('/mod', () => {
  test('/mod and /moderation open the moderation view', () => {
    const ctx = { active: null, serverName: () => null, servers: [], groups: [], invitations: [] };
    assert.deepEqual(parseCommand('/mod', ctx), { type: 'moderation' });
    assert.deepEqual(parseCommand('/moderation', ctx), { type: 'moderation' });
  });
});
