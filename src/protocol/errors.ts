import { z } from 'zod';

// NatterError and CloseCode live in error-class.ts, which needs no schema library
// (the client loads it without zod); they are exported from here as before.
export { CloseCode, type ErrorDetails, NatterError } from './error-class.js';

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
  'account_disabled',
  'forbidden',
  'host_not_allowed',
  'not_found',
  'conflict',
  'rate_limited',
  'limit_reached',
  'timed_out',
  'slow_mode',
  'blocked',
  'held',
  'too_large',
  'invalid_file',
  'quota_exceeded',
  'payload_too_large',
  'unsupported_media_type',
  'invalid_cursor',
  'invalid_code',
  'email_unconfirmed',
  'mail_unavailable',
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
  account_disabled: 403,
  forbidden: 403,
  host_not_allowed: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  limit_reached: 403,
  timed_out: 403,
  slow_mode: 429,
  blocked: 403,
  held: 403,
  too_large: 413,
  invalid_file: 422,
  quota_exceeded: 403,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_cursor: 400,
  invalid_code: 400,
  email_unconfirmed: 403,
  mail_unavailable: 501,
  unavailable: 503,
  internal: 500,
};

/** The error object inside an error reply. */
export const ErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  /** For `bad_request`: the offending field, as a dotted path (`params.username`). */
  field: z.string().optional(),
  /**
   * For `rate_limited` (and a daily `limit_reached`): how long to wait before
   * trying again; for `timed_out` and `slow_mode`: until the member may send again;
   * for a daily `quota_exceeded`: until the day's upload allowance starts again.
   */
  retryAfterMs: z.number().int().nonnegative().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
