import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sanitize } from '../../src/tui/sanitize.js';

describe('sanitize', () => {
  test('escape sequences become visible placeholders', () => {
    assert.equal(sanitize('\u001b[2Jboom'), '\u241b[2Jboom');
    assert.equal(sanitize('\u001b]0;pwned\u0007'), '\u241b]0;pwned\u2407');
    assert.equal(sanitize('\u001b]52;c;aGk=\u0007'), '\u241b]52;c;aGk=\u2407', 'OSC 52 clipboard write');
    assert.equal(sanitize('\u009b31m'), '<9B>31m', 'C1 CSI');
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(sanitize('a\rb\bc\u007fd\u0085')));
  });

  test('newlines stay in multi-line text, tabs become spaces', () => {
    assert.equal(sanitize('a\n\tb'), 'a\n  b');
    assert.equal(sanitize('a\nb', { multiline: false }), 'a\u2424b');
  });

  test('bidi overrides are shown, not obeyed', () => {
    assert.equal(sanitize('abc\u202edef'), 'abc<U+202E>def');
  });

  test('invisible hints are left out: no terminal column is drawn that the layout did not count', () => {
    assert.equal(sanitize('co\u00adop\u00ader\u00adate'), 'cooperate');
    assert.equal(sanitize('\u00ad', { multiline: false }), '');
    assert.equal(sanitize('zero\u200bwidth\u2060join\ufeff'), 'zerowidthjoin');
    // A variation selector after a letter or a full stop goes; after an emoji or a keycap digit it stays.
    assert.equal(sanitize('deploy\ufe0f.\ufe0f NOT'), 'deploy. NOT');
    assert.equal(sanitize('\u2764\ufe0f 1\ufe0f\u20e3'), '\u2764\ufe0f 1\ufe0f\u20e3');
    // Joiners of emoji sequences and tag sequences stay whole.
    const family = '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}';
    assert.equal(sanitize(family), family);
  });

  test('ordinary text, emoji and accents pass through', () => {
    assert.equal(sanitize('héllo 👩‍💻 日本'), 'héllo 👩‍💻 日本');
  });
});
