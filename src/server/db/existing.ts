import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { Db } from './index.js';
import { columnNames, tableNames } from './inspect.js';
import * as schema from './schema.js';

/**
 * The database file of an installation, opened for a command that changes it
 * beside the server (`natter admin`): or what is wrong with the file instead.
 */
export type ExistingDb = { ok: true; db: Db } | { ok: false; wrong: 'not_natter' | 'older' };

/**
 * Opens `file` without creating it (it must exist) or migrating it. A write
 * waits up to `waitMs` for the write lock the server holds during a batch,
 * and commits with `synchronous = FULL`, as the server's own writes do. A
 * SQLite file that is not natter's, or one an older natter last opened (no
 * `users.operator`), is closed again and said so.
 */
export function openExistingDb(file: string, waitMs: number): ExistingDb {
  const sqlite = new Database(file, { fileMustExist: true, timeout: waitMs });
  try {
    sqlite.pragma('synchronous = FULL');
    const tables = tableNames(sqlite);
    let wrong: 'not_natter' | 'older' | null = null;
    if (!tables.has('users') || !tables.has('__drizzle_migrations')) wrong = 'not_natter';
    else if (!columnNames(sqlite, 'users').includes('operator')) wrong = 'older';
    if (wrong !== null) {
      sqlite.close();
      return { ok: false, wrong };
    }
    return { ok: true, db: drizzle(sqlite, { schema }) as Db };
  } catch (err) {
    sqlite.close();
    throw err;
  }
}

/**
 * What kind of SQLite failure `err` is: `busy` (another program held the
 * write lock past the wait), another of SQLite's (a file that is no
 * database, a disk full), or null when it is none of SQLite's.
 */
export function sqliteTrouble(err: unknown): 'busy' | 'other' | null {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code.startsWith('SQLITE_BUSY')) return 'busy';
  return code.startsWith('SQLITE_') ? 'other' : null;
}
