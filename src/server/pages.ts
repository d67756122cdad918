import { NatterError } from '../protocol/index.js';

/** The sort key of an item of a paged list: where the next page starts after it. */
export type PageKey = readonly (string | number)[];

/** A page of a list: its items and where the next one starts (null at the end). */
export type Page<T> = { items: T[]; next: string | null };

/** Page size when the client names none. */
export const DEFAULT_PAGE = 100;

/** The cursor for the page after the item whose key is `key`: opaque to clients. */
export function encodePageCursor(key: PageKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * The key a page cursor carries, checked against the list's key shape (`s`
 * for text, `n` for a number); `null` for the first page. A cursor this
 * server did not give out (or gave out for another list) is `bad_request`.
 */
export function decodePageCursor(after: string | undefined, shape: readonly ('s' | 'n')[]): PageKey | null {
  if (after === undefined) return null;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const ok =
    Array.isArray(key) &&
    key.length === shape.length &&
    key.every((v, i) => (shape[i] === 's' ? typeof v === 'string' : typeof v === 'number' && Number.isFinite(v)));
  if (!ok) {
    throw new NatterError(
      'bad_request',
      'this page cursor is not one this list gave out; start again without "after"',
      {
        field: 'params.after',
      },
    );
  }
  return key as PageKey;
}

/**
 * Cuts `rows` (fetched with a limit of `limit + 1`) to a page: the extra row,
 * when present, says that there is a next page, which starts after the last
 * row kept.
 */
export function toPage<R, T>(
  rows: readonly R[],
  limit: number,
  keyOf: (row: R) => PageKey,
  map: (rows: R[]) => T[],
): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return { items: map(kept), next: rows.length > limit && last !== undefined ? encodePageCursor(keyOf(last)) : null };
}

/** The page size asked for, or the default, capped at `max`. */
export function pageSize(limit: number | undefined, max: number): number {
  return Math.min(limit ?? DEFAULT_PAGE, max);
}
