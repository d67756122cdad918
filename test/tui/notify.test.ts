import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AnyEvent, Message } from '../../src/protocol/index.js';
import { DEFAULT_CONFIG, type Notifications } from '../../src/tui/config.js';
import { desktopSequence, Notifier } from '../../src/tui/notify.js';
import { initialState, reduce } from '../../src/tui/reducer.js';
import type { Action, State } from '../../src/tui/state.js';
import { highlighted } from '../../src/tui/view/highlight.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'natter-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BOB = { id: 'bob', username: 'bob', displayName: null };

function ev(event: AnyEvent['event'], data: unknown): Action {
  return { type: 'event', event: { event, data } as AnyEvent };
}

function msg(conversationId: string, seq: number, body: string, mentions: string[] = []): Message {
  return {
    id: `${conversationId}-${seq}`,
    conversationId,
    seq,
    author: BOB,
    body,
    createdAt: 1000 + seq,
    editedAt: null,
    deletedAt: null,
    nonce: null,
    mentions,
  } as Message;
}

/** alice, in acme (#general open, #ops not) and a DM with bob; `words` are her highlight words. */
function chat(words: string[] = []): State {
  let s = reduce(initialState('ws://x'), { type: 'authenticated', me: { id: 'me', username: 'alice' } });
  s = reduce(s, { type: 'highlights', words });
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
        channelIds: ['c1', 'c2'],
      },
    ],
    conversations: [
      {
        id: 'c1',
        kind: 'channel',
        serverId: 's1',
        name: 'general',
        topic: null,
        peer: null,
        lastSeq: 0,
        lastReadSeq: 0,
        unread: 0,
        mentions: 0,
        lastMessage: null,
      },
      {
        id: 'c2',
        kind: 'channel',
        serverId: 's1',
        name: 'ops',
        topic: null,
        peer: null,
        lastSeq: 0,
        lastReadSeq: 0,
        unread: 0,
        mentions: 0,
        lastMessage: null,
      },
      {
        id: 'd1',
        kind: 'dm',
        serverId: null,
        name: 'bob',
        topic: null,
        peer: { ...BOB, status: null, bio: null, createdAt: 0 },
        lastSeq: 0,
        lastReadSeq: 0,
        unread: 0,
        mentions: 0,
        lastMessage: null,
      },
    ],
    invitations: [],
  });
  return reduce(s, { type: 'open', conversationId: 'c1' });
}

function notifier(state: State, config: Partial<Notifications>, env: NodeJS.ProcessEnv = {}) {
  const written: string[] = [];
  const problems: string[] = [];
  const n = new Notifier(state, {
    config: { ...DEFAULT_CONFIG.notifications, ...config },
    write: (d) => written.push(d),
    env: { PATH: process.env.PATH, ...env },
    onProblem: (t) => problems.push(t),
  });
  return { n, written, problems };
}

describe('highlight words', () => {
  test('whole words, in any case and accents; not inside a longer word', () => {
    assert.equal(highlighted('the Deploy is done', ['deploy']), true);
    assert.equal(highlighted('DÉPLOY!', ['deploy']), true);
    assert.equal(highlighted('a deployment', ['deploy']), false);
    assert.equal(highlighted('redeploy now', ['deploy']), false);
    assert.equal(highlighted('call the on-call', ['on-call']), true);
    assert.equal(highlighted('nothing here', []), false);
    assert.equal(highlighted('café', ['cafe']), true);
  });

  test('a message with one counts as a mention of me: badge, mention style, and an alert with who, where and what', () => {
    let s = chat(['outage']);
    s = reduce(s, ev('message.created', { message: msg('c2', 1, 'Outage in eu-west') }));
    assert.equal(s.conversations.c2?.mentions, 1);
    assert.equal(s.bell, 1);
    assert.deepEqual(s.alert, {
      reason: 'mention',
      conversationId: 'c2',
      from: 'bob',
      where: '#ops (acme)',
      text: 'Outage in eu-west',
    });
    // Mine never highlights me.
    const before = s.bell;
    s = reduce(
      s,
      ev('message.created', {
        message: { ...msg('c2', 2, 'outage over'), author: { id: 'me', username: 'alice', displayName: null } },
      }),
    );
    assert.equal(s.bell, before);
  });
});

