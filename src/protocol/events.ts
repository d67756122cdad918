import { z } from 'zod';
import {
  ChannelInfo,
  Cursor,
  GroupInfo,
  GroupInvitation,
  HeldMessage,
  Id,
  MemberInfo,
  Message,
  PublicUser,
  ReadState,
  RegistrationMode,
  Report,
  ReportAction,
  ReportId,
  ReportReason,
  ServerInfo,
  Settings,
  Timestamp,
  UserRef,
} from './schemas.js';

/**
 * Every event the server pushes, by name. Events carry no request id. Those
 * marked `stream` are stored and carry a `cursor`: a client that reconnects
 * with its last cursor receives the ones it missed. The others are ephemeral.
 */
export const events = {
  hello: {
    stream: false,
    summary: 'Sent first on every WebSocket and TCP connection: the protocol version and limits.',
    data: z.object({
      protocol: z.number().int(),
      server: z.object({ name: z.literal('natter'), version: z.string() }),
      authenticated: z.boolean(),
      /** Who may create an account here; absent from older servers, which take anyone (`open`). */
      registration: RegistrationMode.optional(),
      /** Whether this server sends mail (email addresses, password reset); absent from older servers (none). */
      mail: z.boolean().optional(),
      /** Whether `register` needs an `email`, which the new account must confirm. */
      emailRequired: z.boolean().optional(),
      limits: z.object({
        maxFrameBytes: z.number().int(),
        authDeadlineMs: z.number().int(),
        heartbeatMs: z.number().int(),
      }),
      /**
       * Where files go up and come down: `httpPort`, the HTTP port of this
       * server (TCP clients reach it on the same host), or `httpUrl` when the
       * server was told its public address; and the largest file it takes.
       * Absent from servers without files.
       */
      media: z
        .object({
          httpPort: z.number().int().optional(),
          httpUrl: z.string().optional(),
          maxFileBytes: z.number().int(),
        })
        .optional(),
    }),
  },
  ping: {
    stream: false,
    summary:
      'TCP only: nothing was heard from this connection for `heartbeatMs`. Send any request (`ping` will do) within `heartbeatMs`, or the connection is closed (4011).',
    data: z.object({ at: Timestamp }),
  },
  'user.updated': {
    stream: true,
    summary:
      "A user's username or profile changed: sent to them and to everyone who shares a server, group or DM with them.",
    data: z.object({ user: PublicUser }),
  },
  closing: {
    stream: false,
    summary:
      'The server is about to close this connection: the close code (as on WebSocket), why, and when to reconnect if it should.',
    data: z.object({
      code: z.number().int(),
      reason: z.string(),
      /** Present when reconnecting is welcome, e.g. after a restart. */
      reconnectAfterMs: z.number().int().nonnegative().optional(),
      at: Timestamp,
    }),
  },
  'message.created': {
    stream: true,
    summary: 'A new message in a conversation I can read (my own included, on all my connections).',
    data: z.object({ message: Message }),
  },
  'message.updated': {
    stream: true,
    summary: 'A message was edited.',
    data: z.object({ message: Message }),
  },
  'message.deleted': {
    stream: true,
    summary: 'A message was deleted; `message` is its tombstone (empty body, `deletedAt` set).',
    data: z.object({ message: Message }),
  },
  'server.joined': {
    stream: true,
    summary: 'I became a member of a server (I created it or joined by invite); sent to all my connections.',
    data: z.object({ server: ServerInfo, channels: z.array(ChannelInfo) }),
  },
  'server.updated': {
    stream: true,
    summary: "A server's name, description or owner changed. `server.role` is not meaningful here: use `servers.get`.",
    data: z.object({ server: ServerInfo }),
  },
  'server.deleted': {
    stream: true,
    summary: 'A server I was in was deleted.',
    data: z.object({ serverId: Id }),
  },
  'server.removed': {
    stream: true,
    summary:
      'I am no longer a member of a server: I left, was kicked or was banned (`by` whom, with `note` the reason given); sent to all my connections.',
    data: z.object({
      serverId: Id,
      reason: z.enum(['left', 'kicked', 'banned']),
      /** Who kicked or banned me (absent when I left, and from servers before this field). */
      by: UserRef.optional(),
      note: z.string().nullable().optional(),
    }),
  },
  'member.joined': {
    stream: true,
    summary: 'Someone joined a server I am in.',
    data: z.object({ serverId: Id, member: MemberInfo }),
  },
  'member.updated': {
    stream: true,
    summary: "A member's role changed.",
    data: z.object({ serverId: Id, member: MemberInfo }),
  },
  'member.timeout': {
    stream: true,
    summary:
      'A member of a server I am in was timed out until `until` (null: the timeout was lifted), `by` whom (null: by the automatic moderation rule `rule`), with `note` the reason given (null: none).',
    data: z.object({
      serverId: Id,
      user: UserRef,
      until: Timestamp.nullable(),
      by: UserRef.nullable(),
      /** The automatic moderation rule that timed them out, when it was one. */
      rule: z.string().optional(),
      note: z.string().nullable(),
    }),
  },
  'automod.flagged': {
    stream: true,
    summary:
      "To a server's moderators: a message matched its automatic moderation rules (or the classifier), and what was done.",
    data: z.object({
      serverId: Id,
      conversationId: Id,
      /** The channel's name. */
      channel: z.string(),
      user: UserRef,
      /** The rules that matched (`classifier` for the classifier), each with what matched. */
      rules: z.array(z.object({ name: z.string(), trigger: z.string() })),
      /** What was done: `block`ed, `hold` (see `heldId`), `alert` only (posted as `seq`), `timeout`. */
      actions: z.array(z.enum(['block', 'hold', 'alert', 'timeout'])),
      /** The text as sent, or as an edit would have made it. */
      body: z.string(),
      /** The message, when it was posted (an alert) or edited. */
      seq: z.number().int().positive().nullable(),
      heldId: Id.nullable(),
      /** Whether it was an edit of message `seq`. */
      edit: z.boolean(),
    }),
  },
  'message.held': {
    stream: true,
    summary: "To a server's moderators: a message was held for review.",
    data: z.object({ held: HeldMessage }),
  },
  'held.resolved': {
    stream: true,
    summary:
      'A held message was approved (and posted as `seq`) or rejected, `by` whom: to the moderators, and to its author.',
    data: z.object({
      serverId: Id,
      heldId: Id,
      conversationId: Id,
      outcome: z.enum(['approved', 'rejected']),
      seq: z.number().int().positive().nullable(),
      /** The nonce the author sent it with: their client finds its line by it. */
      nonce: z.string().nullable(),
      by: UserRef,
      note: z.string().nullable(),
    }),
  },
  'member.left': {
    stream: true,
    summary:
      'Someone left a server I am in, or was kicked or banned from it: `user` who, `by` who kicked or banned them, `note` the reason given (null: none).',
    data: z.object({
      serverId: Id,
      userId: Id,
      /** Who left (absent from servers before this field). */
      user: UserRef.optional(),
      reason: z.enum(['left', 'kicked', 'banned']),
      by: UserRef.optional(),
      note: z.string().nullable().optional(),
    }),
  },
  'channel.created': {
    stream: true,
    summary: 'A channel was created in a server I am in.',
    data: z.object({ channel: ChannelInfo }),
  },
  'channel.updated': {
    stream: true,
    summary: 'A channel was renamed or its topic changed, `by` whom.',
    data: z.object({ channel: ChannelInfo, by: UserRef.optional() }),
  },
  'channel.deleted': {
    stream: true,
    summary: 'A channel was deleted.',
    data: z.object({ serverId: Id, channelId: Id }),
  },
  'group.updated': {
    stream: true,
    summary: 'A group I am in was created, renamed, or gained or lost members.',
    data: z.object({ group: GroupInfo }),
  },
  'group.invited': {
    stream: true,
    summary: 'Someone invited me to a group; accept or decline it.',
    data: z.object({ invitation: GroupInvitation }),
  },
  'group.invitation_closed': {
    stream: true,
    summary:
      'An invitation of mine is no longer pending: I accepted or declined it (on any of my connections), I was added directly (my `groupAdds` now allows it), or the group is gone.',
    data: z.object({ groupId: Id, outcome: z.enum(['accepted', 'declined', 'added', 'gone']) }),
  },
  'settings.updated': {
    stream: false,
    summary: 'My settings changed (on any of my connections).',
    data: z.object({ settings: Settings }),
  },
  'block.updated': {
    stream: false,
    summary: 'I blocked or unblocked someone (on any of my connections).',
    data: z.object({ user: UserRef, blocked: z.boolean() }),
  },
  'group.removed': {
    stream: true,
    summary: 'I left a group; sent to all my connections.',
    data: z.object({ groupId: Id }),
  },
  'dm.opened': {
    stream: true,
    summary: 'A direct conversation with me was opened (by the first message, mine or theirs).',
    data: z.object({ conversationId: Id, peer: PublicUser }),
  },
  'read.updated': {
    stream: true,
    summary: 'My read position in a conversation moved (on any of my clients).',
    data: ReadState,
  },
  'report.created': {
    stream: true,
    summary:
      "Someone reported a message or a user: sent to the server's moderators, admins and owner (for a report from a DM or a group, or about a user outside any server: to the instance's operators), never to the person reported.",
    data: z.object({ report: Report }),
  },
  'report.resolved': {
    stream: true,
    summary:
      'A report was resolved: sent to those who got it as `report.created` (the resolver included), so that their count of open reports drops.',
    data: z.object({ report: Report }),
  },
  'report.handled': {
    stream: true,
    summary:
      "A report I made was handled: what was done (`outcome`), never by whom nor the resolver's note. Sent to the reporter only.",
    data: z.object({
      reportId: ReportId,
      serverId: Id.nullable(),
      conversationId: Id.nullable(),
      seq: z.number().int().positive().nullable(),
      targetUser: UserRef.nullable(),
      reason: ReportReason,
      outcome: ReportAction,
      resolvedAt: Timestamp,
    }),
  },
  presence: {
    stream: false,
    summary: 'Someone I share a server, group or DM with came online or went offline.',
    data: z.object({ userId: Id, online: z.boolean() }),
  },
  typing: {
    stream: false,
    summary: 'Someone is typing in a conversation I can read, until `expiresAt` unless repeated.',
    data: z.object({ conversationId: Id, user: z.object({ id: Id, username: z.string() }), expiresAt: Timestamp }),
  },
  caught_up: {
    stream: false,
    summary:
      'The replay after `auth` with a cursor is complete. `limited`: the gap was too large to replay; reload conversation lists and page history.',
    data: z.object({ cursor: Cursor, replayed: z.number().int().nonnegative(), limited: z.boolean() }),
  },
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventData<N extends EventName> = z.output<Events[N]['data']>;
export const EVENT_NAMES = Object.keys(events) as EventName[];
