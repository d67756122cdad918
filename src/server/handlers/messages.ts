import { LIMITS, type Message, mentionedNames, NatterError } from '../../protocol/index.js';
import {
  assertDmOpen,
  assertMayDelete,
  assertMayEdit,
  assertMayWrite,
  canRead,
  notAccepting,
  readable,
  readableMessage,
  scopeOf,
} from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow, MessageRow, UserRow } from '../db/schema.js';
import { conversationScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spend, spendLookups, spendWrite } from '../limits.js';
import { fitting } from '../pages.js';
import type { AfterCommit } from '../store/port.js';
import { findUser } from '../usernames.js';
import { sizeOf, toMessage, toMessages, toPublicUser, toUserRef } from '../views.js';
import { audit } from './audit.js';

/** The DM between the caller and `username`, opened (and announced to both) if it does not exist yet. */
async function dmWith(ctx: AuthedCtx, after: AfterCommit, me: UserRow, username: string): Promise<ConversationRow> {
  const name = username.replace(/^@/, '').normalize('NFC');
  const peer = await findUser(ctx, name);
  if (!peer) throw new NatterError('not_found', `no user named "${name}"`, { field: 'params.to' });
  if (peer.id === me.id)
    throw new NatterError('bad_request', 'you cannot send a direct message to yourself', { field: 'params.to' });
  if (await ctx.chat.blockedEitherWay(me.id, peer.id)) throw notAccepting(peer.username, 'params.to');
  const key = [me.id, peer.id].sort().join(':');
  const existing = await ctx.chat.dmByKey(key);
  if (existing) return existing;
  const now = ctx.clock();
  const conv = await ctx.chat.createConversation({ kind: 'dm', dmKey: key }, now);
  const scope = conversationScope(conv.id);
  for (const [user, other] of [
    [me, peer],
    [peer, me],
  ] as const) {
    await ctx.chat.addConversationMember(conv.id, user.id, now);
    after.push(() => ctx.fanout.subscribeUser(user.id, scope));
    await ctx.events.append(
      after,
      [userScope(user.id)],
      'dm.opened',
      { conversationId: conv.id, peer: toPublicUser(other) },
      now,
    );
  }
  return conv;
}

/**
 * Records the `@mentions` of a message that name people who can read it and
 * have not blocked its author (a blocked user cannot notify anyone); returns
 * their ids.
 */
async function recordMentions(ctx: AuthedCtx, conv: ConversationRow, row: MessageRow): Promise<string[]> {
  const ids: string[] = [];
  for (const name of mentionedNames(row.body)) {
    // A message notifies at most this many: a mention bomb stays text (and every page of history stays small).
    if (ids.length >= LIMITS.mentionsMax) break;
    const user = await findUser(ctx, name);
    if (user && !ids.includes(user.id) && (await canRead(ctx, conv, user.id))) ids.push(user.id);
  }
  const blockers = await ctx.chat.blockersOf(row.authorId, ids);
  const kept = ids.filter((id) => !blockers.has(id));
  for (const id of kept) await ctx.chat.insertMention(row.id, id, conv.id, row.seq);
  return kept;
}

async function me(ctx: AuthedCtx): Promise<UserRow> {
  const user = await ctx.chat.user(ctx.session.userId);
  if (!user) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  return user;
}

export const sendMessage: Handler<'messages.send'> = async (ctx, params) => {
  await spend(ctx.limiters.sendPerUser, ctx.session.userId, 'messages; slow down');
  // A DM by name says whether the name exists: it costs a look-up, like users.get.
  if ('to' in params) await spendLookups(ctx, 1);
  return ctx.write(
    async (tx, after) => {
      const author = await tx.chat.userRef(tx.session.userId);
      if (!author) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
      // A retry of a send that already went through: the original, nothing new.
      const original = await tx.chat.messageByNonce(author.id, params.nonce);
      if (original) return { message: (await toMessages(tx.chat, [original]))[0] ?? never(), duplicate: true };
      const { conv, role } =
        'conversationId' in params
          ? await readable(tx, params.conversationId)
          : { conv: await dmWith(tx, after, await me(tx), params.to), role: null };
      await assertDmOpen(tx, conv);
      const now = tx.clock();
      await assertMayWrite(tx, conv, role, now, true);
      const row: MessageRow = {
        id: newId(),
        conversationId: conv.id,
        seq: await tx.chat.nextSeq(conv.id, now),
        authorId: author.id,
        body: params.body,
        createdAt: now,
        editedAt: null,
        deletedAt: null,
        nonce: params.nonce,
        kind: params.kind ?? 'text',
        // Written by a program: the connection authenticated with a bot token.
        bot: tx.session.kind === 'bot',
      };
      await tx.chat.insertMessage(row);
      const message = toMessage(row, author, await recordMentions(tx, conv, row));
      // What I wrote, I have read (written once per conversation when the batch commits).
      await tx.chat.markReadOnCommit(author.id, conv.id, row.seq);
      await tx.events.append(after, [scopeOf(conv)], 'message.created', { message }, now);
      return { message, duplicate: false };
    },
    'conversationId' in params ? { conversationId: params.conversationId, nonce: params.nonce } : undefined,
  );
};

