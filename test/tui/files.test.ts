import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Attachment, Message } from '../../src/protocol/index.js';
import { COMMANDS, parseCommand, splitPath } from '../../src/tui/commands.js';
import { complete, escapePath, listPaths } from '../../src/tui/completion.js';
import { expandHome, numberedName, tildePath } from '../../src/tui/files.js';
import { pastedPath } from '../../src/tui/paste.js';
import { initialState, reduce } from '../../src/tui/reducer.js';
import type { State } from '../../src/tui/state.js';
import { messageRows } from '../../src/tui/view/message-layout.js';
import { transferText } from '../../src/tui/view/status-text.js';

// Files in the terminal app without a server: paths typed, completed and pasted, names to save under,
// and the state of uploads and of messages with files.

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'natter-paths-'));
  mkdirSync(join(dir, 'Pictures'));
  mkdirSync(join(dir, 'Pictures', 'cats'));
  mkdirSync(join(dir, '.secret'));
  writeFileSync(join(dir, 'Pictures', 'cat one.png'), 'x');
  writeFileSync(join(dir, 'Pictures', 'cat.png'), 'x');
  writeFileSync(join(dir, 'Pictures', '.hidden.png'), 'x');
  writeFileSync(join(dir, 'notes.txt'), 'x');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('path completion', () => {
  const where = () => ({ home: dir, cwd: join(dir, 'Pictures') });
  const candidates = () => ({
    usernames: ['bob'],
    channels: [],
    commands: COMMANDS.map((c) => c.name),
    paths: (typed: string) => listPaths(typed, where()),
  });

  test('~ is the home directory; directories first, ending with /; the next Tab goes on from one', () => {
    assert.deepEqual(
      listPaths('~/', where()).map((p) => p.path),
      ['~/Pictures/', '~/notes.txt'],
    );
    assert.deepEqual(complete('/upload ~/Pi', true, candidates(), 0)?.text, '/upload ~/Pictures/');
    assert.deepEqual(complete('/upload ~/Pictures/', true, candidates(), 0)?.candidates, [
      '~/Pictures/cats/',
      '~/Pictures/cat one.png',
      '~/Pictures/cat.png',
    ]);
  });

  test('a file ends with a space, its own spaces escaped; Tab again cycles', () => {
    const first = complete('/upload ~/Pictures/cat', true, candidates(), 1);
    assert.equal(first?.text, '/upload ~/Pictures/cat\\ one.png ');
    assert.equal(complete('/upload ~/Pictures/cat', true, candidates(), 2)?.text, '/upload ~/Pictures/cat.png ');
    // An escaped space typed already is part of the path.
    assert.equal(complete('/file ~/Pictures/cat\\ o', true, candidates(), 0)?.text, '/file ~/Pictures/cat\\ one.png ');
    assert.equal(escapePath("a b'c"), "a\\ b\\'c");
  });

  test('hidden files only when what is typed starts with a dot; relative paths from where the app started', () => {
    assert.deepEqual(
      listPaths('', where()).map((p) => p.path),
      ['cats/', 'cat one.png', 'cat.png'],
    );
    assert.deepEqual(
      listPaths('.', where()).map((p) => p.path),
      ['.hidden.png'],
    );
    assert.deepEqual(
      listPaths('~/.', where()).map((p) => p.path),
      ['~/.secret/'],
    );
    assert.equal(complete('/avatar c', true, candidates(), 0)?.text, '/avatar cats/');
  });

  test('nothing to complete in a missing directory, and other commands complete as before', () => {
    assert.equal(complete('/upload ~/nowhere/x', true, candidates(), 0), null);
    assert.equal(complete('/kick b', true, candidates(), 0)?.text, '/kick bob ');
    assert.equal(complete('/upl', true, candidates(), 0)?.text, '/upload ');
  });
});

describe('paths typed and pasted', () => {
  test('/upload takes a path (escaped, quoted or a file:// address) and the rest as the message', () => {
    assert.deepEqual(splitPath('~/my\\ cat.png look at him'), { path: '~/my cat.png', rest: 'look at him' });
    assert.deepEqual(splitPath('"/tmp/my cat.png"'), { path: '/tmp/my cat.png', rest: '' });
    assert.deepEqual(splitPath('file:///tmp/my%20cat.png hi'), { path: '/tmp/my cat.png', rest: 'hi' });
    assert.equal(splitPath('  '), null);
    const ctx = { active: null, serverName: () => null, servers: [], groups: [], invitations: [] };
    assert.deepEqual(parseCommand('/file x.png the caption', ctx), {
      type: 'upload',
      path: 'x.png',
      caption: 'the caption',
    });
    assert.deepEqual(parseCommand('/avatar none', ctx), { type: 'avatar', path: null });
    assert.deepEqual(parseCommand('/avatar ~/me.png', ctx), { type: 'avatar', path: '~/me.png' });
    assert.equal(parseCommand('/upload', ctx).type, 'error');
    assert.deepEqual(parseCommand('/whois @bob', ctx), { type: 'whois', username: 'bob' });
  });

  test('a paste is a path when it is one path alone, as file managers give them', () => {
    assert.equal(pastedPath('/home/me/x.png\n'), '/home/me/x.png');
    assert.equal(pastedPath("'/home/me/my x.png'"), '/home/me/my x.png');
    assert.equal(pastedPath('/home/me/my\\ x.png'), '/home/me/my x.png');
    assert.equal(pastedPath('file:///home/me/my%20x.png'), '/home/me/my x.png');
    assert.equal(pastedPath('~/x.png'), '~/x.png');
    assert.equal(pastedPath('file://elsewhere/x.png'), null, 'another host');
    assert.equal(pastedPath('look at /home/me/x.png'), null, 'words');
    assert.equal(pastedPath('/a.png\n/b.png'), null, 'several');
    assert.equal(pastedPath('x.png'), null, 'not a path');
  });

  test('saved files never replace another: numbered names keep the extension', () => {
    assert.equal(numberedName('cat.png', 0), 'cat.png');
    assert.equal(numberedName('cat.png', 2), 'cat (2).png');
    assert.equal(numberedName('README', 1), 'README (1)');
    assert.equal(numberedName('archive.tar.gz', 1), 'archive.tar (1).gz');
    assert.equal(expandHome('~/x', '/home/me'), '/home/me/x');
    assert.equal(tildePath('/home/me/Downloads/x', '/home/me'), '~/Downloads/x');
  });
});

