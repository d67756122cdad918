import { NatterError, type Self } from '../../protocol/index.js';
import { scopesOfUser } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { UserRow } from '../db/schema.js';
import { userScope } from '../event-log.js';
import { spendWrite } from '../limits.js';
import type { AfterCommit } from '../store/port.js';
import { renameHolds } from '../usernames.js';
import { toPublicUser, toSelf } from '../views.js';
import { currentUser } from './accounts.js';
import { pictureUpload } from './attachments.js';

/** Empty text means "clear the field". */
function orNull(value: string | null): string | null {
  return value === null || value === '' ? null : value;
}

export const updateProfile: Handler<'profile.update'> = async (ctx, params) => {
  await spendWrite(ctx);
  const user = await currentUser(ctx);
  const patch: Partial<UserRow> = {};
  if (params.displayName !== undefined) patch.displayName = orNull(params.displayName);
  if (params.status !== undefined) patch.status = orNull(params.status);
  if (params.bio !== undefined) patch.bio = orNull(params.bio?.trim() ?? null);
  if (Object.keys(patch).length === 0 && params.avatar === undefined) return { user: toSelf(user) };
  return ctx.write(async (tx, after) => {
    if (params.avatar !== undefined) {
      const current = await currentUser(tx);
      if (params.avatar === current.avatarId) return { user: toSelf(current) };
      if (params.avatar !== null) {
        await pictureUpload(tx, params.avatar, 'avatar', 'params.avatar');
        await tx.media.keep(params.avatar, null);
      }
      // The picture it replaces goes (its bytes with the next sweep).
      if (current.avatarId !== null) await tx.media.remove(current.avatarId);
      patch.avatarId = params.avatar;
    }
    return { user: await saveAndAnnounce(tx, after, user.id, { ...patch, updatedAt: tx.clock() }) };
  });
};

/**
 * Saves a change to the caller's account and tells them and everyone who
 * shares a conversation with them (as others see it); returns it as the caller sees it.
 */
async function saveAndAnnounce(
  ctx: AuthedCtx,
  after: AfterCommit,
  userId: string,
  patch: Partial<UserRow>,
): Promise<Self> {
  const updated = await ctx.users.update(userId, patch);
  if (!updated) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  const scopes = [userScope(userId), ...(await scopesOfUser(ctx.chat, userId))];
  await ctx.events.append(after, scopes, 'user.updated', { user: toPublicUser(updated) }, ctx.clock());
  return toSelf(updated);
}

export const changeUsername: Handler<'username.change'> = async (ctx, { username }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const user = await currentUser(tx);
    const keys = await renameHolds(tx, user, username);
    return { user: await saveAndAnnounce(tx, after, user.id, { username, ...keys, updatedAt: tx.clock() }) };
  });
};
