import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { SendHint, TxStores } from '../../src/server/store/port.js';
import type { PostgresStore } from '../../src/server/store/postgres/store.js';
import { type Cleanup, databaseFor } from '../helpers/postgres.js';
import { openTestStore, seedGroup, sendIn, testPool } from '../helpers/postgres-store.js';
import { within } from '../helpers/wait.js';

/**
 * Sends queued with a hint (what they will read) are read ahead together on
 * PostgreSQL: a run of them costs a handful of statements, and their writes
 * are kept until a statement needs them. Jobs between the sends, sends that
 * run statements of their own, sends that fail before or after their own
 * statements, and two natters sending to one conversation at once must all
 * see and store exactly what they would one statement at a time.
 */

const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

function hint(userId: string, nonce: string, conversationId = 'g'): SendHint {
  return { sessionId: null, userId, conversationId, nonce, at: Date.now() };
}

type SendOptions = {
  /** Runs inside the job after the checks and before the message is numbered and stored. */
  before?: (tx: TxStores) => Promise<void>;
  /** Runs after the message is stored (and may throw: the job then rolls back). */
  after?: (tx: TxStores) => Promise<void>;
};

/**
 * A send as messages.send makes it, with its hint: the retry check by nonce,
 * the membership check, then the number, the row, the read position and the
 * event. Resolves to the number, to `duplicate N`, or rejects.
 */
function hintedSend(store: PostgresStore, author: string, id: string, options: SendOptions = {}) {
  return store.write(
    async (tx, afterCommit) => {
      const original = await tx.chat.messageByNonce(author, id);
      if (original) return `duplicate ${original.seq}`;
      const conv = await tx.chat.conversation('g');
      if (!conv || !(await tx.chat.isConversationMember(conv.id, author))) throw new Error(`${author} is not a member`);
      await options.before?.(tx);
      const row = await sendIn(tx, afterCommit, 'g', author, id);
      await options.after?.(tx);
      return row.seq;
    },
    hint(author, id),
  );
}

function outcome(o: PromiseSettledResult<unknown>): unknown {
  return o.status === 'fulfilled' ? o.value : (o.reason as Error).message;
}

test('a send queued after a job that removes its author reads the membership again, in the same batch', async () => {
  const db = await databaseFor(cleanup);
  const { store } = await openTestStore(db, cleanup);
  await seedGroup(store, 'g', ['ann', 'bob']);
  const before = { ...store.stats };
  const outcomes = await within(
    Promise.allSettled([
      hintedSend(store, 'u-ann', 'a1'),
      hintedSend(store, 'u-bob', 'b1'),
      store.write((tx) => tx.chat.removeConversationMember('g', 'u-bob')),
      hintedSend(store, 'u-bob', 'b2'),
      hintedSend(store, 'u-ann', 'a2'),
    ]),
    'the batch',
  );
  assert.deepEqual(outcomes.map(outcome), [1, 2, true, 'u-bob is not a member', 3]);
  assert.equal(store.stats.commits, before.commits + 1, 'one batch');
  const pool = testPool(db, cleanup);
  const stored = await pool.query<{ id: string; seq: number }>(
    "SELECT id, seq FROM messages WHERE conversation_id = 'g' ORDER BY seq",
  );
  assert.deepEqual(stored.rows, [
    { id: 'a1', seq: 1 },
    { id: 'b1', seq: 2 },
    { id: 'a2', seq: 3 },
  ]);
});

