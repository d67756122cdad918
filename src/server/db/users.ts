import { eq, sql } from 'drizzle-orm';
import type { PublicUser } from '../../protocol/index.js';
import type { Db } from './index.js';
import { type UserRow, users } from './schema.js';

/** Maps a row to its wire form; the password hash never leaves this module's callers. */
export function toPublicUser(row: UserRow): PublicUser {
  return {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    status: row.status,
    bio: row.bio,
    createdAt: row.createdAt,
  };
}

/** Prepared queries on users. */
export function userQueries(db: Db) {
  const byId = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .prepare();
  const byKey = db
    .select()
    .from(users)
    .where(eq(users.usernameKey, sql.placeholder('key')))
    .prepare();
  return {
    byId: (id: string): UserRow | undefined => byId.get({ id }),
    byUsernameKey: (key: string): UserRow | undefined => byKey.get({ key }),
    insert: (row: UserRow): void => {
      db.insert(users).values(row).run();
    },
    update: (id: string, patch: Partial<Omit<UserRow, 'id' | 'createdAt'>>): UserRow | undefined =>
      db.update(users).set(patch).where(eq(users.id, id)).returning().get(),
  };
}
export type UserQueries = ReturnType<typeof userQueries>;
