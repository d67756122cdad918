import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Accounts. `usernameKey` (case-folded, look-alikes mapped) is what makes a username unique. */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    username: text('username').notNull(),
    usernameKey: text('username_key').notNull(),
    /** The second key (`usernameCapitalKey`), or null when it equals `usernameKey`. */
    usernameCapitalKey: text('username_capital_key'),
    passwordHash: text('password_hash').notNull(),
    displayName: text('display_name'),
    status: text('status'),
    bio: text('bio'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /**
     * Who may put this user in a group directly: `everyone`, `contacts` (people
     * who share a server or a group with them) or `invite` (nobody: each add is
     * an invitation they accept or decline).
     */
    groupAdds: text('group_adds', { enum: ['everyone', 'contacts', 'invite'] })
      .notNull()
      .default('invite'),
    /**
     * An instance operator: handles reports made in DMs and groups and may act
     * across the instance. Granted on the server's host (`natter admin grant`).
     */
    operator: integer('operator', { mode: 'boolean' }).notNull().default(false),
    /** The profile picture: an `attachments` row of purpose `avatar` (null: none). */
    avatarId: text('avatar_id'),
    /** The confirmed email address (lowercased domain), or null; a new one waits in `account_codes` until confirmed. */
    email: text('email'),
    /** When `email` was confirmed. */
    emailVerifiedAt: integer('email_verified_at'),
    /**
     * Registered while the server required an email address: until one is
     * confirmed the account can only confirm one, and it is removed after this
     * time. Null: no confirmation owed.
     */
    verifyBy: integer('verify_by'),
    /** When an operator disabled the account (`natter admin disable`); null: enabled. */
    disabledAt: integer('disabled_at'),
    /** When the account was deleted: the row stays only as the author of kept messages ("deleted user"). */
    deletedAt: integer('deleted_at'),
  },
  (t) => [
    uniqueIndex('users_username_key').on(t.usernameKey),
    index('users_username_capital_key').on(t.usernameCapitalKey),
    index('users_email').on(t.email),
    index('users_verify_by').on(t.verifyBy),
  ],
);

/**
 * One-time codes mailed to a person: `verify` confirms `address` as the
 * account's email (24 h), `reset` sets a new password (1 h). Only a hash of the
 * code is kept; a code works once and stops after 5 wrong tries.
 */
export const accountCodes = sqliteTable(
  'account_codes',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['verify', 'reset'] }).notNull(),
    /** The address the code was mailed to (for `verify`, the one it confirms). */
    address: text('address').notNull(),
    codeHash: text('code_hash').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /** Wrong codes tried against this one. */
    tries: integer('tries').notNull().default(0),
    usedAt: integer('used_at'),
  },
  (t) => [index('account_codes_user').on(t.userId, t.purpose), index('account_codes_expires').on(t.expiresAt)],
);

/**
 * Mail waiting to leave, written in the same transaction as what it tells
 * and sent after the commit; retried with backoff until `sent_at` or, after
 * the last try, `failed_at`.
 */
export const mailOutbox = sqliteTable(
  'mail_outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** What the mail is, for operators and metrics: `verify`, `reset`, ... */
    kind: text('kind').notNull(),
    toAddress: text('to_address').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** When the next try is due (null once sent or given up). */
    nextAttemptAt: integer('next_attempt_at'),
    /** A node working on it holds it until this time (a cluster sends each mail once). */
    claimedUntil: integer('claimed_until'),
    sentAt: integer('sent_at'),
    failedAt: integer('failed_at'),
    lastError: text('last_error'),
  },
  (t) => [index('mail_outbox_due').on(t.nextAttemptAt)],
);

/**
 * Usernames given up by a rename, held for their previous owner for a while, so
 * that DMs, group adds and mentions by the old name cannot reach a newcomer.
 */
export const usernameHolds = sqliteTable(
  'username_holds',
  {
    usernameKey: text('username_key').primaryKey(),
    /** The name's second key (`usernameCapitalKey`), or null when it equals `usernameKey`. */
    usernameCapitalKey: text('username_capital_key'),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    releasedAt: integer('released_at').notNull(),
  },
  (t) => [
    index('username_holds_released').on(t.releasedAt),
    index('username_holds_user').on(t.userId),
    index('username_holds_capital_key').on(t.usernameCapitalKey),
  ],
);

