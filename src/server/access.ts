import { NatterError } from '../protocol/index.js';
import type { ServerConfig } from './config.js';
import type { AuthState } from './connection.js';
import type { AuthedCtx, Services } from './context.js';
import type { SendGate } from './db/chat.js';
import { messageTargetKey, type ReportView, userTargetKey } from './db/reports.js';
import type {
  AttachmentRow,
  ConversationRow,
  MemberRow,
  MessageRow,
  ReportRow,
  ServerRow,
  SessionRow,
  UserRow,
} from './db/schema.js';
import { conversationScope, type Scope, serverScope } from './event-log.js';
import type { Hub } from './hub.js';
import { rateLimited } from './limits.js';
import type { ChatStore } from './store/port.js';
import { hashToken } from './tokens.js';

/**
 * Authorization, one place for every operation. Whatever the caller may not
 * see is `not_found`, worded exactly as for an id that does not exist, so
 * probing ids tells nothing. `forbidden` is only for members who lack a role.
 */

const RANK: Record<MemberRow['role'], number> = { member: 0, moderator: 1, admin: 2, owner: 3 };

/** Whether `role` is `min` or above it. */
export function atLeast(role: MemberRow['role'], min: MemberRow['role']): boolean {
  return RANK[role] >= RANK[min];
}

export function noSuchServer(): NatterError {
  return new NatterError('not_found', 'no such server (or you are not a member)');
}

export function noSuchConversation(): NatterError {
  return new NatterError('not_found', 'no such conversation (or you cannot read it)');
}

export function noSuchMessage(): NatterError {
  return new NatterError('not_found', 'no such message');
}

/** The server and the caller's role in it; `not_found` for non-members. */
export async function serverFor(
  ctx: AuthedCtx,
  serverId: string,
): Promise<{ server: ServerRow; role: MemberRow['role'] }> {
  const role = await ctx.chat.role(serverId, ctx.session.userId);
  const server = role ? await ctx.chat.server(serverId) : undefined;
  if (!role || !server) throw noSuchServer();
  return { server, role };
}

/** Like {@link serverFor}, and the caller must hold at least `min`. */
export async function serverWithRole(
  ctx: AuthedCtx,
  serverId: string,
  min: 'moderator' | 'admin' | 'owner',
): Promise<{ server: ServerRow; role: MemberRow['role'] }> {
  const found = await serverFor(ctx, serverId);
  if (RANK[found.role] < RANK[min]) {
    const who = { owner: 'the server owner', admin: 'server admins', moderator: 'server moderators' }[min];
    throw new NatterError('forbidden', `only ${who} can do this`);
  }
  return found;
}

/** May `actor` (with role `actorRole`) act on someone whose role is `targetRole` (kick, ban, delete their messages, change their role)? */
export function outranks(actorRole: MemberRow['role'], targetRole: MemberRow['role'] | undefined): boolean {
  return targetRole === undefined || RANK[actorRole] > RANK[targetRole];
}

/** A conversation the caller can read, with their server role for channels; `not_found` otherwise. */
export async function readable(
  ctx: AuthedCtx,
  conversationId: string,
): Promise<{ conv: ConversationRow; role: MemberRow['role'] | null }> {
  const conv = await ctx.chat.conversation(conversationId);
  if (!conv) throw noSuchConversation();
  if (conv.kind === 'channel') {
    const role = conv.serverId ? await ctx.chat.role(conv.serverId, ctx.session.userId) : undefined;
    if (!role) throw noSuchConversation();
    return { conv, role };
  }
  if (!(await ctx.chat.isConversationMember(conv.id, ctx.session.userId))) throw noSuchConversation();
  return { conv, role: null };
}

/**
 * Where the caller may search messages, as audiences (`s:<server>` for the
 * channels of a server, `c:<conversation>` for a group or DM): the scopes they
 * belong to now, the ones their events come from, so leaving a server or a
 * group, a kick or a ban takes its messages out of their results at once.
 * With `conversationId`, that conversation alone, by the same rule as its
 * history: `not_found` when the caller cannot read it.
 */
