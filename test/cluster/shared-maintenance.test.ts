import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { sharedBus } from '../helpers/nats.js';
import { type Cleanup, databaseFor, type TestDatabase } from '../helpers/postgres.js';
import { ServeProcess } from '../helpers/serve-process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The maintenance sweeps of natters sharing one PostgreSQL database run on
 * one of them at a time: the one holding the maintenance advisory lock.
 * When it stops, or dies, another takes the sweeps over. The in-process
 * natters here look for the lock every 50 ms instead of every hour.
 */

const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const database = () => databaseFor(cleanup);

/** The NATS of this file's natters: nodes sharing a database must share a bus. */
const busUrl = sharedBus(cleanup);

async function natter(db: TestDatabase): Promise<TestServer> {
  const t = await startTestServer({
    database: db.url,
    bus: await busUrl(),
    cluster: db.name,
    maintenanceIntervalMs: 50,
  });
  cleanup.push(() => t.destroy());
  return t;
}

/** Sessions of the database holding an advisory lock, by application name. */
async function lockHolders(db: TestDatabase): Promise<string[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const r = await client.query<{ name: string }>(
      `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return r.rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

test('the sweeps run on one natter of two sharing a database, and move to the other when it stops', async () => {
  const db = await database();
  const a = await natter(db);
  const b = await natter(db);
  const [holder, other] = await waitFor(
    () => (a.server.maintenance.runs >= 2 ? [a, b] : b.server.maintenance.runs >= 2 ? [b, a] : null),
    { what: 'one natter to run the sweeps twice' },
  );
  // Meanwhile the other asks for the lease at each interval, and is told no.
  const passes = other.server.maintenance.passes;
  await waitFor(() => other.server.maintenance.passes >= passes + 3, { what: 'the other natter to ask three times' });
  assert.equal(other.server.maintenance.runs, 0, 'the other natter ran no sweep');
  assert.equal(other.server.maintenance.holding, false);
  assert.equal(holder.server.maintenance.holding, true);
  assert.deepEqual(await lockHolders(db), ['natter lease'], 'one session holds the lock');

  await holder.stop();
  await waitFor(() => other.server.maintenance.runs >= 2, {
    what: 'the other natter to take the sweeps over',
    detail: () => JSON.stringify(other.server.maintenance),
  });
  assert.equal(other.server.maintenance.holding, true);
  assert.deepEqual(await lockHolders(db), ['natter lease']);
});

test('when the natter running the sweeps dies, another takes them over', async () => {
  const db = await database();
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-maintenance-'));
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const first = ServeProcess.spawn([
    '--data',
    dataDir,
    '--port',
    '0',
    '--tcp-port',
    '0',
    '--database',
    db.url,
    '--bus',
    await busUrl(),
    '--media-dir',
    join(dataDir, 'media'),
    '--cluster',
    db.name,
  ]);
  cleanup.push(async () => first.kill());
  await first.listening();
  await first.logged(/maintenance: this natter runs the sweeps for every natter on the database/);

  const second = await natter(db);
  const passes = second.server.maintenance.passes;
  await waitFor(() => second.server.maintenance.passes >= passes + 3, { what: 'the second natter to ask three times' });
  assert.equal(second.server.maintenance.runs, 0, 'the first natter holds the lease');

  // Killed: no goodbye, no unlock. Its connections close with the process, and the lock with its session.
  first.kill();
  await first.exit();
  await waitFor(() => second.server.maintenance.runs >= 1, {
    what: 'the second natter to take the sweeps over',
    detail: () => JSON.stringify(second.server.maintenance),
  });
  assert.equal(second.server.maintenance.holding, true);
});
