import type { Statement } from 'better-sqlite3';
import type { SearchTerms, UserRef } from '../../protocol/index.js';
import { newId } from '../ids.js';
import type { PageKey } from '../pages.js';
import { indexedText, MARK_CLOSE, MARK_OPEN, type SearchFilter } from '../search.js';
import { matchExpression } from './fts.js';
import type { Db, Deferred } from './index.js';
import type {
  ConversationRow,
  GroupInviteRow,
  InviteRow,
  MemberRow,
  MessageRow,
  ServerRow,
  UserRow,
} from './schema.js';

/**
 * Unread and mention counts stop here: counting costs a row per message, and
 * a conversation with a million unread messages shows as "9,999+" anyway.
 */
export const COUNT_MAX = 9_999;

// Raw rows as SQLite returns them (snake_case), mapped to the drizzle row types below.
type Raw = Record<string, unknown>;

function server(r: Raw): ServerRow {
  return {
    id: r.id as string,
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    ownerId: r.owner_id as string,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    automodRev: (r.automod_rev as number | undefined) ?? 0,
    iconId: (r.icon_id as string | null | undefined) ?? null,
  };
}

function conversation(r: Raw): ConversationRow {
  return {
    id: r.id as string,
    kind: r.kind as ConversationRow['kind'],
    serverId: (r.server_id as string | null) ?? null,
    name: (r.name as string | null) ?? null,
    topic: (r.topic as string | null) ?? null,
    dmKey: (r.dm_key as string | null) ?? null,
    lastSeq: r.last_seq as number,
    lastMessageAt: (r.last_message_at as number | null) ?? null,
    createdAt: r.created_at as number,
    createdBy: (r.created_by as string | null) ?? null,
    slowmodeSeconds: (r.slowmode_seconds as number | undefined) ?? 0,
  };
}

function message(r: Raw): MessageRow {
  return {
    id: r.id as string,
    conversationId: r.conversation_id as string,
    seq: r.seq as number,
    authorId: r.author_id as string,
    body: r.body as string,
    createdAt: r.created_at as number,
    editedAt: (r.edited_at as number | null) ?? null,
    deletedAt: (r.deleted_at as number | null) ?? null,
    nonce: (r.nonce as string | null) ?? null,
    kind: r.kind as MessageRow['kind'],
    bot: r.bot === 1,
  };
}

/** A users row as SQLite returns it (snake_case columns), as a UserRow. */
export function user(r: Raw): UserRow {
  return {
    id: r.id as string,
    username: r.username as string,
    usernameKey: r.username_key as string,
    usernameCapitalKey: (r.username_capital_key as string | null) ?? null,
    passwordHash: r.password_hash as string,
    displayName: (r.display_name as string | null) ?? null,
    status: (r.status as string | null) ?? null,
    bio: (r.bio as string | null) ?? null,
    avatarId: (r.avatar_id as string | null | undefined) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    groupAdds: r.group_adds as UserRow['groupAdds'],
    operator: r.operator === 1,
    email: (r.email as string | null | undefined) ?? null,
    emailVerifiedAt: (r.email_verified_at as number | null | undefined) ?? null,
    verifyBy: (r.verify_by as number | null | undefined) ?? null,
    disabledAt: (r.disabled_at as number | null | undefined) ?? null,
    deletedAt: (r.deleted_at as number | null | undefined) ?? null,
  };
}

function invite(r: Raw): InviteRow {
  return {
    code: r.code as string,
    serverId: r.server_id as string,
    createdBy: r.created_by as string,
    maxUses: (r.max_uses as number | null) ?? null,
    uses: r.uses as number,
    expiresAt: (r.expires_at as number | null) ?? null,
    revokedAt: (r.revoked_at as number | null) ?? null,
    createdAt: r.created_at as number,
  };
}

/**
 * How many `?` a list of `n` values is bound to: the next power of two, at
 * least 8, so that lists of any length share a handful of prepared statements.
 * The slots past the list are bound to null, which matches nothing.
 */
function slotsFor(n: number): number {
  let slots = 8;
  while (slots < n) slots *= 2;
  return slots;
}

/** The `?, ?, …` of an `IN` list of `values`, and its arguments (padded with nulls: see {@link slotsFor}). */
function inList(values: readonly unknown[]): { marks: string; args: unknown[] } {
  const slots = slotsFor(values.length);
  return {
    marks: Array<string>(slots).fill('?').join(', '),
    args: [...values, ...Array<null>(slots - values.length).fill(null)],
  };
}

/**
 * The `(?, ?), (?, ?), …` of a `VALUES` list of `rows` of `width` values each,
 * and its arguments (padded with rows of nulls: see {@link slotsFor}).
 */
function valuesList(rows: readonly (readonly unknown[])[], width: number): { marks: string; args: unknown[] } {
  const slots = slotsFor(rows.length);
  return {
    marks: Array<string>(slots)
      .fill(`(${Array<string>(width).fill('?').join(', ')})`)
      .join(', '),
    args: [...rows.flat(), ...Array<null>((slots - rows.length) * width).fill(null)],
  };
}

/**
 * A full-text match the caller may read: the message's key in the index, its
 * id, and its body as FTS5's `highlight()` returns it, with `MARK_OPEN` before
 * and `MARK_CLOSE` after each match (see server/search.ts).
 */
export type SearchRow = { key: number; messageId: string; marked: string };

/** A member row joined with its user. */
export type MemberWithUser = Omit<MemberRow, 'sinceEvent'> & { user: UserRow };

/** What a send in a server's channel checks about its author besides the role (see `sendGate`). */
export type SendGate = { timeoutUntil: number | null; automodRev: number };

/** A conversation with how far one user has read it. */
export type ConversationRead = ConversationRow & { lastReadSeq: number };

/** What a user has not read in a conversation: messages by others, and mentions of them, each up to {@link COUNT_MAX}. */
export type UnreadCounts = { unread: number; mentions: number };

/**
 * What the write batch under way has changed but not yet written: each
 * conversation's newest sequence number (and its time), and the senders' read
 * positions. Written once per conversation and per reader just before the
 * commit, instead of once per message; reads inside the batch see it.
 */
