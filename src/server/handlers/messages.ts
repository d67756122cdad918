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
import {
  blockedError,
  type ClassifierOutcome,
  capHold,
  classifierMatch,
  heldError,
  holdMessage,
  moderate,
  reportModeration,
} from '../automod/apply.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow, MessageRow, UserRow } from '../db/schema.js';
import { conversationScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spend, spendLookups, spendWrite } from '../limits.js';
import { fitting } from '../pages.js';
import type { AfterCommit } from '../store/port.js';
import { findUser } from '../usernames.js';
import { sizeOf, toMessage, toMessages, toPublicUser, toUserRef } from '../views.js';
import { assertServerRoom, messageUploads } from './attachments.js';
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
export async function recordMentions(ctx: AuthedCtx, conv: ConversationRow, row: MessageRow): Promise<string[]> {
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

/**
 * Asks the classifier (`--moderation-webhook`) about a message to a
 * server's channel, before the write: a call over the network never holds
 * a write batch. Moderators and up are not asked about; neither is anyone
 * who is not a member (the write refuses them anyway).
 */
async function classify(ctx: AuthedCtx, conversationId: string, body: string): Promise<ClassifierOutcome> {
  if (!ctx.classifier) return null;
  const conv = await ctx.chat.conversation(conversationId);
  if (conv?.kind !== 'channel' || conv.serverId === null) return null;
  const role = await ctx.chat.role(conv.serverId, ctx.session.userId);
  if (role !== 'member') return null;
  const author = await ctx.chat.userRef(ctx.session.userId);
  if (!author) return null;
  const verdict = await ctx.classifier.client.classify({
    text: body,
    author: { id: author.id, username: author.username },
    conversation: { id: conv.id, kind: conv.kind, serverId: conv.serverId, name: conv.name },
  });
  return classifierMatch(verdict, ctx.classifier.policy);
}

export const sendMessage: Handler<'messages.send'> = async (ctx, params) => {
  const body = params.body ?? '';
  if (body === '' && !params.attachments) {
    throw new NatterError('bad_request', 'a message needs text, a file, or both', { field: 'params.body' });
  }
  await spend(ctx.limiters.sendPerUser, ctx.session.userId, 'messages; slow down');
  // A DM by name says whether the name exists: it costs a look-up, like users.get.
  if ('to' in params) await spendLookups(ctx, 1);
  const classified =
    'conversationId' in params && body !== '' ? await classify(ctx, params.conversationId, body) : null;
  const outcome = await ctx.write(
    async (tx, after): Promise<Sent | { refused: NatterError }> => {
      const author = await tx.chat.userRef(tx.session.userId);
      if (!author) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
      // A retry of a send that already went through: the original, nothing new.
      const original = await tx.chat.messageByNonce(author.id, params.nonce);
      if (original) return { message: (await toMessages(tx, [original]))[0] ?? never(), duplicate: true };
      const { conv, role } =
        'conversationId' in params
          ? await readable(tx, params.conversationId)
          : { conv: await dmWith(tx, after, await me(tx), params.to), role: null };
      await assertDmOpen(tx, conv);
      const now = tx.clock();
      const gate = await assertMayWrite(tx, conv, role, now, true);
      const files = params.attachments ? await messageUploads(tx, params.attachments) : [];
      if (conv.serverId !== null) {
        await assertServerRoom(
          tx,
          conv.serverId,
          files.reduce((n, f) => n + f.size, 0),
        );
      }
      // A send retried after its message was held: held still (where rules or the classifier may hold).
      if (gate && (gate.automodRev > 0 || tx.classifier !== null)) {
        const held = await tx.automod.heldByNonce(author.id, params.nonce);
        if (held) return { refused: heldError(held.heldBy) };
      }
      const checked = gate && role ? { conv, role, gate, body, editing: null, classified, now } : null;
      const moderation = checked ? await moderate(tx, after, checked) : null;
      const fields = {
        conversationId: conv.id,
        authorId: author.id,
        body,
        createdAt: now,
        nonce: params.nonce,
        kind: params.kind ?? 'text',
        // Written by a program: the connection authenticated with a bot token.
        bot: tx.session.kind === 'bot',
      } as const;
      if (checked && moderation && (moderation.verdict.block || moderation.verdict.hold)) {
        await capHold(tx, moderation, conv.serverId ?? '');
        const hold = moderation.verdict.block ? null : moderation.verdict.hold;
        if (hold) await holdMessage(tx, after, moderation, fields, conv, files);
        await reportModeration(tx, after, moderation, checked, null);
        return { refused: hold ? heldError(hold.name) : blockedError(moderation, false) };
      }
      const row: MessageRow = {
        id: newId(),
        seq: await tx.chat.nextSeq(conv.id, now),
        editedAt: null,
        deletedAt: null,
        ...fields,
      };
      await tx.chat.insertMessage(row);
      after.push(() => ctx.metrics.messageStored());
      const attached = { messageId: row.id, conversationId: conv.id, serverId: conv.serverId };
      if (
        files.length > 0 &&
        !(await tx.media.attach(
          files.map((f) => f.id),
          attached,
        ))
      ) {
        throw new NatterError(
          'conflict',
          'a file was attached to another message at the same moment; upload it again',
          {
            field: 'params.attachments',
          },
        );
      }
      const message = toMessage(
        row,
        author,
        await recordMentions(tx, conv, row),
        files.map((f, position) => ({ ...f, ...attached, position, expiresAt: null })),
      );
      // What I wrote, I have read (written once per conversation when the batch commits).
      await tx.chat.markReadOnCommit(author.id, conv.id, row.seq);
      await tx.events.append(after, [scopeOf(conv)], 'message.created', { message }, now);
      if (checked && moderation) await reportModeration(tx, after, moderation, checked, row.seq);
      return { message, duplicate: false };
    },
    'conversationId' in params ? { conversationId: params.conversationId, nonce: params.nonce } : undefined,
  );
  // Blocked or held: what the rules did is committed; the send itself is refused.
  if ('refused' in outcome) throw outcome.refused;
  return outcome;
};

type Sent = { message: Message; duplicate: boolean };

function never(): never {
  throw new Error('message vanished inside its transaction');
}

export const editMessage: Handler<'messages.edit'> = async (ctx, { messageId, body }) => {
  await spendWrite(ctx);
  const before = ctx.classifier ? await ctx.chat.message(messageId) : undefined;
  const classified = before ? await classify(ctx, before.conversationId, body) : null;
  const outcome = await ctx.write(async (tx, after): Promise<{ message: Message } | { refused: NatterError }> => {
    const { message, conv, role } = await readableMessage(tx, messageId);
    assertMayEdit(tx, message);
    await assertDmOpen(tx, conv);
    const now = tx.clock();
    const gate = await assertMayWrite(tx, conv, role, now, false);
    const checked = gate && role ? { conv, role, gate, body, editing: message, classified, now } : null;
    const moderation = checked ? await moderate(tx, after, checked) : null;
    // An edit cannot wait for review: what a rule would hold or block is not saved.
    if (checked && moderation && (moderation.verdict.block || moderation.verdict.hold)) {
      await reportModeration(tx, after, moderation, checked, null);
      return { refused: blockedError(moderation, true) };
    }
    await tx.chat.editMessage(message.id, body, now);
    await tx.chat.clearMentions(message.id);
    const row = { ...message, body, editedAt: now };
    const files = (await tx.media.ofMessages([message.id])).get(message.id);
    const updated = toMessage(row, toUserRef(await me(tx)), await recordMentions(tx, conv, row), files);
    await tx.events.append(after, [scopeOf(conv)], 'message.updated', { message: updated }, now);
    if (checked && moderation) await reportModeration(tx, after, moderation, checked, message.seq);
    return { message: updated };
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome;
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
  if (message.deletedAt !== null) return (await toMessages(ctx, [message]))[0] ?? never();
  const now = ctx.clock();
  await ctx.chat.deleteMessage(message.id, now);
  // Its files go with it: their bytes are swept once nothing else names them.
  await ctx.media.detachMessage(message.id);
  if (moderated && conv.serverId !== null) {
    await audit(ctx, conv.serverId, 'message.delete', {
      targetUserId: message.authorId,
      targetId: message.id,
      reason,
      details: { conversationId: conv.id, channel: conv.name, seq: message.seq },
    });
  }
  const tombstone = (await toMessages(ctx, [{ ...message, body: '', deletedAt: now }]))[0] ?? never();
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
  let messages = await toMessages(ctx, rows);
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
