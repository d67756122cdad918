import type { ErrorBody, ErrorCode } from './errors.js';

// The error class and close codes of the protocol, without schemas: the client
// imports this module directly so that connecting does not load zod.
// errors.ts re-exports everything here.

/**
 * Close codes used on WebSocket connections (and carried in the `closing` event on TCP).
 * 1000-1015 are RFC 6455 / IANA codes; 4000-4999 are natter's own.
 */
export const CloseCode = {
  /** The server is shutting down; reconnect later. */
  goingAway: 1001,
  /** The WebSocket frame was over the size limit. */
  tooBig: 1009,
  /** The server is restarting; reconnect after `reconnectAfterMs`. */
  serviceRestart: 1012,
  /** Too many undecodable frames or lines in a row. */
  decodeError: 4002,
  /** Too many requests before authenticating, or no auth before the deadline. */
  notAuthenticated: 4003,
  /** The session behind this connection was revoked (logout, password change, revocation). */
  sessionRevoked: 4004,
  /** The client kept sending after being rate limited. */
  rateLimited: 4008,
  /** The client does not read its events fast enough; resume later. */
  slowConsumer: 4009,
  /** A line on the TCP transport was longer than the limit. */
  lineTooLong: 4010,
  /** A TCP peer stayed silent through a heartbeat: sent nothing for `heartbeatMs` after a `ping` event. */
  heartbeatMissed: 4011,
  /** An instance operator disabled the account (`natter admin disable`), or it was deleted. */
  accountClosed: 4012,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Options that qualify an error: the field at fault or the time to wait. */
export type ErrorDetails = { field?: string; retryAfterMs?: number; cause?: unknown };

/**
 * The one error class of natter. Handlers throw it; the dispatcher turns it into
 * an error reply. The client library throws it for error replies too.
 */
export class NatterError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NatterError';
    this.code = code;
    this.field = details.field;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** The wire form of this error. */
  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.retryAfterMs !== undefined) body.retryAfterMs = this.retryAfterMs;
    return body;
  }

  /** Rebuilds an error from its wire form. */
  static fromBody(body: ErrorBody): NatterError {
    const details: ErrorDetails = {};
    if (body.field !== undefined) details.field = body.field;
    if (body.retryAfterMs !== undefined) details.retryAfterMs = body.retryAfterMs;
    return new NatterError(body.code, body.message, details);
  }
}
