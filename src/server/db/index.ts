import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';
import { migrateSearchText } from './search-text.js';
import { migrateUsernameKeys, type UsernameKeyMigration } from './username-keys.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** The file name of the database inside the data directory. */
export const DB_FILE = 'natter.db';

// src/server/db and dist/server/db are both three levels below the package root.
/** The committed SQLite migrations (drizzle-kit's output for drizzle.config.ts). */
export const SQLITE_MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../drizzle/sqlite');

/**
 * Opens (creating if needed) the database in `dataDir`, sets the pragmas natter
 * relies on and applies pending migrations: drizzle's (the schema), then the
 * data migrations in JavaScript (username keys made by an older rule set).
 * A data directory natter creates is 0700 and a database file 0600, whatever
 * the umask; existing ones keep their modes. `busyTimeoutMs` is how long a
 * statement waits for a lock another program holds; the server uses 0 (fail
 * at once with `unavailable` rather than stall every request behind it).
 * `onUsernameKeys` hears what the username key migration did, when it ran;
 * `onStatement`, each statement the connection runs (the migrations' included).
 */
export function openDb(
  dataDir: string,
  options: {
    busyTimeoutMs?: number;
    onUsernameKeys?: (done: UsernameKeyMigration) => void;
    onStatement?: ((sql: string) => void) | null;
  } = {},
): Db {
  if (mkdirSync(dataDir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dataDir, 0o700);
  const file = join(dataDir, DB_FILE);
  createPrivateFile(file);
  const onStatement = options.onStatement;
  const sqlite = new Database(file, {
    timeout: options.busyTimeoutMs ?? 5000,
    // better-sqlite3 calls it with the statement's text, values expanded.
    ...(onStatement ? { verbose: (sql: unknown) => onStatement(String(sql)) } : {}),
  });
  try {
    sqlite.pragma('journal_mode = WAL');
    // better-sqlite3 builds with WAL synchronous=NORMAL by default, which may lose
    // the last commits on power loss. An acknowledged message must survive it.
    sqlite.pragma('synchronous = FULL');
    // Foreign keys are off by default in SQLite.
    sqlite.pragma('foreign_keys = ON');
    // 64 MiB of page cache (the default is 2 MiB): index pages that sends touch stay in memory.
    sqlite.pragma('cache_size = -65536');
    // After a burst the WAL can grow large; once checkpointed and restarted it is cut back to 64 MiB.
    sqlite.pragma('journal_size_limit = 67108864');
    const check = sqlite.pragma('quick_check', { simple: true });
    if (check !== 'ok')
      throw new Error(`database ${join(dataDir, DB_FILE)} failed its integrity check: ${String(check)}`);
    const db = drizzle(sqlite, { schema });
    migrate(db, { migrationsFolder: SQLITE_MIGRATIONS });
    migrateSearchText(db);
    const keys = migrateUsernameKeys(db);
    if (keys) options.onUsernameKeys?.(keys);
    return db;
  } catch (err) {
    sqlite.close();
    throw err;
  }
}

/**
 * A second connection to the database `openDb` opened, for reads only. In WAL
 * mode it sees what has committed and nothing of a write batch still open on
 * the writer's connection.
 */
export function openReader(
  dataDir: string,
  options: { busyTimeoutMs?: number; onStatement?: ((sql: string) => void) | null } = {},
): Db {
  const onStatement = options.onStatement;
  const sqlite = new Database(join(dataDir, DB_FILE), {
    timeout: options.busyTimeoutMs ?? 5000,
    ...(onStatement ? { verbose: (sql: unknown) => onStatement(String(sql)) } : {}),
  });
  try {
    sqlite.pragma('query_only = ON');
    sqlite.pragma('cache_size = -65536');
    return drizzle(sqlite, { schema });
  } catch (err) {
    sqlite.close();
    throw err;
  }
}

/**
 * Creates `file`, empty and with mode 0600, unless it exists. SQLite would
 * create a database 0644; it gives the -wal, -shm and -journal files it
 * creates later the mode of the database file, so they are 0600 too.
 */
export function createPrivateFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    // The umask may have taken bits away (say, the owner's write bit): set the mode exactly.
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

/**
 * Warnings about a data directory or database that other users can read
 * (one that natter did not create, or whose mode was changed since).
 */
export function permissionWarnings(dataDir: string): string[] {
  const warnings: string[] = [];
  const check = (path: string, expected: number, what: string) => {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warnings.push(
        `${what} ${path} is open to other users (mode ${mode.toString(8).padStart(4, '0')}); natter expects ${expected.toString(8).padStart(4, '0')}: chmod ${expected.toString(8)} ${path}`,
      );
    }
  };
  check(dataDir, 0o700, 'the data directory');
  check(join(dataDir, DB_FILE), 0o600, 'the database');
  return warnings;
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
