import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { CloseCode, NatterError } from '../protocol/error-class.js';
import type {
  AnyEvent,
  EventData,
  EventMessage,
  EventName,
  Message,
  MessageKind,
  OpName,
  ParamsIn,
  ResultOf,
  Self,
} from '../protocol/index.js';
import { NatterClient, waitForEvent } from './client.js';
import { parseServerList } from './servers.js';
import type { TlsOptions } from './transport.js';

/** Where the connection stands. */
/** A refused token or password: trying again cannot help. */
function isRefusal(err: unknown): err is NatterError {
  return err instanceof NatterError && (err.code === 'unauthenticated' || err.code === 'invalid_credentials');
}

export type ConnectionState =
  | { status: 'connecting' }
  | { status: 'connected' }
  | { status: 'reconnecting'; attempt: number; retryInMs: number; error: string }
  | { status: 'closed'; error: string | null };

export type NatterOptions = TlsOptions & {
  /**
   * `ws://host:7777`, `wss://…`, `tcp://host:7778` or `tls://…`; or the nodes
   * of a cluster, comma-separated (`ws://a:7777,ws://b:7777`) or as an array:
   * see {@link Natter} for how they are tried.
   */
  url: string | readonly string[];
  /** A session or bot token to authenticate with. */
  token?: string | null;
  /** The last cursor seen, to receive what was missed since. */
  cursor?: string | null;
  /** Time allowed for each request's reply. Default 10 s. */
  timeoutMs?: number;
  /** Reconnect after a connection loss. Default true. */
  reconnect?: boolean;
  /** Reconnect delays: full jitter between 0 and min(maxMs, initialMs * 2^attempt). */
  backoff?: { initialMs?: number; maxMs?: number };
};

/** A message waiting for its acknowledgement. */
export type PendingSend = {
  nonce: string;
  target: { conversationId: string } | { to: string };
  body: string;
  kind: MessageKind;
  /** Ids of uploaded files sent with it (none: empty). */
  attachments: readonly string[];
};

/** Events a {@link Natter} emits. */
export type NatterEvents = {
  /** Every server push, once: replayed ones after a reconnect included, duplicates dropped. */
  event: [AnyEvent];
  /** The connection state changed. */
  state: [ConnectionState];
  /** A replay finished; when `limited`, lists and history should be reloaded. */
  caughtUp: [EventData<'caught_up'>];
  /** The cursor advanced (store it to resume from it later). */
  cursor: [string];
};

/** Outbox sends under way at once on one connection. */
const OUTBOX_IN_FLIGHT = 8;

/** The longest a client of a lost node waits before trying the next node of its list. */
const SPREAD_MS = 250;

/** Close codes after which reconnecting would not help. */
const FATAL_CLOSES = new Set<number>([CloseCode.sessionRevoked, CloseCode.accountClosed]);

/**
 * A natter client that stays connected: it reconnects with exponential
 * backoff and jitter, resumes from its cursor so that no event is missed or
 * seen twice, and keeps unacknowledged sends in an outbox that it retries with
 * the same nonce (the server stores each nonce once).
 *
 * Given several servers, each attempt is a round over the list, in order,
 * until one answers. After a lost connection the round starts at the server
 * after the one that was lost, within a quarter of a second (another node is
 * likely up; the wait spreads a lost node's clients), so a dead
 * node is not the first one tried every time; the backoff waits between rounds
 * in which none answered, not between servers.
 */
