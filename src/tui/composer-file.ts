/**
 * Keeps the composer's drafts and what was sent across restarts, in
 * `composer.json` of the config directory (readable by its owner only: it
 * holds unsent messages). Writes are gathered: at most one per second, and
 * one at exit.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ComposerState, draftsToSave } from './composer-state.js';

export type SavedComposer = { drafts: Record<string, string>; history: string[] };

export type ComposerFile = {
  /** What the last run left. */
  readonly saved: SavedComposer;
  /** Call on every change; the file is written shortly after. */
  changed(state: ComposerState): void;
  /** Writes what is pending now (at exit). */
  flush(): void;
};

const FILE = 'composer.json';
const EVERY_MS = 1000;

/** Reads what a file holds, ignoring anything that is not a string where one belongs. */
function read(path: string): SavedComposer {
  if (!existsSync(path)) return { drafts: {}, history: [] };
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { drafts?: unknown; history?: unknown };
    const drafts: Record<string, string> = {};
    if (raw.drafts && typeof raw.drafts === 'object') {
      for (const [k, v] of Object.entries(raw.drafts)) if (typeof v === 'string') drafts[k] = v;
    }
    const history = Array.isArray(raw.history) ? raw.history.filter((h): h is string => typeof h === 'string') : [];
    return { drafts, history };
  } catch {
    // A damaged file loses the drafts, not the app.
    return { drafts: {}, history: [] };
  }
}

export function composerFile(configDir: string): ComposerFile {
  const path = join(configDir, FILE);
  const saved = read(path);
  let pending: ComposerState | null = null;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!pending) return;
    const body: SavedComposer = { drafts: draftsToSave(pending), history: [...pending.history.entries] };
    pending = null;
    try {
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, path);
    } catch {
      // A config directory that cannot be written keeps drafts for this run only.
    }
  };
  return {
    saved,
    changed(state) {
      pending = state;
      if (!timer) {
        timer = setTimeout(flush, EVERY_MS);
        timer.unref();
      }
    },
    flush,
  };
}
