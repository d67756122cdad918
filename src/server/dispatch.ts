import {
  CloseCode,
  decodeJson,
  NatterError,
  operations,
  type ParsedRequest,
  parseRequest,
  type Reply,
} from '../protocol/index.js';
import { assertConfirmed } from './access.js';
import type { Connection } from './connection.js';
import { type Ctx, type Handler, inTransaction, type Services } from './context.js';
import { handlers } from './handlers/index.js';
import { READ_OPS, spend, UNMETERED_OPS } from './limits.js';
import { PAGE_BYTES } from './pages.js';
import { type FrameTiming, RequestScope } from './request-scope.js';
import type { AfterCommit } from './store/port.js';
import { tracer } from './tracing.js';

/** Undecodable frames in a row before the connection is closed. */
const MAX_BAD_FRAMES = 3;
/** Requests refused for lack of authentication before the connection is closed. */
const MAX_UNAUTHENTICATED = 5;
/** Rate-limited requests in a row before the connection is closed (the client ignores retryAfterMs). */
const MAX_RATE_LIMITED = 20;

/** A reply and what must happen once it has been written. */
export type Outcome = { reply: Reply; after: (() => void)[] };

/** Requests of one connection that may be under way at once; the rest wait in its inbox. */
export const MAX_IN_FLIGHT = 32;
/** Frames (or UTF-16 units) waiting in a connection's inbox before the transport stops reading it. */
const INBOX_HIGH_FRAMES = 256;
const INBOX_HIGH_CHARS = 1024 * 1024;
/** Time one connection's requests may take in one turn of the event loop before others get theirs. */
const TURN_BUDGET_MS = 2;
/**
 * Replies wait while this much is still queued for the peer (or a quarter of a
 * smaller send-queue cap): with pages of at most PAGE_BYTES, a client that asks
 * and does not read holds at most about twice this on the server.
 */
const REPLY_HOLD_BYTES = PAGE_BYTES;

/**
 * The single path every request takes, whatever its transport: decode,
 * validate, authorize, handle, reply. It never throws.
 *
 * Frames from WebSocket and TCP connections wait in the connection's inbox and
 * are started a few at a time: at most {@link MAX_IN_FLIGHT} under way per
 * connection, at most {@link TURN_BUDGET_MS} of one connection's work per
 * turn of the event loop (so a client that pipelines hundreds of requests
 * cannot hold up everyone else), and none while the replies it already has
 * are still waiting to be read (so what it asks for cannot pile up in memory).
 * A full inbox stops the transport reading from the socket.
 */

/** The `op` a frame names, whatever it is (metrics count names outside the table as `unknown`). */
function opOf(value: unknown): string {
  const op = typeof value === 'object' && value !== null ? (value as { op?: unknown }).op : undefined;
  return typeof op === 'string' ? op : 'unknown';
}

/** A request's place in its connection's order of writes: what comes before it, and how it lets the next one go. */
type WriteTurn = { before: Promise<void>; release: () => void };
const DONE: Promise<void> = Promise.resolve();

export class Dispatcher {
  private readonly inFlight = new Set<Promise<unknown>>();
  /**
   * Per connection, what its latest request resolves once it has queued its
   * first write, or has ended without one: the next request's first write
   * waits for it. Requests of one connection run concurrently, and whatever
   * they await before writing (a shared rate limit, a read on PostgreSQL)
   * can answer in any order; their writes still reach the store in the order
   * the requests came, so two messages sent one after the other are numbered
   * in that order.
   */
  private readonly writeTurns = new WeakMap<Connection, Promise<void>>();
  private stopping = false;
  /** HTTP requests waiting for their turn, and whether a turn for them is scheduled. */
  private readonly httpQueue: { conn: Connection; request: ParsedRequest; done: (o: Outcome) => void }[] = [];
  private httpScheduled = false;

  constructor(private readonly services: Services) {}

  /**
   * Runs an HTTP request when its turn comes. HTTP requests wait in one queue
   * and run at most {@link TURN_BUDGET_MS} of work per turn of the event loop,
   * like a connection's frames, so a burst of them from many sockets cannot
   * hold up everyone else.
   */
  executeHttp(conn: Connection, request: ParsedRequest): Promise<Outcome> {
    return new Promise((done) => {
      this.httpQueue.push({ conn, request, done });
      if (!this.httpScheduled) {
        this.httpScheduled = true;
        setImmediate(() => this.runHttp());
      }
    });
  }

