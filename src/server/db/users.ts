import { and, asc, desc, eq, gt, lt, or, sql } from 'drizzle-orm';
import type { Db } from './index.js';
import { type UserRow, usernameHolds, users } from './schema.js';
import { pruneUsernameHolds } from './username-keys.js';

/** A new account's row: `operator` is false unless given. */
/** The columns an account starts with; the rest default (not an operator, no picture, no email, enabled). */
type Defaulted = 'operator' | 'avatarId' | 'email' | 'emailVerifiedAt' | 'verifyBy' | 'disabledAt' | 'deletedAt';
export type NewUser = Omit<UserRow, Defaulted> & Partial<Pick<UserRow, Defaulted>>;

/** The keys of a username: `usernameCapitalKey` is null when it equals `usernameKey`. */
export type UsernameKeys = { usernameKey: string; usernameCapitalKey: string | null };

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
  // A key, or that key set apart for an account that shared it when keys changed ("<key>#<id>").
  const withKey = db
    .select()
    .from(users)
    .where(
      or(
        eq(users.usernameKey, sql.placeholder('key')),
        and(gt(users.usernameKey, sql.placeholder('from')), lt(users.usernameKey, sql.placeholder('to'))),
      ),
    )
    .orderBy(asc(users.createdAt), asc(users.id))
    .prepare();
  const withCapitalKey = db
    .select()
    .from(users)
    .where(eq(users.usernameCapitalKey, sql.placeholder('key')))
    .prepare();
  const keepNewestHolds = db.$client.prepare(
    `DELETE FROM username_holds WHERE user_id = @user AND rowid NOT IN (
       SELECT rowid FROM username_holds WHERE user_id = @user ORDER BY released_at DESC, rowid DESC LIMIT @n)`,
  );
  const hold = db
    .select()
    .from(usernameHolds)
    .where(
      or(
        eq(usernameHolds.usernameKey, sql.placeholder('key')),
        eq(usernameHolds.usernameCapitalKey, sql.placeholder('key')),
      ),
    )
    .orderBy(desc(usernameHolds.releasedAt))
    .limit(1)
    .prepare();
  const dropHold = db.$client.prepare(
    'DELETE FROM username_holds WHERE username_key = @key OR username_capital_key = @key',
  );
  const setOperator = db.$client.prepare(
    'UPDATE users SET operator = @operator WHERE id = @id AND operator <> @operator',
  );
  const operators = db
    .select()
    .from(users)
    .where(eq(users.operator, true))
    .orderBy(asc(users.usernameKey), asc(users.id))
    .prepare();
  return {
    /** The bcrypt cost most stored password hashes were made with, or null when there are none. */
    commonHashCost: (): number | null => {
      const row = costs.get();
      const n = row ? Number(row.cost) : Number.NaN;
      return Number.isInteger(n) ? n : null;
    },
    byId: (id: string): UserRow | undefined => byId.get({ id }),
    byUsernameKey: (key: string): UserRow | undefined => byKey.get({ key }),
    /** Accounts under `key`, including those set apart as `<key>#<id>`, oldest first. */
    withKey: (key: string): UserRow[] => withKey.all({ key, from: `${key}#`, to: `${key}$` }),
    /** Accounts whose second key (`usernameCapitalKey`) is `key`. */
    withCapitalKey: (key: string): UserRow[] => withCapitalKey.all({ key }),
    /** Drops the holds of `userId` but those of its `n` latest renames. */
    keepNewestHolds: (userId: string, n: number): void => {
      keepNewestHolds.run({ user: userId, n });
    },
    /** The latest hold on a released name one of whose keys is `key`, if any (expired or not). */
    hold: (key: string) => hold.get({ key }),
    /** Holds a released name (both its keys) for `userId`, replacing any hold on either key. */
    putHold: (keys: UsernameKeys, userId: string, releasedAt: number): void => {
      dropHold.run({ key: keys.usernameKey });
      if (keys.usernameCapitalKey !== null) dropHold.run({ key: keys.usernameCapitalKey });
      db.insert(usernameHolds)
        .values({ ...keys, userId, releasedAt })
        .run();
    },
    /** Ends every hold on a name one of whose keys is `key`. */
    dropHold: (key: string): void => {
      dropHold.run({ key });
    },
    /** Deletes up to `limit` holds released before `before` (ms); returns how many. */
    pruneHolds: (before: number, limit: number): number => pruneUsernameHolds(db, before, limit),
    insert: (row: NewUser): void => {
      db.insert(users).values(row).run();
    },
    update: (id: string, patch: Partial<Omit<UserRow, 'id' | 'createdAt'>>): UserRow | undefined =>
      db.update(users).set(patch).where(eq(users.id, id)).returning().get(),
    /**
     * Makes an account an instance operator (`operator` true) or no longer
     * one, in one statement; false when it already was so (or there is no
     * such account), and nothing changed.
     */
    setOperator: (id: string, operator: boolean): boolean =>
      setOperator.run({ id, operator: operator ? 1 : 0 }).changes === 1,
    /** The instance operators, by username key. */
    operators: (): UserRow[] => operators.all(),
  };
}
export type UserQueries = ReturnType<typeof userQueries>;
