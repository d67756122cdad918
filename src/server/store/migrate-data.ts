import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { getTableName, is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { USERNAME_KEY_VERSION } from '../../protocol/text.js';
import { DB_FILE, SQLITE_MIGRATIONS } from '../db/index.js';
import { columnNames, lastEventId, tableNames } from '../db/inspect.js';
import { USERNAME_KEY_META } from '../db/username-keys.js';
import { migratePostgres } from './postgres/migrate.js';
import * as postgresSchema from './postgres/schema.js';
import { isUnavailable, pgTypes } from './postgres/sql.js';
import { describeDatabase } from './postgres/store.js';

/*
 * `natter migrate-data`: a whole SQLite installation into an empty PostgreSQL
 * database, in one transaction. What is copied, and how, comes from the
 * PostgreSQL schema (store/postgres/schema.ts): every table, in the order its
 * foreign keys need, every column converted by its PostgreSQL type. Three
 * tables are not copied: `message_search_rows`, which PostgreSQL's triggers
 * fill as the messages arrive, `event_counter`, set from SQLite's
 * `sqlite_sequence`, and `rate_buckets`, left empty.
 */

/** Why a move failed: the command line maps each to its exit code and prefix. */
export type MigrateDataErrorCode =
  /** `--from` or `--to` is wrong (exit 2). */
  | 'usage'
  /** PostgreSQL could not be reached (exit 4). */
  | 'unreachable'
  /** The SQLite database is from another version of natter. */
  | 'version'
  /** The PostgreSQL database holds rows already. */
  | 'not_empty'
  /** After the copy, PostgreSQL did not hold what SQLite held. */
  | 'mismatch'
  /** Stopped by a signal. */
  | 'interrupted'
  /** Anything else: a statement PostgreSQL refused, a lock it could not give. */
  | 'failed';

/** A move that did not happen, said for the person who typed the command. */
export class MigrateDataError extends Error {
  constructor(
    readonly code: MigrateDataErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrateDataError';
  }
}

/** What `migrateData` is told. */
export type MigrateDataOptions = {
  /** The data directory of the SQLite server (or a database file, such as one `natter backup` wrote). */
  from: string;
  /** The PostgreSQL URL of an empty database. */
  to: string;
  /** Rows per INSERT (default 1,000); a batch also ends once its text reaches 4 MiB. */
  batchRows?: number;
  /** Hears how far the copy of each table is, after each batch. */
  onProgress?: (table: string, done: number, total: number) => void;
  /** Ends the move at the next batch, rolled back. */
  signal?: AbortSignal;
  /** How long connecting to PostgreSQL may take (default 10 s). */
  connectTimeoutMs?: number;
  /** How long to wait for the target's tables when another program uses them (default 10 s). */
  lockTimeoutMs?: number;
};

/** One table's share of a move. */
export type TableMoved = { table: string; rows: number };

/** What a finished move did. */
export type MigrateDataSummary = {
  /** The SQLite database read. */
  from: string;
  /** The target, without its password. */
  to: string;
  /** PostgreSQL migrations this move applied first (none when the schema was there already). */
  migrations: string[];
  /** Rows copied, per table, in the order they were copied. */
  tables: TableMoved[];
  /** Messages in PostgreSQL's search index (made by its triggers). */
  searchRows: number;
  /** The newest event id handed out; new events continue after it. */
  eventCounter: number;
  /** How long the move took, from opening SQLite to the commit. */
  ms: number;
};

/** A count that differs after the copy. */
export type CountMismatch = { table: string; expected: number; found: number | null };

/** Tables of the PostgreSQL schema that are not copied, and what becomes of them. */
export const MADE_NOT_COPIED: Readonly<Record<string, string>> = {
  message_search_rows: "filled by PostgreSQL's triggers as each message is inserted (one row per message not deleted)",
  event_counter: 'set to the newest event id SQLite handed out (its AUTOINCREMENT counter for events)',
  rate_buckets: "left empty: SQLite's rate limits live in the server's memory, so every bucket starts full",
};

/** The PostgreSQL types the copy converts to, and the array type each batch is sent as. */
type CopiedType = 'text' | 'bigint' | 'boolean';
const ARRAY_OF: Record<CopiedType, string> = { text: 'text[]', bigint: 'bigint[]', boolean: 'boolean[]' };

type ColumnPlan = { name: string; type: CopiedType };
type TablePlan = {
  name: string;
  columns: ColumnPlan[];
  /** The SQLite queries that read its rows, one after another. */
  sources: string[];
};

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Every table to copy, parents before children (a row's foreign keys point at
 * rows already there), with its columns and the SQLite queries that read it.
 */
export function copyPlan(): TablePlan[] {
  const tables = new Map<string, { plan: TablePlan; parents: Set<string> }>();
  for (const value of Object.values(postgresSchema)) {
    if (!is(value, PgTable)) continue;
    const config = getTableConfig(value);
    if (config.name in MADE_NOT_COPIED) continue;
    const columns = config.columns.map((c): ColumnPlan => {
      const type = c.getSQLType();
      if (type !== 'text' && type !== 'bigint' && type !== 'boolean') {
        throw new Error(`migrate-data cannot copy ${config.name}.${c.name}, of type ${type}`);
      }
      return { name: c.name, type };
    });
    const parents = new Set(
      config.foreignKeys.map((fk) => getTableName(fk.reference().foreignTable)).filter((t) => t !== config.name),
    );
    const list = columns.map((c) => q(c.name)).join(', ');
    tables.set(config.name, {
      plan: { name: config.name, columns, sources: sourcesOf(config.name, list) },
      parents,
    });
  }
  const ordered: TablePlan[] = [];
  const placed = new Set<string>();
  const names = [...tables.keys()].sort();
  while (ordered.length < names.length) {
    const next = names.find(
      (n) => !placed.has(n) && [...(tables.get(n)?.parents ?? [])].every((p) => placed.has(p) || !tables.has(p)),
    );
    if (next === undefined) throw new Error('the foreign keys of the PostgreSQL schema form a cycle');
    placed.add(next);
    const entry = tables.get(next);
    if (entry) ordered.push(entry.plan);
  }
  return ordered;
}

/**
 * The SQLite queries that read a table. Messages come in the order SQLite's
 * search index numbered them (its `message_search_rows.key`, the order they
 * were written), those it does not index (deleted ones) first: PostgreSQL's
 * triggers number its index rows as the messages arrive, so search results
 * keep their order.
 */
function sourcesOf(table: string, list: string): string[] {
  if (table !== 'messages') return [`SELECT ${list} FROM ${q(table)}`];
  const columns = list.replaceAll(/"([^"]+)"/g, 'm."$1"');
  return [
    `SELECT ${columns} FROM messages m WHERE NOT EXISTS (SELECT 1 FROM message_search_rows r WHERE r.message_id = m.id)`,
    `SELECT ${columns} FROM message_search_rows r JOIN messages m ON m.id = r.message_id ORDER BY r.key`,
  ];
}

