/** A page of a list as the protocol returns it, reduced to its items and the cursor of the next page. */
export type ListPage<T> = { items: T[]; next: string | null };

/** Pages fetched for one list at most, so a server that never ends a list cannot keep a client busy forever. */
const MAX_PAGES = 10_000;

/** Times one page is asked again after the server said to slow down. */
const RETRIES = 20;

/** The wait a `rate_limited` error asks for, or null for any other error. */
function slowDown(err: unknown): number | null {
  const e = err as { code?: unknown; retryAfterMs?: unknown } | null;
  if (typeof e !== 'object' || e === null || e.code !== 'rate_limited') return null;
  return typeof e.retryAfterMs === 'number' ? e.retryAfterMs : 1000;
}

/** The longest wait {@link patiently} sits out; a longer one is the caller's to decide. */
const LONGEST_WAIT_MS = 30_000;

/**
 * Runs `request`, and when the server says to slow down (`rate_limited`)
 * waits as long as it asks and tries again, up to 20 times, as long as no
 * single wait is over 30 s. Other errors, and the last `rate_limited`, are
 * thrown. Safe for reads, and for writes that carry a nonce (a retry of a
 * send that went through is answered with the original).
 */
export async function patiently<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      const wait = slowDown(err);
      if (wait === null || wait > LONGEST_WAIT_MS || attempt >= RETRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Every item of a paged list (`servers.list`, `members.list`, ...): calls
 * `fetch` with no cursor, then with each page's `next`, until `next` is null.
 * When the server says to slow down (`rate_limited`, a long list read fast
 * uses up the read budget), it waits as long as asked and goes on.
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
    const cursor = after;
    const page = await patiently(() => fetch(cursor));
    out.push(...page.items);
    if (page.next === null) return out;
    after = page.next;
  }
  throw new Error(`the list did not end after ${MAX_PAGES} pages`);
}
