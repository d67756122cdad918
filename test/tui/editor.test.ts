import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type EditOp,
  type Editor,
  edit,
  editorOf,
  emptyHistory,
  insert,
  moveLine,
  remember,
  walkHistory,
} from '../../src/tui/editor.js';

/** Applies `ops` in turn; a string is typed text. */
function run(start: Editor, ...ops: (EditOp | { type: string })[]): { editor: Editor; ring: string } {
  let editor = start;
  let ring = '';
  for (const op of ops) {
    if (typeof op === 'object') {
      editor = insert(editor, op.type);
      continue;
    }
    const out = edit(editor, op, ring);
    editor = out.editor;
    if (out.killed !== null) ring = out.killed;
  }
  return { editor, ring };
}
const type = (s: string) => ({ type: s });
const left = (n: number): EditOp[] => Array.from({ length: n }, () => 'left' as const);

describe('the line editor', () => {
  test('typing "helo world", Left ×7, "l" gives "hello world" with the cursor after the new l', () => {
    const { editor } = run(editorOf(''), type('helo world'), ...left(7), type('l'));
    assert.deepEqual(editor, { text: 'hello world', cursor: 4 });
  });

  test('Home and End (Ctrl-A, Ctrl-E) go to the ends of the line the cursor is on', () => {
    const start = editorOf('first line\nsecond line', 14);
    assert.equal(edit(start, 'lineStart').editor.cursor, 11);
    assert.equal(edit(start, 'lineEnd').editor.cursor, 22);
    assert.equal(edit(editorOf('first line\nsecond', 3), 'lineEnd').editor.cursor, 10);
  });

  test('word moves (Alt-B, Alt-F, Ctrl-Left, Ctrl-Right) skip punctuation and stop at word edges', () => {
    const e = editorOf('see you, @alice!');
    const back1 = edit(e, 'wordLeft').editor;
    assert.equal(back1.cursor, 10, 'before "alice"');
    assert.equal(edit(back1, 'wordLeft').editor.cursor, 4, 'before "you"');
    assert.equal(edit(editorOf('see you, @alice!', 0), 'wordRight').editor.cursor, 3);
    assert.equal(edit(editorOf('see you, @alice!', 3), 'wordRight').editor.cursor, 7);
  });

  test('Ctrl-W kills the word before the cursor, Ctrl-U to the line start, Ctrl-K to the end; Ctrl-Y yanks it back', () => {
    const w = run(editorOf('send the report now'), 'killWordBack');
    assert.deepEqual(w.editor, { text: 'send the report ', cursor: 16 });
    assert.equal(w.ring, 'now');
    const u = run(editorOf('send the report now', 9), 'killToLineStart');
    assert.deepEqual(u.editor, { text: 'report now', cursor: 0 });
    const k = run(editorOf('send the report now', 9), 'killToLineEnd', 'lineStart', 'yank');
    assert.deepEqual(k.editor, { text: 'report nowsend the ', cursor: 10 });
    assert.equal(k.ring, 'report now');
  });

  test('Ctrl-K at the end of a line joins the next one; Alt-D kills the next word', () => {
    assert.equal(edit(editorOf('one\ntwo', 3), 'killToLineEnd').editor.text, 'onetwo');
    assert.equal(edit(editorOf('one two three', 3), 'killWordForward').editor.text, 'one three');
  });

  test('Ctrl-U at the start of a line joins it to the one above, so repeated Ctrl-U empties a multi-line draft', () => {
    let e = editorOf('quote line\nsecond\nthird', 'quote line\nsecond\n'.length + 2);
    e = edit(e, 'killToLineStart').editor;
    assert.deepEqual([e.text, e.cursor], ['quote line\nsecond\nird', 'quote line\nsecond\n'.length]);
    e = edit(e, 'killToLineStart').editor;
    assert.equal(e.text, 'quote line\nsecondird');
    e = edit(e, 'killToLineStart').editor;
    e = edit(e, 'killToLineStart').editor;
    e = edit(e, 'killToLineStart').editor;
    assert.deepEqual([e.text, e.cursor], ['ird', 0]);
    // At the very start there is nothing above: nothing changes.
    assert.equal(edit(e, 'killToLineStart').editor.text, 'ird');
  });

  test('an emoji, a flag or an accent made of two code points moves and erases as one character', () => {
    const text = 'a👍🏽b🇫🇷e\u0301';
    let e = editorOf(text);
    e = edit(e, 'backspace').editor;
    assert.equal(e.text, 'a👍🏽b🇫🇷');
    e = edit(e, 'left').editor;
    assert.equal(e.text.slice(e.cursor), '🇫🇷');
    e = edit(e, 'left').editor;
    e = edit(e, 'left').editor;
    assert.equal(e.text.slice(e.cursor), '👍🏽b🇫🇷');
    assert.equal(edit(e, 'deleteForward').editor.text, 'ab🇫🇷');
    assert.equal(editorOf('👍🏽', 1).cursor, 0, 'a cursor inside a cluster moves to its start');
  });

  test('Up and Down move between lines of a multi-line text, keeping the column, and say when they are at the edge', () => {
    const e = editorOf('short\na longer line\nend', 15);
    const up = moveLine(e, 'up');
    assert.deepEqual(up, { text: e.text, cursor: 5 }, 'the column is cut to the shorter line');
    const down = moveLine(e, 'down');
    assert.equal(down?.cursor, 23);
    assert.equal(moveLine(editorOf('one line', 3), 'up'), null);
    assert.equal(moveLine(editorOf('one line', 3), 'down'), null);
  });
});

describe('the input history', () => {
  test('Up walks back through what was sent, Down forward, and past the newest brings back the draft', () => {
    let h = emptyHistory();
    h = remember(h, 'first');
    h = remember(h, 'second');
    h = remember(h, 'second');
    assert.deepEqual(h.entries, ['first', 'second'], 'the same text twice in a row is kept once');
    const a = walkHistory(h, 'half-written', -1);
    assert.equal(a?.text, 'second');
    const b = walkHistory(a?.history ?? h, 'second', -1);
    assert.equal(b?.text, 'first');
    assert.equal(walkHistory(b?.history ?? h, 'first', -1), null, 'nothing older');
    const c = walkHistory(b?.history ?? h, 'first', 1);
    assert.equal(c?.text, 'second');
    const d = walkHistory(c?.history ?? h, 'second', 1);
    assert.equal(d?.text, 'half-written');
    assert.equal(d?.history.index, null);
    assert.equal(walkHistory(d?.history ?? h, 'half-written', 1), null, 'nothing newer than the draft');
  });
});
