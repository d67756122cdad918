import { NatterError, usernameKey } from '../protocol/index.js';
import type { Services } from './context.js';
import type { UserRow } from './db/schema.js';

type Users = Pick<Services, 'users'>;

/**
 * The account a typed name (any case, any look-alike form) refers to, or
 * undefined. Where accounts created before a change of the key rules share a
 * key, the one whose name is exactly the one typed wins, then the oldest.
 */
export function findUser(ctx: Users, name: string): UserRow | undefined {
  const nfc = name.normalize('NFC');
  const found = ctx.users.withKey(usernameKey(nfc));
  return found.find((u) => u.username === nfc) ?? found[0];
}

function taken(username: string): NatterError {
  return new NatterError('conflict', `username "${username}" is taken (or too close to one that is); choose another`, {
    field: 'params.username',
  });
}

/** `2026-12-30 14:05 UTC` */
function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Checks that `username` is free for `self` (null: a new account) and returns
 * its key. Refused with `conflict`: a name anyone else has (in any case or
 * look-alike form), and a name released by someone else's rename less than
 * `usernameHoldMs` ago.
 */
export function assertUsernameFree(
  ctx: Users & Pick<Services, 'config' | 'clock'>,
  username: string,
  self: string | null,
) {
  const key = usernameKey(username);
  if (ctx.users.withKey(key).some((u) => u.id !== self)) throw taken(username);
  const hold = ctx.users.hold(key);
  if (hold && hold.userId !== self) {
    const until = hold.releasedAt + ctx.config.usernameHoldMs;
    if (until > ctx.clock()) {
      throw new NatterError(
        'conflict',
        `username "${username}" was released recently and is kept for its previous owner until ${when(until)}; choose another`,
        { field: 'params.username' },
      );
    }
  }
  return key;
}

/**
 * Inside the write of a rename of `user` to `username`: checks the name is
 * free, ends the user's own hold on it (taking a name back), and holds the
 * name being given up for them. Returns the new key.
 */
export function renameHolds(ctx: Users & Pick<Services, 'config' | 'clock'>, user: UserRow, username: string): string {
  const key = assertUsernameFree(ctx, username, user.id);
  if (key === user.usernameKey) return key;
  if (ctx.users.hold(key)) ctx.users.dropHold(key);
  if (ctx.config.usernameHoldMs > 0) ctx.users.putHold(user.usernameKey, user.id, ctx.clock());
  return key;
}
