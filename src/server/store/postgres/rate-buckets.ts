import type { Limit } from '../../config.js';
import { type Clock, type Limiter, RateLimiter } from '../../rate-limit.js';
import { changes, type Queryable, row } from './sql.js';

/*
 * Rate limits shared by every natter on one PostgreSQL database: each bucket
 * is a row of `rate_buckets` (an UNLOGGED table: no WAL, so a take commits
 * without a disk flush; a crash of PostgreSQL empties it, which only refills
 * every bucket). Each take is one statement that refills and takes under the
 * row's lock, so takes on several natters at once never hand out more than
 * the bucket holds.
 *
 * Time is the natter's clock (the `clock` the in-memory limiter uses too),
 * sent with each statement; `at` only moves forward, so a natter whose clock
 * is behind refills nothing until it catches up, and one whose clock is ahead
 * by s ms can refill at most s / refillMs tokens early. Natters of a cluster
 * keep their clocks in step (NTP); a skew of a few ms is nothing beside
 * refills of 100 ms and more.
 */

/**
 * One take: the bucket refilled to now (`level`), then `cost` taken when it
 * holds that many. `wait` keeps the answer (0: taken; else the ms until it
 * would hold enough), since RETURNING sees only the row as it is after the
 * statement. A new key starts full, minus the cost.
 * $1 key, $2 capacity, $3 refill ms, $4 now, $5 cost (at most the capacity).
 */
const LEVEL = 'least($2::float8, b.tokens + greatest(0, $4::bigint - b.at)::float8 / $3::float8)';
const TAKE = `
  INSERT INTO rate_buckets AS b (key, tokens, at, wait)
  VALUES ($1, $2::float8 - $5::float8, $4::bigint, 0)
  ON CONFLICT (key) DO UPDATE SET
    tokens = CASE WHEN ${LEVEL} >= $5::float8 THEN ${LEVEL} - $5::float8 ELSE ${LEVEL} END,
    wait = CASE WHEN ${LEVEL} >= $5::float8 THEN 0 ELSE ceil(($5::float8 - ${LEVEL}) * $3::float8)::bigint END,
    at = greatest(b.at, $4::bigint)
  RETURNING tokens, wait`;

/** A refund: one token back, never past the capacity. $1 key, $2 capacity, $3 refill ms, $4 now. */
const REFUND = `
  UPDATE rate_buckets AS b SET tokens = least($2::float8, ${LEVEL} + 1), at = greatest(b.at, $4::bigint)
  WHERE key = $1`;

/**
 * The limit `name`'s buckets in the database, keyed `name:key`.
 *
 * A limit whose tokens are never given back (sends, writes, reads,
 * look-ups, token checks) also keeps a copy of each bucket in memory, which
 * counts this natter's takes and is brought down to the database's level
 * after each statement: since only takes lower a bucket, the copy never
 * holds fewer tokens than the shared bucket (it misses only other natters'
 * takes), so when the copy says no, the answer is no without asking the
 * database. A client hammering past its limit then costs a statement once
 * per refill, not once per request; a request within the limit costs one.
 * A limit with refunds (logins, registrations, invite codes) has no copy:
 * another natter's refund raises the shared bucket without this one
 * knowing, and a stale copy would refuse what the database allows.
 */
export class PostgresRateLimiter implements Limiter {
  readonly #local: RateLimiter | null;

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly refillMs: number,
    private readonly db: Queryable,
    private readonly clock: Clock,
    /** Whether tokens of this limit are given back (`refund`); without, a copy in memory answers refusals. */
    readonly refunds: boolean,
  ) {
    this.#local = refunds ? null : new RateLimiter(capacity, refillMs, clock);
  }

  async retryAfter(key: string, cost = 1): Promise<number> {
    const n = Math.min(cost, this.capacity);
    const local = this.#local?.waitNow(key, n) ?? 0;
    if (local > 0) return local;
    const r = await row<{ tokens: number; at: number }>(this.db, 'SELECT tokens, at FROM rate_buckets WHERE key = $1', [
      this.#key(key),
    ]);
    if (!r) return 0;
    const level = Math.min(this.capacity, r.tokens + Math.max(0, this.clock() - r.at) / this.refillMs);
    this.#local?.set(key, level);
    return level >= n ? 0 : Math.ceil((n - level) * this.refillMs);
  }

  async take(key: string, cost = 1): Promise<number> {
    const n = Math.min(cost, this.capacity);
    const local = this.#local?.waitNow(key, n) ?? 0;
    if (local > 0) return local;
    const r = await row<{ tokens: number; wait: number }>(this.db, TAKE, [
      this.#key(key),
      this.capacity,
      this.refillMs,
      this.clock(),
      n,
    ]);
    if (!r) throw new Error('a rate-limit take returned no row');
    this.#local?.set(key, r.tokens);
    return r.wait;
  }

  async refund(key: string): Promise<void> {
    if (!this.refunds) throw new Error(`the limit ${this.name} was made without refunds`);
    await changes(this.db, REFUND, [this.#key(key), this.capacity, this.refillMs, this.clock()]);
  }

  #key(key: string): string {
    return `${this.name}:${key}`;
  }
}

/** The limiter of `name` on the database `db` (the store's pool). */
export function postgresLimiter(
  name: string,
  limit: Limit,
  db: Queryable,
  clock: Clock,
  refunds: boolean,
): PostgresRateLimiter {
  return new PostgresRateLimiter(name, limit.capacity, limit.refillMs, db, clock, refunds);
}

/**
 * Deletes up to `limit` buckets last used before `before`. A bucket unused
 * for its capacity times its refill is full again, the same as no row: the
 * caller passes a time at least that long ago for every limit.
 */
export function pruneRateBuckets(db: Queryable, before: number, limit: number): Promise<number> {
  return changes(db, 'DELETE FROM rate_buckets WHERE key IN (SELECT key FROM rate_buckets WHERE at < $1 LIMIT $2)', [
    before,
    limit,
  ]);
}