  private runHttp(): void {
    this.httpScheduled = false;
    const started = performance.now();
    while (this.httpQueue.length > 0) {
      const job = this.httpQueue.shift();
      if (!job) break;
      const outcome = this.execute(job.conn, job.request);
      if (outcome instanceof Promise) void outcome.then(job.done);
      else job.done(outcome);
      if (performance.now() - started >= TURN_BUDGET_MS) break;
    }
    if (this.httpQueue.length > 0) {
      this.httpScheduled = true;
      setImmediate(() => this.runHttp());
    }
  }

  /** Takes one WebSocket frame or TCP line from a connection; it runs when its turn comes. */
  onText(conn: Connection, text: string): void {
    if (conn.closed || conn.closeWhenAnswered) return;
    conn.inbox.push(text);
    conn.inboxChars += text.length;
    if (!conn.inputPaused && (conn.inbox.length >= INBOX_HIGH_FRAMES || conn.inboxChars >= INBOX_HIGH_CHARS)) {
      conn.pauseInput();
    }
    this.schedule(conn);
  }

  /**
   * Closes `conn` as soon as every request under way has been answered: the
   * replies it is owed (a committed write's acknowledgement among them) go out
   * first. Nothing more it sends is read.
   */
  closeWhenAnswered(conn: Connection, code: number, reason: string): void {
    if (conn.closed || conn.closeWhenAnswered) return;
    conn.closeWhenAnswered = { code, reason };
    conn.inbox.length = 0;
    conn.inboxChars = 0;
    if (conn.inFlight === 0) conn.close(code, reason);
  }

  private schedule(conn: Connection): void {
    if (conn.pumpScheduled) return;
    conn.pumpScheduled = true;
    setImmediate(() => this.pump(conn));
  }

  /** Starts the requests of `conn` that may start now, within its share of this turn. */
  private pump(conn: Connection): void {
    conn.pumpScheduled = false;
    const started = performance.now();
    while (conn.inbox.length > 0 && !conn.closed && !conn.closeWhenAnswered) {
      if (conn.exclusiveRunning || conn.inFlight >= MAX_IN_FLIGHT) break;
      // The send-queue check comes before a reply is built, not after: a client that
      // does not read its replies gets no more of them until it does.
      const hold = conn.maxQueuedBytes > 0 ? Math.min(REPLY_HOLD_BYTES, conn.maxQueuedBytes / 4) : REPLY_HOLD_BYTES;
      if (conn.backlog() > hold) {
        conn.whenDrained(() => this.schedule(conn));
        return;
      }
      const text = conn.inbox.shift() as string;
      conn.inboxChars -= text.length;
      this.start(conn, text);
      if (performance.now() - started >= TURN_BUDGET_MS) break;
    }
    if (conn.inputPaused && conn.inbox.length < INBOX_HIGH_FRAMES / 2 && conn.inboxChars < INBOX_HIGH_CHARS / 2) {
      conn.resumeInput();
    }
    if (conn.inbox.length > 0 && !conn.exclusiveRunning && conn.inFlight < MAX_IN_FLIGHT) this.schedule(conn);
  }

