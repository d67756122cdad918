import { NatterError } from '../protocol/index.js';

/** The sort key of an item of a paged list: where the next page starts after it. */
export type PageKey = readonly (string | number)[];

/** A page of a list: its items and where the next one starts (null at the end). */
export type Page<T> = { items: T[]; next: string | null };

/** Page size when the client names none. */
export const DEFAULT_PAGE = 100;

/**
 * A page stops growing once its items are estimated at this many bytes of
 * JSON (it always holds at least one): every reply stays small, whatever the
 * items hold (long bios, 4,000-character last messages), so no client can make
 * the server hold much for it by asking and not reading.
 */
export const PAGE_BYTES = 256 * 1024;

/** Roughly how many bytes of JSON `s` takes (at most 4 per UTF-16 unit, escapes aside). */
export function textBytes(s: string | null | undefined): number {
  return s ? s.length * 3 : 0;
}

/**
 * How many of `items` fit in {@link PAGE_BYTES} by `size` (at least one): the
 * rest go to the next page.
 */
export function fitting<T>(items: readonly T[], size: (item: T) => number): number {
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    total += size(items[i] as T);
    if (total > PAGE_BYTES && i > 0) return i;
  }
  return items.length;
}

/**
 * One paged list (`servers.list`, `members.list`...): how its cursors are
 * made and read. A cursor carries the list's name and the sort key of the
 * last item of a page; it is opaque to clients, and one list refuses
 * another's.
 */
export class PagedList {
  constructor(
    /** Names the list inside its cursors. */
    readonly name: string,
    /** The sort key's parts: `s` for text, `n` for a number. */
    private readonly shape: readonly ('s' | 'n')[],
  ) {}

  /**
   * Where a page starts: after the key the cursor carries, or at the start
   * (`null`) without one. A cursor this list did not give out is
   * `bad_request` on `params.after`.
   */
  start(after: string | undefined): PageKey | null {
    if (after === undefined) return null;
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    } catch {
      decoded = undefined;
    }
    const [name, ...key] = Array.isArray(decoded) ? decoded : [];
    const ok =
      name === this.name &&
      key.length === this.shape.length &&
      key.every((v, i) =>
        // No stored text holds U+0000 (PostgreSQL's cannot), so no key given out does.
        this.shape[i] === 's'
          ? typeof v === 'string' && !v.includes('\u0000')
          : typeof v === 'number' && Number.isFinite(v),
      );
    if (!ok) {
      throw new NatterError(
        'bad_request',
        'this page cursor is not one this list gave out; start again without "after"',
        { field: 'params.after' },
      );
    }
    return key as PageKey;
  }

  /**
   * Cuts `rows` (fetched with a limit of `limit + 1`) to a page: the extra
   * row, when present, says that there is a next page, which starts after the
   * last row kept. With `size`, the page also stops at {@link PAGE_BYTES}.
   */
  async page<R, T>(
    rows: readonly R[],
    limit: number,
    keyOf: (row: R) => PageKey,
    map: (rows: R[]) => T[] | Promise<T[]>,
    size?: (item: T) => number,
  ): Promise<Page<T>> {
    let kept = rows.slice(0, limit);
    let items = await map(kept);
    let more = rows.length > limit;
    if (size) {
      const n = fitting(items, size);
      if (n < items.length) {
        kept = kept.slice(0, n);
        items = items.slice(0, n);
        more = true;
      }
    }
    const last = kept.at(-1);
    const next = more && last !== undefined ? this.cursorAfter(keyOf(last)) : null;
    return { items, next };
  }

  /**
   * The cursor of a next page that starts after `key`: what {@link page}
   * gives out, for a list that stops a page somewhere else than at its last
   * item (a search that looked at more rows than it kept).
   */
  cursorAfter(key: PageKey): string {
    return Buffer.from(JSON.stringify([this.name, ...key]), 'utf8').toString('base64url');
  }
}

/** The page size asked for, or the default, capped at `max`. */
export function pageSize(limit: number | undefined, max: number): number {
  return Math.min(limit ?? DEFAULT_PAGE, max);
}
