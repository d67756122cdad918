import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '../../src/server/config.js';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { download, upload } from '../helpers/media.js';
import { sharedBus } from '../helpers/nats.js';
import { type Cleanup, databaseFor, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, waitFor } from '../helpers/wait.js';

/**
 * Backups of a PostgreSQL installation: pg_dump (custom format) and the
 * uploaded files, restored with pg_restore into another database; and in a
 * cluster, scheduled backups taken by one natter at a time.
 */

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const run = promisify(execFile);
const cleanup: Cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});
const database = () => databaseFor(cleanup);
const busUrl = sharedBus(cleanup);

function dir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(async () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs the built natter; resolves with its exit code and output, whatever the code. */
async function natter(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(BIN, args, { timeout: DEADLINE_MS });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function server(overrides: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const t = await startTestServer(overrides);
  cleanup.push(() => t.destroy());
  return t;
}

const BACKUP = /^natter-\d{4}-\d{2}-\d{2}T\d{6}Z(-\d+)?$/;

test('a PostgreSQL backup (pg_dump and the files) restores with pg_restore into another database that then serves the same account, messages and file', async () => {
  const source = await database();
  const media = dir('natter-pg-media-');
  const t = await server({ database: source.url, mediaDir: media });
  const api = new HttpApi(t.httpUrl);
  const username = `pgkeeper${process.pid}`;
  await api.call('register', { username, password: PASSWORD });
  const { channels } = await api.call('servers.create', { name: 'archive' });
  const channelId = channels[0]?.id ?? '';
  const bytes = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31) % 256));
  const file = await upload(api, t.httpUrl, 'data.bin', bytes);
  await api.call('messages.send', { conversationId: channelId, body: 'kept', nonce: 'p1', attachments: [file.id] });

  // Online, while the server runs.
  const into = dir('natter-pg-backups-');
  const b = await natter(['backup', '--into', into, '--database', source.url, '--media-dir', media]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /the PostgreSQL database and 1 uploaded file\(s\)/);
  const [name] = readdirSync(into).filter((n) => BACKUP.test(n));
  const backup = join(into, name ?? '');
  assert.deepEqual(readdirSync(backup).sort(), ['manifest.json', 'media', 'natter.pgdump']);
  assert.equal((statSync(join(backup, 'natter.pgdump')).mode & 0o777).toString(8), '600');

  // Refused while a natter serves the database, whatever --yes says.
  const busy = await natter(['restore', backup, '--database', source.url, '--media-dir', media, '--yes']);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /server_running: 1 natter server\(s\) serve .* now: stop every one first/);

  const target = await database();
  const media2 = dir('natter-pg-media2-');
  const r = await natter(['restore', backup, '--database', target.url, '--media-dir', media2]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^restored .* into postgres:\/\/.*: the database and 1 uploaded file\(s\)/);
  // Restoring again finds natter's tables there: refused without --yes, done with it.
  const again = await natter(['restore', backup, '--database', target.url, '--media-dir', media2]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not_empty: .* holds \d+ table\(s\): restoring drops and replaces .*add --yes/);
  const forced = await natter(['restore', backup, '--database', target.url, '--media-dir', media2, '--yes']);
  assert.equal(forced.code, 0, forced.stderr);

  await t.stop();
  const restored = await server({ database: target.url, mediaDir: media2 });
  const api2 = new HttpApi(restored.httpUrl);
  const login = await api2.call('login', { username, password: PASSWORD });
  const { messages } = await api2.call('messages.history', { conversationId: channelId, limit: 10, after: 0 });
  assert.deepEqual(
    messages.map((m) => m.body),
    ['kept'],
  );
  const got = await download(restored.httpUrl, file.url, login.token);
  assert.equal(got.status, 200);
  assert.ok(got.body.equals(bytes), 'the file is byte for byte the one uploaded');
});

test('of two natters sharing a database, one takes the scheduled backups; the other takes over when it stops', async () => {
  const db: TestDatabase = await database();
  const backups = dir('natter-pg-scheduled-');
  const settings = { dir: backups, everyMs: 50, keep: 50 };
  const bus = await busUrl();
  const a = await server({ database: db.url, bus, cluster: db.name, backup: settings });
  const b = await server({ database: db.url, bus, cluster: db.name, backup: settings });
  const statsOf = (t: TestServer) => {
    const s = t.server.backups;
    assert.ok(s, 'a backup scheduler');
    return s.stats;
  };
  const [holder, other] = await waitFor(
    () => (statsOf(a).successes >= 3 ? [a, b] : statsOf(b).successes >= 3 ? [b, a] : null),
    { what: 'one natter to take three backups', detail: () => JSON.stringify([statsOf(a), statsOf(b)]) },
  );
  assert.equal(statsOf(other).successes, 0, 'the other natter took none');
  assert.equal(statsOf(other).failures, 0);
  assert.equal(statsOf(holder).failures, 0);
  assert.ok(readdirSync(backups).filter((n) => BACKUP.test(n)).length >= 3);
  await holder.stop();
  await waitFor(() => statsOf(other).successes >= 1, {
    what: 'the other natter to take the backups over',
    detail: () => JSON.stringify(statsOf(other)),
  });
});

test('--backup-every with PostgreSQL and no pg_dump on the PATH is refused at start', async () => {
  const db = await database();
  const path = process.env.PATH;
  process.env.PATH = dir('natter-empty-path-');
  try {
    await assert.rejects(
      startTestServer({ database: db.url, backup: { dir: dir('natter-pg-none-'), everyMs: 60_000, keep: 1 } }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(
          err.message,
          /--backup-every with a PostgreSQL database: pg_dump is not installed or not on the PATH/,
        );
        return true;
      },
    );
  } finally {
    process.env.PATH = path;
  }
});
