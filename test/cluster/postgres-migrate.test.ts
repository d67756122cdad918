import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { MIGRATION_LOCK, migratePostgres, POSTGRES_MIGRATIONS } from '../../src/server/store/postgres/migrate.js';
import * as schema from '../../src/server/store/postgres/schema.js';
import { type Cleanup, databaseFor, type TestDatabase } from '../helpers/postgres.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * The PostgreSQL migrator: several natters starting together against one
 * database apply each migration once, under an advisory lock.
 */

type Journal = { entries: { idx: number; when: number; tag: string; breakpoints: boolean; version: string }[] };

function journalOf(folder: string): Journal {
  return JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as Journal;
}

/** What drizzle recorded: one row per applied migration, in the order applied. */
async function records(pool: pg.Pool): Promise<[string, number][]> {
  const r = await pool.query<{ hash: string; created_at: string }>(
    'SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id',
  );
  return r.rows.map((row) => [row.hash, Number(row.created_at)]);
}

/** The records a database migrated from `folder` must have: each migration once, in journal order. */
function expectedRecords(folder: string): [string, number][] {
  return journalOf(folder).entries.map((e) => [
    createHash('sha256')
      .update(readFileSync(join(folder, `${e.tag}.sql`)))
      .digest('hex'),
    e.when,
  ]);
}

/** Sessions of this database waiting for the migration lock. */
async function waitingForLock(client: pg.Client): Promise<number> {
  const r = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
    [MIGRATION_LOCK],
  );
  return r.rows[0]?.n ?? 0;
}

const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const database = () => databaseFor(cleanup);

function pool(db: TestDatabase): pg.Pool {
  const p = new pg.Pool({ connectionString: db.url, max: 2 });
  // pool.end() resolves before its connections have closed: dropping the database then ends them with an error.
  p.on('error', () => {});
  cleanup.push(() => p.end());
  return p;
}

test('three natters migrating one fresh database at once apply each migration exactly once', async () => {
  const db = await database();
  const nodes = [pool(db), pool(db), pool(db)];
  // Hold the lock first, so that all three are surely under way, and waiting, before any may migrate.
  const holder = new pg.Client({ connectionString: db.url });
  holder.on('error', () => {});
  await holder.connect();
  cleanup.push(() => holder.end());
  await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);

  const runs = nodes.map((p) => migratePostgres(p));
  await waitFor(async () => (await waitingForLock(holder)) === 3, {
    what: 'the three migrations to wait for the lock',
  });
  await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  const results = await within(Promise.all(runs), 'the three migrations to end');

  const tags = journalOf(POSTGRES_MIGRATIONS).entries.map((e) => e.tag);
  assert.ok(tags.length >= 2, 'the committed migrations include the schema and the search index');
  assert.deepEqual(
    results.map((r) => r.applied.length).sort(),
    [0, 0, tags.length],
    'the first to get the lock applied all; the others found nothing pending',
  );
  assert.deepEqual(results.flatMap((r) => r.applied).sort(), [...tags].sort());
  assert.deepEqual(await records(nodes[0] as pg.Pool), expectedRecords(POSTGRES_MIGRATIONS));
  const tables = await (nodes[1] as pg.Pool).query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  assert.deepEqual(
    tables.rows.map((r) => r.name).sort(),
    Object.values(schema)
      .filter((v) => is(v, PgTable))
      .map((v) => getTableName(v))
      .sort(),
    'every table of the schema is there',
  );
});

test('a failing migration leaves the database as it was and lets the next natter migrate', async () => {
  const db = await database();
  const node = pool(db);
  const root = mkdtempSync(join(tmpdir(), 'natter-pg-migrations-'));
  cleanup.push(async () => rmSync(root, { recursive: true, force: true }));

  // The committed migrations and a broken one after them: its first statement works, its second does not.
  const broken = join(root, 'migrations');
  cpSync(POSTGRES_MIGRATIONS, broken, { recursive: true });
  const journal = journalOf(broken);
  const last = journal.entries.at(-1);
  assert.ok(last);
  journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1, tag: '9999_broken' });
  writeFileSync(join(broken, 'meta/_journal.json'), JSON.stringify(journal));
  writeFileSync(
    join(broken, '9999_broken.sql'),
    'CREATE TABLE half_done (id integer);\n--> statement-breakpoint\nSELECT * FROM no_such_table;',
  );

  await assert.rejects(within(migratePostgres(node, broken), 'the broken migration'), /no_such_table/);
  const left = await node.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'",
  );
  assert.equal(left.rows[0]?.n, 0, 'no table of any migration stayed');
  assert.deepEqual(await records(node), [], 'and none is recorded as applied');

  // The lock went with the failed connection: another natter migrates without waiting for it.
  const other = pool(db);
  const done = await within(migratePostgres(other), 'the migration after the failed one');
  assert.deepEqual(
    done.applied,
    journalOf(POSTGRES_MIGRATIONS).entries.map((e) => e.tag),
  );
  assert.deepEqual(await records(other), expectedRecords(POSTGRES_MIGRATIONS));
  assert.deepEqual((await migratePostgres(node)).applied, [], 'and a second start finds nothing to do');
});

test('the event counter starts where the id sequence of an older database stopped, pruned events included', async () => {
  const db = await database();
  const node = pool(db);
  const root = mkdtempSync(join(tmpdir(), 'natter-pg-migrations-'));
  cleanup.push(async () => rmSync(root, { recursive: true, force: true }));

  // A database as the migrations before the counter left it, with events whose ids came from a sequence.
  const older = join(root, 'migrations');
  cpSync(POSTGRES_MIGRATIONS, older, { recursive: true });
  const journal = journalOf(older);
  const at = journal.entries.findIndex((e) => e.tag === '0003_event_counter');
  assert.ok(at > 0, 'the counter has a migration of its own');
  journal.entries = journal.entries.slice(0, at);
  writeFileSync(join(older, 'meta/_journal.json'), JSON.stringify(journal));
  await migratePostgres(node, older);
  await node.query(`INSERT INTO events (payload, created_at) VALUES ('{}', 1), ('{}', 2), ('{}', 3), ('{}', 4)`);
  // The newest were pruned: the largest id left is not the last one given out.
  await node.query('DELETE FROM events WHERE id > 2');

  const done = await migratePostgres(node);
  assert.deepEqual(
    done.applied,
    journalOf(POSTGRES_MIGRATIONS)
      .entries.slice(at)
      .map((e) => e.tag),
  );
  const counter = await node.query<{ last: string }>('SELECT last FROM event_counter');
  assert.deepEqual(
    counter.rows.map((r) => Number(r.last)),
    [4],
    'one row, at the last id given out',
  );
  // Ids now come from the counter alone: an insert without one is refused.
  await assert.rejects(
    node.query(`INSERT INTO events (payload, created_at) VALUES ('{}', 5)`),
    /null value in column "id"/,
  );
});
