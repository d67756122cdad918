import { LIMITS, mentionedNames, NatterError } from '../../protocol/index.js';
import { notAccepting, readable, readableMessage, scopeOf } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow, MessageRow, UserRow } from '../db/schema.js';
import { conversationScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spend, spendLookups, spendWrite } from '../limits.js';
import { fitting } from '../pages.js';
import { findUser } from '../usernames.js';
import { sizeOf, toMessage, toMessages, toUserRef } from '../views.js';
import type { AfterCommit } from '../writer.js';

/** Can `userId` read `conv`? */
export function canRead(ctx: AuthedCtx, conv: ConversationRow, userId: string): boolean {
  if (conv.kind === 'channel') return conv.serverId !== null && ctx.chat.role(conv.serverId, userId) !== undefined;
  return ctx.chat.isConversationMember(conv.id, userId);
}

/** The DM between the caller and `username`, opened (and announced to both) if it does not exist yet. */
function dmWith(ctx: AuthedCtx, after: AfterCommit, me: UserRow, username: string): ConversationRow {
  const name = username.replace(/^@/, '').normalize('NFC');
  const peer = findUser(ctx, name);
  if (!peer) throw new NatterError('not_found', `no user named "${name}"`, { field: 'params.to' });
  if (peer.id === me.id)
    throw new NatterError('bad_request', 'you cannot send a direct message to yourself', { field: 'params.to' });
  if (ctx.chat.blockedEitherWay(me.id, peer.id)) throw notAccepting(peer.username, 'params.to');
  const key = [me.id, peer.id].sort().join(':');
  const existing = ctx.chat.dmByKey(key);
  if (existing) return existing;
  const now = ctx.clock();
  const conv = ctx.chat.createConversation({ kind: 'dm', dmKey: key }, now);
  const scope = conversationScope(conv.id);
  for (const [user, other] of [
    [me, peer],
    [peer, me],
  ] as const) {
    ctx.chat.addConversationMember(conv.id, user.id, now);
    after.push(() => ctx.hub.subscribeUser(user.id, scope));
    ctx.events.append(
      after,
      [userScope(user.id)],
      'dm.opened',
      { conversationId: conv.id, peer: publicOf(other) },
      now,
    );
  }
  return conv;
}

function publicOf(u: UserRow) {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    status: u.status,
    bio: u.bio,
    createdAt: u.createdAt,
  };
}

/**
 * Records the `@mentions` of a message that name people who can read it and
 * have not blocked its author (a blocked user cannot notify anyone); returns
 * their ids.
 */
function recordMentions(ctx: AuthedCtx, conv: ConversationRow, row: MessageRow): string[] {
  const ids: string[] = [];
  for (const name of mentionedNames(row.body)) {
    // A message notifies at most this many: a mention bomb stays text (and every page of history stays small).
    if (ids.length >= LIMITS.mentionsMax) break;
    const user = findUser(ctx, name);
    if (user && !ids.includes(user.id) && canRead(ctx, conv, user.id)) ids.push(user.id);
  }
  const blockers = ctx.chat.blockersOf(row.authorId, ids);
  const kept = ids.filter((id) => !blockers.has(id));
  for (const id of kept) ctx.chat.insertMention(row.id, id, conv.id, row.seq);
  return kept;
}

/** In a DM, a block either way stops new messages and edits. */
function assertDmOpen(ctx: AuthedCtx, conv: ConversationRow): void {
  if (conv.kind !== 'dm' || !conv.dmKey) return;
  const me = ctx.session.userId;
  const peerId = conv.dmKey.split(':').find((id) => id !== me);
  if (peerId && ctx.chat.blockedEitherWay(me, peerId)) {
    throw notAccepting(ctx.chat.userRef(peerId)?.username ?? 'unknown', 'params.conversationId');
  }
}

function me(ctx: AuthedCtx): UserRow {
  const user = ctx.chat.user(ctx.session.userId);
  if (!user) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  return user;
}

