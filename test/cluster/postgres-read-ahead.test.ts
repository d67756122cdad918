import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { NatterError } from '../../src/protocol/index.js';
import type { SendHint, TxStores } from '../../src/server/store/port.js';
import type { PostgresStore } from '../../src/server/store/postgres/store.js';
import { type Cleanup, databaseFor } from '../helpers/postgres.js';
import { gate, openTestStore, seedGroup, sendIn, testPool } from '../helpers/postgres-store.js';
import { waitFor, within } from '../helpers/wait.js';

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

function hint(userId: string, nonce: string, conversationId = 'g', sessionId: string | null = null): SendHint {
  return { sessionId, userId, conversationId, nonce, at: Date.now() };
}

type SendOptions = {
  /** The conversation (default `g`). */
  conversationId?: string;
  /** The session the send checks, as the dispatcher does for a connection's writes. */
  sessionId?: string;
  /** Bytes charged to the author's daily budget after the send, as the dispatcher charges a send's event. */
  charge?: number;
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
  const conversationId = options.conversationId ?? 'g';
  const sessionId = options.sessionId ?? null;
  return store.write(
    async (tx, afterCommit) => {
      if (sessionId !== null && !(await tx.sessions.exists(sessionId))) throw new Error('the session was revoked');
      if (!(await tx.chat.userRef(author))) throw new Error('no such author');
      const original = await tx.chat.messageByNonce(author, id);
      if (original) return `duplicate ${original.seq}`;
      const conv = await tx.chat.conversation(conversationId);
      if (!conv || !(await tx.chat.isConversationMember(conv.id, author))) throw new Error(`${author} is not a member`);
      await options.before?.(tx);
      const row = await sendIn(tx, afterCommit, conversationId, author, id);
      await options.after?.(tx);
      if (options.charge !== undefined) await tx.usage.charge(author, options.charge, Date.now());
      return row.seq;
    },
    hint(author, id, conversationId, sessionId),
  );
}

/** A job's value, or its error: natter's code when it has one, else the message. */
function outcome(o: PromiseSettledResult<unknown>): unknown {
  if (o.status === 'fulfilled') return o.value;
  const err = o.reason as Error & { code?: unknown };
  return err instanceof NatterError ? err.code : err.message;
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

test('a run of a hundred sends with sessions and a write budget takes a handful of statements, and a revocation between them counts', async () => {
  const db = await databaseFor(cleanup);
  const { store } = await openTestStore(db, cleanup, { writeBytesPerDay: 1_000 });
  await seedGroup(store, 'g', ['ann', 'bob']);
  const pool = testPool(db, cleanup);
  for (const [id, user] of [
    ['s-ann', 'u-ann'],
    ['s-bob', 'u-bob'],
  ]) {
    await pool.query(
      "INSERT INTO sessions (id, user_id, kind, token_hash, created_at) VALUES ($1, $2, 'session', $1, 1)",
      [id, user],
    );
  }
  const before = { ...store.stats };
  const statementsBefore = store.statements;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) {
    // 100 bytes a send: ten of each author's fit in the day's 1,000.
    sends.push(hintedSend(store, 'u-ann', `a${i}`, { sessionId: 's-ann', charge: 100 }));
    sends.push(hintedSend(store, 'u-bob', `b${i}`, { sessionId: 's-bob', charge: 100 }));
    if (i === 5) sends.push(store.write((tx) => tx.sessions.revoke('u-bob', 's-bob', 'session')));
  }
  const outcomes = (await within(Promise.allSettled(sends), 'the sends')).map(outcome);
  assert.equal(store.stats.commits, before.commits + 1, 'one batch');
  assert.deepEqual(outcomes.slice(0, 12), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'six of each before the revocation');
  assert.equal(outcomes[12], true, 'the session deleted');
  const after = outcomes.slice(13);
  assert.deepEqual(
    after.filter((_, i) => i % 2 === 1),
    Array.from({ length: 44 }, () => 'the session was revoked'),
    "bob's sends after the revocation are refused",
  );
  assert.deepEqual(
    after.filter((_, i) => i % 2 === 0),
    [13, 14, 15, 16, ...Array.from({ length: 40 }, () => 'limit_reached')],
    "ann's sends stop at her budget: ten in all",
  );
  const stored = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE conversation_id = 'g'");
  assert.equal(stored.rows[0]?.n, 16);
  const usage = await pool.query<{ user_id: string; bytes: number }>(
    'SELECT user_id, bytes FROM usage ORDER BY user_id',
  );
  assert.deepEqual(usage.rows, [
    { user_id: 'u-ann', bytes: 1_000 },
    { user_id: 'u-bob', bytes: 600 },
  ]);
  const statements = store.statements - statementsBefore;
  assert.ok(statements < 30, `101 jobs took ${statements} statements`);
});

