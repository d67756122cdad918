import { type ConversationSummary, PAGE_MAX, type ReadState } from '../../protocol/index.js';
import { readable, scopeOf } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow } from '../db/schema.js';
import { toPublicUser } from '../db/users.js';
import { userScope } from '../event-log.js';
import { PagedList, pageSize } from '../pages.js';
import { sizeOf, toMessages } from '../views.js';

const CONVERSATIONS = new PagedList('conversations', ['s']);
const DMS = new PagedList('dms', ['n', 's']);

/** Unread and mention counts of one conversation for the caller. */
function readState(ctx: AuthedCtx, conv: ConversationRow, lastReadSeq: number): ReadState {
  const caughtUp = lastReadSeq >= conv.lastSeq;
  return {
    conversationId: conv.id,
    lastReadSeq,
    unread: caughtUp ? 0 : ctx.chat.unread(ctx.session.userId, conv.id, lastReadSeq),
    mentions: caughtUp ? 0 : ctx.chat.mentionCount(ctx.session.userId, conv.id, lastReadSeq),
  };
}

function summarize(ctx: AuthedCtx, conv: ConversationRow): ConversationSummary {
  const state = readState(ctx, conv, ctx.chat.lastRead(ctx.session.userId, conv.id));
  const last = ctx.chat.lastMessage(conv.id);
  let peer = null;
  let name = conv.name ?? '';
  if (conv.kind === 'dm') {
    const other = ctx.chat.conversationMembers(conv.id).find((u) => u.id !== ctx.session.userId);
    if (other) {
      peer = toPublicUser(other);
      name = other.username;
    }
  }
  return {
    id: conv.id,
    kind: conv.kind,
    serverId: conv.serverId,
    name,
    topic: conv.topic,
    peer,
    lastSeq: conv.lastSeq,
    lastReadSeq: state.lastReadSeq,
    unread: state.unread,
    mentions: state.mentions,
    lastMessage: last ? (toMessages(ctx.chat, [last])[0] ?? null) : null,
  };
}

export const listConversations: Handler<'conversations.list'> = (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.large);
  const start = CONVERSATIONS.start(after);
  const rows = ctx.chat.conversationPage(ctx.session.userId, start === null ? null : (start[0] as string), n + 1);
  const page = CONVERSATIONS.page(
    rows,
    n,
    (c) => [c.id],
    (kept) => kept.map((c) => summarize(ctx, c)),
    sizeOf.summary,
  );
  return { conversations: page.items, next: page.next };
};

export const listDms: Handler<'dms.list'> = (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.large);
  const rows = ctx.chat.dmsOf(ctx.session.userId, DMS.start(after), n + 1);
  const page = DMS.page(
    rows,
    n,
    (c) => c.key,
    (kept) => kept.map((c) => summarize(ctx, c)),
    sizeOf.summary,
  );
  return { dms: page.items, next: page.next };
};

export const markRead: Handler<'read.mark'> = (ctx, { conversationId, seq }) => {
  const { conv } = readable(ctx, conversationId);
  const current = ctx.chat.lastRead(ctx.session.userId, conv.id);
  // Nothing moves (old or repeated marks): no write, no event. Only new messages can make a mark cost anything.
  if (Math.min(seq, conv.lastSeq) <= current) return readState(ctx, conv, current);
  return ctx.write((after) => {
    const fresh = readable(ctx, conversationId).conv;
    const position = ctx.chat.markRead(ctx.session.userId, fresh.id, Math.min(seq, fresh.lastSeq));
    const state = readState(ctx, fresh, position);
    ctx.events.append(after, [userScope(ctx.session.userId)], 'read.updated', state, ctx.clock());
    return state;
  });
};

/** Typing notices last this long unless repeated. */
const TYPING_TTL_MS = 6_000;
/** Repeats within this time are not re-sent. */
const TYPING_REPEAT_MS = 3_000;

export const startTyping: Handler<'typing.start'> = (ctx, { conversationId }) => {
  const { conv } = readable(ctx, conversationId);
  // A blocked DM hears no typing either way.
  if (conv.kind === 'dm' && conv.dmKey) {
    const peerId = conv.dmKey.split(':').find((id) => id !== ctx.session.userId);
    if (peerId && ctx.chat.blockedEitherWay(ctx.session.userId, peerId)) return {};
  }
  const now = ctx.clock();
  const key = `${ctx.session.userId}:${conv.id}`;
  const last = ctx.typing.get(key);
  if (last !== undefined && now - last < TYPING_REPEAT_MS) return {};
  if (ctx.typing.size > 10_000) {
    for (const [k, at] of ctx.typing) if (now - at > TYPING_TTL_MS) ctx.typing.delete(k);
  }
  ctx.typing.set(key, now);
  const user = ctx.chat.user(ctx.session.userId);
  ctx.hub.broadcast(
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
