import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Pool, PoolClient } from 'pg';

// src/server/store/postgres and dist/server/store/postgres are both four levels below the package root.
/** The committed PostgreSQL migrations (drizzle-kit's output for drizzle.postgres.config.ts). */
export const POSTGRES_MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../drizzle/postgres');

/**
 * The key of the advisory lock held while migrating: "natter" in ASCII, then 1.
 * Advisory locks belong to one database, so natters on other databases of the
 * same PostgreSQL server do not wait for each other.
 */
export const MIGRATION_LOCK = '7953757168339533825';

/** Where drizzle records the migrations it applied (its defaults). */
const RECORDS = 'drizzle.__drizzle_migrations';

/** What one call of `migratePostgres` did. */
export type PostgresMigrated = {
  /** The migrations this call applied, by tag (`0001_message_search`), oldest first; empty when none were pending. */
  applied: string[];
};

/**
 * Applies the pending migrations of `folder` to the database `pool` connects
 * to, in one transaction. Several natters starting together against one
 * database each call this: the session-level advisory lock `MIGRATION_LOCK`
 * lets one migrate while the others wait, and those then find nothing pending,
 * so each migration runs exactly once. A failed migration leaves the database
 * as it was, and the error is thrown.
 */
export async function migratePostgres(pool: Pool, folder: string = POSTGRES_MIGRATIONS): Promise<PostgresMigrated> {
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
    entries: { tag: string; when: number }[];
  };
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const before = await recorded(client);
    await migrate(drizzle({ client }), { migrationsFolder: folder });
    const after = await recorded(client);
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    client.release();
    return { applied: journal.entries.filter((e) => after.has(e.when) && !before.has(e.when)).map((e) => e.tag) };
  } catch (err) {
    // Ending the connection ends its session, and the lock with it.
    client.release(err instanceof Error ? err : true);
    throw err;
  }
}

/** The journal times of the migrations recorded as applied (none before the first migration). */
async function recorded(client: PoolClient): Promise<Set<number>> {
  const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [RECORDS]);
  if (exists.rows[0]?.found == null) return new Set();
  const rows = await client.query<{ created_at: string }>(`SELECT created_at FROM ${RECORDS}`);
  return new Set(rows.rows.map((r) => Number(r.created_at)));
}
