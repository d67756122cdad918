import type { Limit } from '../../config.js';
import { type Clock, type Limiter, RateLimiter } from '../../rate-limit.js';
import { changes, type Queryable, row, rows, storeError, unavailable } from './sql.js';

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

/** A bucket's level now: refilled since it was last used, never past the capacity. $2 capacity, $3 refill ms, $4 now. */
const LEVEL = 'least($2::float8, b.tokens + greatest(0, $4::bigint - b.at)::float8 / $3::float8)';

/**
 * The buckets of keys not seen before, made full, in key order. Run on its
 * own (committed at once, holding nothing) before the take, so
 * a natter never waits for another's new row while it holds locks of its own.
 * $1 keys, $2 capacity, $3 now.
 */
const MAKE = `
  INSERT INTO rate_buckets (key, tokens, at, wait)
  SELECT k, $2::float8, $3::bigint, 0 FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"
  ON CONFLICT (key) DO NOTHING`;

/**
 * The takes of a flush, one row per key: `n` takes of `cost` each, of which
 * as many as the bucket holds are granted, in order. The buckets are locked
 * in key order by the subquery `l` (every natter locks in the same order, so
 * two flushes never wait for each other in a circle), then each is refilled
 * to now and taken from. `wait` records how many were granted (RETURNING sees
 * only the row as it is after the statement) and `tokens` what is left. A key
 * without a row (made by MAKE, then pruned) is in no answer.
 * $1 keys, $2 capacity, $3 refill ms, $4 now, $5 costs (each at most the capacity), $6 counts.
 */
const GRANTED = `least(r.n, floor(${LEVEL} / r.cost))`;
const TAKE = `
  WITH r AS (SELECT * FROM unnest($1::text[], $5::float8[], $6::int4[]) AS r(key, cost, n))
  UPDATE rate_buckets b SET tokens = ${LEVEL} - ${GRANTED} * r.cost, wait = ${GRANTED}, at = greatest(b.at, $4::bigint)
  FROM r, (SELECT key FROM rate_buckets WHERE key = ANY($1::text[]) ORDER BY key COLLATE "C" FOR UPDATE) AS l
  WHERE b.key = r.key AND l.key = r.key
  RETURNING b.key, b.tokens, b.wait`;

/** Keys a limiter remembers having in the database at most; past that it forgets them all and makes them again. */
const KNOWN_MAX = 100_000;

/** SQLSTATEs after which a flush is tried again: its transaction was chosen to end a deadlock, or could not be serialized. */
const RETRY_STATES = new Set(['40P01', '40001']);

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
  /** Takes waiting for the next flush, which takes them all at once (one row per key and cost). */
  #queued: Take[] = [];
  #scheduled = false;
  /** Whether a flush is under way: one at a time, so a key's takes keep their order. */
  #flushing = false;
  /** Keys whose buckets this limiter has seen in the database (so a flush of them only takes). */
  readonly #known = new Set<string>();

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
        (answers) => {
          batch.forEach((group, i) => {
            const first = group[0];
            const answer = answers[i];
            if (!first || answer === undefined) return;
            if ('error' in answer) {
              for (const t of group) t.reject(storeError(answer.error));
              return;
            }
            // Granted in order while the bucket held their cost; the rest wait for it to hold one more.
            const { tokens, granted } = answer;
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
   * each bucket's level left and how many of the group were granted. The
   * buckets of keys not known to be in the database are made first; a key
   * the take found no row for (pruned since) is made and taken again. A
   * statement PostgreSQL ended to break a deadlock is tried again.
   */
  async #takeAll(batch: Take[][]): Promise<({ tokens: number; granted: number } | { error: unknown })[]> {
    const keys = batch.map((g) => this.#key(g[0]?.key ?? ''));
    const now = this.clock();
    const answers = new Map<string, { tokens: number; granted: number }>();
    let failure: unknown = null;
    for (let attempt = 1; ; attempt++) {
      const missing = keys.filter((k) => !answers.has(k));
      const todo = batch.filter((_, i) => !answers.has(keys[i] ?? ''));
      try {
        const unknown = missing.filter((k) => !this.#known.has(k));
        if (unknown.length > 0 || attempt > 1) await changes(this.db, MAKE, [missing, this.capacity, now]);
        const taken = await rows<{ key: string; tokens: number; wait: number }>(this.db, TAKE, [
          missing,
          this.capacity,
          this.refillMs,
          now,
          todo.map((g) => g[0]?.cost ?? 1),
          todo.map((g) => g.length),
        ]);
        if (this.#known.size + missing.length > KNOWN_MAX) this.#known.clear();
        for (const t of taken) {
          answers.set(t.key, { tokens: t.tokens, granted: t.wait });
          this.#known.add(t.key);
        }
        for (const k of missing) if (!answers.has(k)) this.#known.delete(k);
        if (answers.size === keys.length || attempt >= 3) break;
      } catch (err) {
        const code = (err as { cause?: { code?: unknown } }).cause?.code;
        if (attempt < 3 && typeof code === 'string' && RETRY_STATES.has(code)) continue;
        failure = err;
        break;
      }
    }
    // Takes answered by an earlier attempt stand (their tokens are spent); the others fail.
    return keys.map(
      (k) =>
        answers.get(k) ?? {
          error: failure ?? unavailable(new Error(`the rate-limit bucket ${k} vanished each time it was made`)),
        },
    );
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
  // Buckets a take holds are skipped (they are in use); one a take used while this waited is kept (`at` again).
  return changes(
    db,
    `DELETE FROM rate_buckets WHERE at < $1 AND key IN (
       SELECT key FROM rate_buckets WHERE at < $1 ORDER BY key COLLATE "C" LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [before, limit],
  );
}
