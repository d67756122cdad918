import { MARK_CLOSE, MARK_OPEN, type SearchPhrase } from '../../search.js';

/**
 * The PostgreSQL side of `messages.search`: each phrase of a query
 * (`searchPhrases`) becomes a `tsquery` over the `natter_search`
 * configuration of the index (drizzle/postgres/0001), and the matched words
 * are marked in JavaScript, as FTS5's `highlight()` marks them on SQLite.
 */

/**
 * A word as a `tsquery` literal matching it as a prefix (`'deplo':*`); the
 * configuration splits it into its tokens, each then a prefix.
 */
export function prefixQuery(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}':*`;
}

/**
 * Characters of words, as FTS5's unicode61 tokenizer counts them (letters,
 * digits, private use), with combining marks, which it folds away with the
 * accents they put on letters.
 */
const TOKEN = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;

/** A token as unicode61 with `remove_diacritics 2` compares it: accents off, lower case. */
function fold(token: string): string {
  return token.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** A token of a text: where it starts and ends, and how it compares. */
type Span = { start: number; end: number; folded: string };

function tokens(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const folded = fold(m[0]);
    if (folded !== '') out.push({ start: m.index, end: m.index + m[0].length, folded });
  }
  return out;
}

/**
 * `text` (the text the index holds: see `searchText`) with `MARK_OPEN` and
 * `MARK_CLOSE` around each place where a phrase of the query is found, as
 * FTS5's `highlight()` puts them: a phrase of several tokens is one mark
 * from its first to its last, and phrases that share a token are one mark.
 */
export function highlight(text: string, phrases: readonly SearchPhrase[]): string {
  const doc = tokens(text);
  const found: [number, number][] = [];
  for (const phrase of phrases) {
    const want = tokens(phrase.text).map((t) => t.folded);
    if (want.length === 0) continue;
    for (let i = 0; i + want.length <= doc.length; i++) {
      const ok = want.every((w, j) => {
        const got = doc[i + j]?.folded ?? '';
        return phrase.prefix && j === want.length - 1 ? got.startsWith(w) : got === w;
      });
      if (ok) found.push([i, i + want.length - 1]);
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [first, last] of found) {
    const prev = merged.at(-1);
    if (prev && first <= prev[1]) prev[1] = Math.max(prev[1], last);
    else merged.push([first, last]);
  }
  let out = '';
  let at = 0;
  for (const [first, last] of merged) {
    const start = doc[first]?.start ?? 0;
    const end = doc[last]?.end ?? start;
    out += `${text.slice(at, start)}${MARK_OPEN}${text.slice(start, end)}${MARK_CLOSE}`;
    at = end;
  }
  return out + text.slice(at);
}
