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
  setTimeout(smallHeap, SMALL_HEAP_AFTER_MS).unref();
  const { runTui } = await import('../../tui/run.js');
  await runTui(globalsOf(cmd));
}

/** When the heap settings below apply: after the start (loading the code, connecting, the first frames). */
const SMALL_HEAP_AFTER_MS = 2000;

/**
 * Keeps the app's memory near what it holds. It keeps little (15-20 MB of
 * objects), but every frame leaves short-lived garbage, and V8's defaults,
 * made for servers, answer that with a young generation of 32 MB and an old
 * one left to grow well past its live size between collections: 115-140 MB
 * of RSS where 75-85 MB do. Both settings take effect when set at run time:
 * the young generation no longer grows (it shrinks to 1-2 MB, and collecting
 * that takes well under a millisecond), and V8 sizes the heap for memory
 * rather than speed. They apply after the start, whose bursts of allocation
 * they would slow by some 50 ms of CPU.
 */
function smallHeap(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--optimize-for-size');
}
