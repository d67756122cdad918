import { LIMITS, NatterError, type SearchConversation, type SearchHit, searchTerms } from '../../protocol/index.js';
import { searchable } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { SearchRow } from '../db/chat.js';
import { spendLookups } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { matchRanges } from '../search.js';
import { findUser } from '../usernames.js';
import { sizeOf, toMessages, toSearchConversation } from '../views.js';

const SEARCH = new PagedList('search', ['n']);

/**
 * Index matches one page looks at, at most. Matches the caller may not read
 * are passed over; once this many have been looked at, the page ends (with
 * fewer hits than asked, even none) and its `next` goes on from there. A word
 * that is everywhere the caller cannot read costs each request this much
 * work, not a walk through the whole index.
 */
export const SCAN_MAX = 2_000;

/**
 * A caller in at most this many servers, groups and DMs has them in the index
 * query itself, so the index skips whatever they cannot read. Past it, the
 * index query would cost more than it saves (each audience is one more list
 * to merge), and matches are checked one by one against the caller's scopes.
 */
export const SCOPES_IN_QUERY = 50;

/**
 * How hits name each of the conversations `ids`, in three queries however
 * many there are: the conversations, the members of the DMs among them, the
 * servers of the channels.
 */
async function searchConversations(ctx: AuthedCtx, ids: readonly string[]): Promise<Map<string, SearchConversation>> {
  const convs = [...(await ctx.chat.conversationsByIds(ids)).values()];
  const dmMembers = await ctx.chat.conversationMembersOf(convs.filter((c) => c.kind === 'dm').map((c) => c.id));
  const servers = await ctx.chat.serversByIds([
    ...new Set(convs.flatMap((c) => (c.kind === 'channel' && c.serverId !== null ? [c.serverId] : []))),
  ]);
  return new Map(
    convs.map((c) => [
      c.id,
      toSearchConversation(
        c,
        ctx.session.userId,
        dmMembers.get(c.id) ?? [],
        c.serverId === null ? undefined : servers.get(c.serverId),
      ),
    ]),
  );
}

/** The hits of one page: each message as it is now, its conversation, and where its words matched. */
async function toHits(ctx: AuthedCtx, rows: SearchRow[]): Promise<SearchHit[]> {
  const messages = new Map(
    (await toMessages(ctx, await ctx.chat.messagesByIds(rows.map((r) => r.messageId)))).map((m) => [m.id, m]),
  );
  const conversations = await searchConversations(ctx, [
    ...new Set([...messages.values()].map((m) => m.conversationId)),
  ]);
  return rows.flatMap((r) => {
    // The index and the messages change in the same statement: a key always names a message.
    const message = messages.get(r.messageId);
    const conversation = message && conversations.get(message.conversationId);
    if (!message || !conversation) return [];
    return [{ message, conversation, matches: matchRanges(r.marked, message.body) }];
  });
}

export const searchMessages: Handler<'messages.search'> = async (
  ctx,
  { query, conversationId, from, after, limit },
) => {
  // A search by author says whether the name exists: it costs a look-up, like users.get.
  if (from !== undefined) await spendLookups(ctx, 1);
  const n = pageSize(limit, LIMITS.searchPageMax);
  const start = SEARCH.start(after);
  const { conv, scopes } = await searchable(ctx, conversationId);
  let authorId: string | undefined;
  if (from !== undefined) {
    const name = from.replace(/^@/, '').normalize('NFC');
    const author = await findUser(ctx, name);
    if (!author) throw new NatterError('not_found', `no user named "${name}"`, { field: 'params.from' });
    authorId = author.id;
  }
  const terms = searchTerms(query);
  // Only punctuation (`"`, `*`, `-`): no word to look for, so nothing is found.
  if (terms.words.length === 0 || scopes.length === 0) return { hits: [], next: null };
  const filter = {
    conversationId: conv?.id,
    authorId,
    scopes: conv === null && scopes.length <= SCOPES_IN_QUERY ? scopes : undefined,
  };
  const before = (start?.[0] as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  const found = await ctx.chat.search(terms, filter, scopes, before, n + 1, SCAN_MAX);
  const page = await SEARCH.page(
    found.hits,
    n,
    (h) => [h.key],
    (kept) => toHits(ctx, kept),
    sizeOf.searchHit,
  );
  // Stopped after SCAN_MAX matches with room left on the page: the next page goes on from there.
  const next = page.next ?? (found.end || found.last === null ? null : SEARCH.cursorAfter([found.last]));
  return { hits: page.items, next };
};
