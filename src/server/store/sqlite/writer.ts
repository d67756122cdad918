import type { Db, Deferred } from '../../db/index.js';
import { contextNow, type InContext } from '../../tracing.js';
import type { AfterCommit } from '../port.js';

type Job = {
  fn: (after: AfterCommit) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** The context it was queued in, when tracing is on. */
  context: InContext | null;
};

/**
 * Group commit on SQLite. Writes queued in the same turn of the event loop
 * run in one transaction, each in its own savepoint (a failing job rolls back
 * alone), and are committed with one fsync. Only after the commit are their
 * replies sent and their events published: acknowledged means durable, and
 * delivery never waits behind a per-message fsync.
 *
 * Jobs are asynchronous, but those of a batch run strictly one after another,
 * and only they use this connection while the batch is open: every other
 * read goes through the store's second, read-only connection, which sees
 * committed data only (WAL).
 */
export class SqliteWriter {
  private queue: Job[] = [];
  private scheduled = false;
  private flushing = false;
  /** Transactions committed, and jobs in them (for metrics and benchmarks). */
  readonly stats = { commits: 0, jobs: 0 };
  /** When the last batch started (ms, monotonic). */
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private readonly sql: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', () => void>;

  /**
   * @param deferred what the queries defer to the end of a batch (sequence
   *   numbers, read positions, usage), written just before each commit
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
    private readonly effects: { begin(): void; end(): void } | null = null,
    /** Hears of each batch once it is over: its jobs, its time (ms), whether it committed (for metrics). */
    private readonly onBatch: ((jobs: number, ms: number, committed: boolean) => void) | null = null,
  ) {
    const sqlite = db.$client;
    const statement = (text: string) => {
      const st = sqlite.prepare(text);
      return () => void st.run();
    };
    this.sql = {
      begin: statement('BEGIN'),
      commit: statement('COMMIT'),
      rollback: statement('ROLLBACK'),
      savepoint: statement('SAVEPOINT job'),
      release: statement('RELEASE job'),
      rollbackTo: statement('ROLLBACK TO job'),
    };
  }

  /** Jobs waiting for the next batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Runs `fn` inside the next batch transaction. It may push work onto
   * `after`, which runs once the batch has committed, in order.
   */
  run<T>(fn: (after: AfterCommit) => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        fn: fn as (after: AfterCommit) => Promise<unknown>,
        resolve: resolve as (v: unknown) => void,
        reject,
        context: contextNow(),
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing || this.queue.length === 0) return;
    this.scheduled = true;
    const wait = this.lastFlushAt + this.commitWindowMs - performance.now();
    if (wait >= 1) setTimeout(() => void this.flush(), wait);
    else setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    this.flushing = true;
    this.lastFlushAt = performance.now();
    try {
      const context = jobs.find((job) => job.context)?.context;
      await (context ? context(() => this.runBatch(jobs)) : this.runBatch(jobs));
    } finally {
      this.flushing = false;
      this.schedule();
    }
  }

  private async runBatch(jobs: Job[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown; after: AfterCommit } | { ok: false; err: unknown })[] = [];
    const sqlite = this.db.$client;
    const deferred = this.deferred;
    const started = performance.now();
    try {
      this.sql.begin();
      try {
        for (const job of jobs) {
          const after: AfterCommit = [];
          for (const d of deferred) d.jobStart();
          this.sql.savepoint();
          try {
            const value = await job.fn(after);
            this.sql.release();
            outcomes.push({ ok: true, value, after });
          } catch (err) {
            // On some errors (disk full, I/O) SQLite rolls back the whole transaction by
            // itself: then the batch is lost, and no later job may run outside it.
            if (!sqlite.inTransaction) throw new BatchLost(err);
            this.sql.rollbackTo();
            this.sql.release();
            for (const d of deferred) d.jobRollback();
            outcomes.push({ ok: false, err });
          }
        }
        // What the jobs deferred (one row per conversation, not per message) goes in
        // the same transaction: it commits with them or not at all.
        for (const d of deferred) d.flush();
        this.sql.commit();
      } catch (err) {
        if (sqlite.inTransaction) this.sql.rollback();
        throw err;
      }
      for (const d of deferred) d.committedBatch?.();
    } catch (err) {
      // The batch, or its commit, failed (disk full, I/O error): nothing was saved.
      const cause = err instanceof BatchLost ? err.cause : err;
      this.onBatch?.(jobs.length, performance.now() - started, false);
      for (const job of jobs) job.reject(cause);
      return;
    } finally {
      for (const d of deferred) d.clear();
    }
    this.onBatch?.(jobs.length, performance.now() - started, true);
    this.stats.commits++;
    this.stats.jobs += jobs.length;
    // What the batch's after-commit work hands the bus goes as one batch, in order.
    this.effects?.begin();
    try {
      this.settle(jobs, outcomes);
    } finally {
      this.effects?.end();
    }
  }

  private settle(
    jobs: Job[],
    outcomes: ({ ok: true; value: unknown; after: AfterCommit } | { ok: false; err: unknown })[],
  ): void {
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