/** Who blocked whom: a blocked user cannot DM, add to groups or notify (mention) the blocker. */
export const blocks = sqliteTable(
  'blocks',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    blockedId: text('blocked_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockedId] }), index('blocks_blocked').on(t.blockedId)],
);

/** Bytes each user's writes stored, per UTC day (the daily write budget). */
export const usage = sqliteTable(
  'usage',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Days since the Unix epoch (UTC). */
    day: integer('day').notNull(),
    bytes: integer('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day] })],
);

/** Small facts about the database itself (format versions of derived columns). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/**
 * Login sessions and bot tokens. Only the SHA-256 of a token is stored, so a
 * copy of the database does not let anyone log in.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['session', 'bot'] }).notNull(),
    tokenHash: text('token_hash').notNull(),
    /** Bot token name, or the client name given at login. */
    name: text('name'),
    address: text('address'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
  },
  (t) => [
    uniqueIndex('sessions_token_hash').on(t.tokenHash),
    index('sessions_user_kind').on(t.userId, t.kind),
    check('sessions_kind', sql`${t.kind} IN ('session', 'bot')`),
  ],
);

/**
 * Where each account logged in from, and when last: an address an account was
 * used from (even after that session ended) is not held back by other people's
 * failed guesses (see the login throttles). Forgotten after 90 days.
 */
export const loginAddresses = sqliteTable(
  'login_addresses',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    lastAt: integer('last_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.address] }), index('login_addresses_last').on(t.lastAt)],
);

export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

/** Communities ("servers" in the interface): members, channels, invites. */
export const servers = sqliteTable(
  'servers',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description'),
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /**
     * Bumped by every change to the server's automatic moderation rules: a
     * node keeps the rules compiled, and a send that reads a newer number
     * (with the sender's role) compiles them again.
     */
    automodRev: integer('automod_rev').notNull().default(0),
    /** The icon: an `attachments` row of purpose `server-icon` (null: none). */
    iconId: text('icon_id'),
  },
  (t) => [index('servers_owner').on(t.ownerId)],
);

export const members = sqliteTable(
  'members',
  {
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'moderator', 'member'] }).notNull(),
    joinedAt: integer('joined_at').notNull(),
    /** The newest event id when the member joined: resume replays only later events of the server to them. */
    sinceEvent: integer('since_event').notNull().default(0),
    /** Timed out until then (ms): no sending or editing in the server's channels. Null, or past: not timed out. */
    timeoutUntil: integer('timeout_until'),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.userId] }), index('members_user').on(t.userId)],
);

export const bans = sqliteTable(
  'bans',
  {
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    bannedBy: text('banned_by')
      .notNull()
      .references(() => users.id),
    reason: text('reason'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.userId] })],
);

/**
 * A server's audit log: every moderation and administrative action, written
 * in the transaction of the action itself. `actorId` is who acted (null for
 * the server itself); `targetUserId` whom it was done to, `targetId` what
 * (a message, a channel, an invite code); `details` a JSON object of the
 * change (a role before and after, a channel's name). Kept for
 * `auditRetentionMs`, then pruned.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    action: text('action').notNull(),
    actorId: text('actor_id').references(() => users.id, { onDelete: 'set null' }),
    targetUserId: text('target_user_id').references(() => users.id, { onDelete: 'set null' }),
    targetId: text('target_id'),
    reason: text('reason'),
    details: text('details'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('audit_log_server').on(t.serverId, t.id),
    index('audit_log_server_action').on(t.serverId, t.action, t.id),
    index('audit_log_server_actor').on(t.serverId, t.actorId, t.id),
    index('audit_log_created').on(t.createdAt),
  ],
);

/**
 * A server's automatic moderation rules, checked on every send and edit in
 * its channels. `kind`: `keyword`, `regex`, `preset` (the built-in profanity
 * list), `mentions` (too many distinct mentions) or `flood` (too many
 * messages too fast). `config`, `actions`, `exemptRoles` and
 * `exemptChannels` are JSON (see src/server/automod/rules.ts); keywords are
 * stored as written, and normalised when the rules are compiled.
 */
