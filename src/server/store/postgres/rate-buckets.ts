import type { Limit } from '../../config.js';
import { type Clock, type Limiter, RateLimiter } from '../../rate-limit.js';
import { changes, type Queryable, row, rows } from './sql.js';

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

/** A bucket's level now: refilled since it was last used, never past the capacity. $2 capacity, $3 refill ms, $4 now. */
const LEVEL = 'least($2::float8, b.tokens + greatest(0, $4::bigint - b.at)::float8 / $3::float8)';

/**
 * The takes of one turn of the event loop, one row per key: `n` takes of
 * `cost` each, of which as many as the bucket holds are granted, in order.
 * A key without a row starts full (inserted); one with a row is refilled to
 * now, then taken from under the row's lock. `wait` holds how many were
 * granted (RETURNING sees only the row as it is after the statement), and
 * `tokens` what is left. A key another natter inserted while this statement
 * ran is in neither answer: its takes are sent again.
 * $1 keys, $2 capacity, $3 refill ms, $4 now, $5 costs (each at most the capacity), $6 counts.
 */
const GRANTED = `least(r.n, floor(${LEVEL} / r.cost))`;
const TAKE = `
  WITH r AS (SELECT * FROM unnest($1::text[], $5::float8[], $6::int4[]) AS r(key, cost, n)),
  fresh AS (
    INSERT INTO rate_buckets (key, tokens, at, wait)
    SELECT r.key, $2::float8 - least(r.n, floor($2::float8 / r.cost)) * r.cost, $4::bigint, least(r.n, floor($2::float8 / r.cost))
    FROM r ORDER BY r.key
    ON CONFLICT (key) DO NOTHING
    RETURNING key, tokens, wait),
  used AS (
    UPDATE rate_buckets b SET
      tokens = ${LEVEL} - ${GRANTED} * r.cost,
      wait = ${GRANTED},
      at = greatest(b.at, $4::bigint)
    FROM r WHERE b.key = r.key
    RETURNING b.key, b.tokens, b.wait)
  SELECT key, tokens, wait FROM fresh UNION ALL SELECT key, tokens, wait FROM used`;

/** A take waiting for the turn's statement. */
type Take = { key: string; cost: number; resolve: (wait: number) => void; reject: (err: unknown) => void };

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
  /** Takes waiting for the next statement, which takes them all at once (one row per key and cost). */
  #queued: Take[] = [];
  #scheduled = false;

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
    return new Promise<number>((resolve, reject) => {
      this.#queued.push({ key, cost: n, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  /**
   * Sends the queued takes as one statement. A key's takes go together when
   * they cost the same; one that costs otherwise (and those after it) waits
   * for the next statement, so each key's takes are answered in order.
   */
  readonly #flush = (): void => {
    this.#scheduled = false;
    const groups = new Map<string, Take[]>();
    const later: Take[] = [];
    const held = new Set<string>();
    for (const t of this.#queued) {
      const group = groups.get(t.key);
      if (held.has(t.key) || (group && group[0]?.cost !== t.cost)) {
        held.add(t.key);
        later.push(t);
      } else if (group) group.push(t);
      else groups.set(t.key, [t]);
    }
    this.#queued = later;
    const batch = [...groups.values()];
    rows<{ key: string; tokens: number; wait: number }>(this.db, TAKE, [
      batch.map((g) => this.#key(g[0]?.key ?? '')),
      this.capacity,
      this.refillMs,
      this.clock(),
      batch.map((g) => g[0]?.cost ?? 1),
      batch.map((g) => g.length),
    ]).then(
      (answers) => {
        const byKey = new Map(answers.map((a) => [a.key, a]));
        const again: Take[] = [];
        for (const group of batch) {
          const first = group[0];
          if (!first) continue;
          const a = byKey.get(this.#key(first.key));
          if (!a) {
            again.push(...group);
            continue;
          }
          this.#local?.set(first.key, a.tokens);
          const refused = Math.max(1, Math.ceil((first.cost - a.tokens) * this.refillMs));
          group.forEach((t, i) => {
            t.resolve(i < a.wait ? 0 : refused);
          });
        }
        if (again.length > 0 || this.#queued.length > 0) {
          this.#queued = [...again, ...this.#queued];
          if (!this.#scheduled) {
            this.#scheduled = true;
            setImmediate(this.#flush);
          }
        }
      },
      (err) => {
        for (const group of batch) for (const t of group) t.reject(err);
        if (this.#queued.length > 0 && !this.#scheduled) {
          this.#scheduled = true;
          setImmediate(this.#flush);
        }
      },
    );
  };

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
