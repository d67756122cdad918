import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Key } from 'ink';
import { splitKeys } from '../../src/tui/key-chunks.js';

const NO_KEY = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageUp: false,
  pageDown: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
} as Key;

test('text typed fast with a Tab after it, in one read, is the text and then the Tab key', () => {
  assert.deepEqual(
    splitKeys('/cr\t', NO_KEY).map((p) => [p.input, p.key.tab]),
    [
      ['/cr', false],
      ['\t', true],
    ],
  );
  // Outside a paste (pastes come marked: paste.ts) a Tab between words is the key too.
  assert.deepEqual(
    splitKeys('a\tb', NO_KEY).map((p) => [p.input, p.key.tab]),
    [
      ['a', false],
      ['', true],
      ['b', false],
    ],
  );
});

test('every Enter in one read is a key: fast typing or automation sends line by line', () => {
  assert.deepEqual(
    splitKeys('hi\r', NO_KEY).map((p) => [p.input, p.key.return]),
    [
      ['hi', false],
      ['\r', true],
    ],
  );
  assert.deepEqual(
    splitKeys('one\rtwo\r', NO_KEY).map((p) => [p.input, p.key.return]),
    [
      ['one', false],
      ['\r', true],
      ['two', false],
      ['\r', true],
    ],
  );
});
