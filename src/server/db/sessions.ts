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
  return {
    byId: (id: string): SessionRow | undefined => byId.get({ id }),
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
    /** Deletes every session of `kind` of the user except `keepId`; returns the ids deleted. */
    revokeOthers: (userId: string, kind: SessionRow['kind'], keepId: string | null): string[] =>
      db
        .delete(sessions)
        .where(
          and(
            eq(sessions.userId, userId),
            eq(sessions.kind, kind),
            keepId === null ? undefined : ne(sessions.id, keepId),
          ),
        )
        .returning({ id: sessions.id })
        .all()
        .map((r) => r.id),
  };
}
export type SessionQueries = ReturnType<typeof sessionQueries>;
