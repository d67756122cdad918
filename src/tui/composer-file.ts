/**
 * Keeps the composer's drafts, what was sent and the open conversation
 * across restarts, in `composer.json` of the config directory (readable by
 * its owner only: it holds unsent messages). Writes are gathered: at most one
 * per second, and one at exit.
 *
 * Two apps may run on one config directory (two terminals). Each write
 * therefore reads the file again and merges: a conversation's draft is this
 * app's when it changed it since its last write (an emptied or sent draft is
 * removed), the file's otherwise; what was sent is both apps', in the order it
 * was sent; the open conversation is the one chosen last.
 */
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ComposerState, draftsToSave } from './composer-state.js';
import { HISTORY_MAX } from './editor.js';

export type SavedComposer = {
  drafts: Record<string, string>;
  /** What was sent, oldest first. */
  history: string[];
  /** The conversation open when the app was last used, if any. */
  open: string | null;
};

export type ComposerFile = {
  /** What the last run left. */
  readonly saved: SavedComposer;
  /** Call on every change; the file is written shortly after. */
  changed(state: ComposerState): void;
  /** Writes what is pending now (at exit). */
  flush(): void;
};

/** A sent text and when it was sent (ms since 1970), so that two apps' histories merge in order. */
type Sent = { text: string; at: number };

/** What the file holds. */
type Contents = { drafts: Record<string, string>; history: Sent[]; open: string | null };

const FILE = 'composer.json';
const EVERY_MS = 1000;

/** Reads what a file holds, ignoring anything that is not of the kind that belongs. */
function read(path: string): Contents {
  const empty: Contents = { drafts: {}, history: [], open: null };
  if (!existsSync(path)) return empty;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { drafts?: unknown; history?: unknown; open?: unknown };
    const drafts: Record<string, string> = {};
    if (raw.drafts && typeof raw.drafts === 'object') {
      for (const [k, v] of Object.entries(raw.drafts)) if (typeof v === 'string' && v !== '') drafts[k] = v;
    }
    const history: Sent[] = [];
    if (Array.isArray(raw.history)) {
      raw.history.forEach((h: unknown, i) => {
        // Plain strings (files of earlier versions) were sent before anything with a time, in file order.
        if (typeof h === 'string') history.push({ text: h, at: i });
        else if (h && typeof h === 'object') {
          const { text, at } = h as { text?: unknown; at?: unknown };
          if (typeof text === 'string' && typeof at === 'number' && Number.isFinite(at)) history.push({ text, at });
        }
      });
    }
    const open = typeof raw.open === 'string' && raw.open !== '' ? raw.open : null;
    return { drafts, history, open };
  } catch {
    // A damaged file loses the drafts, not the app.
    return empty;
  }
}

/**
 * The texts `after` has that `before` did not: the history only grows at its
 * end (dropping its oldest past the cap), so `after` starts with the end of
 * `before`.
 */
function appended(before: readonly string[], after: readonly string[]): string[] {
  if (after === before) return [];
  for (let added = 0; added < after.length; added++) {
    const kept = after.length - added;
    if (kept > before.length) continue;
    const offset = before.length - kept;
    let same = true;
    for (let i = 0; i < kept && same; i++) same = after[i] === before[offset + i];
    if (same) return after.slice(kept);
  }
  return [...after];
}

/**
 * Both histories in one, oldest first: an entry in both (same text, same
 * time) once, the same text twice in a row once (as the composer keeps it),
 * and at most {@link HISTORY_MAX}, the newest.
 */
function mergeHistory(a: readonly Sent[], b: readonly Sent[]): Sent[] {
  const byKey = new Map<string, Sent>();
  for (const s of [...a, ...b]) byKey.set(`${s.at}\u0000${s.text}`, s);
  const sorted = [...byKey.values()].sort((x, y) => x.at - y.at);
  const out: Sent[] = [];
  for (const s of sorted) {
    if (out[out.length - 1]?.text === s.text) out[out.length - 1] = s;
    else out.push(s);
  }
  return out.slice(-HISTORY_MAX);
}

export function composerFile(configDir: string): ComposerFile {
  const path = join(configDir, FILE);
  const loaded = read(path);
  const saved: SavedComposer = {
    drafts: { ...loaded.drafts },
    history: loaded.history.map((s) => s.text),
    open: loaded.open,
  };
  /** This app's drafts as it last wrote them (or found them): a draft that differs now was changed here. */
  let written: Record<string, string> = { ...loaded.drafts };
  /** The open conversation as this app last wrote it (none at the start: nothing is open yet). */
  let writtenOpen: string | null = null;
  /** Everything this app has sent (and found), with times. */
  let sent: Sent[] = loaded.history.slice(-HISTORY_MAX);
  /** The history as the composer last had it, to see what it adds. */
  let seen: readonly string[] = saved.history.slice(-HISTORY_MAX);
  let pending: ComposerState | null = null;
  let timer: NodeJS.Timeout | null = null;

  const write = (state: ComposerState) => {
    const mine = draftsToSave(state);
    const file = read(path);
    const drafts: Record<string, string> = { ...file.drafts };
    for (const id of new Set([...Object.keys(mine), ...Object.keys(written)])) {
      if (mine[id] === written[id]) continue;
      const text = mine[id];
      if (text === undefined) delete drafts[id];
      else drafts[id] = text;
    }
    const open = state.conversation !== null && state.conversation !== writtenOpen ? state.conversation : file.open;
    const history = mergeHistory(file.history, sent);
    const body: Contents = { drafts, history, open };
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      // A rename replaces the file whole: the other app reads the old file or the new, never half of one.
      renameSync(tmp, path);
    } catch (err) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // There is no directory to leave it in.
      }
      throw err;
    }
    written = mine;
    writtenOpen = state.conversation ?? writtenOpen;
    sent = history;
  };

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!pending) return;
    const state = pending;
    pending = null;
    try {
      write(state);
    } catch {
      // A config directory that cannot be written keeps drafts for this run only.
    }
  };
  return {
    saved,
    changed(state) {
      // A text sent now is stamped now, to be merged in order with the other app's.
      const entries = state.history.entries;
      if (entries !== seen) {
        const at = Date.now();
        sent = mergeHistory(
          sent,
          appended(seen, entries).map((text) => ({ text, at })),
        );
        seen = entries;
      }
      pending = state;
      if (!timer) {
        timer = setTimeout(flush, EVERY_MS);
        timer.unref();
      }
    },
    flush,
  };
}
