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
  const words = terms.words.map((w, i) => (terms.prefix && i === last ? `${quoted(w)} *` : quoted(w)));
  const parts = [`body : (${words.join(' AND ')})`];
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
  return plain.join('') === body ? ranges : [];
}
