import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import type { NatterClient } from '../../src/client/index.js';
import type { Limits } from '../../src/server/config.js';
import { migratePostgres } from '../../src/server/store/postgres/migrate.js';
import { PostgresRateLimiter } from '../../src/server/store/postgres/rate-buckets.js';
import { pgTypes } from '../../src/server/store/postgres/sql.js';
import { connectAs, connectClient, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { sharedBus } from '../helpers/nats.js';
import { type Cleanup, databaseFor, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Natters sharing one PostgreSQL database share their rate limits: the
 * buckets are rows of `rate_buckets`, so two natters allow what one would,
 * not twice as much, however the attempts are spread over them.
 */

const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const database = () => databaseFor(cleanup);

/** The NATS of this file's natters: nodes sharing a database must share a bus. */
const busUrl = sharedBus(cleanup);

/** Two natters on one fresh database, with `limits`. */
async function twoNatters(limits: Partial<Limits>): Promise<{ db: TestDatabase; a: TestServer; b: TestServer }> {
  const db = await database();
  const cluster = { database: db.url, bus: await busUrl(), cluster: db.name };
  const a = await startTestServer({ ...cluster, limits });
  cleanup.push(() => a.destroy());
  const b = await startTestServer({ ...cluster, limits });
  cleanup.push(() => b.destroy());
  return { db, a, b };
}

function pool(db: TestDatabase): pg.Pool {
  const p = new pg.Pool({ connectionString: db.url, max: 4, types: pgTypes });
  // pool.end() resolves before its connections have closed: dropping the database then ends them with an error.
  p.on('error', () => {});
  cleanup.push(() => p.end());
  return p;
}

async function connect(url: string): Promise<NatterClient> {
  const c = await connectClient(url);
  cleanup.push(async () => c.close());
  return c;
}

/** A wrong login on `c`: its error code (`invalid_credentials` while allowed, then `rate_limited`). */
async function wrongLogin(c: NatterClient, username: string, i: number): Promise<string> {
  return (await rejection(c.request('login', { username, password: `wrong guess ${i}` }))).code;
}

test('wrong passwords spread over two natters are throttled as on one, and the right one too, before any hashing', async () => {
  const { a, b } = await twoNatters({ loginFailPerAccountAddress: { capacity: 4, refillMs: 600_000 } });
  const username = uniqueName('pgvictim');
  await new HttpApi(a.httpUrl).call('register', { username, password: PASSWORD });
  const onA = await connect(a.tcpUrl);
  const onB = await connect(b.wsUrl);
  const codes = [];
  for (let i = 0; i < 6; i++) codes.push(await wrongLogin(i % 2 === 0 ? onA : onB, username, i));
  assert.deepEqual(codes, [
    'invalid_credentials',
    'invalid_credentials',
    'invalid_credentials',
    'invalid_credentials',
    'rate_limited',
    'rate_limited',
  ]);
  const compares = () => a.server.services.passwords.stats.compares + b.server.services.passwords.stats.compares;
  const before = compares();
  for (const c of [onA, onB]) {
    const limited = await rejection(c.request('login', { username, password: PASSWORD }));
    assert.equal(limited.code, 'rate_limited');
    assert.ok((limited.retryAfterMs ?? 0) > 0, `retryAfterMs ${limited.retryAfterMs}`);
  }
  assert.equal(compares(), before, 'no password was checked while limited');
});

test('a successful login gives its failure token back on every natter', async () => {
  const { a, b } = await twoNatters({ loginFailPerAccountAddress: { capacity: 3, refillMs: 600_000 } });
  const username = uniqueName('pgrefund');
  await new HttpApi(a.httpUrl).call('register', { username, password: PASSWORD });
  const onA = await connect(a.wsUrl);
  const onB = await connect(b.wsUrl);
  assert.equal(await wrongLogin(onA, username, 1), 'invalid_credentials');
  assert.equal(await wrongLogin(onB, username, 2), 'invalid_credentials');
  // The third token is taken for this attempt and given back when the password is right.
  const ok = await new HttpApi(a.httpUrl).call('login', { username, password: PASSWORD });
  assert.equal(ok.user.username, username);
  // So a third failure still fits, on the other natter, and only a fourth is refused.
  assert.equal(await wrongLogin(onB, username, 3), 'invalid_credentials');
  assert.equal(await wrongLogin(onA, username, 4), 'rate_limited');
  assert.equal(await wrongLogin(onB, username, 5), 'rate_limited');
});

test('the send rate of one user is shared by the natters they are connected to', async () => {
  const { a, b } = await twoNatters({ sendPerUser: { capacity: 5, refillMs: 600_000 } });
  const api = new HttpApi(a.httpUrl);
  const { token } = await api.call('register', { username: uniqueName('pgsend'), password: PASSWORD });
  const { channels } = await api.call('servers.create', { name: 'shared sends' });
  const conversationId = channels[0]?.id ?? '';
  const onA = await connectAs(a.tcpUrl, token);
  cleanup.push(async () => onA.close());
  const onB = await connectAs(b.tcpUrl, token);
  cleanup.push(async () => onB.close());
  const send = (c: NatterClient, i: number) =>
    c.request('messages.send', { conversationId, body: `m${i}`, nonce: `n${i}` }).then(
      () => 'sent',
      (err: unknown) => (err as { code?: string }).code ?? String(err),
    );
  const outcomes = [];
  for (let i = 0; i < 8; i++) outcomes.push(await send(i < 3 || i === 5 ? onA : onB, i));
  assert.deepEqual(outcomes, ['sent', 'sent', 'sent', 'sent', 'sent', 'rate_limited', 'rate_limited', 'rate_limited']);
  const history = await api.call('messages.history', { conversationId, limit: 50 });
  assert.equal(history.messages.length, 5, 'a refused send stored nothing');
});

test('many sends at once on two natters never get more than the bucket holds', async () => {
  const capacity = 20;
  const { db, a, b } = await twoNatters({ sendPerUser: { capacity, refillMs: 3_600_000 } });
  const api = new HttpApi(a.httpUrl);
  const { token } = await api.call('register', { username: uniqueName('pgburst'), password: PASSWORD });
  const { channels } = await api.call('servers.create', { name: 'burst' });
  const conversationId = channels[0]?.id ?? '';
  const clients: NatterClient[] = [];
  for (const t of [a, b, a, b, a, b]) {
    const c = await connectAs(t.tcpUrl, token);
    cleanup.push(async () => c.close());
    clients.push(c);
  }
  // 6 connections, 25 sends each, all pipelined: 150 attempts racing for 20 tokens.
  const attempts = clients.flatMap((c, k) =>
    Array.from({ length: 25 }, (_, i) =>
      c.request('messages.send', { conversationId, body: `burst ${k}.${i}`, nonce: `b${k}.${i}` }).then(
        () => 'sent',
        (err: unknown) => (err as { code?: string }).code ?? String(err),
      ),
    ),
  );
  const outcomes = await Promise.all(attempts);
  const count = (what: string) => outcomes.filter((o) => o === what).length;
  assert.equal(count('sent'), capacity, `outcomes: ${JSON.stringify(outcomes)}`);
  assert.equal(count('rate_limited'), outcomes.length - capacity);
  const stored = await pool(db).query<{ n: number }>(
    'SELECT count(*)::bigint AS n FROM messages WHERE conversation_id = $1',
    [conversationId],
  );
  assert.equal(stored.rows[0]?.n, capacity);
});

test('limiters on two pools: parallel takes stop at the capacity, refunds and refills count once, by the given clock', async () => {
  const db = await database();
  const setup = pool(db);
  await migratePostgres(setup);
  let now = 1_000_000;
  const clock = () => now;
  const one = new PostgresRateLimiter('loginFailPerAccount', 10, 1000, pool(db), clock, true);
  const two = new PostgresRateLimiter('loginFailPerAccount', 10, 1000, pool(db), clock, true);
  const waits = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? one : two).take('u1')));
  assert.equal(waits.filter((w) => w === 0).length, 10);
  assert.ok(
    waits.filter((w) => w > 0).every((w) => w <= 1000),
    `each refusal waits for one refill at most: ${waits}`,
  );
  assert.equal(await two.retryAfter('u1'), 1000);
  await one.refund('u1');
  assert.equal(await two.retryAfter('u1'), 0, 'the other pool sees the refund');
  assert.equal(await two.take('u1'), 0, 'the refunded token, taken on the other pool');
  assert.equal(await one.take('u1'), 1000);
  // Half a refill later, half a token: still a wait, of the other half.
  now += 500;
  assert.equal(await two.take('u1'), 500);
  now += 500;
  assert.equal(await one.take('u1'), 0, 'one token refilled');
  assert.equal(await two.take('u1'), 1000);
  // Another key, and the same key of another limit, are other buckets.
  assert.equal(await one.take('u2'), 0);
  const other = new PostgresRateLimiter('inviteFail', 10, 1000, pool(db), clock, true);
  assert.equal(await other.take('u1'), 0);
  const rows = await setup.query<{ key: string }>('SELECT key FROM rate_buckets ORDER BY key');
  assert.deepEqual(
    rows.rows.map((r) => r.key),
    ['inviteFail:u1', 'loginFailPerAccount:u1', 'loginFailPerAccount:u2'],
  );
});

