import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DB_FILE } from '../db/index.js';
import { carryBlob, type Manifest, MEDIA, readManifest } from './backup-set.js';
import { checkPgTool, runPgTool, splitPassword } from './pg-tools.js';

/** Why a restore did not happen: `usage` (wrong arguments), `refused` (unsafe now), `damaged` (a bad backup). */
export class RestoreError extends Error {
  constructor(
    readonly code: 'usage' | 'refused' | 'damaged' | 'not_empty' | 'server_running' | 'unreachable',
    message: string,
  ) {
    super(message);
    this.name = 'RestoreError';
  }
}

/** Where a restore goes. */
export type RestoreTarget = {
  /** The data directory (SQLite's database, and media/ unless `mediaDir`). */
  dataDir: string;
  /** A PostgreSQL URL to restore into instead of SQLite in `dataDir`. */
  database: string | null;
  /** Where the uploaded files go (`--media-dir`); null: media/ under `dataDir`. */
  mediaDir: string | null;
  /** Restore into a PostgreSQL database that holds tables (they are dropped and replaced). */
  yes: boolean;
};

/** What a restore did. */
export type RestoreSummary = {
  from: string;
  /** The SQLite file or the PostgreSQL URL (without its password) restored into. */
  to: string;
  database: 'sqlite' | 'postgres';
  /** Uploaded files put back into the media directory (those already there included). */
  files: number;
  mediaDir: string;
  /** Where the replaced SQLite database was kept, or null when there was none (or PostgreSQL). */
  keptAs: string | null;
  /** When the backup was made (from its manifest), or null for a bare database file. */
  createdAt: string | null;
};

const SQLITE_MAGIC = 'SQLite format 3\0';
const PGDMP_MAGIC = 'PGDMP';

/** Checks a `--database` URL the way `natter serve` does. */
export function checkConfigDatabase(url: string): void {
  let u: URL | null;
  try {
    u = new URL(url);
  } catch {
    u = null;
  }
  if (!u || (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') || u.pathname.length <= 1) {
    throw new RestoreError(
      'usage',
      `--database takes a PostgreSQL URL such as postgres://natter@127.0.0.1:5432/natter, not "${url}"`,
    );
  }
}

/** The URL without its password, to print. */
function shown(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/** The first bytes of a file. */
async function head(file: string, n: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await handle.close();
  }
}

/** What a restore reads: a backup directory natter made, or a bare database file. */
type Source = { dbFile: string; kind: 'sqlite' | 'postgres'; media: string | null; manifest: Manifest | null };

async function readSource(from: string): Promise<Source> {
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(from);
  } catch {
    throw new RestoreError('usage', `there is no backup at ${from}`);
  }
  if (s.isDirectory()) {
    let manifest: Manifest;
    try {
      manifest = await readManifest(from);
    } catch (err) {
      throw new RestoreError('damaged', (err as Error).message);
    }
    return { dbFile: join(from, manifest.file), kind: manifest.database, media: join(from, MEDIA), manifest };
  }
  const magic = await head(from, 16);
  if (magic === SQLITE_MAGIC) return { dbFile: from, kind: 'sqlite', media: null, manifest: null };
  if (magic.startsWith(PGDMP_MAGIC)) return { dbFile: from, kind: 'postgres', media: null, manifest: null };
  throw new RestoreError(
    'damaged',
    `${from} is neither a backup directory natter made, nor a SQLite database, nor a pg_dump archive`,
  );
}

/** The SHA-256 of a file, streamed. */
function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Every blob of a backup's media directory, each checked against its name; throws on the first that does not match. */
async function checkBlobs(media: string): Promise<string[]> {
  const found: string[] = [];
  const list = async (dir: string) => {
    try {
      return await readdir(dir);
    } catch {
      return [];
    }
  };
  for (const a of await list(media)) {
    for (const b of await list(join(media, a))) {
      for (const name of await list(join(media, a, b))) {
        const path = join(media, a, b, name);
        if (!/^[0-9a-f]{64}$/.test(name) || !name.startsWith(a + b)) {
          throw new RestoreError('damaged', `${path} is not a file natter stored: the backup is damaged`);
        }
        if ((await hashFile(path)) !== name) {
          throw new RestoreError('damaged', `${path} does not hold the bytes its name says: the backup is damaged`);
        }
        found.push(name);
      }
    }
  }
  return found;
}

