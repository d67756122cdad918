import type { UserRow } from '../../db/schema.js';
import type { NewUser, UsernameKeys } from '../../db/users.js';
import type { UserStore } from '../port.js';
import { type HoldRow, toHold, toUser } from './rows.js';
import { changes, holdsNul, type Queryable, row, rows } from './sql.js';

/** The columns `update` may set, by their field name. */
const COLUMNS: Record<keyof Omit<UserRow, 'id' | 'createdAt'>, string> = {
  username: 'username',
  usernameKey: 'username_key',
  usernameCapitalKey: 'username_capital_key',
  passwordHash: 'password_hash',
  displayName: 'display_name',
  status: 'status',
  bio: 'bio',
  updatedAt: 'updated_at',
  groupAdds: 'group_adds',
  operator: 'operator',
  avatarId: 'avatar_id',
  email: 'email',
  emailVerifiedAt: 'email_verified_at',
  verifyBy: 'verify_by',
  disabledAt: 'disabled_at',
  deletedAt: 'deleted_at',
};

/** Accounts and username holds in PostgreSQL: the queries of the SQLite `userQueries` (db/users.ts). */
export class PostgresUsers implements UserStore {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  async commonHashCost(): Promise<number | null> {
    const r = await row<{ cost: string }>(
      this.#q,
      `SELECT substr(password_hash, 5, 2) AS cost, count(*) AS n FROM users WHERE password_hash LIKE '$2_$__$%'
       GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1`,
    );
    const n = r ? Number(r.cost) : Number.NaN;
    return Number.isInteger(n) ? n : null;
  }

  async byId(id: string): Promise<UserRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM users WHERE id = $1', [id]);
    return r && toUser(r);
  }

  async byUsernameKey(key: string): Promise<UserRow | undefined> {
    if (holdsNul(key)) return undefined;
    const r = await row(this.#q, 'SELECT * FROM users WHERE username_key = $1', [key]);
    return r && toUser(r);
  }

  /** Accounts under `key`, including those set apart as `<key>#<id>`, oldest first. */
  async withKey(key: string): Promise<UserRow[]> {
    if (holdsNul(key)) return [];
    // Byte order, as SQLite compares: every `<key>#…` sorts between `<key>#` and `<key>$`.
    return (
      await rows(
        this.#q,
        `SELECT * FROM users WHERE username_key = $1
           OR (username_key COLLATE "C" > $2 AND username_key COLLATE "C" < $3)
         ORDER BY created_at, id COLLATE "C"`,
        [key, `${key}#`, `${key}$`],
      )
    ).map(toUser);
  }

  /** Accounts whose second key (`usernameCapitalKey`) is `key`. */
  async withCapitalKey(key: string): Promise<UserRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM users WHERE username_capital_key = $1 ORDER BY created_at, id COLLATE "C"', [
        key,
      ])
    ).map(toUser);
  }

  /** Drops the holds of `userId` but those of its `n` latest renames. */
  async keepNewestHolds(userId: string, n: number): Promise<void> {
    await changes(
      this.#q,
      `DELETE FROM username_holds WHERE user_id = $1 AND username_key NOT IN (
         SELECT username_key FROM username_holds WHERE user_id = $1
         ORDER BY released_at DESC, username_key COLLATE "C" DESC LIMIT $2)`,
      [userId, n],
    );
  }

  /** The latest hold on a released name one of whose keys is `key`, if any (expired or not). */
  async hold(key: string): Promise<HoldRow | undefined> {
    const r = await row(
      this.#q,
      `SELECT * FROM username_holds WHERE username_key = $1 OR username_capital_key = $1
       ORDER BY released_at DESC LIMIT 1`,
      [key],
    );
    return r && toHold(r);
  }

  /** Holds a released name (both its keys) for `userId`, replacing any hold on either key. */
  async putHold(keys: UsernameKeys, userId: string, releasedAt: number): Promise<void> {
    await this.dropHold(keys.usernameKey);
    if (keys.usernameCapitalKey !== null) await this.dropHold(keys.usernameCapitalKey);
    await changes(
      this.#q,
      'INSERT INTO username_holds (username_key, username_capital_key, user_id, released_at) VALUES ($1, $2, $3, $4)',
      [keys.usernameKey, keys.usernameCapitalKey, userId, releasedAt],
    );
  }

  /** Ends every hold on a name one of whose keys is `key`. */
  async dropHold(key: string): Promise<void> {
    await changes(this.#q, 'DELETE FROM username_holds WHERE username_key = $1 OR username_capital_key = $1', [key]);
  }

  /** Deletes up to `limit` holds released before `before` (ms); returns how many. */
  async pruneHolds(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      `DELETE FROM username_holds WHERE username_key IN (
         SELECT username_key FROM username_holds WHERE released_at < $1 LIMIT $2)`,
      [before, limit],
    );
  }

  async insert(u: NewUser): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO users (id, username, username_key, username_capital_key, password_hash, display_name, status, bio,
         created_at, updated_at, group_adds, operator, email, email_verified_at, verify_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        u.id,
        u.username,
        u.usernameKey,
        u.usernameCapitalKey,
        u.passwordHash,
        u.displayName,
        u.status,
        u.bio,
        u.createdAt,
        u.updatedAt,
        u.groupAdds,
        u.operator ?? false,
        u.email ?? null,
        u.emailVerifiedAt ?? null,
        u.verifyBy ?? null,
      ],
    );
  }

  /**
   * Makes an account an instance operator (`operator` true) or no longer
   * one, in one statement; false when it already was so (or there is no
   * such account), and nothing changed.
   */
  async setOperator(id: string, operator: boolean): Promise<boolean> {
    return (
      (await changes(this.#q, 'UPDATE users SET operator = $2 WHERE id = $1 AND operator <> $2', [id, operator])) === 1
    );
  }

  /** The instance operators, by username key (in byte order, as SQLite sorts). */
  async operators(): Promise<UserRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM users WHERE operator ORDER BY username_key COLLATE "C", id COLLATE "C"')
    ).map(toUser);
  }

  /** Sets the fields of `patch` that are not undefined (none is an error, as in drizzle); returns the row as it is now. */
  async update(id: string, patch: Partial<Omit<UserRow, 'id' | 'createdAt'>>): Promise<UserRow | undefined> {
    const set: string[] = [];
    const values: unknown[] = [];
    for (const [field, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
      const value = patch[field];
      if (value === undefined) continue;
      values.push(value);
      set.push(`${column} = $${values.length}`);
    }
    if (set.length === 0) throw new Error('No values to set');
    values.push(id);
    const r = await row(this.#q, `UPDATE users SET ${set.join(', ')} WHERE id = $${values.length} RETURNING *`, values);
    return r && toUser(r);
  }
}
