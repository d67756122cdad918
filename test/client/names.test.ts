import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  distinctNames,
  idFragments,
  matchName,
  SHOWN_MARK,
  sameNameWarning,
  splitFragment,
} from '../../src/client/names.js';

const acme1 = { id: '2f9kQw0LhT5bVn3mZx7Ra', name: 'acme' };
const acme2 = { id: 'x8k2Pp4sJd9fGh1kLz6Wq', name: 'Acme' };
const widgets = { id: '2f9kAAAAAAAAAAAAAAAAA', name: 'widgets' };

describe('names that are the same', () => {
  test('only items whose name another shares (in any case) get a fragment: four characters of the id', () => {
    const fragments = idFragments([acme1, acme2, widgets]);
    assert.deepEqual(
      [...fragments],
      [
        [acme1.id, '2f9k'],
        [acme2.id, 'x8k2'],
      ],
    );
    assert.deepEqual([...distinctNames([acme1, acme2, widgets]).values()], ['acme~2f9k', 'Acme~x8k2', 'widgets']);
    assert.equal(distinctNames([acme1, acme2], SHOWN_MARK).get(acme1.id), 'acme·2f9k');
  });

  test('a fragment grows until no other id of the name starts the same way, in any case', () => {
    const a = { id: 'abcdEFGH1', name: 'x' };
    const b = { id: 'ABCDefzz2', name: 'x' };
    const c = { id: 'qqqqqqqq3', name: 'x' };
    assert.deepEqual([...idFragments([a, b, c]).values()], ['abcdEFG', 'ABCDefz', 'qqqq']);
  });

  test('a name with a fragment is split at its last mark; anything else is not of that form', () => {
    assert.deepEqual(splitFragment('acme~2f9k'), { name: 'acme', fragment: '2f9k' });
    assert.deepEqual(splitFragment('a~b·c_-9'), { name: 'a~b', fragment: 'c_-9' });
    assert.equal(splitFragment('acme'), null);
    assert.equal(splitFragment('~2f9k'), null);
    assert.equal(splitFragment('acme~'), null);
    assert.equal(splitFragment('acme~2f 9k'), null);
  });

  test('a reference names one item by id, by a name of its own, or by a shared name with its fragment', () => {
    const items = [acme1, acme2, widgets];
    assert.deepEqual(matchName(items, widgets.id), { kind: 'one', item: widgets });
    assert.deepEqual(matchName(items, 'WIDGETS'), { kind: 'one', item: widgets });
    assert.deepEqual(matchName(items, 'acme'), { kind: 'many', items: [acme1, acme2] });
    assert.deepEqual(matchName(items, 'acme~x8k2'), { kind: 'one', item: acme2 });
    assert.deepEqual(matchName(items, 'ACME·2f9k'), { kind: 'one', item: acme1 });
    assert.deepEqual(matchName(items, 'acme~2F9K'), { kind: 'one', item: acme1 }, 'the fragment in another case');
    assert.deepEqual(matchName(items, 'acme~x'), { kind: 'one', item: acme2 }, 'any unique start of the id');
    assert.deepEqual(matchName(items, 'acme~zzzz'), { kind: 'none' });
    assert.deepEqual(
      matchName(items, 'widgets~2f9k'),
      { kind: 'one', item: widgets },
      'a fragment where none is needed',
    );
    assert.deepEqual(matchName(items, 'nothing'), { kind: 'none' });
  });

  test('a name that is itself written with a mark is found by that name first', () => {
    const odd = { id: 'oddoddoddoddoddoddodd', name: 'acme~x8k2' };
    assert.deepEqual(matchName([acme1, acme2, odd], 'acme~x8k2'), { kind: 'one', item: odd });
  });

  test('a fragment that starts several ids of the name still matches several', () => {
    const a = { id: 'abcd1xxxx', name: 'x' };
    const b = { id: 'abcd2xxxx', name: 'x' };
    assert.deepEqual(matchName([a, b], 'x~abcd'), { kind: 'many', items: [a, b] });
    assert.deepEqual(matchName([a, b], 'x~abcd2'), { kind: 'one', item: b });
  });

  test('the warning for a new item under a name already had names each one; none for a new name', () => {
    const made = { id: 'n3wnew0000000000000000', name: 'ACME' };
    assert.deepEqual(sameNameWarning('server', made, [acme1, widgets]), {
      name: 'ACME~n3wn',
      others: ['acme~2f9k'],
      warning: 'you already have a server named "ACME" (acme~2f9k)',
    });
    assert.deepEqual(sameNameWarning('group', made, [acme1, acme2], { sigil: '+', mark: SHOWN_MARK }), {
      name: '+ACME·n3wn',
      others: ['+acme·2f9k', '+Acme·x8k2'],
      warning: 'you already have 2 groups named "ACME" (+acme·2f9k, +Acme·x8k2)',
    });
    assert.equal(sameNameWarning('server', made, [widgets]), null);
    assert.equal(sameNameWarning('server', acme1, [acme1, widgets]), null, 'the new one itself in the list');
  });
});