test('sends that fail with or without statements of their own roll back alone; a write of its own is seen by the sends after it', async () => {
  const db = await databaseFor(cleanup);
  const { store, published } = await openTestStore(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  const before = { ...store.stats };
  const fail = async () => {
    throw new Error('gives up after storing');
  };
  const outcomes = await within(
    Promise.allSettled([
      hintedSend(store, 'u-ann', 'm1'),
      // Reads through a statement of its own after its message was kept: a savepoint, then rolled back to.
      hintedSend(store, 'u-ann', 'm2', {
        after: async (tx) => {
          assert.equal((await tx.users.byId('u-ann'))?.username, 'ann');
          await fail();
        },
      }),
      hintedSend(store, 'u-ann', 'm3'),
      // Its own read first, then its send: stored.
      hintedSend(store, 'u-ann', 'm4', {
        before: async (tx) => {
          assert.equal((await tx.users.byId('u-ann'))?.username, 'ann');
        },
      }),
      // Fails with nothing but kept writes: forgotten, no statement.
      hintedSend(store, 'u-ann', 'm5', { after: fail }),
      // Writes the conversation itself: what was read ahead is no longer true.
      hintedSend(store, 'u-ann', 'm6', {
        before: (tx) => tx.chat.updateConversation('g', 'g', 'the new topic'),
      }),
      store.write(async (tx) => (await tx.chat.conversation('g'))?.topic ?? 'no topic', hint('u-ann', 'reader')),
      hintedSend(store, 'u-ann', 'm7', { after: fail }),
      hintedSend(store, 'u-ann', 'm8'),
      // The same nonce again, in the same batch: the original.
      hintedSend(store, 'u-ann', 'm3'),
    ]),
    'the batch',
  );
  assert.deepEqual(outcomes.map(outcome), [
    1,
    'gives up after storing',
    2,
    3,
    'gives up after storing',
    4,
    'the new topic',
    'gives up after storing',
    5,
    'duplicate 2',
  ]);
  assert.equal(store.stats.commits, before.commits + 1, 'one batch');
  const pool = testPool(db, cleanup);
  const stored = await pool.query<{ id: string; seq: number }>(
    "SELECT id, seq FROM messages WHERE conversation_id = 'g' ORDER BY seq",
  );
  assert.deepEqual(
    stored.rows.map((r) => [r.seq, r.id]),
    [
      [1, 'm1'],
      [2, 'm3'],
      [3, 'm4'],
      [4, 'm6'],
      [5, 'm8'],
    ],
  );
  const conv = await pool.query<{ last_seq: number; topic: string }>(
    "SELECT last_seq, topic FROM conversations WHERE id = 'g'",
  );
  assert.deepEqual(conv.rows[0], { last_seq: 5, topic: 'the new topic' });
  assert.deepEqual(
    published.map((e) => JSON.parse(e.text).data.message.id),
    ['m1', 'm3', 'm4', 'm6', 'm8'],
    'the events of the stored sends only',
  );
});

test('two natters sending to one conversation at once: every number once, no holes, a nonce retried on both stored once', async () => {
  const db = await databaseFor(cleanup);
  const { store: a } = await openTestStore(db, cleanup);
  const { store: b } = await openTestStore(db, cleanup);
  await seedGroup(a, 'g', ['ann', 'bob']);
  const sends: Promise<unknown>[] = [];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 50; i++) {
      sends.push(hintedSend(a, 'u-ann', `a${round}.${i}`));
      sends.push(hintedSend(b, 'u-bob', `b${round}.${i}`));
    }
    // The same send on both natters at once.
    sends.push(hintedSend(a, 'u-ann', `twice${round}`), hintedSend(b, 'u-ann', `twice${round}`));
    await new Promise((r) => setImmediate(r));
  }
  const outcomes = (await within(Promise.allSettled(sends), 'the sends')).map(outcome);
  const numbers = outcomes.filter((o): o is number => typeof o === 'number');
  assert.equal(numbers.length, 404, `each send stored once: ${outcomes.filter((o) => typeof o !== 'number')}`);
  const duplicates = outcomes.filter((o) => typeof o === 'string' && o.startsWith('duplicate'));
  assert.equal(duplicates.length, 4, 'each retried send found its original');
  const pool = testPool(db, cleanup);
  const stored = await pool.query<{ seq: number }>("SELECT seq FROM messages WHERE conversation_id = 'g' ORDER BY seq");
  assert.deepEqual(
    stored.rows.map((r) => r.seq),
    Array.from({ length: 404 }, (_, i) => i + 1),
    'numbers 1 to 404, each once',
  );
  assert.deepEqual(
    [...numbers].sort((x, y) => x - y),
    Array.from({ length: 404 }, (_, i) => i + 1),
  );
});
