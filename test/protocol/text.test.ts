import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lineTextProblem, multilineTextProblem, usernameKey, usernameProblem } from '../../src/protocol/index.js';

describe('usernameProblem', () => {
  test('accepts names of one script, with digits and _ . -', () => {
    for (const ok of [
      'al',
      'alice',
      'Alice_99',
      'a.b-c',
      'josé',
      'Ωμέγα',
      'иван',
      '太郎',
      'すずき',
      'ヤマダ太郎',
      '42',
    ]) {
      assert.equal(usernameProblem(ok.normalize('NFC')), null, ok);
    }
  });

  test('refuses control, invisible, bidi, spacing and mixed-script names', () => {
    for (const bad of [
      'a',
      'x'.repeat(33),
      'a\u0000b',
      'a\u200bb',
      'a\u202eb',
      'a\ufeffb',
      'a b',
      '-ab',
      '.ab',
      'pаypal',
      'abc!',
      '',
    ]) {
      assert.notEqual(usernameProblem(bad), null, JSON.stringify(bad));
    }
  });
});

describe('usernameKey', () => {
  test('folds case, accents and look-alike letters to one key', () => {
    assert.equal(usernameKey('Admin'), 'admin');
    assert.equal(usernameKey('ádmin'), 'admin');
    assert.equal(usernameKey('a\u0301dmin'), 'admin');
    assert.equal(usernameKey('\u0430\u0441\u0435'), 'ace', 'Cyrillic а с е');
    assert.equal(usernameKey('ΑΒΕ'), 'abe', 'Greek capitals fold to Latin look-alikes');
    assert.notEqual(usernameKey('alice'), usernameKey('alicia'));
  });
});

describe('text rules', () => {
  test('single-line text refuses line breaks, controls and bidi overrides', () => {
    assert.equal(lineTextProblem('hello there', 64), null);
    assert.notEqual(lineTextProblem('two\nlines', 64), null);
    assert.notEqual(lineTextProblem('bell\u0007', 64), null);
    assert.notEqual(lineTextProblem('c1\u009b31m', 64), null);
    assert.notEqual(lineTextProblem('rtl\u202e', 64), null);
    assert.notEqual(lineTextProblem('x'.repeat(65), 64), null);
    assert.equal(lineTextProblem('👩‍💻', 64), null, 'emoji joined with ZWJ are fine');
  });

  test('multi-line text allows newline and tab only', () => {
    assert.equal(multilineTextProblem('a\nb\tc', 100), null);
    assert.notEqual(multilineTextProblem('esc \u001b[2J', 100), null);
    assert.notEqual(multilineTextProblem('cr\r', 100), null);
    assert.notEqual(multilineTextProblem('del\u007f', 100), null);
  });
});
