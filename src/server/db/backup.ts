import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, DB_FILE } from './index.js';

/** What a finished backup holds. */
export type BackupSummary = { file: string; bytes: number; users: number; messages: number; conversations: number };

/**
 * Copies the database of `dataDir` to `target` while the server may be
 * running: SQLite's online backup reads a consistent snapshot (WAL mode lets
 * it run beside the server's writes). The copy is written under a temporary
 * name, flushed to disk, checked with `integrity_check`, and only then renamed
 * into place, so `target` is either a complete, valid database or untouched.
 * The copy is readable by its owner only (mode 0600).
 */
export async function backupDatabase(dataDir: string, target: string): Promise<BackupSummary> {
  const source = join(resolve(dataDir), DB_FILE);
  if (!existsSync(source)) throw new Error(`no database at ${source}: is --data right?`);
  const file = resolve(target);
  const tmp = join(dirname(file), `.${DB_FILE}.backup-${process.pid}-${Date.now()}`);
  const db = new Database(source, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    // A backup holds what the database holds: 0600 like it, whatever the umask.
    createPrivateFile(tmp);
    await db.backup(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    db.close();
  }
  try {
    const copy = new Database(tmp);
    let summary: Omit<BackupSummary, 'file' | 'bytes'>;
    try {
      // One self-contained file (no -wal beside it); the server turns WAL back on when it opens it.
      copy.pragma('journal_mode = DELETE');
      const check = copy.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed its integrity check: ${String(check)}`);
      const count = (table: string) => (copy.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      summary = { users: count('users'), messages: count('messages'), conversations: count('conversations') };
    } finally {
      copy.close();
    }
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const { size } = statSync(file);
    return { file, bytes: size, ...summary };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
