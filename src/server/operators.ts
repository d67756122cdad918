import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { NatterError } from '../protocol/error-class.js';
import { ConfigError, checkClusterSettings } from './config.js';
import { accountQueries } from './db/accounts.js';
import { type ExistingDb, openExistingDb, sqliteTrouble } from './db/existing.js';
import { DB_FILE } from './db/index.js';
import { columnNames } from './db/inspect.js';
import { mailQueries, type OutboxSummary } from './db/mail.js';
import type { UserRow } from './db/schema.js';
import { userQueries } from './db/users.js';
import type { AccountStore, MailStore, UserStore } from './store/port.js';
import { PostgresAccounts } from './store/postgres/accounts.js';
import { PostgresMail } from './store/postgres/mail.js';
import { isUnavailable, pgTypes } from './store/postgres/sql.js';
import { describeDatabase } from './store/postgres/store.js';
import { PostgresUsers } from './store/postgres/users.js';
import { asyncOf } from './store/sqlite/store.js';
import { findUser } from './usernames.js';

/*
 * Instance operators, named on the server's host (`natter admin grant`,
 * `revoke`, `list`): these work on the server's own database, not over the
 * network, whether the server runs or not. Each change is one statement
 * through the storage port's UserStore, the same on both backends: on SQLite
 * a write transaction of one UPDATE beside the server's connections (WAL), on
 * PostgreSQL a plain UPDATE. A running server reads `users.operator` from the
 * database each time it needs it, so the change reaches it at once.
 */

/** Why an admin command could not do its work; the command line maps each to its exit code. */
export type InstanceAdminErrorCode =
  /** A setting that cannot be used (a URL that is not PostgreSQL's). */
  | 'usage'
  /** There is no natter database where the settings point (nothing was created). */
  | 'no_database'
  /** The database is natter's, but from an older natter (no `users.operator` yet). */
  | 'version'
  /** The database belongs to another account, whose server SQLite's side files would lock out. */
  | 'forbidden'
  /** No account of that name. */
  | 'not_found'
  /** The change is not allowed as things are (an account that owns servers cannot be deleted). */
  | 'refused'
  /** PostgreSQL could not be reached, or SQLite stayed locked. */
  | 'unreachable'
  /** The database refused the change (a full disk, a read-only file). */
  | 'failed';

/** An admin command that did not do its work, said for the person who typed it. */
export class InstanceAdminError extends Error {
  constructor(
    readonly code: InstanceAdminErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InstanceAdminError';
  }
}

/** Where the server keeps its data, as `natter serve` is told: `--data`, or `--database` (which wins). */
export type DatabasePlace = { dataDir: string; database: string | null };

/** The server's database, opened for the admin commands: its accounts, and how to name it in messages. */
export type InstanceDatabase = {
  /** The database as messages name it: the SQLite file, or the PostgreSQL URL without its password. */
  readonly where: string;
  readonly users: UserStore;
  /** Whole accounts (db/accounts.ts): lists, counts, disabling, deletion, sessions. */
  readonly accounts: AccountStore;
  readonly backend: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE, waiting for the
   * server's write lock as long as a change may; PostgreSQL: one client in
   * BEGIN … COMMIT): all of its changes are made, or none.
   */
  atomically<T>(fn: (stores: { users: UserStore; accounts: AccountStore }) => Promise<T>): Promise<T>;
  /** Bytes the database takes: the SQLite file and its WAL, or pg_database_size. */
  size(): Promise<number>;
  /** The mail outbox and codes (for `natter admin mail`). */
  readonly mail: MailStore;
  /** A failure of `users` as the person should read it (an `InstanceAdminError` where it is understood). */
  explain(err: unknown): unknown;
  close(): Promise<void>;
};

/** How long a change waits for the server's write lock (SQLite) or a connection (PostgreSQL). */
const WAIT_MS = 5_000;

/** Opens the database `natter serve` would use with these settings, without creating or migrating anything. */
export async function openInstanceDatabase(place: DatabasePlace): Promise<InstanceDatabase> {
  return place.database === null ? openSqlite(place.dataDir) : openPostgres(place.database);
}

function olderNatter(where: string, serve: string): InstanceAdminError {
  return new InstanceAdminError(
    'version',
    `the database ${where} was last opened by an older natter: start this version's server on it once (${serve}; it brings the database up to date), then try again`,
  );
}

function openSqlite(dataDir: string): InstanceDatabase {
  const file = join(resolve(dataDir), DB_FILE);
  // SQLite would create an empty database for a wrong --data: look first.
  if (!existsSync(file)) {
    throw new InstanceAdminError(
      'no_database',
      `there is no natter database at ${file}: give the data directory natter serve runs with (--data or NATTER_DATA), or its PostgreSQL URL (--database or NATTER_DATABASE)`,
    );
  }
  // SQLite makes its -wal and -shm files as the account that opens the database first: the
  // server's account could no longer open files made by another (say, root's).
  const owner = statSync(file).uid;
  const me = process.getuid?.();
  if (me !== undefined && me !== owner) {
    throw new InstanceAdminError(
      'forbidden',
      `${file} belongs to another account (uid ${owner}): run natter admin as the account natter serve runs as (sudo -u <that account> natter admin …), so that the files SQLite makes beside the database stay the server's`,
    );
  }
  let opened: ExistingDb;
  try {
    // The server holds its write lock for a batch at a time: a change waits for it rather than fail.
    opened = openExistingDb(file, WAIT_MS);
  } catch (err) {
    throw sqliteError(err, file, 'no_database');
  }
  if (!opened.ok) {
    throw opened.wrong === 'older'
      ? olderNatter(file, `natter serve --data ${dataDir}`)
      : new InstanceAdminError('no_database', `${file} is a SQLite database, but not natter's`);
  }
  const db = opened.db;
  // The accounts' columns (disabled, deleted) came after the operators'.
  if (!columnNames(db.$client, 'users').includes('deleted_at')) {
    db.$client.close();
    throw olderNatter(file, `natter serve --data ${dataDir}`);
  }
  const users = asyncOf(userQueries(db));
  const accounts = asyncOf(accountQueries(db));
  let mail: MailStore | null = null;
  return {
    where: file,
    users,
    accounts,
    // Prepared when first used: the other commands work on a database from before the outbox.
    get mail() {
      mail ??= asyncOf(mailQueries(db));
      return mail;
    },
    backend: 'sqlite',
    async atomically(fn) {
      // IMMEDIATE takes the write lock now (waiting for the server's batch), so what fn reads stays true.
      db.$client.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn({ users, accounts });
        db.$client.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.$client.inTransaction) db.$client.exec('ROLLBACK');
        throw err;
      }
    },
    size: async () => fileBytes(file) + fileBytes(`${file}-wal`),
    explain: (err) => sqliteError(err, file, 'failed'),
    close: async () => {
      db.$client.close();
    },
  };
}

