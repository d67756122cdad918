import type { EventData, EventName } from '../../protocol/index.js';
import type { Limit } from '../config.js';
import type { AccountQueries } from '../db/accounts.js';
import type { AuditQueries } from '../db/audit.js';
import type { AutomodQueries } from '../db/automod.js';
import type { ChatQueries } from '../db/chat.js';
import type { MailQueries } from '../db/mail.js';
import type { MediaQueries } from '../db/media.js';
import type { ReportQueries } from '../db/reports.js';
import type { SessionQueries } from '../db/sessions.js';
import type { UserQueries } from '../db/users.js';
import type { Scope } from '../event-log.js';
import type { Clock, Limiter } from '../rate-limit.js';

/**
 * The storage port: what handlers, access rules and background jobs see of
 * the database, the same on every backend. Every method is asynchronous. The
 * SQLite backend (store/sqlite) answers from better-sqlite3 without leaving
 * the turn; the PostgreSQL backend (store/postgres) goes over the network.
 *
 * The method sets are those of the SQLite query classes (`db/chat.ts`,
 * `db/users.ts`, `db/sessions.ts`, `db/audit.ts`, `db/reports.ts`): one list of
 * names, two implementations.
 */

/** `T`'s methods, each returning a promise of what it returned. */
export type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** Servers, members, bans, conversations, messages, mentions, read state, invites, blocks. */
export type ChatStore = Async<Omit<ChatQueries, 'pending'>>;
/** Accounts and username holds. */
export type UserStore = Async<UserQueries>;
/** Login sessions, bot tokens and the addresses accounts logged in from. */
export type SessionStore = Async<SessionQueries>;
/** Servers' audit logs. */
export type AuditStore = Async<AuditQueries>;
/** Reports of messages and users, for servers' moderators and the instance's operators. */
export type ReportStore = Async<ReportQueries>;
/** Automatic moderation rules, held messages and who moderates a server. */
export type AutomodStore = Async<AutomodQueries>;

/** Whole accounts: deletion, disabling, the operators' lists and counts, an account's export. */
export type AccountStore = Async<AccountQueries>;
/** Mailed one-time codes, the mail outbox, and accounts that never confirmed the address they owed. */
export type MailStore = Async<MailQueries>;

/** Uploaded files' rows, profile pictures, server icons, and the daily upload totals (the bytes are in the BlobStore). */
export type MediaStore = Async<MediaQueries>;

/** A stored event as the bus carries it: its id, its audiences and its text (with its cursor). */
export type StoredEvent = { id: number; scopes: readonly Scope[]; text: string };

/** What a replay found: the serialized events, or `limited` when there were too many. */
export type Replay = { texts: string[]; head: number; limited: boolean };

/** Work to do once the transaction that holds a job has committed (fan-out, hub updates). */
export type AfterCommit = (() => void)[];

/**
 * The resumable event stream. Inside a write, `append` records an event with
 * the change it reports; its id (the cursor clients resume from) is visible to
 * readers only once every smaller id is: ids become visible in commit order.
 */
export type EventStore = {
  /**
   * Records a stream event for `scopes` in the write under way, and pushes
   * onto `after` its publication (with its id) to the store's `Publish`
   * function: it goes out after the commit, in order with the job's other work.
   */
  append<N extends EventName>(
    after: AfterCommit,
    scopes: readonly Scope[],
    event: N,
    data: EventData<N>,
    now: number,
  ): Promise<void>;
  /** Bytes of event payloads appended so far by this store (the daily write budget charges the difference a job makes). */
  readonly appendedBytes: number;
  /**
   * The newest committed event id (0 when there is none). Inside a write it
   * is what had committed before, on every backend the same or older than the
   * batch's own events: for the cursor a write hands out, see `headOnCommit`.
   */
  head(): Promise<number>;
  /**
   * Inside a write: pushes onto `after` a call of `set` with the head of the
   * stream at this point of the batch, the events the batch appended so far
   * included (the cursor `register` and `login` answer with). A batch's
   * event ids may be known only once it commits (PostgreSQL), hence `after`.
   */
  headOnCommit(after: AfterCommit, set: (head: number) => void): Promise<void>;
  /** Parses a client's cursor; `invalid_cursor` unless it is a decimal event id no later than the head. */
  parseCursor(cursor: string): Promise<number>;
  /**
   * The events after `cursor` and up to `upTo` (the newest this node has
   * delivered) in `scopes` (each seen from its own starting event id): at
   * most `cap` of them and `maxBytes` of text, else none and `limited`.
   * `head` is the last id the replay covers: `upTo`, or the head if older.
   */
  replay(
    scopes: readonly (readonly [string, number])[],
    cursor: number,
    upTo: number,
    cap: number,
    maxBytes: number,
  ): Promise<Replay>;
  /** Every committed event with an id above `after`, oldest first, at most `limit` (the bus fills gaps with it). */
  since(after: number, limit: number): Promise<StoredEvent[]>;
  /** Deletes up to `limit` of the oldest events older than `before` (ms); returns how many. */
  prune(before: number, limit: number): Promise<number>;
};