export const automodRules = sqliteTable(
  'automod_rules',
  {
    id: text('id').primaryKey(),
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['keyword', 'regex', 'preset', 'mentions', 'flood'] }).notNull(),
    config: text('config').notNull(),
    actions: text('actions').notNull(),
    exemptRoles: text('exempt_roles').notNull().default('[]'),
    exemptChannels: text('exempt_channels').notNull().default('[]'),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('automod_rules_server_name').on(t.serverId, t.name)],
);

/**
 * Messages a rule (or the classifier) held for review: stored, seen by the
 * server's moderators only, with no number in the channel until one approves
 * it (it is then posted as sent at that time) or rejects it (it is removed).
 * `(authorId, nonce)` is unique so a retried send finds its held original.
 */
export const heldMessages = sqliteTable(
  'held_messages',
  {
    id: text('id').primaryKey(),
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    authorId: text('author_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    body: text('body').notNull(),
    kind: text('kind', { enum: ['text', 'action'] })
      .notNull()
      .default('text'),
    bot: integer('bot', { mode: 'boolean' }).notNull().default(false),
    nonce: text('nonce'),
    /** What held it: a rule's name, or `classifier`. */
    heldBy: text('held_by').notNull(),
    createdAt: integer('created_at').notNull(),
    /** Ids of the files sent with it (JSON array), kept for it until it is approved or rejected. */
    attachments: text('attachments').notNull().default('[]'),
  },
  (t) => [
    index('held_messages_server').on(t.serverId, t.createdAt),
    uniqueIndex('held_messages_author_nonce').on(t.authorId, t.nonce),
  ],
);

/**
 * Reports of a message or a user. In a server (`serverId`), they go to its
 * moderators; from a DM or a group (`serverId` null), to the instance
 * operators. `snapshot` is the reported message's text when it was reported.
 * `targetKey` keeps one open report per reporter and target: `m:<message id>`
 * for a message (ids are unique across the instance, so the server goes
 * without saying), `u:<user id>:<server id>` for a user reported in a server,
 * `u:<user id>` for a user reported to the operators (db/reports.ts makes them;
 * ids never hold a colon).
 */
export const reports = sqliteTable(
  'reports',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    serverId: text('server_id').references(() => servers.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    messageId: text('message_id'),
    messageSeq: integer('message_seq'),
    targetUserId: text('target_user_id').references(() => users.id, { onDelete: 'set null' }),
    targetKey: text('target_key').notNull(),
    reporterId: text('reporter_id').references(() => users.id, { onDelete: 'set null' }),
    reason: text('reason', { enum: ['spam', 'harassment', 'inappropriate', 'illegal', 'other'] }).notNull(),
    details: text('details'),
    snapshot: text('snapshot'),
    status: text('status', { enum: ['open', 'resolved'] })
      .notNull()
      .default('open'),
    /** How it was resolved: `delete`, `timeout`, `kick`, `ban` or `none`. */
    resolution: text('resolution'),
    resolvedBy: text('resolved_by').references(() => users.id, { onDelete: 'set null' }),
    note: text('note'),
    createdAt: integer('created_at').notNull(),
    resolvedAt: integer('resolved_at'),
  },
  (t) => [
    index('reports_server_status').on(t.serverId, t.status, t.id),
    index('reports_status').on(t.status, t.id),
    index('reports_reporter').on(t.reporterId, t.createdAt),
    uniqueIndex('reports_open_target').on(t.reporterId, t.targetKey).where(sql`${t.status} = 'open'`),
  ],
);

/**
 * Everything messages are posted to: a server's channels, private groups and
 * direct conversations. `lastSeq` is the newest message's sequence number.
 */
export const conversations = sqliteTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['channel', 'group', 'dm'] }).notNull(),
    serverId: text('server_id').references(() => servers.id, { onDelete: 'cascade' }),
    name: text('name'),
    topic: text('topic'),
    /** For DMs: the two user ids, sorted and joined, so a pair has one conversation. */
    dmKey: text('dm_key'),
    lastSeq: integer('last_seq').notNull().default(0),
    lastMessageAt: integer('last_message_at'),
    createdAt: integer('created_at').notNull(),
    /** Who created it (groups: the per-user cap on groups created); null for rows older than the column. */
    createdBy: text('created_by'),
    /** Channels: slow mode, the seconds a member waits between two messages (0: off; moderators exempt). */
    slowmodeSeconds: integer('slowmode_seconds').notNull().default(0),
  },
  (t) => [
    index('conversations_server').on(t.serverId),
    index('conversations_created_by').on(t.createdBy),
    uniqueIndex('conversations_dm_key').on(t.dmKey),
    uniqueIndex('conversations_channel_name').on(t.serverId, t.name).where(sql`${t.kind} = 'channel'`),
    check('conversations_kind', sql`${t.kind} IN ('channel', 'group', 'dm')`),
  ],
);

