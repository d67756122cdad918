import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  doublePrecision,
  index,
  pgTable,
  primaryKey,
  smallint,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/*
 * The PostgreSQL schema: the tables, columns, keys and indexes of the SQLite
 * schema (src/server/db/schema.ts, where each is explained), under the same
 * names, so one query reads the same on both. SQLite's INTEGER holds 64 bits:
 * every integer here is a bigint (milliseconds since the epoch, event ids,
 * sequence numbers, byte counts), read as a JavaScript number, exact up to
 * 2^53. test/cluster/dialects.test.ts migrates both and fails on any other
 * difference than the few it lists with their reasons.
 */

/** A 64-bit integer column, read as a number. */
const int = (name: string) => bigint(name, { mode: 'number' });

/** PostgreSQL's full-text document: the words of a text, normalised, with their positions. */
const tsvector = customType<{ data: string }>({
  dataType: () => 'tsvector',
});

/** Accounts. */
export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    username: text('username').notNull(),
    usernameKey: text('username_key').notNull(),
    usernameCapitalKey: text('username_capital_key'),
    passwordHash: text('password_hash').notNull(),
    displayName: text('display_name'),
    status: text('status'),
    bio: text('bio'),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
    groupAdds: text('group_adds', { enum: ['everyone', 'contacts', 'invite'] })
      .notNull()
      .default('invite'),
    operator: boolean('operator').notNull().default(false),
    avatarId: text('avatar_id'),
    email: text('email'),
    emailVerifiedAt: int('email_verified_at'),
    verifyBy: int('verify_by'),
    disabledAt: int('disabled_at'),
    deletedAt: int('deleted_at'),
  },
  (t) => [
    uniqueIndex('users_username_key').on(t.usernameKey),
    index('users_username_capital_key').on(t.usernameCapitalKey),
    index('users_email').on(t.email),
    index('users_verify_by').on(t.verifyBy),
  ],
);

/** One-time codes mailed to a person (email confirmation, password reset); hashed, single use. */
export const accountCodes = pgTable(
  'account_codes',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['verify', 'reset'] }).notNull(),
    address: text('address').notNull(),
    codeHash: text('code_hash').notNull(),
    createdAt: int('created_at').notNull(),
    expiresAt: int('expires_at').notNull(),
    tries: int('tries').notNull().default(0),
    usedAt: int('used_at'),
  },
  (t) => [index('account_codes_user').on(t.userId, t.purpose), index('account_codes_expires').on(t.expiresAt)],
);

/** Mail waiting to leave, sent after the commit that wrote it, retried with backoff. */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: int('id').primaryKey().generatedByDefaultAsIdentity(),
    kind: text('kind').notNull(),
    toAddress: text('to_address').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    createdAt: int('created_at').notNull(),
    attempts: int('attempts').notNull().default(0),
    nextAttemptAt: int('next_attempt_at'),
    claimedUntil: int('claimed_until'),
    sentAt: int('sent_at'),
    failedAt: int('failed_at'),
    lastError: text('last_error'),
  },
  (t) => [index('mail_outbox_due').on(t.nextAttemptAt)],
);

/** Usernames given up by a rename, held for their previous owner for a while. */
export const usernameHolds = pgTable(
  'username_holds',
  {
    usernameKey: text('username_key').primaryKey(),
    usernameCapitalKey: text('username_capital_key'),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    releasedAt: int('released_at').notNull(),
  },
  (t) => [
    index('username_holds_released').on(t.releasedAt),
    index('username_holds_user').on(t.userId),
    index('username_holds_capital_key').on(t.usernameCapitalKey),
  ],
);

/** Who blocked whom. */
export const blocks = pgTable(
  'blocks',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    blockedId: text('blocked_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: int('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockedId] }), index('blocks_blocked').on(t.blockedId)],
);