  /** Decodes one frame and starts its request (the handler's synchronous part runs now). */
  private start(conn: Connection, text: string): void {
    const received = tracer().on ? performance.now() : 0;
    const decoded = decodeJson(text);
    if (!decoded.ok) {
      conn.badFrames++;
      conn.reply({ id: null, error: decoded.error.toBody() });
      if (conn.badFrames >= MAX_BAD_FRAMES)
        this.closeWhenAnswered(conn, CloseCode.decodeError, 'too many undecodable frames');
      return;
    }
    conn.badFrames = 0;
    const decodedAt = received === 0 ? 0 : performance.now();
    const parsed = parseRequest(decoded.value);
    if (!parsed.ok) {
      this.services.metrics.request(opOf(decoded.value), parsed.error.code, null);
      conn.reply({ id: parsed.id, error: parsed.error.toBody() });
      return;
    }
    // A page read is answered before the next request starts, as when reads
    // answered within the turn: the send-queue check then sees its reply.
    const exclusive = operations[parsed.request.op].exclusive === true || READ_OPS.has(parsed.request.op);
    if (exclusive) conn.exclusiveRunning = true;
    conn.inFlight++;
    const finish = ({ reply, after }: Outcome) => {
      conn.inFlight--;
      if (exclusive) conn.exclusiveRunning = false;
      conn.reply(reply);
      for (const fn of after) fn();
      conn.rateLimitedStrikes =
        'error' in reply && reply.error.code === 'rate_limited' ? conn.rateLimitedStrikes + 1 : 0;
      if (conn.unauthenticatedStrikes >= MAX_UNAUTHENTICATED && !conn.auth) {
        this.closeWhenAnswered(conn, CloseCode.notAuthenticated, 'too many requests before authenticating');
      } else if (conn.rateLimitedStrikes >= MAX_RATE_LIMITED) {
        this.closeWhenAnswered(
          conn,
          CloseCode.rateLimited,
          'kept sending while rate limited; wait retryAfterMs before retrying',
        );
      }
      if (conn.closeWhenAnswered) {
        if (conn.inFlight === 0) conn.close(conn.closeWhenAnswered.code, conn.closeWhenAnswered.reason);
        return;
      }
      if (conn.inbox.length > 0) this.schedule(conn);
    };
    const outcome = this.execute(conn, parsed.request, received === 0 ? undefined : { received, decoded: decodedAt });
    // A request answered without waiting (a read) is replied to at once, so the
    // send-queue check before the next one sees its reply.
    if (outcome instanceof Promise) void outcome.then(finish);
    else finish(outcome);
  }

  /**
   * Validates, authorizes and handles one request. A handler that answers
   * without waiting gets its outcome back at once; one that waits (a write,
   * a password check) gets a promise. Never throws, never rejects.
   */
  execute(conn: Connection, request: ParsedRequest, frame?: FrameTiming): Outcome | Promise<Outcome> {
    // Every request gets an id, one log line once answered, a trace when tracing is on,
    // and is measured once at the end: operation, result code, time (a no-op without --metrics).
    const started = performance.now();
    const scope = new RequestScope(this.services.log, conn, request.op, request.params, frame);
    const settle = (outcome: Outcome): Outcome => {
      const code = 'error' in outcome.reply ? outcome.reply.error.code : 'ok';
      scope.settle(code);
      this.services.metrics.request(request.op, code, performance.now() - started);
      return outcome;
    };
    const outcome = this.run(conn, request, scope);
    return outcome instanceof Promise ? outcome.then(settle) : settle(outcome);
  }