export const sendMessage: Handler<'messages.send'> = (ctx, params) => {
  spend(ctx.limiters.sendPerUser, ctx.session.userId, 'messages; slow down');
  // A DM by name says whether the name exists: it costs a look-up, like users.get.
  if ('to' in params) spendLookups(ctx, 1);
  return ctx.write((after) => {
    const author = ctx.chat.userRef(ctx.session.userId);
    if (!author) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
    // A retry of a send that already went through: the original, nothing new.
    const original = ctx.chat.messageByNonce(author.id, params.nonce);
    if (original) return { message: toMessages(ctx.chat, [original])[0] ?? never(), duplicate: true };
    const conv =
      'conversationId' in params ? readable(ctx, params.conversationId).conv : dmWith(ctx, after, me(ctx), params.to);
    assertDmOpen(ctx, conv);
    const now = ctx.clock();
    const row: MessageRow = {
      id: newId(),
      conversationId: conv.id,
      seq: ctx.chat.nextSeq(conv.id, now),
      authorId: author.id,
      body: params.body,
      createdAt: now,
      editedAt: null,
      deletedAt: null,
      nonce: params.nonce,
      kind: params.kind ?? 'text',
      // Written by a program: the connection authenticated with a bot token.
      bot: ctx.session.kind === 'bot',
    };
    ctx.chat.insertMessage(row);
    const message = toMessage(row, author, recordMentions(ctx, conv, row));
    // What I wrote, I have read (written once per conversation when the batch commits).
    ctx.chat.markReadOnCommit(author.id, conv.id, row.seq);
    ctx.events.append(after, [scopeOf(conv)], 'message.created', { message }, now);
    return { message, duplicate: false };
  });
};

function never(): never {
  throw new Error('message vanished inside its transaction');
}

export const editMessage: Handler<'messages.edit'> = (ctx, { messageId, body }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const { message, conv } = readableMessage(ctx, messageId);
    if (message.deletedAt !== null) throw new NatterError('not_found', 'no such message');
    if (message.authorId !== ctx.session.userId)
      throw new NatterError('forbidden', 'you can only edit your own messages');
    assertDmOpen(ctx, conv);
    const now = ctx.clock();
    ctx.chat.editMessage(message.id, body, now);
    ctx.chat.clearMentions(message.id);
    const row = { ...message, body, editedAt: now };
    const updated = toMessage(row, toUserRef(me(ctx)), recordMentions(ctx, conv, row));
    ctx.events.append(after, [scopeOf(conv)], 'message.updated', { message: updated }, now);
    return { message: updated };
  });
};

export const deleteMessage: Handler<'messages.delete'> = (ctx, { messageId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const { message, conv, role } = readableMessage(ctx, messageId);
    const mine = message.authorId === ctx.session.userId;
    const moderator = conv.kind === 'channel' && (role === 'owner' || role === 'admin');
    if (!mine && !moderator) throw new NatterError('forbidden', 'you can only delete your own messages');
    if (message.deletedAt !== null) return { message: toMessages(ctx.chat, [message])[0] ?? never() };
    const now = ctx.clock();
    ctx.chat.deleteMessage(message.id, now);
    const tombstone = toMessages(ctx.chat, [{ ...message, body: '', deletedAt: now }])[0] ?? never();
    ctx.events.append(after, [scopeOf(conv)], 'message.deleted', { message: tombstone }, now);
    return { message: tombstone };
  });
};

export const history: Handler<'messages.history'> = (ctx, { conversationId, before, after, limit }) => {
  const { conv } = readable(ctx, conversationId);
  const n = Math.min(limit ?? 50, LIMITS.historyPageMax);
  let rows: MessageRow[];
  let hasMore: boolean;
  if (after !== undefined) {
    rows = ctx.chat.after(conv.id, after, n + 1);
    if (before !== undefined) rows = rows.filter((r) => r.seq < before);
    hasMore = rows.length > n;
    rows = rows.slice(0, n);
  } else {
    rows = before !== undefined ? ctx.chat.before(conv.id, before, n + 1) : ctx.chat.latest(conv.id, n + 1);
    hasMore = rows.length > n;
    rows = rows.slice(-n);
  }
  let messages = toMessages(ctx.chat, rows);
  // A page stops at PAGE_BYTES: it keeps the messages nearest to where it starts
  // (after `after`, or before `before`/the end), and says there is more.
  if (after !== undefined) {
    const fit = fitting(messages, sizeOf.message);
    if (fit < messages.length) [messages, hasMore] = [messages.slice(0, fit), true];
  } else {
    const fit = fitting([...messages].reverse(), sizeOf.message);
    if (fit < messages.length) [messages, hasMore] = [messages.slice(messages.length - fit), true];
  }
  return { messages, hasMore };
};
