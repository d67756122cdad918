import { NatterError } from '../protocol/index.js';

/** The error for a per-user or per-server cap, or a budget that resets later (`retryAfterMs`). */
export function limitReached(message: string, retryAfterMs?: number): NatterError {
  return new NatterError('limit_reached', message, retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** Bytes in a friendly unit. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 10 * 1024) return `${Math.round(n / 1024)} KiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}
