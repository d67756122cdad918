import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Limit } from '../../config.js';
import type { Clock, Limiter } from '../../rate-limit.js';
import { contextNow, type InContext } from '../../tracing.js';
import type { AfterCommit, Lease, Publish, SendHint, Store, TxStores } from '../port.js';
import { PostgresAccounts } from './accounts.js';
import { PostgresAudit } from './audit.js';
import { PostgresAutomod } from './automod.js';
import { Batch } from './batch.js';
import { PostgresChat } from './chat.js';
import { type AppendMeter, PostgresEvents } from './events.js';
import { JOB_LOCKS, PostgresLease } from './lease.js';
import { PostgresMail } from './mail.js';
import { PostgresMedia } from './media.js';
import { migratePostgres } from './migrate.js';
import { postgresLimiter, pruneRateBuckets } from './rate-buckets.js';
import { hintUsable, ReadAhead } from './read-ahead.js';
import { PostgresReports } from './reports.js';
import { PostgresSessions } from './sessions.js';
import { isUnavailable, pgTypes, type Queryable, storeError, unavailable } from './sql.js';
import { PostgresUsage } from './usage.js';
import { PostgresUsers } from './users.js';

/** How a PostgreSQL store connects, batches and reports. */
/** A PostgreSQL URL as logs may show it: scheme, user, host, port and database, never a password. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `postgres://${user}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unreadable URL)';
  }
}

export type PostgresStoreOptions = {
  /** Where each committed event goes (the hub, or the cluster bus), after its commit, in id order. */
  publish: Publish;
  /**
   * The least time between the starts of two batches (ms, as the SQLite
   * `Writer`'s): under steady load, writes wait up to this long to share a
   * commit. 0: a batch starts in the next turn of the event loop.
   */
  commitWindowMs?: number;
  /** Hears what an `after` closure threw (the closures after it still run). */
  onAfterError?: (err: unknown) => void;
  /**
   * Hears why reading ahead for a run of sends failed (a lock not had in time,
   * a deadlock); the run's sends then went statement by statement.
   */
  onReadAheadError?: (err: unknown) => void;
  /** Hears errors of idle connections (a restarted server, a dropped link); the pool replaces them. */
  onConnectionError?: (err: unknown) => void;
  /** Bytes each user may store per UTC day (the daily write budget); 0, the default: no budget. */
  writeBytesPerDay?: number;
  /** Connections for reads (default 10); writes have one of their own. */
  poolSize?: number;
  /** How long opening a connection, or waiting for a free one, may take before the request fails (default 1,000 ms). */
  connectTimeoutMs?: number;
  /** How long one statement may run (default 2,000 ms); the client gives up 500 ms after that if the server says nothing. */
  statementTimeoutMs?: number;
  /**
   * Jobs per batch at most that are not hinted sends (default 64). Each such
   * job is a savepoint, a subtransaction: PostgreSQL keeps the ids of 64
   * subtransactions of a transaction in shared memory, and past that every
   * other session reads them back from disk to take a snapshot. A hinted send
   * takes a savepoint only when it runs a statement of its own (a mention),
   * so a batch takes up to {@link maxBatchSends} of them besides.
   */
  maxBatchJobs?: number;
  /** Jobs per batch at most, hinted sends included (default 512). */
  maxBatchSends?: number;
  /**
   * Runs after a batch's last job, once its event ids are taken, before its
   * COMMIT: tests hold a batch there to show that no later batch's events
   * become visible first.
   */
  beforeCommit?: () => Promise<void>;
  /** Called around each committed batch's after-commit work (the bus gathers its effects). */
  effects?: { begin(): void; end(): void };
  /** Hears of each batch once it is over: its jobs, its time (ms), whether it committed (for metrics). */
  onBatch?: (jobs: number, ms: number, committed: boolean) => void;
};

type Job = {
  fn: (tx: TxStores, after: AfterCommit) => Promise<unknown>;
  /** What the job will read, when it is a send that can be read ahead. */
  hint: SendHint | null;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** The context it was queued in, when tracing is on. */
  context: InContext | null;
};

/**
 * The savepoint `job` of a batch's transaction: none, set where the job
 * about to run starts (`fresh`: rolling back to it undoes that job alone),
 * or set earlier (`stale`: work of other jobs, or statements of the batch's
 * own, came after it).
 */
