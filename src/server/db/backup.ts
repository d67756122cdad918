import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { snapshotSqlite } from '../backup/sqlite-snapshot.js';
import { DB_FILE } from './index.js';

/** What a finished backup holds. */
export type BackupSummary = { file: string; bytes: number; users: number; messages: number; conversations: number };

/**
 * Copies the database of `dataDir` to `target` while the server may be
 * running: SQLite's online backup reads a consistent snapshot (WAL mode lets
 * it run beside the server's writes). The copy is written under a temporary
 * name, flushed to disk, checked with `integrity_check`, and only then renamed
 * into place, so `target` is either a complete, valid database or untouched.
 * The copy is readable by its owner only (mode 0600). Uploaded files are not
 * in it (a backup directory, `makeBackup`, holds both).
 */
export async function backupDatabase(dataDir: string, target: string): Promise<BackupSummary> {
  const source = join(resolve(dataDir), DB_FILE);
  if (!existsSync(source)) throw new Error(`no database at ${source}: is --data right?`);
  const file = resolve(target);
  const tmp = join(dirname(file), `.${DB_FILE}.backup-${process.pid}-${Date.now()}`);
  try {
    const { users, messages, conversations } = await snapshotSqlite(source, tmp);
    renameSync(tmp, file);
    const { size } = statSync(file);
    return { file, bytes: size, users, messages, conversations };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
