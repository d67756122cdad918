import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { NatterClient } from '../../src/client/index.js';
import { connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let c: NatterClient;
let channelId = '';
before(async () => {
  t = await startTestServer();
  const reg = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('fault'), password: PASSWORD });
  c = await connectAs(t.wsUrl, reg.token);
  channelId = (await c.request('servers.create', { name: 'faults' })).channels[0]?.id ?? '';
});
after(async () => {
  c.close();
  await t.destroy();
});

async function count(): Promise<number> {
  return (await c.request('messages.history', { conversationId: channelId, limit: 100 })).messages.length;
}

test('case 46: a full disk answers unavailable without acknowledging, and recovers when space returns', async () => {
  const sqlite = t.server.sqlite().$client;
  // SQLite's own cap on the file size stands in for a full disk: writes past it fail with SQLITE_FULL.
  const pages = sqlite.pragma('page_count', { simple: true }) as number;
  sqlite.pragma(`max_page_count = ${pages}`);
  const acked: string[] = [];
  const refused: string[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      const nonce = `full-${i}`;
      const err = await c.request('messages.send', { conversationId: channelId, body: 'x'.repeat(3000), nonce }).then(
        () => null,
        (e: unknown) => e,
      );
      if (err) {
        assert.equal((err as { code?: string }).code, 'unavailable', nonce);
        refused.push(nonce);
      } else {
        acked.push(nonce);
      }
    }
    assert.ok(refused.length > 0, 'the disk filled up');
  } finally {
    sqlite.pragma('max_page_count = 4294967294');
  }
  // Whatever was acknowledged is stored; nothing refused is.
  const stored = new Set(
    (sqlite.prepare("SELECT nonce FROM messages WHERE nonce LIKE 'full-%'").all() as { nonce: string }[]).map(
      (r) => r.nonce,
    ),
  );
  assert.deepEqual(
    acked.filter((n) => !stored.has(n)),
    [],
    'every acknowledged send is stored',
  );
  assert.deepEqual(
    refused.filter((n) => stored.has(n)),
    [],
    'no refused send is stored',
  );
  const ok = await c.request('messages.send', {
    conversationId: channelId,
    body: 'space is back',
    nonce: 'full-after',
  });
  assert.equal(ok.duplicate, false);
  assert.equal(sqlite.pragma('integrity_check', { simple: true }), 'ok');
});

test('case 46: a read-only database answers unavailable and recovers', async () => {
  const sqlite = t.server.sqlite().$client;
  const before = await count();
  sqlite.pragma('query_only = ON');
  try {
    const err = await rejection(c.request('messages.send', { conversationId: channelId, body: 'nope', nonce: 'ro-1' }));
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /nothing was saved/);
    // Reads still work.
    assert.equal(await count(), before);
  } finally {
    sqlite.pragma('query_only = OFF');
  }
  const sent = await c.request('messages.send', { conversationId: channelId, body: 'writable again', nonce: 'ro-1' });
  assert.equal(sent.duplicate, false, 'the refused send left nothing behind, so its nonce is fresh');
});

test('case 47: a database locked by another program answers unavailable at once (no busy wait); no crash', async () => {
  const sqlite = t.server.sqlite().$client;
  assert.equal(sqlite.pragma('busy_timeout', { simple: true }), 0, 'the server does not wait for locks');
  const other = new Database(sqlite.name);
  other.exec('BEGIN IMMEDIATE');
  try {
    const err = await rejection(
      c.request('messages.send', { conversationId: channelId, body: 'blocked', nonce: 'lock-1' }),
    );
    assert.equal(err.code, 'unavailable');
  } finally {
    other.exec('ROLLBACK');
    other.close();
  }
  const sent = await c.request('messages.send', { conversationId: channelId, body: 'unlocked', nonce: 'lock-1' });
  assert.equal(sent.duplicate, false);
});