  private run(conn: Connection, request: ParsedRequest, scope: RequestScope): Outcome | Promise<Outcome> {
    const after: (() => void)[] = [];
    const turn = this.takeWriteTurn(conn);
    let result: unknown;
    try {
      result = this.handle(conn, request, after, turn, scope);
    } catch (err) {
      turn.release();
      return this.failed(request, err, scope);
    }
    if (!(result instanceof Promise)) {
      turn.release();
      return { reply: { id: request.id, result }, after };
    }
    const p = result.then(
      (value): Outcome => ({ reply: { id: request.id, result: value }, after }),
      (err: unknown) => this.failed(request, err, scope),
    );
    void p.finally(turn.release);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Whether the server is shutting down (no new requests are taken). */
  get draining(): boolean {
    return this.stopping;
  }

  /** Stops taking requests and waits (up to `graceMs`) for those under way. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
  }

  /** This request's place among its connection's writes (see {@link writeTurns}). */
  private takeWriteTurn(conn: Connection): WriteTurn {
    const before = this.writeTurns.get(conn) ?? DONE;
    let release: () => void = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.writeTurns.set(conn, mine);
    return { before, release };
  }

  /** Checks access and runs the handler: its result, or a promise of it. */
  private handle(
    conn: Connection,
    request: ParsedRequest,
    after: (() => void)[],
    turn: WriteTurn,
    scope: RequestScope,
  ): unknown {
    const enteredAt = tracer().on ? performance.now() : 0;
    if (this.stopping) throw new NatterError('unavailable', 'the server is shutting down; reconnect in a few seconds');
    const spec = operations[request.op];
    if (spec.access !== 'none' && !conn.auth) {
      conn.unauthenticatedStrikes++;
      throw new NatterError(
        'unauthenticated',
        'this needs a logged-in connection: send "auth" with your token, or "login", first',
      );
    }
    if (spec.access === 'session' && conn.auth?.kind !== 'session') {
      throw new NatterError(
        'forbidden',
        'a bot token cannot change the password, sessions or bot tokens; log in with your password for that',
      );
    }
    const session = conn.auth;
    const { store, limiters, clock } = this.services;
    // A read waits for its token before it reads anything.
    const spent =
      session && READ_OPS.has(request.op) ? spend(limiters.readPerUser, session.userId, 'reads; slow down') : null;
    const metered = session !== null && !UNMETERED_OPS.has(request.op);
    let queued = false;
    type Send = { conversationId: string; nonce: string };
    const write = <T>(fn: (tx: Ctx, after: AfterCommit) => Promise<T>, send?: Send): Promise<T> => {
      if (queued) return queue(fn, send);
      queued = true;
      // The first write waits for the connection's earlier requests to have queued theirs.
      return turn.before.then(() => {
        const p = queue(fn, send);
        turn.release();
        return p;
      });
    };
    // The write's span (queued, run in a batch, committed) is current while it is queued, so the
    // batch's commit, fan-out and bus spans hang under the first request of the batch.
    const queue = <T>(fn: (tx: Ctx, after: AfterCommit) => Promise<T>, send?: Send): Promise<T> =>
      tracer().span('db.write', () =>
        store.write(
          async (stores, afterCommit) => {
            const tx = inTransaction(ctx, stores);
            if (!session) return fn(tx, afterCommit);
            if (!(await stores.sessions.exists(session.sessionId))) {
              throw new NatterError('unauthenticated', 'this session was revoked; log in again');
            }
            if (!metered) return fn(tx, afterCommit);
            const before = stores.events.appendedBytes;
            const value = await fn(tx, afterCommit);
            // Over the daily budget, the job throws here and rolls back whole.
            await stores.usage.charge(session.userId, stores.events.appendedBytes - before, clock());
            return value;
          },
          send && session ? { ...send, sessionId: session.sessionId, userId: session.userId, at: clock() } : undefined,
        ),
      );
    const ctx: Ctx = {
      ...this.services,
      conn,
      session,
      write: write as Ctx['write'],
      afterReply: (fn) => after.push(fn),
      log: scope,
    };
    // The table maps each op to its own handler; the pairing is checked where the table is defined.
    const handler = handlers[request.op] as Handler<typeof request.op>;
    const run = () => {
      if (enteredAt !== 0) scope.span.past('authorize', enteredAt, performance.now());
      return scope.span.phase('handle', () => (handler as (c: Ctx, p: unknown) => unknown)(ctx, request.params));
    };
    // An account that owes a confirmed email address may only confirm it (access.ts).
    const gated = session?.unconfirmed ? assertConfirmed(this.services, session, request.op) : null;
    const ready = gated && spent ? Promise.all([gated, spent]) : (gated ?? spent);
    return ready ? ready.then(run) : run();
  }

  private failed(request: ParsedRequest, err: unknown, scope: RequestScope): Outcome {
    return { reply: { id: request.id, error: this.toError(err, request.op, scope).toBody() }, after: [] };
  }

  /** The error a request's failure is answered with; one the server did not expect is logged once, with its stack. */
  private toError(err: unknown, op: string, scope: RequestScope): NatterError {
    if (err instanceof NatterError) return err;
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    if (this.services.store.classify(err) === 'unavailable') {
      scope.error(`"${op}" could not write to the database (${code})`, err);
      return new NatterError(
        'unavailable',
        'the server cannot write to its database right now; nothing was saved, try again later',
      );
    }
    if (this.services.store.classify(err) === 'unique') {
      // A duplicate the checks before the write did not see: another node made the same thing at the same moment.
      scope.error(`"${op}" met a duplicate another request created at the same moment`, err);
      return new NatterError(
        'conflict',
        'someone made the same change at the same moment, so this one was not saved; look again and retry',
      );
    }
    scope.error(`"${op}" failed`, err);
    return new NatterError(
      'internal',
      `the server hit an unexpected error (request ${scope.id}); try again, and if it persists tell its operator that request id`,
    );
  }
}
