import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { download, upload } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { natter, removeTempDirs, tempDir } from './helpers.js';

/**
 * `natter backup --into` and `natter restore` through the built binary, on
 * SQLite: a whole backup of a running server (messages and uploaded files)
 * restored into a fresh data directory serves the same accounts, messages
 * and bytes; restoring into a data directory a server has open is refused.
 */

const servers: TestServer[] = [];
after(async () => {
  for (const t of servers) await t.destroy();
  removeTempDirs();
});

const BACKUP = /^natter-\d{4}-\d{2}-\d{2}T\d{6}Z(-\d+)?$/;
const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
let t: TestServer;
let backupDir: string;
let username: string;
let channelId: string;
let fileUrl: string;

before(async () => {
  t = await startTestServer();
  servers.push(t);
  username = `keeper${process.pid}`;
  const api = new HttpApi(t.httpUrl);
  await api.call('register', { username, password: PASSWORD });
  const { channels } = await api.call('servers.create', { name: 'archive' });
  channelId = channels[0]?.id ?? '';
  const file = await upload(api, t.httpUrl, 'data.bin', bytes);
  fileUrl = file.url;
  await api.call('messages.send', { conversationId: channelId, body: 'first', nonce: 'n1', attachments: [file.id] });
  await api.call('messages.send', { conversationId: channelId, body: 'second', nonce: 'n2' });

  const into = tempDir('natter-restore-');
  const r = await natter(['backup', '--into', into, '--data', t.dataDir], {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backed up to .*natter-\S+: the SQLite database and 1 uploaded file\(s\) \(\d+ KiB\)\n$/);
  const names = readdirSync(into).filter((n) => BACKUP.test(n));
  assert.equal(names.length, 1);
  backupDir = join(into, names[0] ?? '');
});

test('restoring into the data directory of a running server is refused, and changes nothing', async () => {
  const before = readdirSync(t.dataDir).sort();
  const r = await natter(['restore', backupDir, '--data', t.dataDir], {});
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /server_running: .*natter\.db is in use: a natter server .* has it open; stop it first/);
  assert.deepEqual(readdirSync(t.dataDir).sort(), before);
  // Still serving what it served.
  const api = new HttpApi(t.httpUrl);
  await api.call('login', { username, password: PASSWORD });
});

test('a backup of a running server, restored into a fresh data directory, serves the same account, messages and file', async () => {
  await t.stop();
  const fresh = join(tempDir('natter-restored-'), 'data');
  const r = await natter(['restore', backupDir, '--data', fresh], {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^restored .* \(made \d{4}-.*\) into .*natter\.db: the database and 1 uploaded file\(s\)/);
  assert.doesNotMatch(r.stdout, /kept as/, 'there was no database to keep aside');

  const restored = await startTestServer({}, fresh);
  servers.push(restored);
  const api = new HttpApi(restored.httpUrl);
  const login = await api.call('login', { username, password: PASSWORD });
  const { messages } = await api.call('messages.history', { conversationId: channelId, limit: 10, after: 0 });
  assert.deepEqual(
    messages.map((m) => m.body),
    ['first', 'second'],
  );
  const got = await download(restored.httpUrl, fileUrl, login.token);
  assert.equal(got.status, 200);
  assert.ok(got.body.equals(bytes), 'the file is byte for byte the one uploaded');
  await restored.stop();
});

test('restoring over a stopped server keeps its database aside as natter.db.before-restore-<time>', async () => {
  const r = await natter(['restore', backupDir, '--data', t.dataDir, '--json'], {});
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { keptAs: string; files: number; database: string };
  assert.equal(s.database, 'sqlite');
  assert.equal(s.files, 1);
  assert.match(s.keptAs, /natter\.db\.before-restore-\d{8}T\d{6}Z$/);
  const kept = new Database(s.keptAs, { readonly: true });
  assert.equal(kept.pragma('integrity_check', { simple: true }), 'ok');
  kept.close();
  assert.equal(existsSync(join(t.dataDir, 'natter.db-wal')), false);
});

test('a damaged backup (a file whose bytes changed) is refused before anything is written', async () => {
  const copy = join(tempDir('natter-damaged-'), 'backup');
  cpSync(backupDir, copy, { recursive: true });
  const media = join(copy, 'media');
  const [a] = readdirSync(media);
  const [b] = readdirSync(join(media, a ?? ''));
  const [name] = readdirSync(join(media, a ?? '', b ?? ''));
  const blob = join(media, a ?? '', b ?? '', name ?? '');
  const changed = readFileSync(blob);
  changed[0] = (changed[0] ?? 0) ^ 0xff;
  // cpSync copied the hard link's bytes into a file of the copy's own.
  writeFileSync(blob, changed);
  const target = join(tempDir('natter-untouched-'), 'data');
  const r = await natter(['restore', copy, '--data', target], {});
  assert.equal(r.code, 1);
  assert.match(r.stderr, /damaged: .* does not hold the bytes its name says: the backup is damaged/);
  assert.equal(existsSync(target), false, 'nothing was created');
});

test('a database file natter backup FILE wrote restores on its own', async () => {
  const file = join(tempDir('natter-file-'), 'copy.db');
  // The server is stopped now: natter backup works on a stopped one as well.
  const b = await natter(['backup', file, '--data', t.dataDir], {});
  assert.equal(b.code, 0, b.stderr);
  const target = join(tempDir('natter-from-file-'), 'data');
  const r = await natter(['restore', file, '--data', target], {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /the database and 0 uploaded file\(s\)/);
  const db = new Database(join(target, 'natter.db'), { readonly: true });
  assert.equal((db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 2);
  db.close();
});

test('restore and backup mistakes are told in words: exit 2 for usage, 1 for a file that is no backup', async () => {
  const nothing = await natter(['restore', join(tempDir(), 'missing'), '--data', tempDir()], {});
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /there is no backup at /);
  const notBackup = join(tempDir(), 'notes.txt');
  writeFileSync(notBackup, 'hello\n');
  const junk = await natter(['restore', notBackup, '--data', tempDir()], {});
  assert.equal(junk.code, 1);
  assert.match(junk.stderr, /is neither a backup directory natter made, nor a SQLite database, nor a pg_dump archive/);
  const wrongTarget = await natter(['restore', backupDir, '--database', 'postgres://natter@127.0.0.1:1/natter'], {});
  assert.equal(wrongTarget.code, 2);
  assert.match(wrongTarget.stderr, /is a SQLite backup: restore it into a data directory \(--data\)/);
  const neither = await natter(['backup'], {});
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /say where to write the backup/);
  const both = await natter(['backup', 'x.db', '--into', tempDir()], {});
  assert.equal(both.code, 2);
});

test('natter serve refuses bad backup settings as usage errors', async () => {
  const often = await natter(['serve', '--backup-every', '30s'], {});
  assert.equal(often.code, 2);
  assert.match(often.stderr, /backups are at least 1m \(one minute\) apart/);
  const none = await natter(['serve', '--backup-every', '6h', '--backup-keep', '0'], {});
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--backup-keep .*expected a positive whole number/);
  const lone = await natter(['serve', '--backup-dir', tempDir()], {});
  assert.equal(lone.code, 2);
  assert.match(lone.stderr, /--backup-dir goes with --backup-every/);
  const fromEnv = await natter(['serve', '--port', '0'], { NATTER_BACKUP_EVERY: 'often' });
  assert.equal(fromEnv.code, 2);
  assert.match(fromEnv.stderr, /--backup-every/);
});
