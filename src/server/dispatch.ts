import {
  CloseCode,
  decodeJson,
  NatterError,
  operations,
  type ParsedRequest,
  parseRequest,
  type Reply,
} from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { Ctx, Handler, Services } from './context.js';
import { handlers } from './handlers/index.js';

/** Undecodable frames in a row before the connection is closed. */
const MAX_BAD_FRAMES = 3;
/** Requests refused for lack of authentication before the connection is closed. */
const MAX_UNAUTHENTICATED = 5;
/** Rate-limited requests in a row before the connection is closed (the client ignores retryAfterMs). */
const MAX_RATE_LIMITED = 20;

/** SQLite errors that mean "cannot write right now", not "bug". */
const UNAVAILABLE_SQLITE = new Set([
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_BUSY',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
]);

/** A reply and what must happen once it has been written. */
export type Outcome = { reply: Reply; after: (() => void)[] };

/**
 * The single path every request takes, whatever its transport: decode,
 * validate, authorize, handle, reply. It never throws.
 */
export class Dispatcher {
  private readonly inFlight = new Set<Promise<unknown>>();
  private draining = false;

  constructor(private readonly services: Services) {}

  /** Handles one WebSocket frame or TCP line. */
  onText(conn: Connection, text: string): void {
    const decoded = decodeJson(text);
    if (!decoded.ok) {
      conn.badFrames++;
      conn.reply({ id: null, error: decoded.error.toBody() });
      if (conn.badFrames >= MAX_BAD_FRAMES) conn.close(CloseCode.decodeError, 'too many undecodable frames');
      return;
    }
    conn.badFrames = 0;
    this.onValue(conn, decoded.value);
  }

  /** Handles one decoded request on a long-lived connection, replying on it. */
  onValue(conn: Connection, value: unknown): void {
    const parsed = parseRequest(value);
    if (!parsed.ok) {
      conn.reply({ id: parsed.id, error: parsed.error.toBody() });
      return;
    }
    const exclusive = operations[parsed.request.op].exclusive === true;
    const run = conn.barrier.then(() => this.execute(conn, parsed.request));
    if (exclusive) conn.barrier = run.then(noop, noop);
    void run.then(({ reply, after }) => {
      conn.reply(reply);
      for (const fn of after) fn();
      if (conn.unauthenticatedStrikes >= MAX_UNAUTHENTICATED && !conn.auth) {
        conn.close(CloseCode.notAuthenticated, 'too many requests before authenticating');
      }
      conn.rateLimitedStrikes =
        'error' in reply && reply.error.code === 'rate_limited' ? conn.rateLimitedStrikes + 1 : 0;
      if (conn.rateLimitedStrikes >= MAX_RATE_LIMITED) {
        conn.close(CloseCode.rateLimited, 'kept sending while rate limited; wait retryAfterMs before retrying');
      }
    });
  }

  /** Validates, authorizes and handles one request; resolves to its reply (never rejects). */
  execute(conn: Connection, request: ParsedRequest): Promise<Outcome> {
    const p = this.executeInner(conn, request);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Stops taking requests and waits (up to `graceMs`) for those under way. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
  }

  private async executeInner(conn: Connection, request: ParsedRequest): Promise<Outcome> {
    const after: (() => void)[] = [];
    try {
      if (this.draining)
        throw new NatterError('unavailable', 'the server is shutting down; reconnect in a few seconds');
      const spec = operations[request.op];
      if (spec.access !== 'none' && !conn.auth) {
        conn.unauthenticatedStrikes++;
        throw new NatterError(
          'unauthenticated',
          `"${request.op}" needs a logged-in connection: send "auth" with your token, or "login"`,
        );
      }
      if (spec.access === 'session' && conn.auth?.kind !== 'session') {
        throw new NatterError(
          'forbidden',
          `"${request.op}" is not allowed with a bot token; log in with your password`,
        );
      }
      const ctx: Ctx = { ...this.services, conn, session: conn.auth, afterReply: (fn) => after.push(fn) };
      // The table maps each op to its own handler; the pairing is checked where the table is defined.
      const handler = handlers[request.op] as Handler<typeof request.op>;
      const result = await (handler as (c: Ctx, p: unknown) => unknown)(ctx, request.params);
      return { reply: { id: request.id, result }, after };
    } catch (err) {
      return { reply: { id: request.id, error: this.toError(err, request.op).toBody() }, after: [] };
    }
  }

  private toError(err: unknown, op: string): NatterError {
    if (err instanceof NatterError) return err;
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    // Extended codes (SQLITE_IOERR_WRITE) share their primary code's meaning.
    const primary = code.split('_').slice(0, 2).join('_');
    if (UNAVAILABLE_SQLITE.has(primary)) {
      this.services.log.error(`"${op}" could not write to the database (${code})`, err);
      return new NatterError(
        'unavailable',
        'the server cannot write to its database right now; nothing was saved, try again later',
      );
    }
    this.services.log.error(`"${op}" failed`, err);
    return new NatterError(
      'internal',
      'the server hit an unexpected error; try again, and tell its operator if it persists',
    );
  }
}

function noop(): void {}
