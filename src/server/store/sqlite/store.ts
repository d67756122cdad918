import type { Limit } from '../../config.js';
import { accountQueries } from '../../db/accounts.js';
import { auditQueries } from '../../db/audit.js';
import { automodQueries } from '../../db/automod.js';
import { ChatQueries } from '../../db/chat.js';
import { closeDb, type Db } from '../../db/index.js';
import { mailQueries } from '../../db/mail.js';
import { mediaQueries } from '../../db/media.js';
import { reportQueries } from '../../db/reports.js';
import { sessionQueries } from '../../db/sessions.js';
import { userQueries } from '../../db/users.js';
import { type Clock, type Limiter, RateLimiter } from '../../rate-limit.js';
import type {
  AccountStore,
  AfterCommit,
  Async,
  AuditStore,
  AutomodStore,
  ChatStore,
  EventStore,
  Lease,
  MailStore,
  MediaStore,
  Publish,
  ReportStore,
  SessionStore,
  Store,
  TxStores,
  UsageStore,
  UserStore,
} from '../port.js';
import { EventLog } from './event-log.js';
import { UsageMeter } from './usage.js';
import { SqliteWriter } from './writer.js';

/**
 * The SQLite backend of the storage port: better-sqlite3 on two connections
 * to one file, the writer's (group commit) and a read-only one. Every method
 * answers within the turn; the promises only give both backends one shape.
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  readonly chat: ChatStore;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly events: EventStore;
  readonly usage: UsageStore;
  readonly audit: AuditStore;
  readonly reports: ReportStore;
  readonly automod: AutomodStore;
  readonly media: MediaStore;
  readonly accounts: AccountStore;
  readonly mail: MailStore;
  /** What write jobs see: the same stores on the writer's connection. */
  private readonly tx: TxStores;
  private readonly writer: SqliteWriter;
  private closed = false;

  /**
   * @param db the writer's connection (migrated), @param reader a read-only
   * connection to the same file (`openReader`)
   */
  constructor(
    readonly db: Db,
    private readonly reader: Db,
    options: {
      publish: Publish;
      onAfterError: (err: unknown) => void;
      writeBytesPerDay: number;
      commitWindowMs: number;
      /** Called around each committed batch's after-commit work (the bus gathers its effects). */
      effects?: { begin(): void; end(): void };
      /** Hears of each write batch once it is over (for metrics). */
      onBatch?: ((jobs: number, ms: number, committed: boolean) => void) | undefined;
    },
  ) {
    const chat = new ChatQueries(db);
    const usage = new UsageMeter(db, options.writeBytesPerDay);
    this.writer = new SqliteWriter(
      db,
      options.onAfterError,
      [chat.pending, usage],
      options.commitWindowMs,
      options.effects ?? null,
      options.onBatch ?? null,
    );
    const usageStore = asyncOf(usage, ['charge', 'pruneBefore']);
    this.tx = {
      chat: methodsOf<ChatStore>(chat),
      users: asyncOf(userQueries(db)),
      sessions: asyncOf(sessionQueries(db)),
      events: eventStore(new EventLog(db, options.publish)),
      usage: usageStore,
      audit: asyncOf(auditQueries(db)),
      reports: asyncOf(reportQueries(db)),
      automod: asyncOf(automodQueries(db)),
      media: asyncOf(mediaQueries(db)),
      accounts: asyncOf(accountQueries(db)),
      mail: asyncOf(mailQueries(db)),
    };
    this.chat = methodsOf<ChatStore>(new ChatQueries(reader));
    this.users = asyncOf(userQueries(reader));
    this.sessions = asyncOf(sessionQueries(reader));
    this.events = eventStore(new EventLog(reader, options.publish));
    this.usage = usageStore;
    this.audit = asyncOf(auditQueries(reader));
    this.reports = asyncOf(reportQueries(reader));
    this.automod = asyncOf(automodQueries(reader));
    this.media = asyncOf(mediaQueries(reader));
    this.accounts = asyncOf(accountQueries(reader));
    this.mail = asyncOf(mailQueries(reader));
  }

  write<T>(fn: (tx: TxStores, after: AfterCommit) => Promise<T>): Promise<T> {
    return this.writer.run((after) => fn(this.tx, after));
  }

  get queued(): number {
    return this.writer.queued;
  }

  get stats(): { commits: number; jobs: number } {
    return this.writer.stats;
  }

  classify(err: unknown): 'unique' | 'unavailable' | null {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'unique';
    // Extended codes (SQLITE_IOERR_WRITE) share their primary code's meaning.
    return UNAVAILABLE.has(code.split('_').slice(0, 2).join('_')) ? 'unavailable' : null;
  }

  async ping(): Promise<boolean> {
    return this.db.$client.open;
  }

  /** Whether the connections are still open. */
  get open(): boolean {
    return !this.closed && this.db.$client.open;
  }

  /** In memory: one natter uses the file, so its buckets need be nowhere else (and cost no query). */
  limiter(_name: string, limit: Limit, clock: Clock): Limiter {
    return new RateLimiter(limit.capacity, limit.refillMs, clock);
  }

  pruneLimits(): Promise<number> {
    return Promise.resolve(0);
  }

  /** One natter uses the file: it runs every job. */
  lease(): Lease {
    return { hold: () => Promise.resolve(true), release: () => Promise.resolve() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reader.$client.open) this.reader.$client.close();
    closeDb(this.db);
  }
}

/** SQLite errors that mean "cannot write right now", not "bug". */
const UNAVAILABLE = new Set(['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_BUSY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN']);

type Fn = (...args: unknown[]) => unknown;

/** An object's functions (own properties, as `userQueries` builds them), each returning a promise. */
export function asyncOf<T extends object>(target: T, names?: readonly (keyof T & string)[]): Async<T> {
  const out: Record<string, Fn> = {};
  for (const name of names ?? (Object.keys(target) as (keyof T & string)[])) {
    const fn = target[name];
    if (typeof fn === 'function') out[name] = wrap(fn as Fn, target);
  }
  return out as Async<T>;
}

/** A class instance's public methods (those its prototype holds), each returning a promise. */
function methodsOf<T>(target: object): T {
  const out: Record<string, Fn> = {};
  const proto = Object.getPrototypeOf(target) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const fn = proto[name];
    if (name !== 'constructor' && typeof fn === 'function') out[name] = wrap(fn as Fn, target);
  }
  return out as T;
}

function wrap(fn: Fn, self: unknown): Fn {
  return (...args) => {
    try {
      return Promise.resolve(fn.apply(self, args));
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

function eventStore(log: EventLog): EventStore {
  return {
    append: (after, scopes, event, data, now) => {
      try {
        log.append(after, scopes, event, data, now);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    },
    get appendedBytes() {
      return log.appendedBytes;
    },
    head: () => Promise.resolve(log.head()),
    headOnCommit: (after, set) => {
      // The batch's events took their ids as they were appended: the head is known now.
      const head = log.head();
      after.push(() => set(head));
      return Promise.resolve();
    },
    parseCursor: (cursor) => {
      try {
        return Promise.resolve(log.parseCursor(cursor));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    replay: (scopes, cursor, upTo, cap, maxBytes) => {
      try {
        return Promise.resolve(log.replay(scopes, cursor, upTo, cap, maxBytes));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    since: (after, limit) => {
      try {
        return Promise.resolve(log.since(after, limit));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    prune: (before, limit) => {
      try {
        return Promise.resolve(log.prune(before, limit));
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}
