import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';

/** `natter restore <backup>`: a backup natter made, into a data directory or a PostgreSQL database. */
export async function restore(
  from: string,
  opts: { data: string; database?: string; mediaDir?: string; yes?: boolean },
  cmd: Command,
): Promise<void> {
  const { restoreBackup, RestoreError } = await import('../../server/backup/restore.js');
  const json = cmd.optsWithGlobals().json === true;
  try {
    const s = await restoreBackup(from, {
      dataDir: opts.data,
      // Empty NATTER_DATABASE and NATTER_MEDIA_DIR are no setting.
      database: opts.database || null,
      mediaDir: opts.mediaDir || null,
      yes: opts.yes === true,
    });
    if (json) {
      process.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    const made = s.createdAt ? ` (made ${s.createdAt})` : '';
    process.stdout.write(
      `restored ${s.from}${made} into ${s.to}: the database and ${s.files} uploaded file(s) (into ${s.mediaDir})\n` +
        (s.keptAs ? `the database it replaced is kept as ${s.keptAs}\n` : ''),
    );
  } catch (err) {
    if (!(err instanceof RestoreError)) throw err;
    const exit = err.code === 'usage' ? EXIT.usage : err.code === 'unreachable' ? EXIT.unreachable : EXIT.refused;
    throw new CliError(exit, err.code, err.message);
  }
}