test('a run whose reading ahead cannot get a lock goes statement by statement: only the send that waits fails', async () => {
  const db = await databaseFor(cleanup);
  const failures: unknown[] = [];
  const { store } = await openTestStore(db, cleanup, {
    statementTimeoutMs: 1_000,
    onReadAheadError: (err) => failures.push(err),
  });
  await seedGroup(store, 'g0', ['carol']);
  await seedGroup(store, 'g1', ['bob']);
  await seedGroup(store, 'g2', ['ann']);
  // Another writer holds g1 (as a natter taking a number there would).
  const holder = await testPool(db, cleanup).connect();
  cleanup.push(async () => holder.release());
  await holder.query("BEGIN; SELECT 1 FROM conversations WHERE id = 'g1' FOR UPDATE");
  try {
    const outcomes = await within(
      Promise.allSettled([
        store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g2', 'u-ann', 'plain').then((r) => r.seq)),
        hintedSend(store, 'u-bob', 'waits', { conversationId: 'g1' }),
        hintedSend(store, 'u-carol', 'free', { conversationId: 'g0' }),
      ]),
      'the batch',
    );
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as { code?: string }).code)),
      [1, 'unavailable', 1],
      'the job before the run and the send that waits for nothing are stored',
    );
    assert.equal(failures.length, 1, 'the failed reading ahead was reported');
  } finally {
    await holder.query('ROLLBACK');
  }
  const pool = testPool(db, cleanup);
  const stored = await pool.query<{ id: string }>('SELECT id FROM messages ORDER BY id');
  assert.deepEqual(
    stored.rows.map((r) => r.id),
    ['free', 'plain'],
  );
});

test('a send that will be refused locks nothing: another natter sends to that conversation while its batch is held', async () => {
  const db = await databaseFor(cleanup);
  const held = gate();
  let hold = false;
  let waiting = false;
  const { store: a } = await openTestStore(db, cleanup, {
    beforeCommit: () => {
      if (!hold) return Promise.resolve();
      waiting = true;
      return held.opened;
    },
  });
  const { store: b } = await openTestStore(db, cleanup, { statementTimeoutMs: 5_000 });
  await seedGroup(a, 'g', ['ann']);
  await seedGroup(a, 'elsewhere', ['mallory']);
  hold = true;
  const commitsBefore = a.stats.commits;
  const refused = hintedSend(a, 'u-mallory', 'not mine');
  // Natter a's batch ran its job and waits before its commit, holding whatever it locked.
  await waitFor(() => waiting, { what: 'the held batch to have run its job' });
  let sent: unknown;
  try {
    sent = await within(hintedSend(b, 'u-ann', 'meanwhile'), 'the send on the other natter').catch(
      (e: Error) => e.message,
    );
  } finally {
    held.open();
  }
  assert.equal(sent, 1, 'stored while the refused send was held before its commit');
  await assert.rejects(refused, /u-mallory is not a member/);
  assert.equal(a.stats.commits, commitsBefore + 1);
});

test('sends that each run statements of their own are spread over batches of at most 64 savepoints, in order', async () => {
  const db = await databaseFor(cleanup);
  const { store } = await openTestStore(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  const before = { ...store.stats };
  const sends = Array.from({ length: 150 }, (_, i) =>
    hintedSend(store, 'u-ann', `m${i}`, {
      // A look-up of its own, as a mention makes: a savepoint each.
      before: async (tx) => {
        await tx.users.byId('u-ann');
      },
    }),
  );
  const outcomes = (await within(Promise.allSettled(sends), 'the sends')).map(outcome);
  assert.deepEqual(
    outcomes,
    Array.from({ length: 150 }, (_, i) => i + 1),
  );
  assert.ok(store.stats.commits - before.commits >= 3, `${store.stats.commits - before.commits} commits for 150`);
});

test('a send that starts a run after other jobs counts the two savepoints it may set: a batch never passes maxBatchJobs', async () => {
  const db = await databaseFor(cleanup);
  const { store } = await openTestStore(db, cleanup, { maxBatchJobs: 4 });
  await seedGroup(store, 'g', ['ann']);
  const before = { ...store.stats };
  const plain = (id: string) =>
    store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', id).then((r) => r.seq));
  const outcomes = (
    await within(
      Promise.allSettled([
        // The first job uses the savepoint BEGIN set; the next two set one each: three.
        plain('p1'),
        plain('p2'),
        plain('p3'),
        // Reading ahead sets one and its own statement another: five, past four, so it waits for the next batch.
        hintedSend(store, 'u-ann', 'h1', {
          before: async (tx) => {
            await tx.users.byId('u-ann');
          },
        }),
      ]),
      'the jobs',
    )
  ).map(outcome);
  assert.deepEqual(outcomes, [1, 2, 3, 4]);
  assert.equal(store.stats.commits, before.commits + 2, 'the send went in a batch of its own');
});

test('with maxBatchJobs 1, every job still commits, one batch each', async () => {
  const db = await databaseFor(cleanup);
  const { store } = await openTestStore(db, cleanup, { maxBatchJobs: 1 });
  await seedGroup(store, 'g', ['ann']);
  const before = { ...store.stats };
  const outcomes = (
    await within(
      Promise.allSettled([
        hintedSend(store, 'u-ann', 'a'),
        hintedSend(store, 'u-ann', 'b'),
        hintedSend(store, 'u-ann', 'c'),
      ]),
      'the sends',
    )
  ).map(outcome);
  assert.deepEqual(outcomes, [1, 2, 3]);
  assert.ok(store.stats.commits - before.commits >= 1);
});