/** Bytes each user's writes stored, per UTC day. */
export const usage = pgTable(
  'usage',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    day: int('day').notNull(),
    bytes: int('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day] })],
);

/** Small facts about the database itself. */
export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/** Login sessions and bot tokens (the SHA-256 of each token). */
export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['session', 'bot'] }).notNull(),
    tokenHash: text('token_hash').notNull(),
    name: text('name'),
    address: text('address'),
    createdAt: int('created_at').notNull(),
    lastSeenAt: int('last_seen_at'),
  },
  (t) => [
    uniqueIndex('sessions_token_hash').on(t.tokenHash),
    index('sessions_user_kind').on(t.userId, t.kind),
    check('sessions_kind', sql`${t.kind} IN ('session', 'bot')`),
  ],
);

/** Where each account logged in from, and when last. */
export const loginAddresses = pgTable(
  'login_addresses',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    lastAt: int('last_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.address] }), index('login_addresses_last').on(t.lastAt)],
);

/** Communities ("servers" in the interface). */
export const servers = pgTable(
  'servers',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description'),
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
    automodRev: int('automod_rev').notNull().default(0),
    iconId: text('icon_id'),
  },
  (t) => [index('servers_owner').on(t.ownerId)],
);

/** Members of servers. */
export const members = pgTable(
  'members',
  {
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'moderator', 'member'] }).notNull(),
    joinedAt: int('joined_at').notNull(),
    sinceEvent: int('since_event').notNull().default(0),
    timeoutUntil: int('timeout_until'),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.userId] }), index('members_user').on(t.userId)],
);

/** Users banned from servers. */
export const bans = pgTable(
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
    createdAt: int('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.userId] })],
);

/** A server's audit log. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: int('id').primaryKey().generatedByDefaultAsIdentity(),
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    action: text('action').notNull(),
    actorId: text('actor_id').references(() => users.id, { onDelete: 'set null' }),
    targetUserId: text('target_user_id').references(() => users.id, { onDelete: 'set null' }),
    targetId: text('target_id'),
    reason: text('reason'),
    details: text('details'),
    createdAt: int('created_at').notNull(),
  },
  (t) => [
    index('audit_log_server').on(t.serverId, t.id),
    index('audit_log_server_action').on(t.serverId, t.action, t.id),
    index('audit_log_server_actor').on(t.serverId, t.actorId, t.id),
    index('audit_log_created').on(t.createdAt),
  ],
);

/** Servers' automatic moderation rules. */
export const automodRules = pgTable(
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
    enabled: boolean('enabled').notNull().default(true),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
  },
  (t) => [uniqueIndex('automod_rules_server_name').on(t.serverId, t.name)],
);

/** Messages held for a moderator's review. */
export const heldMessages = pgTable(
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
    bot: boolean('bot').notNull().default(false),
    nonce: text('nonce'),
    heldBy: text('held_by').notNull(),
    createdAt: int('created_at').notNull(),
    attachments: text('attachments').notNull().default('[]'),
  },
  (t) => [
    index('held_messages_server').on(t.serverId, t.createdAt),
    uniqueIndex('held_messages_author_nonce').on(t.authorId, t.nonce),
  ],
);