/**
 * A SQLite failure as the person should read it: a lock the server held too
 * long is no bug, and neither is a file that cannot be used (`otherwise`).
 */
function sqliteError(err: unknown, file: string, otherwise: InstanceAdminErrorCode): unknown {
  if (err instanceof InstanceAdminError) return err;
  const trouble = sqliteTrouble(err);
  if (trouble === 'busy') {
    return new InstanceAdminError(
      'unreachable',
      `the server is busy: ${file} stayed locked by another program for ${WAIT_MS / 1000} s; nothing was changed, try again`,
      { cause: err },
    );
  }
  if (trouble === null) return err;
  return new InstanceAdminError(otherwise, `cannot use ${file}: ${(err as Error).message}; nothing was changed`, {
    cause: err,
  });
}

async function openPostgres(url: string): Promise<InstanceDatabase> {
  try {
    checkClusterSettings({ database: url, bus: null, cluster: 'natter', mediaDir: null });
  } catch (err) {
    if (err instanceof ConfigError) throw new InstanceAdminError('usage', err.message);
    throw err;
  }
  const where = describeDatabase(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    types: pgTypes,
    connectionTimeoutMillis: WAIT_MS,
    application_name: 'natter admin',
  });
  pool.on('error', () => {});
  try {
    const found = await pool.query(
      `SELECT column_name AS name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'users'`,
    );
    const columns = new Set(found.rows.map((r: { name: string }) => r.name));
    if (columns.size === 0) {
      throw new InstanceAdminError(
        'no_database',
        `${where} holds no natter database (no users table): give the URL natter serve --database runs with`,
      );
    }
    if (!columns.has('operator') || !columns.has('deleted_at')) {
      throw olderNatter(where, `natter serve --database ${where}`);
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw postgresError(err, where);
  }
  return {
    where,
    users: new PostgresUsers(pool),
    accounts: new PostgresAccounts(pool),
    backend: 'postgres',
    async atomically(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({ users: new PostgresUsers(client), accounts: new PostgresAccounts(client) });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    size: async () => Number((await pool.query('SELECT pg_database_size(current_database()) AS n')).rows[0]?.n ?? 0),
    mail: new PostgresMail(pool),
    explain: (err) => postgresError(err, where),
    close: () => pool.end(),
  };
}

/** A file's size in bytes, 0 when it does not exist. */
function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** A PostgreSQL failure as the person should read it. */
function postgresError(err: unknown, where: string): unknown {
  if (err instanceof InstanceAdminError) return err;
  if ((err as { code?: unknown }).code === '3D000') {
    return new InstanceAdminError(
      'no_database',
      `${where} names a database that does not exist: give the URL natter serve --database runs with`,
      { cause: err },
    );
  }
  if (isUnavailable(err)) {
    const cause = err instanceof NatterError && err.cause instanceof Error ? err.cause : err;
    return new InstanceAdminError(
      'unreachable',
      `cannot reach PostgreSQL at ${where}: ${(cause as Error).message}; nothing was changed`,
      { cause: err },
    );
  }
  return err;
}

/** The account a name typed on the command line refers to (any case or look-alike form, with or without `@`). */
export async function account(db: Pick<InstanceDatabase, 'where' | 'users'>, name: string): Promise<UserRow> {
  const typed = name.startsWith('@') ? name.slice(1) : name;
  const user = typed === '' ? undefined : await findUser(db, typed);
  if (!user) throw new InstanceAdminError('not_found', `there is no account named "${typed}" in ${db.where}`);
  return user;
}

/** What a grant or a revocation did: the account, and whether it changed (it may already have been so). */
export type OperatorChange = { user: UserRow; changed: boolean };

/** Makes the account named `name` an instance operator (`operator` true), or no longer one. */
export async function setOperator(db: InstanceDatabase, name: string, operator: boolean): Promise<OperatorChange> {
  try {
    const user = await account(db, name);
    const changed = await db.users.setOperator(user.id, operator);
    return { user: { ...user, operator }, changed };
  } catch (err) {
    throw db.explain(err);
  }
}

/** The instance operators, by name. */
export async function listOperators(db: InstanceDatabase): Promise<UserRow[]> {
  try {
    return await db.users.operators();
  } catch (err) {
    throw db.explain(err);
  }
}

/** The outbox's state: mails waiting, sent and given up, and the latest failures (never a body or a code). */
export async function outboxSummary(db: InstanceDatabase, failures: number): Promise<OutboxSummary> {
  try {
    return await db.mail.summary(failures);
  } catch (err) {
    throw db.explain(err);
  }
}
