import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { VERSION } from '../../package-info.js';
import { DB_FILE } from '../db/index.js';
import { blobRelativePath } from '../media/blob-store.js';
import { dumpPostgres } from './pg-tools.js';
import { snapshotSqlite } from './sqlite-snapshot.js';

/** The name of a backup's description inside its directory. */
export const MANIFEST = 'manifest.json';
/** The database dump of a PostgreSQL backup (pg_dump's custom format). */
export const PG_DUMP_FILE = 'natter.pgdump';
/** The directory of a backup's blobs, laid out as the blob store's (`ab/cd/<sha256>`). */
export const MEDIA = 'media';

/** A backup's own name: `natter-2026-12-01T080000Z`, `-1`, `-2`… for more in the same second. Sorts by time. */
export const BACKUP_NAME = /^natter-\d{4}-\d{2}-\d{2}T\d{6}Z(-\d+)?$/;
/** A backup being written (or one a crash cut off): removed by the next run. */
const PARTIAL_NAME = /^\.natter-.*\.partial$/;

/** What `manifest.json` says of a backup. */
export type Manifest = {
  format: 'natter-backup';
  version: 1;
  /** The natter that made it. */
  natter: string;
  createdAt: string;
  database: 'sqlite' | 'postgres';
  /** The database file inside the backup. */
  file: string;
  /** Blobs the database names and the backup holds. */
  blobs: number;
  /** Blobs the database names that were no longer in the media directory (deleted since the snapshot). */
  missingBlobs: string[];
  /** Bytes of the database file and the blobs. */
  bytes: number;
};

/** Where a backup is taken from: the settings `natter serve` runs with. */
export type BackupSource = {
  /** A PostgreSQL URL, or null for the SQLite database in `dataDir`. */
  database: string | null;
  dataDir: string;
  /** The blob store's directory (`--media-dir`, or media/ under `dataDir`). */
  mediaDir: string;
};

/** A finished backup. */
export type BackupResult = { path: string; manifest: Manifest; durationMs: number };

