import { z } from 'zod';
import {
  Attachment,
  AttachmentPurpose,
  AuditAction,
  AuditEntry,
  AutomodRule,
  BanInfo,
  BanReason,
  Bio,
  BlockInfo,
  BotTokenInfo,
  ChannelInfo,
  ChannelName,
  ClientName,
  ConversationSummary,
  Cursor,
  Description,
  DisplayName,
  EmailAddress,
  GroupAdds,
  GroupInfo,
  GroupInvitation,
  GroupName,
  HeldMessage,
  Id,
  InviteCode,
  InviteInfo,
  MailedCode,
  MemberInfo,
  Message,
  MessageBody,
  MessageKind,
  ModerationReason,
  NewPassword,
  Nonce,
  PageCursor,
  PresentedPassword,
  PublicUser,
  ReadState,
  RegistrationMode,
  Report,
  ReportAction,
  ReportDetails,
  ReportId,
  ReportNote,
  ReportReason,
  SearchHit,
  SearchQuery,
  Self,
  Seq,
  ServerInfo,
  ServerName,
  SessionInfo,
  Settings,
  StatusText,
  Timestamp,
  Token,
  TokenName,
  Topic,
  Username,
} from './schemas.js';
import { LIMITS } from './text.js';

/**
 * Who may call an operation: `none` works before authentication, `user` needs
 * an authenticated connection (a login session or a bot token), `session`
 * needs a login session: account security (password, sessions, bot tokens)
 * is out of a bot token's reach, so a leaked token cannot lock its owner out.
 */
export type Access = 'none' | 'user' | 'session';

/** One entry of the operation table. */
export type OperationSpec<
  P extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
  A extends Access = Access,
> = {
  readonly access: A;
  /** The request's `params`; always a strict object, so unknown fields are refused. */
  readonly params: P;
  readonly result: R;
  /** One line for `docs/protocol.md` and `--help` texts. */
  readonly summary: string;
  /**
   * Operations that change who the connection is (login, logout...) run alone:
   * requests that arrive after them on the same connection wait for them.
   */
  readonly exclusive?: boolean;
};

function op<P extends z.ZodType, R extends z.ZodType, A extends Access>(
  spec: OperationSpec<P, R, A>,
): OperationSpec<P, R, A> {
  return spec;
}

const Empty = z.strictObject({});
const Ok = z.object({});

/** Returned by every operation that logs someone in. */
const LoginResult = z.object({
  /** The session's secret token: keep it, present it with `auth` or as a Bearer token. Shown once. */
  token: z.string(),
  session: SessionInfo,
  user: Self,
  /** The head of the caller's event stream: events after it are delivered live. */
  cursor: Cursor,
});

/**
 * What `register` returns: a login, and with an invite code the server the
 * new account joined (as `invites.join` answers).
 */
const RegisterResult = LoginResult.extend({
  joined: z.object({ server: ServerInfo, channels: z.array(ChannelInfo) }).optional(),
});

/**
 * How this server takes new accounts; absent from servers older than the
 * setting, which take anyone (`open`).
 */
const Registration = RegistrationMode.optional();

const ServerId = z.strictObject({ serverId: Id });

/** A file's name as sent: made safe by the server (directories and control characters removed). */
const FileName = z.string().min(1, 'a file name is needed').max(1024);

/** Uploaded files attached to a message, in order. */
const AttachmentIds = z.array(Id).min(1).max(10);

/** Most items a page of a list may hold, by kind of item (bigger items, smaller pages). */
export const PAGE_MAX = { small: 500, medium: 200, large: 100 } as const;

/**
 * The params of a paged list: the operation's own fields, then `limit` (at
 * most `max`, default the smaller of `max` and 100) and `after` (the `next` of
 * the previous page). Lists that can grow are paged, so that no reply can grow
 * without bound.
 */
function paged<S extends z.ZodRawShape>(shape: S, max: number) {
  return z.strictObject({
    ...shape,
    limit: z.number().int().min(1).max(max).optional(),
    after: PageCursor.optional(),
  });
}

/** `next`: where the next page starts, or null at the end. */
const Next = PageCursor.nullable();

