import type { SearchTerms } from '../protocol/index.js';

/**
 * `messages.search` on every backend: the text a message is indexed as, the
 * phrases a query looks for and the positions of the words it matched. Each
 * backend turns the phrases into its own query (FTS5's in db/fts.ts, a
 * `tsquery` in store/postgres/search.ts).
 */

/**
 * Scripts written without spaces between words (Chinese, Japanese, Thai…)
 * and Hangul, whose words take endings: the index holds each of their
 * characters as a word of its own, so a search finds a run of them anywhere
 * in a text (a phrase of consecutive characters), not only at its start.
 */
// The same ranges as natter_search_text() in drizzle/postgres/0001_message_search.sql.
const UNSPACED =
  /[\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\u{20000}-\u{3134f}]/u;

/**
 * The text the index holds for a message: its body with a space on each
 * side of every character of {@link UNSPACED} scripts, and for each code
 * point of that text, the code point of the body it comes from (-1 for an
 * added space). SQLite's index reads it from each message's `search_text`
 * (written with the message); PostgreSQL's `natter_search_text()` makes the
 * same text in SQL.
 */
export function searchTextMap(body: string): { text: string; from: number[] } {
  let text = '';
  const from: number[] = [];
  let i = 0;
  for (const ch of body) {
    if (UNSPACED.test(ch)) {
      text += ` ${ch} `;
      from.push(-1, i, -1);
    } else {
      text += ch;
      from.push(i);
    }
    i++;
  }
  return { text, from };
}

/** The text the index holds for a message (see {@link searchTextMap}). */
export function searchText(body: string): string {
  return UNSPACED.test(body) ? searchTextMap(body).text : body;
}

/** What a message's `search_text` column holds: the indexed text when it differs from the body, else null. */
export function indexedText(body: string): string | null {
  return UNSPACED.test(body) ? searchTextMap(body).text : null;
}

/** What a search keeps to, besides its words. */
export type SearchFilter = {
  /** One conversation. */
  conversationId?: string | undefined;
  /** One author. */
  authorId?: string | undefined;
  /** Only these audiences (`s:<server>`, `c:<conversation>`); at least one. */
  scopes?: readonly string[] | undefined;
};

/** A word of a query as the index is asked for it: a phrase of its tokens, the last one a prefix when `prefix`. */
export type SearchPhrase = { text: string; prefix: boolean };

/**
 * The phrases a message must hold for `terms`: each word as the index holds
 * it (see {@link searchText}), the last one a prefix when `terms.prefix`. A
 * word of an unspaced script is the phrase of its characters, which matches
 * anywhere already: it is never a prefix.
 */
export function searchPhrases(terms: SearchTerms): SearchPhrase[] {
  const last = terms.words.length - 1;
  return terms.words.map((word, i) => {
    const text = searchText(word);
    return { text, prefix: terms.prefix && i === last && text === word };
  });
}

/** What FTS5's `highlight()` (and PostgreSQL's marking, store/postgres/search.ts) is asked to put before and after each match: control characters no message can hold. */
export const MARK_OPEN = '\u0001';
export const MARK_CLOSE = '\u0002';

/**
 * The matches in `marked` (a body as `highlight()` returns it) as `[start,
 * end]` character offsets (code points, end excluded) into `body`. Should the
 * marked text not be `body` with marks added, there are none.
 */
export function matchRanges(marked: string, body: string): [number, number][] {
  const ranges: [number, number][] = [];
  const plain: string[] = [];
  let start = -1;
  for (const ch of marked) {
    if (ch === MARK_OPEN) {
      start = plain.length;
    } else if (ch === MARK_CLOSE) {
      if (start !== -1 && plain.length > start) ranges.push([start, plain.length]);
      start = -1;
    } else {
      plain.push(ch);
    }
  }
  const text = plain.join('');
  if (text === body) return ranges;
  // Marks on the indexed text, with spaces around characters of unspaced scripts: back to the body's offsets.
  const { text: indexed, from } = searchTextMap(body);
  if (text !== indexed) return [];
  const out: [number, number][] = [];
  for (const [a, b] of ranges) {
    const kept = from.slice(a, b).filter((i) => i !== -1);
    const first = kept[0];
    const lastKept = kept.at(-1);
    if (first === undefined || lastKept === undefined) continue;
    const prev = out.at(-1);
    // Consecutive characters of one phrase are one match.
    if (prev && prev[1] === first) prev[1] = lastKept + 1;
    else out.push([first, lastKept + 1]);
  }
  return out;
}
