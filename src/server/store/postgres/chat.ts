import { NatterError, type SearchTerms, type UserRef } from '../../../protocol/index.js';
import {
  COUNT_MAX,
  type ConversationRead,
  type MemberWithUser,
  type SearchRow,
  type SendGate,
  type UnreadCounts,
} from '../../db/chat.js';
import type {
  ConversationRow,
  GroupInviteRow,
  InviteRow,
  MemberRow,
  MessageRow,
  ServerRow,
  UserRow,
} from '../../db/schema.js';
import { newId } from '../../ids.js';
import type { PageKey } from '../../pages.js';
import { indexedText, type SearchFilter, searchPhrases, searchText } from '../../search.js';
import type { ChatStore } from '../port.js';
import type { Batch } from './batch.js';
import { nonceKey } from './read-ahead.js';
import { toConversation, toGroupInvite, toInvite, toMessage, toServer, toUser, toUserRef } from './rows.js';
import { highlight, prefixQuery } from './search.js';
import { capLock, changes, holdsNul, placeholders, type Queryable, type Raw, row, rows } from './sql.js';

/*
 * Text order: SQLite compares text byte by byte, and its lower() folds ASCII
 * letters only. PostgreSQL follows the database's collation unless told
 * otherwise: every sort and page key on text here is `COLLATE "C"` (byte
 * order), and lower() of C-collated text folds ASCII only, so lists come in
 * the same order, with the same page keys, on both backends.
 */

/** A number of a page key that the client sent back: an integer, or the cursor is not one a list gave out. */
function keyNumber(v: string | number | undefined): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw new NatterError('bad_request', 'this page cursor is not one this list gave out; start again without "after"', {
    field: 'params.after',
  });
}

/** Text of a page key. */
function keyText(v: string | number | undefined): string {
  return String(v);
}

/**
 * Servers, members, bans, conversations, messages, mentions, read state,
 * invites and blocks in PostgreSQL: the methods of the SQLite `ChatQueries`
 * (db/chat.ts), with the same results. Over the pool it reads committed data;
 * over the write batch's client (with its `Batch`) it is what a write job
 * sees, its own changes included.
 */
export class PostgresChat implements ChatStore {
  readonly #q: Queryable;
  readonly #batch: Batch | null;

  constructor(q: Queryable, batch: Batch | null = null) {
    this.#q = q;
    this.#batch = batch;
  }

  // Servers and members

