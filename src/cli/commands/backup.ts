import { Command, Option } from 'commander';

/** `natter backup <file>`: an online, consistent copy of the server's database. */
export function backupCommand(): Command {
  return new Command('backup')
    .description('copy the database to <file>, safely, even while the server runs')
    .argument('<file>', 'where to write the copy (replaced only once the copy is complete and checked)')
    .addOption(new Option('--data <dir>', 'the data directory of the server').env('NATTER_DATA').default('./data'))
    .action(async (file: string, opts: { data: string }, cmd: Command) => {
      const { backupDatabase } = await import('../../server/db/backup.js');
      const s = await backupDatabase(opts.data, file);
      if (cmd.optsWithGlobals().json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else {
        process.stdout.write(
          `backed up to ${s.file}: ${s.users} users, ${s.conversations} conversations, ${s.messages} messages (${Math.ceil(s.bytes / 1024)} KiB); integrity ok\n`,
        );
      }
    });
}
