import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { pgTypes } from '../../src/server/store/postgres/sql.js';

/** A storage backend the suites that run on both can use. */
export type TestBackend = 'sqlite' | 'postgres';

/**
 * The backend `startTestServer` and the crash drill use: SQLite unless
 * NATTER_TEST_DATABASE=postgres (`npm run test:cluster` sets it for the
 * conversation, test-plan and crash suites), where each server gets a fresh
 * PostgreSQL database of its own (test/helpers/postgres.ts).
 */
export const TEST_BACKEND: TestBackend = backendFromEnv(process.env.NATTER_TEST_DATABASE);

function backendFromEnv(value: string | undefined): TestBackend {
  if (value === undefined || value === '' || value === 'sqlite') return 'sqlite';
  if (value === 'postgres') return 'postgres';
  throw new Error(`NATTER_TEST_DATABASE must be sqlite or postgres, not "${value}"`);
}

/**
 * Plain SQL on a test server's database, whichever the backend: what a test
 * looks at or changes behind the server's back. Statements take `?`
 * placeholders on both; they must be SQL both dialects read the same way.
 */
export type TestSql = {
  readonly backend: TestBackend;
  /** The rows of a statement. */
  all<R = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<R[]>;
  /** The first row of a statement, if any. */
  get<R = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<R | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<number>;
  /** The names of the tables in the database (not the backend's own catalog), sorted. */
  tables(): Promise<string[]>;
  /**
   * The backend's own check of its files: "ok", or what it found. SQLite's
   * `integrity_check`; on PostgreSQL, amcheck over every table's heap and
   * every B-tree index with the rows it should hold.
   */
  integrity(): Promise<string>;
  close(): Promise<void>;
};

/** SQL on an open SQLite connection (the server's own, or one of the test's); `close` leaves it open. */
export function sqliteSql(db: BetterSqlite3.Database): TestSql {
  return {
    backend: 'sqlite',
    all: async <R>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as R[],
    get: async <R>(sql: string, ...params: unknown[]) => db.prepare(sql).get(...params) as R | undefined,
    run: async (sql, ...params) => db.prepare(sql).run(...params).changes,
    tables: async () =>
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
        (r) => r.name,
      ),
    integrity: async () => String(db.pragma('integrity_check', { simple: true })),
    close: async () => {},
  };
}

/** `?` placeholders as PostgreSQL's `$1`, `$2`… (the statements tests write have no `?` in literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** SQL on a PostgreSQL database through a small pool of its own (int8 read as numbers, as natter reads it). */
export function postgresSql(url: string): TestSql {
  const pool = new pg.Pool({ connectionString: url, max: 2, types: pgTypes });
  pool.on('error', () => {});
  const all = async <R>(sql: string, ...params: unknown[]) => (await pool.query(numbered(sql), params)).rows as R[];
  let ended: Promise<void> | null = null;
  return {
    backend: 'postgres',
    all,
    get: async <R>(sql: string, ...params: unknown[]) => (await all<R>(sql, ...params))[0],
    run: async (sql, ...params) => (await pool.query(numbered(sql), params)).rowCount ?? 0,
    tables: async () =>
      (
        await all<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
        )
      ).map((r) => r.name),
    integrity: async () => {
      try {
        await pool.query('CREATE EXTENSION IF NOT EXISTS amcheck');
      } catch (err) {
        throw new Error(`checking the database needs the amcheck extension (a superuser may create it): ${err}`);
      }
      const problems: string[] = [];
      const heaps = await all<{ name: string }>(
        "SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
      );
      for (const { name } of heaps) {
        for (const r of await all<{ msg: string }>('SELECT msg FROM verify_heapam(?::regclass)', name)) {
          problems.push(`${name}: ${r.msg}`);
        }
      }
      const indexes = await all<{ name: string }>(
        "SELECT c.oid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = 'public' AND a.amname = 'btree'",
      );
      for (const { name } of indexes) {
        try {
          await pool.query('SELECT bt_index_check($1::regclass, true)', [name]);
        } catch (err) {
          problems.push(`${name}: ${(err as Error).message}`);
        }
      }
      return problems.length === 0 ? 'ok' : problems.join('\n');
    },
    close: () => {
      ended ??= pool.end();
      return ended;
    },
  };
}