class PendingWrites implements Deferred {
  /** Inside a Writer batch (the only place messages are written). */
  active = false;
  readonly seqs = new Map<string, { seq: number; at: number }>();
  readonly reads = new Map<string, { userId: string; conversationId: string; seq: number }>();
  /** Restores what the current job changed, should its savepoint roll back. */
  private undo: (() => void)[] = [];
  private readonly setSeq: Statement;
  private readonly setRead: Statement;

  constructor(db: Db) {
    const sqlite = db.$client;
    this.setSeq = sqlite.prepare('UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?');
    // The conversation may have been deleted later in the same batch: then there is nothing to write.
    this.setRead = sqlite.prepare(
      `INSERT INTO read_states (user_id, conversation_id, last_read_seq)
       SELECT @userId, @conversationId, @seq WHERE EXISTS (SELECT 1 FROM conversations WHERE id = @conversationId)
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_seq = max(last_read_seq, excluded.last_read_seq)`,
    );
  }

  jobStart(): void {
    this.active = true;
    this.undo = [];
  }

  jobRollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]?.();
    this.undo = [];
  }

  flush(): void {
    for (const [id, { seq, at }] of this.seqs) this.setSeq.run(seq, at, id);
    for (const read of this.reads.values()) this.setRead.run(read);
  }

  clear(): void {
    this.active = false;
    this.undo = [];
    this.seqs.clear();
    this.reads.clear();
  }

  seq(conversationId: string, seq: number, at: number): void {
    const before = this.seqs.get(conversationId);
    this.seqs.set(conversationId, { seq, at });
    this.undo.push(() => (before ? this.seqs.set(conversationId, before) : this.seqs.delete(conversationId)));
  }

  read(userId: string, conversationId: string, seq: number): void {
    const key = `${userId}\n${conversationId}`;
    const before = this.reads.get(key);
    if (before && before.seq >= seq) return;
    this.reads.set(key, { userId, conversationId, seq });
    this.undo.push(() => (before ? this.reads.set(key, before) : this.reads.delete(key)));
  }
}

/** Prepared statements for servers, channels, groups, DMs, messages and read state. */
export class ChatQueries {
  private readonly s: Record<string, Statement> = {};
  /** What these queries defer to the end of a write batch; give it to the `Writer` of the same database. */
  readonly pending: PendingWrites;

  constructor(private readonly db: Db) {
    this.pending = new PendingWrites(db);
  }

  /** A conversation row as the batch under way sees it (its newest sequence number may not be written yet). */
  private readonly toConversation = (r: Raw): ConversationRow => {
    const row = conversation(r);
    const newest = this.pending.seqs.size === 0 ? undefined : this.pending.seqs.get(row.id);
    if (newest) {
      row.lastSeq = newest.seq;
      row.lastMessageAt = newest.at;
    }
    return row;
  };

  /** Prepares each statement once, on first use. */
  private st(sql: string): Statement {
    let stmt = this.s[sql];
    if (!stmt) {
      stmt = this.db.$client.prepare(sql);
      this.s[sql] = stmt;
    }
    return stmt;
  }

  private one(sql: string, ...args: unknown[]): Raw | undefined {
    return this.st(sql).get(...args) as Raw | undefined;
  }

  private many(sql: string, ...args: unknown[]): Raw[] {
    return this.st(sql).all(...args) as Raw[];
  }

  private run(sql: string, ...args: unknown[]): number {
    return this.st(sql).run(...args).changes;
  }

  // Servers and members

  server(id: string): ServerRow | undefined {
    const r = this.one('SELECT * FROM servers WHERE id = ?', id);
    return r && server(r);
  }

  /** Servers by id, in one query; unknown ids are left out. */
  serversByIds(ids: readonly string[]): Map<string, ServerRow> {
    const out = new Map<string, ServerRow>();
    if (ids.length === 0) return out;
    const list = inList(ids);
    for (const r of this.many(`SELECT * FROM servers WHERE id IN (${list.marks})`, ...list.args)) {
      out.set(r.id as string, server(r));
    }
    return out;
  }

  insertServer(row: Omit<ServerRow, 'automodRev' | 'iconId'>): void {
    this.run(
      'INSERT INTO servers (id, name, description, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      row.id,
      row.name,
      row.description,
      row.ownerId,
      row.createdAt,
      row.updatedAt,
    );
  }

  updateServer(id: string, name: string, description: string | null, ownerId: string, now: number): void {
    this.run(
      'UPDATE servers SET name = ?, description = ?, owner_id = ?, updated_at = ? WHERE id = ?',
      name,
      description,
      ownerId,
      now,
      id,
    );
  }

  deleteServer(id: string): void {
    this.run('DELETE FROM servers WHERE id = ?', id);
  }

  memberCount(serverId: string): number {
    return (this.one('SELECT count(*) AS n FROM members WHERE server_id = ?', serverId)?.n as number) ?? 0;
  }

  role(serverId: string, userId: string): MemberRow['role'] | undefined {
    return this.one('SELECT role FROM members WHERE server_id = ? AND user_id = ?', serverId, userId)?.role as
      | MemberRow['role']
      | undefined;
  }

  member(serverId: string, userId: string): Omit<MemberRow, 'sinceEvent'> | undefined {
    const r = this.one('SELECT * FROM members WHERE server_id = ? AND user_id = ?', serverId, userId);
    return (
      r && {
        serverId: r.server_id as string,
        userId: r.user_id as string,
        role: r.role as MemberRow['role'],
        joinedAt: r.joined_at as number,
        timeoutUntil: (r.timeout_until as number | null) ?? null,
      }
    );
  }

  addMember(serverId: string, userId: string, role: MemberRow['role'], now: number): void {
    this.run(
      `INSERT INTO members (server_id, user_id, role, joined_at, since_event)
       VALUES (?, ?, ?, ?, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))`,
      serverId,
      userId,
      role,
      now,
    );
  }

  setRole(serverId: string, userId: string, role: MemberRow['role']): void {
    this.run('UPDATE members SET role = ? WHERE server_id = ? AND user_id = ?', role, serverId, userId);
  }

