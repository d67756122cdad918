import { NatterError, usernameKey } from '../../protocol/index.js';
import type { Handler } from '../context.js';
import type { UserRow } from '../db/schema.js';
import { toPublicUser } from '../db/users.js';
import { currentUser } from './accounts.js';

/** Empty text means "clear the field". */
function orNull(value: string | null): string | null {
  return value === null || value === '' ? null : value;
}

export const updateProfile: Handler<'profile.update'> = (ctx, params) => {
  const user = currentUser(ctx);
  const patch: Partial<UserRow> = {};
  if (params.displayName !== undefined) patch.displayName = orNull(params.displayName);
  if (params.status !== undefined) patch.status = orNull(params.status);
  if (params.bio !== undefined) patch.bio = orNull(params.bio?.trim() ?? null);
  if (Object.keys(patch).length === 0) return { user: toPublicUser(user) };
  const updated = ctx.users.update(user.id, { ...patch, updatedAt: ctx.clock() });
  if (!updated) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  const wire = toPublicUser(updated);
  ctx.hub.toUser(user.id, 'user.updated', { user: wire });
  return { user: wire };
};

export const changeUsername: Handler<'username.change'> = (ctx, { username }) => {
  const user = currentUser(ctx);
  const key = usernameKey(username);
  const holder = ctx.users.byUsernameKey(key);
  if (holder && holder.id !== user.id) {
    throw new NatterError('conflict', `username "${username}" is taken (or too close to one that is); choose another`, {
      field: 'params.username',
    });
  }
  const updated = ctx.users.update(user.id, { username, usernameKey: key, updatedAt: ctx.clock() });
  if (!updated) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  const wire = toPublicUser(updated);
  ctx.hub.toUser(user.id, 'user.updated', { user: wire });
  return { user: wire };
};