/** Reports of messages and users (`targetKey`: see db/schema.ts). */
export const reports = pgTable(
  'reports',
  {
    id: int('id').primaryKey().generatedByDefaultAsIdentity(),
    serverId: text('server_id').references(() => servers.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    messageId: text('message_id'),
    messageSeq: int('message_seq'),
    targetUserId: text('target_user_id').references(() => users.id, { onDelete: 'set null' }),
    targetKey: text('target_key').notNull(),
    reporterId: text('reporter_id').references(() => users.id, { onDelete: 'set null' }),
    reason: text('reason', { enum: ['spam', 'harassment', 'inappropriate', 'illegal', 'other'] }).notNull(),
    details: text('details'),
    snapshot: text('snapshot'),
    status: text('status', { enum: ['open', 'resolved'] })
      .notNull()
      .default('open'),
    resolution: text('resolution'),
    resolvedBy: text('resolved_by').references(() => users.id, { onDelete: 'set null' }),
    note: text('note'),
    createdAt: int('created_at').notNull(),
    resolvedAt: int('resolved_at'),
  },
  (t) => [
    index('reports_server_status').on(t.serverId, t.status, t.id),
    index('reports_status').on(t.status, t.id),
    index('reports_reporter').on(t.reporterId, t.createdAt),
    uniqueIndex('reports_open_target').on(t.reporterId, t.targetKey).where(sql`${t.status} = 'open'`),
  ],
);

/** Channels, private groups and direct conversations. */
export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['channel', 'group', 'dm'] }).notNull(),
    serverId: text('server_id').references(() => servers.id, { onDelete: 'cascade' }),
    name: text('name'),
    topic: text('topic'),
    dmKey: text('dm_key'),
    lastSeq: int('last_seq').notNull().default(0),
    lastMessageAt: int('last_message_at'),
    createdAt: int('created_at').notNull(),
    createdBy: text('created_by'),
    slowmodeSeconds: int('slowmode_seconds').notNull().default(0),
  },
  (t) => [
    index('conversations_server').on(t.serverId),
    index('conversations_created_by').on(t.createdBy),
    uniqueIndex('conversations_dm_key').on(t.dmKey),
    uniqueIndex('conversations_channel_name').on(t.serverId, t.name).where(sql`${t.kind} = 'channel'`),
    check('conversations_kind', sql`${t.kind} IN ('channel', 'group', 'dm')`),
  ],
);

/** Members of groups and DMs. */
export const conversationMembers = pgTable(
  'conversation_members',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    joinedAt: int('joined_at').notNull(),
    sinceEvent: int('since_event').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('conversation_members_user').on(t.userId)],
);

/** Invitations to a group, waiting for an answer. */
export const groupInvites = pgTable(
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
    createdAt: int('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('group_invites_user').on(t.userId, t.createdAt)],
);

/** How far each user has read each conversation. */
export const readStates = pgTable(
  'read_states',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    lastReadSeq: int('last_read_seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.conversationId] })],
);

/** Invite codes to servers. */
export const invites = pgTable(
  'invites',
  {
    code: text('code').primaryKey(),
    serverId: text('server_id')
      .notNull()
      .references(() => servers.id, { onDelete: 'cascade' }),
    createdBy: text('created_by')
      .notNull()
      .references(() => users.id),
    maxUses: int('max_uses'),
    uses: int('uses').notNull().default(0),
    expiresAt: int('expires_at'),
    revokedAt: int('revoked_at'),
    createdAt: int('created_at').notNull(),
  },
  (t) => [index('invites_server').on(t.serverId)],
);

/** Messages. */
export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    seq: int('seq').notNull(),
    authorId: text('author_id')
      .notNull()
      .references(() => users.id),
    body: text('body').notNull(),
    createdAt: int('created_at').notNull(),
    editedAt: int('edited_at'),
    deletedAt: int('deleted_at'),
    nonce: text('nonce'),
    kind: text('kind', { enum: ['text', 'action', 'automod'] })
      .notNull()
      .default('text'),
    bot: boolean('bot').notNull().default(false),
    /** What the search index reads instead of `body` when they differ (see the SQLite schema); null otherwise. */
    searchText: text('search_text'),
  },
  (t) => [
    uniqueIndex('messages_conversation_seq').on(t.conversationId, t.seq),
    uniqueIndex('messages_author_nonce').on(t.authorId, t.nonce),
    index('messages_author_created').on(t.authorId, t.createdAt),
  ],
);

/**
 * The full-text index: one row per message that is not deleted, as in SQLite,
 * where the words themselves are in the FTS5 table `message_search`; here they
 * are in `document` (the body through the `natter_search` text search
 * configuration: lower case, accents removed), with a GIN index. `key` grows in
 * the order messages are written, the order search results come in. The
 * configuration and the triggers that keep these rows in step with `messages`,
 * in the statement that writes each message, are in
 * drizzle/postgres/0001_message_search.sql. No foreign key, as in SQLite.
 */
