import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialState, placeName } from '../../src/tui/reducer.js';
import type { ConversationEntry } from '../../src/tui/state.js';

const dm = (peer: ConversationEntry['peer'], name: string): ConversationEntry => ({
  id: 'dm1',
  kind: 'dm',
  serverId: null,
  name,
  topic: null,
  peer,
  lastSeq: 3,
  lastReadSeq: 3,
  unread: 0,
  mentions: 0,
});

test('a DM whose other person deleted their account is named "deleted user", not as an @name to write to', () => {
  const state = initialState('ws://127.0.0.1:7777');
  const bob = { id: 'b', username: 'bob', displayName: null, status: null, bio: null, createdAt: 0 };
  assert.equal(placeName(state, dm(bob, 'bob')), '@bob');
  const gone = { ...bob, username: 'deleted user', deleted: true as const };
  assert.equal(placeName(state, dm(gone, 'deleted user')), 'deleted user');
});
