import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import type { ReactElement } from 'react';
import type { PublicUser } from '../../../src/protocol/index.js';
import { COMMANDS } from '../../../src/tui/commands.js';
import { HelpOverlay, helpRows } from '../../../src/tui/components/HelpOverlay.js';
import { LoginScreen, type LoginScreenProps } from '../../../src/tui/components/LoginScreen.js';
import { MemberList } from '../../../src/tui/components/MemberList.js';
import { keyHelp } from '../../../src/tui/keys.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

/** The first frame: ink-testing-library's render draws it synchronously. */
function frame(el: ReactElement): string {
  const r = render(el);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

const user = (username: string): PublicUser => ({
  id: `u-${username}`,
  username,
  displayName: null,
  status: null,
  bio: null,
  createdAt: 0,
});

describe('HelpOverlay', () => {
  const keys = [
    {
      title: 'Keys',
      rows: [
        { keys: 'Ctrl-K', action: 'switch conversation' },
        { keys: 'PgUp/PgDn', action: 'scroll' },
      ],
    },
  ];
  const commands = [
    { name: 'join', usage: '<channel>', description: 'join a channel' },
    { name: 'quit', usage: '', description: 'leave natter' },
  ];

  test('lists keys and commands in aligned columns', async () => {
    const out = frame(<HelpOverlay keys={keys} commands={commands} width={60} height={20} />);
    assert.match(out, /Keys/);
    assert.match(out, /Ctrl-K {5}switch conversation/);
    assert.match(out, /PgUp\/PgDn {2}scroll/);
    assert.match(out, /Commands/);
    assert.match(out, /\/join <channel> {2}join a channel/);
    assert.match(out, /\/quit {12}leave natter/);
    assert.match(out, /Esc to close/);
  });

  test('a long description wraps under itself in a narrow terminal: nothing is cut with "…"', async () => {
    const long = [
      {
        title: 'Keys',
        rows: [
          {
            keys: 'Ctrl-Up, Alt-K',
            action: 'Select a message, newest first: Up/Down move, e edits, d deletes, r replies',
          },
        ],
      },
    ];
    const out = frame(<HelpOverlay keys={long} commands={[]} width={40} height={20} />);
    assert.doesNotMatch(out, /…/);
    const words = out
      .replace(/[│╭╮╰╯─]/g, ' ')
      .split(/\s+/)
      .join(' ');
    assert.match(words, /Select a message, newest first: Up\/Down move, e edits, d deletes, r replies/);
  });

  test('a long list of keys wraps after a comma, never inside a key, and every key is shown', async () => {
    const many = [
      {
        title: 'Composer',
        rows: [{ keys: 'Alt-B, Alt-F, Ctrl-Left, Ctrl-Right, Alt-Left, Alt-Right', action: 'Move by word' }],
      },
    ];
    const out = frame(<HelpOverlay keys={many} commands={[]} width={40} height={20} />);
    assert.doesNotMatch(out, /…/);
    const left = out
      .split('\n')
      .map((row) => /^│ (.*?)(?: {2}|│)/.exec(row)?.[1]?.trim() ?? '')
      .filter((cell) => /^(Alt|Ctrl)-/.test(cell));
    assert.ok(left.length > 1, `wrapped: ${JSON.stringify(left)}`);
    assert.deepEqual(left.join(' ').split(/,? /), [
      'Alt-B',
      'Alt-F',
      'Ctrl-Left',
      'Ctrl-Right',
      'Alt-Left',
      'Alt-Right',
    ]);
  });

  test('scrolls when the terminal is too short, saying what is above and below', async () => {
    const top = frame(<HelpOverlay keys={keys} commands={commands} width={60} height={6} />);
    assert.match(top, /more below/);
    assert.ok(top.split('\n').length <= 8);
    const end = frame(<HelpOverlay keys={keys} commands={commands} width={60} height={6} offset={999} />);
    assert.match(end, /above {2}end of help/);
  });
});

describe('the help as the app shows it (F1)', () => {
  const keys = keyHelp();
  const commands = COMMANDS.map((c) => ({
    name: c.name,
    usage: c.usage.replace(/^\/\S+\s*/, ''),
    description: c.description,
  }));

  test('at 80x24: fits the screen, headings first, and scrolls to the rest', () => {
    const out = frame(<HelpOverlay keys={keys} commands={commands} width={80} height={23} />);
    const rows = out.split('\n');
    assert.ok(rows.length <= 23, `${rows.length} rows`);
    for (const row of rows) assert.ok(textWidth(row) <= 80, row);
    assert.match(out, /General/);
    assert.match(out, /F1 +Show keys and commands/);
    assert.match(out, /more below/);
    const end = frame(<HelpOverlay keys={keys} commands={commands} width={80} height={23} offset={9999} />);
    assert.match(end, /\/quit +Leave natter/);
    assert.match(end, /end of help/);
  });

  test('every heading, and every key whole: the composer’s editing, a selected message’s, the overlays’', () => {
    const rows = helpRows({ keys, commands, width: 80 });
    const headings = rows.filter((r) => r.segments[0]?.underline).map((r) => r.segments[0]?.text);
    assert.deepEqual(headings, [
      'General',
      'Conversations',
      'Scrolling',
      'Composer',
      'Selected message',
      'Switcher and search',
      'Moderation',
      'Commands',
    ]);
    // The key cells of one entry, wrapped over rows, read back as the whole list.
    const cells = new Map<string, string[]>();
    for (const r of rows) {
      const entry = /^(keys:\d+:\d+):\d+$/.exec(r.key)?.[1];
      const cell = r.segments[0]?.text.trim() ?? '';
      if (entry && cell !== '') cells.set(entry, [...(cells.get(entry) ?? []), cell]);
    }
    const shown = [...cells.values()].map((parts) => parts.join(' '));
    for (const g of keys) for (const r of g.rows) assert.ok(shown.includes(r.keys), `${g.title}: ${r.keys}`);
    for (const k of [
      'Alt-B, Alt-F (composer not empty), Ctrl-Left, Ctrl-Right, Alt-Left, Alt-Right',
      'Ctrl-Y',
      'Ctrl-P, Ctrl-N',
      'Alt-Enter, Ctrl-J',
      'Up, Down, k, j',
      'Home, End, g, G',
      'c, y',
    ]) {
      assert.ok(shown.includes(k), k);
    }
  });
});

describe('MemberList', () => {
  const members = [
    { user: user('zed'), role: 'member' },
    { user: user('amy'), role: 'member' },
    { user: user('bob'), role: 'admin' },
    { user: user('olga'), role: 'owner' },
    { user: user('carl'), role: null },
  ];
  const online = { 'u-zed': true, 'u-olga': true };

  test('roles as headings, online first then by name, with presence dots', async () => {
    const out = frame(<MemberList members={members} online={online} width={24} height={20} />);
    const rows = out.split('\n').map((r) => r.trimEnd());
    assert.deepEqual(rows.slice(0, 9), [
      'Owner — 1/1',
      '● olga',
      'Admins — 0/1',
      '○ bob',
      'Members — 1/3',
      '● zed',
      '○ amy',
      '○ carl',
      '',
    ]);
  });

  test('cuts to the height with a count of who is hidden', async () => {
    const out = frame(<MemberList members={members} online={online} width={24} height={4} />);
    const rows = out.split('\n');
    assert.equal(rows.length, 4);
    assert.match(rows[3] ?? '', /… 4 more/);
  });

  test('names are sanitized', async () => {
    const out = frame(
      <MemberList members={[{ user: user('x\u001b[2J'), role: 'member' }]} online={{}} width={24} height={4} />,
    );
    assert.doesNotMatch(out, /\u001b/);
    assert.match(out, /x␛\[2J/);
  });
});

describe('LoginScreen', () => {
  const base: LoginScreenProps = {
    mode: 'login',
    username: 'alice',
    password: 'hunter22',
    serverUrl: 'ws://localhost:7777',
    field: 'password',
    error: null,
    busy: false,
  };

  test('shows the fields, masks the password, marks the focused field', async () => {
    const out = frame(<LoginScreen {...base} />);
    assert.match(out, /natter — log in/);
    assert.match(out, /Server +ws:\/\/localhost:7777/);
    assert.match(out, /Username +alice/);
    assert.match(out, /› Password +•{8}/);
    assert.doesNotMatch(out, /hunter22/);
    assert.match(out, /Enter log in/);
  });

  test('a long key hint wraps inside the box instead of being cut', async () => {
    const hint = 'Tab/↑↓ fields · Enter next/submit · Ctrl-R login ⇄ register · Ctrl-C quit';
    const out = frame(<LoginScreen {...base} hint={hint} width={60} />);
    assert.doesNotMatch(out, /…/);
    const words = out
      .replace(/[│╭╮╰╯─]/g, ' ')
      .split(/\s+/)
      .join(' ');
    assert.ok(words.includes(hint.split(/\s+/).join(' ')), words);
  });

  test('register mode on a server that takes accounts by invite only: says so, and asks for the code', async () => {
    const out = frame(
      <LoginScreen {...base} mode="register" field="invite" invite="k7Hq2XpL9mZt" registration="invite" />,
    );
    assert.match(out, /takes new accounts only with an invite code/);
    assert.match(out, /› Invite +k7Hq2XpL9mZt/);
    assert.doesNotMatch(frame(<LoginScreen {...base} mode="register" registration="open" />), /Invite/);
    assert.doesNotMatch(frame(<LoginScreen {...base} registration="invite" />), /Invite/, 'not to log in');
    assert.match(frame(<LoginScreen {...base} mode="register" registration="closed" />), /not accepting new accounts/);
  });

  test('register mode, an error from the server, busy', async () => {
    const out = frame(<LoginScreen {...base} mode="register" field="username" error={'name taken\u001b[2J'} busy />);
    assert.match(out, /create an account/);
    assert.match(out, /✗ name taken␛\[2J/);
    assert.doesNotMatch(out, /\u001b/);
    assert.match(out, /registering…/);
    assert.match(out, /› Username/);
  });
});

describe('NoticeLine', () => {
  test('a long notice wraps onto up to four rows; only what is beyond is cut', async () => {
    const { noticeRows } = await import('../../../src/tui/components/NoticeLine.js');
    const usage =
      '/channel create NAME | rename NEWNAME | topic [TEXT|--clear] | delete: create a channel in the open server, rename it, set its topic, or delete it';
    const rows = noticeRows(usage, 40);
    assert.ok(rows.length > 1 && rows.length <= 4, `${rows.length} rows`);
    assert.equal(rows.join(' ').replace(/\s+/g, ' '), usage);
    const long = noticeRows('word '.repeat(100), 40);
    assert.equal(long.length, 4);
    assert.match(long[3] ?? '', /…$/);
  });
});
