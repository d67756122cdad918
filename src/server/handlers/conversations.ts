import { type ConversationSummary, PAGE_MAX, type ReadState } from '../../protocol/index.js';
import { readable, scopeOf } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRead } from '../db/chat.js';
import type { ConversationRow } from '../db/schema.js';
import { userScope } from '../event-log.js';
import { PagedList, pageSize } from '../pages.js';
import { sizeOf, toMessages, toPublicUser } from '../views.js';

const CONVERSATIONS = new PagedList('conversations', ['s']);
const DMS = new PagedList('dms', ['n', 's']);

/** Unread and mention counts of one conversation for the caller. */
async function readState(ctx: AuthedCtx, conv: ConversationRow, lastReadSeq: number): Promise<ReadState> {
  const counts =
    lastReadSeq >= conv.lastSeq
      ? undefined
      : (await ctx.chat.unreadCounts(ctx.session.userId, [{ conversationId: conv.id, after: lastReadSeq }])).get(
          conv.id,
        );
  return { conversationId: conv.id, lastReadSeq, unread: counts?.unread ?? 0, mentions: counts?.mentions ?? 0 };
}

/**
 * The summaries of a page of conversations, in its order. Each thing a
 * summary holds is read for the whole page in one query (the counts, the last
 * messages with their authors and mentions, the other person of each DM), so
 * a page costs the same few queries however many conversations it holds.
 */
async function summarize(ctx: AuthedCtx, convs: readonly ConversationRead[]): Promise<ConversationSummary[]> {
  const me = ctx.session.userId;
  // A conversation read to its end has nothing to count (and is left out of the counts).
  const counts = await ctx.chat.unreadCounts(
    me,
    convs.filter((c) => c.lastReadSeq < c.lastSeq).map((c) => ({ conversationId: c.id, after: c.lastReadSeq })),
  );
  const lastMessages = new Map(
    (await toMessages(ctx, [...(await ctx.chat.lastMessages(convs.map((c) => c.id))).values()])).map((m) => [
      m.conversationId,
      m,
    ]),
  );
  const dmMembers = await ctx.chat.conversationMembersOf(convs.filter((c) => c.kind === 'dm').map((c) => c.id));
  return convs.map((conv) => {
    const count = counts.get(conv.id);
    const other = conv.kind === 'dm' ? dmMembers.get(conv.id)?.find((u) => u.id !== me) : undefined;
    return {
      id: conv.id,
      kind: conv.kind,
      serverId: conv.serverId,
      name: other ? other.username : (conv.name ?? ''),
      topic: conv.topic,
      peer: other ? toPublicUser(other) : null,
      lastSeq: conv.lastSeq,
      lastReadSeq: conv.lastReadSeq,
      unread: count?.unread ?? 0,
      mentions: count?.mentions ?? 0,
      lastMessage: lastMessages.get(conv.id) ?? null,
      ...(conv.slowmodeSeconds > 0 ? { slowmode: conv.slowmodeSeconds } : {}),
    };
  });
}

export const listConversations: Handler<'conversations.list'> = async (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.large);
  const start = CONVERSATIONS.start(after);
  const rows = await ctx.chat.conversationPage(ctx.session.userId, start === null ? null : (start[0] as string), n + 1);
  const page = await CONVERSATIONS.page(
    rows,
    n,
    (c) => [c.id],
    (kept) => summarize(ctx, kept),
    sizeOf.summary,
  );
  return { conversations: page.items, next: page.next };
};

export const listDms: Handler<'dms.list'> = async (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.large);
  const rows = await ctx.chat.dmsOf(ctx.session.userId, DMS.start(after), n + 1);
  const page = await DMS.page(
    rows,
    n,
    (c) => c.key,
    (kept) => summarize(ctx, kept),
    sizeOf.summary,
  );
  return { dms: page.items, next: page.next };
};

export const markRead: Handler<'read.mark'> = async (ctx, { conversationId, seq }) => {
  const { conv } = await readable(ctx, conversationId);
  const current = await ctx.chat.lastRead(ctx.session.userId, conv.id);
  // Nothing moves (old or repeated marks): no write, no event. Only new messages can make a mark cost anything.
  if (Math.min(seq, conv.lastSeq) <= current) return readState(ctx, conv, current);
  return ctx.write(async (tx, after) => {
    const fresh = (await readable(tx, conversationId)).conv;
    const position = await tx.chat.markRead(tx.session.userId, fresh.id, Math.min(seq, fresh.lastSeq));
    const state = await readState(tx, fresh, position);
    await tx.events.append(after, [userScope(tx.session.userId)], 'read.updated', state, tx.clock());
    return state;
  });
};

/** Typing notices last this long unless repeated. */
const TYPING_TTL_MS = 6_000;
/** Repeats within this time are not re-sent. */
const TYPING_REPEAT_MS = 3_000;

export const startTyping: Handler<'typing.start'> = async (ctx, { conversationId }) => {
  const { conv } = await readable(ctx, conversationId);
  // A blocked DM hears no typing either way.
  if (conv.kind === 'dm' && conv.dmKey) {
    const peerId = conv.dmKey.split(':').find((id) => id !== ctx.session.userId);
    if (peerId && (await ctx.chat.blockedEitherWay(ctx.session.userId, peerId))) return {};
  }
  const now = ctx.clock();
  const key = `${ctx.session.userId}:${conv.id}`;
  const last = ctx.typing.get(key);
  if (last !== undefined && now - last < TYPING_REPEAT_MS) return {};
  if (ctx.typing.size > 10_000) {
    for (const [k, at] of ctx.typing) if (now - at > TYPING_TTL_MS) ctx.typing.delete(k);
  }
  ctx.typing.set(key, now);
  const user = await ctx.chat.user(ctx.session.userId);
  ctx.fanout.broadcast(
    [scopeOf(conv)],
    'typing',
    {
      conversationId: conv.id,
      user: { id: ctx.session.userId, username: user?.username ?? '' },
      expiresAt: now + TYPING_TTL_MS,
    },
    ctx.session.userId,
  );
  return {};
};
