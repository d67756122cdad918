import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, deadline, waitFor, within } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const run = promisify(execFile);
let t: TestServer;
let dir: string;
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-backup-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('case 48: an online backup taken during sends restores into a server with the same users and messages', async () => {
  const reg = await new HttpApi(t.httpUrl).call('register', { username: 'keeper', password: PASSWORD });
  const c = await connectAs(t.wsUrl, reg.token);
  const { channels } = await c.request('servers.create', { name: 'archive' });
  const channelId = channels[0]?.id ?? '';
  for (let i = 1; i <= 50; i++)
    await c.request('messages.send', { conversationId: channelId, body: `kept ${i}`, nonce: `kept-${i}` });

  // Writes keep coming while the backup runs.
  let stop = false;
  let extra = 0;
  const writer = (async () => {
    const overdue = deadline('the backup to finish while sends keep coming', 4 * DEADLINE_MS);
    // Each pass is bounded twice: the loop by `overdue`, each send by its own deadline.
    while (!stop) {
      overdue();
      await within(
        c.request('messages.send', { conversationId: channelId, body: `during ${extra}`, nonce: `during-${extra}` }),
        'a send during the backup',
      );
      extra++;
    }
  })();
  const file = join(dir, 'natter-backup.db');
  await waitFor(() => extra > 0, { what: 'the sends during the backup to start' });
  const before = extra;
  const { stdout } = await run(BIN, ['backup', file, '--data', t.dataDir], { timeout: DEADLINE_MS });
  const during = extra - before;
  stop = true;
  await writer;
  // A send takes a commit; the backup a process of its own: many sends complete while it runs.
  assert.ok(during > 0, 'sends went on while the backup ran');
  c.close();
  assert.match(stdout, /backed up to .*: 1 users, 1 conversations, \d+ messages .*integrity ok/);
  assert.ok(!readdirSync(dir).some((f) => f.includes('.backup-')), 'no temporary file is left behind');

  const copy = new Database(file, { readonly: true });
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const seqs = (copy.prepare('SELECT seq FROM messages ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);
  copy.close();
  assert.ok(seqs.length >= 50 && seqs.length <= 50 + extra);
  assert.deepEqual(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => i + 1),
    'a consistent snapshot: a prefix of the conversation, no gaps',
  );

  // Restore: the copy is the database of a fresh data directory.
  const restoredDir = join(dir, 'restored');
  mkdirSync(restoredDir);
  copyFileSync(file, join(restoredDir, 'natter.db'));
  const restored = await startTestServer({}, restoredDir);
  try {
    const again = await connectAs(restored.wsUrl, reg.token);
    const { messages } = await again.request('messages.history', { conversationId: channelId, limit: 50, after: 0 });
    assert.deepEqual(
      messages.map((m) => m.body),
      Array.from({ length: 50 }, (_, i) => `kept ${i + 1}`),
    );
    again.close();
    const login = await new HttpApi(restored.httpUrl).call('login', { username: 'keeper', password: PASSWORD });
    assert.equal(login.user.id, reg.user.id);
  } finally {
    await restored.destroy();
  }
});

test('a backup of a missing database fails in words and writes nothing', async () => {
  const target = join(dir, 'never.db');
  await assert.rejects(
    run(BIN, ['backup', target, '--data', join(dir, 'nothing-here')], { timeout: DEADLINE_MS }),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /no database at .*is --data right\?/);
      return true;
    },
  );
  assert.equal(existsSync(target), false);
});
