import type { Command } from 'commander';

/** `natter backup <file>`: an online, consistent copy of the server's database. */
export async function backup(file: string, opts: { data: string }, cmd: Command): Promise<void> {
  const { backupDatabase } = await import('../../server/db/backup.js');
  const s = await backupDatabase(opts.data, file);
  if (cmd.optsWithGlobals().json) process.stdout.write(`${JSON.stringify(s)}\n`);
  else {
    process.stdout.write(
      `backed up to ${s.file}: ${s.users} users, ${s.conversations} conversations, ${s.messages} messages (${Math.ceil(s.bytes / 1024)} KiB); integrity ok\n`,
    );
  }
}
