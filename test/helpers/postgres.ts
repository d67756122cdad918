import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server the cluster suite (`npm run test:cluster`) runs on:
 * NATTER_TEST_POSTGRES, a connection URL for a role that may create
 * databases; by default the Debian package's on 127.0.0.1:5432 as `postgres`.
 */
export const POSTGRES_URL = process.env.NATTER_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of a test's own, made empty; `drop` removes it, whoever is still connected. */
export type TestDatabase = { name: string; url: string; drop(): Promise<void> };

/** Runs `sql` on the server's maintenance database, with an error that says how to get a server when there is none. */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `the cluster suite needs PostgreSQL at ${POSTGRES_URL} (set NATTER_TEST_POSTGRES to use another; README.md says how to install one): ${String(err)}`,
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a database with a random name, empty. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `natter_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Clean-up steps of a test file, run last added first by its `after`. */
export type Cleanup = (() => Promise<void>)[];

/** A fresh database whose drop is one of `cleanup`'s steps. */
export async function databaseFor(cleanup: Cleanup): Promise<TestDatabase> {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  return db;
}