/** Members of groups and DMs (channels take their members from the server). */
export const conversationMembers = sqliteTable(
  'conversation_members',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    joinedAt: integer('joined_at').notNull(),
    /** The newest event id when the member joined: resume replays only later events of the conversation to them. */
    sinceEvent: integer('since_event').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('conversation_members_user').on(t.userId)],
);

/** Invitations to a group, waiting for the invitee to accept or decline. */
export const groupInvites = sqliteTable(
  'group_invites',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    invitedBy: text('invited_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('group_invites_user').on(t.userId, t.createdAt)],
);

/** How far each user has read each conversation. */
export const readStates = sqliteTable(
  'read_states',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    lastReadSeq: integer('last_read_seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.conversationId] })],
);

export const invites = sqliteTable(
  'invites',
  {
    code: text('code').primaryKey(),
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    createdBy: text('created_by')
      .notNull()
      .references(() => users.id),
    maxUses: integer('max_uses'),
    uses: integer('uses').notNull().default(0),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('invites_server').on(t.serverId)],
);

export const messages = sqliteTable(
  'messages',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    authorId: text('author_id')
      .notNull()
      .references(() => users.id),
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull(),
    editedAt: integer('edited_at'),
    deletedAt: integer('deleted_at'),
    nonce: text('nonce'),
    /** `text`, or `action` (`/me waves`); messages from before actions existed are text. */
    kind: text('kind', { enum: ['text', 'action', 'automod'] })
      .notNull()
      .default('text'),
    /** Sent over a bot token. */
    bot: integer('bot', { mode: 'boolean' }).notNull().default(false),
    /**
     * What the search index holds instead of `body` when they differ: the body
     * with a space on each side of every character of scripts written without
     * spaces (src/server/search.ts); null when it is the body.
     */
    searchText: text('search_text'),
  },
  (t) => [
    // History pages and resume are range scans on this index, at any depth.
    uniqueIndex('messages_conversation_seq').on(t.conversationId, t.seq),
    // A retried send (same author, same nonce) finds the original.
    uniqueIndex('messages_author_nonce').on(t.authorId, t.nonce),
    // Slow mode and flood rules count an author's latest messages.
    index('messages_author_created').on(t.authorId, t.createdAt),
  ],
);

/**
 * The messages the full-text index (`message_search`, FTS5) holds: every
 * message that is not deleted, each under a key of its own. The index needs an
 * integer key per row, and `messages` has none of its own (its key is a text
 * id, so SQLite's hidden rowid is all it has, and VACUUM may renumber that):
 * `key` is an INTEGER PRIMARY KEY, which VACUUM keeps. Keys are handed out in
 * the order messages are written (AUTOINCREMENT never reuses one), so the
 * newest message has the largest key, which is the order search results come
 * in. `scope` is the audience of the message's conversation, as events have
 * it (`s:<server>` for a channel, `c:<conversation>` for a group or DM), so a
 * search keeps the hits its caller may read by looking at this row alone.
 *
 * The index itself, its content view and the triggers that keep both in step
 * with `messages` (in the same statement as each write, so in the same
 * transaction) are in drizzle/sqlite/0007_message_search.sql: drizzle cannot declare
 * virtual tables or triggers. No foreign key: the triggers delete a row
 * together with its index entry, which needs the row to still be there.
 */
export const messageSearchRows = sqliteTable(
  'message_search_rows',
  {
    key: integer('key').primaryKey({ autoIncrement: true }),
    messageId: text('message_id').notNull(),
    scope: text('scope').notNull(),
  },
  (t) => [uniqueIndex('message_search_rows_message').on(t.messageId)],
);

/** Who a message mentions, for notifications and mention counts. */
export const mentions = sqliteTable(
  'mentions',
  {
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id').notNull(),
    seq: integer('seq').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.userId] }),
    index('mentions_user').on(t.userId, t.conversationId, t.seq),
  ],
);

