import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';
import { migrateUsernameKeys, type UsernameKeyMigration } from './username-keys.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** The file name of the database inside the data directory. */
export const DB_FILE = 'natter.db';

// src/server/db and dist/server/db are both three levels below the package root.
const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../drizzle');

/**
 * Opens (creating if needed) the database in `dataDir`, sets the pragmas natter
 * relies on and applies pending migrations: drizzle's (the schema), then the
 * data migrations in JavaScript (username keys made by an older rule set).
 * `busyTimeoutMs` is how long a statement waits for a lock another program
 * holds; the server uses 0 (fail at once with `unavailable` rather than stall
 * every request behind it). `onUsernameKeys` hears what the username key
 * migration did, when it ran.
 */
export function openDb(
  dataDir: string,
  options: { busyTimeoutMs?: number; onUsernameKeys?: (done: UsernameKeyMigration) => void } = {},
): Db {
  mkdirSync(dataDir, { recursive: true });
  const sqlite = new Database(join(dataDir, DB_FILE), { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    sqlite.pragma('journal_mode = WAL');
    // better-sqlite3 builds with WAL synchronous=NORMAL by default, which may lose
    // the last commits on power loss. An acknowledged message must survive it.
    sqlite.pragma('synchronous = FULL');
    // Foreign keys are off by default in SQLite.
    sqlite.pragma('foreign_keys = ON');
    // 64 MiB of page cache (the default is 2 MiB): index pages that sends touch stay in memory.
    sqlite.pragma('cache_size = -65536');
    const check = sqlite.pragma('quick_check', { simple: true });
    if (check !== 'ok')
      throw new Error(`database ${join(dataDir, DB_FILE)} failed its integrity check: ${String(check)}`);
    const db = drizzle(sqlite, { schema });
    migrate(db, { migrationsFolder: MIGRATIONS });
    const keys = migrateUsernameKeys(db);
    if (keys) options.onUsernameKeys?.(keys);
    return db;
  } catch (err) {
    sqlite.close();
    throw err;
  }
}

/** Folds the WAL back into the main file and closes the database. */
export function closeDb(db: Db): void {
  const sqlite = db.$client;
  if (!sqlite.open) return;
  try {
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    sqlite.close();
  }
}

/**
 * State a write batch keeps in memory and writes once, just before its commit
 * (sequence numbers, the sender's read position). The `Writer` drives it: a
 * job that throws has its savepoint rolled back, and its share of the
 * deferred state with it; a batch that is lost leaves nothing behind.
 */
export type Deferred = {
  /** A job is about to run in its own savepoint. */
  jobStart(): void;
  /** That job threw and its savepoint was rolled back: undo what it deferred. */
  jobRollback(): void;
  /** Inside the batch transaction, after its last job: write what was deferred. */
  flush(): void;
  /** The batch committed (before `clear`): what it deferred is now durable. */
  committedBatch?(): void;
  /** The batch is over, committed or lost: forget it. */
  clear(): void;
};
