import type { Statement } from 'better-sqlite3';
import type { Db, Deferred } from '../../db/index.js';
import { formatBytes, limitReached } from '../../quotas.js';

const DAY_MS = 86_400_000;
/** Users whose daily total is kept in memory before the cache starts over. */
const CACHE_MAX = 50_000;

/**
 * The daily write budget: how many bytes of events each user's writes stored
 * today (UTC), a message counting with its text. Charged inside the write
 * job, so a write over the budget rolls back alone and stores nothing.
 * Totals are kept in memory and written once per user per batch, just before
 * the commit, like sequence numbers (see `Deferred`).
 */
export class UsageMeter implements Deferred {
  /** Committed totals: user → today's bytes. */
  private readonly committed = new Map<string, { day: number; bytes: number }>();
  /** What the batch under way added: user → bytes. */
  private readonly pending = new Map<string, { day: number; bytes: number }>();
  private undo: (() => void)[] = [];
  private readonly read: Statement<[string, number], { bytes: number }>;
  private readonly add: Statement<[{ userId: string; day: number; bytes: number }]>;
  private readonly prune: Statement<[number]>;

  constructor(
    db: Db,
    /** Bytes allowed per user per day; 0 = no budget. */
    private readonly budget: number,
  ) {
    const sqlite = db.$client;
    this.read = sqlite.prepare('SELECT bytes FROM usage WHERE user_id = ? AND day = ?');
    this.add = sqlite.prepare(
      `INSERT INTO usage (user_id, day, bytes) SELECT @userId, @day, @bytes WHERE EXISTS (SELECT 1 FROM users WHERE id = @userId)
       ON CONFLICT (user_id, day) DO UPDATE SET bytes = bytes + excluded.bytes`,
    );
    this.prune = sqlite.prepare('DELETE FROM usage WHERE day < ?');
  }

  /**
   * Adds `bytes` to the user's total for today, or throws `limit_reached`
   * (with the time until midnight UTC) when that would pass the budget.
   */
  charge(userId: string, bytes: number, now: number): void {
    if (this.budget <= 0 || bytes <= 0) return;
    const day = Math.floor(now / DAY_MS);
    const base = this.committedToday(userId, day);
    const before = this.pending.get(userId);
    const pendingBytes = before?.day === day ? before.bytes : 0;
    if (base + pendingBytes + bytes > this.budget) {
      const reset = (day + 1) * DAY_MS - now;
      const hours = Math.max(1, Math.ceil(reset / 3_600_000));
      throw limitReached(
        `you have stored ${formatBytes(base + pendingBytes)} today, and this would pass the daily limit of ${formatBytes(this.budget)}; it resets at midnight UTC (in about ${hours} h)`,
        reset,
      );
    }
    this.pending.set(userId, { day, bytes: pendingBytes + bytes });
    this.undo.push(() => (before ? this.pending.set(userId, before) : this.pending.delete(userId)));
  }

  /** Deletes totals of days before yesterday (returns how many rows). */
  pruneBefore(now: number): number {
    return this.prune.run(Math.floor(now / DAY_MS) - 1).changes;
  }

  private committedToday(userId: string, day: number): number {
    const cached = this.committed.get(userId);
    if (cached?.day === day) return cached.bytes;
    const bytes = this.read.get(userId, day)?.bytes ?? 0;
    if (this.committed.size >= CACHE_MAX) this.committed.clear();
    this.committed.set(userId, { day, bytes });
    return bytes;
  }

  jobStart(): void {
    this.undo = [];
  }

  jobRollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]?.();
    this.undo = [];
  }

  flush(): void {
    for (const [userId, { day, bytes }] of this.pending) this.add.run({ userId, day, bytes });
  }

  committedBatch(): void {
    for (const [userId, { day, bytes }] of this.pending) {
      const cached = this.committed.get(userId);
      this.committed.set(userId, { day, bytes: (cached?.day === day ? cached.bytes : 0) + bytes });
    }
  }

  clear(): void {
    this.undo = [];
    this.pending.clear();
  }
}