/**
 * The counts that differ between what SQLite held (`expected`) and what
 * PostgreSQL holds after the copy (`found`, null when a table is missing),
 * in the order of `expected`.
 */
export function countMismatches(
  expected: ReadonlyMap<string, number>,
  found: ReadonlyMap<string, number>,
): CountMismatch[] {
  const out: CountMismatch[] = [];
  for (const [table, n] of expected) {
    const got = found.get(table);
    if (got !== n) out.push({ table, expected: n, found: got ?? null });
  }
  return out;
}

/** The mismatches in words: `read_states: 12 in SQLite, 6 in PostgreSQL`. */
export function describeMismatches(mismatches: readonly CountMismatch[]): string {
  return mismatches
    .map((m) => `${m.table}: ${m.expected} in SQLite, ${m.found === null ? 'no such table' : m.found} in PostgreSQL`)
    .join('; ');
}

/** A URL as messages may show it: its password, if any, hidden. */
function shown(text: string): string {
  try {
    const u = new URL(text);
    if (u.password === '') return text;
    u.password = '***';
    return u.toString();
  } catch {
    return text;
  }
}

/** Checks `--to` before anything is opened. */
function checkTarget(to: string): void {
  let url: URL | null;
  try {
    url = new URL(to);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.pathname.length <= 1) {
    throw new MigrateDataError(
      'usage',
      `--to takes a PostgreSQL URL such as postgres://natter@127.0.0.1:5432/natter, not "${shown(to)}"`,
    );
  }
}

