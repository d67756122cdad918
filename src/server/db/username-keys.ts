import { USERNAME_KEY_VERSION, usernameCapitalKey, usernameKey } from '../../protocol/text.js';
import type { Db } from './index.js';

/** The `meta` row that records which version of `usernameKey` made the stored keys. */
export const USERNAME_KEY_META = 'username_key_version';

/** What {@link migrateUsernameKeys} did. */
export type UsernameKeyMigration = {
  /** The version the stored keys were made by (null: before versions were recorded). */
  from: string | null;
  /** Accounts whose key was recomputed. */
  accounts: number;
  /** Accounts whose new key equals that of an older account: they keep working, under a key of their own. */
  sharing: { id: string; username: string; olderId: string }[];
};

/**
 * Recomputes every stored username key once when `usernameKey` has changed
 * (the version in `meta` differs), in one transaction. Two existing accounts
 * whose new keys are equal both keep working: the older one (by creation
 * time, then id) gets the key, each later one the key followed by `#` and its
 * id, which no name can produce, so nobody new can take either name and each
 * still logs in by name. Returns null when the keys were current.
 */
export function migrateUsernameKeys(db: Db): UsernameKeyMigration | null {
  const sqlite = db.$client;
  const row = sqlite.prepare('SELECT value FROM meta WHERE key = ?').get(USERNAME_KEY_META) as
    | { value: string }
    | undefined;
  if (row?.value === USERNAME_KEY_VERSION) return null;
  const accounts = sqlite.prepare('SELECT id, username FROM users ORDER BY created_at, id').all() as {
    id: string;
    username: string;
  }[];
  const result: UsernameKeyMigration = { from: row?.value ?? null, accounts: accounts.length, sharing: [] };
  sqlite.transaction(() => {
    // Out of the way first, so no new key meets an old one under the unique index.
    sqlite.prepare("UPDATE users SET username_key = '#' || id").run();
    const set = sqlite.prepare('UPDATE users SET username_key = ?, username_capital_key = ? WHERE id = ?');
    const owners = new Map<string, string>();
    for (const { id, username } of accounts) {
      const key = usernameKey(username);
      const capital = usernameCapitalKey(username);
      const capitalKey = capital === key ? null : capital;
      const older = owners.get(key);
      if (older === undefined) {
        owners.set(key, id);
        set.run(key, capitalKey, id);
      } else {
        set.run(`${key}#${id}`, capitalKey, id);
        result.sharing.push({ id, username, olderId: older });
      }
    }
    sqlite
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(USERNAME_KEY_META, USERNAME_KEY_VERSION);
  })();
  return result;
}

/** Holds removed per statement, so a large backlog never holds the event loop for long. */
/**
 * Removes up to `limit` username holds released before `before`; returns
 * how many. Expired holds already stop counting when they expire; this only
 * keeps the table small (the hourly maintenance runs it in batches).
 */
export function pruneUsernameHolds(db: Db, before: number, limit: number): number {
  return db.$client
    .prepare(
      'DELETE FROM username_holds WHERE rowid IN (SELECT rowid FROM username_holds WHERE released_at < ? LIMIT ?)',
    )
    .run(before, limit).changes;
}
