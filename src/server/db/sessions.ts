import { and, desc, eq, ne, sql } from 'drizzle-orm';
import type { Db } from './index.js';
import { type SessionRow, sessions } from './schema.js';

/** Prepared queries on sessions and bot tokens. */
export function sessionQueries(db: Db) {
  const byHash = db
    .select()
    .from(sessions)
    .where(eq(sessions.tokenHash, sql.placeholder('hash')))
    .prepare();
  const byId = db
    .select()
    .from(sessions)
    .where(eq(sessions.id, sql.placeholder('id')))
    .prepare();
  const touch = db
    .update(sessions)
    .set({ lastSeenAt: sql.placeholder('now') as unknown as number })
    .where(eq(sessions.id, sql.placeholder('id')))
    .prepare();
  const sqlite = db.$client;
  const exists = sqlite.prepare<[string], { x: number }>('SELECT 1 AS x FROM sessions WHERE id = ?');
  const fromAddress = sqlite.prepare<[string, string, number], { x: number }>(
    'SELECT 1 AS x FROM login_addresses WHERE user_id = ? AND address = ? AND last_at >= ?',
  );
  const recordAddress = sqlite.prepare<[string, string, number]>(
    `INSERT INTO login_addresses (user_id, address, last_at) VALUES (?, ?, ?)
     ON CONFLICT (user_id, address) DO UPDATE SET last_at = max(last_at, excluded.last_at)`,
  );
  const forgetAddresses = sqlite.prepare<[number, number]>(
    'DELETE FROM login_addresses WHERE rowid IN (SELECT rowid FROM login_addresses WHERE last_at < ? LIMIT ?)',
  );
  const countKind = sqlite.prepare<[string, string], { n: number }>(
    'SELECT count(*) AS n FROM sessions WHERE user_id = ? AND kind = ?',
  );
  const leastRecent = sqlite.prepare<[string, number], { id: string }>(
    `SELECT id FROM sessions WHERE user_id = ? AND kind = 'session'
     ORDER BY coalesce(last_seen_at, created_at), created_at LIMIT ?`,
  );
  const expireStmt = sqlite.prepare<[number, number], { id: string }>(
    `DELETE FROM sessions WHERE id IN (
       SELECT id FROM sessions WHERE kind = 'session' AND coalesce(last_seen_at, created_at) < ? LIMIT ?)
     RETURNING id`,
  );
  return {
    byId: (id: string): SessionRow | undefined => byId.get({ id }),
    /** Does the session or bot token still exist (inside a write batch: as the batch sees it)? */
    exists: (id: string): boolean => exists.get(id) !== undefined,
    /** Has the account logged in from `address` since `since` (ms)? */
    usedFrom: (userId: string, address: string, since: number): boolean =>
      fromAddress.get(userId, address, since) !== undefined,
    /** Records a login of the account from `address` at `now`. */
    recordAddress: (userId: string, address: string, now: number): void => {
      recordAddress.run(userId, address, now);
    },
    /** Forgets up to `limit` login addresses not used since `before`; returns how many. */
    forgetAddresses: (before: number, limit: number): number => forgetAddresses.run(before, limit).changes,
    count: (userId: string, kind: SessionRow['kind']): number => countKind.get(userId, kind)?.n ?? 0,
    /** The ids of the user's `n` least recently used login sessions. */
    leastRecentlyUsed: (userId: string, n: number): string[] => leastRecent.all(userId, n).map((r) => r.id),
    /** Deletes up to `limit` login sessions unused since `before`; returns their ids. */
    expireIdle: (before: number, limit: number): string[] => expireStmt.all(before, limit).map((r) => r.id),
    byTokenHash: (hash: string): SessionRow | undefined => byHash.get({ hash }),
    insert: (row: SessionRow): void => {
      db.insert(sessions).values(row).run();
    },
    touch: (id: string, now: number): void => {
      touch.run({ id, now });
    },
    listForUser: (userId: string, kind: SessionRow['kind']): SessionRow[] =>
      db
        .select()
        .from(sessions)
        .where(and(eq(sessions.userId, userId), eq(sessions.kind, kind)))
        .orderBy(desc(sql`coalesce(${sessions.lastSeenAt}, ${sessions.createdAt})`), desc(sessions.createdAt))
        .all(),
    /** Deletes one of the user's sessions of `kind`; false when there was none. */
    revoke: (userId: string, id: string, kind: SessionRow['kind']): boolean =>
      db
        .delete(sessions)
        .where(and(eq(sessions.id, id), eq(sessions.userId, userId), eq(sessions.kind, kind)))
        .run().changes > 0,
    /** Deletes every session of `kind` of the user except `keepId`; returns what was deleted. */
    revokeOthers: (userId: string, kind: SessionRow['kind'], keepId: string | null): SessionRow[] =>
      db
        .delete(sessions)
        .where(
          and(
            eq(sessions.userId, userId),
            eq(sessions.kind, kind),
            keepId === null ? undefined : ne(sessions.id, keepId),
          ),
        )
        .returning()
        .all(),
  };
}
export type SessionQueries = ReturnType<typeof sessionQueries>;
