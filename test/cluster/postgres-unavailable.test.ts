import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { PostgresStore } from '../../src/server/store/postgres/store.js';
import { freshDatabase } from '../helpers/postgres.js';
import { isUnavailable, openTestStore, seedGroup, sendIn, testPool } from '../helpers/postgres-store.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * When PostgreSQL cannot be reached (nothing listens, a server that never
 * answers, a connection the server ends, a statement past its timeout),
 * reads and writes fail with natter's `unavailable`, never a driver error,
 * and `ping` says false: requests fail fast instead of piling up.
 */

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** What a request came to: `unavailable`, or what else happened (noted at once, so no rejection goes unhandled). */
function outcome(p: Promise<unknown>, what: string): Promise<string> {
  return within(p, what).then(
    () => 'answered',
    (err: unknown) => (isUnavailable(err) ? 'unavailable' : `failed otherwise: ${String(err)}`),
  );
}

/** Every kind of request a handler makes (reads of each store, and a write), and what each came to. */
async function requests(store: PostgresStore): Promise<Record<string, string>> {
  const list: [string, Promise<string>][] = [
    ['chat.user', outcome(store.chat.user('u-ann'), 'chat.user')],
    ['chat.conversationPage', outcome(store.chat.conversationPage('u-ann', null, 10), 'chat.conversationPage')],
    ['users.byUsernameKey', outcome(store.users.byUsernameKey('ann'), 'users.byUsernameKey')],
    ['sessions.byTokenHash', outcome(store.sessions.byTokenHash('x'), 'sessions.byTokenHash')],
    ['events.head', outcome(store.events.head(), 'events.head')],
    [
      'events.replay',
      outcome(store.events.replay([['u:u-ann', 0]], 0, Number.MAX_SAFE_INTEGER, 10, 1000), 'events.replay'),
    ],
    [
      'write',
      outcome(
        store.write((tx) => tx.sessions.exists('s')),
        'write',
      ),
    ],
  ];
  const out: Record<string, string> = {};
  for (const [name, p] of list) out[name] = await p;
  return out;
}

const EVERY_ONE = Object.fromEntries(
  [
    'chat.user',
    'chat.conversationPage',
    'users.byUsernameKey',
    'sessions.byTokenHash',
    'events.head',
    'events.replay',
    'write',
  ].map((n) => [n, 'unavailable']),
);

test('nothing listening at the address: every request is refused with unavailable, ping says false', async () => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');

  const store = new PostgresStore(`postgres://postgres@127.0.0.1:${port}/natter`, { publish: () => {} });
  cleanup.push(() => store.close());
  assert.deepEqual(await requests(store), EVERY_ONE);
  assert.equal(await store.ping(), false);
});

test('a server that accepts connections and never answers: requests fail with unavailable once the connect timeout passes', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;

  const store = new PostgresStore(`postgres://postgres@127.0.0.1:${port}/natter`, {
    publish: () => {},
    connectTimeoutMs: 300,
  });
  cleanup.push(() => store.close());
  assert.deepEqual(await requests(store), EVERY_ONE);
  assert.ok(sockets.length > 0, 'the store did connect, and got no answer');
  assert.equal(await store.ping(), false);
});

test('a read whose connection the server ends, or that outlives the statement timeout, fails with unavailable', async () => {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  const { store } = await openTestStore(db, cleanup, { statementTimeoutMs: 500 });
  const pool = testPool(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  assert.equal(await store.ping(), true);

  // Another program holds the users table: the store's reads of it wait.
  const locker = await pool.connect();
  cleanup.push(async () => locker.release());
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');

  const read = outcome(store.chat.user('u-ann'), 'a read on a connection the server ends');
  await waitFor(
    async () =>
      (
        await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'natter'
             AND wait_event_type = 'Lock'`,
        )
      ).rowCount === 1,
    { what: 'the read to wait for the lock' },
  );
  await pool.query(
    `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'natter'`,
  );
  assert.equal(await read, 'unavailable');

  // The server cancels a statement past statement_timeout.
  assert.equal(await outcome(store.chat.user('u-ann'), 'a read past its timeout'), 'unavailable');
  await locker.query('ROLLBACK');

  // Once the table is free, the pool's new connections answer.
  assert.equal((await within(store.chat.user('u-ann'), 'a read afterwards'))?.id, 'u-ann');
});

test('a write that waits on a lock past the statement timeout fails alone with unavailable; the batch commits the rest', async () => {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  const { store } = await openTestStore(db, cleanup, { statementTimeoutMs: 500 });
  const pool = testPool(db, cleanup);
  await seedGroup(store, 'g', ['ann']);
  await seedGroup(store, 'h', ['bob']);

  const locker = await pool.connect();
  cleanup.push(async () => locker.release());
  await locker.query('BEGIN');
  await locker.query("SELECT 1 FROM conversations WHERE id = 'g' FOR UPDATE");
  const [blocked, free] = await within(
    Promise.allSettled([
      store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'g', 'u-ann', 'waits')),
      store.write((tx, afterCommit) => sendIn(tx, afterCommit, 'h', 'u-bob', 'free')),
    ]),
    'the two writes',
  );
  await locker.query('ROLLBACK');
  assert.equal(blocked?.status === 'rejected' && isUnavailable(blocked.reason), true, 'the blocked one: unavailable');
  assert.equal(free?.status === 'fulfilled' && free.value.seq, 1, 'the other committed');
});
