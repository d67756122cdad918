import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/server/config.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer } from '../helpers/server.js';

// The natters serving one database must share one bus and one cluster name:
// a natter without --bus beside a cluster (or a second cluster) would see the
// others' messages only when it happened to read the database. natter serve
// refuses to start so, saying who is already there.

let db: TestDatabase;
let bus: TestNats;
before(async () => {
  db = await freshDatabase();
  bus = await testNats({ started: true });
});
after(async () => {
  await bus.dispose();
  await db.drop();
});

async function refused(overrides: Parameters<typeof startTestServer>[0]): Promise<string> {
  try {
    const t = await startTestServer(overrides);
    await t.destroy();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    return err.message;
  }
  assert.fail('the natter started');
}

test('beside a cluster, a natter without --bus and a node of another cluster are refused; one of the same cluster joins', async () => {
  const first = await startTestServer({ database: db.url, bus: bus.url, cluster: 'east' });
  try {
    assert.match(
      await refused({ database: db.url }),
      /^a node of the cluster "east" already serves this database: every node sharing a database needs --bus \(the same NATS\) and the same --cluster/,
    );
    assert.match(
      await refused({ database: db.url, bus: bus.url, cluster: 'west' }),
      /^a node of the cluster "east" already serves this database: nodes sharing a database need the same --bus and the same --cluster/,
    );
    const second = await startTestServer({ database: db.url, bus: bus.url, cluster: 'east' });
    await second.destroy();
  } finally {
    await first.destroy();
  }
});

test('beside a natter without --bus, neither another one nor a cluster node may serve the database; once it stops, one may', async () => {
  const alone = await startTestServer({ database: db.url });
  try {
    assert.match(await refused({ database: db.url }), /^a natter serve without --bus already serves this database/);
    assert.match(
      await refused({ database: db.url, bus: bus.url, cluster: 'east' }),
      /^a natter serve without --bus already serves this database: nodes sharing a database need the same --bus/,
    );
  } finally {
    await alone.destroy();
  }
  const next = await startTestServer({ database: db.url, bus: bus.url, cluster: 'east' });
  await next.destroy();
});
