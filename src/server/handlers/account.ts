import { CloseCode, NatterError, type ResultOf } from '../../protocol/index.js';
import { scopeOf } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { OwnedServer } from '../db/accounts.js';
import type { PageKey } from '../pages.js';
import { PagedList, pageSize, textBytes } from '../pages.js';
import type { AfterCommit } from '../store/port.js';
import { toMessages, toSelf } from '../views.js';
import { charge, checkPassword, currentUser } from './accounts.js';
import { departGroup } from './groups.js';
import { removeMember } from './servers.js';

/** The refusal of a deletion while the account owns servers, naming them and what to do. */
export function ownsServers(servers: readonly OwnedServer[], command = 'natter account delete'): NatterError {
  const names = servers.map((s) => s.name).join(', ');
  const them = servers.length === 1 ? 'it' : 'them';
  return new NatterError(
    'conflict',
    `you own ${names}: give ${them} away with \`natter server transfer\` or delete ${them} with \`natter server delete\` first, then run ${command} again`,
  );
}

/**
 * Deletes the caller's account (see `AccountStore.deleteAccount`) once its
 * password is checked: wrong passwords count as a password change's do.
 * The servers and groups it leaves are told as when a member leaves; every
 * connection of the account, on every node, is closed after the reply.
 */
export const deleteAccount: Handler<'account.delete'> = async (ctx, { password }) => {
  const user = await currentUser(ctx);
  const attempt = await charge([[ctx.limiters.passwordChangePerUser, user.id]], undefined, 'wrong passwords');
  let right: boolean;
  try {
    right = await checkPassword(ctx, password, user, ctx.conn.address, true);
  } catch (err) {
    await attempt.refund();
    throw err;
  }
  if (!right) {
    throw new NatterError('invalid_credentials', 'the password is wrong; nothing was deleted', {
      field: 'params.password',
    });
  }
  await attempt.refund();
  const mode = ctx.config.deletedMessages;
  const userId = user.id;
  const counts = await ctx.write(async (tx, after) => {
    const fresh = await tx.users.byId(userId);
    if (!fresh || fresh.deletedAt !== null) {
      throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
    }
    if (fresh.passwordHash !== user.passwordHash) {
      throw new NatterError('conflict', 'the password was changed meanwhile; nothing was deleted, try again');
    }
    const owned = await tx.accounts.ownedServers(userId);
    if (owned.length > 0) throw ownsServers(owned);
    // The others are told as when a member leaves; the store then removes what is left.
    for (const serverId of await tx.chat.serverIdsOf(userId)) await removeMember(tx, after, serverId, userId, 'left');
    let page: PageKey | null = null;
    for (;;) {
      const groups = await tx.chat.groupsOf(userId, page, 100);
      for (const conv of groups) await departGroup(tx, after, conv, userId);
      const last = groups.at(-1);
      if (groups.length < 100 || last === undefined) break;
      page = last.key;
    }
    const sessions = (await tx.accounts.sessionsOf(userId)).map((r) => r.id);
    const now = tx.clock();
    const removed = mode === 'remove' ? await tx.accounts.latestBy(userId, ANNOUNCED_REMOVALS) : [];
    const deleted = await tx.accounts.deleteAccount(userId, now, mode);
    await announceRemoved(tx, after, removed, now);
    // Every node also notices through the operators' signal (account-watch.ts), whatever the bus does.
    await tx.accounts.bumpSignal();
    return { ...deleted, ended: sessions };
  });
  const conn = ctx.conn;
  ctx.afterReply(() => {
    if (conn.transport !== 'http') ctx.hub.deauthenticate(conn);
    // Every session and bot token of the account, on every node (as a password change closes them).
    ctx.fanout.closeSessions(counts.ended, CloseCode.accountClosed, 'account deleted');
  });
  return { deletedMessages: mode, messagesRemoved: counts.messagesRemoved, uploadsRemoved: counts.uploadsRemoved };
};

/** How many of a deleted account's removed messages readers are told of, newest first (the rest at their next read). */
export const ANNOUNCED_REMOVALS = 500;

