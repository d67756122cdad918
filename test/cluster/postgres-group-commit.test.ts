import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type Cleanup, databaseFor } from '../helpers/postgres.js';
import { gate, isUnavailable, openTestStore, seedGroup, sendIn, testPool } from '../helpers/postgres-store.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * Group commit on PostgreSQL: the jobs queued together run in one
 * transaction, each in its own savepoint. A job that throws rolls back
 * alone (its message, its sequence number, its events, its read position),
 * the others commit; a batch that loses its connection rejects every job and
 * publishes nothing.
 */

const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const database = () => databaseFor(cleanup);

test('a job that throws rolls back alone: its message, number, events and read position go, the batch commits the rest', async () => {
  const db = await database();
  const { store, published } = await openTestStore(db, cleanup);
  const pool = testPool(db, cleanup);
  await seedGroup(store, 'g', ['ann', 'bob']);
  const before = { ...store.stats };
  const ran: string[] = [];

  const job = (id: string, fail: 'throws' | 'duplicate' | null) =>
    store.write(async (tx, afterCommit) => {
      // A duplicate id breaks the primary key inside the job: the database refuses the insert.
      const row = await sendIn(tx, afterCommit, 'g', id === 'c' ? 'u-bob' : 'u-ann', fail === 'duplicate' ? 'a' : id);
      afterCommit.push(() => ran.push(id));
      if (fail === 'throws') throw new Error(`job ${id} gives up after its writes`);
      return row.seq;
    });
  // Queued in one turn: one batch.
  const outcomes = await within(
    Promise.allSettled([job('a', null), job('b', 'throws'), job('x', 'duplicate'), job('c', null)]),
    'the batch',
  );

  assert.deepEqual(
    outcomes.map((o) => (o.status === 'fulfilled' ? o.value : String((o.reason as Error).message))),
    [1, 'job b gives up after its writes', 'duplicate key value violates unique constraint "messages_pkey"', 2],
    'the failed jobs gave their numbers back',
  );
  assert.deepEqual(store.stats, { commits: before.commits + 1, jobs: before.jobs + 4 }, 'one commit for the four');
  assert.deepEqual(ran, ['a', 'c'], "the failed jobs' after-commit work never ran");

  const messages = await pool.query<{ id: string; seq: number }>('SELECT id, seq FROM messages ORDER BY seq');
  assert.deepEqual(messages.rows, [
    { id: 'a', seq: 1 },
    { id: 'c', seq: 2 },
  ]);
  const conv = await pool.query<{ last_seq: number }>("SELECT last_seq FROM conversations WHERE id = 'g'");
  assert.equal(conv.rows[0]?.last_seq, 2);
  const reads = await pool.query<{ user_id: string; last_read_seq: number }>(
    'SELECT user_id, last_read_seq FROM read_states ORDER BY user_id',
  );
  assert.deepEqual(
    reads.rows,
    [
      { user_id: 'u-ann', last_read_seq: 1 },
      { user_id: 'u-bob', last_read_seq: 2 },
    ],
    "ann's read position is that of her committed message, not of her rolled-back ones",
  );
  const stored = await store.events.since(0, 100);
  assert.deepEqual(
    stored.map((e) => [e.id, JSON.parse(e.text).data.message.id]),
    [
      [1, 'a'],
      [2, 'c'],
    ],
    'the events of the committed jobs, under consecutive ids',
  );
  assert.deepEqual(published, stored, 'published after the commit: exactly what was stored');
  assert.equal(await store.events.head(), 2);
});