/**
 * The event log behind resume: each stream event, serialized once, in commit
 * order. `id` is the cursor. An event for one audience (nearly all of them:
 * every message) carries it in `scope`; an event for several has `scope` null
 * and its audiences in `event_scopes`.
 */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    payload: text('payload').notNull(),
    createdAt: integer('created_at').notNull(),
    /** `u:<user>`, `s:<server>` or `c:<conversation>`; null when the audiences are in `event_scopes`. */
    scope: text('scope'),
  },
  // The scope index holds the rowid too: a replay is a range scan per scope.
  (t) => [index('events_created').on(t.createdAt), index('events_scope').on(t.scope)],
);

/**
 * The audiences of events meant for more than one: `u:<user>` (that user),
 * `s:<server>` (its members), `c:<conversation>` (a group's or DM's members).
 */
export const eventScopes = sqliteTable(
  'event_scopes',
  {
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    scope: text('scope').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.eventId] }), index('event_scopes_event').on(t.eventId)],
);

/**
 * Uploaded files. A row is made by `attachments.create` (a slot: `tokenHash`
 * set, `sha256` null), completed by the upload (`sha256` and what the
 * content is), and put to use by a message (`messageId`, with where it was
 * posted), a profile or a server. `expiresAt` is when an unused row goes
 * (the slot's hour); null once in use. The bytes live in the blob store under
 * `sha256` (and the thumbnail under `thumbSha256`), shared by every row with
 * the same content: a blob no row names is swept.
 */
export const attachments = sqliteTable(
  'attachments',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['message', 'avatar', 'server-icon'] }).notNull(),
    name: text('name').notNull(),
    size: integer('size').notNull(),
    /** The content's type once uploaded (sniffed); before, what the uploader said or octet-stream. */
    type: text('type').notNull(),
    /** SHA-256 (hex) of the upload token (kept after the upload, so a second PUT is told apart only with the token). */
    tokenHash: text('token_hash'),
    /** The upload token works until then. */
    uploadBy: integer('upload_by').notNull(),
    sha256: text('sha256'),
    thumbSha256: text('thumb_sha256'),
    width: integer('width'),
    height: integer('height'),
    durationMs: integer('duration_ms'),
    createdAt: integer('created_at').notNull(),
    uploadedAt: integer('uploaded_at'),
    expiresAt: integer('expires_at'),
    messageId: text('message_id').references(() => messages.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id').references(() => conversations.id, { onDelete: 'cascade' }),
    /** The server whose total it counts in: posted in one of its channels, or its icon. */
    serverId: text('server_id').references(() => servers.id, { onDelete: 'cascade' }),
    /** Its place among the message's files. */
    position: integer('position').notNull().default(0),
  },
  (t) => [
    index('attachments_message').on(t.messageId, t.position),
    index('attachments_owner').on(t.ownerId, t.createdAt),
    index('attachments_server').on(t.serverId, t.size),
    index('attachments_expires').on(t.expiresAt),
    index('attachments_sha256').on(t.sha256),
    index('attachments_thumb').on(t.thumbSha256),
  ],
);

/** Bytes of uploads each user asked for per UTC day (`day`: days since the epoch), against the daily upload quota. */
export const uploadUsage = sqliteTable(
  'upload_usage',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    day: integer('day').notNull(),
    bytes: integer('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day] })],
);

export type ServerRow = typeof servers.$inferSelect;
export type AttachmentRow = typeof attachments.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
export type MemberRow = typeof members.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
/** A message as the server works with it (the search index's copy of its text stays in the database). */
export type MessageRow = Omit<typeof messages.$inferSelect, 'searchText'>;
export type InviteRow = typeof invites.$inferSelect;
export type GroupInviteRow = typeof groupInvites.$inferSelect;
export type AutomodRuleRow = typeof automodRules.$inferSelect;
export type HeldMessageRow = typeof heldMessages.$inferSelect;
export type ReportRow = typeof reports.$inferSelect;
export type AccountCodeRow = typeof accountCodes.$inferSelect;
export type MailRow = typeof mailOutbox.$inferSelect;