  /**
   * What a send in one of the server's channels checks about its author
   * besides their role: until when they are timed out (null: never was, or
   * lifted) and the server's automatic moderation rules' revision. Undefined
   * when they are not a member.
   */
  sendGate(serverId: string, userId: string): SendGate | undefined {
    const r = this.one(
      `SELECT m.timeout_until, s.automod_rev FROM members m JOIN servers s ON s.id = m.server_id
       WHERE m.server_id = ? AND m.user_id = ?`,
      serverId,
      userId,
    );
    return r && { timeoutUntil: (r.timeout_until as number | null) ?? null, automodRev: r.automod_rev as number };
  }

  /** Times a member out until `until` (ms), or lifts their timeout (null); false when they are not a member. */
  setTimeoutUntil(serverId: string, userId: string, until: number | null): boolean {
    return (
      this.run('UPDATE members SET timeout_until = ? WHERE server_id = ? AND user_id = ?', until, serverId, userId) > 0
    );
  }

  /** Sets a channel's slow mode (seconds between two messages of a member; 0: off). */
  setSlowmode(conversationId: string, seconds: number): void {
    this.run('UPDATE conversations SET slowmode_seconds = ? WHERE id = ?', seconds, conversationId);
  }

  /** When `authorId` last wrote in the conversation at or after `since` (ms); undefined when not since then. */
  lastSentSince(authorId: string, conversationId: string, since: number): number | undefined {
    const r = this.one(
      `SELECT max(created_at) AS at FROM messages
       WHERE author_id = ? AND created_at >= ? AND conversation_id = ?`,
      authorId,
      since,
      conversationId,
    );
    return (r?.at as number | null) ?? undefined;
  }

  /** How many messages `authorId` wrote in the server's channels at or after `since` (ms). */
  sentInServerSince(authorId: string, serverId: string, since: number): number {
    const r = this.one(
      `SELECT count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.author_id = ? AND m.created_at >= ? AND c.server_id = ?`,
      authorId,
      since,
      serverId,
    );
    return (r?.n as number) ?? 0;
  }

  removeMember(serverId: string, userId: string): boolean {
    return this.run('DELETE FROM members WHERE server_id = ? AND user_id = ?', serverId, userId) > 0;
  }

  /** A page of a user's servers with the user's role in each, by name (case-insensitive) then id. */
  serversOf(
    userId: string,
    after: PageKey | null,
    limit: number,
  ): { server: ServerRow; role: MemberRow['role']; memberCount: number; key: PageKey }[] {
    return this.many(
      `SELECT s.*, lower(s.name) AS k, m.role AS my_role, (SELECT count(*) FROM members x WHERE x.server_id = s.id) AS member_count
       FROM members m JOIN servers s ON s.id = m.server_id
       WHERE m.user_id = ? AND (? IS NULL OR (lower(s.name), s.id) > (?, ?))
       ORDER BY lower(s.name), s.id LIMIT ?`,
      userId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    ).map((r) => ({
      server: server(r),
      role: r.my_role as MemberRow['role'],
      memberCount: r.member_count as number,
      key: [r.k as string, r.id as string],
    }));
  }

  /** How many servers a user owns, and is a member of. */
  serverCounts(userId: string): { owned: number; joined: number } {
    const r = this.one(
      `SELECT (SELECT count(*) FROM servers WHERE owner_id = ?) AS owned, (SELECT count(*) FROM members WHERE user_id = ?) AS joined`,
      userId,
      userId,
    );
    return { owned: (r?.owned as number) ?? 0, joined: (r?.joined as number) ?? 0 };
  }

  /** The ids of a server's members. */
  memberIds(serverId: string): string[] {
    return this.many('SELECT user_id FROM members WHERE server_id = ?', serverId).map((r) => r.user_id as string);
  }

  serverIdsOf(userId: string): string[] {
    return this.many('SELECT server_id FROM members WHERE user_id = ?', userId).map((r) => r.server_id as string);
  }

  /** A page of a server's members: owner, then admins, then members, each by name (case-insensitive) then id. */
  membersOf(serverId: string, after: PageKey | null, limit: number): (MemberWithUser & { key: PageKey })[] {
    return this.many(
      `SELECT * FROM (
         SELECT m.role, m.joined_at, m.timeout_until, CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'moderator' THEN 2 ELSE 3 END AS rank,
                lower(u.username) AS k, u.*
         FROM members m JOIN users u ON u.id = m.user_id WHERE m.server_id = ?)
       WHERE ? IS NULL OR (rank, k, id) > (?, ?, ?)
       ORDER BY rank, k, id LIMIT ?`,
      serverId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      after?.[2] ?? null,
      limit,
    ).map((r) => ({
      serverId,
      userId: r.id as string,
      role: r.role as MemberRow['role'],
      joinedAt: r.joined_at as number,
      timeoutUntil: (r.timeout_until as number | null) ?? null,
      user: user(r),
      key: [r.rank as number, r.k as string, r.id as string],
    }));
  }

  memberWithUser(serverId: string, userId: string): MemberWithUser | undefined {
    const r = this.one(
      'SELECT m.role, m.joined_at, m.timeout_until, u.* FROM members m JOIN users u ON u.id = m.user_id WHERE m.server_id = ? AND m.user_id = ?',
      serverId,
      userId,
    );
    return (
      r && {
        serverId,
        userId,
        role: r.role as MemberRow['role'],
        joinedAt: r.joined_at as number,
        timeoutUntil: (r.timeout_until as number | null) ?? null,
        user: user(r),
      }
    );
  }

  isBanned(serverId: string, userId: string): boolean {
    return this.one('SELECT 1 AS x FROM bans WHERE server_id = ? AND user_id = ?', serverId, userId) !== undefined;
  }

  addBan(serverId: string, userId: string, bannedBy: string, reason: string | null, now: number): void {
    this.run(
      `INSERT INTO bans (server_id, user_id, banned_by, reason, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (server_id, user_id) DO UPDATE SET banned_by = excluded.banned_by, reason = excluded.reason`,
      serverId,
      userId,
      bannedBy,
      reason,
      now,
    );
  }

  removeBan(serverId: string, userId: string): boolean {
    return this.run('DELETE FROM bans WHERE server_id = ? AND user_id = ?', serverId, userId) > 0;
  }

