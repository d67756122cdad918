import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fuzzyFilter, fuzzyMatch } from '../../../src/tui/view/fuzzy.js';

const labels = (xs: string[], q: string) =>
  fuzzyFilter(
    xs.map((label) => ({ label })),
    q,
  ).map((x) => x.label);

describe('fuzzyFilter', () => {
  test('an empty query keeps every item in order', () => {
    assert.deepEqual(labels(['b', 'a', 'c'], ''), ['b', 'a', 'c']);
    assert.deepEqual(labels(['b', 'a'], '   '), ['b', 'a']);
  });

  test('drops items the query is not a subsequence of, case-insensitively', () => {
    assert.deepEqual(labels(['general', 'random', 'GenZ'], 'gen'), ['GenZ', 'general']);
    assert.deepEqual(labels(['general', 'random'], 'xyz'), []);
    assert.deepEqual(labels(['general'], 'gnrl'), ['general']);
  });

  test('exact, then prefix, then word start, then substring, then scattered', () => {
    const items = ['bagel', 'big-ear-lamp', 'dev-general', 'generalities', 'regeneral', 'general'];
    assert.deepEqual(labels(items, 'general'), ['general', 'generalities', 'dev-general', 'regeneral']);
    assert.deepEqual(labels(['the-random', 'random-talk', 'xrandomx', 'rxaxnxdxoxm'], 'random'), [
      'random-talk',
      'the-random',
      'xrandomx',
      'rxaxnxdxoxm',
    ]);
  });

  test('initials beat substrings; scattered matches prefer word starts and runs', () => {
    assert.deepEqual(labels(['address', 'dev-random'], 'dr'), ['dev-random', 'address']);
    assert.deepEqual(labels(['dxxrxx', 'address'], 'dr'), ['address', 'dxxrxx']);
    assert.deepEqual(labels(['xfxoxo', 'foo-bar'], 'fb'), ['foo-bar']);
    assert.deepEqual(labels(['frontend-builds', 'fabulous'], 'fb'), ['frontend-builds', 'fabulous']);
    assert.deepEqual(labels(['myChannelName', 'mycnxn'], 'mcn'), ['myChannelName', 'mycnxn']);
  });

  test('ties keep shorter labels first, then the given order', () => {
    assert.deepEqual(labels(['general-chat', 'general-ops', 'gen'], 'ge'), ['gen', 'general-ops', 'general-chat']);
    assert.deepEqual(labels(['ab-x', 'ab-y'], 'ab'), ['ab-x', 'ab-y']);
  });

  test('filtering twice with the same query changes nothing', () => {
    const items = ['dev-random', 'random', 'address', 'rand', 'ordinary', 'r-d'].map((label) => ({ label }));
    const once = fuzzyFilter(items, 'rd');
    assert.deepEqual(fuzzyFilter(once, 'rd'), once);
  });

  test('fuzzyMatch reports the matched positions', () => {
    assert.deepEqual(fuzzyMatch('general', 'gen')?.positions, [0, 1, 2]);
    assert.deepEqual(fuzzyMatch('dev-random', 'ran')?.positions, [4, 5, 6]);
    assert.deepEqual(fuzzyMatch('dev-random', 'dr')?.positions, [0, 4]);
    assert.equal(fuzzyMatch('abc', 'abd'), null);
  });
});
