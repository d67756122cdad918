import { Command } from 'commander';
import { globalsOf } from '../session.js';
import { usageError } from '../util.js';

/** Starts the terminal app (lazily: Ink and React load only here). */
export async function startTui(cmd: Command): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw usageError('the terminal app needs a terminal; use the commands (natter --help) in scripts');
  }
  // Ink draws only a final frame when it thinks it runs in CI (a CI variable is
  // set). Here a person is at a terminal, so it must draw interactively.
  for (const name of ['CI', 'CONTINUOUS_INTEGRATION']) if (name in process.env) process.env[name] = 'false';
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