export class Natter extends EventEmitter<NatterEvents> {
  private conn: NatterClient | null = null;
  private authToken: string | null;
  private lastCursor: string | null;
  private me: Self | null = null;
  private current: ConnectionState = { status: 'connecting' };
  private readonly outbox = new Map<
    string,
    PendingSend & { resolve: (m: Message) => void; reject: (e: Error) => void }
  >();
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Outbox nonces whose send is under way on the current connection. */
  private readonly sending = new Set<string>();
  /** No outbox send starts before this time (ms, monotonic): the server asked to slow down. */
  private outboxPausedUntil = 0;
  private outboxTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private readonly timeoutMs: number;
  private readonly ca: TlsOptions['ca'];
  private readonly reconnect: boolean;
  private readonly initialMs: number;
  private readonly maxMs: number;
  /** The servers to try, in order. */
  readonly servers: readonly string[];
  /** Where in `servers` the next round starts. */
  private next = 0;
  /** Where in `servers` the current (or last) connection is. */
  private at = 0;

  /** Throws when `options.url` has an empty or bad entry (see {@link parseServerList}). */
  private constructor(options: NatterOptions) {
    super();
    this.servers = typeof options.url === 'string' ? parseServerList(options.url) : [...options.url];
    if (this.servers.length === 0) throw new Error('no server given');
    this.authToken = options.token ?? null;
    this.lastCursor = options.cursor ?? null;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.ca = options.ca;
    this.reconnect = options.reconnect ?? true;
    this.initialMs = options.backoff?.initialMs ?? 250;
    this.maxMs = options.backoff?.maxMs ?? 30_000;
  }

  /**
   * Connects (and authenticates when a token is given). The first attempt is
   * not retried: a server that cannot be reached, or a bad token, is an error.
   * With a `cursor`, use {@link Natter.create} and `start()` instead, so that
   * listeners are attached before the replay arrives.
   */
  static async connect(options: NatterOptions): Promise<Natter> {
    const n = new Natter(options);
    await n.start();
    return n;
  }

  /** A client that is not connected yet: attach listeners, then `start()`. */
  static create(options: NatterOptions): Natter {
    return new Natter(options);
  }

  /**
   * Makes the first connection (see {@link Natter.connect}). By default a
   * server that cannot be reached rejects at once; with `untilConnected`, it
   * is tried again with the usual backoff (the state says `reconnecting`)
   * until it answers, and only a refused token (or `stop()`) rejects.
   */
  start(options: { untilConnected?: boolean } = {}): Promise<void> {
    if (!options.untilConnected) return this.open();
    return new Promise((resolve, reject) => {
      let failure: Error | null = null;
      const onState = (s: ConnectionState) => {
        if (s.status === 'connected') {
          this.off('state', onState);
          resolve();
        } else if (s.status === 'closed') {
          this.off('state', onState);
          reject(failure ?? new Error(`connection closed: ${s.error ?? 'stopped'}`));
        }
      };
      this.on('state', onState);
      this.open().catch((err: unknown) => {
        if (this.stopped) return;
        if (isRefusal(err)) {
          failure = err;
          this.giveUp(err.message, err);
          return;
        }
        this.scheduleRetry(err instanceof Error ? err.message : String(err));
      });
    });
  }

  /**
   * While waiting to reconnect, tries at once instead of when the backoff
   * says (a person pressing "retry now"). Returns false when there is no wait
   * to cut short (connected, connecting, or closed).
   */
  reconnectNow(): boolean {
    if (this.current.status !== 'reconnecting' || !this.retryTimer) return false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = Math.max(0, this.attempt - 1);
    this.retry();
    return true;
  }

  /**
   * The server connected to; while not connected, the whole list
   * (comma-separated), or the one server when there is only one.
   */
  get url(): string {
    if (this.conn && this.current.status === 'connected') return this.conn.url;
    return this.servers.join(',');
  }

  /** The logged-in user, once authenticated. */
  get user(): Self | null {
    return this.me;
  }

  /** The session or bot token it authenticates with (null before `login` or `register`). */
  get token(): string | null {
    return this.authToken;
  }

  /** The `hello` of the current connection (null while not connected): what the server is and takes. */
  get hello(): EventData<'hello'> | null {
    return this.conn && this.current.status === 'connected' ? this.conn.hello : null;
  }

  /** How a `wss://` or `tls://` server's certificate is checked. */
  get tls(): TlsOptions {
    return this.ca === undefined ? {} : { ca: this.ca };
  }