export async function searchable(
  ctx: AuthedCtx,
  conversationId: string | undefined,
): Promise<{ conv: ConversationRow | null; scopes: Scope[] }> {
  if (conversationId !== undefined) {
    const { conv } = await readable(ctx, conversationId);
    return { conv, scopes: [scopeOf(conv)] };
  }
  return { conv: null, scopes: await scopesOfUser(ctx.chat, ctx.session.userId) };
}

/** A message in a conversation the caller can read; `not_found` otherwise. */
export async function readableMessage(
  ctx: AuthedCtx,
  messageId: string,
): Promise<{ message: MessageRow; conv: ConversationRow; role: MemberRow['role'] | null }> {
  const message = await ctx.chat.message(messageId);
  if (!message) throw noSuchMessage();
  try {
    return { message, ...(await readable(ctx, message.conversationId)) };
  } catch {
    throw noSuchMessage();
  }
}

/** A group the caller is in; `not_found` otherwise (a group one is only invited to included). */
export async function myGroup(ctx: AuthedCtx, groupId: string): Promise<ConversationRow> {
  const conv = await ctx.chat.conversation(groupId);
  if (conv?.kind !== 'group' || !(await ctx.chat.isConversationMember(groupId, ctx.session.userId))) {
    throw noSuchConversation();
  }
  return conv;
}

/** Can `userId` read `conv`? */
export async function canRead(ctx: { chat: ChatStore }, conv: ConversationRow, userId: string): Promise<boolean> {
  if (conv.kind === 'channel')
    return conv.serverId !== null && (await ctx.chat.role(conv.serverId, userId)) !== undefined;
  return ctx.chat.isConversationMember(conv.id, userId);
}

/**
 * Whether `userId` may see and download an uploaded file: a profile picture
 * or server icon in use, anyone logged in; a message's file, whoever can read
 * the conversation it was posted in, now; a held message's file, its sender
 * and the server's moderators and up; an upload not (or no longer) in use,
 * its owner only. Whoever may not gets `not_found`, as for a file that does
 * not exist: a DM's file never leaks through its id.
 */
export async function mayReadAttachment(
  ctx: { chat: ChatStore },
  file: AttachmentRow,
  userId: string,
): Promise<boolean> {
  if (file.purpose !== 'message') return file.expiresAt === null || file.ownerId === userId;
  if (file.conversationId === null) {
    if (file.messageId !== null) return false;
    if (file.ownerId === userId) return true;
    // A held message's file (kept for it, counted in its server): the server's moderators review it.
    if (file.serverId === null) return false;
    const role = await ctx.chat.role(file.serverId, userId);
    return role !== undefined && atLeast(role, 'moderator');
  }
  const conv = await ctx.chat.conversation(file.conversationId);
  return conv !== undefined && (await canRead(ctx, conv, userId));
}

/** In a DM, a block either way stops new messages and edits, and so does the peer's account being deleted. */
export async function assertDmOpen(ctx: AuthedCtx, conv: ConversationRow): Promise<void> {
  if (conv.kind !== 'dm' || !conv.dmKey) return;
  const me = ctx.session.userId;
  const peerId = conv.dmKey.split(':').find((id) => id !== me);
  if (peerId && (await ctx.users.byId(peerId))?.deletedAt != null) {
    throw new NatterError('forbidden', 'that account was deleted: nobody reads this conversation any more', {
      field: 'params.conversationId',
    });
  }
  if (peerId && (await ctx.chat.blockedEitherWay(me, peerId))) {
    throw notAccepting((await ctx.chat.userRef(peerId))?.username ?? 'unknown', 'params.conversationId');
  }
}

/** A channel of a server the caller administers; `not_found` if they cannot see it. */
export async function adminChannel(ctx: AuthedCtx, channelId: string): Promise<ConversationRow> {
  return channelWithRole(ctx, channelId, 'admin');
}

