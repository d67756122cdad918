import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { padEnd, textWidth, truncate } from '../../../src/tui/view/text-width.js';
import { formatDay, formatTime, secondsUntil } from '../../../src/tui/view/time.js';
import { hardWrap, wrapText } from '../../../src/tui/view/wrap.js';

process.env.TZ = 'UTC';

describe('text width', () => {
  test('counts columns: wide characters and emoji take two, marks none', () => {
    assert.equal(textWidth('abc'), 3);
    assert.equal(textWidth('日本'), 4);
    assert.equal(textWidth('👩‍💻'), 2);
    assert.equal(textWidth('e\u0301'), 1);
  });

  test('truncate and padEnd work in columns', () => {
    assert.equal(truncate('general', 5), 'gene…');
    assert.equal(truncate('general', 7), 'general');
    assert.equal(truncate('日本語の', 5), '日本…');
    assert.equal(padEnd('ab', 4), 'ab  ');
    assert.equal(truncate('x', 0), '');
  });
});

describe('wrapping', () => {
  test('wraps words, with a different width after the first row', () => {
    assert.deepEqual(wrapText('aa bb cc dd', 5, 8), ['aa bb', 'cc dd']);
    assert.deepEqual(wrapText('aa bb cc dd ee', 2, 5), ['aa', 'bb cc', 'dd ee']);
  });

  test('keeps newlines, blank lines and leading indentation', () => {
    assert.deepEqual(wrapText('a\n\n  b', 10), ['a', '', '  b']);
  });

  test('breaks words longer than a row, and wide characters whole', () => {
    assert.deepEqual(wrapText('abcdefgh', 3), ['abc', 'def', 'gh']);
    assert.deepEqual(wrapText('日本語', 3), ['日', '本', '語']);
    assert.deepEqual(hardWrap('abcde\nf', 2), ['ab', 'cd', 'e', 'f']);
  });
});

describe('time', () => {
  const at = Date.UTC(2023, 10, 21, 15, 7);
  test('formats times of day and days', () => {
    assert.equal(formatTime(at), '15:07');
    assert.equal(formatTime(at, '12h'), ' 3:07 PM');
    assert.equal(formatTime(Date.UTC(2023, 10, 21, 0, 1), '12h'), '12:01 AM');
    assert.equal(formatDay(at), 'Tuesday 21 November');
    assert.equal(formatDay(at, Date.UTC(2023, 11, 31)), 'Tuesday 21 November');
    assert.equal(formatDay(at, Date.UTC(2024, 0, 1)), 'Tuesday 21 November 2023');
    assert.equal(secondsUntil(3001, 0), 4);
    assert.equal(secondsUntil(0, 5000), 0);
  });
});
