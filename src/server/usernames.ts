import { NatterError, usernameCapitalKey, usernameKey } from '../protocol/index.js';
import type { Services } from './context.js';
import type { UserRow } from './db/schema.js';
import type { UsernameKeys } from './db/users.js';

type Users = Pick<Services, 'users'>;

/**
 * The account a typed name (any case, any look-alike form) refers to, or
 * undefined. Where accounts created before a change of the key rules share a
 * key, the one whose name is exactly the one typed wins, then the oldest.
 */
export async function findUser(ctx: Users, name: string): Promise<UserRow | undefined> {
  const nfc = name.normalize('NFC');
  const found = await ctx.users.withKey(usernameKey(nfc));
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

/** Both keys of `username` (already NFC-normalized). */
export function keysOf(username: string): UsernameKeys {
  const key = usernameKey(username);
  const capital = usernameCapitalKey(username);
  return { usernameKey: key, usernameCapitalKey: capital === key ? null : capital };
}

/** How many names given up by renames are held for one account at once; a further rename frees the oldest. */
export const USERNAME_HOLDS_MAX = 5;

/**
 * Checks that `username` is free for `self` (null: a new account) and returns
 * its keys. Refused with `conflict`: a name anyone else has (in any case or
 * look-alike form: either key of the name is either key of theirs), and a name
 * released by someone else's rename less than `usernameHoldMs` ago.
 */
export async function assertUsernameFree(
  ctx: Users & Pick<Services, 'config' | 'clock'>,
  username: string,
  self: string | null,
): Promise<UsernameKeys> {
  const keys = keysOf(username);
  const all = [keys.usernameKey, ...(keys.usernameCapitalKey === null ? [] : [keys.usernameCapitalKey])];
  for (const key of all) {
    if ((await ctx.users.withKey(key)).some((u) => u.id !== self)) throw taken(username);
    if ((await ctx.users.withCapitalKey(key)).some((u) => u.id !== self)) throw taken(username);
    const hold = await ctx.users.hold(key);
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
  }
  return keys;
}

/**
 * Inside the write of a rename of `user` to `username`: checks the name is
 * free, ends the user's own holds on it (taking a name back), and holds the
 * name being given up for them (at most {@link USERNAME_HOLDS_MAX} names per
 * account: a further rename frees the oldest). Returns the new keys.
 */
export async function renameHolds(
  ctx: Users & Pick<Services, 'config' | 'clock'>,
  user: UserRow,
  username: string,
): Promise<UsernameKeys> {
  const keys = await assertUsernameFree(ctx, username, user.id);
  if (keys.usernameKey === user.usernameKey) return keys;
  for (const key of [keys.usernameKey, keys.usernameCapitalKey]) if (key !== null) await ctx.users.dropHold(key);
  if (ctx.config.usernameHoldMs > 0) {
    // Held under the keys of the name as it is now (a key set apart as "<key>#<id>" when the key rules changed is no name).
    await ctx.users.putHold(keysOf(user.username), user.id, ctx.clock());
    await ctx.users.keepNewestHolds(user.id, USERNAME_HOLDS_MAX);
  }
  return keys;
}