describe('the notifier', () => {
  test('the bell and an OSC 777 notification for a DM; nothing for a message in the open conversation', () => {
    let s = chat();
    const { n, written } = notifier(s, { desktop: 'osc777' });
    s = reduce(s, ev('message.created', { message: msg('c1', 1, 'in the open one') }));
    n.update(s);
    assert.deepEqual(written, []);
    s = reduce(s, ev('message.created', { message: msg('d1', 1, 'psst; hi\u001b[2J') }));
    n.update(s);
    assert.deepEqual(written, ['\u0007', '\u001b]777;notify;bob (direct message);psst, hi [2J\u0007']);
    // The same state again: no second notification.
    n.update(s);
    assert.equal(written.length, 2);
  });

  test('OSC 9, wrapped for tmux when TMUX is set; onMention false keeps mentions quiet', () => {
    const alert = {
      reason: 'mention' as const,
      conversationId: 'c2',
      from: 'bob',
      where: '#ops (acme)',
      text: 'hey @alice',
    };
    assert.equal(desktopSequence('osc9', alert, false), '\u001b]9;bob in #ops (acme): hey @alice\u0007');
    assert.equal(
      desktopSequence('osc9', alert, true),
      '\u001bPtmux;\u001b\u001b]9;bob in #ops (acme): hey @alice\u0007\u001b\\',
    );
    let s = chat();
    const { n, written } = notifier(s, { onMention: false, desktop: 'osc9' });
    s = reduce(s, ev('message.created', { message: msg('c2', 1, 'hey @alice', ['me']) }));
    n.update(s);
    assert.deepEqual(written, []);
  });

  test('the command runs with the details in its environment (never in its command line)', async () => {
    const out = join(dir, 'env.txt');
    const command = `printf '%s|%s|%s|%s|%s' "$NATTER_REASON" "$NATTER_FROM" "$NATTER_WHERE" "$NATTER_TEXT" "$NATTER_MORE" > '${out}'`;
    let s = chat();
    const { n, problems } = notifier(s, { bell: false, command });
    s = reduce(s, ev('message.created', { message: msg('c2', 1, 'hey @alice $(touch pwned) `id`', ['me']) }));
    n.update(s);
    const text = await waitFor(() => (existsSync(out) ? readFileSync(out, 'utf8') || undefined : undefined), {
      what: 'the command to write its environment',
    });
    assert.equal(text, 'mention|bob|#ops (acme)|hey @alice $(touch pwned) `id`|0');
    assert.equal(existsSync(join(process.cwd(), 'pwned')), false);
    assert.deepEqual(problems, []);
  });

  test('one command at a time: what comes meanwhile is folded into the next run (NATTER_MORE)', async () => {
    const gate = join(dir, 'gate');
    const log = join(dir, 'log.txt');
    writeFileSync(log, '');
    // The first run waits for the gate file; the test opens it once two more have arrived.
    const command = `while [ ! -f '${gate}' ]; do sleep 0.02; done; printf '%s:%s\\n' "$NATTER_TEXT" "$NATTER_MORE" >> '${log}'`;
    let s = chat();
    const { n } = notifier(s, { bell: false, command });
    for (const [i, body] of ['one', 'two', 'three'].entries()) {
      s = reduce(s, ev('message.created', { message: msg('d1', i + 1, body) }));
      n.update(s);
    }
    writeFileSync(gate, '');
    const lines = await waitFor(
      () => {
        const l = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
        return l.length === 2 ? l : undefined;
      },
      { what: 'two runs of the command' },
    );
    assert.deepEqual(lines, ['one:0', 'three:1']);
  });

  test('a folded run says how many of each kind it folds, and describes the mention among them, not the latest DM', async () => {
    const gate = join(dir, 'gate-kinds');
    const log = join(dir, 'kinds.txt');
    writeFileSync(log, '');
    const command = `while [ ! -f '${gate}' ]; do sleep 0.02; done; printf '%s %s %s %s %s %s\\n' "$NATTER_REASON" "$NATTER_TEXT" "$NATTER_MORE" "$NATTER_MORE_MENTIONS" "$NATTER_MORE_DMS" "$NATTER_MORE_INVITATIONS" >> '${log}'`;
    let s = chat();
    const { n } = notifier(s, { bell: false, command });
    const arrivals: [string, number, string, string[]][] = [
      ['d1', 1, 'first', []],
      ['d1', 2, 'dm-a', []],
      ['c2', 1, 'ping-@alice', ['me']],
      ['d1', 3, 'dm-b', []],
      ['d1', 4, 'dm-c', []],
    ];
    for (const [conv, seq, body, mentions] of arrivals) {
      s = reduce(s, ev('message.created', { message: msg(conv, seq, body, mentions) }));
      n.update(s);
    }
    writeFileSync(gate, '');
    const lines = await waitFor(
      () => {
        const l = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
        return l.length === 2 ? l : undefined;
      },
      { what: 'two runs of the command' },
    );
    // The second run folds four: it describes the mention, and counts the three DMs besides it.
    assert.deepEqual(lines, ['dm first 0 0 0 0', 'mention ping-@alice 3 0 3 0']);
  });

  test('a command that fails is reported once, in words', async () => {
    const runs = join(dir, 'runs.txt');
    writeFileSync(runs, '');
    let s = chat();
    const { n, problems } = notifier(s, { bell: false, command: `echo run >> '${runs}'; exit 3` });
    s = reduce(s, ev('message.created', { message: msg('d1', 1, 'a') }));
    n.update(s);
    await waitFor(() => problems.length === 1, { what: 'the problem reported' });
    s = reduce(s, ev('message.created', { message: msg('d1', 2, 'b') }));
    n.update(s);
    // The second run has ended when the first notification after it can run.
    s = reduce(s, ev('message.created', { message: msg('d1', 3, 'c') }));
    n.update(s);
    await waitFor(() => readFileSync(runs, 'utf8').trim().split('\n').length >= 2, {
      what: 'the command to run again',
    });
    await waitFor(() => readFileSync(runs, 'utf8').trim().split('\n').length === 3, { what: 'the third run' });
    assert.deepEqual(problems, ['the notification command failed (exit status 3)']);
  });
});
