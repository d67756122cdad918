import type {
  Attachment,
  BotTokenInfo,
  ChannelInfo,
  ConversationSummary,
  GroupInfo,
  InviteInfo,
  MemberInfo,
  Message,
  Picture,
  PublicUser,
  SearchConversation,
  SearchHit,
  Self,
  ServerInfo,
  SessionInfo,
  UserRef,
} from '../protocol/index.js';
import type { MemberWithUser } from './db/chat.js';
import type {
  AttachmentRow,
  ConversationRow,
  InviteRow,
  MemberRow,
  MessageRow,
  ServerRow,
  SessionRow,
  UserRow,
} from './db/schema.js';
import { textBytes } from './pages.js';
import type { ChatStore, MediaStore } from './store/port.js';

/** Maps database rows to protocol shapes. Rows never go on the wire as they are. */

/** What a deleted account's name is shown as: no username has a space, so nobody can pass for it. */
export const DELETED_USERNAME = 'deleted user';

export function toUserRef(user: UserRow): UserRef {
  if (user.deletedAt !== null) return { id: user.id, username: DELETED_USERNAME, displayName: null, deleted: true };
  return { id: user.id, username: user.username, displayName: user.displayName };
}

/** A user who no longer resolves (should not happen: a deleted account's row stays as a tombstone). */
const GHOST: UserRef = { id: 'unknown', username: 'unknown', displayName: null };

export function toServerInfo(row: ServerRow, role: MemberRow['role'], memberCount: number): ServerInfo {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    ownerId: row.ownerId,
    createdAt: row.createdAt,
    memberCount,
    role,
    ...(row.iconId ? { icon: toPicture(row.iconId) } : {}),
  };
}

/** Where a file is downloaded (`GET`, relative to the server's HTTP address). */
export function mediaUrl(id: string, name: string): string {
  return `/media/v1/${id}/${encodeURIComponent(name)}`;
}

/** A profile picture or server icon: always a 256-pixel WebP. */
export function toPicture(id: string): Picture {
  return { id, url: mediaUrl(id, 'picture.webp') };
}

/** An uploaded file as clients see it. */
export function toAttachment(row: AttachmentRow): Attachment {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    type: row.type,
    url: mediaUrl(row.id, row.name),
    thumbnailUrl: row.thumbSha256 ? `/media/v1/thumbs/${row.id}` : null,
    ...(row.width !== null ? { width: row.width } : {}),
    ...(row.height !== null ? { height: row.height } : {}),
    ...(row.durationMs !== null ? { durationMs: row.durationMs } : {}),
  };
}

export function toChannel(row: ConversationRow): ChannelInfo {
  return {
    id: row.id,
    serverId: row.serverId ?? '',
    name: row.name ?? '',
    topic: row.topic,
    createdAt: row.createdAt,
    lastSeq: row.lastSeq,
    ...(row.slowmodeSeconds > 0 ? { slowmode: row.slowmodeSeconds } : {}),
  };
}

/**
 * A member as the protocol shows them; `presence` says who is online (the
 * bus: on any node); `now` whether a timeout still runs.
 */
export function toMember(m: MemberWithUser, presence: { isOnline(userId: string): boolean }, now: number): MemberInfo {
  return {
    user: toPublicUser(m.user),
    role: m.role,
    joinedAt: m.joinedAt,
    online: presence.isOnline(m.userId),
    ...(m.timeoutUntil !== null && m.timeoutUntil > now ? { timeoutUntil: m.timeoutUntil } : {}),
  };
}

/** A group with its members and pending invitations, as names only (events about a group stay small). */
export function toGroup(row: ConversationRow, members: UserRef[], invited: UserRef[]): GroupInfo {
  return { id: row.id, name: row.name ?? '', members, invited, createdAt: row.createdAt, lastSeq: row.lastSeq };
}

export function toInvite(row: InviteRow, creator: UserRef | undefined): InviteInfo {
  return {
    code: row.code,
    serverId: row.serverId,
    createdBy: creator ?? GHOST,
    createdAt: row.createdAt,
    maxUses: row.maxUses,
    uses: row.uses,
    expiresAt: row.expiresAt,
  };
}

/** Builds wire messages, looking up each author once. */
export async function toMessages(
  stores: { chat: ChatStore; media: MediaStore },
  rows: readonly MessageRow[],
): Promise<Message[]> {
  // One query for the authors of the page, one for its mentions and one for its files, however many rows.
  const authors = await stores.chat.userRefs([...new Set(rows.map((r) => r.authorId))]);
  const live = rows.filter((r) => r.deletedAt === null).map((r) => r.id);
  const mentions = await stores.chat.mentionsOf(live);
  const files = await stores.media.ofMessages(live);
  return rows.map((row) =>
    toMessage(row, authors.get(row.authorId) ?? GHOST, mentions.get(row.id) ?? [], files.get(row.id) ?? []),
  );
}

