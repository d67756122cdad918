import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clockFor } from '../../../src/tui/view/status-text.js';
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

describe('the clock', () => {
  const shown = Date.UTC(2026, 10, 30, 12, 0, 0);
  test('a tick changes the time drawn only while a countdown shows, or when the year turns', () => {
    const url = 'ws://x';
    assert.equal(clockFor(shown, shown + 5000, { status: 'connected', url }), shown, 'connected: nothing to redraw');
    assert.equal(clockFor(shown, shown + 5000, { status: 'connecting', url }), shown);
    assert.equal(clockFor(shown, shown + 5000, { status: 'closed', url, error: null }), shown);
    const reconnecting = { status: 'reconnecting' as const, url, retryAt: shown + 3000, error: 'refused' };
    assert.equal(clockFor(shown, shown + 1000, reconnecting), shown + 1000, 'the countdown moves');
    const newYear = Date.UTC(2027, 0, 1, 0, 0, 1);
    assert.equal(clockFor(Date.UTC(2026, 11, 31, 23, 59, 59), newYear, { status: 'connected', url }), newYear);
  });
});