/** The daily write budget per user (bytes of events and rows a user may store per UTC day). */
export type UsageStore = {
  /** Adds `bytes` to the user's total for today, or throws `limit_reached` when that would pass the budget. */
  charge(userId: string, bytes: number, now: number): Promise<void>;
  /** Deletes totals of days before yesterday (returns how many rows). */
  pruneBefore(now: number): Promise<number>;
};

/**
 * What a message send queued as a write job is about to read, told before it
 * runs: a backend may read it for a whole run of queued sends at once
 * (PostgreSQL then takes a handful of statements for the run instead of a
 * dozen for each send). A hint only saves work: the job reads the same data
 * through the same methods, hinted or not; what it reads is as of the start
 * of its run, with the rows its checks stand on locked until the commit.
 */
export type SendHint = {
  /** The session the job checks, or null when the write is not a session's. */
  sessionId: string | null;
  /** The author. */
  userId: string;
  conversationId: string;
  nonce: string;
  /** When the job was queued (ms): the day its write budget is charged to. */
  at: number;
};

/** The stores a write job works through: every statement in the batch's transaction. */
export type TxStores = {
  chat: ChatStore;
  users: UserStore;
  sessions: SessionStore;
  events: EventStore;
  usage: UsageStore;
  audit: AuditStore;
  reports: ReportStore;
  automod: AutomodStore;
  media: MediaStore;
  accounts: AccountStore;
  mail: MailStore;
};

/**
 * A storage backend. Its own stores read committed data only; writes go
 * through `write`, which groups the jobs queued together into one
 * transaction (group commit), each job in its own savepoint, and runs their
 * `after` work, in order, once that transaction has committed.
 */
export interface Store extends TxStores {
  readonly backend: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in the next write batch. Jobs of a batch run strictly one
   * after another; a job that throws rolls back alone. Resolves once the
   * batch has committed (acknowledged means durable). `hint`: what the job
   * will read, when it is a message send (see {@link SendHint}).
   */
  write<T>(fn: (tx: TxStores, after: AfterCommit) => Promise<T>, hint?: SendHint): Promise<T>;
  /** Jobs waiting for the next batch. */
  readonly queued: number;
  /** Transactions committed, and jobs in them (for metrics and benchmarks). */
  readonly stats: { commits: number; jobs: number };
  /**
   * What a database error means: `unique` (a unique key is taken: a race
   * the checks before the write could not see), `unavailable` (the database
   * cannot write or be reached right now), or null (a bug).
   */
  classify(err: unknown): 'unique' | 'unavailable' | null;
  /** Whether the database answers (for `/readyz`). */
  ping(): Promise<boolean>;
  /**
   * The token buckets of the rate limit `name`: in this process's memory on
   * SQLite (one natter), in the database on PostgreSQL, shared by every
   * natter on it, so N natters do not allow N times the attempts. Only a
   * limiter made with `refunds` may be given tokens back.
   */
  limiter(name: string, limit: Limit, clock: Clock, refunds: boolean): Limiter;
  /**
   * Forgets up to `limit` shared rate-limit buckets last used before
   * `before` (full again by then); 0 where the buckets live in memory.
   */
  pruneLimits(before: number, limit: number): Promise<number>;
  /**
   * The lease of the background job `job`: on PostgreSQL, the natter that
   * holds it is the one of the cluster that runs the job; on SQLite (one
   * natter) it is always held.
   */
  lease(job: string): Lease;
  /** Closes the connections (after the last write has settled). */
  close(): Promise<void>;
}

/**
 * Who of the natters sharing a database runs a background job. Whoever
 * holds the lease keeps it until it stops or loses its database
 * connection; then the next natter to ask takes it.
 */
export interface Lease {
  /** Whether this natter holds the lease now: takes it when nobody holds it, keeps it while it does. */
  hold(): Promise<boolean>;
  /** Gives the lease up (at stop), for another natter to take. */
  release(): Promise<void>;
}

/** Where a store hands each committed event (the hub, or the cluster bus). */
export type Publish = (event: StoredEvent) => void;
