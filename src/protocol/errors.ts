import { z } from 'zod';

/**
 * The closed set of error codes a reply can carry. Clients branch on the code,
 * never on the message text, which is for people.
 */
export const ErrorCode = z.enum([
  'bad_json',
  'bad_request',
  'unknown_op',
  'unsupported_version',
  'unauthenticated',
  'invalid_credentials',
  'already_authenticated',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'payload_too_large',
  'invalid_cursor',
  'unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** HTTP status used when an error travels as an HTTP response. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  bad_request: 400,
  unknown_op: 404,
  unsupported_version: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  already_authenticated: 409,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  payload_too_large: 413,
  invalid_cursor: 400,
  unavailable: 503,
  internal: 500,
};

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
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The error object inside an error reply. */
export const ErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  /** For `bad_request`: the offending field, as a dotted path (`params.username`). */
  field: z.string().optional(),
  /** For `rate_limited`: how long to wait before trying again. */
  retryAfterMs: z.number().int().nonnegative().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

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
