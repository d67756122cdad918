import type { Db, Deferred } from './db/index.js';

/** Work to do once the transaction that holds a job has committed (fan-out, hub updates). */
export type AfterCommit = (() => void)[];

type Job = {
  fn: (after: AfterCommit) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
};

/**
 * Group commit. Writes queued in the same turn of the event loop run in one
 * SQLite transaction, each in its own savepoint (a failing job rolls back
 * alone), and are committed with one fsync. Only after the commit are their
 * replies sent and their events published: acknowledged means durable, and
 * delivery never waits behind a per-message fsync.
 */
export class Writer {
  private queue: Job[] = [];
  private scheduled = false;
  /** Transactions committed, and jobs in them (for metrics and benchmarks). */
  readonly stats = { commits: 0, jobs: 0 };

  /** Runs a function inside a transaction; nested inside another, it is a savepoint. Built once: building one prepares statements. */
  private readonly inTransaction: (fn: () => unknown) => unknown;
  /**
   * @param deferred what the queries defer to the end of a batch (sequence
   *   numbers, read positions), written just before each commit
   */
  /** When the last batch started (ms, monotonic). */
  private lastFlushAt = Number.NEGATIVE_INFINITY;

  /**
   * @param deferred what the queries defer to the end of a batch (sequence
   *   numbers, read positions), written just before each commit
   * @param commitWindowMs the least time between the starts of two batches.
   *   A write after a quiet spell commits at once; under steady load, writes
   *   wait up to this long to share a commit (each commit costs a WAL append
   *   and an fsync, about as much CPU as a thousand socket writes).
   */
  constructor(
    private readonly db: Db,
    private readonly onAfterError: (err: unknown) => void,
    private readonly deferred: readonly Deferred[] = [],
    private readonly commitWindowMs = 0,
  ) {
    this.inTransaction = db.$client.transaction((fn: () => unknown) => fn());
  }

  /** Jobs waiting for the next batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Runs `fn` inside the next batch transaction. `fn` must be synchronous; it
   * may push work onto `after`, which runs once the batch has committed, in order.
   */
  run<T>(fn: (after: AfterCommit) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        const wait = this.lastFlushAt + this.commitWindowMs - performance.now();
        if (wait >= 1) setTimeout(() => this.flush(), wait);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    this.lastFlushAt = performance.now();
    const outcomes: ({ ok: true; value: unknown; after: AfterCommit } | { ok: false; err: unknown })[] = [];
    const sqlite = this.db.$client;
    const deferred = this.deferred;
    try {
      this.inTransaction(() => {
        for (const job of jobs) {
          const after: AfterCommit = [];
          for (const d of deferred) d.jobStart();
          try {
            // Nested, the same transaction function runs as a savepoint.
            const value = this.inTransaction(() => job.fn(after));
            outcomes.push({ ok: true, value, after });
          } catch (err) {
            // On some errors (disk full, I/O) SQLite rolls back the whole transaction by
            // itself: then the batch is lost, and no later job may run outside it.
            if (!sqlite.inTransaction) throw new BatchLost(err);
            for (const d of deferred) d.jobRollback();
            outcomes.push({ ok: false, err });
          }
        }
        // What the jobs deferred (one row per conversation, not per message) goes in
        // the same transaction: it commits with them or not at all.
        for (const d of deferred) d.flush();
      });
      for (const d of deferred) d.committedBatch?.();
    } catch (err) {
      // The batch, or its commit, failed (disk full, I/O error): nothing was saved.
      const cause = err instanceof BatchLost ? err.cause : err;
      for (const job of jobs) job.reject(cause);
      return;
    } finally {
      for (const d of deferred) d.clear();
    }
    this.stats.commits++;
    this.stats.jobs += jobs.length;
    jobs.forEach((job, i) => {
      const outcome = outcomes[i];
      if (!outcome?.ok) {
        job.reject(outcome ? outcome.err : new Error('write outcome missing'));
        return;
      }
      for (const fn of outcome.after) {
        try {
          fn();
        } catch (err) {
          this.onAfterError(err);
        }
      }
      job.resolve(outcome.value);
    });
  }
}

/** Carries the error that made SQLite roll back a whole batch. */
class BatchLost extends Error {
  constructor(override readonly cause: unknown) {
    super('the write batch was rolled back');
  }
}
