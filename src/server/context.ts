import type { Operations, OpName, ParamsOf, ResultOf } from '../protocol/index.js';
import type { ClassifierPolicy, RuleCache } from './automod/apply.js';
import type { ClassifierClient } from './automod/classifier.js';
import type { Bus } from './bus/bus.js';
import type { Fanout } from './bus/fanout.js';
import type { Limits, ServerConfig } from './config.js';
import type { AuthState, Connection } from './connection.js';
import type { Hub } from './hub.js';
import type { Logger } from './log.js';
import type { Mailer } from './mail/outbox.js';
import type { BlobStore } from './media/blob-store.js';
import type { Uploads } from './media/upload.js';
import type { Metrics } from './metrics.js';
import type { PasswordHasher } from './passwords.js';
import type { Clock, Limiter } from './rate-limit.js';
import type {
  AccountStore,
  AfterCommit,
  AuditStore,
  AutomodStore,
  ChatStore,
  EventStore,
  MailStore,
  MediaStore,
  ReportStore,
  SessionStore,
  Store,
  TxStores,
  UsageStore,
  UserStore,
} from './store/port.js';
import type { AddressCounter } from './transports/common.js';
import type { HostCheck } from './transports/hosts.js';
import type { TrustedProxies } from './transports/proxy.js';

/** The long-lived parts of a running server, shared by every request. */
export type Services = {
  config: ServerConfig;
  /** The storage backend; every write goes through `store.write` (group commit). */
  store: Store;
  /** Reads of committed data (the store's own stores; inside a write, the job's). */
  users: UserStore;
  sessions: SessionStore;
  chat: ChatStore;
  events: EventStore;
  /** The daily write budget per user. */
  usage: UsageStore;
  /** Servers' audit logs. */
  audit: AuditStore;
  /** Reports of messages and users. */
  reports: ReportStore;
  /** Automatic moderation rules and held messages. */
  automod: AutomodStore;
  /** Uploaded files' rows, pictures and upload totals (the bytes are in `blobs`). */
  media: MediaStore;
  /** Whole accounts: deletion, disabling, the export's reads. */
  accounts: AccountStore;
  /** Mailed codes and the mail outbox. */
  mail: MailStore;
  /** Sends what the outbox holds (`--smtp-url`); null when this server sends no mail. */
  mailer: Mailer | null;
  /** The bytes of uploaded files, by SHA-256 (`media/` under the data directory, or `mediaDir`). */
  blobs: BlobStore;
  /** Uploads under way on this node (one at a time per slot, a few per account). */
  uploads: Uploads;
  /** Servers' automatic moderation rules, compiled (on this node). */
  ruleCache: RuleCache;
  /** The external message classifier (`--moderation-webhook`), with its policy; null when none is configured. */
  classifier: { client: ClassifierClient; policy: ClassifierPolicy } | null;
  /** This node's connections: who is connected, by user, session and scope. */
  hub: Hub;
  /** How committed batches and other effects reach connections on every node. */
  bus: Bus;
  /** What handlers call to reach connections (through the bus, in the batch's order). */
  fanout: Fanout;
  /** Open sockets per client address, on every port (the per-address connection cap). */
  sockets: AddressCounter;
  /** Reverse proxies believed about the client's address (`--trust-proxy`). */
  proxies: TrustedProxies;
  /** The host names HTTP requests and WebSocket upgrades may name (against DNS rebinding). */
  hosts: HostCheck;
  clock: Clock;
  passwords: PasswordHasher;
  /** One token-bucket limiter per configured limit (in memory on SQLite, shared through the database on PostgreSQL). */
  limiters: { [K in keyof Limits]: Limiter };
  log: Logger;
  /** What Prometheus scrapes (`--metrics`); does nothing when metrics are off. */
  metrics: Metrics;
  version: string;
  /** The HTTP port this natter listens on (where TCP clients upload and download files without `publicUrl`). */
  httpPort(): number;
  /** When each `user:conversation` pair last announced typing (ephemeral, never stored). */
  typing: Map<string, number>;
};

/** What a handler gets: the services, the connection and who is on it. */
export interface Ctx extends Services {
  conn: Connection;
  session: AuthState | null;
  /**
   * Runs `fn` in the next write batch (see `Store.write`), with `tx`: this
   * context whose stores work inside the batch's transaction. For an
   * authenticated request it first checks, inside the batch, that the
   * session still exists: a write queued behind its own session's
   * revocation is refused. `send`: the job is the send of a message to
   * that conversation with that nonce (see `SendHint`), which lets the store
   * read what it needs ahead, together with the other sends queued with it.
   */
  write<T>(
    fn: (tx: this, after: AfterCommit) => Promise<T>,
    send?: { conversationId: string; nonce: string },
  ): Promise<T>;
  /** Runs `fn` after the reply has been sent (e.g. closing the caller's own session). */
  afterReply(fn: () => void): void;
}

/** Context of an operation that requires authentication. */
export interface AuthedCtx extends Ctx {
  session: AuthState;
}

/** `ctx` with the stores of a write job in place of the committed-data ones. */
export function inTransaction<C extends Ctx>(ctx: C, tx: TxStores): C {
  const bound = Object.create(ctx) as C;
  bound.chat = tx.chat;
  bound.users = tx.users;
  bound.sessions = tx.sessions;
  bound.events = tx.events;
  bound.usage = tx.usage;
  bound.audit = tx.audit;
  bound.reports = tx.reports;
  bound.automod = tx.automod;
  bound.media = tx.media;
  bound.accounts = tx.accounts;
  bound.mail = tx.mail;
  return bound;
}

/** A handler for operation `N`. */
export type Handler<N extends OpName> = (
  ctx: N extends UserOps ? AuthedCtx : Ctx,
  params: ParamsOf<N>,
) => ResultOf<N> | Promise<ResultOf<N>>;

/** Operations that need an authenticated session. */
export type UserOps = { [N in OpName]: Operations[N]['access'] extends 'user' | 'session' ? N : never }[OpName];