  /** A page of a server's bans, oldest first. */
  bansOf(
    serverId: string,
    after: PageKey | null,
    limit: number,
  ): { user: UserRef; bannedBy: UserRef; reason: string | null; createdAt: number; key: PageKey }[] {
    const rows = this.many(
      `SELECT b.user_id, b.banned_by, b.reason, b.created_at FROM bans b
       WHERE b.server_id = ? AND (? IS NULL OR (b.created_at, b.user_id) > (?, ?))
       ORDER BY b.created_at, b.user_id LIMIT ?`,
      serverId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    );
    const refs = this.userRefs([...new Set(rows.flatMap((r) => [r.user_id as string, r.banned_by as string]))]);
    const ref = (id: string): UserRef => refs.get(id) ?? { id, username: 'unknown', displayName: null };
    return rows.map((r) => ({
      user: ref(r.user_id as string),
      bannedBy: ref(r.banned_by as string),
      reason: (r.reason as string | null) ?? null,
      createdAt: r.created_at as number,
      key: [r.created_at as number, r.user_id as string],
    }));
  }

  user(id: string): UserRow | undefined {
    const r = this.one('SELECT * FROM users WHERE id = ?', id);
    return r && user(r);
  }

  /** {@link userRef} for many users in one query (a page of history), by id; unknown ids are left out. */
  userRefs(ids: readonly string[]): Map<string, UserRef> {
    const out = new Map<string, UserRef>();
    if (ids.length === 0) return out;
    for (const r of this.many(
      'SELECT id, username, display_name FROM users WHERE id IN (SELECT value FROM json_each(?))',
      JSON.stringify(ids),
    )) {
      out.set(r.id as string, {
        id: r.id as string,
        username: r.username as string,
        displayName: (r.display_name as string | null) ?? null,
      });
    }
    return out;
  }

  /** Users by id, in one query; unknown ids are left out. */
  usersByIds(ids: readonly string[]): Map<string, UserRow> {
    const out = new Map<string, UserRow>();
    if (ids.length === 0) return out;
    const list = inList(ids);
    for (const r of this.many(`SELECT * FROM users WHERE id IN (${list.marks})`, ...list.args)) {
      out.set(r.id as string, user(r));
    }
    return out;
  }

  /** Who a user is on a message (id, name, display name), without the rest of the row. */
  userRef(id: string): UserRef | undefined {
    const r = this.one('SELECT id, username, display_name FROM users WHERE id = ?', id);
    return (
      r && {
        id: r.id as string,
        username: r.username as string,
        displayName: (r.display_name as string | null) ?? null,
      }
    );
  }

  // Conversations

  conversation(id: string): ConversationRow | undefined {
    const r = this.one('SELECT * FROM conversations WHERE id = ?', id);
    return r && this.toConversation(r);
  }

  /** Conversations by id, in one query; unknown ids are left out. */
  conversationsByIds(ids: readonly string[]): Map<string, ConversationRow> {
    const out = new Map<string, ConversationRow>();
    if (ids.length === 0) return out;
    const list = inList(ids);
    for (const r of this.many(`SELECT * FROM conversations WHERE id IN (${list.marks})`, ...list.args)) {
      out.set(r.id as string, this.toConversation(r));
    }
    return out;
  }

  /** Creates a conversation (fields not given are empty) and returns its row. */
  createConversation(
    fields: Pick<ConversationRow, 'kind'> &
      Partial<Pick<ConversationRow, 'serverId' | 'name' | 'topic' | 'dmKey' | 'createdBy'>>,
    now: number,
  ): ConversationRow {
    const row: ConversationRow = {
      id: newId(),
      slowmodeSeconds: 0,
      serverId: null,
      name: null,
      topic: null,
      dmKey: null,
      createdBy: null,
      ...fields,
      lastSeq: 0,
      lastMessageAt: null,
      createdAt: now,
    };
    this.insertConversation(row);
    return row;
  }