  /** The last cursor seen: keep it to resume from. */
  get cursor(): string | null {
    return this.lastCursor;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Sends still waiting for their acknowledgement. */
  get pending(): PendingSend[] {
    return [...this.outbox.values()].map(({ nonce, target, body, kind, attachments }) => ({
      nonce,
      target,
      body,
      kind,
      attachments,
    }));
  }

  /**
   * Sends a request. While reconnecting it waits for the connection (up to
   * the request timeout) rather than failing at once.
   */
  async request<N extends OpName>(
    op: N,
    params: ParamsIn<N>,
    options: { timeoutMs?: number } = {},
  ): Promise<ResultOf<N>> {
    const conn = await this.ready(options.timeoutMs ?? this.timeoutMs);
    return conn.request(op, params, options);
  }

  /** Logs in with a password; the session token is kept for reconnects. */
  async login(username: string, password: string, client?: string): Promise<ResultOf<'login'>> {
    const res = await this.request('login', { username, password, ...(client ? { client } : {}) });
    this.adopt(res.token, res.user, res.cursor);
    return res;
  }

  /** Creates an account and logs in. */
  async register(username: string, password: string, client?: string): Promise<ResultOf<'register'>> {
    const res = await this.request('register', { username, password, ...(client ? { client } : {}) });
    this.adopt(res.token, res.user, res.cursor);
    return res;
  }

  /**
   * Sends a message through the outbox: it is retried with the same nonce
   * after a reconnect until the server acknowledges it, and resolves with the
   * stored message. Server refusals (not a member, too long…) reject at once.
   * With `kind` `action`, the body says what the sender does (`/me waves`).
   * `attachments`: ids of files uploaded for it (`uploadFile`); the body may
   * then be empty. They stay the sender's, unused, until the send is
   * acknowledged, so a retry after a reconnect carries them again.
   */
  send(
    target: { conversationId: string } | { to: string },
    body: string,
    nonce = newNonce(),
    kind: MessageKind = 'text',
    attachments: readonly string[] = [],
  ): Promise<Message> {
    if (this.current.status === 'closed') {
      return Promise.reject(new Error(`not connected: ${this.current.error ?? 'closed'}`));
    }
    return new Promise((resolve, reject) => {
      this.outbox.set(nonce, { nonce, target, body, kind, attachments, resolve, reject });
      this.pumpOutbox();
    });
  }

  /** Closes for good: no reconnect; pending sends are rejected. */
  close(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.outboxTimer) clearTimeout(this.outboxTimer);
    this.conn?.close();
    this.setState({ status: 'closed', error: null });
    const err = new Error('client closed');
    for (const p of this.outbox.values()) p.reject(err);
    this.outbox.clear();
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private adopt(token: string, user: Self, cursor: string): void {
    this.authToken = token;
    this.me = user;
    this.advance(cursor);
  }

  private async open(): Promise<void> {
    this.setState({ status: 'connecting' });
    const n = this.servers.length;
    const order = this.servers.map((_, i) => (this.next + i) % n);
    const conn = await NatterClient.connect(
      order.map((i) => this.servers[i] ?? ''),
      { timeoutMs: this.timeoutMs, ...(this.ca === undefined ? {} : { ca: this.ca }) },
    );
    const at = order.find((i) => this.servers[i] === conn.url) ?? this.next;
    // Should this one fail before it is ready, the next round starts after it.
    this.next = (at + 1) % n;
    if (this.stopped) {
      conn.close();
      return;
    }
    // Listen before authenticating: the replay arrives ahead of the auth reply.
    conn.on('event', (msg) => this.receive(msg));
    conn.on('close', (code, reason) => this.onClose(conn, code, reason));
    if (this.authToken) {
      try {
        const res = await conn.request('auth', {
          token: this.authToken,
          ...(this.lastCursor ? { cursor: this.lastCursor } : {}),
        });
        this.me = res.user;
        this.advance(res.cursor);
      } catch (err) {
        if (err instanceof NatterError && err.code === 'invalid_cursor') {
          // The server does not know our cursor (a restored backup, a reset): start from now.
          this.lastCursor = null;
          const res = await conn.request('auth', { token: this.authToken });
          this.me = res.user;
          this.advance(res.cursor);
          this.emit('caughtUp', { cursor: res.cursor, replayed: 0, limited: true });
        } else {
          conn.close();
          throw err;
        }
      }
    }
    if (this.stopped) {
      // close() was called while this connection was being set up.
      conn.close();
      return;
    }
    this.conn = conn;
    this.at = at;
    this.next = at;
    this.attempt = 0;
    this.setState({ status: 'connected' });
    for (const w of this.waiters.splice(0)) w.resolve();
    this.sending.clear();
    this.pumpOutbox();
  }

  /**
   * Sends what waits in the outbox, in order, a few at a time. When the server
   * says to slow down (`rate_limited`) or is busy, the whole outbox waits
   * `retryAfterMs` before sending again, rather than each message retrying on
   * its own: a burst of sends is paced to what the server allows, and never
   * gets the connection closed for ignoring its limits.
   */
  private pumpOutbox(): void {
    const conn = this.conn;
    if (!conn || this.current.status !== 'connected') return;
    const now = performance.now();
    if (now < this.outboxPausedUntil) {
      if (!this.outboxTimer) {
        this.outboxTimer = setTimeout(() => {
          this.outboxTimer = null;
          this.pumpOutbox();
        }, this.outboxPausedUntil - now);
        this.outboxTimer.unref();
      }
      return;
    }
    for (const entry of this.outbox.values()) {
      if (this.sending.size >= OUTBOX_IN_FLIGHT) return;
      if (!this.sending.has(entry.nonce)) void this.sendOne(conn, entry);
    }
  }

  private async sendOne(
    conn: NatterClient,
    entry: PendingSend & { resolve: (m: Message) => void; reject: (e: Error) => void },
  ): Promise<void> {
    const { nonce } = entry;
    this.sending.add(nonce);
    try {
      // `kind` only when it is not the default: a server from before actions refuses fields it does not know.
      const kind = entry.kind === 'text' ? {} : { kind: entry.kind };
      // Fields only when they say something: a server from before files refuses fields it does not know.
      const files = entry.attachments.length > 0 ? { attachments: [...entry.attachments] } : {};
      const body = entry.body === '' && entry.attachments.length > 0 ? {} : { body: entry.body };
      const res = await conn.request('messages.send', { ...entry.target, ...body, nonce, ...kind, ...files });
      this.outbox.delete(nonce);
      entry.resolve(res.message);
    } catch (err) {
      // A refusal is final; a lost connection leaves the entry for the next attempt.
      if (err instanceof NatterError && err.code !== 'unavailable' && err.code !== 'rate_limited') {
        this.outbox.delete(nonce);
        entry.reject(err);
      } else if (this.conn === conn) {
        // Still connected (rate limited, server busy, reply timed out): the outbox waits, then the same nonce goes again.
        const wait = err instanceof NatterError ? (err.retryAfterMs ?? 1000) : 1000;
        this.outboxPausedUntil = Math.max(this.outboxPausedUntil, performance.now() + wait);
      }
    } finally {
      if (this.conn === conn) this.sending.delete(nonce);
      this.pumpOutbox();
    }
  }

  private receive(msg: AnyEvent): void {
    if (msg.cursor !== undefined) {
      // Replay and live delivery never overlap, but a client must not trust that blindly.
      if (this.lastCursor !== null && Number(msg.cursor) <= Number(this.lastCursor)) return;
      this.advance(msg.cursor);
    }
    if (msg.event === 'caught_up') {
      const data = msg.data;
      this.advance(data.cursor);
      this.emit('caughtUp', data);
    }
    this.emit('event', msg);
  }

  private advance(cursor: string): void {
    if (this.lastCursor === null || Number(cursor) > Number(this.lastCursor)) {
      this.lastCursor = cursor;
      this.emit('cursor', cursor);
    }
  }

  private onClose(conn: NatterClient, code: number, reason: string): void {
    if (conn !== this.conn) return;
    this.conn = null;
    if (this.stopped) return;
    if (!this.reconnect || FATAL_CLOSES.has(code)) {
      this.giveUp(`${reason || 'connection closed'} (${code})`);
      return;
    }
    // 1006 says only that no close frame came (and TCP has no codes): the reason says it in words.
    const error = code === 1006 ? reason || 'the connection dropped' : `${reason || 'connection lost'} (${code})`;
    if (this.servers.length > 1) {
      // Another node is likely up: the next round starts with the server after this one, within a quarter
      // of a second, the clients of a lost node spread over it rather than arriving at the next one together.
      this.next = (this.at + 1) % this.servers.length;
      this.scheduleRetry(error, undefined, Math.random() * Math.min(this.initialMs, SPREAD_MS));
      return;
    }
    // A restarting server says when to come back; the jitter spreads clients over that.
    const hint = conn.closingNotice?.reconnectAfterMs;
    this.scheduleRetry(error, hint);
  }

  /** Waits, then makes one more round; `delayMs` when given, else the backoff (or the server's hint). */
  private scheduleRetry(error: string, hintMs?: number, delayMs?: number): void {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    // The server's hint spreads a crowd of clients over a few seconds; it never makes one wait past its own ceiling.
    const delay =
      delayMs !== undefined
        ? delayMs
        : hintMs !== undefined
          ? Math.min(this.maxMs, hintMs + Math.round(Math.random() * this.initialMs))
          : Math.round(Math.random() * ceiling);
    this.attempt++;
    this.setState({ status: 'reconnecting', attempt: this.attempt, retryInMs: delay, error });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retry();
    }, delay);
  }

  /** One more attempt to connect; a refused token ends it, anything else waits and tries again. */
  private retry(): void {
    this.open().catch((err: unknown) => {
      if (this.stopped) return;
      if (isRefusal(err)) {
        this.giveUp(err.message, err);
        return;
      }
      this.scheduleRetry(err instanceof Error ? err.message : String(err));
    });
  }

  private ready(timeoutMs: number): Promise<NatterClient> {
    if (this.conn && this.current.status === 'connected') return Promise.resolve(this.conn);
    if (this.current.status === 'closed')
      return Promise.reject(new Error(`not connected: ${this.current.error ?? 'closed'}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`not connected to ${this.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          if (this.conn) resolve(this.conn);
          else reject(new Error('connection lost'));
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    this.emit('state', state);
  }

  /** Closed for good (revoked, refused): nothing waiting will ever be sent. */
  private giveUp(error: string, cause?: Error): void {
    this.setState({ status: 'closed', error });
    const err = cause ?? new Error(`connection closed: ${error}`);
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const p of this.outbox.values()) p.reject(err);
    this.outbox.clear();
  }

  /**
   * Calls `handler` with the data of every event named `name`; returns a
   * function that stops it.
   */
  onEvent<N extends EventName>(name: N, handler: (data: EventData<N>, msg: EventMessage<N>) => void): () => void {
    const listener = (msg: AnyEvent) => {
      if (msg.event === name) handler(msg.data as EventData<N>, msg as EventMessage<N>);
    };
    this.on('event', listener);
    return () => this.off('event', listener);
  }

  /** Resolves with the next event named `name` that passes `filter`. */
  nextEvent<N extends EventName>(
    name: N,
    filter: (data: EventData<N>) => boolean = () => true,
    timeoutMs = this.timeoutMs,
  ): Promise<EventMessage<N>> {
    return waitForEvent(this, name, filter, timeoutMs);
  }
}

/** A fresh idempotency nonce (128 random bits). */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}