export function toMessage(
  row: MessageRow,
  author: UserRef,
  mentions: string[],
  files: readonly AttachmentRow[] = [],
): Message {
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    author,
    bot: row.bot,
    kind: row.kind,
    body: row.body,
    createdAt: row.createdAt,
    editedAt: row.editedAt,
    deletedAt: row.deletedAt,
    nonce: row.nonce,
    mentions: row.deletedAt === null ? mentions : [],
    ...(row.deletedAt === null && files.length > 0 ? { attachments: files.map(toAttachment) } : {}),
  };
}

/**
 * A conversation as a search hit names it: a DM after the other person among
 * its `members` (`me` is the caller), a channel with the name of its `server`.
 */
export function toSearchConversation(
  conv: ConversationRow,
  me: string,
  members: readonly UserRow[],
  server: ServerRow | undefined,
): SearchConversation {
  let name = conv.name ?? '';
  if (conv.kind === 'dm') name = members.find((u) => u.id !== me)?.username ?? name;
  const serverName = conv.kind === 'channel' && conv.serverId !== null ? (server?.name ?? null) : null;
  return { id: conv.id, kind: conv.kind, serverId: conv.serverId, serverName, name };
}

export type { PublicUser };

/** Estimated JSON sizes of protocol shapes, for keeping pages small (see `PAGE_BYTES`). */
export const sizeOf = {
  user: (u: { displayName: string | null; status?: string | null; bio?: string | null; username: string }): number =>
    200 + textBytes(u.username) + textBytes(u.displayName) + textBytes(u.status) + textBytes(u.bio),
  message: (m: Message): number =>
    400 +
    textBytes(m.body) +
    textBytes(m.author.username) +
    textBytes(m.author.displayName) +
    m.mentions.length * 25 +
    (m.attachments ?? []).reduce((n, a) => n + 250 + 2 * textBytes(a.name) + textBytes(a.type), 0),
  summary: (c: ConversationSummary): number =>
    500 +
    textBytes(c.name) +
    textBytes(c.topic) +
    (c.peer ? sizeOf.user(c.peer) : 0) +
    (c.lastMessage ? sizeOf.message(c.lastMessage) : 0),
  searchHit: (h: SearchHit): number =>
    200 +
    sizeOf.message(h.message) +
    textBytes(h.conversation.name) +
    textBytes(h.conversation.serverName) +
    h.matches.length * 16,
  member: (m: MemberInfo): number => 100 + sizeOf.user(m.user),
  server: (s: ServerInfo): number => 300 + textBytes(s.name) + textBytes(s.description),
  channel: (c: ChannelInfo): number => 200 + textBytes(c.name) + textBytes(c.topic),
  group: (g: GroupInfo): number =>
    200 + textBytes(g.name) + [...g.members, ...g.invited].reduce((n, u) => n + 100 + textBytes(u.displayName), 0),
  ban: (b: { reason: string | null }): number => 400 + textBytes(b.reason),
  audit: (e: { reason: string | null; details: Record<string, unknown> | null }): number =>
    500 + textBytes(e.reason) + (e.details ? textBytes(JSON.stringify(e.details)) : 0),
  report: (r: { details: string | null; snapshot: string | null; note: string | null }): number =>
    800 + textBytes(r.details) + textBytes(r.snapshot) + textBytes(r.note),
};

/** Maps a row to its wire form; the password hash never goes on the wire. */
export function toPublicUser(row: UserRow): PublicUser {
  if (row.deletedAt !== null) {
    return {
      id: row.id,
      username: DELETED_USERNAME,
      displayName: null,
      status: null,
      bio: null,
      createdAt: row.createdAt,
      deleted: true,
    };
  }
  return {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    status: row.status,
    bio: row.bio,
    createdAt: row.createdAt,
    ...(row.avatarId ? { avatar: toPicture(row.avatarId) } : {}),
  };
}

/** The caller's own account: as others see it, and whether they are an instance operator (never shown to others). */
export function toSelf(row: UserRow, extra: SelfExtra = {}): Self {
  const self: Self = row.operator ? { ...toPublicUser(row), operator: true } : toPublicUser(row);
  self.email = row.email;
  if (extra.pendingEmail !== undefined) self.pendingEmail = extra.pendingEmail;
  if (extra.owesConfirmation && row.verifyBy !== null) self.confirmBy = row.verifyBy;
  return self;
}

/**
 * What the account's own view may add: the address waiting for its code
 * (when it was read), and whether the account must still confirm one (then
 * `confirmBy` says until when).
 */
export type SelfExtra = { pendingEmail?: string | null; owesConfirmation?: boolean };

/** Wire form of a login session row. */
export function toSessionInfo(row: SessionRow, currentId: string | null): SessionInfo {
  return {
    id: row.id,
    client: row.name,
    address: row.address,
    createdAt: row.createdAt,
    lastSeenAt: row.lastSeenAt ?? row.createdAt,
    current: row.id === currentId,
  };
}

/** Wire form of a bot token row (never the secret). */
export function toBotTokenInfo(row: SessionRow): BotTokenInfo {
  return { id: row.id, name: row.name ?? '', createdAt: row.createdAt, lastUsedAt: row.lastSeenAt };
}