test('a batch that loses its connection rejects every job with unavailable, stores and publishes nothing', async () => {
  const db = await database();
  const { store, published } = await openTestStore(db, cleanup);
  const pool = testPool(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  await store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'first'));
  const publishedBefore = published.length;
  const statsBefore = { ...store.stats };

  const reached = gate();
  const hold = gate();
  const jobs = [
    store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'x')),
    store.write(async (tx, afterCommit) => {
      await sendIn(tx, afterCommit, 'g', 'u-ann', 'y');
      reached.open();
      await hold.opened;
      // The connection is gone by now: this statement fails.
      return tx.chat.message('x');
    }),
    store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'z')),
  ];
  const settled = Promise.allSettled(jobs);
  await within(reached.opened, 'the second job to be under way');
  // The server ends the batch's connection, as a restart or a failover would.
  const ended = await pool.query<{ ended: boolean }>(
    `SELECT pg_terminate_backend(pid, 10000) AS ended FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'natter writer'`,
  );
  assert.deepEqual(
    ended.rows.map((r) => r.ended),
    [true],
    'the write connection was ended',
  );
  hold.open();

  const outcomes = await within(settled, 'the lost batch to settle');
  assert.deepEqual(
    outcomes.map((o) => (o.status === 'rejected' && isUnavailable(o.reason) ? 'unavailable' : o.status)),
    ['unavailable', 'unavailable', 'unavailable'],
    'every job of the batch, the one that had finished too',
  );
  assert.equal(published.length, publishedBefore, 'nothing was published');
  assert.deepEqual(store.stats, statsBefore, 'no commit counted');
  const messages = await pool.query<{ id: string }>('SELECT id FROM messages ORDER BY seq');
  assert.deepEqual(
    messages.rows.map((r) => r.id),
    ['first'],
  );
  assert.equal(await store.events.head(), 1, 'no event id was used up');

  // The next write gets a new connection and carries on where the committed data left off.
  const next = await within(
    store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'after')),
    'a write after the lost batch',
  );
  assert.equal(next.seq, 2, 'the lost numbers were given back');
  await waitFor(() => published.length === publishedBefore + 1, { what: 'the new event to be published' });
  assert.equal(published.at(-1)?.id, 2, 'and the lost event ids too');
});

test('a burst of writes commits in batches of at most maxBatchJobs jobs, in the order queued', async () => {
  const db = await database();
  const { store } = await openTestStore(db, cleanup, { maxBatchJobs: 3 });
  await seedGroup(store, 'g', ['ann']);
  const before = { ...store.stats };
  const seqs = await within(
    Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', `m${i}`)).then((m) => m.seq),
      ),
    ),
    'seven writes',
  );
  assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7], 'in the order they were queued');
  assert.deepEqual(store.stats, { commits: before.commits + 3, jobs: before.jobs + 7 }, 'batches of 3, 3 and 1');
  assert.equal(store.queued, 0);
});

test('connections the server ended while idle are replaced: the next read and write go through', async () => {
  const db = await database();
  const { store } = await openTestStore(db, cleanup);
  const pool = testPool(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  assert.equal((await store.chat.user('u-ann'))?.id, 'u-ann');
  const ended = await pool.query<{ name: string }>(
    `SELECT application_name AS name FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'natter%' AND pg_terminate_backend(pid, 10000)
      ORDER BY 1`,
  );
  assert.deepEqual(
    ended.rows.map((r) => r.name),
    ['natter', 'natter writer'],
    'the read and the write connections were ended',
  );
  const sent = await within(
    store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'm')),
    'a write afterwards',
  );
  assert.equal(sent.seq, 1);
  assert.equal((await within(store.chat.message('m'), 'a read afterwards'))?.seq, 1);
});

test('a job that never ends loses its batch at the job deadline; the writes after it go through', async () => {
  const db = await database();
  // Jobs may take five statement timeouts: one second here.
  const { store, published } = await openTestStore(db, cleanup, { statementTimeoutMs: 200 });
  const pool = testPool(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  const never = new Promise<never>(() => {});
  const outcomes = await within(
    Promise.allSettled([
      store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'before')),
      store.write(async (tx, afterCommit) => {
        await sendIn(tx, afterCommit, 'g', 'u-ann', 'stuck');
        return never;
      }),
    ]),
    'the batch with the stuck job',
  );
  assert.deepEqual(
    outcomes.map((o) => (o.status === 'rejected' && isUnavailable(o.reason) ? 'unavailable' : o.status)),
    ['unavailable', 'unavailable'],
  );
  assert.deepEqual(published, []);
  const next = await within(
    store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'after')),
    'a write after the stuck one',
  );
  assert.equal(next.seq, 1, 'nothing of the lost batch stayed');
  const messages = await pool.query<{ id: string }>('SELECT id FROM messages');
  assert.deepEqual(
    messages.rows.map((r) => r.id),
    ['after'],
  );
});