/** A channel of a server where the caller holds at least `min`; `not_found` if they cannot see it. */
export async function channelWithRole(
  ctx: AuthedCtx,
  channelId: string,
  min: 'moderator' | 'admin',
): Promise<ConversationRow> {
  const conv = await ctx.chat.conversation(channelId);
  if (conv?.kind !== 'channel' || !conv.serverId) throw noSuchConversation();
  if (!(await ctx.chat.role(conv.serverId, ctx.session.userId))) throw noSuchConversation();
  await serverWithRole(ctx, conv.serverId, min);
  return conv;
}

/** "12 s", "4 min", "3 h 20 min", "2 days": a wait as a person reads it. */
export function waitWords(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.ceil(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  return `${Math.round(h / 24)} days`;
}

/**
 * May the caller write (send, or edit with `send` false) in `conv` now? In a
 * server's channel, not while timed out; a send, not sooner than the
 * channel's slow mode allows after their last message (moderators and up
 * are exempt from slow mode, not from a timeout). Returns the author's gate
 * in a channel (undefined elsewhere), which automatic moderation reads next.
 */
export async function assertMayWrite(
  ctx: AuthedCtx,
  conv: ConversationRow,
  role: MemberRow['role'] | null,
  now: number,
  send: boolean,
): Promise<SendGate | undefined> {
  if (conv.kind !== 'channel' || conv.serverId === null) return undefined;
  const gate = await ctx.chat.sendGate(conv.serverId, ctx.session.userId);
  if (!gate) throw noSuchConversation();
  if (gate.timeoutUntil !== null && gate.timeoutUntil > now) {
    const wait = gate.timeoutUntil - now;
    throw new NatterError(
      'timed_out',
      `you are timed out in this server until ${new Date(gate.timeoutUntil).toISOString().slice(0, 16).replace('T', ' ')} UTC; you can write again in ${waitWords(wait)}`,
      { retryAfterMs: wait },
    );
  }
  if (send && conv.slowmodeSeconds > 0 && (role === null || RANK[role] < RANK.moderator)) {
    const windowMs = conv.slowmodeSeconds * 1000;
    const last = await ctx.chat.lastSentSince(ctx.session.userId, conv.id, now - windowMs + 1);
    if (last !== undefined) {
      const wait = last + windowMs - now;
      throw new NatterError(
        'slow_mode',
        `#${conv.name} is in slow mode (one message every ${waitWords(windowMs)}); you can send again in ${waitWords(wait)}`,
        { retryAfterMs: wait },
      );
    }
  }
  return gate;
}

/** Checks that the caller may remove `userId` from the server. */
export async function assertCanRemove(
  ctx: AuthedCtx,
  serverId: string,
  userId: string,
  verb: string,
): Promise<MemberRow['role'] | undefined> {
  const { role } = await serverWithRole(ctx, serverId, 'moderator');
  if (userId === ctx.session.userId)
    throw new NatterError('bad_request', `you cannot ${verb} yourself`, { field: 'params.userId' });
  const target = await ctx.chat.role(serverId, userId);
  if (!outranks(role, target)) throw new NatterError('forbidden', `you cannot ${verb} ${rankName(target)}`);
  return target;
}

/** A member may edit only their own messages, and only while they exist. */
export function assertMayEdit(ctx: AuthedCtx, message: MessageRow): void {
  if (message.deletedAt !== null) throw noSuchMessage();
  // A rule's notice names the person it is about as its author; it is the server's words, not theirs.
  if (message.kind === 'automod') throw new NatterError('forbidden', 'an automatic moderation notice cannot be edited');
  if (message.authorId !== ctx.session.userId)
    throw new NatterError('forbidden', 'you can only edit your own messages');
}

/** Who `role` is, in a refusal: "the owner", "an admin", "another moderator". */
function rankName(role: MemberRow['role'] | undefined): string {
  if (role === 'owner') return 'the owner';
  if (role === 'admin') return 'an admin';
  if (role === 'moderator') return 'a moderator';
  return 'this member';
}

/**
 * Authors delete their own messages; in a channel, the server's moderators,
 * admins and owner delete those of people below them (`authorRole`: the
 * author's role there now, undefined when they left). Returns whether it is
 * a moderator's deletion (someone else's message), which the audit log keeps.
 */
export function assertMayDelete(
  ctx: AuthedCtx,
  message: MessageRow,
  conv: ConversationRow,
  role: MemberRow['role'] | null,
  authorRole: MemberRow['role'] | undefined,
): boolean {
  // An automatic moderation notice is not its named author's to delete: moderators remove it.
  if (message.authorId === ctx.session.userId && message.kind !== 'automod') return false;
  if (conv.kind !== 'channel' || role === null || RANK[role] < RANK.moderator)
    throw new NatterError(
      'forbidden',
      message.kind === 'automod'
        ? 'only moderators can delete an automatic moderation notice'
        : 'you can only delete your own messages',
    );
  if (!outranks(role, authorRole))
    throw new NatterError('forbidden', `you cannot delete a message of ${rankName(authorRole)}`);
  return true;
}

/**
 * Checks that the caller may give `userId` the role `role`: the owner gives
 * any; an admin makes members moderators and moderators members, never
 * touching admins; the owner's role changes by transfer only. Returns the
 * member's current role.
 */
export async function assertMaySetRole(
  ctx: AuthedCtx,
  serverId: string,
  userId: string,
  role: 'admin' | 'moderator' | 'member',
): Promise<MemberRow['role']> {
  const { role: mine } = await serverWithRole(ctx, serverId, 'admin');
  const current = await ctx.chat.role(serverId, userId);
  if (!current) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
  if (current === 'owner' && mine !== 'owner') throw new NatterError('forbidden', "you cannot change the owner's role");
  assertRoleMayChange(current);
  if (mine !== 'owner') {
    if (role === 'admin') throw new NatterError('forbidden', 'only the server owner can make admins');
    if (userId === ctx.session.userId) throw new NatterError('forbidden', 'you cannot change your own role');
    if (!outranks(mine, current))
      throw new NatterError('forbidden', `you cannot change the role of ${rankName(current)}`);
  }
  return current;
}

/** Nobody banned from a server joins it, whatever invite they hold. */
export async function assertNotBanned(ctx: Pick<Services, 'chat'>, serverId: string, userId: string): Promise<void> {
  if (await ctx.chat.isBanned(serverId, userId)) throw new NatterError('forbidden', 'you are banned from this server');
}

/** The owner cannot leave their server: they transfer it or delete it first. */
export function assertMayLeave(role: MemberRow['role']): void {
  if (role === 'owner') {
    throw new NatterError(
      'conflict',
      'the owner cannot leave: transfer ownership to another member first, or delete the server',
    );
  }
}

/** The owner's role never changes by `members.role`: ownership moves by transfer only. */
export function assertRoleMayChange(current: MemberRow['role']): void {
  if (current === 'owner')
    throw new NatterError('bad_request', "the owner's role cannot change; transfer ownership instead");
}

/**
 * May the caller put `user` in a group directly (else it is an invitation)?
 * It is the person's own choice (`groupAdds`): anyone, people who share a
 * server or a group with them, or nobody.
 */
export async function mayAddToGroup(ctx: AuthedCtx, user: Pick<UserRow, 'id' | 'groupAdds'>): Promise<boolean> {
  if (user.groupAdds === 'everyone') return true;
  if (user.groupAdds === 'contacts') return ctx.chat.shareServerOrGroup(ctx.session.userId, user.id);
  return false;
}

/**
 * The refusal when a block stands between the caller and `username` (either
 * way): one answer, which does not say who blocked whom.
 */
export function notAccepting(username: string, field: string): NatterError {
  return new NatterError('forbidden', `@${username} and you cannot reach each other (one of you blocked the other)`, {
    field,
  });
}

// Reports. What a report names, the caller must be able to read or share a
// place with; whatever they cannot is `not_found`, worded as for what does not
// exist. A report is handled by its server's moderators, admins and owner, or
// (from a DM or a group, or about a user outside any server) by the
// instance's operators; never by the person it is about, who cannot see it.

/** What a new report is about: its server (null: the operators'), the message if any, whom, and its key. */
export type ReportTarget = Pick<
  ReportRow,
  'serverId' | 'conversationId' | 'messageId' | 'messageSeq' | 'targetUserId' | 'targetKey' | 'snapshot'
>;

export function noSuchReport(): NatterError {
  return new NatterError('not_found', 'no such report', { field: 'params.reportId' });
}

/** Is the caller one of the instance's operators (`natter admin grant`)? Read from the database each time. */
export async function isOperator(ctx: AuthedCtx): Promise<boolean> {
  return (await ctx.users.byId(ctx.session.userId))?.operator === true;
}

/**
 * A message the caller may report: one they can read (by conversation and
 * number, or by id), not deleted, not their own. In a channel the report
 * goes to the server's moderators, in a DM or a group to the operators.
 */
export async function reportableMessage(
  ctx: AuthedCtx,
  by: { conversationId: string; seq: number } | { messageId: string },
): Promise<ReportTarget> {
  let message: MessageRow | undefined;
  let conv: ConversationRow;
  const field = 'messageId' in by ? 'params.messageId' : 'params.seq';
  if ('messageId' in by) {
    ({ message, conv } = await readableMessage(ctx, by.messageId));
  } else {
    ({ conv } = await readable(ctx, by.conversationId));
    const [found] = by.seq >= 1 ? await ctx.chat.after(conv.id, by.seq - 1, 1) : [];
    message = found?.seq === by.seq ? found : undefined;
    if (!message) throw new NatterError('not_found', `no message #${by.seq} here`, { field });
  }
  if (message.deletedAt !== null) {
    throw new NatterError(
      'not_found',
      `message #${message.seq} was deleted: there is nothing left to report (you can report its author)`,
      { field },
    );
  }
  if (message.authorId === ctx.session.userId) {
    throw new NatterError('bad_request', 'you cannot report your own message', { field });
  }
  return {
    serverId: conv.kind === 'channel' ? conv.serverId : null,
    conversationId: conv.id,
    messageId: message.id,
    messageSeq: message.seq,
    targetUserId: message.authorId,
    targetKey: messageTargetKey(message.id),
    snapshot: message.body,
  };
}

/**
 * A user the caller may report: in a server, a member of it (the caller
 * being one too), for its moderators; without one, someone they share a
 * server, a group or a direct conversation with, for the operators. Never
 * themself.
 */
export async function reportableUser(ctx: AuthedCtx, userId: string, serverId: string | null): Promise<ReportTarget> {
  const me = ctx.session.userId;
  if (userId === me) throw new NatterError('bad_request', 'you cannot report yourself', { field: 'params.userId' });
  if (serverId !== null) {
    await serverFor(ctx, serverId);
    if (!(await ctx.chat.role(serverId, userId))) {
      throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
    }
  } else {
    const known =
      (await ctx.chat.shareServerOrGroup(me, userId)) ||
      (await ctx.chat.dmByKey([me, userId].sort().join(':'))) !== undefined;
    if (!known) {
      throw new NatterError(
        'not_found',
        'no such user among the people you share a server, a group or a direct conversation with',
        { field: 'params.userId' },
      );
    }
  }
  return {
    serverId,
    conversationId: null,
    messageId: null,
    messageSeq: null,
    targetUserId: userId,
    targetKey: userTargetKey(userId, serverId),
    snapshot: null,
  };
}

/**
 * Whose reports the caller may read: a server's (moderators and up), or
 * without one the instance's queue (operators; `forbidden` for others, who
 * know they are not one).
 */
export async function assertMayReadReports(ctx: AuthedCtx, serverId: string | null): Promise<void> {
  if (serverId !== null) await serverWithRole(ctx, serverId, 'moderator');
  else if (!(await isOperator(ctx))) {
    throw new NatterError('forbidden', "only the instance's operators handle reports from DMs and groups");
  }
}

/**
 * A report the caller may resolve: of a server where they are a moderator
 * or up, or of the instance's queue when they are an operator; and not about
 * them. Any other is `not_found`, as a report that does not exist.
 */
export async function handleableReport(ctx: AuthedCtx, reportId: number): Promise<ReportView> {
  const report = await ctx.reports.byId(reportId);
  if (!report || report.targetUserId === ctx.session.userId) throw noSuchReport();
  const allowed =
    report.serverId === null
      ? await isOperator(ctx)
      : RANK[(await ctx.chat.role(report.serverId, ctx.session.userId)) ?? 'member'] >= RANK.moderator;
  if (!allowed) throw noSuchReport();
  return report;
}

/**
 * A report about someone in a server is resolved by someone above them: a
 * moderator resolves reports about members, an admin also about moderators,
 * the owner also about admins (reports about the owner go to the instance's
 * operators). Someone no longer in the server is anyone's.
 */
export async function assertMayResolve(ctx: AuthedCtx, report: Pick<ReportRow, 'serverId' | 'targetUserId'>) {
  if (report.serverId === null || report.targetUserId === null) return;
  const target = await ctx.chat.role(report.serverId, report.targetUserId);
  const mine = await ctx.chat.role(report.serverId, ctx.session.userId);
  if (target !== undefined && (mine === undefined || !outranks(mine, target))) {
    throw new NatterError('forbidden', `a report about ${rankName(target)} is for someone above them to resolve`);
  }
}

/** Who hears of a report: its server's moderators and up, or the operators; never the person it is about. */
export async function reportAudience(ctx: AuthedCtx, report: Pick<ReportRow, 'serverId' | 'targetUserId'>) {
  const ids =
    report.serverId === null
      ? (await ctx.users.operators()).map((u) => u.id)
      : await ctx.automod.moderatorIds(report.serverId);
  return ids.filter((id) => id !== report.targetUserId);
}

/** Who receives a conversation's events. */
export function scopeOf(conv: ConversationRow): Scope {
  return conv.kind === 'channel' && conv.serverId ? serverScope(conv.serverId) : conversationScope(conv.id);
}

/** How many times {@link settleScopes} reads before it leaves a user's connections as effects made them. */
const SETTLE_TRIES = 8;

/**
 * Reads the scopes `userId` belongs to and hands them to `apply` (which
 * subscribes connections to them), unless something changed the user's
 * subscriptions on this node while the read was under way (`hub.scopeVersion`):
 * then the read may predate a join or a removal whose effect already came, and
 * applying it would undo that effect (a removed member still receiving the
 * server's events), so it reads again. Used right after a connection is
 * authenticated with scopes read before (a join committed in between would
 * otherwise be missed until the next connection) and after the bus may have
 * missed effects. Returns false when effects kept coming for every try; the
 * connections then keep what those effects gave them.
 */
export async function settleScopes(
  hub: Pick<Hub, 'scopeVersion'>,
  userId: string,
  read: () => Promise<Scope[]>,
  apply: (scopes: Scope[]) => void,
): Promise<boolean> {
  for (let attempt = 0; attempt < SETTLE_TRIES; attempt++) {
    const version = hub.scopeVersion(userId);
    const scopes = await read();
    if (hub.scopeVersion(userId) === version) {
      apply(scopes);
      return true;
    }
  }
  return false;
}

/** Every scope a user belongs to (besides their own `u:` scope). */
export async function scopesOfUser(chat: ChatStore, userId: string): Promise<Scope[]> {
  return [
    ...(await chat.serverIdsOf(userId)).map(serverScope),
    ...(await chat.conversationIdsOf(userId)).map(conversationScope),
  ];
}

/** Minimum time between two writes of a session's last-seen time. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Finds the session or bot token behind a secret token, throttling guessing
 * per address: the one check of a token, for `auth`, HTTP Bearer headers and
 * WebSocket upgrade headers alike.
 */
export async function resolveToken(
  ctx: Pick<Services, 'sessions' | 'users' | 'limiters' | 'clock' | 'store' | 'log' | 'config' | 'metrics'>,
  address: string,
  token: string,
) {
  const limiter = ctx.limiters.authFailPerAddress;
  const wait = await limiter.retryAfter(address);
  if (wait > 0) {
    ctx.metrics.authFailure('rate_limited');
    throw rateLimited(wait, 'invalid tokens from this address');
  }
  const row = await ctx.sessions.byTokenHash(hashToken(token));
  const user = row ? await ctx.users.byId(row.userId) : undefined;
  const now = ctx.clock();
  // A login session unused for too long has expired (the hourly sweep deletes it); bot tokens do not expire.
  const expired = row?.kind === 'session' && now - (row.lastSeenAt ?? row.createdAt) > ctx.config.sessionIdleMs;
  if (!row || !user || expired || user.deletedAt !== null) {
    ctx.metrics.authFailure('token');
    await limiter.take(address);
    throw new NatterError('unauthenticated', 'this token is invalid, expired or was revoked; log in again');
  }
  if (user.disabledAt !== null) {
    throw new NatterError(
      'account_disabled',
      "this account was disabled by the natter server's operators; ask them why, or to enable it again",
    );
  }
  if (row.lastSeenAt === null || now - row.lastSeenAt > TOUCH_EVERY_MS) {
    // Bookkeeping, not worth a commit of its own: it joins the next write batch,
    // so a storm of reconnects costs a few commits, not one fsync each.
    const id = row.id;
    ctx.store
      .write((tx) => tx.sessions.touch(id, now))
      .catch((err: unknown) => ctx.log.error('recording a session as seen', err));
    row.lastSeenAt = now;
  }
  return { row, user, auth: authStateOf(ctx.config, row, user) };
}

/** Whether `user` must still confirm an email address before doing anything else (the server requires one). */
export function owesConfirmation(config: Pick<ServerConfig, 'mail'>, user: Pick<UserRow, 'verifyBy'>): boolean {
  return config.mail?.requireEmail === true && user.verifyBy !== null;
}

/** A connection's authentication with the session (or bot token) `row` of `user`. */
export function authStateOf(
  config: Pick<ServerConfig, 'mail'>,
  row: Pick<SessionRow, 'id' | 'kind'>,
  user: UserRow,
): AuthState {
  const auth: AuthState = { userId: user.id, sessionId: row.id, kind: row.kind };
  if (owesConfirmation(config, user)) auth.unconfirmed = true;
  return auth;
}

/** What an account that owes a confirmed address may still do: confirm one, see itself, log out. */
export const WHILE_UNCONFIRMED: ReadonlySet<string> = new Set([
  'email.set',
  'email.resend',
  'email.verify',
  'whoami',
  'logout',
]);

/**
 * Refuses `op` to a connection whose account has not yet confirmed the
 * email address the server requires. The account is read again first: once
 * it has confirmed (from this connection or another, on any node), the flag
 * is dropped and nothing more is read.
 */
export async function assertConfirmed(
  services: Pick<Services, 'users' | 'config'>,
  auth: AuthState,
  op: string,
): Promise<void> {
  if (!auth.unconfirmed || WHILE_UNCONFIRMED.has(op)) return;
  const user = await services.users.byId(auth.userId);
  if (user && !owesConfirmation(services.config, user)) {
    auth.unconfirmed = false;
    return;
  }
  throw new NatterError(
    'email_unconfirmed',
    'confirm your email address first: natter email verify CODE (with the code mailed to you; natter email resend mails a new one)',
  );
}
