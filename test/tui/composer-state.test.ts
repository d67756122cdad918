import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ComposerKey,
  type ComposerState,
  composerKey,
  composerKeyOf,
  draftsToSave,
  initialComposer,
  sent,
  startEdit,
  switchTo,
} from '../../src/tui/composer-state.js';

const type = (s: ComposerState, text: string) => composerKey(s, { kind: 'insert', text });
const keys = (s: ComposerState, ...ks: ComposerKey[]) => ks.reduce(composerKey, s);
const NO = {
  leftArrow: false,
  rightArrow: false,
  upArrow: false,
  downArrow: false,
  home: false,
  end: false,
  ctrl: false,
  meta: false,
  backspace: false,
  delete: false,
};

describe('the composer', () => {
  test('a draft stays with its conversation: typed in #general, it is not in #ops after a switch, and comes back', () => {
    let s = switchTo(initialComposer(), 'general');
    s = type(s, 'half a thought');
    s = switchTo(s, 'ops');
    assert.equal(s.editor.text, '', '#ops starts empty');
    s = type(s, 'deploy at 5');
    s = switchTo(s, 'general');
    assert.deepEqual(s.editor, { text: 'half a thought', cursor: 14 });
    s = switchTo(s, 'ops');
    assert.equal(s.editor.text, 'deploy at 5');
  });

  test('the drafts to keep on disk include the open conversation’s, and come back at the next start', () => {
    let s = switchTo(initialComposer(), 'a');
    s = type(s, 'draft a');
    s = switchTo(s, 'b');
    s = type(s, 'draft b');
    const saved = draftsToSave(s);
    assert.deepEqual(saved, { a: 'draft a', b: 'draft b' });
    const next = switchTo(initialComposer(saved, ['old']), 'b');
    assert.equal(next.editor.text, 'draft b');
    assert.equal(composerKey(switchTo(initialComposer(saved, ['old']), 'c'), { kind: 'up' }).editor.text, 'old');
  });

  test('Esc cancels an edit of a sent message and brings back the draft it replaced', () => {
    let s = switchTo(initialComposer(), 'general');
    s = type(s, 'my draft');
    s = startEdit(s, '/edit 12 the old text');
    assert.equal(s.editor.text, '/edit 12 the old text');
    s = switchTo(s, 'ops');
    s = switchTo(s, 'general');
    assert.equal(s.editor.text, 'my draft', 'switching away keeps the draft, not the edit');
    s = startEdit(s, '/edit 12 the old text');
    s = composerKey(s, { kind: 'cancel' });
    assert.equal(s.editor.text, 'my draft');
    assert.equal(composerKey(s, { kind: 'cancel' }).editor.text, 'my draft', 'Esc without an edit changes nothing');
  });

  test('Up on the first line walks back through what was sent; Down past the newest brings the draft back', () => {
    let s = switchTo(initialComposer(), 'general');
    s = sent(type(s, 'one'), 'one');
    s = sent(type(s, 'two'), 'two');
    s = type(s, 'thr');
    s = keys(s, { kind: 'up' });
    assert.equal(s.editor.text, 'two');
    s = keys(s, { kind: 'up' });
    assert.equal(s.editor.text, 'one');
    s = keys(s, { kind: 'down' }, { kind: 'down' });
    assert.equal(s.editor.text, 'thr');
  });

  test('in a multi-line message Up and Down move between its lines before reaching the history', () => {
    let s = switchTo(initialComposer({}, ['earlier']), 'g');
    s = type(s, 'line one\nline two');
    s = keys(s, { kind: 'up' });
    assert.equal(s.editor.text, 'line one\nline two', 'the cursor moved up a line');
    assert.equal(s.editor.cursor, 8);
    s = keys(s, { kind: 'up' });
    assert.equal(s.editor.text, 'earlier');
  });

  test('the keys: arrows, Home/End, Ctrl and Alt letters map to readline’s edits; other keys are not the composer’s', () => {
    assert.deepEqual(composerKeyOf('', { ...NO, leftArrow: true }), { kind: 'edit', op: 'left' });
    assert.deepEqual(composerKeyOf('', { ...NO, leftArrow: true, ctrl: true }), { kind: 'edit', op: 'wordLeft' });
    assert.deepEqual(composerKeyOf('f', { ...NO, meta: true }), { kind: 'edit', op: 'wordRight' });
    assert.deepEqual(composerKeyOf('', { ...NO, home: true }), { kind: 'edit', op: 'lineStart' });
    assert.deepEqual(composerKeyOf('e', { ...NO, ctrl: true }), { kind: 'edit', op: 'lineEnd' });
    assert.deepEqual(composerKeyOf('w', { ...NO, ctrl: true }), { kind: 'edit', op: 'killWordBack' });
    assert.deepEqual(composerKeyOf('', { ...NO, delete: true, meta: true }), { kind: 'edit', op: 'killWordBack' });
    assert.deepEqual(composerKeyOf('y', { ...NO, ctrl: true }), { kind: 'edit', op: 'yank' });
    assert.deepEqual(composerKeyOf('p', { ...NO, ctrl: true }), { kind: 'history', step: -1 });
    assert.deepEqual(composerKeyOf('', { ...NO, upArrow: true }), { kind: 'up' });
    assert.equal(composerKeyOf('', { ...NO, upArrow: true, meta: true }), null, 'Alt-Up is the previous conversation');
    assert.equal(composerKeyOf('x', NO), null, 'typed text is inserted by the caller');
    assert.equal(composerKeyOf('t', { ...NO, ctrl: true }), null);
  });

  test('Ctrl-W then Ctrl-Y puts the word back; a kill ring survives other keys', () => {
    let s = type(switchTo(initialComposer(), 'g'), 'hello brave world');
    s = keys(s, { kind: 'edit', op: 'killWordBack' }, { kind: 'edit', op: 'lineStart' }, { kind: 'edit', op: 'yank' });
    assert.equal(s.editor.text, 'worldhello brave ');
  });
});
