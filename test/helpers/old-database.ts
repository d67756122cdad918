import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { DB_FILE } from '../../src/server/db/index.js';

/**
 * A database as an earlier release left it: the committed migrations up to
 * and including number `last` applied, in `root/data`. Returns the open
 * connection (for writing rows in that schema; close it before starting a
 * server on `dataDir`) and the data directory.
 */
export function databaseAt(root: string, last: number): { sqlite: Database.Database; dataDir: string } {
  const old = join(root, 'migrations');
  mkdirSync(join(old, 'meta'), { recursive: true });
  const journal = JSON.parse(readFileSync('drizzle/sqlite/meta/_journal.json', 'utf8')) as {
    entries: { idx: number; tag: string }[];
  };
  journal.entries = journal.entries.filter((e) => e.idx <= last);
  writeFileSync(join(old, 'meta/_journal.json'), JSON.stringify(journal));
  for (const e of journal.entries) copyFileSync(`drizzle/sqlite/${e.tag}.sql`, join(old, `${e.tag}.sql`));
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const sqlite = new Database(join(dataDir, DB_FILE));
  sqlite.pragma('foreign_keys = ON');
  migrate(drizzle(sqlite), { migrationsFolder: old });
  return { sqlite, dataDir };
}
