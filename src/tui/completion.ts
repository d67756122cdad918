import { findCommand } from './commands.js';

/** What Tab can complete to. Names come without their sigil (`bob`, `general`, `join`); a leading `@ # /` is ignored. */
export type CompletionCandidates = {
  /** Likeliest first (the caller orders them, e.g. recent speakers first). */
  usernames: readonly string[];
  channels: readonly string[];
  commands: readonly string[];
};

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
