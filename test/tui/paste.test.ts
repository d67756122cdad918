import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_KEY } from '../../src/tui/key-chunks.js';
import { PasteReader, pastedLine, pastedText } from '../../src/tui/paste.js';

test('a bracketed paste in several reads is put back together; its line breaks and Tabs (reported as keys) are text', () => {
  const r = new PasteReader();
  assert.deepEqual(r.feed('x', NO_KEY), { kind: 'key' }, 'outside a paste, keys are keys');
  assert.deepEqual(r.feed('[200~', NO_KEY), { kind: 'pasting' });
  assert.equal(r.pasting, true);
  assert.deepEqual(r.feed('one', NO_KEY), { kind: 'pasting' });
  assert.deepEqual(r.feed('', { ...NO_KEY, return: true }), { kind: 'pasting' });
  assert.deepEqual(r.feed('', { ...NO_KEY, tab: true }), { kind: 'pasting' });
  assert.deepEqual(r.feed('two\r\nthree', NO_KEY), { kind: 'pasting' });
  assert.deepEqual(r.feed('[201~', NO_KEY), { kind: 'paste', text: 'one\n\ttwo\r\nthree' });
  assert.equal(r.pasting, false);
  assert.deepEqual(r.feed('\r', { ...NO_KEY, return: true }), { kind: 'key' }, 'after it, Enter is a key again');
  // The markers with their ESC (as a raw chunk shows them) count too.
  assert.deepEqual(r.feed('\u001b[200~', NO_KEY), { kind: 'pasting' });
  assert.deepEqual(r.feed('\u001b[201~', NO_KEY), { kind: 'paste', text: '' });
});

test('pasted text keeps line breaks (of any system) and Tabs, and loses escape sequences and other control characters', () => {
  assert.equal(pastedText('a\r\nb\rc\nd'), 'a\nb\nc\nd');
  // A whole line copied ends with its break: not sent as an empty row.
  assert.equal(pastedText('whole line copied\n'), 'whole line copied');
  assert.equal(pastedText('two\r\nlines\r\n\r\n'), 'two\nlines');
  // What the server refuses and nobody could see in the composer: soft hyphens, zero-width spaces, bidi controls.
  assert.equal(pastedText('in\u00adter\u00adna\u200btion\u2060al \u202eevil'), 'international evil');
  assert.equal(
    pastedText('\u001b[31mred\u001b[0m and \u001b]8;;http://x\u0007link\u001b]8;;\u0007\u0007'),
    'red and link',
  );
  assert.equal(pastedText('tab\there\u0000\u007f'), 'tab\there');
  // For one-line fields: lines joined by a space, the breaks at the ends dropped.
  assert.equal(pastedLine('\nsecret\n'), 'secret');
  assert.equal(pastedLine('two\r\nwords\tand'), 'two words and');
});