  async server(id: string): Promise<ServerRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM servers WHERE id = $1', [id]);
    return r && toServer(r);
  }

  async serversByIds(ids: readonly string[]): Promise<Map<string, ServerRow>> {
    const out = new Map<string, ServerRow>();
    if (ids.length === 0) return out;
    for (const r of await rows(this.#q, 'SELECT * FROM servers WHERE id = ANY($1::text[])', [ids])) {
      out.set(r.id as string, toServer(r));
    }
    return out;
  }

  async insertServer(s: Omit<ServerRow, 'automodRev' | 'iconId'>): Promise<void> {
    await changes(
      this.#q,
      'INSERT INTO servers (id, name, description, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [s.id, s.name, s.description, s.ownerId, s.createdAt, s.updatedAt],
    );
  }

  async updateServer(id: string, name: string, description: string | null, ownerId: string, now: number) {
    await changes(
      this.#q,
      'UPDATE servers SET name = $1, description = $2, owner_id = $3, updated_at = $4 WHERE id = $5',
      [name, description, ownerId, now, id],
    );
  }

  async deleteServer(id: string): Promise<void> {
    await changes(this.#q, 'DELETE FROM servers WHERE id = $1', [id]);
  }

  async memberCount(serverId: string): Promise<number> {
    return (
      (await row<{ n: number }>(this.#q, 'SELECT count(*) AS n FROM members WHERE server_id = $1', [serverId]))?.n ?? 0
    );
  }

  async role(serverId: string, userId: string): Promise<MemberRow['role'] | undefined> {
    const ahead = this.#batch?.live?.role(serverId, userId);
    if (ahead !== undefined) return ahead ?? undefined;
    const r = await row<{ role: MemberRow['role'] }>(
      this.#q,
      'SELECT role FROM members WHERE server_id = $1 AND user_id = $2',
      [serverId, userId],
    );
    return r?.role;
  }

  async sendGate(serverId: string, userId: string): Promise<SendGate | undefined> {
    const ahead = this.#batch?.live?.gate(serverId, userId);
    if (ahead !== undefined) return ahead ?? undefined;
    const r = await row<{ timeout_until: number | null; automod_rev: number }>(
      this.#q,
      `SELECT m.timeout_until, s.automod_rev FROM members m JOIN servers s ON s.id = m.server_id
       WHERE m.server_id = $1 AND m.user_id = $2`,
      [serverId, userId],
    );
    return r && { timeoutUntil: r.timeout_until ?? null, automodRev: r.automod_rev };
  }

  async setTimeoutUntil(serverId: string, userId: string, until: number | null): Promise<boolean> {
    return (
      (await changes(this.#q, 'UPDATE members SET timeout_until = $1 WHERE server_id = $2 AND user_id = $3', [
        until,
        serverId,
        userId,
      ])) > 0
    );
  }

  async setSlowmode(conversationId: string, seconds: number): Promise<void> {
    await changes(this.#q, 'UPDATE conversations SET slowmode_seconds = $1 WHERE id = $2', [seconds, conversationId]);
  }

  async lastSentSince(authorId: string, conversationId: string, since: number): Promise<number | undefined> {
    const r = await row<{ at: number | null }>(
      this.#q,
      `SELECT max(created_at) AS at FROM messages
       WHERE author_id = $1 AND created_at >= $2 AND conversation_id = $3`,
      [authorId, since, conversationId],
    );
    return r?.at ?? undefined;
  }

  async sentInServerSince(authorId: string, serverId: string, since: number): Promise<number> {
    const r = await row<{ n: number }>(
      this.#q,
      `SELECT count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.author_id = $1 AND m.created_at >= $2 AND c.server_id = $3`,
      [authorId, since, serverId],
    );
    return r?.n ?? 0;
  }

  async member(serverId: string, userId: string): Promise<Omit<MemberRow, 'sinceEvent'> | undefined> {
    const r = await row(this.#q, 'SELECT * FROM members WHERE server_id = $1 AND user_id = $2', [serverId, userId]);
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

  async addMember(serverId: string, userId: string, role: MemberRow['role'], now: number): Promise<void> {
    // The newest committed event; inside a batch, set again at its commit (see Batch.joined).
    await changes(
      this.#q,
      `INSERT INTO members (server_id, user_id, role, joined_at, since_event)
       VALUES ($1, $2, $3, $4, (SELECT last FROM event_counter))`,
      [serverId, userId, role, now],
    );
    this.#batch?.joined('members', serverId, userId);
  }

  async setRole(serverId: string, userId: string, role: MemberRow['role']): Promise<void> {
    await changes(this.#q, 'UPDATE members SET role = $1 WHERE server_id = $2 AND user_id = $3', [
      role,
      serverId,
      userId,
    ]);
  }

  async removeMember(serverId: string, userId: string): Promise<boolean> {
    return (
      (await changes(this.#q, 'DELETE FROM members WHERE server_id = $1 AND user_id = $2', [serverId, userId])) > 0
    );
  }

  async serversOf(
    userId: string,
    after: PageKey | null,
    limit: number,
  ): Promise<{ server: ServerRow; role: MemberRow['role']; memberCount: number; key: PageKey }[]> {
    const p = placeholders();
    const found = await rows(
      this.#q,
      `SELECT s.*, lower(s.name COLLATE "C") AS k, m.role AS my_role,
              (SELECT count(*) FROM members x WHERE x.server_id = s.id) AS member_count
       FROM members m JOIN servers s ON s.id = m.server_id
       WHERE m.user_id = ${p(userId)}
         ${after === null ? '' : `AND (lower(s.name COLLATE "C"), s.id COLLATE "C") > (${p(keyText(after[0]))}, ${p(keyText(after[1]))})`}
       ORDER BY lower(s.name COLLATE "C"), s.id COLLATE "C" LIMIT ${p(limit)}`,
      p.values,
    );
    return found.map((r) => ({
      server: toServer(r),
      role: r.my_role as MemberRow['role'],
      memberCount: r.member_count as number,
      key: [r.k as string, r.id as string],
    }));
  }

  async serverCounts(userId: string): Promise<{ owned: number; joined: number }> {
    await this.#capLock(`servers\n${userId}`);
    const r = await row<{ owned: number; joined: number }>(
      this.#q,
      `SELECT (SELECT count(*) FROM servers WHERE owner_id = $1) AS owned, (SELECT count(*) FROM members WHERE user_id = $1) AS joined`,
      [userId],
    );
    return { owned: r?.owned ?? 0, joined: r?.joined ?? 0 };
  }

  async memberIds(serverId: string): Promise<string[]> {
    return (
      await rows<{ user_id: string }>(this.#q, 'SELECT user_id FROM members WHERE server_id = $1', [serverId])
    ).map((r) => r.user_id);
  }

  async serverIdsOf(userId: string): Promise<string[]> {
    return (
      await rows<{ server_id: string }>(this.#q, 'SELECT server_id FROM members WHERE user_id = $1', [userId])
    ).map((r) => r.server_id);
  }

  async membersOf(
    serverId: string,
    after: PageKey | null,
    limit: number,
  ): Promise<(MemberWithUser & { key: PageKey })[]> {
    const p = placeholders();
    const found = await rows(
      this.#q,
      `SELECT * FROM (
         SELECT m.role, m.joined_at, m.timeout_until, CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'moderator' THEN 2 ELSE 3 END AS rank,
                lower(u.username COLLATE "C") AS k, u.*
         FROM members m JOIN users u ON u.id = m.user_id WHERE m.server_id = ${p(serverId)}) x
       ${after === null ? '' : `WHERE (x.rank, x.k, x.id COLLATE "C") > (${p(keyNumber(after[0]))}::int, ${p(keyText(after[1]))}, ${p(keyText(after[2]))})`}
       ORDER BY x.rank, x.k, x.id COLLATE "C" LIMIT ${p(limit)}`,
      p.values,
    );
    return found.map((r) => ({
      serverId,
      userId: r.id as string,
      role: r.role as MemberRow['role'],
      joinedAt: r.joined_at as number,
      timeoutUntil: (r.timeout_until as number | null) ?? null,
      user: toUser(r),
      key: [r.rank as number, r.k as string, r.id as string],
    }));
  }

  async memberWithUser(serverId: string, userId: string): Promise<MemberWithUser | undefined> {
    const r = await row(
      this.#q,
      'SELECT m.role, m.joined_at, m.timeout_until, u.* FROM members m JOIN users u ON u.id = m.user_id WHERE m.server_id = $1 AND m.user_id = $2',
      [serverId, userId],
    );
    return (
      r && {
        serverId,
        userId,
        role: r.role as MemberRow['role'],
        joinedAt: r.joined_at as number,
        timeoutUntil: (r.timeout_until as number | null) ?? null,
        user: toUser(r),
      }
    );
  }

  async isBanned(serverId: string, userId: string): Promise<boolean> {
    return (
      (await row(this.#q, 'SELECT 1 AS x FROM bans WHERE server_id = $1 AND user_id = $2', [serverId, userId])) !==
      undefined
    );
  }

  async addBan(serverId: string, userId: string, bannedBy: string, reason: string | null, now: number): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO bans (server_id, user_id, banned_by, reason, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (server_id, user_id) DO UPDATE SET banned_by = excluded.banned_by, reason = excluded.reason`,
      [serverId, userId, bannedBy, reason, now],
    );
  }

  async removeBan(serverId: string, userId: string): Promise<boolean> {
    return (await changes(this.#q, 'DELETE FROM bans WHERE server_id = $1 AND user_id = $2', [serverId, userId])) > 0;
  }

  async bansOf(
    serverId: string,
    after: PageKey | null,
    limit: number,
  ): Promise<{ user: UserRef; bannedBy: UserRef; reason: string | null; createdAt: number; key: PageKey }[]> {
    const p = placeholders();
    const found = await rows(
      this.#q,
      `SELECT b.user_id, b.banned_by, b.reason, b.created_at FROM bans b
       WHERE b.server_id = ${p(serverId)}
         ${after === null ? '' : `AND (b.created_at, b.user_id COLLATE "C") > (${p(keyNumber(after[0]))}::int8, ${p(keyText(after[1]))})`}
       ORDER BY b.created_at, b.user_id COLLATE "C" LIMIT ${p(limit)}`,
      p.values,
    );
    const refs = await this.userRefs([...new Set(found.flatMap((r) => [r.user_id as string, r.banned_by as string]))]);
    const ref = (id: string): UserRef => refs.get(id) ?? { id, username: 'unknown', displayName: null };
    return found.map((r) => ({
      user: ref(r.user_id as string),
      bannedBy: ref(r.banned_by as string),
      reason: (r.reason as string | null) ?? null,
      createdAt: r.created_at as number,
      key: [r.created_at as number, r.user_id as string],
    }));
  }

  async user(id: string): Promise<UserRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM users WHERE id = $1', [id]);
    return r && toUser(r);
  }

  async userRefs(ids: readonly string[]): Promise<Map<string, UserRef>> {
    const out = new Map<string, UserRef>();
    if (ids.length === 0) return out;
    for (const r of await rows(this.#q, 'SELECT id, username, display_name FROM users WHERE id = ANY($1::text[])', [
      ids,
    ])) {
      out.set(r.id as string, toUserRef(r));
    }
    return out;
  }

  async usersByIds(ids: readonly string[]): Promise<Map<string, UserRow>> {
    const out = new Map<string, UserRow>();
    if (ids.length === 0) return out;
    for (const r of await rows(this.#q, 'SELECT * FROM users WHERE id = ANY($1::text[])', [ids])) {
      out.set(r.id as string, toUser(r));
    }
    return out;
  }

  async userRef(id: string): Promise<UserRef | undefined> {
    const ahead = this.#batch?.live?.users.get(id);
    if (ahead !== undefined) return ahead ?? undefined;
    const r = await row(this.#q, 'SELECT id, username, display_name FROM users WHERE id = $1', [id]);
    return r && toUserRef(r);
  }

  // Conversations

  async conversation(id: string): Promise<ConversationRow | undefined> {
    const ahead = this.#batch?.live?.conversations.get(id);
    // A copy: the batch's own moves forward with each number taken.
    if (ahead !== undefined) return ahead === null ? undefined : { ...ahead };
    const r = await row(this.#q, 'SELECT * FROM conversations WHERE id = $1', [id]);
    return r && toConversation(r);
  }

  async conversationsByIds(ids: readonly string[]): Promise<Map<string, ConversationRow>> {
    const out = new Map<string, ConversationRow>();
    if (ids.length === 0) return out;
    for (const r of await rows(this.#q, 'SELECT * FROM conversations WHERE id = ANY($1::text[])', [ids])) {
      out.set(r.id as string, toConversation(r));
    }
    return out;
  }

  async createConversation(
    fields: Pick<ConversationRow, 'kind'> &
      Partial<Pick<ConversationRow, 'serverId' | 'name' | 'topic' | 'dmKey' | 'createdBy'>>,
    now: number,
  ): Promise<ConversationRow> {
    const c: ConversationRow = {
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
    await this.insertConversation(c);
    return c;
  }

  async insertConversation(c: Omit<ConversationRow, 'slowmodeSeconds'>): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO conversations (id, kind, server_id, name, topic, dm_key, last_seq, last_message_at, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [c.id, c.kind, c.serverId, c.name, c.topic, c.dmKey, c.lastSeq, c.lastMessageAt, c.createdAt, c.createdBy],
    );
  }

  async updateConversation(id: string, name: string | null, topic: string | null): Promise<void> {
    await changes(this.#q, 'UPDATE conversations SET name = $1, topic = $2 WHERE id = $3', [name, topic, id]);
  }

  async deleteConversation(id: string): Promise<void> {
    await changes(this.#q, 'DELETE FROM conversations WHERE id = $1', [id]);
  }

  async channelsOf(serverId: string): Promise<ConversationRow[]> {
    return (
      await rows(
        this.#q,
        `SELECT * FROM conversations WHERE server_id = $1 AND kind = 'channel' ORDER BY name COLLATE "C", id COLLATE "C"`,
        [serverId],
      )
    ).map(toConversation);
  }

  async channelPage(serverId: string, after: PageKey | null, limit: number): Promise<ConversationRow[]> {
    const p = placeholders();
    return (
      await rows(
        this.#q,
        `SELECT * FROM conversations WHERE server_id = ${p(serverId)} AND kind = 'channel'
           ${after === null ? '' : `AND (name COLLATE "C", id COLLATE "C") > (${p(keyText(after[0]))}, ${p(keyText(after[1]))})`}
         ORDER BY name COLLATE "C", id COLLATE "C" LIMIT ${p(limit)}`,
        p.values,
      )
    ).map(toConversation);
  }

  async channelCount(serverId: string): Promise<number> {
    await this.#capLock(`channels\n${serverId}`);
    return (
      (
        await row<{ n: number }>(
          this.#q,
          "SELECT count(*) AS n FROM conversations WHERE server_id = $1 AND kind = 'channel'",
          [serverId],
        )
      )?.n ?? 0
    );
  }

  async channelByName(serverId: string, name: string): Promise<ConversationRow | undefined> {
    // Channel names are unique per server: checked under the lock the channel count takes.
    await this.#capLock(`channels\n${serverId}`);
    const r = await row(
      this.#q,
      "SELECT * FROM conversations WHERE server_id = $1 AND kind = 'channel' AND name = $2",
      [serverId, name],
    );
    return r && toConversation(r);
  }

  async dmByKey(key: string): Promise<ConversationRow | undefined> {
    // Two people opening their DM on two natters at once: the second waits, then finds the first's.
    await this.#capLock(`dm\n${key}`);
    const r = await row(this.#q, 'SELECT * FROM conversations WHERE dm_key = $1', [key]);
    return r && toConversation(r);
  }

  async isConversationMember(conversationId: string, userId: string): Promise<boolean> {
    const ahead = this.#batch?.live?.conversationMember(conversationId, userId);
    if (ahead !== undefined) return ahead;
    return (
      (await row(this.#q, 'SELECT 1 AS x FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ])) !== undefined
    );
  }

  async addConversationMember(conversationId: string, userId: string, now: number): Promise<boolean> {
    // The newest committed event; inside a batch, set again at its commit (see Batch.joined).
    const added =
      (await changes(
        this.#q,
        `INSERT INTO conversation_members (conversation_id, user_id, joined_at, since_event)
         VALUES ($1, $2, $3, (SELECT last FROM event_counter)) ON CONFLICT (conversation_id, user_id) DO NOTHING`,
        [conversationId, userId, now],
      )) > 0;
    if (added) this.#batch?.joined('conversation_members', conversationId, userId);
    return added;
  }

  async scopesSince(userId: string): Promise<[string, number][]> {
    return (
      await rows<{ scope: string; since_event: number }>(
        this.#q,
        `SELECT 's:' || server_id AS scope, since_event FROM members WHERE user_id = $1
         UNION ALL SELECT 'c:' || conversation_id, since_event FROM conversation_members WHERE user_id = $1`,
        [userId],
      )
    ).map((r) => [r.scope, r.since_event]);
  }

  async removeConversationMember(conversationId: string, userId: string): Promise<boolean> {
    return (
      (await changes(this.#q, 'DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ])) > 0
    );
  }

  async conversationMembers(conversationId: string): Promise<UserRow[]> {
    // lower() of C-collated text folds ASCII letters only, as SQLite's COLLATE NOCASE does.
    return (
      await rows(
        this.#q,
        `SELECT u.* FROM conversation_members m JOIN users u ON u.id = m.user_id WHERE m.conversation_id = $1
         ORDER BY m.joined_at, lower(u.username COLLATE "C"), u.id COLLATE "C"`,
        [conversationId],
      )
    ).map(toUser);
  }

  async conversationMembersOf(conversationIds: readonly string[]): Promise<Map<string, UserRow[]>> {
    const out = new Map<string, UserRow[]>();
    if (conversationIds.length === 0) return out;
    for (const r of await rows(
      this.#q,
      `SELECT m.conversation_id, u.* FROM conversation_members m JOIN users u ON u.id = m.user_id
       WHERE m.conversation_id = ANY($1::text[])
       ORDER BY m.conversation_id COLLATE "C", m.joined_at, lower(u.username COLLATE "C"), u.id COLLATE "C"`,
      [conversationIds],
    )) {
      const id = r.conversation_id as string;
      const members = out.get(id) ?? [];
      members.push(toUser(r));
      out.set(id, members);
    }
    return out;
  }

  async groupsOf(
    userId: string,
    after: PageKey | null,
    limit: number,
  ): Promise<(ConversationRow & { key: PageKey })[]> {
    const p = placeholders();
    const found = await rows(
      this.#q,
      `SELECT c.*, lower(c.name COLLATE "C") AS k FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = ${p(userId)} AND c.kind = 'group'
         ${after === null ? '' : `AND (lower(c.name COLLATE "C"), c.id COLLATE "C") > (${p(keyText(after[0]))}, ${p(keyText(after[1]))})`}
       ORDER BY lower(c.name COLLATE "C"), c.id COLLATE "C" LIMIT ${p(limit)}`,
      p.values,
    );
    return found.map((r) => ({ ...toConversation(r), key: [r.k as string, r.id as string] }));
  }

  async dmsOf(userId: string, after: PageKey | null, limit: number): Promise<(ConversationRead & { key: PageKey })[]> {
    const p = placeholders();
    const user = p(userId);
    // The read positions are joined to the page alone, once it is cut.
    const found = await rows(
      this.#q,
      `SELECT pg.*, r.last_read_seq AS read_seq FROM (
         SELECT c.*, coalesce(c.last_message_at, c.created_at) AS k FROM conversation_members m
         JOIN conversations c ON c.id = m.conversation_id
         WHERE m.user_id = ${user} AND c.kind = 'dm'
           ${after === null ? '' : `AND (coalesce(c.last_message_at, c.created_at), c.id COLLATE "C") < (${p(keyNumber(after[0]))}::int8, ${p(keyText(after[1]))})`}
         ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id COLLATE "C" DESC LIMIT ${p(limit)}) pg
       LEFT JOIN read_states r ON r.user_id = ${user} AND r.conversation_id = pg.id
       ORDER BY pg.k DESC, pg.id COLLATE "C" DESC`,
      p.values,
    );
    return found.map((r) => ({ ...this.#withRead(userId, r), key: [r.k as number, r.id as string] }));
  }

  async conversationPage(userId: string, after: string | null, limit: number): Promise<ConversationRead[]> {
    const p = placeholders();
    const user = p(userId);
    const start = after === null ? '' : `AND c.id COLLATE "C" > ${p(after)}`;
    const found = await rows(
      this.#q,
      `SELECT pg.*, r.last_read_seq AS read_seq FROM (
         SELECT * FROM (
           SELECT c.* FROM members m JOIN conversations c ON c.server_id = m.server_id AND c.kind = 'channel'
           WHERE m.user_id = ${user} ${start}
           UNION ALL
           SELECT c.* FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.user_id = ${user} ${start}) u
         ORDER BY id COLLATE "C" LIMIT ${p(limit)}) pg
       LEFT JOIN read_states r ON r.user_id = ${user} AND r.conversation_id = pg.id
       ORDER BY pg.id COLLATE "C"`,
      p.values,
    );
    return found.map((r) => this.#withRead(userId, r));
  }

  /** A row of a page with its `read_seq` column: the conversation, and the read position as the batch under way sees it. */
  #withRead(userId: string, r: Raw): ConversationRead {
    const c = toConversation(r);
    return { ...c, lastReadSeq: this.#readPosition(userId, c.id, (r.read_seq as number | null) ?? 0) };
  }

  async groupsCreatedBy(userId: string): Promise<number> {
    await this.#capLock(`groups\n${userId}`);
    return (
      (
        await row<{ n: number }>(
          this.#q,
          "SELECT count(*) AS n FROM conversations WHERE created_by = $1 AND kind = 'group'",
          [userId],
        )
      )?.n ?? 0
    );
  }

  async conversationIdsOf(userId: string): Promise<string[]> {
    return (
      await rows<{ conversation_id: string }>(
        this.#q,
        'SELECT conversation_id FROM conversation_members WHERE user_id = $1',
        [userId],
      )
    ).map((r) => r.conversation_id);
  }

  // Messages

  /**
   * Takes the next sequence number of a conversation, inside a write batch
   * only. The update locks the conversation's row until the batch commits:
   * another natter sending to it waits, then numbers after it, so numbers
   * have no holes and no duplicates however many write at once; a job that
   * rolls back gives its number back.
   */
  async nextSeq(conversationId: string, now: number): Promise<number> {
    if (!this.#batch) throw new Error('sequence numbers are assigned inside a write batch only');
    const ahead = this.#batch.live?.nextSeq(conversationId, now, this.#batch.job, this.#batch.onRollback);
    if (ahead !== undefined) return ahead;
    const r = await row<{ last_seq: number }>(
      this.#q,
      'UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $2 WHERE id = $1 RETURNING last_seq',
      [conversationId, now],
    );
    if (!r) throw new Error(`no conversation ${conversationId}`);
    return r.last_seq;
  }

  async insertMessage(m: MessageRow): Promise<void> {
    if (this.#batch?.live?.insertMessage(m, this.#batch.job, this.#batch.onRollback)) return;
    await changes(
      this.#q,
      `INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, edited_at, deleted_at, nonce, kind, bot, search_text)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        m.id,
        m.conversationId,
        m.seq,
        m.authorId,
        m.body,
        m.createdAt,
        m.editedAt,
        m.deletedAt,
        m.nonce,
        m.kind,
        m.bot,
        indexedText(m.body),
      ],
    );
  }

  async message(id: string): Promise<MessageRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM messages WHERE id = $1', [id]);
    return r && toMessage(r);
  }

  /**
   * The message `authorId` sent with `nonce`. Inside a write it first locks
   * the author's row until the batch ends: the same send retried on another
   * natter at the same moment waits here until the first commits, then finds
   * it (one natter's jobs run one after another, so SQLite needs no lock).
   * Reads ahead (`ReadAhead`) take the same lock.
   */
  async messageByNonce(authorId: string, nonce: string): Promise<MessageRow | undefined> {
    if (this.#batch) {
      // Read ahead: the author's row is locked, and the message (if any) known.
      const ahead = this.#batch.live?.nonces.get(nonceKey(authorId, nonce));
      if (ahead !== undefined) return ahead ?? undefined;
      await rows(this.#q, 'SELECT 1 AS x FROM users WHERE id = $1 FOR NO KEY UPDATE', [authorId]);
    }
    const r = await row(this.#q, 'SELECT * FROM messages WHERE author_id = $1 AND nonce = $2', [authorId, nonce]);
    return r && toMessage(r);
  }

  /** Inside a write: the lock on what is about to be checked (see `capLock`). */
  async #capLock(key: string): Promise<void> {
    if (this.#batch) await capLock(this.#q, key);
  }

  async editMessage(id: string, body: string, now: number): Promise<void> {
    await changes(this.#q, 'UPDATE messages SET body = $1, search_text = $2, edited_at = $3 WHERE id = $4', [
      body,
      indexedText(body),
      now,
      id,
    ]);
  }

  async deleteMessage(id: string, now: number): Promise<void> {
    await changes(this.#q, "UPDATE messages SET body = '', search_text = NULL, deleted_at = $1 WHERE id = $2", [
      now,
      id,
    ]);
    await changes(this.#q, 'DELETE FROM mentions WHERE message_id = $1', [id]);
  }

  async latest(conversationId: string, limit: number): Promise<MessageRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2', [
        conversationId,
        limit,
      ])
    )
      .map(toMessage)
      .reverse();
  }

  async before(conversationId: string, seq: number, limit: number): Promise<MessageRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3', [
        conversationId,
        seq,
        limit,
      ])
    )
      .map(toMessage)
      .reverse();
  }

  async after(conversationId: string, seq: number, limit: number): Promise<MessageRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
        conversationId,
        seq,
        limit,
      ])
    ).map(toMessage);
  }

  async lastMessages(conversationIds: readonly string[]): Promise<Map<string, MessageRow>> {
    const out = new Map<string, MessageRow>();
    if (conversationIds.length === 0) return out;
    // Driven by the list: one index seek per conversation for its largest seq, another for that message.
    for (const r of await rows(
      this.#q,
      `SELECT m.* FROM unnest($1::text[]) AS p(conversation_id) JOIN messages m ON m.conversation_id = p.conversation_id
         AND m.seq = (SELECT max(x.seq) FROM messages x WHERE x.conversation_id = p.conversation_id)`,
      [[...new Set(conversationIds)]],
    )) {
      const m = toMessage(r);
      out.set(m.conversationId, m);
    }
    return out;
  }

  async messagesByIds(ids: readonly string[]): Promise<MessageRow[]> {
    if (ids.length === 0) return [];
    return (await rows(this.#q, 'SELECT * FROM messages WHERE id = ANY($1::text[])', [ids])).map(toMessage);
  }

  /**
   * Looks through the index's matches for `terms` within `filter` (each word
   * a `tsquery`, see store/postgres/search.ts), newest first (largest key
   * first) from below the key `before`, and keeps those whose scope is one of
   * `scopes`, with the words that matched marked. It stops once it holds
   * `want` of them or has looked at `scanMax` matches: `last` is the key of
   * the last match looked at, and `end` says that the index had no more.
   * One statement, so one snapshot: the bodies marked are those of the keys.
   */
  async search(
    terms: SearchTerms,
    filter: SearchFilter,
    scopes: readonly string[],
    before: number,
    want: number,
    scanMax: number,
  ): Promise<{ hits: SearchRow[]; last: number | null; end: boolean }> {
    const phrases = searchPhrases(terms);
    const p = placeholders();
    const words = phrases.map((w) =>
      w.prefix
        ? `to_tsquery('natter_search', ${p(prefixQuery(w.text))})`
        : `phraseto_tsquery('natter_search', ${p(w.text)})`,
    );
    const filters = [
      filter.conversationId === undefined ? '' : `AND m.conversation_id = ${p(filter.conversationId)}`,
      filter.authorId === undefined ? '' : `AND m.author_id = ${p(filter.authorId)}`,
      filter.scopes === undefined ? '' : `AND r.scope = ANY(${p([...filter.scopes])}::text[])`,
    ].join(' ');
    const wanted = p(want);
    const found = await rows<{ key: number; message_id: string; readable: boolean; body: string | null }>(
      this.#q,
      `WITH scan AS (
         SELECT r.key, r.message_id, r.scope = ANY(${p(scopes)}::text[]) AS readable
         FROM message_search_rows r ${filter.conversationId === undefined && filter.authorId === undefined ? '' : 'JOIN messages m ON m.id = r.message_id'}
         WHERE r.document @@ (${words.join(' && ')}) AND r.key < ${p(before)} ${filters}
         ORDER BY r.key DESC LIMIT ${p(scanMax)}),
       counted AS (SELECT s.*, count(*) FILTER (WHERE s.readable) OVER (ORDER BY s.key DESC) AS nth FROM scan s)
       SELECT c.key, c.message_id, c.readable, m.body
       FROM counted c LEFT JOIN messages m ON c.readable AND c.nth <= ${wanted} AND m.id = c.message_id
       ORDER BY c.key DESC`,
      p.values,
    );
    const hits: SearchRow[] = [];
    let last: number | null = null;
    let scanned = 0;
    for (const r of found) {
      scanned++;
      last = r.key;
      if (r.readable && r.body !== null) {
        hits.push({ key: r.key, messageId: r.message_id, marked: highlight(searchText(r.body), phrases) });
      }
      if (hits.length >= want || scanned >= scanMax) return { hits, last, end: false };
    }
    return { hits, last, end: true };
  }

  async clearMentions(messageId: string): Promise<void> {
    await changes(this.#q, 'DELETE FROM mentions WHERE message_id = $1', [messageId]);
  }

  async insertMention(messageId: string, userId: string, conversationId: string, seq: number): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO mentions (message_id, user_id, conversation_id, seq) VALUES ($1, $2, $3, $4)
       ON CONFLICT (message_id, user_id) DO NOTHING`,
      [messageId, userId, conversationId, seq],
    );
  }

  async mentionsOf(messageIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (messageIds.length === 0) return out;
    for (const r of await rows<{ message_id: string; user_id: string }>(
      this.#q,
      'SELECT message_id, user_id FROM mentions WHERE message_id = ANY($1::text[]) ORDER BY message_id COLLATE "C", user_id COLLATE "C"',
      [messageIds],
    )) {
      const list = out.get(r.message_id) ?? [];
      list.push(r.user_id);
      out.set(r.message_id, list);
    }
    return out;
  }

  // Read state

  async lastRead(userId: string, conversationId: string): Promise<number> {
    const r = await row<{ last_read_seq: number }>(
      this.#q,
      'SELECT last_read_seq FROM read_states WHERE user_id = $1 AND conversation_id = $2',
      [userId, conversationId],
    );
    return this.#readPosition(userId, conversationId, r?.last_read_seq ?? 0);
  }

  /** A stored read position, or the one the write batch under way moved it to, when further. */
  #readPosition(userId: string, conversationId: string, stored: number): number {
    return this.#batch ? this.#batch.readPosition(userId, conversationId, stored) : stored;
  }

  async markReadOnCommit(userId: string, conversationId: string, seq: number): Promise<void> {
    if (!this.#batch) throw new Error('deferred read positions are set inside a write batch only');
    this.#batch.read(userId, conversationId, seq);
  }

  async markRead(userId: string, conversationId: string, seq: number): Promise<number> {
    await changes(
      this.#q,
      `INSERT INTO read_states (user_id, conversation_id, last_read_seq) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_seq = greatest(read_states.last_read_seq, excluded.last_read_seq)`,
      [userId, conversationId, seq],
    );
    return this.lastRead(userId, conversationId);
  }

  async unreadCounts(
    userId: string,
    positions: readonly { conversationId: string; after: number }[],
  ): Promise<Map<string, UnreadCounts>> {
    const out = new Map<string, UnreadCounts>();
    if (positions.length === 0) return out;
    for (const r of await rows<{ conversation_id: string; unread: number; mentions: number }>(
      this.#q,
      `SELECT p.conversation_id,
         (SELECT count(*) FROM (SELECT 1 FROM messages m
            WHERE m.conversation_id = p.conversation_id AND m.seq > p.after_seq AND m.author_id <> $3 AND m.deleted_at IS NULL
            LIMIT ${COUNT_MAX}) u) AS unread,
         (SELECT count(*) FROM (SELECT 1 FROM mentions x
            WHERE x.user_id = $3 AND x.conversation_id = p.conversation_id AND x.seq > p.after_seq
            LIMIT ${COUNT_MAX}) n) AS mentions
       FROM unnest($1::text[], $2::int8[]) AS p(conversation_id, after_seq)`,
      [positions.map((x) => x.conversationId), positions.map((x) => x.after), userId],
    )) {
      out.set(r.conversation_id, { unread: r.unread, mentions: r.mentions });
    }
    return out;
  }

  // Invites

  async insertInvite(i: InviteRow): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO invites (code, server_id, created_by, max_uses, uses, expires_at, revoked_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [i.code, i.serverId, i.createdBy, i.maxUses, i.uses, i.expiresAt, i.revokedAt, i.createdAt],
    );
  }

  async invite(code: string): Promise<InviteRow | undefined> {
    if (holdsNul(code)) return undefined;
    const r = await row(this.#q, 'SELECT * FROM invites WHERE code = $1', [code]);
    return r && toInvite(r);
  }

  async invitesOf(serverId: string, now: number, after: PageKey | null, limit: number): Promise<InviteRow[]> {
    const p = placeholders();
    return (
      await rows(
        this.#q,
        `SELECT * FROM invites WHERE server_id = ${p(serverId)} AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > ${p(now)}) AND (max_uses IS NULL OR uses < max_uses)
           ${after === null ? '' : `AND (created_at, code COLLATE "C") > (${p(keyNumber(after[0]))}::int8, ${p(keyText(after[1]))})`}
         ORDER BY created_at, code COLLATE "C" LIMIT ${p(limit)}`,
        p.values,
      )
    ).map(toInvite);
  }

  async liveInviteCount(serverId: string, now: number): Promise<number> {
    await this.#capLock(`invites\n${serverId}`);
    return (
      (
        await row<{ n: number }>(
          this.#q,
          `SELECT count(*) AS n FROM invites WHERE server_id = $1 AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)`,
          [serverId, now],
        )
      )?.n ?? 0
    );
  }

  async pruneDeadInvites(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      `DELETE FROM invites WHERE code IN (SELECT code FROM invites WHERE
         (revoked_at IS NOT NULL AND revoked_at < $1) OR (expires_at IS NOT NULL AND expires_at < $1)
         OR (max_uses IS NOT NULL AND uses >= max_uses AND created_at < $1) LIMIT $2)`,
      [before, limit],
    );
  }

  /**
   * Counts one use of a code that still works at `now`; false for one that
   * does not. The UPDATE locks the row and, when another transaction changed
   * it meanwhile, checks its WHERE again on the committed row: two natters
   * cannot both take a code's last use.
   */
  async useInvite(code: string, now: number): Promise<boolean> {
    if (holdsNul(code)) return false;
    return (
      (await changes(
        this.#q,
        `UPDATE invites SET uses = uses + 1 WHERE code = $1 AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)`,
        [code, now],
      )) === 1
    );
  }

  async revokeInvite(serverId: string, code: string, now: number): Promise<boolean> {
    if (holdsNul(code)) return false;
    return (
      (await changes(
        this.#q,
        'UPDATE invites SET revoked_at = $1 WHERE code = $2 AND server_id = $3 AND revoked_at IS NULL',
        [now, code, serverId],
      )) > 0
    );
  }

  // Blocks, group invitations, settings

  async blocked(userId: string, otherId: string): Promise<boolean> {
    return (
      (await row(this.#q, 'SELECT 1 AS x FROM blocks WHERE user_id = $1 AND blocked_id = $2', [userId, otherId])) !==
      undefined
    );
  }

  async blockedEitherWay(a: string, b: string): Promise<boolean> {
    const ahead = this.#batch?.live?.blocked(a, b);
    if (ahead !== undefined) return ahead;
    return (
      (await row(
        this.#q,
        'SELECT 1 AS x FROM blocks WHERE (user_id = $1 AND blocked_id = $2) OR (user_id = $2 AND blocked_id = $1)',
        [a, b],
      )) !== undefined
    );
  }

  async blockersOf(authorId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    return new Set(
      (
        await rows<{ user_id: string }>(
          this.#q,
          'SELECT user_id FROM blocks WHERE blocked_id = $1 AND user_id = ANY($2::text[])',
          [authorId, userIds],
        )
      ).map((r) => r.user_id),
    );
  }

  async addBlock(userId: string, blockedId: string, now: number): Promise<{ createdAt: number; added: boolean }> {
    const added =
      (await changes(
        this.#q,
        'INSERT INTO blocks (user_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, blocked_id) DO NOTHING',
        [userId, blockedId, now],
      )) > 0;
    const r = await row<{ created_at: number }>(
      this.#q,
      'SELECT created_at FROM blocks WHERE user_id = $1 AND blocked_id = $2',
      [userId, blockedId],
    );
    return { createdAt: r?.created_at as number, added };
  }

  async removeBlock(userId: string, blockedId: string): Promise<boolean> {
    return (
      (await changes(this.#q, 'DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2', [userId, blockedId])) > 0
    );
  }

  async blockCount(userId: string): Promise<number> {
    await this.#capLock(`blocks\n${userId}`);
    return (await row<{ n: number }>(this.#q, 'SELECT count(*) AS n FROM blocks WHERE user_id = $1', [userId]))?.n ?? 0;
  }

  async blocksOf(
    userId: string,
    after: PageKey | null,
    limit: number,
  ): Promise<{ user: UserRef; createdAt: number }[]> {
    const p = placeholders();
    const found = await rows<{ blocked_id: string; created_at: number }>(
      this.#q,
      `SELECT blocked_id, created_at FROM blocks WHERE user_id = ${p(userId)}
         ${after === null ? '' : `AND (created_at, blocked_id COLLATE "C") > (${p(keyNumber(after[0]))}::int8, ${p(keyText(after[1]))})`}
       ORDER BY created_at, blocked_id COLLATE "C" LIMIT ${p(limit)}`,
      p.values,
    );
    const refs = await this.userRefs(found.map((r) => r.blocked_id));
    return found.map((r) => ({
      user: refs.get(r.blocked_id) ?? { id: r.blocked_id, username: 'unknown', displayName: null },
      createdAt: r.created_at,
    }));
  }

  async shareServerOrGroup(a: string, b: string): Promise<boolean> {
    return (
      (await row(
        this.#q,
        `SELECT 1 AS x FROM members x JOIN members y ON y.server_id = x.server_id WHERE x.user_id = $1 AND y.user_id = $2
         UNION ALL
         SELECT 1 FROM conversation_members x JOIN conversation_members y ON y.conversation_id = x.conversation_id
         JOIN conversations c ON c.id = x.conversation_id AND c.kind = 'group' WHERE x.user_id = $1 AND y.user_id = $2
         LIMIT 1`,
        [a, b],
      )) !== undefined
    );
  }

  async groupInvite(conversationId: string, userId: string): Promise<GroupInviteRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM group_invites WHERE conversation_id = $1 AND user_id = $2', [
      conversationId,
      userId,
    ]);
    return r && toGroupInvite(r);
  }

  async addGroupInvite(conversationId: string, userId: string, invitedBy: string, now: number): Promise<boolean> {
    return (
      (await changes(
        this.#q,
        `INSERT INTO group_invites (conversation_id, user_id, invited_by, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (conversation_id, user_id) DO NOTHING`,
        [conversationId, userId, invitedBy, now],
      )) > 0
    );
  }

  async removeGroupInvite(conversationId: string, userId: string): Promise<boolean> {
    return (
      (await changes(this.#q, 'DELETE FROM group_invites WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ])) > 0
    );
  }

  async removeInvitesFrom(userId: string, inviterId: string): Promise<string[]> {
    return (
      await rows<{ conversation_id: string }>(
        this.#q,
        'DELETE FROM group_invites WHERE user_id = $1 AND invited_by = $2 RETURNING conversation_id',
        [userId, inviterId],
      )
    ).map((r) => r.conversation_id);
  }

  async groupInviteesOf(conversationIds: readonly string[]): Promise<Map<string, UserRef[]>> {
    const out = new Map<string, UserRef[]>();
    if (conversationIds.length === 0) return out;
    for (const r of await rows(
      this.#q,
      `SELECT i.conversation_id, u.id, u.username, u.display_name FROM group_invites i JOIN users u ON u.id = i.user_id
       WHERE i.conversation_id = ANY($1::text[]) ORDER BY i.conversation_id COLLATE "C", i.created_at, u.id COLLATE "C"`,
      [conversationIds],
    )) {
      const id = r.conversation_id as string;
      const invitees = out.get(id) ?? [];
      invitees.push(toUserRef(r));
      out.set(id, invitees);
    }
    return out;
  }

  async groupInvitees(conversationId: string): Promise<UserRef[]> {
    return (
      await rows(
        this.#q,
        `SELECT u.id, u.username, u.display_name FROM group_invites i JOIN users u ON u.id = i.user_id
         WHERE i.conversation_id = $1 ORDER BY i.created_at, u.id COLLATE "C"`,
        [conversationId],
      )
    ).map(toUserRef);
  }

  async invitationsOf(
    userId: string,
    after: PageKey | null,
    limit: number,
  ): Promise<{ conv: ConversationRow; invitedBy: string; createdAt: number; memberCount: number }[]> {
    const p = placeholders();
    const found = await rows(
      this.#q,
      `SELECT c.*, i.invited_by, i.created_at AS invited_at,
              (SELECT count(*) FROM conversation_members x WHERE x.conversation_id = c.id) AS member_count
       FROM group_invites i JOIN conversations c ON c.id = i.conversation_id
       WHERE i.user_id = ${p(userId)}
         ${after === null ? '' : `AND (i.created_at, i.conversation_id COLLATE "C") > (${p(keyNumber(after[0]))}::int8, ${p(keyText(after[1]))})`}
       ORDER BY i.created_at, i.conversation_id COLLATE "C" LIMIT ${p(limit)}`,
      p.values,
    );
    return found.map((r) => ({
      conv: toConversation(r),
      invitedBy: r.invited_by as string,
      createdAt: r.invited_at as number,
      memberCount: r.member_count as number,
    }));
  }

  async setGroupAdds(userId: string, value: UserRow['groupAdds']): Promise<void> {
    await changes(this.#q, 'UPDATE users SET group_adds = $1 WHERE id = $2', [value, userId]);
  }
}