/** Checks a SQLite database file: natter's, and whole (`integrity_check`). */
function checkSqlite(file: string): void {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new RestoreError('damaged', `cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new RestoreError('damaged', `${file} failed its integrity check: ${String(check)}`);
    const users = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'").get();
    if (users === undefined) throw new RestoreError('damaged', `${file} is a SQLite database, but not natter's`);
  } catch (err) {
    if (err instanceof RestoreError) throw err;
    throw new RestoreError('damaged', `${file} cannot be read: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

/** fsyncs a file or directory. */
async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `20261201T080000Z` of now. */
function compactStamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Makes sure no natter (nor any other program) has the database open, and
 * leaves it one self-contained file: leaving WAL mode needs the only
 * connection to the file, which a running server always holds. Throws when
 * one is open.
 */
function quiesceSqlite(file: string): void {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
  } catch (err) {
    throw new RestoreError('refused', `cannot open ${file} to replace it: ${(err as Error).message}`);
  }
  try {
    db.pragma('journal_mode = DELETE');
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      throw new RestoreError(
        'server_running',
        `${file} is in use: a natter server (or another program) has it open; stop it first (systemctl stop natter), then restore`,
      );
    }
    throw new RestoreError('refused', `cannot take ${file} out of use: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

/**
 * Restores a backup natter made (a backup directory, or a bare database file
 * from `natter backup FILE` or pg_dump) into a data directory (SQLite) or a
 * PostgreSQL database. The backup is checked first (the database's
 * integrity, every file's SHA-256), and nothing is changed when it fails.
 * Uploaded files go in first (extra ones are harmless: the hourly sweep
 * removes files no row names), then the database.
 *
 * SQLite: refused while a server has the database open; the database it
 * replaces is kept beside it as `natter.db.before-restore-<time>`. The new
 * one is copied under a temporary name, fsynced and renamed into place.
 *
 * PostgreSQL: refused while a natter serves the database, and when it holds
 * tables unless `yes`; `pg_restore --clean` in one transaction.
 */
export async function restoreBackup(fromPath: string, target: RestoreTarget): Promise<RestoreSummary> {
  const from = resolve(fromPath);
  const source = await readSource(from);
  const dataDir = resolve(target.dataDir);
  const mediaDir = resolve(target.mediaDir ?? join(dataDir, 'media'));
  if (target.database !== null) checkConfigDatabase(target.database);
  if (source.kind === 'sqlite' && target.database !== null) {
    throw new RestoreError(
      'usage',
      `${from} is a SQLite backup: restore it into a data directory (--data), then move it into PostgreSQL with natter migrate-data`,
    );
  }
  if (source.kind === 'postgres' && target.database === null) {
    throw new RestoreError(
      'usage',
      `${from} is a PostgreSQL backup: give the database to restore it into with --database postgres://…`,
    );
  }
  // Checked whole before anything is touched.
  if (source.kind === 'sqlite') checkSqlite(source.dbFile);
  else {
    try {
      checkPgTool('pg_restore');
    } catch (err) {
      throw new RestoreError('usage', (err as Error).message);
    }
    try {
      await runPgTool('pg_restore', ['--list', source.dbFile], process.env);
    } catch (err) {
      throw new RestoreError('damaged', `${source.dbFile} is not a whole pg_dump archive: ${(err as Error).message}`);
    }
  }
  const blobs = source.media ? await checkBlobs(source.media) : [];
  if (source.manifest && blobs.length !== source.manifest.blobs) {
    throw new RestoreError(
      'damaged',
      `${from} should hold ${source.manifest.blobs} uploaded file(s) but holds ${blobs.length}: the backup is damaged`,
    );
  }

  if (source.kind === 'postgres') {
    const url = target.database ?? '';
    await checkPostgresTarget(url, target.yes);
    await carryAll(source.media, mediaDir, blobs);
    const { url: bare, env } = splitPassword(url);
    try {
      await runPgTool(
        'pg_restore',
        [
          '--clean',
          '--if-exists',
          '--no-owner',
          '--single-transaction',
          '--exit-on-error',
          `--dbname=${bare}`,
          source.dbFile,
        ],
        env,
      );
    } catch (err) {
      throw new RestoreError('refused', `${(err as Error).message} (the database is as it was: one transaction)`);
    }
    return {
      from,
      to: shown(url),
      database: 'postgres',
      files: blobs.length,
      mediaDir,
      keptAs: null,
      createdAt: source.manifest?.createdAt ?? null,
    };
  }

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const live = join(dataDir, DB_FILE);
  let exists = true;
  try {
    await stat(live);
  } catch {
    exists = false;
  }
  if (exists) quiesceSqlite(live);
  await carryAll(source.media, mediaDir, blobs);
  const tmp = join(dataDir, `.${DB_FILE}.restore-${process.pid}`);
  let keptAs: string | null = null;
  try {
    await copyFile(source.dbFile, tmp);
    const { chmod } = await import('node:fs/promises');
    await chmod(tmp, 0o600);
    await syncPath(tmp);
    if (exists) {
      keptAs = join(dataDir, `${DB_FILE}.before-restore-${compactStamp()}`);
      await rename(live, keptAs);
      // Left by a program that ended without cleaning up; they belong to the file kept aside.
      await rm(`${live}-wal`, { force: true });
      await rm(`${live}-shm`, { force: true });
    }
    await rename(tmp, live);
    await syncPath(dataDir);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return {
    from,
    to: live,
    database: 'sqlite',
    files: blobs.length,
    mediaDir,
    keptAs,
    createdAt: source.manifest?.createdAt ?? null,
  };
}

/** Puts a backup's blobs into the media directory. */
async function carryAll(media: string | null, mediaDir: string, blobs: string[]): Promise<void> {
  if (media === null || blobs.length === 0) return;
  await mkdir(mediaDir, { recursive: true, mode: 0o700 });
  for (const sha of blobs) {
    if ((await carryBlob(media, mediaDir, sha)) === null) {
      throw new RestoreError('damaged', `${sha} vanished from the backup while it was being restored`);
    }
  }
}

/**
 * Refuses a PostgreSQL database a natter serves now (each keeps a connection
 * named `natter node …`), and one that holds tables unless `yes`.
 */
async function checkPostgresTarget(url: string, yes: boolean): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    application_name: 'natter restore',
  });
  try {
    await client.connect();
  } catch (err) {
    throw new RestoreError('unreachable', `cannot reach the database ${shown(url)}: ${(err as Error).message}`);
  }
  try {
    const serving = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND starts_with(application_name, 'natter node ')`,
    );
    const nodes = Number(serving.rows[0]?.n ?? 0);
    if (nodes > 0) {
      throw new RestoreError(
        'server_running',
        `${nodes} natter server(s) serve ${shown(url)} now: stop every one first, then restore`,
      );
    }
    const tables = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
    );
    const n = Number(tables.rows[0]?.n ?? 0);
    if (n > 0 && !yes) {
      throw new RestoreError(
        'not_empty',
        `${shown(url)} holds ${n} table(s): restoring drops and replaces what natter keeps there; add --yes to do so`,
      );
    }
  } finally {
    await client.end().catch(() => {});
  }
}
