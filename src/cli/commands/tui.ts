import { Command } from 'commander';
import { globalsOf } from '../session.js';
import { usageError } from '../util.js';

/** Starts the terminal app (lazily: Ink and React load only here). */
export async function startTui(cmd: Command): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw usageError('the terminal app needs a terminal; use the commands (natter --help) in scripts');
  }
  const { runTui } = await import('../../tui/run.js');
  await runTui(globalsOf(cmd));
}

/** `natter tui` (also what a bare `natter` runs on a terminal) */
export function tuiCommand(): Command {
  return new Command('tui')
    .description('open the terminal app (what a bare `natter` does on a terminal)')
    .action(async (_opts, cmd: Command) => {
      await startTui(cmd);
    });
}
