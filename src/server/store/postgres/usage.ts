import { formatBytes, limitReached } from '../../quotas.js';
import type { UsageStore } from '../port.js';
import type { Batch } from './batch.js';
import { budgetDay } from './read-ahead.js';
import { changes, type Queryable, row } from './sql.js';

const DAY_MS = 86_400_000;

/**
 * The daily write budget in PostgreSQL. SQLite's `UsageMeter` keeps the
 * totals in memory (one writer sees every write); here several natters charge
 * the same users, so each charge adds to the stored total in the write job,
 * under the row's lock, and only when the sum stays within the budget: the
 * job that would pass it throws `limit_reached` and rolls back alone, and two
 * natters cannot both slip under the budget.
 */
export class PostgresUsage implements UsageStore {
  readonly #q: Queryable;
  readonly #budget: number;
  readonly #batch: Batch | null;

  /**
   * @param budget bytes allowed per user per day; 0 = no budget
   * @param batch the write batch `q` holds the transaction of
   */
  constructor(q: Queryable, budget: number, batch: Batch | null = null) {
    this.#q = q;
    this.#budget = budget;
    this.#batch = batch;
  }

  async charge(userId: string, bytes: number, now: number): Promise<void> {
    if (this.#budget <= 0 || bytes <= 0) return;
    const day = budgetDay(now);
    const batch = this.#batch;
    const ahead = batch?.live?.charge(userId, day, bytes, this.#budget, batch.job, batch.onRollback);
    if (ahead === 'charged' || ahead === 'none') return;
    if (ahead !== undefined) throw this.#over(ahead.stored, day, now);
    // No row for an account that no longer exists, as on SQLite.
    const added = await row(
      this.#q,
      `INSERT INTO usage (user_id, day, bytes)
       SELECT $1::text, $2::int8, $3::int8 WHERE $3::int8 <= $4::int8 AND EXISTS (SELECT 1 FROM users WHERE id = $1)
       ON CONFLICT (user_id, day) DO UPDATE SET bytes = usage.bytes + excluded.bytes
         WHERE usage.bytes + excluded.bytes <= $4::int8
       RETURNING bytes`,
      [userId, day, bytes, this.#budget],
    );
    if (added) return;
    const stored =
      (await row<{ bytes: number }>(this.#q, 'SELECT bytes FROM usage WHERE user_id = $1 AND day = $2', [userId, day]))
        ?.bytes ?? 0;
    if (stored + bytes <= this.#budget) return;
    throw this.#over(stored, day, now);
  }

  /** What a charge that would pass the budget is answered. */
  #over(stored: number, day: number, now: number): Error {
    const reset = (day + 1) * DAY_MS - now;
    const hours = Math.max(1, Math.ceil(reset / 3_600_000));
    return limitReached(
      `you have stored ${formatBytes(stored)} today, and this would pass the daily limit of ${formatBytes(this.#budget)}; it resets at midnight UTC (in about ${hours} h)`,
      reset,
    );
  }

  async pruneBefore(now: number): Promise<number> {
    return changes(this.#q, 'DELETE FROM usage WHERE day < $1', [budgetDay(now) - 1]);
  }
}
