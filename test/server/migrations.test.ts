import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { closeDb, DB_FILE, openDb } from '../../src/server/db/index.js';
import { databaseAt } from '../helpers/old-database.js';

/**
 * The SQLite migrations in drizzle/sqlite/ and the databases earlier releases
 * migrated. drizzle records an applied migration by the time in its journal
 * entry (and the SHA-256 of its SQL), not by where the file was, and applies
 * only migrations newer than the newest it recorded: a migration whose journal
 * time or text changed after release would be skipped, or run again.
 */

/** Each migration as releases shipped it (from drizzle/ at the package root, before drizzle/sqlite/). */
const RELEASED = [
  ['0000_init', 1795301576296, 'd52439313e91ecd7aa2a35124bf889a51f675da2401965c262b90ea1a3af302d'],
  ['0001_conversations', 1795302915038, '4474307308638869b02647bb30a073f69b34f0e833dde82b158f075fb72c323d'],
  ['0002_membership_since', 1795309117292, '0c885007e02adf02ea241cfb24f7875cbdc51ba3d6873b08503b147591a8a86b'],
  ['0003_event_scope', 1795310281515, '87b83198957c76ff2391f5b783ccb9dc1f5a621cdffc527f856ca2225caefa30'],
  ['0004_limits_and_consent', 1796013795896, '4705508a7798da0571cd621ea27678286c237839eb3d093e82ccfa5a1f9efd97'],
  ['0005_login_addresses', 1796022820841, 'b144327519acb800012624d95e322dbe2ca4ef3f58d8cc4f70ccb477a8252765'],
  ['0006_capital_keys', 1796023168091, '62d9fa09bd434aec1ac6bbcc429a3e6211ff18330449b1bf12abd78d18c9b573'],
  ['0007_message_search', 1796029336100, '5de33dd90026af414200ced86d39b748aafe485f712a450d264df199c8ec73ce'],
  ['0008_message_kinds', 1796036458302, 'd116985741a97300e004c1929fd1361e1e2f53fc6595e94b5a25ae8f018640b5'],
] as const;

type Journal = { entries: { idx: number; when: number; tag: string }[] };
type Applied = { id: number; hash: string; created_at: number };

function journal(): Journal {
  return JSON.parse(readFileSync('drizzle/sqlite/meta/_journal.json', 'utf8')) as Journal;
}

function sha256(tag: string): string {
  return createHash('sha256')
    .update(readFileSync(`drizzle/sqlite/${tag}.sql`))
    .digest('hex');
}

/** What drizzle recorded in a database, in the order it applied it (its `id` column stays null in SQLite: the rowid). */
function applied(file: string): Applied[] {
  const sqlite = new Database(file, { readonly: true });
  try {
    return sqlite
      .prepare('SELECT rowid AS id, hash, created_at FROM __drizzle_migrations ORDER BY rowid')
      .all() as Applied[];
  } finally {
    sqlite.close();
  }
}

test('the SQLite migrations keep the names, journal times and texts they were released with', () => {
  const now = journal().entries.map((e) => [e.tag, e.when, sha256(e.tag)]);
  assert.deepEqual(
    now.slice(0, RELEASED.length),
    RELEASED.map((r) => [...r]),
  );
});

test('a fully migrated database from an earlier release opens with no migration run again, its rows intact', () => {
  const root = mkdtempSync(join(tmpdir(), 'natter-upgrade-'));
  try {
    // Migrated from a flat folder of the released files, as drizzle/ at the package root was.
    const { sqlite, dataDir } = databaseAt(root, RELEASED.length - 1);
    sqlite
      .prepare(
        `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES ('u1', 'Alice', 'alice', 'x', 1, 1)`,
      )
      .run();
    sqlite.close();
    const file = join(dataDir, DB_FILE);
    const before = applied(file);
    assert.equal(before.length, RELEASED.length);

    closeDb(openDb(dataDir));
    const once = applied(file);
    assert.deepEqual(once.slice(0, before.length), before, 'no released migration recorded again');
    assert.deepEqual(
      once.slice(before.length).map((a) => a.hash),
      journal()
        .entries.slice(RELEASED.length)
        .map((e) => sha256(e.tag)),
      'only the newer ones, once each',
    );
    closeDb(openDb(dataDir));
    assert.deepEqual(applied(file), once, 'a second start records nothing');
    const check = new Database(file, { readonly: true });
    try {
      assert.deepEqual(check.prepare('SELECT id, username FROM users').all(), [{ id: 'u1', username: 'Alice' }]);
    } finally {
      check.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a database an earlier release left at 0006 gets each later migration once, recorded as the journal has it', () => {
  const root = mkdtempSync(join(tmpdir(), 'natter-upgrade-'));
  try {
    const { sqlite, dataDir } = databaseAt(root, 6);
    sqlite.close();
    const file = join(dataDir, DB_FILE);
    const before = applied(file);
    assert.equal(before.length, 7);

    closeDb(openDb(dataDir));
    closeDb(openDb(dataDir));

    const after = applied(file);
    assert.deepEqual(after.slice(0, 7), before, 'the earlier records are untouched');
    assert.deepEqual(
      after.map((a) => [a.id, a.hash, Number(a.created_at)]),
      journal().entries.map((e, i) => [i + 1, sha256(e.tag), e.when]),
      'one record per migration, in journal order',
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
