import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PostgresStore } from '../../src/server/store/postgres/store.js';
import { type Cleanup, databaseFor } from '../helpers/postgres.js';
import { gate, openTestStore, seedGroup, sendIn, testPool } from '../helpers/postgres-store.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * Several natters on one PostgreSQL database: event ids become visible in
 * the order they are given, so a reader that moves its cursor to the newest
 * id it has seen never skips one that commits later; and a conversation's
 * sequence numbers have no holes and no duplicates however many natters
 * send to it at once. Each natter is a store with its own pool.
 */

const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const database = () => databaseFor(cleanup);

/**
 * A client of the stream on its own store: it polls `since` (or `replay`,
 * as a resuming client does) from its cursor and moves the cursor to each id
 * it is given. It notes any id that is not the one right after its cursor:
 * with ids visible out of order, the cursor would pass an id filled in later.
 */
class Reader {
  readonly seen: number[] = [];
  readonly skips: string[] = [];
  polls = 0;
  #stop = false;
  readonly #done: Promise<void>;

  constructor(
    store: PostgresStore,
    private cursor: number,
    how: 'since' | 'replay',
    scopes: [string, number][] = [],
  ) {
    this.#done = (async () => {
      while (!this.#stop) {
        const ids =
          how === 'since'
            ? (await store.events.since(this.cursor, 1000)).map((e) => e.id)
            : (await store.events.replay(scopes, this.cursor, Number.MAX_SAFE_INTEGER, 1000, 10_000_000)).texts.map(
                (t) => Number((JSON.parse(t) as { cursor: string }).cursor),
              );
        this.polls++;
        for (const id of ids) {
          if (id !== this.cursor + 1) this.skips.push(`at cursor ${this.cursor} the reader was given ${id}`);
          this.cursor = id;
          this.seen.push(id);
        }
      }
    })();
  }

  /** Waits until the reader has polled `n` more times (and so has seen what was committed before). */
  async pollsMore(n: number, what: string): Promise<void> {
    const target = this.polls + n;
    await waitFor(() => this.polls >= target, { what });
  }

  stop(): Promise<void> {
    this.#stop = true;
    return this.#done;
  }
}

test('a batch that started first and commits last gets the later ids: a reader never skips one', async () => {
  const db = await database();
  const a = await openTestStore(db, cleanup);
  const b = await openTestStore(db, cleanup);
  const reader = await openTestStore(db, cleanup);
  await seedGroup(a.store, 'g', ['ann']);
  await seedGroup(b.store, 'h', ['bob']);
  const start = await reader.store.events.head();
  const viaSince = new Reader(reader.store, start, 'since');
  const viaReplay = new Reader(reader.store, start, 'replay', [
    ['c:g', 0],
    ['c:h', 0],
  ]);

  // A's job appends its event, then waits: A started first.
  const inside = gate();
  const hold = gate();
  const fromA = a.store.write(async (tx, afterCommit) => {
    const row = await sendIn(tx, afterCommit, 'g', 'u-ann', 'from-a');
    inside.open();
    await hold.opened;
    return row;
  });
  await within(inside.opened, "A's job to be under way");
  // B writes and commits meanwhile.
  await within(
    b.store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'h', 'u-bob', 'from-b')),
    "B's write",
  );
  await viaSince.pollsMore(2, 'the reader to poll after B committed');
  hold.open();
  await within(fromA, "A's write");
  await waitFor(() => viaSince.seen.length === 2 && viaReplay.seen.length === 2, {
    what: 'both readers to see both events',
    detail: () => `since saw ${viaSince.seen}, replay saw ${viaReplay.seen}`,
  });
  await viaSince.stop();
  await viaReplay.stop();

  assert.deepEqual(
    b.published.map((e) => e.id),
    [start + 1],
    'B committed first: the first id',
  );
  assert.deepEqual(
    a.published.map((e) => e.id),
    [start + 2],
    'A committed last: the next one',
  );
  for (const r of [viaSince, viaReplay]) {
    assert.deepEqual(r.skips, []);
    assert.deepEqual(r.seen, [start + 1, start + 2]);
  }
});

