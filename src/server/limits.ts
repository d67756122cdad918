import { NatterError, type OpName } from '../protocol/index.js';
import type { Ctx } from './context.js';
import type { Limiter } from './rate-limit.js';

/** The `rate_limited` error for a wait of `waitMs`. */
export function rateLimited(waitMs: number, what: string): NatterError {
  return new NatterError('rate_limited', `too many ${what}; try again in ${inWords(waitMs)}`, { retryAfterMs: waitMs });
}

/** A wait as people read it: `0.2 s`, `3 s`, `2 min`, `18 h 58 min`. */
export function inWords(ms: number): string {
  if (ms < 1000) return `${Math.max(0.1, Math.ceil(ms / 100) / 10)} s`;
  if (ms < 120_000) return `${Math.ceil(ms / 1000)} s`;
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const [h, m] = [Math.floor(minutes / 60), minutes % 60];
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** Takes `cost` tokens from `limiter` for `key`, or rejects with `rate_limited`: await it before the work it guards. */
export async function spend(limiter: Limiter, key: string, what: string, cost = 1): Promise<void> {
  const wait = await limiter.take(key, cost);
  if (wait > 0) throw rateLimited(wait, what);
}

/**
 * Counts `names` look-ups of users by name against the caller's look-up
 * budget (`lookupPerUser`), as `users.get` does: any request that answers
 * whether a name exists (a DM by name, a group add, a block by name) costs
 * the same, so none of them lists accounts faster.
 */
export async function spendLookups(ctx: Ctx & { session: { userId: string } }, names: number): Promise<void> {
  if (names > 0) await spend(ctx.limiters.lookupPerUser, ctx.session.userId, 'user look-ups; slow down', names);
}

/** Counts one write (other than a message) against the caller. */
export function spendWrite(ctx: Ctx & { session: { userId: string } }): Promise<void> {
  return spend(ctx.limiters.writePerUser, ctx.session.userId, 'changes; slow down');
}

/**
 * Operations that read pages or lists: each costs one token of the caller's
 * read budget (`readPerUser`), so nobody can make the server read and encode
 * without end.
 */
export const READ_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'account.export',
  'audit.list',
  'reports.list',
  'automod.list',
  'held.list',
  'messages.history',
  'messages.search',
  'conversations.list',
  'dms.list',
  'groups.list',
  'servers.list',
  'servers.get',
  'members.list',
  'members.online',
  'bans.list',
  'invites.list',
  'channels.list',
  'sessions.list',
  'tokens.list',
  'groups.invitations',
  'blocks.list',
  // Reads the unread and mention counts back, whether or not it moves.
  'read.mark',
]);

/**
 * Writes that do not draw on the daily write budget: those that shrink what a
 * user holds or protect them (leaving, declining, deleting, revoking,
 * blocking, settings) and read marks. A user over the budget can always still
 * do these; none of them stores an event that could be repeated without end
 * (block and settings changes are told live, not stored).
 */
export const UNMETERED_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'read.mark',
  'logout',
  'password.change',
  'sessions.revoke',
  'tokens.revoke',
  'settings.update',
  'blocks.add',
  'blocks.remove',
  'servers.leave',
  'groups.leave',
  'groups.decline',
  'messages.delete',
  // Someone being harassed can always report it; reports have a rate limit and a cap of their own.
  'reports.create',
]);