type Savepoint = 'none' | 'fresh' | 'stale';

type Outcome = { ok: true; value: unknown; after: AfterCommit } | { ok: false; err: unknown };

/** A batch under way: its client, its deferred state, its savepoint and the job running. */
type BatchState = {
  client: pg.PoolClient;
  batch: Batch;
  savepoint: Savepoint;
  /** The job running: whether it is a hinted send, and whether its savepoint is set. */
  current: { hinted: boolean; marked: boolean } | null;
  /** Savepoints set so far in the batch's transaction (each a subtransaction; see `maxBatchJobs`). */
  savepoints: number;
};

/** Statements that only read (or lock), and writes no read ahead answers for (mentions): the reads ahead stay true. */
const READ_ONLY = /^\s*(SELECT\b|INSERT INTO mentions\b)/i;

/** Carries the error that lost a whole batch (its connection, its commit). */
class BatchLost extends Error {
  constructor(override readonly cause: unknown) {
    super('the write batch was lost');
  }
}

/**
 * The PostgreSQL backend of the storage port. Reads go through a pool of
 * connections and see committed data. Writes go through `write`: the jobs
 * queued in one turn of the event loop run in one transaction on the write
 * connection, one after another, each in its own savepoint, and commit
 * together (group commit, as the SQLite `Writer` does); their `after` work
 * runs once the commit is acknowledged. Several natters may share the
 * database: conversation sequence numbers and event ids are taken under row
 * locks held until each commit, so neither has holes or duplicates, and
 * event ids become visible in the order they were given.
 *
 * A request that cannot reach the database fails with `unavailable` within
 * about `connectTimeoutMs` (or `statementTimeoutMs` for a server that stops
 * answering), rather than waiting.
 */