/** Opens the SQLite database `--from` names, read-only, and checks that it is natter's, of this version. */
function openSource(from: string): { sqlite: Database.Database; file: string } {
  const path = resolve(from);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MigrateDataError(
      'usage',
      code === 'ENOENT' ? `--from ${from} does not exist` : `cannot read --from ${from}: ${(err as Error).message}`,
    );
  }
  const file = isDir ? join(path, DB_FILE) : path;
  if (isDir) {
    try {
      statSync(file);
    } catch {
      throw new MigrateDataError(
        'usage',
        `--from ${from} holds no natter database (no ${DB_FILE} in it); give the data directory the server ran with (natter serve --data)`,
      );
    }
  }
  let sqlite: Database.Database | null = null;
  try {
    // Another program may be writing (a running server): wait for its locks a while rather than fail.
    sqlite = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    sqlite.defaultSafeIntegers(true);
    const names = tableNames(sqlite);
    if (!names.has('users') || !names.has('__drizzle_migrations') || !names.has('events')) {
      throw new MigrateDataError('usage', `--from ${from}: ${file} is a SQLite database, but not natter's`);
    }
    return { sqlite, file };
  } catch (err) {
    sqlite?.close();
    if (err instanceof MigrateDataError) throw err;
    throw new MigrateDataError('usage', `cannot read --from ${from}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Refuses a database whose schema or derived data another version of natter
 * wrote: the copy follows this version's schema. An older one is brought up
 * to date by starting this version's server on it once.
 */
function checkVersion(sqlite: Database.Database, from: string): void {
  const journal = JSON.parse(readFileSync(join(SQLITE_MIGRATIONS, 'meta/_journal.json'), 'utf8')) as {
    entries: { when: number }[];
  };
  const newest = Math.max(...journal.entries.map((e) => e.when));
  const applied = sqlite.prepare('SELECT max(created_at) AS last FROM __drizzle_migrations').get() as {
    last: bigint | null;
  };
  const last = applied.last === null ? 0 : Number(applied.last);
  if (last > newest) {
    throw new MigrateDataError(
      'version',
      `the database in --from ${from} was written by a newer natter than this one: run that version's natter migrate-data`,
    );
  }
  // Username keys made by older rules are recomputed when a server starts (db/username-keys.ts).
  const keys =
    last < newest
      ? undefined
      : (sqlite.prepare('SELECT value FROM meta WHERE key = ?').get(USERNAME_KEY_META) as
          | { value: string }
          | undefined);
  if (last < newest || keys?.value !== USERNAME_KEY_VERSION) {
    throw new MigrateDataError(
      'version',
      `the database in --from ${from} was last opened by an older natter: start this version's server on it once (natter serve --data ${from}; it brings the database up to date), stop it, and run migrate-data again`,
    );
  }
}

/** A SQLite value as the PostgreSQL column of `type` takes it (a bigint as its decimal text, exact). */
function converter(table: string, column: string, type: CopiedType): (v: unknown) => string | boolean | null {
  const wrong = (v: unknown): Error =>
    new MigrateDataError(
      'failed',
      `${table}.${column} holds ${typeof v === 'bigint' ? v.toString() : (JSON.stringify(v) ?? typeof v)} in SQLite, which a PostgreSQL ${type} column cannot take`,
    );
  switch (type) {
    case 'text':
      return (v) => {
        if (v === null || typeof v === 'string') return v;
        throw wrong(v);
      };
    case 'bigint':
      return (v) => {
        if (v === null) return null;
        if (typeof v === 'bigint') return v.toString();
        throw wrong(v);
      };
    case 'boolean':
      // SQLite has no boolean: drizzle stores one as 0 or 1.
      return (v) => {
        if (v === null) return null;
        if (v === 0n || v === 1n) return v === 1n;
        throw wrong(v);
      };
  }
}

