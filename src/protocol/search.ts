/**
 * How `messages.search` reads a query, as plain data: the server turns it into
 * a full-text query, and the schema counts its words with the same rules.
 * There is no query language: every character a person types is text.
 */

/**
 * Characters that make up words: letters, digits and private-use characters,
 * as the index's tokenizer (SQLite FTS5 `unicode61`) counts them. Anything
 * else (spaces, punctuation, symbols, `"`, `*`, `:`, `(`) separates words.
 */
const WORD_CHAR = /[\p{L}\p{N}\p{Co}]/u;
/** The last run of word characters of a chunk: the word a prefix match extends. */
const LAST_WORD = /[\p{L}\p{N}\p{Co}]+(?=[^\p{L}\p{N}\p{Co}]*$)/u;
/**
 * Whitespace, the blank braille cell, which shows nothing (as for blank
 * messages), and control characters, which no stored text holds besides
 * newline and tab (and which neither backend's index can be asked for: SQLite
 * reads U+0000 as the end of the query, PostgreSQL refuses it).
 */
const SPACES = /[\s\u2800\p{Cc}]+/u;
const ENDS_WITH_SPACE = /[\s\u2800\p{Cc}]$/u;

/** The last word is matched as a prefix only from this many characters on. */
export const PREFIX_MIN = 3;

/** What a query asks for. */
export type SearchTerms = {
  /**
   * The chunks of text between spaces that hold a word character, each once
   * (in any case), in the order typed. A message must hold all of them; a
   * chunk with punctuation inside (`e-mail`, `v1.2`) is its words next to
   * each other, in order.
   */
  readonly words: readonly string[];
  /**
   * Whether the last word also matches longer words that start with it
   * (`deplo` finds `deploy`): when it has at least {@link PREFIX_MIN}
   * characters and the query does not end with a space (the person has not
   * finished typing it).
   */
  readonly prefix: boolean;
};

/** Reads a query (NFC-normalized first, as stored text is). */
export function searchTerms(query: string): SearchTerms {
  const text = query.normalize('NFC');
  const chunks = text.split(SPACES).filter((c) => WORD_CHAR.test(c));
  // Repeats add nothing; the last copy is kept, so the last chunk stays last.
  const seen = new Set<string>();
  const words: string[] = [];
  for (let i = chunks.length - 1; i >= 0; i--) {
    const chunk = chunks[i] as string;
    const key = chunk.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    words.unshift(chunk);
  }
  const last = words.at(-1);
  const tail = last === undefined ? undefined : LAST_WORD.exec(last)?.[0];
  const prefix = tail !== undefined && [...tail].length >= PREFIX_MIN && !ENDS_WITH_SPACE.test(text);
  return { words, prefix };
}
