import { z } from 'zod';
import { isEmailAddress } from './email.js';
import { searchTerms } from './search.js';
import {
  canonicalChannelName,
  channelNameProblem,
  codePoints,
  isBlank,
  LIMITS,
  lineTextProblem,
  multilineTextProblem,
  trimBlanks,
  usernameProblem,
  utf8Bytes,
} from './text.js';

/** Server-assigned ids (nanoid, URL-safe alphabet). */
export const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'is not an id: ids hold only letters, digits, "_" and "-"');

/** Milliseconds since the Unix epoch. */
export const Timestamp = z.number().int().nonnegative();

/** A username as typed: NFC-normalized, then checked against the username rules. */
export const Username = z
  .string()
  .max(256)
  .overwrite((s) => s.normalize('NFC'))
  .superRefine((s, ctx) => {
    const problem = usernameProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `username ${problem}` });
  });

/**
 * A new password: at least 8 characters and at most 72 bytes of UTF-8 (never
 * truncated). The messages leave the subject to the field (`password`, `new password`).
 */
export const NewPassword = z.string().superRefine((s, ctx) => {
  if (codePoints(s) < LIMITS.passwordMin) {
    ctx.addIssue({ code: 'custom', message: `must be at least ${LIMITS.passwordMin} characters` });
  } else if (utf8Bytes(s) > LIMITS.passwordMaxBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `must be at most ${LIMITS.passwordMaxBytes} bytes of UTF-8 (bcrypt's limit); choose a shorter one`,
    });
  }
});

/** A password presented at login: only bounded, so a wrong one costs a normal check. */
export const PresentedPassword = z.string().min(1).max(1024);