/** A user named by id or by username. */
const UserByIdOrName = z.union([
  z.strictObject({ userId: Id }),
  z.strictObject({ username: z.string().min(1).max(256) }),
]);
const ServerAndUser = z.strictObject({ serverId: Id, userId: Id });
/** A moderator's action on a member, with why (kept in the audit log). */
const ServerUserReason = z.strictObject({ serverId: Id, userId: Id, reason: ModerationReason.nullable().optional() });
const Usernames = z.array(z.string().min(1).max(256)).min(1).max(LIMITS.groupMembersMax);

/** The operation table: every request a client can make, by name. */
export const operations = {
  hello: op({
    access: 'none',
    summary: 'Exchange protocol versions. Optional; the server also announces its version in the `hello` event.',
    params: z.strictObject({ protocol: z.number().int().positive(), client: ClientName.optional() }),
    result: z.object({
      protocol: z.number().int(),
      server: z.object({ name: z.literal('natter'), version: z.string() }),
      authenticated: z.boolean(),
      registration: Registration,
      /** Whether this server sends mail (email addresses, password reset); absent from older servers (none). */
      mail: z.boolean().optional(),
      /** Whether `register` needs an `email` (which the new account must then confirm). */
      emailRequired: z.boolean().optional(),
    }),
  }),
  ping: op({
    access: 'none',
    summary: 'Round-trip check; also keeps an idle TCP connection alive.',
    params: Empty,
    result: z.object({ now: Timestamp }),
  }),
  register: op({
    access: 'none',
    exclusive: true,
    summary:
      "Create an account and log this connection in; with `invite` (a code of one of the server's communities), also join that community. Servers in `invite` mode require one, `closed` ones refuse.",
    params: z.strictObject({
      username: Username,
      password: NewPassword,
      client: ClientName.optional(),
      presence: z.boolean().optional(),
      invite: InviteCode.optional(),
      /** An email address to confirm (a code is mailed to it); required where the server says `emailRequired`. */
      email: EmailAddress.optional(),
    }),
    result: RegisterResult,
  }),
  login: op({
    access: 'none',
    exclusive: true,
    summary: 'Log in with username and password; returns a new session token.',
    params: z.strictObject({
      username: z.string().min(1).max(256),
      password: PresentedPassword,
      client: ClientName.optional(),
      presence: z.boolean().optional(),
    }),
    result: LoginResult,
  }),
  auth: op({
    access: 'none',
    exclusive: true,
    summary:
      'Authenticate this connection with a session or bot token; with `cursor`, first replay the events missed since it.',
    params: z.strictObject({ token: Token, cursor: Cursor.optional(), presence: z.boolean().optional() }),
    result: z.object({ session: SessionInfo.nullable(), user: Self, cursor: Cursor }),
  }),
  logout: op({
    access: 'user',
    exclusive: true,
    summary: "Revoke this connection's session; every connection using it is closed.",
    params: Empty,
    result: Ok,
  }),
  whoami: op({
    access: 'user',
    summary: 'Who this connection is logged in as.',
    params: Empty,
    result: z.object({ user: Self, session: SessionInfo.nullable(), botToken: BotTokenInfo.nullable() }),
  }),
  'users.get': op({
    access: 'user',
    summary: 'Look up a user by id or by username.',
    params: UserByIdOrName,
    result: z.object({ user: PublicUser }),
  }),
  'profile.update': op({
    access: 'user',
    summary:
      'Change display name, status text, bio or profile picture; `null` clears a field, an absent field is left as is.',
    params: z.strictObject({
      displayName: DisplayName.nullable().optional(),
      status: StatusText.nullable().optional(),
      bio: Bio.nullable().optional(),
      /** An uploaded image (`attachments.create` with purpose `avatar`); `null` removes the picture. */
      avatar: Id.nullable().optional(),
    }),
    result: z.object({ user: Self }),
  }),
  'username.change': op({
    access: 'user',
    summary:
      'Change username. The account id stays; the old name is held for you for 30 days (by default), so nobody else can take it meanwhile.',
    params: z.strictObject({ username: Username }),
    result: z.object({ user: Self }),
  }),
  'password.change': op({
    access: 'session',
    summary:
      'Change password. Every other login session and every bot token is revoked and its connections closed (keep bot tokens with `revokeBotTokens: false`); the reply lists what was revoked.',
    params: z.strictObject({
      currentPassword: PresentedPassword,
      newPassword: NewPassword,
      revokeBotTokens: z.boolean().optional(),
    }),
    result: z.object({
      revokedSessions: z.number().int().nonnegative(),
      revokedBotTokens: z.number().int().nonnegative(),
      revoked: z.array(z.object({ id: Id, kind: z.enum(['session', 'bot']), name: z.string().nullable() })),
    }),
  }),
  'account.delete': op({
    access: 'session',
    summary:
      'Delete my account, after checking my password: profile, email, sessions, bot tokens, memberships, blocks, invitations, read positions and uploads go, and every connection of the account is closed. My messages stay, shown as written by "deleted user", or are deleted for everyone, as the server is set (`deletedMessages` in the reply). Refused while I own a server.',
    params: z.strictObject({ password: PresentedPassword }),
    result: z.object({
      deletedMessages: z.enum(['keep', 'remove']),
      messagesRemoved: z.number().int().nonnegative(),
      uploadsRemoved: z.number().int().nonnegative(),
    }),
  }),
  'account.export': op({
    access: 'session',
    summary:
      'What the server holds about me, one part at a time: `profile` (email, dates, settings), then `messages` (everything I wrote, oldest first), `uploads` (file names, sizes and types, not the bytes) and `reports` (those I filed), each paged with `next`. Sessions, tokens, servers, groups, DMs and blocks come from their own lists.',
    params: paged({ part: z.enum(['profile', 'messages', 'uploads', 'reports']) }, 1000),
    result: z.object({
      format: z.literal(1),
      profile: z
        .object({
          user: Self,
          email: z.string().nullable(),
          emailVerifiedAt: Timestamp.nullable(),
          createdAt: Timestamp,
          updatedAt: Timestamp,
          groupAdds: GroupAdds,
        })
        .nullable(),
      messages: z.array(
        z.object({
          id: Id,
          conversationId: Id,
          conversationKind: z.enum(['channel', 'group', 'dm']),
          serverId: Id.nullable(),
          seq: z.number().int(),
          body: z.string(),
          kind: z.string(),
          createdAt: Timestamp,
          editedAt: Timestamp.nullable(),
          deletedAt: Timestamp.nullable(),
        }),
      ),
      uploads: z.array(
        z.object({
          id: Id,
          purpose: z.string(),
          name: z.string(),
          size: z.number().int().nonnegative(),
          type: z.string(),
          createdAt: Timestamp,
          uploadedAt: Timestamp.nullable(),
          messageId: Id.nullable(),
        }),
      ),
      reports: z.array(
        z.object({
          id: z.number().int(),
          serverId: Id.nullable(),
          conversationId: Id.nullable(),
          messageId: Id.nullable(),
          targetUserId: Id.nullable(),
          reason: z.string(),
          details: z.string().nullable(),
          status: z.string(),
          resolution: z.string().nullable(),
          createdAt: Timestamp,
        }),
      ),
      next: Next,
    }),
  }),
  'email.set': op({
    access: 'session',
    summary:
      'Mail a code to a new email address; it replaces the confirmed one only once confirmed with `email.verify`. Asking again mails a new code (after `retryAfterMs`).',
    params: z.strictObject({ address: EmailAddress }),
    result: z.object({ user: Self, expiresAt: Timestamp }),
  }),
  'email.resend': op({
    access: 'session',
    summary: 'Mail a new code to the address waiting for confirmation (the old code stops working).',
    params: Empty,
    result: z.object({ user: Self, expiresAt: Timestamp }),
  }),
  'email.verify': op({
    access: 'session',
    summary:
      'Confirm the address waiting for confirmation with the code mailed to it; a code works once, for 24 hours, and 5 wrong tries end it.',
    params: z.strictObject({ code: MailedCode }),
    result: z.object({ user: Self }),
  }),
  'email.remove': op({
    access: 'session',
    summary: 'Forget the email address (confirmed and waiting); password reset by mail stops working for the account.',
    params: Empty,
    result: z.object({ user: Self }),
  }),
  'password.resetRequest': op({
    access: 'none',
    summary:
      "Mail a password reset code to the account's confirmed address. The answer is the same whether or not the account or an address exists.",
    params: z.strictObject({ username: z.string().min(1).max(256) }),
    result: z.object({ expiresInMs: z.number().int().positive() }),
  }),
  'password.reset': op({
    access: 'none',
    summary:
      'Set a new password with a mailed reset code; every session and bot token of the account is revoked and its connections closed.',
    params: z.strictObject({ username: z.string().min(1).max(256), code: MailedCode, newPassword: NewPassword }),
    result: z.object({
      revokedSessions: z.number().int().nonnegative(),
      revokedBotTokens: z.number().int().nonnegative(),
    }),
  }),
  'sessions.list': op({
    access: 'session',
    summary: 'List my login sessions, most recently used first.',
    params: Empty,
    result: z.object({ sessions: z.array(SessionInfo) }),
  }),
  'sessions.revoke': op({
    access: 'session',
    summary: 'Revoke one of my login sessions and close its connections.',
    params: z.strictObject({ sessionId: Id }),
    result: Ok,
  }),
  'tokens.create': op({
    access: 'session',
    summary: 'Create a named long-lived bot token. The secret is in this reply only.',
    params: z.strictObject({ name: TokenName }),
    result: z.object({ token: z.string(), botToken: BotTokenInfo }),
  }),
  'tokens.list': op({
    access: 'session',
    summary: 'List my bot tokens (names and dates, never secrets).',
    params: Empty,
    result: z.object({ tokens: z.array(BotTokenInfo) }),
  }),
  'tokens.revoke': op({
    access: 'session',
    summary: 'Revoke a bot token and close the connections using it.',
    params: z.strictObject({ tokenId: Id }),
    result: Ok,
  }),
  'servers.create': op({
    access: 'user',
    summary: 'Create a server (community). The caller owns it; it starts with a `general` channel.',
    params: z.strictObject({ name: ServerName, description: Description.nullable().optional() }),
    result: z.object({ server: ServerInfo, channels: z.array(ChannelInfo) }),
  }),
  'servers.update': op({
    access: 'user',
    summary: "Change a server's name, description or icon (owner and admins).",
    params: z.strictObject({
      serverId: Id,
      name: ServerName.optional(),
      description: Description.nullable().optional(),
      /** An uploaded image (`attachments.create` with purpose `server-icon`); `null` removes the icon. */
      icon: Id.nullable().optional(),
    }),
    result: z.object({ server: ServerInfo }),
  }),
  'servers.delete': op({
    access: 'user',
    summary: 'Delete a server with its channels and messages (owner only).',
    params: ServerId,
    result: Ok,
  }),
  'servers.list': op({
    access: 'user',
    summary: 'The servers I am a member of, with my role, by name; paged.',
    params: paged({}, PAGE_MAX.medium),
    result: z.object({ servers: z.array(ServerInfo), next: Next }),
  }),
  'servers.get': op({
    access: 'user',
    summary: 'One server I am a member of, with its channels.',
    params: ServerId,
    result: z.object({ server: ServerInfo, channels: z.array(ChannelInfo) }),
  }),
  'servers.leave': op({
    access: 'user',
    summary: 'Leave a server. The owner must transfer ownership or delete the server first.',
    params: ServerId,
    result: Ok,
  }),
  'servers.transfer': op({
    access: 'user',
    summary: 'Give ownership to another member (owner only); the old owner becomes an admin.',
    params: ServerAndUser,
    result: z.object({ server: ServerInfo }),
  }),
  'members.list': op({
    access: 'user',
    summary:
      "A server's members with role and presence, owner first, then admins, moderators, members, each by name; paged.",
    params: paged({ serverId: Id }, PAGE_MAX.medium),
    result: z.object({ members: z.array(MemberInfo), next: Next }),
  }),
  'members.online': op({
    access: 'user',
    summary: 'Who is online in a server right now, by name; paged.',
    params: paged({ serverId: Id }, PAGE_MAX.medium),
    result: z.object({ users: z.array(PublicUser), next: Next }),
  }),
  'members.role': op({
    access: 'user',
    summary: "Set a member's role: admin (owner only), moderator or member (owner, and admins for those below them).",
    params: z.strictObject({
      serverId: Id,
      userId: Id,
      role: z.enum(['admin', 'moderator', 'member']),
      reason: ModerationReason.nullable().optional(),
    }),
    result: z.object({ member: MemberInfo }),
  }),
  'members.kick': op({
    access: 'user',
    summary:
      'Remove a member (moderators remove members, admins also moderators, the owner anyone). They may rejoin with an invite.',
    params: ServerUserReason,
    result: Ok,
  }),
  'members.timeout': op({
    access: 'user',
    summary:
      'Time a member out for `seconds` (up to 28 days): until then they cannot send or edit in the server (moderators and up, on those below them). A new timeout replaces the current one.',
    params: z.strictObject({
      serverId: Id,
      userId: Id,
      seconds: z.number().int().min(1).max(LIMITS.timeoutMaxSeconds),
      reason: ModerationReason.nullable().optional(),
    }),
    result: z.object({ member: MemberInfo }),
  }),
  'members.untimeout': op({
    access: 'user',
    summary: "Lift a member's timeout early (moderators and up, on those below them).",
    params: ServerUserReason,
    result: z.object({ member: MemberInfo }),
  }),
  'bans.add': op({
    access: 'user',
    summary:
      'Ban a user: removed at once, and refused by every invite until unbanned (moderators and up, on those below them).',
    params: z.strictObject({ serverId: Id, userId: Id, reason: BanReason.nullable().optional() }),
    result: Ok,
  }),
  'bans.remove': op({
    access: 'user',
    summary: 'Lift a ban (moderators and up).',
    params: ServerUserReason,
    result: Ok,
  }),
  'bans.list': op({
    access: 'user',
    summary: "A server's bans, oldest first (moderators and up); paged.",
    params: paged({ serverId: Id }, PAGE_MAX.small),
    result: z.object({ bans: z.array(BanInfo), next: Next }),
  }),
  'audit.list': op({
    access: 'user',
    summary:
      "A server's audit log, newest first (moderators and up): every moderation and administrative action, by action or by actor; paged.",
    params: paged({ serverId: Id, action: AuditAction.optional(), actorId: Id.optional() }, PAGE_MAX.medium),
    result: z.object({ entries: z.array(AuditEntry), next: Next }),
  }),
  'reports.create': op({
    access: 'user',
    summary:
      "Report a message I can read (by conversation and number, or by id) or a user (in a server we are both in, or to the instance's operators). In a server it goes to the moderators, from a DM or a group to the instance's operators; the message's text is kept as it is now.",
    params: z.union([
      z.strictObject({
        conversationId: Id,
        seq: Seq,
        reason: ReportReason,
        details: ReportDetails.nullable().optional(),
      }),
      z.strictObject({ messageId: Id, reason: ReportReason, details: ReportDetails.nullable().optional() }),
      z.strictObject({
        userId: Id,
        serverId: Id.nullable().optional(),
        reason: ReportReason,
        details: ReportDetails.nullable().optional(),
      }),
    ]),
    result: z.object({ report: Report }),
  }),
  'reports.list': op({
    access: 'user',
    summary:
      "A server's reports (moderators and up), or without `serverId` the instance operators' queue; `open` (the default), `resolved` or `all`, newest first; paged.",
    params: paged({ serverId: Id.optional(), status: z.enum(['open', 'resolved', 'all']).optional() }, PAGE_MAX.medium),
    result: z.object({ reports: z.array(Report), next: Next }),
  }),
  'reports.resolve': op({
    access: 'user',
    summary:
      'Resolve an open report: delete the message, time its author out (`seconds`), kick or ban them, or do nothing; with a note for the other moderators. The action takes the rights it always does.',
    params: z.strictObject({
      reportId: ReportId,
      action: ReportAction,
      seconds: z.number().int().min(1).max(LIMITS.timeoutMaxSeconds).optional(),
      note: ReportNote.nullable().optional(),
    }),
    result: z.object({ report: Report }),
  }),
  'automod.list': op({
    access: 'user',
    summary: "A server's automatic moderation rules, in the order they were made (moderators and up).",
    params: z.strictObject({ serverId: Id }),
    result: z.object({ rules: z.array(AutomodRule) }),
  }),
  'automod.create': op({
    access: 'user',
    summary:
      'Add an automatic moderation rule to a server (owner and admins): keywords, regexes, the profanity preset, mention spam or flood, with what to do (block, hold, alert, timeout).',
    params: z.strictObject({
      serverId: Id,
      rule: z.record(z.string(), z.unknown()),
      reason: ModerationReason.nullable().optional(),
    }),
    result: z.object({ rule: AutomodRule }),
  }),
  'automod.update': op({
    access: 'user',
    summary: 'Change a rule (a whole new definition), or turn it on or off (owner and admins).',
    params: z.strictObject({
      ruleId: Id,
      rule: z.record(z.string(), z.unknown()).optional(),
      enabled: z.boolean().optional(),
      reason: ModerationReason.nullable().optional(),
    }),
    /** `changed`: false when the rule already was so (nothing was written or logged). */
    result: z.object({ rule: AutomodRule, changed: z.boolean() }),
  }),
  'automod.delete': op({
    access: 'user',
    summary: 'Remove a rule (owner and admins).',
    params: z.strictObject({ ruleId: Id, reason: ModerationReason.nullable().optional() }),
    result: Ok,
  }),
  'held.list': op({
    access: 'user',
    summary: 'The messages held for review in a server, oldest first (moderators and up); paged.',
    params: paged({ serverId: Id }, PAGE_MAX.small),
    result: z.object({ messages: z.array(HeldMessage), next: Next }),
  }),
  'held.approve': op({
    access: 'user',
    summary: 'Post a held message in its channel, as sent now by its author (moderators and up).',
    params: z.strictObject({ heldId: Id, reason: ModerationReason.nullable().optional() }),
    result: z.object({ message: Message }),
  }),
  'held.reject': op({
    access: 'user',
    summary: 'Throw a held message away (moderators and up); its author is told.',
    params: z.strictObject({ heldId: Id, reason: ModerationReason.nullable().optional() }),
    result: Ok,
  }),
  'channels.create': op({
    access: 'user',
    summary: 'Create a channel (owner and admins). Names are canonical: `Dev Talk` becomes `dev-talk`.',
    params: z.strictObject({ serverId: Id, name: ChannelName, topic: Topic.nullable().optional() }),
    result: z.object({ channel: ChannelInfo }),
  }),
  'channels.update': op({
    access: 'user',
    summary: 'Rename a channel or set its topic (owner and admins).',
    params: z.strictObject({ channelId: Id, name: ChannelName.optional(), topic: Topic.nullable().optional() }),
    result: z.object({ channel: ChannelInfo }),
  }),
  'channels.slowmode': op({
    access: 'user',
    summary:
      'Set slow mode on a channel: members wait `seconds` between two messages (0 turns it off; moderators and up are exempt; moderators and up may set it).',
    params: z.strictObject({
      channelId: Id,
      seconds: z.number().int().min(0).max(LIMITS.slowmodeMaxSeconds),
      reason: ModerationReason.nullable().optional(),
    }),
    result: z.object({ channel: ChannelInfo }),
  }),
  'channels.delete': op({
    access: 'user',
    summary: "Delete a channel and its messages (owner and admins). A server's last channel cannot be deleted.",
    params: z.strictObject({ channelId: Id }),
    result: Ok,
  }),
  'channels.list': op({
    access: 'user',
    summary: "A server's channels, by name; paged.",
    params: paged({ serverId: Id }, PAGE_MAX.small),
    result: z.object({ channels: z.array(ChannelInfo), next: Next }),
  }),
  'invites.create': op({
    access: 'user',
    summary: 'Create an invite code (owner and admins), optionally limited in uses and time.',
    params: z.strictObject({
      serverId: Id,
      maxUses: z.number().int().min(1).max(100_000).nullable().optional(),
      expiresInSeconds: z
        .number()
        .int()
        .min(60)
        .max(365 * 24 * 3600)
        .nullable()
        .optional(),
    }),
    result: z.object({ invite: InviteInfo }),
  }),
  'invites.list': op({
    access: 'user',
    summary: "A server's live invite codes with their use counts, oldest first (owner and admins); paged.",
    params: paged({ serverId: Id }, PAGE_MAX.small),
    result: z.object({ invites: z.array(InviteInfo), next: Next }),
  }),
  'invites.revoke': op({
    access: 'user',
    summary: 'Revoke an invite code (owner and admins).',
    params: z.strictObject({ serverId: Id, code: z.string().min(1).max(64) }),
    result: Ok,
  }),
  'invites.join': op({
    access: 'user',
    summary:
      'Join a server with an invite code. A member is answered `alreadyMember: true` whatever state the code is in; banned users are refused; for others, unknown, expired, used-up and revoked codes all get the same `not_found`.',
    params: z.strictObject({ code: InviteCode }),
    result: z.object({ server: ServerInfo, channels: z.array(ChannelInfo), alreadyMember: z.boolean() }),
  }),
  'groups.create': op({
    access: 'user',
    summary: `Create a private group and add or invite people by username (at most ${LIMITS.groupMembersMax} members and invitations). Each person is added directly if their \`groupAdds\` setting allows it, else invited.`,
    params: z.strictObject({ name: GroupName, usernames: Usernames }),
    result: z.object({ group: GroupInfo }),
  }),
  'groups.add': op({
    access: 'user',
    summary:
      'Add people to a group I am in, by username: directly if their `groupAdds` setting allows it, else as an invitation.',
    params: z.strictObject({ groupId: Id, usernames: Usernames }),
    result: z.object({ group: GroupInfo }),
  }),
  'groups.rename': op({
    access: 'user',
    summary: 'Rename a group I am in.',
    params: z.strictObject({ groupId: Id, name: GroupName }),
    result: z.object({ group: GroupInfo }),
  }),
  'groups.leave': op({
    access: 'user',
    summary: 'Leave a group. A group whose last member leaves is deleted with its messages.',
    params: z.strictObject({ groupId: Id }),
    result: Ok,
  }),
  'groups.list': op({
    access: 'user',
    summary: 'The groups I am in, by name; paged.',
    params: paged({}, PAGE_MAX.large),
    result: z.object({ groups: z.array(GroupInfo), next: Next }),
  }),
  'groups.invitations': op({
    access: 'user',
    summary: 'The group invitations waiting for my answer, oldest first; paged.',
    params: paged({}, PAGE_MAX.small),
    result: z.object({ invitations: z.array(GroupInvitation), next: Next }),
  }),
  'groups.accept': op({
    access: 'user',
    summary: 'Accept an invitation to a group: I become a member.',
    params: z.strictObject({ groupId: Id }),
    result: z.object({ group: GroupInfo }),
  }),
  'groups.decline': op({
    access: 'user',
    summary: 'Decline an invitation to a group.',
    params: z.strictObject({ groupId: Id }),
    result: Ok,
  }),
  'settings.get': op({
    access: 'user',
    summary: 'My settings (who may add me to groups).',
    params: Empty,
    result: z.object({ settings: Settings }),
  }),
  'settings.update': op({
    access: 'user',
    summary:
      'Change my settings. `groupAdds`: `everyone` may add me to groups directly, `contacts` (people who share a server or group with me), or `invite` (the default: every add is an invitation I accept or decline).',
    params: z.strictObject({ groupAdds: GroupAdds.optional() }),
    result: z.object({ settings: Settings }),
  }),
  'blocks.add': op({
    access: 'user',
    summary:
      'Block a user: they can no longer DM me, add or invite me to groups, or notify me with a mention (nor can I DM them). Idempotent.',
    params: UserByIdOrName,
    result: z.object({ block: BlockInfo }),
  }),
  'blocks.remove': op({
    access: 'user',
    summary: 'Unblock a user.',
    params: z.strictObject({ userId: Id }),
    result: Ok,
  }),
  'blocks.list': op({
    access: 'user',
    summary: 'The users I blocked, oldest first; paged.',
    params: paged({}, PAGE_MAX.small),
    result: z.object({ blocks: z.array(BlockInfo), next: Next }),
  }),
  'dms.list': op({
    access: 'user',
    summary: 'My direct-message conversations, most recent first, with their last message; paged.',
    params: paged({}, PAGE_MAX.large),
    result: z.object({ dms: z.array(ConversationSummary), next: Next }),
  }),
  'conversations.list': op({
    access: 'user',
    summary: 'Every conversation I can read (channels, groups, DMs) with unread and mention counts; paged.',
    params: paged({}, PAGE_MAX.large),
    result: z.object({ conversations: z.array(ConversationSummary), next: Next }),
  }),
  'attachments.create': op({
    access: 'user',
    summary:
      'Ask to upload a file: checks its size and your quotas and returns a slot: `PUT` the exact bytes to `upload.url` with `Authorization: Bearer <upload.token>` before `upload.expiresAt`. Then attach it with `messages.send`, `profile.update {avatar}` or `servers.update {icon}` within an hour, or it is deleted.',
    params: z.strictObject({
      name: FileName,
      size: z.number().int().nonnegative(),
      /** What the uploader says it is; checked against the content, never trusted. */
      type: z.string().min(1).max(255).optional(),
      purpose: AttachmentPurpose.optional(),
    }),
    result: z.object({
      attachment: Attachment.extend({ purpose: AttachmentPurpose }),
      upload: z.object({ url: z.string(), token: z.string(), expiresAt: Timestamp }),
    }),
  }),
  'attachments.get': op({
    access: 'user',
    summary:
      "A file I can see: one posted where I can read, anyone's profile picture or server icon, or one of my uploads not yet attached.",
    params: z.strictObject({ attachmentId: Id }),
    result: z.object({ attachment: Attachment }),
  }),
  'messages.send': op({
    access: 'user',
    summary:
      'Send a message (`kind` `action` for a `/me` action) to a conversation, or to a username (which opens the DM on the first message), with up to 10 uploaded files (`attachments.create`); it needs text, files or both. Replied to once committed; a retry with the same nonce returns the original.',
    params: z.union([
      z.strictObject({
        conversationId: Id,
        body: MessageBody.optional(),
        nonce: Nonce,
        kind: MessageKind.optional(),
        attachments: AttachmentIds.optional(),
      }),
      z.strictObject({
        to: z.string().min(1).max(256),
        body: MessageBody.optional(),
        nonce: Nonce,
        kind: MessageKind.optional(),
        attachments: AttachmentIds.optional(),
      }),
    ]),
    result: z.object({ message: Message, duplicate: z.boolean() }),
  }),
  'messages.edit': op({
    access: 'user',
    summary: 'Edit one of my messages.',
    params: z.strictObject({ messageId: Id, body: MessageBody }),
    result: z.object({ message: Message }),
  }),
  'messages.delete': op({
    access: 'user',
    summary:
      "Delete one of my messages; in a server's channels, moderators and up delete those of members below them (with a reason, kept in the audit log).",
    params: z.strictObject({ messageId: Id, reason: ModerationReason.nullable().optional() }),
    result: z.object({ message: Message }),
  }),
  'messages.history': op({
    access: 'user',
    summary: `A page of a conversation, oldest first: the latest \`limit\` (default 50, at most ${LIMITS.historyPageMax}), or those before or after a sequence number.`,
    params: z.strictObject({
      conversationId: Id,
      before: Seq.optional(),
      after: Seq.optional(),
      limit: z.number().int().min(1).max(LIMITS.historyPageMax).optional(),
    }),
    result: z.object({ messages: z.array(Message), hasMore: z.boolean() }),
  }),
  'messages.search': op({
    access: 'user',
    summary: `Find messages I can read that hold all the words of \`query\` (any case, any accents; the last word also as a prefix), newest first, in every conversation or in one (\`conversationId\`), by anyone or by one person (\`from\`, a username); paged (at most ${LIMITS.searchPageMax} hits a page).`,
    params: paged(
      {
        query: SearchQuery,
        conversationId: Id.optional(),
        from: z.string().min(1).max(256).optional(),
      },
      LIMITS.searchPageMax,
    ),
    result: z.object({ hits: z.array(SearchHit), next: Next }),
  }),
  'read.mark': op({
    access: 'user',
    summary: 'Mark a conversation read up to `seq` (never backwards); all my connections get `read.updated`.',
    params: z.strictObject({ conversationId: Id, seq: Seq }),
    result: ReadState,
  }),
  'typing.start': op({
    access: 'user',
    summary: 'Tell the conversation I am typing. Ephemeral: never stored, expires on its own.',
    params: z.strictObject({ conversationId: Id }),
    result: Ok,
  }),
} as const;

export type Operations = typeof operations;
export type OpName = keyof Operations;
/** The parsed (normalized) params of an operation, as handlers receive them. */
export type ParamsOf<N extends OpName> = z.output<Operations[N]['params']>;
/** The params a client sends. */
export type ParamsIn<N extends OpName> = z.input<Operations[N]['params']>;
export type ResultOf<N extends OpName> = z.output<Operations[N]['result']>;

export const OP_NAMES = Object.keys(operations) as OpName[];

/** Type guard: is `name` an operation of this protocol version? */
export function isOpName(name: string): name is OpName {
  return Object.hasOwn(operations, name);
}
