import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { closeDb, DB_FILE, openDb } from '../../src/server/db/index.js';
import { databaseAt } from '../helpers/old-database.js';
import { natter, removeTempDirs, tempDir } from './helpers.js';

// What `natter migrate-data` refuses before it copies anything; none of it needs PostgreSQL
// (the moves themselves are in test/cluster/migrate-data.test.ts).

after(removeTempDirs);

/** A current natter database, empty, in a data directory of its own. */
function natterDataDir(): string {
  const dir = tempDir();
  closeDb(openDb(dir));
  return dir;
}

/** Nothing listens on port 1 of the loopback. */
const NOWHERE = 'postgres://mover:secret@127.0.0.1:1/natter';

test('natter migrate-data --help says what it does, with both flags', async () => {
  const r = await natter(['migrate-data', '--help'], {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--from <dir>/);
  assert.match(r.stdout, /--to <url>/);
  assert.match(r.stdout, /refuses a\s+database that holds any rows/);
});

test('natter migrate-data without --from or --to is a usage error naming the flag', async () => {
  const noTo = await natter(['migrate-data', '--from', natterDataDir()], {});
  assert.equal(noTo.code, 2, noTo.stderr);
  assert.match(noTo.stderr, /required option '--to <url>' not specified/);
  const noFrom = await natter(['migrate-data', '--to', NOWHERE], {});
  assert.equal(noFrom.code, 2, noFrom.stderr);
  assert.match(noFrom.stderr, /required option '--from <dir>' not specified/);
});

test('natter migrate-data refuses a --to that is not a PostgreSQL URL, without showing its password', async () => {
  const dir = natterDataDir();
  for (const to of ['mysql://u:hunter2@127.0.0.1/natter', 'natter', 'postgres://127.0.0.1:5432']) {
    const r = await natter(['migrate-data', '--from', dir, '--to', to], {});
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error: usage: --to takes a PostgreSQL URL such as postgres:\/\/natter@127\.0\.0\.1:5432\/natter, not "/,
    );
    assert.doesNotMatch(r.stderr, /hunter2/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('natter migrate-data refuses a --from that does not exist, holds no database, or holds something else', async () => {
  const missing = join(tempDir(), 'nowhere');
  const gone = await natter(['migrate-data', '--from', missing, '--to', NOWHERE], {});
  assert.equal(gone.code, 2, gone.stderr);
  assert.equal(gone.stderr, `error: usage: --from ${missing} does not exist\n`);

  const empty = tempDir();
  const none = await natter(['migrate-data', '--from', empty, '--to', NOWHERE], {});
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /^error: usage: --from \S+ holds no natter database \(no natter\.db in it\)/);

  const junk = tempDir();
  writeFileSync(join(junk, DB_FILE), 'these are not the pages of a database, '.repeat(200));
  const unreadable = await natter(['migrate-data', '--from', junk, '--to', NOWHERE], {});
  assert.equal(unreadable.code, 2, unreadable.stderr);
  assert.match(unreadable.stderr, /^error: usage: cannot read --from \S+: file is not a database\n$/);

  const other = tempDir();
  const foreign = new Database(join(other, DB_FILE));
  foreign.exec('CREATE TABLE notes (body TEXT)');
  foreign.close();
  const notOurs = await natter(['migrate-data', '--from', other, '--to', NOWHERE], {});
  assert.equal(notOurs.code, 2, notOurs.stderr);
  assert.match(notOurs.stderr, /is a SQLite database, but not natter's\n$/);
});

test('natter migrate-data refuses a database an older natter left, saying how to bring it up to date, and leaves it as it was', async () => {
  const { sqlite, dataDir } = databaseAt(tempDir(), 5);
  const applied = () => (sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n;
  const before = applied();
  sqlite.close();
  const r = await natter(['migrate-data', '--from', dataDir, '--to', NOWHERE], {});
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^error: version: the database in --from \S+ was last opened by an older natter: start this version's server on it once \(natter serve --data \S+; it brings the database up to date\), stop it, and run migrate-data again\n$/,
  );
  const again = new Database(join(dataDir, DB_FILE), { readonly: true });
  try {
    assert.equal((again.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n, before);
  } finally {
    again.close();
  }
});

test('natter migrate-data refuses a database a newer natter wrote', async () => {
  const dir = tempDir();
  const db = openDb(dir);
  db.$client.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('from-the-future', ?)").run(9e12);
  closeDb(db);
  const r = await natter(['migrate-data', '--from', dir, '--to', NOWHERE], {});
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^error: version: the database in --from \S+ was written by a newer natter than this one: run that version's natter migrate-data\n$/,
  );
});

test('natter migrate-data with a PostgreSQL it cannot reach exits 4, naming --to without its password', async () => {
  const r = await natter(['migrate-data', '--from', natterDataDir(), '--to', NOWHERE], {});
  assert.equal(r.code, 4, r.stderr);
  assert.match(
    r.stderr,
    /^error: unreachable: cannot reach PostgreSQL at --to postgres:\/\/mover@127\.0\.0\.1:1\/natter: .*ECONNREFUSED/,
  );
  assert.doesNotMatch(r.stderr, /secret/);
  assert.equal(r.stdout, '');
});
