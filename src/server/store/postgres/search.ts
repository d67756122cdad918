import { MARK_CLOSE, MARK_OPEN } from '../../search.js';

/**
 * The PostgreSQL side of `messages.search`. The handler builds one FTS5
 * query for both backends (`matchExpression` in server/search.ts): here it is
 * read back into its words and filters, the words become a `tsquery` over the
 * `natter_search` configuration of the index (drizzle/postgres/0001), and the
 * matched words are marked in JavaScript, as FTS5's `highlight()` marks them
 * on SQLite.
 */

/** A word of a query: a phrase of its tokens, the last one a prefix when `prefix`. */
export type SearchPhrase = { text: string; prefix: boolean };

/** A query as `matchExpression` wrote it. */
export type ParsedMatch = {
  phrases: SearchPhrase[];
  conversationId?: string;
  authorId?: string;
  scopes?: string[];
};

type Token = { kind: 'string' | 'word' | 'punct'; text: string };

function tokenize(match: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < match.length) {
    const ch = match[i] as string;
    if (ch === ' ') {
      i++;
    } else if (ch === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= match.length) throw notOurs(match);
        if (match[i] === '"') {
          if (match[i + 1] !== '"') break;
          text += '"';
          i += 2;
        } else {
          text += match[i];
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'string', text });
    } else if ('():*'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch });
      i++;
    } else {
      const word = /^[A-Za-z]+/.exec(match.slice(i))?.[0];
      if (!word) throw notOurs(match);
      tokens.push({ kind: 'word', text: word });
      i += word.length;
    }
  }
  return tokens;
}

function notOurs(match: string): Error {
  return new Error(`not a search query of natter's: ${JSON.stringify(match)}`);
}

/** An id from its token in the query (its UTF-8 bytes in hex, see `idToken`). */
function fromHex(hex: string, match: string): string {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw notOurs(match);
  return Buffer.from(hex, 'hex').toString('utf8');
}

/**
 * Reads a query made by `matchExpression`: `body : ("w1" AND "w2" *)`, then
 * optionally `AND conversation : "<hex>"`, `AND author : "<hex>"` and
 * `AND scope : ("<hex>" OR …)`. Anything else throws: the store is only ever
 * given what the handler builds.
 */
export function parseMatch(match: string): ParsedMatch {
  const tokens = tokenize(match);
  let at = 0;
  const next = (): Token => {
    const t = tokens[at++];
    if (!t) throw notOurs(match);
    return t;
  };
  const expect = (kind: Token['kind'], text?: string): Token => {
    const t = next();
    if (t.kind !== kind || (text !== undefined && t.text !== text)) throw notOurs(match);
    return t;
  };
  const peek = (kind: Token['kind'], text: string): boolean => tokens[at]?.kind === kind && tokens[at]?.text === text;

  const parsed: ParsedMatch = { phrases: [] };
  expect('word', 'body');
  expect('punct', ':');
  expect('punct', '(');
  for (;;) {
    const text = expect('string').text;
    const prefix = peek('punct', '*');
    if (prefix) at++;
    parsed.phrases.push({ text, prefix });
    if (peek('punct', ')')) break;
    expect('word', 'AND');
  }
  at++;
  while (at < tokens.length) {
    expect('word', 'AND');
    const column = expect('word').text;
    expect('punct', ':');
    if (column === 'conversation' && parsed.conversationId === undefined) {
      parsed.conversationId = fromHex(expect('string').text, match);
    } else if (column === 'author' && parsed.authorId === undefined) {
      parsed.authorId = fromHex(expect('string').text, match);
    } else if (column === 'scope' && parsed.scopes === undefined) {
      expect('punct', '(');
      const scopes: string[] = [];
      for (;;) {
        scopes.push(fromHex(expect('string').text, match));
        if (peek('punct', ')')) break;
        expect('word', 'OR');
      }
      at++;
      parsed.scopes = scopes;
    } else {
      throw notOurs(match);
    }
  }
  return parsed;
}

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
