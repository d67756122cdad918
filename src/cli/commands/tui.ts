import type { Command } from 'commander';
import { globalsOf } from '../session.js';
import { usageError } from '../util.js';

/** Starts the terminal app (`natter tui`, and a bare `natter` on a terminal); Ink and React load only here. */
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
