import { ConfigError, type ServerConfig } from '../config.js';
import { prepareBackupDir } from './backup-set.js';
import { checkPgTool } from './pg-tools.js';

/**
 * Checks `backup` before the server opens anything: a positive interval, at
 * least one backup kept, a directory natter can write into (created 0700
 * when missing, proved by writing a probe file), and pg_dump on the PATH
 * when the database is PostgreSQL. Throws a `ConfigError` naming the option.
 */
export async function checkBackupSettings(config: Pick<ServerConfig, 'backup' | 'database'>): Promise<void> {
  const backup = config.backup;
  if (backup === null) return;
  if (!Number.isFinite(backup.everyMs) || backup.everyMs <= 0) {
    throw new ConfigError(`--backup-every takes a duration such as 6h or 1d, not ${backup.everyMs} ms`);
  }
  if (!Number.isInteger(backup.keep) || backup.keep < 1) {
    throw new ConfigError(`--backup-keep takes how many backups to keep, at least 1, not ${backup.keep}`);
  }
  try {
    await prepareBackupDir(backup.dir);
  } catch (err) {
    throw new ConfigError(`--backup-dir: ${(err as Error).message}`);
  }
  if (config.database !== null) {
    try {
      checkPgTool('pg_dump');
    } catch (err) {
      throw new ConfigError(`--backup-every with a PostgreSQL database: ${(err as Error).message}`);
    }
  }
}