describe('state: uploads and messages with files', () => {
  const file: Attachment = {
    id: 'f1',
    name: 'cat.png',
    size: 2048,
    type: 'image/png',
    url: '/media/v1/f1/cat.png',
    thumbnailUrl: '/media/v1/thumbs/f1',
    width: 400,
    height: 200,
  };
  function withChannel(): State {
    let s = reduce(initialState('ws://x'), { type: 'authenticated', me: { id: 'me', username: 'alice' } });
    s = reduce(s, {
      type: 'loaded',
      servers: [],
      conversations: [
        {
          id: 'c1',
          kind: 'group',
          serverId: null,
          name: 'g',
          topic: null,
          peer: null,
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

  test('progress replaces what was known of a transfer; done takes it off the status line', () => {
    let s = withChannel();
    s = reduce(s, { type: 'transfer', transfer: { id: 'u1', kind: 'upload', name: 'cat.png', sent: 0, total: 2048 } });
    s = reduce(s, {
      type: 'transfer',
      transfer: { id: 'u1', kind: 'upload', name: 'cat.png', sent: 1024, total: 2048 },
    });
    assert.equal(transferText(Object.values(s.transfers)), '⇡ cat.png 50% of 2 KB');
    s = reduce(s, { type: 'transfer', transfer: { id: 'd1', kind: 'download', name: 'x', sent: 0, total: 2048 } });
    assert.equal(transferText(Object.values(s.transfers)), '⇡ 2 files 25% of 4 KB');
    s = reduce(s, { type: 'transfer-done', id: 'u1' });
    assert.equal(transferText(Object.values(s.transfers)), '⇣ x 0% of 2 KB');
    s = reduce(s, { type: 'transfer-done', id: 'd1' });
    assert.deepEqual(s.transfers, {});
    assert.equal(transferText([]), null);
    assert.equal(reduce(s, { type: 'transfer-done', id: 'd1' }), s, 'done twice changes nothing');
  });

  test('a file sent shows as mine while it goes, then as the stored message with the same file', () => {
    let s = withChannel();
    s = reduce(s, {
      type: 'pending',
      conversationId: 'c1',
      nonce: 'n1',
      body: '',
      kind: 'text',
      at: 5,
      attachments: [file],
    });
    const pending = s.views.c1?.lines.at(-1);
    assert.deepEqual([pending?.pending, pending?.attachments?.[0]?.id], [true, 'f1']);
    const stored: Message = {
      id: 'm1',
      conversationId: 'c1',
      seq: 1,
      author: { id: 'me', username: 'alice', displayName: null },
      bot: false,
      kind: 'text',
      body: '',
      createdAt: 6,
      editedAt: null,
      deletedAt: null,
      nonce: 'n1',
      mentions: [],
      attachments: [file],
    };
    s = reduce(s, { type: 'sent', nonce: 'n1', message: stored });
    const lines = s.views.c1?.lines ?? [];
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0]?.pending, lines[0]?.attachments], [false, [file]]);
  });

  test('scrolled up, a picture arriving below moves the window up by all its rows, preview included', () => {
    let s = withChannel();
    s = reduce(s, { type: 'layout', width: 60, timeFormat: '24h', height: 10, previewRows: 6 });
    const m = (seq: number, attachments?: Attachment[]): Message => ({
      id: `m${seq}`,
      conversationId: 'c1',
      seq,
      author: { id: 'bob', username: 'bob', displayName: null },
      bot: false,
      kind: 'text',
      body: `m${seq}`,
      createdAt: 1000 + seq,
      editedAt: null,
      deletedAt: null,
      nonce: null,
      mentions: [],
      ...(attachments ? { attachments } : {}),
    });
    s = reduce(s, {
      type: 'history',
      conversationId: 'c1',
      messages: [1, 2, 3, 4].map((n) => m(n)),
      hasMore: false,
      direction: 'latest',
    });
    s = reduce(s, { type: 'scroll', conversationId: 'c1', scrollBack: 2 });
    const line = { ...m(5, [file]) };
    s = reduce(s, { type: 'event', event: { event: 'message.created', data: { message: line } } as never });
    const rows = messageRows(s.views.c1?.lines.at(-1) ?? (undefined as never), {
      meId: 'me',
      width: 60,
      media: { previewRows: 6 },
    }).length;
    assert.equal(rows, 1 + 1 + 6, 'text, file row, preview');
    assert.equal(s.views.c1?.scrollBack, 2 + rows);
    // Previews turned off: the same place, counted without them.
    const off = reduce(s, { type: 'layout', width: 60, timeFormat: '24h', height: 10, previewRows: 0 });
    assert.equal(off.views.c1?.scrollBack, 2 + 2);
  });
});
