import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../helpers/server.js';

type Ready = {
  ready: boolean;
  stopping: boolean;
  database: { backend: string; ok: boolean };
  bus: { transport: string; connected: boolean; mode: string; lastApplied: number };
};

test('/readyz says ready while the database answers, and not ready (503) once it does not; /healthz stays alive', async () => {
  const t = await startTestServer();
  try {
    const ok = await fetch(`${t.httpUrl}/readyz`);
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as Ready;
    assert.equal(body.ready, true);
    assert.equal(body.stopping, false);
    assert.deepEqual(body.database, { backend: 'sqlite', ok: true });
    assert.equal(body.bus.transport, 'local');
    assert.equal(body.bus.connected, true);
    assert.equal(body.bus.mode, 'push');

    const post = await fetch(`${t.httpUrl}/readyz`, { method: 'POST' });
    assert.equal(post.status, 400);
    assert.match(((await post.json()) as { error: { message: string } }).error.message, /use GET here/);

    // The database goes away under the running server.
    await t.server.services.store.close();
    const down = await fetch(`${t.httpUrl}/readyz`);
    assert.equal(down.status, 503);
    const downBody = (await down.json()) as Ready;
    assert.equal(downBody.ready, false);
    assert.deepEqual(downBody.database, { backend: 'sqlite', ok: false });
    // Alive is another question: the process still answers.
    const alive = await fetch(`${t.httpUrl}/healthz`);
    assert.equal(alive.status, 200);
  } finally {
    await t.destroy();
  }
});
