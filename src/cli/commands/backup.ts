import type { Command } from 'commander';
import { usageError } from '../errors.js';

export type BackupOptions = { data: string; database?: string; mediaDir?: string; into?: string };

/**
 * `natter backup <file>`: an online, consistent copy of the server's SQLite
 * database; `natter backup --into <dir>`: a whole backup (the database,
 * SQLite or PostgreSQL, and the uploaded files it names) in a new directory
 * under `<dir>`, as `natter serve --backup-every` takes them.
 */
export async function backup(file: string | undefined, opts: BackupOptions, cmd: Command): Promise<void> {
  const json = cmd.optsWithGlobals().json === true;
  // Empty NATTER_DATABASE and NATTER_MEDIA_DIR are no setting.
  const database = opts.database || null;
  if (file !== undefined && opts.into !== undefined) {
    throw usageError(
      'give either a file (the database alone) or --into DIR (the database and uploaded files), not both',
    );
  }
  if (file === undefined && opts.into === undefined) {
    throw usageError(
      'say where to write the backup: natter backup FILE (the database alone) or natter backup --into DIR',
    );
  }
  if (opts.into !== undefined) {
    const { resolve } = await import('node:path');
    const { makeBackup, prepareBackupDir } = await import('../../server/backup/backup-set.js');
    const { checkConfigDatabase } = await import('../../server/backup/restore.js');
    if (database !== null) checkConfigDatabase(database);
    try {
      await prepareBackupDir(opts.into);
      if (database !== null) (await import('../../server/backup/pg-tools.js')).checkPgTool('pg_dump');
    } catch (err) {
      throw usageError((err as Error).message);
    }
    const r = await makeBackup(
      { database, dataDir: opts.data, mediaDir: resolve(opts.mediaDir || resolve(opts.data, 'media')) },
      opts.into,
    );
    const m = r.manifest;
    if (json) process.stdout.write(`${JSON.stringify({ path: r.path, ...m })}\n`);
    else {
      process.stdout.write(
        `backed up to ${r.path}: the ${m.database === 'sqlite' ? 'SQLite' : 'PostgreSQL'} database and ${m.blobs} uploaded file(s) (${Math.ceil(m.bytes / 1024)} KiB)\n`,
      );
      if (m.missingBlobs.length > 0) {
        process.stderr.write(
          `natter: ${m.missingBlobs.length} file(s) the database names were already gone from the media directory (deleted since the snapshot)\n`,
        );
      }
    }
    return;
  }
  if (database !== null) {
    throw usageError(
      'a PostgreSQL database is backed up with natter backup --into DIR (pg_dump and the uploaded files)',
    );
  }
  const { backupDatabase } = await import('../../server/db/backup.js');
  const s = await backupDatabase(opts.data, file ?? '');
  if (json) process.stdout.write(`${JSON.stringify(s)}\n`);
  else {
    process.stdout.write(
      `backed up to ${s.file}: ${s.users} users, ${s.conversations} conversations, ${s.messages} messages (${Math.ceil(s.bytes / 1024)} KiB); integrity ok\n`,
    );
  }
}
