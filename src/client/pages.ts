/** A page of a list as the protocol returns it, reduced to its items and the cursor of the next page. */
export type ListPage<T> = { items: T[]; next: string | null };

/** Pages fetched for one list at most, so a server that never ends a list cannot keep a client busy forever. */
const MAX_PAGES = 10_000;

/**
 * Every item of a paged list (`servers.list`, `members.list`, ...): calls
 * `fetch` with no cursor, then with each page's `next`, until `next` is null.
 *
 * ```ts
 * const servers = await allPages(async (after) => {
 *   const r = await client.request('servers.list', { after });
 *   return { items: r.servers, next: r.next };
 * });
 * ```
 */
export async function allPages<T>(fetch: (after: string | undefined) => Promise<ListPage<T>>): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const page = await fetch(after);
    out.push(...page.items);
    if (page.next === null) return out;
    after = page.next;
  }
  throw new Error(`the list did not end after ${MAX_PAGES} pages`);
}
