import type pg from 'pg';
import type { UserRef } from '../../../protocol/index.js';
import type { SendGate } from '../../db/chat.js';
import type { ConversationRow, MemberRow, MessageRow } from '../../db/schema.js';
import { indexedText } from '../../search.js';
import type { SendHint } from '../port.js';
import { toConversation, toMessage, toUserRef } from './rows.js';
import { holdsNul, rows } from './sql.js';

const DAY_MS = 86_400_000;

/** The key of an (author, nonce) pair in the maps below. */
export function nonceKey(authorId: string, nonce: string): string {
  return pair(authorId, nonce);
}

function pair(a: string, b: string): string {
  return `${a}\n${b}`;
}

/** The key of a block between two users, whichever blocked whom. */
function blockKey(a: string, b: string): string {
  return a < b ? pair(a, b) : pair(b, a);
}

/** A pair's two halves (the first never holds a line break: ids and user ids do not). */
function halves(key: string): [string, string] {
  const i = key.indexOf('\n');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** The day (since the epoch, UTC) a write budget charge at `now` counts towards. */
export function budgetDay(now: number): number {
  return Math.floor(now / DAY_MS);
}

/** Whether a hint can be read ahead: text PostgreSQL cannot hold would fail the whole run's statements. */
export function hintUsable(hint: SendHint): boolean {
  return !holdsNul(hint.conversationId) && !holdsNul(hint.nonce);
}

/**
 * What a run of queued message sends reads, read for all of them at once at
 * the start of the run (see {@link ReadAhead.read} for what is locked, and
 * in which order), and the writes they make, kept until a statement needs
 * them in the database or the run ends (see `PostgresStore`).
 *
 * A map answers only for the keys it was asked; any other question goes to
 * the database. Numbers are taken, and messages kept, only in conversations
 * whose rows the run locked. Once a job writes through a statement of its
 * own (anything but a mention), the maps could be out of date and stop
 * answering (`live` false) for the rest of the batch.
 */
export class ReadAhead {
  live = true;
  readonly sessions = new Map<string, boolean>();
  readonly users = new Map<string, UserRef | null>();
  /** Messages by (author, nonce) pair: the one stored, or null; the author's row is locked. */
  readonly nonces = new Map<string, MessageRow | null>();
  /** Conversations as the batch has them (last numbers included); their rows are locked. */
  readonly conversations = new Map<string, ConversationRow | null>();
  /** (server, user) → role, or null when not a member. */
  readonly roles = new Map<string, MemberRow['role'] | null>();
  /** (server, user) → what else a send checks about a member (timeout, rules' revision), or null when not a member. */
  readonly gates = new Map<string, SendGate | null>();
  /** (conversation, user) → member or not. */
  readonly conversationMembers = new Map<string, boolean>();
  /** (user, user), in sorted order → a block either way. */
  readonly blocks = new Map<string, boolean>();
  /** (user, day) → bytes stored, counting the charges kept below; null: no such account. Rows locked. */
  readonly usage = new Map<string, number | null>();
  /** The conversations whose rows are locked: numbers are taken, and messages kept, for these only. */
  readonly #locked = new Set<string>();

  /** Writes kept until they are needed in the database, each with the index of the job that made it. */
  #messages: { row: MessageRow; job: number }[] = [];
  #numbers: { conversationId: string; seq: number; at: number; job: number }[] = [];
  #charges: { userId: string; day: number; bytes: number; job: number }[] = [];

  /** Whether writes are waiting to be written. */
  get pending(): boolean {
    return this.#messages.length > 0 || this.#numbers.length > 0 || this.#charges.length > 0;
  }

  /**
   * Reads what the sends of `hints` will read, on `client`, in the batch's
   * transaction, locking as the sends' own statements would, and no more:
   *
   * 1. the authors' rows, `FOR NO KEY UPDATE` in id order: what a send
   *    locks before it looks its nonce up, so the same send retried on two
   *    natters at once is stored once (a user's sends on several natters
   *    take turns); then the messages already sent with the nonces;
   * 2. the sessions and the memberships (`FOR KEY SHARE`: a revocation, a
   *    kick or a leave on another natter waits for this batch's commit rather
   *    than slipping in between the read and the sends), the conversations
   *    and the blocks between DM peers, without locks;
   * 3. only then, for the sends that pass those checks, their conversations
   *    again, `FOR NO KEY UPDATE` in id order (the lock taking a number
   *    holds), so a send that will be refused locks nothing another natter
   *    waits for; and with a write budget, their authors' rows of the day.
   *
   * Statements with nothing to read are not sent.
   */
  static async read(client: pg.PoolClient, hints: readonly SendHint[], budget: number): Promise<ReadAhead> {
    const ahead = new ReadAhead();
    const userIds = [...new Set(hints.map((h) => h.userId))];
    const sessionIds = [...new Set(hints.flatMap((h) => (h.sessionId === null ? [] : [h.sessionId])))];
    const conversationIds = [...new Set(hints.map((h) => h.conversationId))];
    const nonceKeys = [...new Set(hints.map((h) => nonceKey(h.userId, h.nonce)))];

    for (const id of userIds) ahead.users.set(id, null);
    for (const r of await rows(
      client,
      'SELECT id, username, display_name FROM users WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR NO KEY UPDATE',
      [userIds],
    )) {
      ahead.users.set(r.id as string, toUserRef(r));
    }
    for (const key of nonceKeys) ahead.nonces.set(key, null);
    const byNonce = nonceKeys.map(halves);
    for (const r of await rows(
      client,
      `SELECT m.* FROM messages m JOIN unnest($1::text[], $2::text[]) AS k(author_id, nonce)
       ON m.author_id = k.author_id AND m.nonce = k.nonce`,
      [byNonce.map(([a]) => a), byNonce.map(([, n]) => n)],
    )) {
      const m = toMessage(r);
      if (m.nonce !== null) ahead.nonces.set(nonceKey(m.authorId, m.nonce), m);
    }

    if (sessionIds.length > 0) {
      for (const id of sessionIds) ahead.sessions.set(id, false);
      for (const r of await rows<{ id: string }>(
        client,
        'SELECT id FROM sessions WHERE id = ANY($1::text[]) FOR KEY SHARE',
        [sessionIds],
      )) {
        ahead.sessions.set(r.id, true);
      }
    }
    for (const id of conversationIds) ahead.conversations.set(id, null);
    for (const r of await rows(client, 'SELECT * FROM conversations WHERE id = ANY($1::text[])', [conversationIds])) {
      const conv = toConversation(r);
      ahead.conversations.set(conv.id, conv);
    }

    // What the sends' authorization reads, by the kind of each conversation.
    const roles = new Set<string>();
    const members = new Set<string>();
    const blocks = new Set<string>();
    for (const h of hints) {
      const conv = ahead.conversations.get(h.conversationId);
      if (!conv) continue;
      if (conv.kind === 'channel') {
        if (conv.serverId !== null) roles.add(pair(conv.serverId, h.userId));
        continue;
      }
      members.add(pair(conv.id, h.userId));
      const peer = conv.kind === 'dm' ? conv.dmKey?.split(':').find((id) => id !== h.userId) : undefined;
      if (peer) blocks.add(blockKey(h.userId, peer));
    }
    const split = (keys: Set<string>) => {
      const pairs = [...keys].map(halves);
      return [pairs.map(([a]) => a), pairs.map(([, b]) => b)];
    };
    if (roles.size > 0) {
      for (const key of roles) {
        ahead.roles.set(key, null);
        ahead.gates.set(key, null);
      }
      for (const r of await rows<{
        server_id: string;
        user_id: string;
        role: MemberRow['role'];
        timeout_until: number | null;
        automod_rev: number;
      }>(
        client,
        `SELECT m.server_id, m.user_id, m.role, m.timeout_until, s.automod_rev FROM members m
         JOIN unnest($1::text[], $2::text[]) AS p(s, u) ON m.server_id = p.s AND m.user_id = p.u
         JOIN servers s ON s.id = m.server_id
         FOR KEY SHARE OF m`,
        split(roles),
      )) {
        const key = pair(r.server_id, r.user_id);
        ahead.roles.set(key, r.role);
        ahead.gates.set(key, { timeoutUntil: r.timeout_until ?? null, automodRev: r.automod_rev });
      }
    }
    if (members.size > 0) {
      for (const key of members) ahead.conversationMembers.set(key, false);
      for (const r of await rows<{ conversation_id: string; user_id: string }>(
        client,
        `SELECT m.conversation_id, m.user_id FROM conversation_members m
         JOIN unnest($1::text[], $2::text[]) AS p(c, u) ON m.conversation_id = p.c AND m.user_id = p.u
         FOR KEY SHARE OF m`,
        split(members),
      )) {
        ahead.conversationMembers.set(pair(r.conversation_id, r.user_id), true);
      }
    }
    if (blocks.size > 0) {
      for (const key of blocks) ahead.blocks.set(key, false);
      for (const r of await rows<{ user_id: string; blocked_id: string }>(
        client,
        `SELECT b.user_id, b.blocked_id FROM blocks b JOIN unnest($1::text[], $2::text[]) AS p(x, y)
         ON (b.user_id = p.x AND b.blocked_id = p.y) OR (b.user_id = p.y AND b.blocked_id = p.x)`,
        split(blocks),
      )) {
        ahead.blocks.set(blockKey(r.user_id, r.blocked_id), true);
      }
    }

    // The sends that will go through, by what was read: their conversations are locked, and read again.
    const passing = hints.filter((h) => ahead.#passes(h));
    const toLock = [...new Set(passing.map((h) => h.conversationId))];
    if (toLock.length > 0) {
      // One deleted since it was read: gone for the sends too.
      for (const id of toLock) ahead.conversations.set(id, null);
      for (const r of await rows(
        client,
        'SELECT * FROM conversations WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR NO KEY UPDATE',
        [toLock],
      )) {
        const conv = toConversation(r);
        ahead.conversations.set(conv.id, conv);
        ahead.#locked.add(conv.id);
      }
    }
    if (budget > 0 && passing.length > 0) {
      const budgetKeys = [...new Set(passing.map((h) => pair(h.userId, String(budgetDay(h.at)))))].sort();
      const days = budgetKeys.map(halves);
      // Each author's row of the day, made if missing and locked, as a charge would lock it.
      const stored = await rows<{ user_id: string; day: number; bytes: number }>(
        client,
        `INSERT INTO usage (user_id, day, bytes)
         SELECT k.user_id, k.day, 0 FROM unnest($1::text[], $2::int8[]) AS k(user_id, day)
         WHERE EXISTS (SELECT 1 FROM users WHERE id = k.user_id)
         ORDER BY k.user_id COLLATE "C", k.day
         ON CONFLICT (user_id, day) DO UPDATE SET bytes = usage.bytes
         RETURNING user_id, day, bytes`,
        [days.map(([u]) => u), days.map(([, d]) => Number(d))],
      );
      for (const key of budgetKeys) ahead.usage.set(key, null);
      for (const r of stored) ahead.usage.set(pair(r.user_id, String(r.day)), r.bytes);
    }
    return ahead;
  }

  /** What reads ahead answers nothing: the run's sends run statement by statement (after reading ahead failed). */
  static none(): ReadAhead {
    const ahead = new ReadAhead();
    ahead.live = false;
    return ahead;
  }

  /**
   * Whether the send of `h` looks like it will pass the checks the read rows
   * answer (its session, author, conversation, membership, blocks). It only
   * decides which conversations to lock: whether the send goes through is
   * decided by the handler's access rules (access.ts), which read the same
   * rows through the stores.
   */
  #passes(h: SendHint): boolean {
    if (h.sessionId !== null && this.sessions.get(h.sessionId) !== true) return false;
    if (!this.users.get(h.userId)) return false;
    const conv = this.conversations.get(h.conversationId);
    if (!conv) return false;
    if (conv.kind === 'channel') return conv.serverId !== null && !!this.roles.get(pair(conv.serverId, h.userId));
    if (this.conversationMembers.get(pair(conv.id, h.userId)) !== true) return false;
    const peer = conv.kind === 'dm' ? conv.dmKey?.split(':').find((id) => id !== h.userId) : undefined;
    return !peer || this.blocks.get(blockKey(h.userId, peer)) !== true;
  }

  role(serverId: string, userId: string): MemberRow['role'] | null | undefined {
    return this.roles.get(pair(serverId, userId));
  }

  gate(serverId: string, userId: string): SendGate | null | undefined {
    const gate = this.gates.get(pair(serverId, userId));
    return gate ? { ...gate } : gate;
  }

  conversationMember(conversationId: string, userId: string): boolean | undefined {
    return this.conversationMembers.get(pair(conversationId, userId));
  }

  blocked(a: string, b: string): boolean | undefined {
    return this.blocks.get(blockKey(a, b));
  }

  /**
   * The next number of a conversation read ahead, taken by job `job`; `undo`
   * receives how to give it back. Undefined when the conversation was not
   * read ahead.
   */
  nextSeq(conversationId: string, now: number, job: number, undo: (fn: () => void) => void): number | undefined {
    const conv = this.conversations.get(conversationId);
    if (!conv || !this.#locked.has(conversationId)) return undefined;
    const before = { lastSeq: conv.lastSeq, lastMessageAt: conv.lastMessageAt };
    conv.lastSeq += 1;
    conv.lastMessageAt = now;
    this.#numbers.push({ conversationId, seq: conv.lastSeq, at: now, job });
    undo(() => {
      conv.lastSeq = before.lastSeq;
      conv.lastMessageAt = before.lastMessageAt;
    });
    return conv.lastSeq;
  }

  /**
   * Keeps a message to insert later, when its conversation and its nonce were
   * read ahead (so the insert cannot fail on either); false otherwise.
   */
  insertMessage(m: MessageRow, job: number, undo: (fn: () => void) => void): boolean {
    if (!this.#locked.has(m.conversationId)) return false;
    const key = m.nonce === null ? null : nonceKey(m.authorId, m.nonce);
    if (key !== null && this.nonces.get(key) !== null) return false;
    this.#messages.push({ row: m, job });
    if (key !== null) {
      this.nonces.set(key, m);
      undo(() => this.nonces.set(key, null));
    }
    return true;
  }

  /**
   * A charge of `bytes` against the budget row read ahead for (user, day):
   * 'charged', 'none' (no such account: nothing to charge), or the bytes
   * already stored when the charge would pass `budget`. Undefined when the
   * row was not read ahead.
   */
  charge(
    userId: string,
    day: number,
    bytes: number,
    budget: number,
    job: number,
    undo: (fn: () => void) => void,
  ): 'charged' | 'none' | { stored: number } | undefined {
    const key = pair(userId, String(day));
    if (!this.usage.has(key)) return undefined;
    const stored = this.usage.get(key) ?? null;
    if (stored === null) return 'none';
    if (stored + bytes > budget) return { stored };
    this.usage.set(key, stored + bytes);
    this.#charges.push({ userId, day, bytes, job });
    undo(() => this.usage.set(key, stored));
    return 'charged';
  }

  /** Forgets the kept writes of job `job`, which rolled back. */
  dropJob(job: number): void {
    this.#messages = this.#messages.filter((w) => w.job !== job);
    this.#numbers = this.#numbers.filter((w) => w.job !== job);
    this.#charges = this.#charges.filter((w) => w.job !== job);
  }

  /**
   * Writes, in one statement, the kept writes of the jobs before `beforeJob`
   * (all of them without it): the messages, each conversation's last number,
   * the budget charges.
   */
  async write(client: pg.PoolClient, beforeJob = Number.POSITIVE_INFINITY): Promise<void> {
    const due = <W extends { job: number }>(list: W[]): [W[], W[]] => [
      list.filter((w) => w.job < beforeJob),
      list.filter((w) => w.job >= beforeJob),
    ];
    const [messages, laterMessages] = due(this.#messages);
    const [numbers, laterNumbers] = due(this.#numbers);
    const [charges, laterCharges] = due(this.#charges);
    if (messages.length + numbers.length + charges.length === 0) return;
    this.#messages = laterMessages;
    this.#numbers = laterNumbers;
    this.#charges = laterCharges;
    // One row per conversation: its last number (they only grow), and per budget row: the sum.
    const last = new Map<string, { seq: number; at: number }>();
    for (const n of numbers) last.set(n.conversationId, { seq: n.seq, at: n.at });
    const sums = new Map<string, { userId: string; day: number; bytes: number }>();
    for (const c of charges) {
      const key = pair(c.userId, String(c.day));
      const sum = sums.get(key);
      if (sum) sum.bytes += c.bytes;
      else sums.set(key, { userId: c.userId, day: c.day, bytes: c.bytes });
    }
    const m = messages.map((w) => w.row);
    const charged = [...sums.values()];
    await rows(
      client,
      `WITH stored AS (
         INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, edited_at, deleted_at, nonce, kind, bot, search_text)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[], $7::int8[],
           $8::int8[], $9::text[], $10::text[], $11::bool[], $12::text[])),
       numbered AS (
         UPDATE conversations c SET last_seq = n.seq, last_message_at = n.at
         FROM unnest($13::text[], $14::int8[], $15::int8[]) AS n(id, seq, at) WHERE c.id = n.id),
       charged AS (
         UPDATE usage u SET bytes = u.bytes + c.bytes
         FROM unnest($16::text[], $17::int8[], $18::int8[]) AS c(user_id, day, bytes)
         WHERE u.user_id = c.user_id AND u.day = c.day)
       SELECT 1`,
      [
        m.map((r) => r.id),
        m.map((r) => r.conversationId),
        m.map((r) => r.seq),
        m.map((r) => r.authorId),
        m.map((r) => r.body),
        m.map((r) => r.createdAt),
        m.map((r) => r.editedAt),
        m.map((r) => r.deletedAt),
        m.map((r) => r.nonce),
        m.map((r) => r.kind),
        m.map((r) => r.bot),
        m.map((r) => indexedText(r.body)),
        [...last.keys()],
        [...last.values()].map((n) => n.seq),
        [...last.values()].map((n) => n.at),
        charged.map((c) => c.userId),
        charged.map((c) => c.day),
        charged.map((c) => c.bytes),
      ],
    );
  }
}
