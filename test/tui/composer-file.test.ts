import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ComposerFile, composerFile } from '../../src/tui/composer-file.js';
import { type ComposerState, composerKey, initialComposer, sent, switchTo } from '../../src/tui/composer-state.js';
import { HISTORY_MAX } from '../../src/tui/editor.js';
import { waitFor } from '../helpers/wait.js';

// Two apps on one config directory (two terminals): each write merges with what the other wrote.

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'natter-composer-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh config directory, holding `contents` as composer.json if given. */
function configDir(contents?: unknown): string {
  const dir = mkdtempSync(join(root, 'config-'));
  if (contents !== undefined) writeFileSync(join(dir, 'composer.json'), JSON.stringify(contents));
  return dir;
}

function onDisk(dir: string): { drafts: Record<string, string>; history: { text: string }[]; open?: string } {
  return JSON.parse(readFileSync(join(dir, 'composer.json'), 'utf8'));
}

/** One app's composer and its file, changed as the app changes it (ChatIntents.setComposer). */
class App {
  readonly file: ComposerFile;
  state: ComposerState;
  constructor(dir: string) {
    this.file = composerFile(dir);
    this.state = initialComposer(this.file.saved.drafts, this.file.saved.history);
  }
  private change(next: ComposerState): this {
    this.state = next;
    this.file.changed(next);
    return this;
  }
  open(conversation: string): this {
    return this.change(switchTo(this.state, conversation));
  }
  type(text: string): this {
    return this.change(composerKey(this.state, { kind: 'insert', text }));
  }
  /** Enter: the text goes, and into the history. */
  send(): this {
    return this.change(sent(this.state, this.state.editor.text));
  }
  clear(): this {
    return this.change(composerKey(this.state, { kind: 'edit', op: 'killToLineStart' }));
  }
}

/** Until the clock has moved on, so that what is sent next is sent later. */
async function tick(): Promise<void> {
  const now = Date.now();
  await waitFor(() => Date.now() > now, { what: 'the clock to move on' });
}

describe('composer.json with two apps on one config directory', () => {
  test("each keeps the other's drafts: a draft written in one is still there after the other writes", () => {
    const dir = configDir({ drafts: { old: 'from yesterday' }, history: [] });
    const a = new App(dir);
    const b = new App(dir);
    a.open('general').type('written in a');
    b.open('random').type('written in b');
    a.file.flush();
    b.file.flush();
    assert.deepEqual(onDisk(dir).drafts, {
      old: 'from yesterday',
      general: 'written in a',
      random: 'written in b',
    });
    // And a, writing again, keeps b's.
    a.type(', more').file.flush();
    assert.deepEqual(composerFile(dir).saved.drafts, {
      old: 'from yesterday',
      general: 'written in a, more',
      random: 'written in b',
    });
  });

  test('a draft changed in the other app is kept; changed here again, this one wins', () => {
    const dir = configDir({ drafts: { general: 'first' }, history: [] });
    const a = new App(dir);
    const b = new App(dir);
    b.open('general').type(' and b').file.flush();
    // a still holds "first" for #general, unchanged: its writes keep b's.
    a.open('random').type('elsewhere').file.flush();
    a.type('!').file.flush();
    assert.equal(onDisk(dir).drafts.general, 'first and b');
    a.open('general').type(' and a').file.flush();
    assert.equal(onDisk(dir).drafts.general, 'first and a');
  });

  test('a draft sent or emptied in one app is gone, not brought back by the other', () => {
    const dir = configDir({ drafts: { general: 'to send', random: 'to drop' }, history: [] });
    const a = new App(dir);
    const b = new App(dir);
    a.open('general').send().open('random').clear().open('ops');
    a.file.flush();
    assert.deepEqual(onDisk(dir).drafts, {});
    b.open('ops').type('b writes').file.flush();
    b.type(' again').file.flush();
    assert.deepEqual(onDisk(dir).drafts, { ops: 'b writes again' });
    assert.deepEqual(composerFile(dir).saved.drafts, { ops: 'b writes again' });
  });

  test('what was sent is both apps’, in the order it was sent, each entry once, at most the cap', async () => {
    const dir = configDir({ drafts: {}, history: ['older', 'old'] });
    const a = new App(dir);
    const b = new App(dir);
    a.open('general').type('one').send();
    await tick();
    b.open('general').type('two').send();
    await tick();
    a.type('three').send();
    b.file.flush();
    a.file.flush();
    assert.deepEqual(composerFile(dir).saved.history, ['older', 'old', 'one', 'two', 'three']);
    // b writes again: nothing doubled, nothing lost.
    b.type('draft').file.flush();
    assert.deepEqual(composerFile(dir).saved.history, ['older', 'old', 'one', 'two', 'three']);
    // Up in the next app walks back through both.
    const next = new App(dir).open('x');
    assert.equal(composerKey(next.state, { kind: 'up' }).editor.text, 'three');

    // A full history keeps its newest entries.
    const full = configDir({ drafts: {}, history: Array.from({ length: HISTORY_MAX }, (_, i) => `sent ${i}`) });
    const c = new App(full);
    const d = new App(full);
    await tick();
    c.open('general').type('from c').send().file.flush();
    await tick();
    d.open('general').type('from d').send().file.flush();
    const merged = composerFile(full).saved.history;
    assert.equal(merged.length, HISTORY_MAX);
    assert.deepEqual(merged.slice(0, 1), ['sent 2']);
    assert.deepEqual(merged.slice(-3), [`sent ${HISTORY_MAX - 1}`, 'from c', 'from d']);
  });

  test('the open conversation is kept for the next start: the one chosen last, by either app', () => {
    const dir = configDir();
    assert.equal(composerFile(dir).saved.open, null, 'nothing saved yet');
    const a = new App(dir);
    const b = new App(dir);
    a.open('general').file.flush();
    assert.equal(composerFile(dir).saved.open, 'general');
    b.open('random').file.flush();
    // a writes a draft, still in #general: b's later choice stays.
    a.type('hello').file.flush();
    assert.equal(composerFile(dir).saved.open, 'random');
    a.open('ops').file.flush();
    assert.equal(composerFile(dir).saved.open, 'ops');
  });

  test('writes replace the file whole, readable by its owner only; a damaged or unwritable place throws nothing', () => {
    const dir = configDir('not { json');
    const a = new App(dir);
    assert.deepEqual(a.file.saved, { drafts: {}, history: [], open: null });
    a.open('general').type('hi').file.flush();
    assert.deepEqual(onDisk(dir).drafts, { general: 'hi' });
    assert.equal(statSync(join(dir, 'composer.json')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['composer.json'], 'no temporary file left');

    // A "config directory" that is a file: nothing kept, nothing thrown.
    const notADir = join(dir, 'composer.json');
    const b = new App(notADir);
    assert.doesNotThrow(() => b.open('general').type('lost').file.flush());
    assert.deepEqual(readdirSync(dir), ['composer.json']);
  });
});