/** Rows of SQLite counted in the read transaction: what PostgreSQL must hold after the copy. */
function sourceCounts(sqlite: Database.Database, plan: readonly TablePlan[]): Map<string, number> {
  const counts = new Map<string, number>();
  const present = tableNames(sqlite);
  for (const t of plan) {
    if (!present.has(t.name)) throw new MigrateDataError('failed', `the SQLite database has no table ${t.name}`);
    const columns = columnNames(sqlite, t.name);
    const wanted = t.columns.map((c) => c.name).sort();
    if (columns.join() !== wanted.join()) {
      throw new MigrateDataError(
        'failed',
        `the columns of ${t.name} differ: SQLite has ${columns.join(', ')}; PostgreSQL ${wanted.join(', ')}`,
      );
    }
    const row = sqlite.prepare(`SELECT count(*) AS n FROM ${q(t.name)}`).get() as { n: bigint };
    counts.set(t.name, Number(row.n));
  }
  return counts;
}

/**
 * The tables of PostgreSQL's public schema that hold rows (an `event_counter`
 * past 0 counts as one; `rate_buckets`, throttles a natter started on the
 * empty database may have filled, does not).
 */
async function tablesWithRows(client: pg.PoolClient): Promise<string[]> {
  const tables = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
  );
  const out: string[] = [];
  for (const { name } of tables.rows) {
    if (name === 'rate_buckets') continue;
    const where = name === 'event_counter' ? ' WHERE last <> 0' : '';
    const r = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM public.${q(name)}${where}) AS any`);
    if (r.rows[0]?.any) out.push(name);
  }
  return out;
}

function notEmpty(to: string, tables: readonly string[]): MigrateDataError {
  return new MigrateDataError(
    'not_empty',
    `--to ${to} is not empty (rows in ${tables.join(', ')}): migrate-data moves an installation into an empty database only; nothing was changed`,
  );
}

/** A driver error as a person reads it (connecting to a name with several addresses fails once per address). */
function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (!(err instanceof Error)) return String(err);
  const detail = (err as { detail?: unknown }).detail;
  return typeof detail === 'string' && detail !== '' ? `${err.message} (${detail})` : err.message;
}

/**
 * What went wrong while talking to PostgreSQL, with the code the command line
 * needs; `doing` says what was under way, null while connecting.
 */
function targetError(err: unknown, to: string, doing: string | null): MigrateDataError {
  if (err instanceof MigrateDataError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === '3D000') {
    return new MigrateDataError(
      'failed',
      `--to ${to} names a database that does not exist: create it first (createdb), empty`,
      { cause: err },
    );
  }
  if (code === '55P03') {
    return new MigrateDataError(
      'failed',
      `another program is using --to ${to} (a natter server?): stop it and run migrate-data again`,
      { cause: err },
    );
  }
  if (isUnavailable(err)) {
    const message =
      doing === null
        ? `cannot reach PostgreSQL at --to ${to}: ${messageOf(err)}`
        : `${doing}: the connection to PostgreSQL was lost (${messageOf(err)})`;
    return new MigrateDataError('unreachable', message, { cause: err });
  }
  return new MigrateDataError('failed', `${doing ?? `cannot connect to --to ${to}`}: ${messageOf(err)}`, {
    cause: err,
  });
}

/**
 * Moves the SQLite installation of `from` into the empty PostgreSQL database
 * `to`: applies the PostgreSQL migrations, refuses a database with rows in
 * any table, then copies every table in one transaction, in batches read
 * from one SQLite read transaction (a consistent snapshot, even while a
 * server writes), checks that every table holds as many rows as SQLite's and
 * the event counter where SQLite's was, and commits. On any failure, and on
 * any difference, the transaction is rolled back: the target keeps no row.
 */
export async function migrateData(options: MigrateDataOptions): Promise<MigrateDataSummary> {
  const started = performance.now();
  checkTarget(options.to);
  const to = describeDatabase(options.to);
  const { sqlite, file } = openSource(options.from);
  try {
    // One read transaction: every read below sees the same snapshot, whatever a running server commits meanwhile.
    sqlite.exec('BEGIN');
    checkVersion(sqlite, options.from);
    const plan = copyPlan();
    const expected = sourceCounts(sqlite, plan);
    const live = sqlite.prepare('SELECT count(*) AS n FROM messages WHERE deleted_at IS NULL').get() as { n: bigint };
    const counter = lastEventId(sqlite);
    const pool = new pg.Pool({
      connectionString: options.to,
      max: 1,
      types: pgTypes,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'natter migrate-data',
    });
    pool.on('error', () => {});
    try {
      const migrations = await prepareTarget(pool, to);
      const tables = await copyAll(pool, sqlite, plan, {
        to,
        expected,
        searchRows: Number(live.n),
        counter,
        batchRows: options.batchRows ?? 1000,
        lockTimeoutMs: options.lockTimeoutMs ?? 10_000,
        onProgress: options.onProgress,
        signal: options.signal,
      });
      return {
        from: file,
        to,
        migrations,
        tables,
        searchRows: Number(live.n),
        eventCounter: counter,
        ms: performance.now() - started,
      };
    } finally {
      await pool.end();
    }
  } finally {
    sqlite.close();
  }
}

/** A connection of `pool`, and how to give it back (`lost`: closed, ending whatever it was doing). */
type Connection = { client: pg.PoolClient; done(lost?: boolean): void };

async function connect(pool: pg.Pool, to: string): Promise<Connection> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw targetError(err, to, null);
  }
  // A connection that goes (a restart, a terminated backend) says so here and fails its statement.
  const ignore = () => {};
  client.on('error', ignore);
  return {
    client,
    done(lost = false) {
      client.off('error', ignore);
      client.release(lost);
    },
  };
}

/**
 * Refuses a database that holds rows (before migrating it: a database of
 * something else is left as it was), then applies natter's migrations.
 */
async function prepareTarget(pool: pg.Pool, to: string): Promise<string[]> {
  const { client, done } = await connect(pool, to);
  try {
    const full = await tablesWithRows(client);
    if (full.length > 0) throw notEmpty(to, full);
  } catch (err) {
    done(true);
    throw targetError(err, to, `cannot read --to ${to}`);
  }
  done();
  try {
    return (await migratePostgres(pool)).applied;
  } catch (err) {
    throw targetError(err, to, `cannot apply natter's PostgreSQL migrations to --to ${to}`);
  }
}