/** `natter-YYYY-MM-DDTHHMMSSZ` of a time. */
function stampOf(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `natter-${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** The file system's error code, if it is one. */
function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Makes `dir` ready for backups: creates it (0700) when missing and proves
 * it writable by writing and deleting a probe file. Throws an Error saying
 * what is wrong.
 */
export async function prepareBackupDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(`cannot create the backup directory ${dir}: ${(err as Error).message}`);
  }
  const probe = join(dir, `.natter-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(probe, 'natter\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new Error(`cannot write into the backup directory ${dir}: ${(err as Error).message}`);
  }
  await rm(probe, { force: true });
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

/**
 * Links (or, across file systems, copies) a blob from one blob directory to
 * another. Returns its size, or null when the source has no such blob.
 * A blob already at the target is kept: blobs are named by their content.
 */
export async function carryBlob(fromDir: string, toDir: string, sha256: string): Promise<number | null> {
  const rel = blobRelativePath(sha256);
  const from = join(fromDir, rel);
  const to = join(toDir, rel);
  let size: number;
  try {
    size = (await stat(from)).size;
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return null;
    throw err;
  }
  await mkdir(join(to, '..'), { recursive: true, mode: 0o700 });
  try {
    // Blobs never change once written: a second name for the same file is a safe copy, and costs no space.
    await link(from, to);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'EEXIST') return size;
    if (code === 'ENOENT') return null;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    const tmp = `${to}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await copyFile(from, tmp);
      await syncPath(tmp);
      await rename(tmp, to);
    } catch (e) {
      await rm(tmp, { force: true });
      if (codeOf(e) === 'ENOENT') return null;
      throw e;
    }
  }
  return size;
}

/** Creates an empty file readable by its owner only, whatever the umask. */
function createPrivate(file: string): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes one backup into `dir`: a directory `natter-<time>` holding the
 * database (a SQLite copy, or pg_dump's custom format), the blobs the
 * database names (hard links into the media directory, so consecutive
 * backups share unchanged files; copies when `dir` is on another file
 * system) and `manifest.json`. The database is snapshot first, then the blobs
 * its rows name are carried over: files uploaded later are not needed by it.
 * Everything is written under a hidden temporary name, fsynced, and renamed
 * into place last: a backup directory with natter's name is complete. On
 * failure the temporary directory is removed and the error thrown.
 */
export async function makeBackup(source: BackupSource, dir: string, now = Date.now()): Promise<BackupResult> {
  const started = performance.now();
  const target = resolve(dir);
  const stamp = stampOf(now);
  const partial = join(target, `.${stamp}-${process.pid}-${randomBytes(4).toString('hex')}.partial`);
  await mkdir(partial, { mode: 0o700 });
  try {
    const sqlite = source.database === null;
    const file = sqlite ? DB_FILE : PG_DUMP_FILE;
    const dbPath = join(partial, file);
    let blobs: string[];
    if (sqlite) {
      const from = join(resolve(source.dataDir), DB_FILE);
      try {
        await stat(from);
      } catch {
        throw new Error(`no database at ${from}: is --data right?`);
      }
      blobs = (await snapshotSqlite(from, dbPath)).blobs;
    } else {
      createPrivate(dbPath);
      blobs = (await dumpPostgres(source.database ?? '', dbPath)).blobs;
      await syncPath(dbPath);
    }
    let bytes = (await stat(dbPath)).size;
    const media = join(partial, MEDIA);
    await mkdir(media, { mode: 0o700 });
    const missing: string[] = [];
    let carried = 0;
    for (const sha of blobs) {
      const size = await carryBlob(source.mediaDir, media, sha);
      if (size === null) missing.push(sha);
      else {
        bytes += size;
        carried++;
      }
    }
    const manifest: Manifest = {
      format: 'natter-backup',
      version: 1,
      natter: VERSION,
      createdAt: new Date(now).toISOString(),
      database: sqlite ? 'sqlite' : 'postgres',
      file,
      blobs: carried,
      missingBlobs: missing,
      bytes,
    };
    const manifestPath = join(partial, MANIFEST);
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await syncPath(manifestPath);
    await syncPath(partial);
    // The name is taken last, by a rename: a backup under natter's name is always whole.
    for (let n = 0; ; n++) {
      const path = join(target, n === 0 ? stamp : `${stamp}-${n}`);
      try {
        await rename(partial, path);
      } catch (err) {
        // A backup of the same second already there (rename onto a non-empty directory).
        if (codeOf(err) === 'ENOTEMPTY' || codeOf(err) === 'EEXIST') continue;
        throw err;
      }
      await syncPath(target);
      return { path, manifest, durationMs: performance.now() - started };
    }
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
}

/** The backups natter made in `dir`, oldest first, by name. */
export async function listBackups(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => BACKUP_NAME.test(n)).sort();
}

/**
 * Deletes all but the newest `keep` of natter's backups in `dir`, and
 * temporary directories of backups a crash cut off; nothing else in `dir` is
 * touched. Returns the names deleted.
 */
export async function pruneBackups(dir: string, keep: number): Promise<string[]> {
  const all = await listBackups(dir);
  const gone = all.slice(0, Math.max(0, all.length - keep));
  for (const name of gone) await rm(join(dir, name), { recursive: true, force: true });
  return gone;
}

/** Removes what runs cut off left in `dir` (hidden `.natter-….partial` directories). */
export async function removePartials(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (PARTIAL_NAME.test(name)) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** Reads and checks a backup's manifest; throws in words when it is not one natter made. */
export async function readManifest(backupDir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(backupDir, MANIFEST), 'utf8');
  } catch {
    throw new Error(`${backupDir} is not a natter backup: it has no ${MANIFEST}`);
  }
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(text) as Partial<Manifest>;
  } catch {
    throw new Error(`${join(backupDir, MANIFEST)} is not valid JSON: the backup is damaged`);
  }
  if (m.format !== 'natter-backup' || (m.database !== 'sqlite' && m.database !== 'postgres')) {
    throw new Error(`${join(backupDir, MANIFEST)} does not describe a natter backup`);
  }
  if (m.version !== 1) {
    throw new Error(`${backupDir} was made by a newer natter (backup format ${String(m.version)}): upgrade natter`);
  }
  return m as Manifest;
}
