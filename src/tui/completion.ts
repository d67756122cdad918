import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findCommand } from './commands.js';

/** What Tab can complete to. Names come without their sigil (`bob`, `general`, `join`); a leading `@ # /` is ignored. */
export type CompletionCandidates = {
  /** Likeliest first (the caller orders them, e.g. recent speakers first). */
  usernames: readonly string[];
  channels: readonly string[];
  commands: readonly string[];
  /** Files and directories a typed path may go on to (see {@link listPaths}); none: paths are not completed. */
  paths?: (typed: string) => PathCandidate[];
};

/** A path Tab can complete to, written as typed (`~/` kept), and whether it is a directory. */
export type PathCandidate = { path: string; dir: boolean };

/** Commands whose first argument is a file's path. */
const PATH_COMMANDS = /^\/(?:upload|file|avatar)\s+((?:\\.|[^\s\\])*)$/i;

/** A path as the composer holds it: spaces, quotes and backslashes with a `\` before them. */
export function escapePath(path: string): string {
  return path.replace(/[\s\\'"]/g, (c) => `\\${c}`);
}

/**
 * What a typed path (`~/Pic`, `./notes/`, `/etc/ho`) can go on to: the
 * entries of its directory whose names start with what follows its last
 * `/`, directories first and ending with `/`, then files, each by name;
 * hidden ones only when what is typed starts with `.`. `~` is the home
 * directory; a relative path starts at `cwd`. An unreadable directory has
 * none.
 */
export function listPaths(typed: string, where: { home: string; cwd: string }): PathCandidate[] {
  const slash = typed.lastIndexOf('/');
  const dirTyped = slash === -1 ? '' : typed.slice(0, slash + 1);
  const base = slash === -1 ? typed : typed.slice(slash + 1);
  if (typed === '~') return [{ path: '~/', dir: true }];
  const dir =
    dirTyped === ''
      ? where.cwd
      : dirTyped.startsWith('~/')
        ? join(where.home, dirTyped.slice(2))
        : dirTyped.startsWith('/')
          ? dirTyped
          : join(where.cwd, dirTyped);
  let entries: { name: string; dir: boolean }[];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).map((e) => {
      let isDir = e.isDirectory();
      // A link to a directory is gone into as one.
      if (e.isSymbolicLink()) {
        try {
          isDir = statSync(join(dir, e.name)).isDirectory();
        } catch {
          isDir = false;
        }
      }
      return { name: e.name, dir: isDir };
    });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.name.startsWith(base) && (base.startsWith('.') || !e.name.startsWith('.')))
    .sort((a, b) => Number(b.dir) - Number(a.dir) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => ({ path: `${dirTyped}${e.name}${e.dir ? '/' : ''}`, dir: e.dir }));
}

/** The result of one Tab: the new composer text and every candidate, `index` being the one shown. */
export type Completion = { text: string; candidates: string[]; index: number };

function matching(prefix: string, names: readonly string[], sigil: string): string[] {
  const lower = prefix.toLowerCase();
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.startsWith(sigil) ? raw.slice(sigil.length) : raw;
    const key = name.toLowerCase();
    if (name === '' || seen.has(key) || !key.startsWith(lower)) continue;
    seen.add(key);
    out.push(name);
  }
  return out;
}

/** Which composer word is being completed: usernames for a command's USER arguments. */
function isUserArgument(text: string, wordIndex: number): boolean {
  if (!text.startsWith('/') || text.startsWith('//')) return false;
  const name = /^\/(\S+)/.exec(text)?.[1];
  const spec = name === undefined ? undefined : findCommand(name);
  if (!spec?.userArgs) return false;
  const { first, last = first } = spec.userArgs;
  return wordIndex >= first && wordIndex <= last;
}

/**
 * Tab completion of the word before the cursor: `/command` at the very start,
 * `@user` and `#channel` anywhere, bare usernames in a command's USER
 * arguments (`/kick bo`) and in messages (`bo` → `bob`; as the first word,
 * `bob: `, which addresses and so mentions him). Prefixes match case-insensitively; the completed word
 * gets a trailing space.
 *
 * Repeated Tabs cycle: pass the text as it was *before* the first Tab, and
 * `cycle` = how many Tabs came before this one (0 for the first; negative
 * steps backwards, for Shift-Tab). Returns null when there is nothing to
 * complete (the cursor is not at the end, or no candidate matches).
 */
export function complete(
  text: string,
  cursorAtEnd: boolean,
  candidates: CompletionCandidates,
  cycle: number,
): Completion | null {
  if (!cursorAtEnd) return null;
  // A file's path (`/upload ~/Pic`): the entries of its directory; a directory ends with `/` for the next Tab.
  const pathArg = candidates.paths ? PATH_COMMANDS.exec(text) : null;
  if (pathArg && candidates.paths) {
    const typedEscaped = pathArg[1] ?? '';
    const found = candidates.paths(typedEscaped.replace(/\\(.)/g, '$1'));
    if (found.length === 0) return null;
    const index = ((cycle % found.length) + found.length) % found.length;
    const chosen = found[index];
    if (!chosen) return null;
    const head = text.slice(0, text.length - typedEscaped.length);
    return {
      text: `${head}${escapePath(chosen.path)}${chosen.dir ? '' : ' '}`,
      candidates: found.map((f) => f.path),
      index,
    };
  }
  const m = /(^|\s)(\S*)$/.exec(text);
  const word = m?.[2] ?? '';
  const head = text.slice(0, text.length - word.length);
  let found: string[];
  let sigil: string;
  if (head === '' && word.startsWith('/') && !word.startsWith('//')) {
    sigil = '/';
    found = matching(word.slice(1), candidates.commands, '/');
  } else if (word.startsWith('@')) {
    sigil = '@';
    found = matching(word.slice(1), candidates.usernames, '@');
  } else if (word.startsWith('#')) {
    sigil = '#';
    found = matching(word.slice(1), candidates.channels, '#');
  } else if (text.startsWith('/')) {
    if (!isUserArgument(text, head.trim().split(/\s+/).length)) return null;
    sigil = '';
    found = matching(word, candidates.usernames, '@');
  } else if (word !== '') {
    // A name typed without @, as in weechat and irssi: the first word of a message addresses them ("bob: ").
    sigil = '';
    found = matching(word, candidates.usernames, '@');
    if (head === '' && found.length > 0) {
      const index = ((cycle % found.length) + found.length) % found.length;
      return { text: `${found[index]}: `, candidates: found, index };
    }
  } else {
    return null;
  }
  if (found.length === 0) return null;
  const index = ((cycle % found.length) + found.length) % found.length;
  return { text: `${head}${sigil}${found[index]} `, candidates: found, index };
}