export class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  readonly chat: PostgresChat;
  readonly users: PostgresUsers;
  readonly sessions: PostgresSessions;
  readonly events: PostgresEvents;
  readonly usage: PostgresUsage;
  readonly audit: PostgresAudit;
  readonly reports: PostgresReports;
  readonly automod: PostgresAutomod;
  readonly media: PostgresMedia;
  readonly accounts: PostgresAccounts;
  readonly mail: PostgresMail;
  readonly stats = { commits: 0, jobs: 0 };
  /** Statements sent on the write connection (its round trips), for tests and benchmarks. */
  statements = 0;

  readonly #pool: pg.Pool;
  readonly #writePool: pg.Pool;
  readonly #publish: Publish;
  readonly #meter: AppendMeter = { bytes: 0 };
  readonly #budget: number;
  readonly #commitWindowMs: number;
  readonly #maxBatchJobs: number;
  readonly #maxBatchSends: number;
  readonly #onAfterError: (err: unknown) => void;
  readonly #onReadAheadError: (err: unknown) => void;
  readonly #effects: { begin(): void; end(): void } | null;
  readonly #beforeCommit: (() => Promise<void>) | undefined;
  readonly #onBatch: ((jobs: number, ms: number, committed: boolean) => void) | null;
  readonly #jobDeadlineMs: number;
  readonly #url: string;
  readonly #connectTimeoutMs: number;
  readonly #statementTimeoutMs: number;
  #queue: Job[] = [];
  #scheduled = false;
  #running: Promise<void> | null = null;
  #lastBatchAt = Number.NEGATIVE_INFINITY;
  #closing: Promise<void> | null = null;

  /** Connects lazily: nothing is opened until the first request. {@link openPostgresStore} migrates first. */
  constructor(url: string, options: PostgresStoreOptions) {
    const statementTimeoutMs = options.statementTimeoutMs ?? 2_000;
    const connection = {
      connectionString: url,
      types: pgTypes,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 1_000,
      statement_timeout: statementTimeoutMs,
      // A server that stops answering (stopped, or the network gone quiet) never says the statement timed out.
      query_timeout: statementTimeoutMs + 500,
      keepAlive: true,
    };
    const onConnectionError = options.onConnectionError ?? (() => {});
    this.#pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10, application_name: 'natter' });
    // A transaction left open (a natter that stopped mid-batch) would hold its locks for ever.
    this.#writePool = new pg.Pool({
      ...connection,
      max: 1,
      application_name: 'natter writer',
      idle_in_transaction_session_timeout: 5 * statementTimeoutMs,
    });
    this.#pool.on('error', onConnectionError);
    this.#writePool.on('error', onConnectionError);
    this.#writePool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        this.statements++;
        return query(...args);
      };
    });
    this.#publish = options.publish;
    this.#budget = options.writeBytesPerDay ?? 0;
    this.#commitWindowMs = options.commitWindowMs ?? 0;
    this.#maxBatchJobs = options.maxBatchJobs ?? 64;
    this.#maxBatchSends = Math.max(this.#maxBatchJobs, options.maxBatchSends ?? 512);
    this.#onAfterError = options.onAfterError ?? (() => {});
    this.#onReadAheadError = options.onReadAheadError ?? (() => {});
    this.#effects = options.effects ?? null;
    this.#beforeCommit = options.beforeCommit;
    this.#onBatch = options.onBatch ?? null;
    this.#jobDeadlineMs = 5 * statementTimeoutMs;
    this.#url = url;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    this.#statementTimeoutMs = statementTimeoutMs;
    this.chat = new PostgresChat(this.#pool);
    this.users = new PostgresUsers(this.#pool);
    this.sessions = new PostgresSessions(this.#pool);
    this.events = new PostgresEvents(this.#pool, this.#publish, this.#meter);
    this.usage = new PostgresUsage(this.#pool, this.#budget);
    this.audit = new PostgresAudit(this.#pool);
    this.reports = new PostgresReports(this.#pool);
    this.automod = new PostgresAutomod(this.#pool);
    this.media = new PostgresMedia(this.#pool);
    this.accounts = new PostgresAccounts(this.#pool);
    this.mail = new PostgresMail(this.#pool);
  }

  /** Whether the store still takes requests (`close` not called). */
  get open(): boolean {
    return this.#closing === null;
  }

  get queued(): number {
    return this.#queue.length;
  }

  write<T>(fn: (tx: TxStores, after: AfterCommit) => Promise<T>, hint?: SendHint): Promise<T> {
    if (this.#closing) return Promise.reject(unavailable(new Error('the store is closed')));
    return new Promise<T>((resolve, reject) => {
      const usable = hint !== undefined && hintUsable(hint) ? hint : null;
      this.#queue.push({
        fn,
        hint: usable,
        resolve: resolve as (value: unknown) => void,
        reject,
        context: contextNow(),
      });
      this.#schedule();
    });
  }

  /** Starts the next batch once the one under way is over (one write connection, one transaction at a time). */
  #schedule(): void {
    if (this.#scheduled || this.#running || this.#queue.length === 0) return;
    this.#scheduled = true;
    const wait = this.#lastBatchAt + this.#commitWindowMs - performance.now();
    if (wait >= 1) setTimeout(this.#start, wait);
    else setImmediate(this.#start);
  }

  readonly #start = (): void => {
    this.#scheduled = false;
    const jobs = this.#queue.splice(0, this.#batchLength());
    if (jobs.length === 0) return;
    this.#lastBatchAt = performance.now();
    const context = jobs.find((job) => job.context)?.context;
    this.#running = (context ? context(() => this.#runBatch(jobs)) : this.#runBatch(jobs)).finally(() => {
      this.#running = null;
      this.#schedule();
    });
  };

  /** How many of the queued jobs the next batch takes (see `maxBatchJobs`). */
  #batchLength(): number {
    let others = 0;
    let n = 0;
    for (const job of this.#queue) {
      if (n >= this.#maxBatchSends) break;
      if (!job.hint && ++others > this.#maxBatchJobs) break;
      n++;
    }
    return n;
  }

  /** Runs one batch to its end: committed (each job resolved or rejected on its own) or lost (every job rejected). */
  async #runBatch(jobs: Job[]): Promise<void> {
    // A checked-out client that loses its connection emits 'error'; its next query fails, which loses the batch.
    const ignore = () => {};
    const started = performance.now();
    let client: pg.PoolClient;
    try {
      client = await this.#begin(ignore);
    } catch (err) {
      this.#onBatch?.(jobs.length, performance.now() - started, false);
      for (const job of jobs) job.reject(storeError(err));
      return;
    }
    const batch = new Batch();
    const state: BatchState = { client, batch, savepoint: 'fresh', current: null, savepoints: 1 };
    const q = this.#statements(state);
    const tx: TxStores = {
      chat: new PostgresChat(q, batch),
      users: new PostgresUsers(q),
      sessions: new PostgresSessions(q, batch),
      events: new PostgresEvents(q, this.#publish, this.#meter, batch),
      usage: new PostgresUsage(q, this.#budget, batch),
      audit: new PostgresAudit(q),
      reports: new PostgresReports(q, true),
      automod: new PostgresAutomod(q),
      media: new PostgresMedia(q, true),
      accounts: new PostgresAccounts(q),
      mail: new PostgresMail(q),
    };
    const outcomes: Outcome[] = [];
    try {
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i] as Job;
        // A send that starts a run may set two: the run's and its own.
        const need = job.hint && !batch.ahead ? 2 : 1;
        if (i > 0 && state.savepoints + need > this.#maxBatchJobs) {
          // As many subtransactions as PostgreSQL keeps in memory: the rest wait for the next batch, first in line.
          this.#queue.unshift(...jobs.splice(i));
          break;
        }
        if (job.hint) {
          // The first send of a run: read ahead for it and the sends queued right after it.
          if (!batch.ahead) await this.#readAhead(state, jobs, i);
        } else if (batch.ahead) {
          // The run is over: what it kept goes to the database before this job reads anything.
          await this.#writeBehind(state);
          batch.ahead = null;
        }
        outcomes.push(await this.#runJob(state, tx, job));
      }
      if (batch.ahead) await this.#writeBehind(state);
      await batch.flush(client);
      await this.#beforeCommit?.();
      await client.query('COMMIT');
    } catch (err) {
      // The connection, the batch's own writes or its commit failed: nothing was saved (or, when the
      // connection went during the commit, nobody can tell), and nothing is published.
      client.off('error', ignore);
      client.release(true);
      const cause = storeError(err instanceof BatchLost ? err.cause : err);
      this.#onBatch?.(jobs.length, performance.now() - started, false);
      for (const job of jobs) job.reject(cause);
      return;
    }
    client.off('error', ignore);
    client.release();
    this.#onBatch?.(jobs.length, performance.now() - started, true);
    this.stats.commits++;
    this.stats.jobs += jobs.length;
    // What the batch's after-commit work hands the bus goes as one batch, in order.
    this.#effects?.begin();
    try {
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
            this.#onAfterError(err);
          }
        }
        job.resolve(outcome.value);
      });
    } finally {
      this.#effects?.end();
    }
  }

  /**
   * The write connection, in a transaction, with the first job's savepoint
   * set (one round trip for both). An idle connection the server
   * ended (a restart) may still be in the pool: nothing has happened yet, so
   * a second connection is tried before the batch is given up.
   */
  async #begin(onError: (err: unknown) => void): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#writePool.connect();
      client.on('error', onError);
      try {
        await client.query('BEGIN; SAVEPOINT job');
        return client;
      } catch (err) {
        client.off('error', onError);
        client.release(true);
        if (attempt >= 2 || !isUnavailable(err)) throw err;
      }
    }
  }

  /**
   * Reads ahead for the run of hinted sends starting at `jobs[from]`: the
   * batch's own statements, outside any job's savepoint. A failure loses the
   * batch.
   */
  async #readAhead(state: BatchState, jobs: readonly Job[], from: number): Promise<void> {
    const hints: SendHint[] = [];
    for (let i = from; i < jobs.length; i++) {
      const hint = jobs[i]?.hint;
      if (!hint) break;
      hints.push(hint);
    }
    if (state.savepoint === 'fresh') state.savepoint = 'stale';
    const { client } = state;
    try {
      await client.query('SAVEPOINT ahead');
    } catch (err) {
      throw new BatchLost(err);
    }
    state.savepoints++;
    try {
      state.batch.ahead = await ReadAhead.read(client, hints, this.#budget);
      await client.query('RELEASE SAVEPOINT ahead');
    } catch (err) {
      if (err instanceof BatchLost) throw err;
      // A lock that could not be had in time, or a deadlock: the run goes statement by statement, each send on its own.
      try {
        await client.query('ROLLBACK TO SAVEPOINT ahead; RELEASE SAVEPOINT ahead');
      } catch (lost) {
        throw new BatchLost(lost);
      }
      this.#onReadAheadError(err);
      state.batch.ahead = ReadAhead.none();
    }
  }

  /** Writes what the run's jobs before job `beforeJob` (all of them without it) kept; a failure loses the batch. */
  async #writeBehind(state: BatchState, beforeJob?: number): Promise<void> {
    const ahead = state.batch.ahead;
    if (!ahead?.pending) return;
    if (state.savepoint === 'fresh') state.savepoint = 'stale';
    try {
      await ahead.write(state.client, beforeJob);
    } catch (err) {
      throw new BatchLost(err);
    }
  }

  /** Sets the savepoint `job` where the job under way starts, in one round trip; a failure loses the batch. */
  async #markJob(state: BatchState): Promise<void> {
    if (state.savepoint !== 'fresh') {
      try {
        await state.client.query(state.savepoint === 'none' ? 'SAVEPOINT job' : 'RELEASE SAVEPOINT job; SAVEPOINT job');
      } catch (err) {
        throw new BatchLost(err);
      }
      state.savepoints++;
    }
    state.savepoint = 'stale';
    if (state.current) state.current.marked = true;
  }

  /**
   * What the job stores run their statements on: the batch's client, but a
   * send that reaches for a statement of its own first has the writes the
   * run kept for earlier jobs written, its savepoint set, then its own kept
   * writes written inside it; a statement that writes (but for a mention)
   * stops the reads ahead from answering (see `ReadAhead`). Jobs that are
   * not sends set their savepoint before they start.
   */
  #statements(state: BatchState): Queryable {
    const client = state.client;
    const prepare = async (text: string): Promise<void> => {
      const current = state.current;
      const ahead = state.batch.ahead;
      if (!current?.hinted || !ahead) return;
      if (!current.marked) {
        await this.#writeBehind(state, state.batch.job);
        await this.#markJob(state);
      }
      if (ahead.pending) await ahead.write(client);
      if (ahead.live && !READ_ONLY.test(text)) ahead.live = false;
    };
    // One at a time: two statements of one job never prepare at once.
    let gate: Promise<void> = Promise.resolve();
    const query = (config: pg.QueryConfig) => {
      const ready = gate.then(() => prepare(config.text));
      gate = ready.catch(() => {});
      return ready.then(() => client.query(config));
    };
    return { query } as unknown as Queryable;
  }

  /**
   * Runs one job; a job that throws is rolled back alone, or the batch is
   * lost. A job that is not a hinted send runs in its own savepoint, set
   * before it starts (when the one set last marks where it starts, it is
   * used as it is); a hinted send sets one only before a statement of its
   * own, and otherwise rolls back by forgetting what it kept. The last
   * savepoint is not released: COMMIT ends it with the transaction.
   */
  async #runJob(state: BatchState, tx: TxStores, job: Job): Promise<Outcome> {
    const { client, batch } = state;
    batch.jobStart();
    state.current = { hinted: job.hint !== null, marked: false };
    if (!job.hint) await this.#markJob(state);
    const after: AfterCommit = [];
    try {
      const value = await this.#withDeadline(job.fn(tx, after));
      if (state.savepoint === 'fresh') state.savepoint = 'stale';
      return { ok: true, value, after };
    } catch (err) {
      if (err instanceof BatchLost) throw err;
      if (state.current.marked) {
        try {
          // The savepoint stays, ready for the next job.
          await client.query('ROLLBACK TO SAVEPOINT job');
        } catch (lost) {
          throw new BatchLost(lost);
        }
        state.savepoint = 'fresh';
      }
      batch.jobRollback();
      return { ok: false, err: storeError(err) };
    } finally {
      state.current = null;
    }
  }

  /**
   * What a job's work gives, or, past `#jobDeadlineMs`, a lost batch: a job
   * that never ends (awaiting something that never comes) must not hold the
   * write connection, and every later write, for ever. Its connection is
   * closed, which ends its transaction and its locks.
   */
  #withDeadline<T>(work: Promise<T>): Promise<T> {
    // What the abandoned job does later fails on a closed connection; nobody is waiting for it.
    work.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BatchLost(unavailable(new Error(`a write job took more than ${this.#jobDeadlineMs} ms`)))),
        this.#jobDeadlineMs,
      );
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }

  classify(err: unknown): 'unique' | 'unavailable' | null {
    if (err instanceof Error && (err as { code?: unknown }).code === '23505') return 'unique';
    return isUnavailable(err) ? 'unavailable' : null;
  }

  async ping(): Promise<boolean> {
    try {
      await this.#pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** The limit's buckets in `rate_buckets`, taken and refunded on the read pool, one statement each. */
  limiter(name: string, limit: Limit, clock: Clock, refunds: boolean): Limiter {
    return postgresLimiter(name, limit, this.#pool, clock, refunds);
  }

  pruneLimits(before: number, limit: number): Promise<number> {
    return pruneRateBuckets(this.#pool, before, limit);
  }

  /** The job's advisory lock, held on a connection of its own (see `PostgresLease`). */
  lease(job: string): Lease {
    const key = JOB_LOCKS[job];
    if (key === undefined) throw new Error(`no lock key for the background job "${job}"`);
    return new PostgresLease(this.#url, key, {
      connectTimeoutMs: this.#connectTimeoutMs,
      statementTimeoutMs: this.#statementTimeoutMs,
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Jobs already queued still run; `write` refuses new ones.
      while (this.#running || this.#scheduled || this.#queue.length > 0) {
        await (this.#running ?? new Promise((resolve) => setImmediate(resolve)));
      }
      await Promise.all([this.#pool.end(), this.#writePool.end()]);
    })();
    return this.#closing;
  }
}

/** The `application_name` prefix of the connection each natter serving a database keeps open for its life. */
const NODE_PREFIX = 'natter node ';

/**
 * What a serving natter says of itself in its node connection's name: the
 * cluster it belongs to (`c:<name>`, a long name shortened with a hash, since
 * PostgreSQL keeps 63 bytes of a name), or `alone` without a bus.
 */
export function nodeTag(cluster: string | null): string {
  if (cluster === null) return 'alone';
  const name =
    cluster.length <= 40
      ? cluster
      : `${cluster.slice(0, 30)}~${createHash('sha256').update(cluster).digest('hex').slice(0, 8)}`;
  return `c:${name}`;
}

/**
 * A connection a serving natter keeps open for as long as it runs, named
 * after its {@link nodeTag}, so that a natter starting on the same database
 * can see who else serves it, and how (see `natter serve`'s check that every
 * node shares one bus and one cluster name). Reconnects after a lost
 * connection, once a second at most, until closed.
 */
export class NodePresence {
  #client: pg.Client | null = null;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly tag: string,
    private readonly connectTimeoutMs = 1_000,
  ) {}

  /**
   * Opens the connection and lists the tags of the other natters serving the
   * database now, one per natter.
   */
  async announce(): Promise<string[]> {
    await this.#open();
    return this.others();
  }

  /** The tags of the other natters serving the database now (after {@link announce}). */
  async others(): Promise<string[]> {
    const client = this.#client;
    if (!client) throw new Error('the node connection is not open');
    const r = await client.query<{ name: string }>(
      `SELECT application_name AS name FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND starts_with(application_name, $1)`,
      [NODE_PREFIX],
    );
    return r.rows.map((row) => row.name.slice(NODE_PREFIX.length));
  }

  async #open(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: this.connectTimeoutMs,
      keepAlive: true,
      application_name: `${NODE_PREFIX}${this.tag}`,
    });
    const lost = () => {
      if (this.#client !== client) return;
      this.#client = null;
      if (!this.#closed) this.#retry = setTimeout(() => this.#reopen(), 1_000).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    this.#client = client;
    return client;
  }

  #reopen(): void {
    this.#retry = null;
    if (this.#closed) return;
    this.#open().catch(() => {
      if (!this.#closed) this.#retry = setTimeout(() => this.#reopen(), 1_000).unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = null;
    if (client) await client.end().catch(() => {});
  }
}

/**
 * Opens natter's PostgreSQL database at `url` (a `postgres://` URL): applies
 * the pending migrations (once, whatever the number of natters starting
 * together: see `migratePostgres`) and returns the store. A database that
 * cannot be reached or migrated throws the driver's error, which says why.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions): Promise<PostgresStore> {
  // Migrations may wait for another natter's, and take long: no statement timeout here.
  const migrator = new pg.Pool({
    connectionString: url,
    max: 1,
    types: pgTypes,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 1_000,
    application_name: 'natter migrate',
  });
  migrator.on('error', () => {});
  try {
    await migratePostgres(migrator);
  } finally {
    await migrator.end();
  }
  return new PostgresStore(url, options);
}
