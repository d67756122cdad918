import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialState } from '../../src/tui/reducer.js';
import { Store } from '../../src/tui/store.js';

/** Resolves once the microtasks queued so far (the store's notification among them) have run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

test('actions dispatched in one go reach subscribers as one change, once the dispatching code is done', async () => {
  const store = new Store(initialState('ws://x'));
  const seen: (string | undefined)[] = [];
  store.subscribe(() => seen.push(store.get().notice?.text));
  store.dispatch({ type: 'notice', text: 'first', level: 'info' });
  store.dispatch({ type: 'notice', text: 'second', level: 'info' });
  assert.equal(store.get().notice?.text, 'second', 'the state itself changes at once');
  assert.deepEqual(seen, [], 'subscribers hear nothing while the dispatching code runs');
  await settled();
  assert.deepEqual(seen, ['second'], 'one change, with the state of both');
  store.dispatch({ type: 'clear-notice' });
  await settled();
  assert.deepEqual(seen, ['second', undefined]);
});

test('an action that changes nothing is not heard', async () => {
  const store = new Store(initialState('ws://x'));
  let heard = 0;
  store.subscribe(() => heard++);
  // No notice and nobody typing: a tick of the clock leaves the state as it is.
  store.dispatch({ type: 'tick', now: 1 });
  await settled();
  assert.equal(heard, 0);
});
