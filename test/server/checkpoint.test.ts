import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

describe('WAL checkpoints run off the event loop', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.destroy();
  });

  test('the server connection never checkpoints; the worker copies the WAL back as messages commit', async () => {
    const sqlite = t.server.sqlite().$client;
    assert.equal(sqlite.pragma('wal_autocheckpoint', { simple: true }), 0);
    const reg = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('wal'), password: PASSWORD });
    const c = await connectAs(t.wsUrl, reg.token);
    try {
      const { channels } = await c.request('servers.create', { name: 'wal' });
      const conversationId = channels[0]?.id ?? '';
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          c.request('messages.send', { conversationId, body: `m${i}`, nonce: `wal-${i}` }),
        ),
      );
      const checkpointer = t.server.checkpointer;
      assert.ok(checkpointer, 'a SQLite server has a checkpoint thread');
      await waitFor(() => checkpointer.stats.checkpoints > 0, {
        what: 'a checkpoint to copy the WAL back',
        intervalMs: 50,
      });
      // What the worker wrote back is what the server sees.
      const { messages } = await c.request('messages.history', { conversationId, limit: 100 });
      assert.equal(messages.at(-1)?.body, 'm199');
    } finally {
      c.close();
    }
  });
});
