import assert from 'node:assert/strict';
import { test } from 'node:test';
import { searchTerms } from '../../src/protocol/index.js';

test('words are what lies between spaces and holds a letter or a digit, each once in any case', () => {
  assert.deepEqual(searchTerms('  deploy   the app '), { words: ['deploy', 'the', 'app'], prefix: false });
  assert.deepEqual(searchTerms('Deploy deploy DEPLOY'), { words: ['DEPLOY'], prefix: true });
  assert.deepEqual(searchTerms('" * - : ( ) ^'), { words: [], prefix: false });
  assert.deepEqual(searchTerms('a OR b'), { words: ['a', 'OR', 'b'], prefix: false });
  assert.deepEqual(searchTerms('e-mail "quoted" v1.2'), { words: ['e-mail', '"quoted"', 'v1.2'], prefix: false });
  assert.deepEqual(searchTerms('tab\there\u2800braille'), { words: ['tab', 'here', 'braille'], prefix: true });
  assert.deepEqual(searchTerms('日本語 テキスト'), { words: ['日本語', 'テキスト'], prefix: true });
  assert.deepEqual(searchTerms('nul\u0000bell\u0007esc\u001b[1m'), {
    words: ['nul', 'bell', 'esc', '[1m'],
    prefix: false,
  });
  assert.deepEqual(searchTerms('ends\u0000'), { words: ['ends'], prefix: false });
});

test('the last word is a prefix from three characters on, unless the query ends with a space', () => {
  assert.equal(searchTerms('deplo').prefix, true);
  assert.equal(searchTerms('dep').prefix, true);
  assert.equal(searchTerms('de').prefix, false);
  assert.equal(searchTerms('deplo ').prefix, false);
  assert.equal(searchTerms('deplo\u2800').prefix, false);
  assert.equal(searchTerms('deplo.').prefix, true, 'punctuation after it does not end the word');
  assert.equal(searchTerms('deplo-a').prefix, false, 'the prefix is the last word of the chunk: "a"');
  assert.equal(searchTerms('a-deplo').prefix, true);
  assert.equal(searchTerms('café').prefix, true);
  assert.equal(searchTerms('ab"').prefix, false);
  // A repeated word keeps its last place, so the last word typed is still the one extended.
  assert.deepEqual(searchTerms('dep deploy dep'), { words: ['deploy', 'dep'], prefix: true });
});

test('a query is read NFC-normalized, as stored text is', () => {
  assert.deepEqual(searchTerms('cafe\u0301'), { words: ['café'], prefix: true });
});