test('a batch that holds its ids until its commit keeps the next batch waiting: no later id is visible before its own', async () => {
  const db = await database();
  let armed = false;
  const atCommit = gate();
  const release = gate();
  const a = await openTestStore(db, cleanup, {
    // A stops between taking its event ids and committing them.
    beforeCommit: async () => {
      if (!armed) return;
      armed = false;
      atCommit.open();
      await release.opened;
    },
  });
  const b = await openTestStore(db, cleanup);
  const reader = await openTestStore(db, cleanup);
  const pool = testPool(db, cleanup);
  await seedGroup(a.store, 'g', ['ann']);
  await seedGroup(b.store, 'h', ['bob']);
  const start = await reader.store.events.head();
  const viaSince = new Reader(reader.store, start, 'since');
  const viaReplay = new Reader(reader.store, start, 'replay', [
    ['c:g', 0],
    ['c:h', 0],
  ]);

  armed = true;
  const fromA = a.store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'from-a'));
  await within(atCommit.opened, 'A to hold its ids, uncommitted');
  // B (another conversation: only the counter is shared) gets as far as taking ids, and waits there.
  let bSettled = false;
  const fromB = b.store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'h', 'u-bob', 'from-b'));
  fromB.then(
    () => (bSettled = true),
    () => (bSettled = true),
  );
  const waiting = await waitFor(
    async () => {
      if (bSettled) return 'B did not wait: it committed';
      const r = await pool.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'natter writer' AND wait_event_type = 'Lock'`,
      );
      return r.rows[0]?.query;
    },
    { what: "B's batch to wait for a lock, or to commit" },
  );
  await viaSince.pollsMore(3, 'the reader to poll while A holds its ids');
  await viaReplay.pollsMore(3, 'the replaying reader to poll meanwhile');
  assert.deepEqual(viaSince.seen, [], 'nothing is visible while the first id is uncommitted');
  assert.deepEqual(viaReplay.seen, []);
  assert.match(waiting, /UPDATE event_counter/, 'B waits for the counter');

  release.open();
  await within(Promise.all([fromA, fromB]), 'both writes');
  await waitFor(() => viaSince.seen.length === 2 && viaReplay.seen.length === 2, {
    what: 'both readers to see both events',
    detail: () => `since saw ${viaSince.seen}, replay saw ${viaReplay.seen}`,
  });
  await viaSince.stop();
  await viaReplay.stop();
  assert.deepEqual(
    a.published.map((e) => e.id),
    [start + 1],
  );
  assert.deepEqual(
    b.published.map((e) => e.id),
    [start + 2],
  );
  for (const r of [viaSince, viaReplay]) {
    assert.deepEqual(r.skips, []);
    assert.deepEqual(r.seen, [start + 1, start + 2]);
  }
});

test('two natters sending 300 messages each to one conversation at once: numbers 1 to 600, ids without a gap', async () => {
  const db = await database();
  const a = await openTestStore(db, cleanup);
  const b = await openTestStore(db, cleanup);
  const reader = await openTestStore(db, cleanup);
  const pool = testPool(db, cleanup);
  await seedGroup(a.store, 'g', ['ann', 'bob']);
  const start = await reader.store.events.head();
  const viaSince = new Reader(reader.store, start, 'since');

  const PER_NODE = 300;
  const sends = (store: PostgresStore, who: string) =>
    Array.from({ length: PER_NODE }, (_, i) =>
      store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', `u-${who}`, `${who}-${i}`)),
    );
  const rows = await within(Promise.all([...sends(a.store, 'ann'), ...sends(b.store, 'bob')]), 'the 600 sends');
  await waitFor(() => viaSince.seen.length === 2 * PER_NODE, {
    what: 'the reader to see every event',
    detail: () => `seen ${viaSince.seen.length}`,
  });
  await viaSince.stop();

  const seqs = rows.map((r) => r.seq).sort((x, y) => x - y);
  assert.deepEqual(
    seqs,
    Array.from({ length: 2 * PER_NODE }, (_, i) => i + 1),
    'each number once, none missing',
  );
  const stored = await pool.query<{ n: number; top: number; distinct: number }>(
    "SELECT count(*) AS n, max(seq) AS top, count(DISTINCT seq) AS distinct FROM messages WHERE conversation_id = 'g'",
  );
  assert.deepEqual(stored.rows[0], { n: 600, top: 600, distinct: 600 });
  const conv = await pool.query<{ last_seq: number }>("SELECT last_seq FROM conversations WHERE id = 'g'");
  assert.equal(conv.rows[0]?.last_seq, 600);

  // Each natter's events go out in id order; together they are every id once.
  for (const node of [a, b]) {
    const ids = node.published.map((e) => e.id);
    assert.equal(ids.length, PER_NODE);
    assert.ok(
      ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0)),
      'published in increasing id order',
    );
  }
  const all = [...a.published, ...b.published].map((e) => e.id).sort((x, y) => x - y);
  assert.deepEqual(
    all,
    Array.from({ length: 2 * PER_NODE }, (_, i) => start + i + 1),
  );
  assert.deepEqual(viaSince.skips, [], 'the reader never skipped an id');
  assert.ok(a.store.stats.commits < PER_NODE + 1, 'the sends shared commits');
});

test('a send retried on two natters at the same moment stores one message; the retry gets the original', async () => {
  const db = await database();
  const a = await openTestStore(db, cleanup);
  const b = await openTestStore(db, cleanup);
  const pool = testPool(db, cleanup);
  await seedGroup(a.store, 'g', ['ann']);

  // messages.send: look the nonce up, else number and store the message.
  const send = (store: PostgresStore, id: string, hold?: Promise<void>, looked?: () => void) =>
    store.write(async (tx, afterCommit) => {
      const original = await tx.chat.messageByNonce('u-ann', 'same-nonce');
      looked?.();
      if (original) return { id: original.id, duplicate: true };
      await hold;
      const seq = await tx.chat.nextSeq('g', 1);
      await tx.chat.insertMessage({
        id,
        conversationId: 'g',
        seq,
        authorId: 'u-ann',
        body: 'once',
        createdAt: 1,
        editedAt: null,
        deletedAt: null,
        nonce: 'same-nonce',
        kind: 'text',
        bot: false,
      });
      await tx.events.append(afterCommit, ['c:g'], 'message.created', { message: { id } } as never, 1);
      return { id, duplicate: false };
    });

  // A has looked the nonce up and found nothing; it holds there while B's retry comes in.
  const looked = gate();
  const hold = gate();
  const first = send(a.store, 'first', hold.opened, looked.open);
  await within(looked.opened, "A's look-up");
  const retry = send(b.store, 'retry');
  let retried = false;
  retry.then(
    () => (retried = true),
    () => (retried = true),
  );
  const waiting = await waitFor(
    async () =>
      retried
        ? 'B did not wait'
        : (
            await pool.query<{ query: string }>(
              `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'natter writer'
             AND wait_event_type = 'Lock'`,
            )
          ).rows[0]?.query,
    { what: "B's send to wait for A's, or to end" },
  );
  hold.open();
  assert.deepEqual(await within(Promise.all([first, retry]), 'both sends'), [
    { id: 'first', duplicate: false },
    { id: 'first', duplicate: true },
  ]);
  const stored = await pool.query<{ id: string }>('SELECT id FROM messages');
  assert.deepEqual(
    stored.rows.map((r) => r.id),
    ['first'],
  );
  assert.equal(a.published.length + b.published.length, 1, 'one event');
  assert.match(
    waiting,
    /FROM users WHERE id = \$1 FOR NO KEY UPDATE/,
    "B waited at its look-up (the author's row), for A's commit",
  );
});
