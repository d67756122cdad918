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
  const costs = db.$client.prepare<[], { cost: string; n: number }>(
    "SELECT substr(password_hash, 5, 2) AS cost, count(*) AS n FROM users WHERE password_hash LIKE '$2_$__$%' GROUP BY 1 ORDER BY n DESC LIMIT 1",
  );
  return {
    /** The bcrypt cost most stored password hashes were made with, or null when there are none. */
    commonHashCost: (): number | null => {
      const row = costs.get();
      const n = row ? Number(row.cost) : Number.NaN;
      return Number.isInteger(n) ? n : null;
    },
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
