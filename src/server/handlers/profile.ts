import { NatterError, type PublicUser } from '../../protocol/index.js';
import { scopesOfUser } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { UserRow } from '../db/schema.js';
import { toPublicUser } from '../db/users.js';
import { userScope } from '../event-log.js';
import { spendWrite } from '../limits.js';
import { renameHolds } from '../usernames.js';
import type { AfterCommit } from '../writer.js';
import { currentUser } from './accounts.js';

/** Empty text means "clear the field". */
function orNull(value: string | null): string | null {
  return value === null || value === '' ? null : value;
}

export const updateProfile: Handler<'profile.update'> = (ctx, params) => {
  spendWrite(ctx);
  const user = currentUser(ctx);
  const patch: Partial<UserRow> = {};
  if (params.displayName !== undefined) patch.displayName = orNull(params.displayName);
  if (params.status !== undefined) patch.status = orNull(params.status);
  if (params.bio !== undefined) patch.bio = orNull(params.bio?.trim() ?? null);
  if (Object.keys(patch).length === 0) return { user: toPublicUser(user) };
  return ctx.write((after) => ({
    user: saveAndAnnounce(ctx, after, user.id, { ...patch, updatedAt: ctx.clock() }),
  }));
};

/** Saves a change to the caller's account and tells them and everyone who shares a conversation with them. */
function saveAndAnnounce(ctx: AuthedCtx, after: AfterCommit, userId: string, patch: Partial<UserRow>): PublicUser {
  const updated = ctx.users.update(userId, patch);
  if (!updated) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  const wire = toPublicUser(updated);
  const scopes = [userScope(userId), ...scopesOfUser(ctx.chat, userId)];
  ctx.events.append(after, scopes, 'user.updated', { user: wire }, ctx.clock());
  return wire;
}

export const changeUsername: Handler<'username.change'> = (ctx, { username }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const user = currentUser(ctx);
    const keys = renameHolds(ctx, user, username);
    return { user: saveAndAnnounce(ctx, after, user.id, { username, ...keys, updatedAt: ctx.clock() }) };
  });
};