type CopyOptions = {
  to: string;
  expected: ReadonlyMap<string, number>;
  searchRows: number;
  counter: number;
  batchRows: number;
  lockTimeoutMs: number;
  onProgress: MigrateDataOptions['onProgress'];
  signal: AbortSignal | undefined;
};

const COMMITTING = 'committing';

/** Ends the copy (it is rolled back) once the caller has asked it to stop. */
function stopIfAborted(o: CopyOptions): void {
  if (o.signal?.aborted) {
    throw new MigrateDataError(
      'interrupted',
      `stopped before the commit: nothing was kept in --to ${o.to}, the copy was rolled back`,
    );
  }
}

/** Text in one batch at most (bytes, about): a batch of long messages stays small in memory. */
const BATCH_TEXT = 4 * 1024 * 1024;

/** The copy, its checks and its commit, in one PostgreSQL transaction; rolled back on any failure. */
async function copyAll(
  pool: pg.Pool,
  sqlite: Database.Database,
  plan: readonly TablePlan[],
  o: CopyOptions,
): Promise<TableMoved[]> {
  const { client, done } = await connect(pool, o.to);
  let doing = `cannot start the copy into --to ${o.to}`;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(o.lockTimeoutMs))}`);
    // Nobody else writes while the copy runs; anyone who tries waits for the commit.
    const natter = [...plan.map((t) => t.name), ...Object.keys(MADE_NOT_COPIED)];
    await client.query(`LOCK TABLE ${natter.map(q).join(', ')} IN EXCLUSIVE MODE`);
    const full = await tablesWithRows(client);
    if (full.length > 0) throw notEmpty(o.to, full);

    const moved: TableMoved[] = [];
    for (const table of plan) {
      stopIfAborted(o);
      doing = `copying ${table.name} into --to ${o.to} failed`;
      moved.push({ table: table.name, rows: await copyTable(client, sqlite, table, o) });
    }
    // Identity columns hand out the next id from their own sequence: past the ids copied (the audit log's).
    doing = `moving the id sequences of --to ${o.to} past the copied ids failed`;
    const identities = await client.query<{ table_name: string; column_name: string }>(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'",
    );
    const copied = new Set(plan.map((t) => t.name));
    for (const { table_name: t, column_name: c } of identities.rows) {
      if (!copied.has(t)) continue;
      await client.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(${q(c)}), 0) + 1, false) FROM ${q(t)}`,
        [t, c],
      );
    }
    doing = `setting the event counter of --to ${o.to} failed`;
    const set = await client.query('UPDATE event_counter SET last = $1', [o.counter]);
    if (set.rowCount !== 1) throw new MigrateDataError('failed', `${doing}: event_counter has no row`);

    doing = `counting the rows of --to ${o.to} failed`;
    const found = new Map<string, number>();
    for (const table of plan) {
      const r = await client.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${q(table.name)}`);
      found.set(table.name, r.rows[0]?.n ?? 0);
    }
    const search = await client.query<{ n: number }>('SELECT count(*)::bigint AS n FROM message_search_rows');
    found.set('message_search_rows', search.rows[0]?.n ?? 0);
    const last = await client.query<{ last: number }>('SELECT last FROM event_counter');
    found.set('event_counter', last.rows[0]?.last ?? 0);
    const wanted = new Map([...o.expected, ['message_search_rows', o.searchRows], ['event_counter', o.counter]]);
    const mismatches = countMismatches(wanted, found);
    if (mismatches.length > 0) {
      throw new MigrateDataError(
        'mismatch',
        `after the copy, --to ${o.to} does not hold what SQLite held (${describeMismatches(mismatches)}); nothing was kept: the copy was rolled back`,
      );
    }
    stopIfAborted(o);
    doing = COMMITTING;
    await client.query('COMMIT');
    done();
    return moved;
  } catch (err) {
    // A connection that cannot roll back is closed, which rolls back all the same.
    try {
      await client.query('ROLLBACK');
      done();
    } catch {
      done(true);
    }
    // The refusals say what happened to the target themselves.
    if (err instanceof MigrateDataError && err.code !== 'failed') throw err;
    const failure =
      err instanceof MigrateDataError
        ? err
        : targetError(err, o.to, doing === COMMITTING ? `committing the copy into --to ${o.to} failed` : doing);
    // A commit whose answer never came may have happened: only the database can tell.
    failure.message +=
      doing === COMMITTING && failure.code === 'unreachable'
        ? '; the copy may or may not have been committed: look at --to before running migrate-data again (it refuses a database with rows)'
        : '; nothing was kept: the copy was rolled back';
    throw failure;
  }
}

/** Copies one table in batches as SQLite reads it; returns the rows copied. */
async function copyTable(
  client: pg.PoolClient,
  sqlite: Database.Database,
  table: TablePlan,
  o: CopyOptions,
): Promise<number> {
  const total = o.expected.get(table.name) ?? 0;
  const convert = table.columns.map((c) => converter(table.name, c.name, c.type));
  const names = table.columns.map((c) => q(c.name)).join(', ');
  const arrays = table.columns.map((c, i) => `$${i + 1}::${ARRAY_OF[c.type]}`).join(', ');
  // unnest keeps the rows in order, and ORDER BY the ordinality says so: the search index numbers them as they come.
  const insert = `INSERT INTO ${q(table.name)} (${names})
    SELECT ${names} FROM unnest(${arrays}) WITH ORDINALITY AS u(${names}, natter_row) ORDER BY natter_row`;
  let done = 0;
  let batch: unknown[][] = table.columns.map(() => []);
  let size = 0;
  let text = 0;
  // While PostgreSQL inserts one batch, the next is read from SQLite: two batches in memory at most.
  let inserting: Promise<void> = Promise.resolve();
  const send = async () => {
    await inserting;
    stopIfAborted(o);
    if (size === 0) return;
    const values = batch;
    const rows = size;
    batch = table.columns.map(() => []);
    size = 0;
    text = 0;
    inserting = client.query(insert, values).then(() => {
      done += rows;
      o.onProgress?.(table.name, done, total);
    });
    // Awaited by the next send; until then a failure must not count as unhandled.
    inserting.catch(() => {});
  };
  for (const source of table.sources) {
    for (const values of sqlite.prepare(source).raw(true).iterate() as Iterable<unknown[]>) {
      for (let i = 0; i < convert.length; i++) {
        const v = (convert[i] as (v: unknown) => unknown)(values[i]);
        if (typeof v === 'string') text += v.length;
        batch[i]?.push(v);
      }
      size++;
      if (size >= o.batchRows || text >= BATCH_TEXT) await send();
    }
  }
  await send();
  await inserting;
  return done;
}
