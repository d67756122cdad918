import type { SearchTerms } from '../../protocol/index.js';
import { type SearchFilter, searchPhrases } from '../search.js';

/**
 * The FTS5 query `messages.search` asks SQLite's index
 * (drizzle/sqlite/0007_message_search.sql); PostgreSQL builds its own
 * `tsquery` from the same terms (store/postgres/search.ts).
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

/**
 * The FTS5 query for `terms`: every word in the message's text (the last one
 * as a prefix when it may be, see `searchPhrases`), and the filter's ids in
 * their own columns, so the index itself skips the messages of other
 * conversations, authors or audiences.
 */
export function matchExpression(terms: SearchTerms, filter: SearchFilter = {}): string {
  const phrases = searchPhrases(terms).map((p) => (p.prefix ? `${quoted(p.text)} *` : quoted(p.text)));
  const parts = [`body : (${phrases.join(' AND ')})`];
  if (filter.conversationId !== undefined) parts.push(`conversation : ${idToken(filter.conversationId)}`);
  if (filter.authorId !== undefined) parts.push(`author : ${idToken(filter.authorId)}`);
  if (filter.scopes !== undefined) parts.push(`scope : (${filter.scopes.map(idToken).join(' OR ')})`);
  return parts.join(' AND ');
}