  insertConversation(row: Omit<ConversationRow, 'slowmodeSeconds'>): void {
    this.run(
      `INSERT INTO conversations (id, kind, server_id, name, topic, dm_key, last_seq, last_message_at, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id,
      row.kind,
      row.serverId,
      row.name,
      row.topic,
      row.dmKey,
      row.lastSeq,
      row.lastMessageAt,
      row.createdAt,
      row.createdBy,
    );
  }

  updateConversation(id: string, name: string | null, topic: string | null): void {
    this.run('UPDATE conversations SET name = ?, topic = ? WHERE id = ?', name, topic, id);
  }

  deleteConversation(id: string): void {
    this.run('DELETE FROM conversations WHERE id = ?', id);
  }

  /** A server's channels, by name (servers have at most `channelsPerServer` of them). */
  channelsOf(serverId: string): ConversationRow[] {
    return this.many(
      "SELECT * FROM conversations WHERE server_id = ? AND kind = 'channel' ORDER BY name, id",
      serverId,
    ).map(this.toConversation);
  }

  /** A page of a server's channels, by name then id. */
  channelPage(serverId: string, after: PageKey | null, limit: number): ConversationRow[] {
    return this.many(
      `SELECT * FROM conversations WHERE server_id = ? AND kind = 'channel' AND (? IS NULL OR (name, id) > (?, ?))
       ORDER BY name, id LIMIT ?`,
      serverId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    ).map(this.toConversation);
  }

  channelCount(serverId: string): number {
    return (this.one("SELECT count(*) AS n FROM conversations WHERE server_id = ? AND kind = 'channel'", serverId)?.n ??
      0) as number;
  }

  channelByName(serverId: string, name: string): ConversationRow | undefined {
    const r = this.one(
      "SELECT * FROM conversations WHERE server_id = ? AND kind = 'channel' AND name = ?",
      serverId,
      name,
    );
    return r && this.toConversation(r);
  }

  dmByKey(key: string): ConversationRow | undefined {
    const r = this.one('SELECT * FROM conversations WHERE dm_key = ?', key);
    return r && this.toConversation(r);
  }

  isConversationMember(conversationId: string, userId: string): boolean {
    return (
      this.one(
        'SELECT 1 AS x FROM conversation_members WHERE conversation_id = ? AND user_id = ?',
        conversationId,
        userId,
      ) !== undefined
    );
  }

  addConversationMember(conversationId: string, userId: string, now: number): boolean {
    return (
      this.run(
        `INSERT OR IGNORE INTO conversation_members (conversation_id, user_id, joined_at, since_event)
         VALUES (?, ?, ?, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))`,
        conversationId,
        userId,
        now,
      ) > 0
    );
  }
  /**
   * The user's scopes with the newest event id at the time they joined each
   * one: a resume replays a scope's events only from there on.
   */
  scopesSince(userId: string): [string, number][] {
    return this.many(
      `SELECT 's:' || server_id AS scope, since_event FROM members WHERE user_id = ?
       UNION ALL SELECT 'c:' || conversation_id, since_event FROM conversation_members WHERE user_id = ?`,
      userId,
      userId,
    ).map((r) => [r.scope as string, r.since_event as number]);
  }

  removeConversationMember(conversationId: string, userId: string): boolean {
    return (
      this.run('DELETE FROM conversation_members WHERE conversation_id = ? AND user_id = ?', conversationId, userId) > 0
    );
  }

  conversationMembers(conversationId: string): UserRow[] {
    return this.many(
      `SELECT u.* FROM conversation_members m JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ?
       ORDER BY m.joined_at, u.username COLLATE NOCASE`,
      conversationId,
    ).map(user);
  }

  /**
   * The members of each of `conversationIds` (by conversation id), in one
   * query, each list in the order of {@link conversationMembers}.
   */
  conversationMembersOf(conversationIds: readonly string[]): Map<string, UserRow[]> {
    const out = new Map<string, UserRow[]>();
    if (conversationIds.length === 0) return out;
    const list = inList(conversationIds);
    // lower() folds ASCII letters only, as COLLATE NOCASE does: the same order, in standard SQL.
    for (const r of this.many(
      `SELECT m.conversation_id, u.* FROM conversation_members m JOIN users u ON u.id = m.user_id
       WHERE m.conversation_id IN (${list.marks})
       ORDER BY m.conversation_id, m.joined_at, lower(u.username), u.id`,
      ...list.args,
    )) {
      const id = r.conversation_id as string;
      const members = out.get(id) ?? [];
      members.push(user(r));
      out.set(id, members);
    }
    return out;
  }

  /** A page of a user's groups, by name (case-insensitive) then id. */
  groupsOf(userId: string, after: PageKey | null, limit: number): (ConversationRow & { key: PageKey })[] {
    return this.many(
      `SELECT c.*, lower(c.name) AS k FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = ? AND c.kind = 'group' AND (? IS NULL OR (lower(c.name), c.id) > (?, ?))
       ORDER BY lower(c.name), c.id LIMIT ?`,
      userId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    ).map((r) => ({ ...this.toConversation(r), key: [r.k as string, r.id as string] }));
  }

  /** A page of a user's DMs, most recent activity first, with how far the user has read each. */
  dmsOf(userId: string, after: PageKey | null, limit: number): (ConversationRead & { key: PageKey })[] {
    // The read positions are joined to the page alone, once it is cut.
    return this.many(
      `SELECT p.*, r.last_read_seq AS read_seq FROM (
         SELECT c.*, coalesce(c.last_message_at, c.created_at) AS k FROM conversation_members m
         JOIN conversations c ON c.id = m.conversation_id
         WHERE m.user_id = ? AND c.kind = 'dm' AND (? IS NULL OR (coalesce(c.last_message_at, c.created_at), c.id) < (?, ?))
         ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC LIMIT ?) p
       LEFT JOIN read_states r ON r.user_id = ? AND r.conversation_id = p.id
       ORDER BY p.k DESC, p.id DESC`,
      userId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
      userId,
    ).map((r) => ({ ...this.toConversationRead(userId, r), key: [r.k as number, r.id as string] }));
  }

  /**
   * A page of every conversation a user can read (channels of their servers,
   * groups, DMs), by id, with how far the user has read each.
   */
  conversationPage(userId: string, after: string | null, limit: number): ConversationRead[] {
    return this.many(
      `SELECT p.*, r.last_read_seq AS read_seq FROM (
         SELECT * FROM (
           SELECT c.* FROM members m JOIN conversations c ON c.server_id = m.server_id AND c.kind = 'channel'
           WHERE m.user_id = ? AND (? IS NULL OR c.id > ?)
           UNION ALL
           SELECT c.* FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.user_id = ? AND (? IS NULL OR c.id > ?)) u
         ORDER BY id LIMIT ?) p
       LEFT JOIN read_states r ON r.user_id = ? AND r.conversation_id = p.id
       ORDER BY p.id`,
      userId,
      after,
      after,
      userId,
      after,
      after,
      limit,
      userId,
    ).map((r) => this.toConversationRead(userId, r));
  }

  /** A row of a page with its `read_seq` column: the conversation, and the read position as the batch under way sees it. */
  private toConversationRead(userId: string, r: Raw): ConversationRead {
    const row = this.toConversation(r);
    return { ...row, lastReadSeq: this.readPosition(userId, row.id, (r.read_seq as number | null) ?? 0) };
  }

  /** How many groups created by `userId` still exist. */
  groupsCreatedBy(userId: string): number {
    return (this.one("SELECT count(*) AS n FROM conversations WHERE created_by = ? AND kind = 'group'", userId)?.n ??
      0) as number;
  }

  conversationIdsOf(userId: string): string[] {
    return this.many('SELECT conversation_id FROM conversation_members WHERE user_id = ?', userId).map(
      (r) => r.conversation_id as string,
    );
  }

  // Messages

  /**
   * Assigns the next sequence number of a conversation. Only inside a Writer
   * batch: the conversation row is updated once per batch, before its commit,
   * and a job that rolls back gives its number back.
   */
  nextSeq(conversationId: string, now: number): number {
    if (!this.pending.active) throw new Error('sequence numbers are assigned inside a write batch only');
    const last =
      this.pending.seqs.get(conversationId)?.seq ??
      (this.one('SELECT last_seq FROM conversations WHERE id = ?', conversationId)?.last_seq as number | undefined);
    if (last === undefined) throw new Error(`no conversation ${conversationId}`);
    this.pending.seq(conversationId, last + 1, now);
    return last + 1;
  }

  insertMessage(row: MessageRow): void {
    this.run(
      `INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, edited_at, deleted_at, nonce, kind, bot, search_text)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id,
      row.conversationId,
      row.seq,
      row.authorId,
      row.body,
      row.createdAt,
      row.editedAt,
      row.deletedAt,
      row.nonce,
      row.kind,
      row.bot ? 1 : 0,
      indexedText(row.body),
    );
  }

  message(id: string): MessageRow | undefined {
    const r = this.one('SELECT * FROM messages WHERE id = ?', id);
    return r && message(r);
  }

  messageByNonce(authorId: string, nonce: string): MessageRow | undefined {
    const r = this.one('SELECT * FROM messages WHERE author_id = ? AND nonce = ?', authorId, nonce);
    return r && message(r);
  }

  editMessage(id: string, body: string, now: number): void {
    this.run(
      'UPDATE messages SET body = ?, search_text = ?, edited_at = ? WHERE id = ?',
      body,
      indexedText(body),
      now,
      id,
    );
  }

  deleteMessage(id: string, now: number): void {
    this.run("UPDATE messages SET body = '', search_text = NULL, deleted_at = ? WHERE id = ?", now, id);
    this.run('DELETE FROM mentions WHERE message_id = ?', id);
  }

  latest(conversationId: string, limit: number): MessageRow[] {
    return this.many(
      'SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?',
      conversationId,
      limit,
    )
      .map(message)
      .reverse();
  }

  before(conversationId: string, seq: number, limit: number): MessageRow[] {
    return this.many(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      conversationId,
      seq,
      limit,
    )
      .map(message)
      .reverse();
  }

  after(conversationId: string, seq: number, limit: number): MessageRow[] {
    return this.many(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      conversationId,
      seq,
      limit,
    ).map(message);
  }

  /**
   * The newest message (deleted or not) of each of `conversationIds`, by
   * conversation id, in one query; conversations without any are left out.
   */
  lastMessages(conversationIds: readonly string[]): Map<string, MessageRow> {
    const out = new Map<string, MessageRow>();
    if (conversationIds.length === 0) return out;
    const page = valuesList(
      [...new Set(conversationIds)].map((id) => [id]),
      1,
    );
    // Driven by the list: one index seek per conversation for its largest seq, another for that message.
    for (const r of this.many(
      `WITH page (conversation_id) AS (VALUES ${page.marks})
       SELECT m.* FROM page p JOIN messages m ON m.conversation_id = p.conversation_id
         AND m.seq = (SELECT max(x.seq) FROM messages x WHERE x.conversation_id = p.conversation_id)`,
      ...page.args,
    )) {
      const row = message(r);
      out.set(row.conversationId, row);
    }
    return out;
  }

  /** Messages by id, in no particular order; unknown ids are left out. */
  messagesByIds(ids: readonly string[]): MessageRow[] {
    if (ids.length === 0) return [];
    return this.many('SELECT * FROM messages WHERE id IN (SELECT value FROM json_each(?))', JSON.stringify(ids)).map(
      message,
    );
  }

  /**
   * Walks the full-text index's matches for `terms` within `filter` (as one
   * FTS5 query, `matchExpression`), newest first (largest key first) from
   * below the key `before`, and keeps those whose scope is one of `scopes`,
   * with FTS5's `highlight()` marks around the words that matched. It stops
   * once it holds `want` of them or has looked at `scanMax` matches: `last` is
   * the key of the last match looked at, and `end` says that the index had no
   * more.
   */
  search(
    terms: SearchTerms,
    filter: SearchFilter,
    scopes: readonly string[],
    before: number,
    want: number,
    scanMax: number,
  ): { hits: SearchRow[]; last: number | null; end: boolean } {
    // FTS5 walks the index in key order itself (no sort), so the walk stops where this loop does.
    // highlight() only runs for the matches kept: it reads the message back through the content view.
    const rows = this.st(
      `SELECT s.rowid AS key, r.message_id,
         CASE WHEN r.scope IN (SELECT value FROM json_each(@scopes))
           THEN highlight(message_search, 0, @open, @close) END AS marked
       FROM message_search s JOIN message_search_rows r ON r.key = s.rowid
       WHERE message_search MATCH @match AND s.rowid < @before
       ORDER BY s.rowid DESC`,
    ).iterate({
      match: matchExpression(terms, filter),
      scopes: JSON.stringify(scopes),
      before,
      open: MARK_OPEN,
      close: MARK_CLOSE,
    }) as IterableIterator<Raw>;
    const hits: SearchRow[] = [];
    let last: number | null = null;
    let scanned = 0;
    for (const r of rows) {
      scanned++;
      last = r.key as number;
      if (typeof r.marked === 'string') hits.push({ key: last, messageId: r.message_id as string, marked: r.marked });
      // Leaving the loop early resets the statement: the rest of the walk is never done.
      if (hits.length >= want || scanned >= scanMax) return { hits, last, end: false };
    }
    return { hits, last, end: true };
  }

  clearMentions(messageId: string): void {
    this.run('DELETE FROM mentions WHERE message_id = ?', messageId);
  }

  insertMention(messageId: string, userId: string, conversationId: string, seq: number): void {
    this.run(
      'INSERT OR IGNORE INTO mentions (message_id, user_id, conversation_id, seq) VALUES (?, ?, ?, ?)',
      messageId,
      userId,
      conversationId,
      seq,
    );
  }

  /** Mentioned user ids of many messages at once. */
  mentionsOf(messageIds: readonly string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    if (messageIds.length === 0) return out;
    for (const r of this.many(
      'SELECT message_id, user_id FROM mentions WHERE message_id IN (SELECT value FROM json_each(?))',
      JSON.stringify(messageIds),
    )) {
      const list = out.get(r.message_id as string) ?? [];
      list.push(r.user_id as string);
      out.set(r.message_id as string, list);
    }
    return out;
  }

  // Read state

  lastRead(userId: string, conversationId: string): number {
    const stored =
      (this.one(
        'SELECT last_read_seq FROM read_states WHERE user_id = ? AND conversation_id = ?',
        userId,
        conversationId,
      )?.last_read_seq as number) ?? 0;
    return this.readPosition(userId, conversationId, stored);
  }

  /** A stored read position, or the one the write batch under way moved it to, when further. */
  private readPosition(userId: string, conversationId: string, stored: number): number {
    const pending = this.pending.reads.size === 0 ? undefined : this.pending.reads.get(`${userId}\n${conversationId}`);
    return pending && pending.seq > stored ? pending.seq : stored;
  }

  /**
   * Moves the read position forward to `seq` when the write batch under way
   * commits (written once per reader and conversation per batch): what a user
   * sends, they have read.
   */
  markReadOnCommit(userId: string, conversationId: string, seq: number): void {
    if (!this.pending.active) throw new Error('deferred read positions are set inside a write batch only');
    this.pending.read(userId, conversationId, seq);
  }

  /** Moves the read position forward only; returns the resulting position. */
  markRead(userId: string, conversationId: string, seq: number): number {
    this.run(
      `INSERT INTO read_states (user_id, conversation_id, last_read_seq) VALUES (?, ?, ?)
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_seq = max(last_read_seq, excluded.last_read_seq)`,
      userId,
      conversationId,
      seq,
    );
    return this.lastRead(userId, conversationId);
  }

  /**
   * What `userId` has not read in each conversation of `positions`, after the
   * position given for it (by conversation id), in one query: messages by
   * others that are not deleted, and mentions of the user, each counted up to
   * {@link COUNT_MAX}. Each count stops there, so a conversation costs at most
   * that many index entries however much is unread.
   */
  unreadCounts(
    userId: string,
    positions: readonly { conversationId: string; after: number }[],
  ): Map<string, UnreadCounts> {
    const out = new Map<string, UnreadCounts>();
    if (positions.length === 0) return out;
    const page = valuesList(
      positions.map((p) => [p.conversationId, p.after]),
      2,
    );
    for (const r of this.many(
      `WITH page (conversation_id, after_seq) AS (VALUES ${page.marks})
       SELECT p.conversation_id,
         (SELECT count(*) FROM (SELECT 1 FROM messages m
            WHERE m.conversation_id = p.conversation_id AND m.seq > p.after_seq AND m.author_id <> ? AND m.deleted_at IS NULL
            LIMIT ${COUNT_MAX}) u) AS unread,
         (SELECT count(*) FROM (SELECT 1 FROM mentions x
            WHERE x.user_id = ? AND x.conversation_id = p.conversation_id AND x.seq > p.after_seq
            LIMIT ${COUNT_MAX}) n) AS mentions
       FROM page p WHERE p.conversation_id IS NOT NULL`,
      ...page.args,
      userId,
      userId,
    )) {
      out.set(r.conversation_id as string, { unread: r.unread as number, mentions: r.mentions as number });
    }
    return out;
  }

  // Invites

  insertInvite(row: InviteRow): void {
    this.run(
      'INSERT INTO invites (code, server_id, created_by, max_uses, uses, expires_at, revoked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      row.code,
      row.serverId,
      row.createdBy,
      row.maxUses,
      row.uses,
      row.expiresAt,
      row.revokedAt,
      row.createdAt,
    );
  }

  invite(code: string): InviteRow | undefined {
    const r = this.one('SELECT * FROM invites WHERE code = ?', code);
    return r && invite(r);
  }

  /** A page of a server's live invites (not revoked, expired or used up), oldest first. */
  invitesOf(serverId: string, now: number, after: PageKey | null, limit: number): InviteRow[] {
    return this.many(
      `SELECT * FROM invites WHERE server_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         AND (max_uses IS NULL OR uses < max_uses) AND (? IS NULL OR (created_at, code) > (?, ?))
       ORDER BY created_at, code LIMIT ?`,
      serverId,
      now,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    ).map(invite);
  }

  /** How many live invites a server has. */
  liveInviteCount(serverId: string, now: number): number {
    return (this.one(
      `SELECT count(*) AS n FROM invites WHERE server_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         AND (max_uses IS NULL OR uses < max_uses)`,
      serverId,
      now,
    )?.n ?? 0) as number;
  }

  /**
   * Deletes up to `limit` invite codes that stopped working before `before`
   * (revoked or expired then; used up, created then); returns how many.
   */
  pruneDeadInvites(before: number, limit: number): number {
    return this.run(
      `DELETE FROM invites WHERE code IN (SELECT code FROM invites WHERE
         (revoked_at IS NOT NULL AND revoked_at < @before) OR (expires_at IS NOT NULL AND expires_at < @before)
         OR (max_uses IS NOT NULL AND uses >= max_uses AND created_at < @before) LIMIT @limit)`,
      { before, limit },
    );
  }

  /**
   * Counts one use of a code that still works at `now` (not revoked, not
   * expired, uses left); false, and nothing counted, for one that does not.
   * The statement that counts is the one that checks, so two writers cannot
   * both take a code's last use.
   */
  useInvite(code: string, now: number): boolean {
    return (
      this.run(
        `UPDATE invites SET uses = uses + 1 WHERE code = ? AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > ?) AND (max_uses IS NULL OR uses < max_uses)`,
        code,
        now,
      ) === 1
    );
  }

  revokeInvite(serverId: string, code: string, now: number): boolean {
    return (
      this.run(
        'UPDATE invites SET revoked_at = ? WHERE code = ? AND server_id = ? AND revoked_at IS NULL',
        now,
        code,
        serverId,
      ) > 0
    );
  }

  // Blocks, group invitations, settings

  /** Has `userId` blocked `otherId`? */
  blocked(userId: string, otherId: string): boolean {
    return this.one('SELECT 1 AS x FROM blocks WHERE user_id = ? AND blocked_id = ?', userId, otherId) !== undefined;
  }

  /** Has either of two users blocked the other? */
  blockedEitherWay(a: string, b: string): boolean {
    return (
      this.one(
        'SELECT 1 AS x FROM blocks WHERE (user_id = ? AND blocked_id = ?) OR (user_id = ? AND blocked_id = ?)',
        a,
        b,
        b,
        a,
      ) !== undefined
    );
  }

  /** Of `userIds`, those who blocked `authorId`. */
  blockersOf(authorId: string, userIds: readonly string[]): Set<string> {
    if (userIds.length === 0) return new Set();
    return new Set(
      this.many(
        'SELECT user_id FROM blocks WHERE blocked_id = ? AND user_id IN (SELECT value FROM json_each(?))',
        authorId,
        JSON.stringify(userIds),
      ).map((r) => r.user_id as string),
    );
  }

  /** Records a block (once); returns when it began and whether it is new. */
  addBlock(userId: string, blockedId: string, now: number): { createdAt: number; added: boolean } {
    const added =
      this.run(
        'INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id, blocked_id) DO NOTHING',
        userId,
        blockedId,
        now,
      ) > 0;
    const createdAt = this.one('SELECT created_at FROM blocks WHERE user_id = ? AND blocked_id = ?', userId, blockedId)
      ?.created_at as number;
    return { createdAt, added };
  }

  removeBlock(userId: string, blockedId: string): boolean {
    return this.run('DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?', userId, blockedId) > 0;
  }

  blockCount(userId: string): number {
    return (this.one('SELECT count(*) AS n FROM blocks WHERE user_id = ?', userId)?.n ?? 0) as number;
  }

  /** A page of the users `userId` blocked, oldest first. */
  blocksOf(userId: string, after: PageKey | null, limit: number): { user: UserRef; createdAt: number }[] {
    const rows = this.many(
      `SELECT blocked_id, created_at FROM blocks WHERE user_id = ? AND (? IS NULL OR (created_at, blocked_id) > (?, ?))
       ORDER BY created_at, blocked_id LIMIT ?`,
      userId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    );
    const refs = this.userRefs(rows.map((r) => r.blocked_id as string));
    return rows.map((r) => ({
      user: refs.get(r.blocked_id as string) ?? { id: r.blocked_id as string, username: 'unknown', displayName: null },
      createdAt: r.created_at as number,
    }));
  }

  /** Do two users share a server or a group? */
  shareServerOrGroup(a: string, b: string): boolean {
    return (
      this.one(
        `SELECT 1 AS x FROM members x JOIN members y ON y.server_id = x.server_id WHERE x.user_id = ? AND y.user_id = ?
         UNION ALL
         SELECT 1 FROM conversation_members x JOIN conversation_members y ON y.conversation_id = x.conversation_id
         JOIN conversations c ON c.id = x.conversation_id AND c.kind = 'group' WHERE x.user_id = ? AND y.user_id = ?
         LIMIT 1`,
        a,
        b,
        a,
        b,
      ) !== undefined
    );
  }

  groupInvite(conversationId: string, userId: string): GroupInviteRow | undefined {
    const r = this.one('SELECT * FROM group_invites WHERE conversation_id = ? AND user_id = ?', conversationId, userId);
    return (
      r && {
        conversationId: r.conversation_id as string,
        userId: r.user_id as string,
        invitedBy: r.invited_by as string,
        createdAt: r.created_at as number,
      }
    );
  }

  /** Records an invitation; false when one was already pending. */
  addGroupInvite(conversationId: string, userId: string, invitedBy: string, now: number): boolean {
    return (
      this.run(
        `INSERT INTO group_invites (conversation_id, user_id, invited_by, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (conversation_id, user_id) DO NOTHING`,
        conversationId,
        userId,
        invitedBy,
        now,
      ) > 0
    );
  }

  removeGroupInvite(conversationId: string, userId: string): boolean {
    return this.run('DELETE FROM group_invites WHERE conversation_id = ? AND user_id = ?', conversationId, userId) > 0;
  }

  /** Deletes the invitations `inviterId` sent `userId`; returns the groups they were to. */
  removeInvitesFrom(userId: string, inviterId: string): string[] {
    return this.many(
      'DELETE FROM group_invites WHERE user_id = ? AND invited_by = ? RETURNING conversation_id',
      userId,
      inviterId,
    ).map((r) => r.conversation_id as string);
  }

  /** {@link groupInvitees} of each of `conversationIds` (by conversation id), in one query; groups with none are left out. */
  groupInviteesOf(conversationIds: readonly string[]): Map<string, UserRef[]> {
    const out = new Map<string, UserRef[]>();
    if (conversationIds.length === 0) return out;
    const list = inList(conversationIds);
    for (const r of this.many(
      `SELECT i.conversation_id, u.id, u.username, u.display_name FROM group_invites i JOIN users u ON u.id = i.user_id
       WHERE i.conversation_id IN (${list.marks}) ORDER BY i.conversation_id, i.created_at, u.id`,
      ...list.args,
    )) {
      const id = r.conversation_id as string;
      const invitees = out.get(id) ?? [];
      invitees.push({
        id: r.id as string,
        username: r.username as string,
        displayName: (r.display_name as string | null) ?? null,
      });
      out.set(id, invitees);
    }
    return out;
  }

  /** The people invited to a group who have not answered. */
  groupInvitees(conversationId: string): UserRef[] {
    return this.many(
      `SELECT u.id, u.username, u.display_name FROM group_invites i JOIN users u ON u.id = i.user_id
       WHERE i.conversation_id = ? ORDER BY i.created_at, u.id`,
      conversationId,
    ).map((r) => ({
      id: r.id as string,
      username: r.username as string,
      displayName: (r.display_name as string | null) ?? null,
    }));
  }

  /** A page of the invitations waiting for `userId`, oldest first. */
  invitationsOf(
    userId: string,
    after: PageKey | null,
    limit: number,
  ): { conv: ConversationRow; invitedBy: string; createdAt: number; memberCount: number }[] {
    return this.many(
      `SELECT c.*, i.invited_by, i.created_at AS invited_at,
              (SELECT count(*) FROM conversation_members x WHERE x.conversation_id = c.id) AS member_count
       FROM group_invites i JOIN conversations c ON c.id = i.conversation_id
       WHERE i.user_id = ? AND (? IS NULL OR (i.created_at, i.conversation_id) > (?, ?))
       ORDER BY i.created_at, i.conversation_id LIMIT ?`,
      userId,
      after === null ? null : 1,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit,
    ).map((r) => ({
      conv: this.toConversation(r),
      invitedBy: r.invited_by as string,
      createdAt: r.invited_at as number,
      memberCount: r.member_count as number,
    }));
  }

  setGroupAdds(userId: string, value: UserRow['groupAdds']): void {
    this.run('UPDATE users SET group_adds = ? WHERE id = ?', value, userId);
  }
}