test('takes made in one turn are answered as if made one by one: in order per key, costs mixed, keys apart', async () => {
  const db = await database();
  const setup = pool(db);
  await migratePostgres(setup);
  let statements = 0;
  const counted = pool(db);
  counted.on('acquire', () => statements++);
  const now = 1_000_000;
  const limiter = new PostgresRateLimiter('lookupPerUser', 5, 1000, counted, () => now, true);
  // One by one, 5 tokens: 2 (3 left), 2 (1 left), 2 refused (waits 1 s), 1 (0 left), 1 refused, 3 refused.
  const waits = await Promise.all([
    limiter.take('u', 2),
    limiter.take('u', 2),
    limiter.take('u', 2),
    limiter.take('u', 1),
    limiter.take('u', 1),
    limiter.take('v', 1),
    limiter.take('u', 3),
    limiter.take('v', 5),
  ]);
  assert.deepEqual(waits, [0, 0, 1000, 0, 1000, 0, 3000, 1000]);
  // Three flushes (the costs of one key go one after another), each a statement and a transaction.
  assert.ok(statements <= 6, `the takes used ${statements} connections`);
  const left = await setup.query<{ key: string; tokens: number }>('SELECT key, tokens FROM rate_buckets ORDER BY key');
  assert.deepEqual(left.rows, [
    { key: 'lookupPerUser:u', tokens: 0 },
    { key: 'lookupPerUser:v', tokens: 4 },
  ]);
});

