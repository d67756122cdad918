import { setFlagsFromString } from 'node:v8';
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
  smallHeap();
  const { runTui } = await import('../../tui/run.js');
  await runTui(globalsOf(cmd));
}

/**
 * Keeps the app's memory near what it holds. It keeps 15-20 MB of objects,
 * but every frame leaves a megabyte or two of short-lived garbage, and V8's
 * defaults, made for servers, answer that with a young generation grown to
 * 32 MB and an old one let grow to about twice its live size between
 * collections: 110-140 MB of RSS under steady traffic, where 80-90 MB do.
 * Both settings are honoured when set at run time. The young generation stays
 * at its first size (1 MB a half; collecting it takes a fraction of a
 * millisecond), from the start, before the young generation has grown. The
 * old one grows by a fifth between collections once the app has started
 * (its heap is built then: tighter, that would cost start-up time).
 */
function smallHeap(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setTimeout(() => setFlagsFromString('--heap-growing-percent=20'), 2000).unref();
}