function never(): never {
  throw new Error('message vanished inside its transaction');
}

export const editMessage: Handler<'messages.edit'> = async (ctx, { messageId, body }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const { message, conv, role } = await readableMessage(tx, messageId);
    assertMayEdit(tx, message);
    await assertDmOpen(tx, conv);
    const now = tx.clock();
    await assertMayWrite(tx, conv, role, now, false);
    await tx.chat.editMessage(message.id, body, now);
    await tx.chat.clearMentions(message.id);
    const row = { ...message, body, editedAt: now };
    const updated = toMessage(row, toUserRef(await me(tx)), await recordMentions(tx, conv, row));
    await tx.events.append(after, [scopeOf(conv)], 'message.updated', { message: updated }, now);
    return { message: updated };
  });
};

/**
 * Deletes `message` of `conv` for everyone who reads it: its tombstone keeps
 * its number, readers get `message.deleted`, and a moderator's deletion of
 * someone else's channel message (`moderated`) goes to the server's audit log
 * with `reason`. A message deleted already is returned as it is, and nothing
 * is sent. Whoever calls it has checked that the caller may delete it.
 */
export async function removeMessage(
  ctx: AuthedCtx,
  after: AfterCommit,
  message: MessageRow,
  conv: ConversationRow,
  moderated: boolean,
  reason: string | null | undefined,
): Promise<Message> {
  if (message.deletedAt !== null) return (await toMessages(ctx.chat, [message]))[0] ?? never();
  const now = ctx.clock();
  await ctx.chat.deleteMessage(message.id, now);
  if (moderated && conv.serverId !== null) {
    await audit(ctx, conv.serverId, 'message.delete', {
      targetUserId: message.authorId,
      targetId: message.id,
      reason,
      details: { conversationId: conv.id, channel: conv.name, seq: message.seq },
    });
  }
  const tombstone = (await toMessages(ctx.chat, [{ ...message, body: '', deletedAt: now }]))[0] ?? never();
  await ctx.events.append(after, [scopeOf(conv)], 'message.deleted', { message: tombstone }, now);
  return tombstone;
}

/**
 * The caller deletes a message they can read: their own, or as a moderator
 * (and up) someone's below them in a server's channel (see `assertMayDelete`).
 */
export async function deleteAs(
  ctx: AuthedCtx,
  after: AfterCommit,
  messageId: string,
  reason: string | null | undefined,
): Promise<Message> {
  const { message, conv, role } = await readableMessage(ctx, messageId);
  const authorRole = conv.serverId === null ? undefined : await ctx.chat.role(conv.serverId, message.authorId);
  const moderated = assertMayDelete(ctx, message, conv, role, authorRole);
  return removeMessage(ctx, after, message, conv, moderated, reason);
}

export const deleteMessage: Handler<'messages.delete'> = async (ctx, { messageId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => ({ message: await deleteAs(tx, after, messageId, reason) }));
};

export const history: Handler<'messages.history'> = async (ctx, { conversationId, before, after, limit }) => {
  const { conv } = await readable(ctx, conversationId);
  const n = Math.min(limit ?? 50, LIMITS.historyPageMax);
  let rows: MessageRow[];
  let hasMore: boolean;
  if (after !== undefined) {
    rows = await ctx.chat.after(conv.id, after, n + 1);
    if (before !== undefined) rows = rows.filter((r) => r.seq < before);
    hasMore = rows.length > n;
    rows = rows.slice(0, n);
  } else {
    rows = before !== undefined ? await ctx.chat.before(conv.id, before, n + 1) : await ctx.chat.latest(conv.id, n + 1);
    hasMore = rows.length > n;
    rows = rows.slice(-n);
  }
  let messages = await toMessages(ctx.chat, rows);
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
