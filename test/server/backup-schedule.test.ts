import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import type { BackupOutcome } from '../../src/server/backup/scheduler.js';
import { ConfigError } from '../../src/server/config.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { upload } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Scheduled backups (`natter serve --backup-every`): taken while the server
 * serves, each a directory with the database and the files it names, the
 * newest N kept, failures counted without stopping the server. The servers
 * here take one every 50 ms instead of every few hours.
 */

const root = mkdtempSync(join(tmpdir(), 'natter-backups-'));
const servers: TestServer[] = [];
after(async () => {
  for (const t of servers) await t.destroy();
  rmSync(root, { recursive: true, force: true });
});

const BACKUP = /^natter-\d{4}-\d{2}-\d{2}T\d{6}Z(-\d+)?$/;
const backupsIn = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => BACKUP.test(n))
        .sort()
    : [];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const blobIn = (dir: string, hash: string) => join(dir, hash.slice(0, 2), hash.slice(2, 4), hash);

async function serverWithBackups(dir: string, keep: number, everyMs = 50): Promise<TestServer> {
  const t = await startTestServer({ backup: { dir, everyMs, keep } });
  servers.push(t);
  return t;
}

/** A user who posted a message with a file; returns the file's bytes. */
async function postFile(t: TestServer, bytes: Buffer): Promise<{ api: HttpApi; channelId: string }> {
  const api = new HttpApi(t.httpUrl);
  await api.call('register', { username: uniqueName('bk'), password: PASSWORD });
  const { channels } = await api.call('servers.create', { name: 'kept' });
  const channelId = channels[0]?.id ?? '';
  const file = await upload(api, t.httpUrl, 'notes.bin', bytes);
  await api.call('messages.send', {
    conversationId: channelId,
    body: 'with a file',
    nonce: 'f1',
    attachments: [file.id],
  });
  return { api, channelId };
}

test('scheduled backups hold the database and its files, share unchanged files, and only the newest N stay', async () => {
  const dir = join(root, 'scheduled');
  mkdirSync(dir);
  // Not natter's: never touched by pruning.
  writeFileSync(join(dir, 'notes.txt'), 'mine\n');
  mkdirSync(join(dir, 'natter-by-hand'));
  const t = await serverWithBackups(dir, 2);
  const bytes = Buffer.from(`backed-up bytes ${process.pid}\n`.repeat(200));
  const outcomes: BackupOutcome[] = [];
  const scheduler = t.server.backups;
  assert.ok(scheduler, 'the server has a backup scheduler');
  scheduler.onBackup = (o) => outcomes.push(o);
  await postFile(t, bytes);
  const start = scheduler.stats.successes;
  await waitFor(() => scheduler.stats.successes >= start + 3, {
    what: 'three scheduled backups after the upload',
    detail: () => JSON.stringify(scheduler.stats),
  });
  // Stopping waits for a backup under way, so what is left is settled.
  await t.stop();

  const names = backupsIn(dir);
  assert.equal(names.length, 2, `the newest two are kept: ${names.join(', ')}`);
  assert.ok(existsSync(join(dir, 'notes.txt')) && existsSync(join(dir, 'natter-by-hand')), 'other files stay');
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith('.partial')),
    [],
    'no temporary directory is left',
  );
  assert.equal(scheduler.stats.failures, 0);
  assert.ok(scheduler.stats.lastSuccessAt !== null && scheduler.stats.lastBytes !== null);
  assert.ok(outcomes.length >= 3 && outcomes.every((o) => o.ok && (o.bytes ?? 0) > bytes.length));

  const [older, newer] = names.map((n) => join(dir, n));
  const manifest = JSON.parse(readFileSync(join(newer ?? '', 'manifest.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.database, 'sqlite');
  assert.equal(manifest.blobs, 1);
  assert.equal(manifest.bytes, scheduler.stats.lastBytes);
  const copy = new Database(join(newer ?? '', 'natter.db'), { readonly: true });
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const bodies = copy.prepare('SELECT body FROM messages').all() as { body: string }[];
  copy.close();
  assert.deepEqual(
    bodies.map((r) => r.body),
    ['with a file'],
  );
  const hash = sha(bytes);
  const inNewer = blobIn(join(newer ?? '', 'media'), hash);
  assert.deepEqual(readFileSync(inNewer), bytes);
  // Hard links: the live blob and both backups' copies are one file on disk.
  const live = statSync(blobIn(join(t.dataDir, 'media'), hash));
  assert.equal(statSync(inNewer).ino, live.ino);
  assert.equal(statSync(blobIn(join(older ?? '', 'media'), hash)).ino, live.ino);
  assert.equal((statSync(newer ?? '').mode & 0o777).toString(8), '700');
  assert.equal((statSync(join(newer ?? '', 'natter.db')).mode & 0o777).toString(8), '600');
});

test('a backup directory that cannot be written is refused at start, before the database is opened', async () => {
  const data = join(root, 'refused-data');
  const blocker = join(root, 'a-file');
  writeFileSync(blocker, 'in the way\n');
  await assert.rejects(
    startTestServer({ backup: { dir: join(blocker, 'backups'), everyMs: 50, keep: 1 } }, data),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /^--backup-dir: cannot create the backup directory .*a-file\/backups/);
      return true;
    },
  );
  assert.equal(existsSync(join(data, 'natter.db')), false, 'nothing was opened');
});

test('a read-only backup directory is refused at start (the probe file cannot be written)', {
  skip: process.getuid?.() === 0 ? 'root writes into read-only directories' : false,
}, async () => {
  const dir = join(root, 'read-only');
  mkdirSync(dir, { mode: 0o500 });
  await assert.rejects(startTestServer({ backup: { dir, everyMs: 50, keep: 1 } }), /--backup-dir: cannot write into/);
});

test('a missing backup directory is created 0700; keep below 1 is refused', async () => {
  const dir = join(root, 'made', 'deeper');
  const t = await serverWithBackups(dir, 1, 3_600_000);
  assert.equal((statSync(dir).mode & 0o777).toString(8), '700');
  await t.stop();
  await assert.rejects(
    startTestServer({ backup: { dir, everyMs: 50, keep: 0 } }),
    /--backup-keep takes how many backups to keep, at least 1/,
  );
});

test('a backup that fails while the server runs is logged and counted, the server keeps serving, and the next one works', async () => {
  const dir = join(root, 'failing');
  const t = await serverWithBackups(dir, 3);
  const scheduler = t.server.backups;
  assert.ok(scheduler);
  const outcomes: BackupOutcome[] = [];
  scheduler.onBackup = (o) => outcomes.push(o);
  await waitFor(() => scheduler.stats.successes >= 1, { what: 'a first backup' });
  // The directory goes away, and a file takes its place: no backup can be written there.
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory\n');
  await waitFor(() => scheduler.stats.failures >= 2, { what: 'two failed backups' });
  const failed = outcomes.find((o) => !o.ok);
  assert.ok(failed?.error && failed.error.length > 0, 'the outcome says why');
  assert.equal(failed.bytes, undefined);
  // Still serving.
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username: uniqueName('alive'), password: PASSWORD });
  assert.ok(reg.token);

  rmSync(dir, { force: true });
  mkdirSync(dir);
  const before = scheduler.stats.successes;
  await waitFor(() => scheduler.stats.successes > before, { what: 'a backup once the directory is back' });
  await t.stop();
  assert.ok(backupsIn(dir).length >= 1);
  assert.deepEqual(
    readdirSync(dir).filter((n) => !BACKUP.test(n)),
    [],
    'nothing half-written is left',
  );
});