test('two natters taking many keys in opposite orders, turn after turn, never deadlock: every take is answered', async () => {
  const db = await database();
  const setup = pool(db);
  await migratePostgres(setup);
  // A table of some size, analysed: the plan then reaches the rows by key, in the order they are asked for.
  await setup.query("INSERT INTO rate_buckets SELECT 'sendPerUser:' || g, 5, 0, 0 FROM generate_series(1, 20000) g");
  await setup.query('ANALYZE rate_buckets');
  let now = 1_000_000;
  const clock = () => now;
  const one = new PostgresRateLimiter('sendPerUser', 1_000_000, 1, pool(db), clock, false);
  const two = new PostgresRateLimiter('sendPerUser', 1_000_000, 1, pool(db), clock, false);
  const keys = Array.from({ length: 40 }, (_, i) => String(i + 1));
  for (let turn = 0; turn < 30; turn++) {
    now++;
    const takes = [
      ...keys.map((k) => one.take(k)),
      ...[...keys].reverse().map((k) => two.take(k)),
      // And the next turn's takes on the first natter while this turn's are under way.
      ...keys.slice(0, 10).map((k) => new Promise<number>((r) => setImmediate(() => r(one.take(k)))).then((w) => w)),
    ];
    const outcomes = await Promise.allSettled(takes);
    const failed = outcomes.filter((o) => o.status === 'rejected');
    assert.deepEqual(
      failed.map((o) => String((o as PromiseRejectedResult).reason)),
      [],
      `turn ${turn}: every take answered`,
    );
    assert.ok(
      outcomes.every((o) => o.status === 'fulfilled' && o.value === 0),
      `turn ${turn}: all granted`,
    );
  }
});

test('a limit without refunds answers a client past it from memory until it refills, and is never given tokens back', async () => {
  const db = await database();
  const setup = pool(db);
  await migratePostgres(setup);
  let now = 1_000_000;
  const clock = () => now;
  const one = new PostgresRateLimiter('sendPerUser', 2, 1000, pool(db), clock, false);
  const two = new PostgresRateLimiter('sendPerUser', 2, 1000, pool(db), clock, false);
  assert.equal(await two.take('u'), 0);
  assert.equal(await one.take('u'), 0);
  assert.equal(await one.take('u'), 1000, 'refused by the database: the other natter took one');
  // With the bucket gone from the database, only the copy in memory can still refuse.
  await setup.query('DELETE FROM rate_buckets');
  assert.equal(await one.take('u'), 1000, 'refused from memory');
  assert.equal(await one.retryAfter('u'), 1000);
  now += 1000;
  assert.equal(await one.take('u'), 0, 'refilled: the database is asked again');
  const left = await setup.query<{ tokens: number }>("SELECT tokens FROM rate_buckets WHERE key = 'sendPerUser:u'");
  assert.deepEqual(
    left.rows.map((r) => r.tokens),
    [1],
  );
  await assert.rejects(one.refund('u'), /the limit sendPerUser was made without refunds/);
});

test('a limiter that cannot reach the database refuses with unavailable instead of letting the attempt through', async () => {
  // A port nothing listens on.
  const gone = new pg.Pool({
    connectionString: 'postgres://postgres@127.0.0.1:1/natter',
    connectionTimeoutMillis: 1000,
  });
  gone.on('error', () => {});
  cleanup.push(() => gone.end());
  for (const refunds of [false, true]) {
    const limiter = new PostgresRateLimiter('sendPerUser', 5, 1000, gone, () => 0, refunds);
    const err = await limiter.take('u').then(
      (wait) => new Error(`the take answered ${wait}`),
      (e: unknown) => e,
    );
    assert.equal((err as { code?: unknown }).code, 'unavailable', String(err));
  }
});