export const messageSearchRows = pgTable(
  'message_search_rows',
  {
    key: int('key').primaryKey().generatedByDefaultAsIdentity(),
    messageId: text('message_id').notNull(),
    scope: text('scope').notNull(),
    document: tsvector('document').notNull(),
  },
  (t) => [
    uniqueIndex('message_search_rows_message').on(t.messageId),
    index('message_search_rows_document').using('gin', t.document),
  ],
);

/** Who a message mentions. */
export const mentions = pgTable(
  'mentions',
  {
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id').notNull(),
    seq: int('seq').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.userId] }),
    index('mentions_user').on(t.userId, t.conversationId, t.seq),
  ],
);

/**
 * The event log behind resume; `id` is the cursor. Ids come from
 * `event_counter`, not from a sequence: see there.
 */
export const events = pgTable(
  'events',
  {
    id: int('id').primaryKey(),
    payload: text('payload').notNull(),
    createdAt: int('created_at').notNull(),
    scope: text('scope'),
  },
  // SQLite's index on scope holds the rowid (the id) after it; a PostgreSQL index holds only what it names.
  (t) => [index('events_created').on(t.createdAt), index('events_scope').on(t.scope, t.id)],
);

/** The audiences of events meant for more than one. */
export const eventScopes = pgTable(
  'event_scopes',
  {
    eventId: int('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    scope: text('scope').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.eventId] }), index('event_scopes_event').on(t.eventId)],
);

/**
 * The newest event id handed out (PostgreSQL only; SQLite's is its
 * `sqlite_sequence` row). One row, which a committing transaction updates
 * (`last = last + n`) to take the ids of its events: the row stays locked
 * until that transaction ends, so the next one to take ids waits for it, and
 * ids become visible in the order they were given. A sequence would hand them
 * out as transactions ask, and a reader could see id 2 committed while id 1,
 * taken earlier by a slower transaction, was still to come. A rolled-back
 * transaction gives its ids back. `last` never goes down (pruning events
 * leaves it), so a cursor is never reused.
 */
export const eventCounter = pgTable(
  'event_counter',
  {
    id: smallint('id').primaryKey().default(1),
    last: int('last').notNull(),
  },
  (t) => [check('event_counter_one_row', sql`${t.id} = 1`)],
);

/**
 * The shared rate limits (PostgreSQL only: one natter on SQLite keeps its
 * buckets in memory). One row per bucket, keyed `limit:key`
 * (`loginFailPerAddress:203.0.113.7`): the tokens it held at `at` (the
 * natter's clock, ms), and `wait`, the answer of its last take (0: taken,
 * else the ms to wait). Made UNLOGGED by its migration: no WAL, so a take
 * commits without a disk flush; PostgreSQL empties it after a crash, which
 * refills every bucket. See store/postgres/rate-buckets.ts.
 */
export const rateBuckets = pgTable('rate_buckets', {
  key: text('key').primaryKey(),
  tokens: doublePrecision('tokens').notNull(),
  at: int('at').notNull(),
  wait: int('wait').notNull(),
});

/** Uploaded files (see db/schema.ts). */
export const attachments = pgTable(
  'attachments',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['message', 'avatar', 'server-icon'] }).notNull(),
    name: text('name').notNull(),
    size: int('size').notNull(),
    type: text('type').notNull(),
    tokenHash: text('token_hash'),
    uploadBy: int('upload_by').notNull(),
    sha256: text('sha256'),
    thumbSha256: text('thumb_sha256'),
    width: int('width'),
    height: int('height'),
    durationMs: int('duration_ms'),
    createdAt: int('created_at').notNull(),
    uploadedAt: int('uploaded_at'),
    expiresAt: int('expires_at'),
    messageId: text('message_id').references(() => messages.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id').references(() => conversations.id, { onDelete: 'cascade' }),
    serverId: text('server_id').references(() => servers.id, { onDelete: 'cascade' }),
    position: int('position').notNull().default(0),
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

/** Bytes of uploads asked for per user and UTC day (see db/schema.ts). */
export const uploadUsage = pgTable(
  'upload_usage',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    day: int('day').notNull(),
    bytes: int('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day] })],
);
