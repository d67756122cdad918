import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalise, normaliseWithMap, originalSpan } from '../../../src/server/automod/normalise.js';

describe('normalise', () => {
  test('disguised spellings of a word all come out as the word', () => {
    for (const disguised of [
      'fück', // a diaeresis
      'ｆｕｃｋ', // full-width letters
      'FUCK',
      'fuuuuck', // a stretched letter
      'ʃṳ𝒸𝗄', // the IPA esh, a diaeresis below, mathematical script and sans-serif letters
      'f\u200buck', // a zero width space inside
      'f\u00adu\u00adck', // soft hyphens
    ]) {
      assert.equal(normalise(disguised), 'fuck', JSON.stringify(disguised));
    }
  });

  test('Cyrillic and Greek look-alikes count as the Latin letters', () => {
    assert.equal(normalise('ѕhit'), 'shit'); // Cyrillic dze
    assert.equal(normalise('ѕһіt'), 'shit'); // Cyrillic dze, shha, byelorussian i
    assert.equal(normalise('рагра'), 'parpa'); // Cyrillic er, a, ghe
    assert.equal(normalise('ΑΡΕ'), 'ape'); // Greek capitals
    assert.equal(normalise('јοke'), 'joke'); // Cyrillic je, Greek omicron
  });

  test('digits and symbols inside a word stand for letters', () => {
    assert.equal(normalise('f4ck'), normalise('fack'));
    assert.equal(normalise('sh1t'), 'shit');
    assert.equal(normalise('sh!t'), 'shit');
    assert.equal(normalise('$hit'), 'shit');
    assert.equal(normalise('b@d'), 'bad');
    assert.equal(normalise('h3ll0'), normalise('hello'));
    assert.equal(normalise('badword7'), normalise('badwordt'));
  });

  test('numbers, amounts, mentions and trailing punctuation are left alone', () => {
    assert.equal(normalise('in 2024 we paid $5'), 'in 2024 we paid $5');
    assert.equal(normalise('shit!'), 'shit!');
    assert.equal(normalise('wow!!! 100'), 'wow!!! 100');
    assert.equal(normalise('@bob'), '@bob');
    assert.equal(normalise('c++'), 'c++');
  });

  test('repeated letters collapse, so doubled and stretched letters are one (the documented trade-off)', () => {
    assert.equal(normalise('gooood'), normalise('good'));
    assert.equal(normalise('good'), normalise('god'));
    assert.equal(normalise('natterbad'), 'naterbad');
    // Digits are not letters: numbers keep their repeats.
    assert.equal(normalise('1000'), '1000');
  });

  test('lower case does not depend on a locale', () => {
    assert.equal(normalise('İSTANBUL'), 'istanbul');
    assert.equal(normalise('Straße'), 'strase');
  });

  test('white space runs become one space', () => {
    assert.equal(normalise('a \t\n  b\u00a0c'), 'a b c');
  });

  test('ASCII text, which takes a faster path, comes out as the general path makes it', () => {
    // normaliseWithMap always takes the general path; normalise takes the ASCII one for ASCII text.
    const alphabet = 'aAbBeEiIoOsStTxz0123456789@$!|+ \t\n.,?-_*#';
    let seed = 7;
    const next = () => {
      seed = (seed * 48271) % 2147483647;
      return seed;
    };
    for (let n = 0; n < 3000; n++) {
      let s = '';
      const length = next() % 24;
      for (let i = 0; i < length; i++) s += alphabet[next() % alphabet.length];
      assert.equal(normalise(s), normaliseWithMap(s).text, JSON.stringify(s));
    }
    const long = 'ab$1! '.repeat(3000);
    assert.equal(normalise(long), normaliseWithMap(long).text);
  });

  test('a match in the normalised text maps back to what was written', () => {
    const written = 'well FUUUUCK this';
    const n = normaliseWithMap(written);
    const start = n.text.indexOf('fuck');
    assert.notEqual(start, -1);
    assert.equal(originalSpan(written, n, start, start + 4), 'FUUUUCK');
    const emoji = 'ok 𝒻𝓊𝒸𝓀 ok';
    const m = normaliseWithMap(emoji);
    const at = m.text.indexOf('fuck');
    assert.equal(originalSpan(emoji, m, at, at + 4), '𝒻𝓊𝒸𝓀');
  });
});
