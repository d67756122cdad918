import { NatterError } from '../protocol/index.js';
import type { Ctx } from './context.js';
import type { RateLimiter } from './rate-limit.js';

/** The `rate_limited` error for a wait of `waitMs`. */
export function rateLimited(waitMs: number, what: string): NatterError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new NatterError('rate_limited', `too many ${what}; try again in ${seconds} s`, { retryAfterMs: waitMs });
}

/** Takes a token from `limiter` for `key`, or throws `rate_limited`. */
export function spend(limiter: RateLimiter, key: string, what: string): void {
  const wait = limiter.take(key);
  if (wait > 0) throw rateLimited(wait, what);
}

/** Counts one write (other than a message) against the caller. */
export function spendWrite(ctx: Ctx & { session: { userId: string } }): void {
  spend(ctx.limiters.writePerUser, ctx.session.userId, 'changes; slow down');
}
