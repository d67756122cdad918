import type pg from 'pg';
import type { Limit } from '../../config.js';
import { type Clock, type Limiter, RateLimiter } from '../../rate-limit.js';
import { changes, type Queryable, row, storeError } from './sql.js';

/*
 * Rate limits shared by every natter on one PostgreSQL database: each bucket
 * is a row of `rate_buckets` (an UNLOGGED table: no WAL, so a take commits
 * without a disk flush; a crash of PostgreSQL empties it, which only refills
 * every bucket). The takes a natter makes in one turn of its event loop go
 * together: the buckets are refilled and taken from under their row locks,
 * taken in key order, so takes on several natters at once never hand out more
 * than a bucket holds and never wait for each other in a circle. (`wait` is
 * no longer written by takes; the column stays.)
 *
 * Time is the natter's clock (the `clock` the in-memory limiter uses too),
 * sent with each statement; `at` only moves forward, so a natter whose clock
 * is behind refills nothing until it catches up, and one whose clock is ahead
 * by s ms can refill at most s / refillMs tokens early. Natters of a cluster
 * keep their clocks in step (NTP); a skew of a few ms is nothing beside
 * refills of 100 ms and more.
 */

/**
 * The buckets of keys not seen before, made full, in key order. Run on its
 * own (committed at once, holding nothing) before the takes' transaction, so
 * a natter never waits for another's new row while it holds locks of its own.
 * $1 keys, $2 capacity, $3 now.
 */
const MAKE = `
  INSERT INTO rate_buckets (key, tokens, at, wait)
  SELECT k, $2::float8, $3::bigint, 0 FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"
  ON CONFLICT (key) DO NOTHING`;

/**
 * The buckets of the takes, locked in key order (every natter locks in the
 * same order, so two flushes never wait for each other in a circle). $1 keys.
 */
const LOCK = 'SELECT key, tokens, at FROM rate_buckets WHERE key = ANY($1::text[]) ORDER BY key COLLATE "C" FOR UPDATE';

/** What the takes left in each bucket. $1 keys, $2 tokens, $3 now. */
const STORE = `
  UPDATE rate_buckets b SET tokens = s.tokens, at = greatest(b.at, $3::bigint)
  FROM unnest($1::text[], $2::float8[]) AS s(key, tokens) WHERE b.key = s.key`;

/** SQLSTATEs after which a flush is tried again: its transaction was chosen to end a deadlock, or could not be serialized. */
const RETRY_STATES = new Set(['40P01', '40001']);

/** A take waiting for the turn's statement. */
type Take = { key: string; cost: number; resolve: (wait: number) => void; reject: (err: unknown) => void };

/** A bucket's level now: refilled since it was last used, never past the capacity. $2 capacity, $3 refill ms, $4 now. */
const LEVEL = 'least($2::float8, b.tokens + greatest(0, $4::bigint - b.at)::float8 / $3::float8)';

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
  /** Takes waiting for the next flush, which takes them all at once (one row per key and cost). */
  #queued: Take[] = [];
  #scheduled = false;
  /** Whether a flush is under way: one at a time, so a key's takes keep their order. */
  #flushing = false;

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
      this.#schedule();
    });
  }

  /**
   * Takes the queued takes together, one flush at a time (a take made while
   * one is under way waits for the next). A key's takes go together when they
   * cost the same; one that costs otherwise, and those after it, wait for the
   * next flush, so each key's takes are answered in order, as if made one by
   * one.
   */
  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#flushing || this.#queued.length === 0) return;
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
    this.#flushing = true;
    this.#takeAll(batch)
      .then(
        (left) => {
          batch.forEach((group, i) => {
            const first = group[0];
            const level = left[i];
            if (!first || level === undefined) return;
            // Granted in order while the bucket holds their cost; the rest wait for it to hold one more.
            const granted = Math.min(group.length, Math.floor(level / first.cost));
            const tokens = level - granted * first.cost;
            this.#local?.set(first.key, tokens);
            const refused = Math.max(1, Math.ceil((first.cost - tokens) * this.refillMs));
            group.forEach((t, j) => {
              t.resolve(j < granted ? 0 : refused);
            });
          });
        },
        (err) => {
          for (const group of batch) for (const t of group) t.reject(storeError(err));
        },
      )
      .finally(() => {
        this.#flushing = false;
        this.#schedule();
      });
  };

  #schedule(): void {
    if (this.#scheduled || this.#flushing || this.#queued.length === 0) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  /**
   * Takes `batch` (each group: one key, its takes of one cost) and returns
   * each bucket's level before them, refilled to now. New buckets are made
   * first; then, in one short transaction, the buckets are locked in key
   * order, read, and left holding what the takes did not use. A transaction
   * chosen to end a deadlock (which the key order rules out between natters,
   * but not with other writers) is tried again.
   */
  async #takeAll(batch: Take[][]): Promise<number[]> {
    const keys = batch.map((g) => this.#key(g[0]?.key ?? ''));
    const now = this.clock();
    for (let attempt = 1; ; attempt++) {
      try {
        await changes(this.db, MAKE, [keys, this.capacity, now]);
        return await this.#inTransaction(async (client) => {
          const rows = await client.query<{ key: string; tokens: number; at: number }>(LOCK, [keys]);
          const stored = new Map(rows.rows.map((r) => [r.key, r]));
          const levels: number[] = [];
          const left: number[] = [];
          batch.forEach((group, i) => {
            const row = stored.get(keys[i] ?? '');
            const first = group[0];
            // A bucket deleted since it was made (the maintenance's pruning): full, as a missing row is.
            const level = row
              ? Math.min(this.capacity, row.tokens + Math.max(0, now - row.at) / this.refillMs)
              : this.capacity;
            levels.push(level);
            const granted = first ? Math.min(group.length, Math.floor(level / first.cost)) : 0;
            left.push(level - granted * (first?.cost ?? 0));
          });
          await client.query(STORE, [keys, left, now]);
          return levels;
        });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (attempt < 3 && typeof code === 'string' && RETRY_STATES.has(code)) continue;
        throw err;
      }
    }
  }

  /** Runs `fn` in a transaction on a connection of its own (the pool's, or the one client this limiter was given). */
  async #inTransaction<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const pool = this.db as pg.Pool;
    const client = typeof pool.connect === 'function' && !('release' in this.db) ? await pool.connect() : null;
    const c = (client ?? this.db) as pg.ClientBase;
    try {
      await c.query('BEGIN');
      const value = await fn(c);
      await c.query('COMMIT');
      return value;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client?.release();
    }
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
