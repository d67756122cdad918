import type { SearchTerms } from '../protocol/index.js';

/**
 * The FTS5 side of `messages.search`: the query text the index is asked, and
 * the positions of the words it matched. The index and the triggers that keep
 * it are in drizzle/sqlite/0007_message_search.sql.
 */

/**
 * An FTS5 string: in double quotes, each `"` doubled. Inside one, nothing is
 * syntax (`*`, `-`, `:`, `(`, `AND`, `OR`, `NOT`, `NEAR` are text the tokenizer
 * splits into words like any other), so no query a person types can be an
 * FTS5 syntax error or change what is searched.
 */
export function quoted(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

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

/**
 * An id as the index holds it: its UTF-8 bytes in hex, one token that the
 * tokenizer neither splits (ids may hold `-` and `_`) nor folds (ids are
 * case-sensitive).
 */
export function idToken(id: string): string {
  return quoted(Buffer.from(id, 'utf8').toString('hex'));
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

/**
 * The FTS5 query for `terms`: every word in the message's text (the last one
 * as a prefix when `terms.prefix`), and the filter's ids in their own columns,
 * so the index itself skips the messages of other conversations, authors or
 * audiences.
 */
export function matchExpression(terms: SearchTerms, filter: SearchFilter = {}): string {
  const last = terms.words.length - 1;
  // A word in an unspaced script is the phrase of its characters; it matches anywhere already, no prefix needed.
  const words = terms.words.map((w) => searchText(w));
  const phrases = words.map((w, i) =>
    terms.prefix && i === last && w === terms.words[i] ? `${quoted(w)} *` : quoted(w),
  );
  const parts = [`body : (${phrases.join(' AND ')})`];
  if (filter.conversationId !== undefined) parts.push(`conversation : ${idToken(filter.conversationId)}`);
  if (filter.authorId !== undefined) parts.push(`author : ${idToken(filter.authorId)}`);
  if (filter.scopes !== undefined) parts.push(`scope : (${filter.scopes.map(idToken).join(' OR ')})`);
  return parts.join(' AND ');
}

/** What `highlight()` is asked to put before and after each match: control characters no message can hold. */
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
