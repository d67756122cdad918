import { randomBytes } from 'node:crypto';
import type { Connection } from './connection.js';
import type { LogFields, Logger, LogLevel } from './log.js';
import { type RequestSpan, tracer } from './tracing.js';

/** A request slower than this is logged at info rather than debug. */
export const SLOW_REQUEST_MS = 1_000;

/** Random bytes taken a few at a time for request ids (one system call per 512 ids). */
let pool = Buffer.alloc(0);
let poolAt = 0;

/** A short random request id: 8 characters of base64url (48 bits). */
export function newRequestId(): string {
  if (poolAt + 6 > pool.length) {
    pool = randomBytes(6 * 512);
    poolAt = 0;
  }
  poolAt += 6;
  return pool.toString('base64url', poolAt - 6, poolAt);
}

/** When a frame arrived and when it was decoded (performance.now() ms), for its trace. */
export type FrameTiming = { received: number; decoded: number };

/**
 * What the dispatcher knows of one request while it runs: its id (in every
 * log line about it, and in an `internal` error's message), a logger that
 * carries the id, and its spans when tracing is on. {@link settle} writes the
 * one line each request gets.
 *
 * The scope is itself that logger: the child logger with the id is made only
 * when something is logged, so a request that logs nothing costs no more
 * than its id and a clock reading.
 */
export class RequestScope implements Logger {
  readonly id = newRequestId();
  readonly span: RequestSpan;
  private readonly startedAt = performance.now();
  private withId: Logger | null = null;

  constructor(
    private readonly base: Logger,
    private readonly conn: Connection,
    private readonly op: string,
    params: unknown,
    frame?: FrameTiming,
  ) {
    // Secrets among the params (passwords, tokens, codes, email addresses) are censored by the logger.
    if (base.enabled('trace')) this.log.trace(`${op} started`, { op, transport: conn.transport, params });
    const t = tracer();
    this.span = t.request(op, conn.transport, this.id, frame?.received);
    if (frame && t.on) {
      this.span.past('decode', frame.received, frame.decoded);
      this.span.past('validate', frame.decoded, this.startedAt);
    }
  }

  /** A logger whose lines carry the request id. */
  get log(): Logger {
    this.withId ??= this.base.child({ reqId: this.id });
    return this.withId;
  }

  trace(message: string, extra?: unknown): void {
    if (this.base.enabled('trace')) this.log.trace(message, extra);
  }
  debug(message: string, extra?: unknown): void {
    if (this.base.enabled('debug')) this.log.debug(message, extra);
  }
  info(message: string, extra?: unknown): void {
    if (this.base.enabled('info')) this.log.info(message, extra);
  }
  warn(message: string, extra?: unknown): void {
    if (this.base.enabled('warn')) this.log.warn(message, extra);
  }
  error(message: string, extra?: unknown): void {
    if (this.base.enabled('error')) this.log.error(message, extra);
  }
  child(bindings: LogFields): Logger {
    return this.log.child(bindings);
  }
  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return this.base.enabled(level);
  }
  flush(): Promise<void> {
    return this.base.flush();
  }
  flushSync(): void {
    this.base.flushSync();
  }

  /**
   * The request is answered: `result` is `ok` or the error code. Logged at
   * debug; at info when slow; at warn when the server failed (`internal`,
   * `unavailable`), whose error was logged with its stack where it was caught.
   */
  settle(result: string): void {
    const ms = Math.round((performance.now() - this.startedAt) * 10) / 10;
    const userId = this.conn.auth?.userId ?? null;
    const failed = result === 'internal' || result === 'unavailable';
    const level = failed ? 'warn' : ms > SLOW_REQUEST_MS ? 'info' : 'debug';
    if (this.base.enabled(level)) {
      this.log[level](`${this.op} ${result} in ${ms} ms`, {
        op: this.op,
        userId,
        transport: this.conn.transport,
        result,
        ms,
      });
    }
    this.span.end(result, userId === null ? {} : { 'enduser.id': userId });
  }
}