/**
 * With `--deleted-messages remove`: readers get `message.deleted` for the
 * account's newest messages (`ids`, taken before the deletion), as for a moderator's deletion, so the
 * conversations they have open drop them. Older ones are gone from history
 * and search all the same, when they next read them.
 */
async function announceRemoved(tx: AuthedCtx, after: AfterCommit, ids: readonly string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  // Read after the deletion: the rows are tombstones by now, their author "deleted user".
  const rows = await tx.chat.messagesByIds(ids);
  const convs = await tx.chat.conversationsByIds([...new Set(rows.map((m) => m.conversationId))]);
  const tombstones = await toMessages(tx, rows);
  for (const [i, tombstone] of tombstones.entries()) {
    const conv = convs.get(rows[i]?.conversationId ?? '');
    if (conv) await tx.events.append(after, [scopeOf(conv)], 'message.deleted', { message: tombstone }, now);
  }
}

/** The export's pages: messages by creation time and id; uploads and reports by their place in the list. */
const EXPORT_MESSAGES = new PagedList('export-messages', ['n', 's']);
const EXPORT_UPLOADS = new PagedList('export-uploads', ['n']);
const EXPORT_REPORTS = new PagedList('export-reports', ['n']);

type Export = ResultOf<'account.export'>;

/** A list held whole (an account's uploads or reports: rows, never bytes), cut into pages by position. */
async function byPosition<T>(
  list: PagedList,
  items: readonly T[],
  after: string | undefined,
  limit: number,
  size: (item: T) => number,
): Promise<{ items: T[]; next: string | null }> {
  const from = Number(list.start(after)?.[0] ?? 0);
  const rows = items.slice(from, from + limit + 1).map((item, i) => ({ item, at: from + i + 1 }));
  const page = await list.page(
    rows,
    limit,
    (r) => [r.at],
    (kept) => kept.map((r) => r.item),
    size,
  );
  return page;
}

/**
 * One part of what the server holds about the caller: `profile`, or a page
 * of `messages`, `uploads` or `reports` (`account.export`).
 */
export const exportAccount: Handler<'account.export'> = async (ctx, { part, after, limit }) => {
  const userId = ctx.session.userId;
  const n = pageSize(limit, 1000);
  const empty: Export = { format: 1, profile: null, messages: [], uploads: [], reports: [], next: null };
  switch (part) {
    case 'profile': {
      if (after !== undefined) {
        throw new NatterError('bad_request', 'the profile is one page: ask for it without "after"', {
          field: 'params.after',
        });
      }
      const user = await currentUser(ctx);
      return {
        ...empty,
        profile: {
          user: toSelf(user),
          email: user.email,
          emailVerifiedAt: user.emailVerifiedAt,
          createdAt: user.createdAt,
          updatedAt: user.updatedAt,
          groupAdds: user.groupAdds,
        },
      };
    }
    case 'messages': {
      const key = EXPORT_MESSAGES.start(after);
      const from = key === null ? null : { createdAt: Number(key[0]), id: String(key[1]) };
      const rows = await ctx.accounts.messagesBy(userId, from, n + 1);
      const page = await EXPORT_MESSAGES.page(
        rows,
        n,
        (m) => [m.createdAt, m.id],
        (kept) => kept.map((m) => ({ ...m, conversationKind: m.conversationKind as 'channel' | 'group' | 'dm' })),
        (m) => 250 + textBytes(m.body),
      );
      return { ...empty, messages: page.items, next: page.next };
    }
    case 'uploads': {
      const page = await byPosition(
        EXPORT_UPLOADS,
        await ctx.accounts.uploadsBy(userId),
        after,
        n,
        (u) => 250 + textBytes(u.name),
      );
      return { ...empty, uploads: page.items, next: page.next };
    }
    case 'reports': {
      const page = await byPosition(
        EXPORT_REPORTS,
        await ctx.accounts.reportsBy(userId),
        after,
        n,
        (r) => 250 + textBytes(r.details),
      );
      return { ...empty, reports: page.items, next: page.next };
    }
  }
};
