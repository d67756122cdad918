import type { Operations, OpName, ParamsOf, ResultOf } from '../protocol/index.js';
import type { Limits, ServerConfig } from './config.js';
import type { AuthState, Connection } from './connection.js';
import type { ChatQueries } from './db/chat.js';
import type { Db } from './db/index.js';
import type { SessionQueries } from './db/sessions.js';
import type { UserQueries } from './db/users.js';
import type { EventLog } from './event-log.js';
import type { Hub } from './hub.js';
import type { Logger } from './log.js';
import type { PasswordHasher } from './passwords.js';
import type { UsageMeter } from './quotas.js';
import type { Clock, RateLimiter } from './rate-limit.js';
import type { AddressCounter } from './transports/common.js';
import type { HostCheck } from './transports/hosts.js';
import type { TrustedProxies } from './transports/proxy.js';
import type { AfterCommit, Writer } from './writer.js';

/** The long-lived parts of a running server, shared by every request. */
export type Services = {
  config: ServerConfig;
  db: Db;
  users: UserQueries;
  sessions: SessionQueries;
  chat: ChatQueries;
  /** Group-commit queue: every write that produces stream events goes through it. */
  writer: Writer;
  events: EventLog;
  /** The daily write budget per user. */
  usage: UsageMeter;
  hub: Hub;
  /** Open sockets per client address, on every port (the per-address connection cap). */
  sockets: AddressCounter;
  /** Reverse proxies believed about the client's address (`--trust-proxy`). */
  proxies: TrustedProxies;
  /** The host names HTTP requests and WebSocket upgrades may name (against DNS rebinding). */
  hosts: HostCheck;
  clock: Clock;
  passwords: PasswordHasher;
  /** One token-bucket limiter per configured limit. */
  limiters: { [K in keyof Limits]: RateLimiter };
  log: Logger;
  version: string;
  /** When each `user:conversation` pair last announced typing (ephemeral, never stored). */
  typing: Map<string, number>;
};

/** What a handler gets: the services, the connection and who is on it. */
export type Ctx = Services & {
  conn: Connection;
  session: AuthState | null;
  /**
   * Runs `fn` in the next write batch (see `Writer.run`). For an authenticated
   * request it first checks, inside the batch, that the session still exists:
   * a write queued behind its own session's revocation is refused.
   */
  write<T>(fn: (after: AfterCommit) => T): Promise<T>;
  /** Runs `fn` after the reply has been sent (e.g. closing the caller's own session). */
  afterReply(fn: () => void): void;
};

/** Context of an operation that requires authentication. */
export type AuthedCtx = Ctx & { session: AuthState };

/** A handler for operation `N`. */
export type Handler<N extends OpName> = (
  ctx: N extends UserOps ? AuthedCtx : Ctx,
  params: ParamsOf<N>,
) => ResultOf<N> | Promise<ResultOf<N>>;

/** Operations that need an authenticated session. */
export type UserOps = { [N in OpName]: Operations[N]['access'] extends 'user' | 'session' ? N : never }[OpName];