/** A single line of text with a length limit; `what` names it in error messages. */
function lineText(max: number, what: string) {
  return z
    .string()
    .overwrite((s) => trimBlanks(s.normalize('NFC')))
    .superRefine((s, ctx) => {
      const problem = lineTextProblem(s, max, what);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** Multi-line text (newlines and tabs allowed) with a length limit; `what` names it in error messages. */
function multilineText(max: number, what: string) {
  return z
    .string()
    .overwrite((s) => s.normalize('NFC'))
    .superRefine((s, ctx) => {
      const problem = multilineTextProblem(s, max, what);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** Refuses empty (or all-whitespace) text. */
function nonEmpty(schema: z.ZodString, what: string) {
  return schema.refine((s) => !isBlank(s), `${what} must not be empty`);
}

export const DisplayName = lineText(LIMITS.displayNameMax, 'display name');
export const StatusText = lineText(LIMITS.statusMax, 'status');
export const Bio = multilineText(LIMITS.bioMax, 'bio');
export const TokenName = nonEmpty(lineText(LIMITS.tokenNameMax, 'token name'), 'token name');
export const ClientName = lineText(LIMITS.clientNameMax, 'client name');
export const ServerName = nonEmpty(lineText(LIMITS.serverNameMax, 'server name'), 'server name');
export const Description = multilineText(LIMITS.descriptionMax, 'description');
export const Topic = lineText(LIMITS.topicMax, 'topic');
export const GroupName = nonEmpty(lineText(LIMITS.groupNameMax, 'group name'), 'group name');
export const BanReason = lineText(LIMITS.banReasonMax, 'ban reason');
/** Why a moderator acted (a kick, a role change, a deletion): kept in the server's audit log. */
export const ModerationReason = lineText(LIMITS.banReasonMax, 'reason');
/** A channel name; made canonical (lower case, spaces to dashes) before it is checked. */
export const ChannelName = z
  .string()
  .max(256)
  .overwrite(canonicalChannelName)
  .superRefine((s, ctx) => {
    const problem = channelNameProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `channel name ${problem}` });
  });
/** A message body: 1-4000 characters, not only whitespace, no control characters but newline and tab. */
export const MessageBody = nonEmpty(multilineText(LIMITS.messageMax, 'message'), 'message');
/** The client's idempotency key for a send: any printable ASCII, 1-64 characters. */
export const Nonce = z
  .string()
  .min(1)
  .max(LIMITS.nonceMax)
  .regex(/^[\x21-\x7e]+$/, 'nonce must be printable ASCII without spaces');
/**
 * A search query: words to find, 1-256 characters, not only blanks, at most
 * 16 different words. Nothing in it is an operator (see `searchTerms`).
 */
export const SearchQuery = z
  .string()
  .overwrite((s) => s.normalize('NFC'))
  .superRefine((s, ctx) => {
    if (isBlank(s)) {
      ctx.addIssue({ code: 'custom', message: 'the search query is empty; give at least one word to look for' });
    } else if (codePoints(s) > LIMITS.searchQueryMax) {
      ctx.addIssue({ code: 'custom', message: `the search query must be at most ${LIMITS.searchQueryMax} characters` });
    } else if (searchTerms(s).words.length > LIMITS.searchWordsMax) {
      ctx.addIssue({
        code: 'custom',
        message: `the search query may hold at most ${LIMITS.searchWordsMax} different words`,
      });
    }
  });
/** A sequence number within a conversation. */
export const Seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * Who may create an account on a natter server (`natter serve --registration`):
 * anyone (`open`), only with an invite code of one of its servers (`invite`), or
 * nobody (`closed`). The `hello` event says which, before anyone is asked anything.
 */
export const RegistrationMode = z.enum(['open', 'invite', 'closed']);
export type RegistrationMode = z.infer<typeof RegistrationMode>;

/** An invite code as typed (`invites.join`, `register`). */
export const InviteCode = z.string().min(1).max(64);

/** A secret bearer token as issued by `register`, `login` or `tokens.create`. */
export const Token = z.string().min(1).max(256);

/**
 * What an uploaded file is for: a message's attachment, a profile picture,
 * or a server's icon (`attachments.create`).
 */
export const AttachmentPurpose = z.enum(['message', 'avatar', 'server-icon']);
export type AttachmentPurpose = z.infer<typeof AttachmentPurpose>;

/**
 * An uploaded file as clients see it. `url` is where to download it (`GET`,
 * relative to the server's HTTP address, with the session token); `type` is
 * what its content is (sniffed, never taken from the uploader);
 * `thumbnailUrl` a small WebP of an image (null when there is none).
 */
export const Attachment = z.object({
  id: Id,
  /** The file's name, made safe: no directories, no control characters. */
  name: z.string(),
  /** Bytes. */
  size: z.number().int().nonnegative(),
  /** MIME type found in the content; `application/octet-stream` when unknown. */
  type: z.string(),
  url: z.string(),
  thumbnailUrl: z.string().nullable(),
  /** Images: pixels. */
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  /** Audio and video: length in milliseconds. */
  durationMs: z.number().int().nonnegative().optional(),
});
export type Attachment = z.infer<typeof Attachment>;

/** A profile picture or server icon: a 256-pixel square WebP. */
export const Picture = z.object({ id: Id, url: z.string() });
export type Picture = z.infer<typeof Picture>;

/** What anyone who can see a user sees of them. */
export const PublicUser = z.object({
  id: Id,
  username: z.string(),
  displayName: z.string().nullable(),
  status: z.string().nullable(),
  bio: z.string().nullable(),
  createdAt: Timestamp,
  /** Their profile picture; absent when they have none. */
  avatar: Picture.optional(),
  /**
   * The account was deleted: `username` is then `deleted user` (no valid
   * username has a space) and nothing else of the person is left.
   */
  deleted: z.literal(true).optional(),
});
export type PublicUser = z.infer<typeof PublicUser>;

/**
 * The caller's own account: what others see, and `operator: true` when the
 * caller is one of the natter server's instance operators (named on the
 * server's host with `natter admin grant`). Absent otherwise, and never shown
 * to anyone else: who operates the instance is nobody else's business.
 */
export const Self = PublicUser.extend({
  operator: z.literal(true).optional(),
  /** The confirmed email address, or null; absent from servers older than email. */
  email: z.string().nullable().optional(),
  /** An address waiting for its code (`email.verify`) before it replaces `email`; null when none. */
  pendingEmail: z.string().nullable().optional(),
  /**
   * Present while the account must still confirm an address (the server
   * requires one): until then it can only confirm it, and it is removed at
   * this time if it has not.
   */
  confirmBy: Timestamp.optional(),
});
export type Self = z.infer<typeof Self>;

/**
 * An email address as typed: one `@`, no spaces or control characters, at
 * most 254 characters; the server lowercases its domain.
 */
export const EmailAddress = z
  .string()
  .min(3, 'an email address is needed')
  .max(254, 'an email address is at most 254 characters')
  .refine((s) => isEmailAddress(s), 'must be an email address: a name, one @, then a domain name');

/** A code mailed to a person (`ABCD-EFGH`): letters and digits, a dash or spaces allowed, any case. */
export const MailedCode = z
  .string()
  .min(1, 'a code is needed')
  .max(32, 'a code is at most 32 characters')
  .regex(/^[A-Za-z0-9 -]+$/, 'must be the code from the mail, like ABCD-EFGH');

/** A login session: one per `register`/`login`. */
export const SessionInfo = z.object({
  id: Id,
  /** The client name given at login (`natter-cli`, `natter-tui`, a bot's name...). */
  client: z.string().nullable(),
  /** The address the session logged in from. */
  address: z.string().nullable(),
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  /** True for the session making this request. */
  current: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

/** A named long-lived token for scripts and bots. The secret is shown once, at creation. */
export const BotTokenInfo = z.object({
  id: Id,
  name: z.string(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
});
export type BotTokenInfo = z.infer<typeof BotTokenInfo>;

/**
 * A resumable position in the caller's event stream. Opaque to clients: store
 * the last one received and present it when reconnecting.
 */
export const Cursor = z.string().min(1).max(128);

/** A user as shown next to something they did: enough to print a name. */
export const UserRef = z.object({
  id: Id,
  username: z.string(),
  displayName: z.string().nullable(),
  /** A deleted account (its `username` is `deleted user`); absent otherwise. */
  deleted: z.literal(true).optional(),
});
export type UserRef = z.infer<typeof UserRef>;

/**
 * What a message is: `text`, said by its author, or `action`, something its
 * author does (IRC's `/me`): the body `waves` reads `* alice waves`.
 */
export const MessageKind = z.enum(['text', 'action']);
export type MessageKind = z.infer<typeof MessageKind>;

/**
 * What a stored message is: one a person sent (`text`, `action`), or
 * `automod`, the server's notice in a moderators' channel that a message
 * matched an automatic moderation rule (its author is the person whose
 * message it is about). Clients send only `text` and `action`.
 */
export const StoredMessageKind = z.enum(['text', 'action', 'automod']);
export type StoredMessageKind = z.infer<typeof StoredMessageKind>;

/**
 * A message. Its identity: a server `id`, its place in its conversation
 * (`seq`, strictly increasing, never reused), and the `nonce` the sender chose
 * so that a retried send is recognised and not stored twice.
 */
export const Message = z.object({
  id: Id,
  conversationId: Id,
  seq: z.number().int().positive(),
  author: UserRef,
  /** True when it was sent over a bot token (`tokens.create`): a program wrote it, not the person. */
  bot: z.boolean(),
  /** `text`, `action` (shown as `* alice waves`; an edit keeps it), or `automod` (a notice: see StoredMessageKind). */
  kind: StoredMessageKind,
  body: z.string(),
  createdAt: Timestamp,
  /** Set when the author edited the message. */
  editedAt: Timestamp.nullable(),
  /** Set when the message was deleted; `body` is then empty (a tombstone). */
  deletedAt: Timestamp.nullable(),
  /** The sender's idempotency nonce. */
  nonce: z.string().nullable(),
  /** Ids of the users the message mentions with `@username`. */
  mentions: z.array(Id),
  /** Files sent with it, in the order given; absent when none (and once deleted). */
  attachments: z.array(Attachment).optional(),
});
export type Message = z.infer<typeof Message>;

export const Role = z.enum(['owner', 'admin', 'moderator', 'member']);
export type Role = z.infer<typeof Role>;

/** A community: members, channels, invite codes. */
export const ServerInfo = z.object({
  id: Id,
  name: z.string(),
  description: z.string().nullable(),
  ownerId: Id,
  createdAt: Timestamp,
  memberCount: z.number().int().nonnegative(),
  /** The caller's role in it. */
  role: Role,
  /** Its icon; absent when it has none. */
  icon: Picture.optional(),
});
export type ServerInfo = z.infer<typeof ServerInfo>;

/** A channel of a server. Its id is also its conversation id. */
export const ChannelInfo = z.object({
  id: Id,
  serverId: Id,
  name: z.string(),
  topic: z.string().nullable(),
  createdAt: Timestamp,
  /** Sequence number of the newest message, 0 when empty. */
  lastSeq: z.number().int().nonnegative(),
  /** Slow mode: seconds a member waits between two messages (absent or 0: off). */
  slowmode: z.number().int().nonnegative().optional(),
});
export type ChannelInfo = z.infer<typeof ChannelInfo>;

/** A member of a server. */
export const MemberInfo = z.object({
  user: PublicUser,
  role: Role,
  joinedAt: Timestamp,
  online: z.boolean(),
  /** Timed out until then: cannot send or edit in the server's channels (absent: not timed out). */
  timeoutUntil: Timestamp.optional(),
});
export type MemberInfo = z.infer<typeof MemberInfo>;

/** An invite code and its use. */
export const InviteInfo = z.object({
  code: z.string(),
  serverId: Id,
  createdBy: UserRef,
  createdAt: Timestamp,
  maxUses: z.number().int().positive().nullable(),
  uses: z.number().int().nonnegative(),
  expiresAt: Timestamp.nullable(),
});
export type InviteInfo = z.infer<typeof InviteInfo>;

/** A ban in a server. */
/** What an audit log entry records. */
/**
 * A server's automatic moderation rule as its moderators read it.
 * `config`, `actions`, `exemptRoles` and `exemptChannels` are as written in
 * `automod.create` (docs/moderation.md); `kind` says what `config` holds.
 */
export const AutomodRule = z.object({
  id: Id,
  serverId: Id,
  name: z.string(),
  kind: z.enum(['keyword', 'regex', 'preset', 'mentions', 'flood']),
  config: z.record(z.string(), z.unknown()),
  actions: z.array(z.unknown()),
  exemptRoles: z.array(z.string()),
  exemptChannels: z.array(z.string()),
  enabled: z.boolean(),
  createdBy: UserRef.nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type AutomodRule = z.infer<typeof AutomodRule>;

/** A message held for review: stored, shown to moderators only, until one approves or rejects it. */
export const HeldMessage = z.object({
  id: Id,
  serverId: Id,
  conversationId: Id,
  /** The channel's name. */
  channel: z.string(),
  author: UserRef,
  body: z.string(),
  kind: MessageKind,
  /** What held it: a rule's name, or `classifier`. */
  heldBy: z.string(),
  createdAt: Timestamp,
  /** The files sent with it; absent when none. */
  attachments: z.array(Attachment).optional(),
});
export type HeldMessage = z.infer<typeof HeldMessage>;

export const AuditAction = z.enum([
  'member.kick',
  'member.ban',
  'member.unban',
  'member.role',
  'member.timeout',
  'member.untimeout',
  'message.delete',
  'channel.create',
  'channel.update',
  'channel.slowmode',
  'channel.delete',
  'invite.create',
  'invite.revoke',
  'server.update',
  'server.transfer',
  'report.resolve',
  'automod.create',
  'automod.update',
  'automod.delete',
  'automod.flag',
  'held.approve',
  'held.reject',
]);
export type AuditAction = z.infer<typeof AuditAction>;

/** One entry of a server's audit log: who did what to whom, why and when. */
export const AuditEntry = z.object({
  id: z.number().int().positive(),
  action: AuditAction,
  /** Who acted; null for the server itself. */
  actor: UserRef.nullable(),
  /** Whom it was done to, if a person. */
  targetUser: UserRef.nullable(),
  /** What it was done to otherwise: a message id, a channel id, an invite code. */
  targetId: z.string().nullable(),
  reason: z.string().nullable(),
  /** What changed, by action: a role's `from` and `to`, a channel's `name`, a server's `name`. */
  details: z.record(z.string(), z.unknown()).nullable(),
  createdAt: Timestamp,
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const BanInfo = z.object({
  user: UserRef,
  bannedBy: UserRef,
  reason: z.string().nullable(),
  createdAt: Timestamp,
});
export type BanInfo = z.infer<typeof BanInfo>;

/** A private group. Its id is also its conversation id. */
export const GroupInfo = z.object({
  id: Id,
  name: z.string(),
  /** Who is in it (names only: ask `users.get` for a profile). */
  members: z.array(UserRef),
  /** Who was invited and has not answered yet. */
  invited: z.array(UserRef),
  createdAt: Timestamp,
  lastSeq: z.number().int().nonnegative(),
});
export type GroupInfo = z.infer<typeof GroupInfo>;

/** An invitation to a group, waiting for its invitee to accept or decline it. */
export const GroupInvitation = z.object({
  group: z.object({ id: Id, name: z.string(), memberCount: z.number().int().nonnegative() }),
  invitedBy: UserRef,
  createdAt: Timestamp,
});
export type GroupInvitation = z.infer<typeof GroupInvitation>;

/** Who may put me in a group directly: anyone, people I share a server or group with, or nobody (invitations only). */
export const GroupAdds = z.enum(['everyone', 'contacts', 'invite']);
export type GroupAdds = z.infer<typeof GroupAdds>;

/** My own settings (never shown to others). */
export const Settings = z.object({ groupAdds: GroupAdds });
export type Settings = z.infer<typeof Settings>;

/** Someone I blocked. */
export const BlockInfo = z.object({ user: UserRef, createdAt: Timestamp });
export type BlockInfo = z.infer<typeof BlockInfo>;

/**
 * Where the next page of a list starts: opaque, from the previous page's
 * `next`; `null` there means the list is complete.
 */
export const PageCursor = z.string().min(1).max(512);

export const ConversationKind = z.enum(['channel', 'group', 'dm']);
export type ConversationKind = z.infer<typeof ConversationKind>;

/** One entry of the caller's conversation list, with read state. */
export const ConversationSummary = z.object({
  id: Id,
  kind: ConversationKind,
  /** For channels: the server. */
  serverId: Id.nullable(),
  /** Channel or group name; for a DM, the other person's username. */
  name: z.string(),
  topic: z.string().nullable(),
  /** For a DM: the other person. */
  peer: PublicUser.nullable(),
  lastSeq: z.number().int().nonnegative(),
  lastReadSeq: z.number().int().nonnegative(),
  /** Messages by others after `lastReadSeq`, deleted ones not counted; counting stops at 9,999. */
  unread: z.number().int().nonnegative(),
  /** Of those, the ones that mention the caller. */
  mentions: z.number().int().nonnegative(),
  lastMessage: Message.nullable(),
  /** For a channel in slow mode: the seconds a member waits between two messages there. */
  slowmode: z.number().int().nonnegative().optional(),
});
export type ConversationSummary = z.infer<typeof ConversationSummary>;

/** Read state of one conversation. */
export const ReadState = z.object({
  conversationId: Id,
  lastReadSeq: z.number().int().nonnegative(),
  unread: z.number().int().nonnegative(),
  mentions: z.number().int().nonnegative(),
});
export type ReadState = z.infer<typeof ReadState>;

/** The conversation a search hit is in: enough to name it (`acme/general`, `+climbing`, `@bob`). */
export const SearchConversation = z.object({
  id: Id,
  kind: ConversationKind,
  /** For channels: the server, and its name. */
  serverId: Id.nullable(),
  serverName: z.string().nullable(),
  /** Channel or group name; for a DM, the other person's username. */
  name: z.string(),
});
export type SearchConversation = z.infer<typeof SearchConversation>;

/** One message a search found. */
export const SearchHit = z.object({
  /** The message as it is now (its `seq` is its place in the conversation). */
  message: Message,
  conversation: SearchConversation,
  /**
   * Where the query's words are in `message.body`: `[start, end]` pairs of
   * character offsets (code points, end excluded), in order.
   */
  matches: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])),
});
export type SearchHit = z.infer<typeof SearchHit>;

/** Why someone reported a message or a user. */
export const ReportReason = z.enum(['spam', 'harassment', 'inappropriate', 'illegal', 'other']);
export type ReportReason = z.infer<typeof ReportReason>;

/**
 * What was done about a report: the message deleted for everyone, its
 * author (or the user reported) timed out, kicked or banned from the
 * server, or nothing.
 */
export const ReportAction = z.enum(['delete', 'timeout', 'kick', 'ban', 'none']);
export type ReportAction = z.infer<typeof ReportAction>;

/** A report waits as `open` until a moderator or operator resolves it. */
export const ReportStatus = z.enum(['open', 'resolved']);
export type ReportStatus = z.infer<typeof ReportStatus>;

/** What a reporter adds in their own words. */
export const ReportDetails = multilineText(LIMITS.reportDetailsMax, 'details');
/** How a report was handled, in the resolver's words: for the other moderators (or operators) only. */
export const ReportNote = multilineText(LIMITS.reportNoteMax, 'note');

/** A report's id: numbered from 1 across the instance. */
export const ReportId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * A report of a message or a user, as the moderators (or operators) who
 * handle it see it, and as its reporter does when they make it. The person
 * reported never sees it.
 */
export const Report = z.object({
  id: ReportId,
  /** The server whose moderators handle it; null: the instance's operators (a DM or a group, or a user outside any server). */
  serverId: Id.nullable(),
  /**
   * Where the reported message is: a channel or a group, with its name, or
   * a DM (no name: its two people are the reporter and the author). Null
   * for a report about a user, and once the conversation is gone.
   */
  conversation: z.object({ id: Id, kind: ConversationKind, name: z.string().nullable() }).nullable(),
  /** The reported message and its number in the conversation; null for a report about a user. */
  messageId: Id.nullable(),
  seq: z.number().int().positive().nullable(),
  /** Who is reported: the message's author, or the user reported. */
  targetUser: UserRef.nullable(),
  /** Who reported it. */
  reporter: UserRef.nullable(),
  reason: ReportReason,
  details: z.string().nullable(),
  /** The message's text when it was reported: later edits and deletions do not change it. */
  snapshot: z.string().nullable(),
  status: ReportStatus,
  /** What was done, once resolved. */
  resolution: ReportAction.nullable(),
  resolvedBy: UserRef.nullable(),
  /** The resolver's note. */
  note: z.string().nullable(),
  createdAt: Timestamp,
  resolvedAt: Timestamp.nullable(),
});
export type Report = z.infer<typeof Report>;
