import type pg from 'pg';
import type { UserRef } from '../../../protocol/index.js';
import type { ConversationRow, MemberRow, MessageRow } from '../../db/schema.js';
import { indexedText } from '../../search.js';
import type { SendHint } from '../port.js';
import { toConversation, toMessage, toUserRef } from './rows.js';
import { holdsNul, rows } from './sql.js';

const DAY_MS = 86_400_000;

/**
 * The first key of the advisory locks on (author, nonce) pairs ("nonc" in
 * ASCII); the second is a hash of the pair (see {@link nonceKey}). Locks keyed
 * by two integers never meet those keyed by one (the migration lock).
 */
export const NONCE_LOCKS = 0x6e6f6e63;

/** The key of the lock on an (author, nonce) pair, and of that pair in the maps below. */
export function nonceKey(authorId: string, nonce: string): string {
  return `${authorId}\n${nonce}`;
}

function pair(a: string, b: string): string {
  return `${a}\n${b}`;
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
 * the start of the run, and the writes they make, kept until a statement
 * needs them in the database or the run ends (see `PostgresStore`).
 *
 * The rows read are locked as the sends' own statements would lock them:
 * each (author, nonce) pair's advisory lock, and each conversation's row
 * (`FOR NO KEY UPDATE`, as the update of its last number takes), so what is
 * read stays true until the commit: another natter sending to the same
 * conversation, or the same send retried there, waits as it does for a send
 * made statement by statement. Locks are taken in one order (sorted keys),
 * so two runs never wait for each other in a circle.
 *
 * A map answers only for the keys it was asked; any other question goes to
 * the database. Once a job writes through a statement of its own (anything
 * but a mention), the maps could be out of date and stop answering
 * (`live` false) for the rest of the batch.
 */
export class ReadAhead {
  live = true;
  readonly sessions = new Map<string, boolean>();
  readonly users = new Map<string, UserRef | null>();
  /** Messages by (author, nonce) pair: the one stored, or null; the pair's lock is held. */
  readonly nonces = new Map<string, MessageRow | null>();
  /** Conversations as the batch has them (last numbers included); their rows are locked. */
  readonly conversations = new Map<string, ConversationRow | null>();
  /** (server, user) → role, or null when not a member. */
  readonly roles = new Map<string, MemberRow['role'] | null>();
  /** (conversation, user) → member or not. */
  readonly conversationMembers = new Map<string, boolean>();
  /** (user, user), in sorted order → a block either way. */
  readonly blocks = new Map<string, boolean>();
  /** (user, day) → bytes stored, counting the charges kept below; null: no such account. Rows locked. */
  readonly usage = new Map<string, number | null>();

  /** Writes kept until they are needed in the database, each with the index of the job that made it. */
  #messages: { row: MessageRow; job: number }[] = [];
  #numbers: { conversationId: string; seq: number; at: number; job: number }[] = [];
  #charges: { userId: string; day: number; bytes: number; job: number }[] = [];

  /** Whether writes are waiting to be written. */
  get pending(): boolean {
    return this.#messages.length > 0 || this.#numbers.length > 0 || this.#charges.length > 0;
  }

  /**
   * Reads (and locks) what the sends of `hints` will read, on `client`, in
   * the batch's transaction: one statement for the nonce locks, one each for
   * sessions, authors, earlier sends by nonce, conversations, memberships and
   * blocks together, and, with a write budget, the authors' budget rows.
   */
  static async read(client: pg.PoolClient, hints: readonly SendHint[], budget: number): Promise<ReadAhead> {
    const ahead = new ReadAhead();
    const nonceKeys = [...new Set(hints.map((h) => nonceKey(h.userId, h.nonce)))].sort();
    const sessionIds = [...new Set(hints.flatMap((h) => (h.sessionId === null ? [] : [h.sessionId])))];
    const userIds = [...new Set(hints.map((h) => h.userId))];
    const conversationIds = [...new Set(hints.map((h) => h.conversationId))].sort();

    // Locks first: the pairs, then the conversations, each in sorted order.
    await rows(client, 'SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k', [
      NONCE_LOCKS,
      nonceKeys,
    ]);
    for (const key of nonceKeys) ahead.nonces.set(key, null);
    for (const r of await rows(
      client,
      'SELECT * FROM conversations WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR NO KEY UPDATE',
      [conversationIds],
    )) {
      const conv = toConversation(r);
      ahead.conversations.set(conv.id, conv);
    }
    for (const id of conversationIds) if (!ahead.conversations.has(id)) ahead.conversations.set(id, null);

    for (const id of sessionIds) ahead.sessions.set(id, false);
    for (const r of await rows<{ id: string }>(client, 'SELECT id FROM sessions WHERE id = ANY($1::text[])', [
      sessionIds,
    ])) {
      ahead.sessions.set(r.id, true);
    }
    for (const id of userIds) ahead.users.set(id, null);
    for (const r of await rows(client, 'SELECT id, username, display_name FROM users WHERE id = ANY($1::text[])', [
      userIds,
    ])) {
      ahead.users.set(r.id as string, toUserRef(r));
    }
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
      if (peer) blocks.add([h.userId, peer].sort().join('\n'));
    }
    const split = (keys: Set<string>) => {
      const pairs = [...keys].map(halves);
      return [pairs.map(([a]) => a), pairs.map(([, b]) => b)];
    };
    if (roles.size + members.size + blocks.size > 0) {
      const found = await rows<{ k: string; a: string; b: string; c: string | null }>(
        client,
        `SELECT 'r' AS k, m.server_id AS a, m.user_id AS b, m.role AS c
           FROM members m JOIN unnest($1::text[], $2::text[]) AS p(s, u) ON m.server_id = p.s AND m.user_id = p.u
         UNION ALL
         SELECT 'c', m.conversation_id, m.user_id, NULL
           FROM conversation_members m JOIN unnest($3::text[], $4::text[]) AS p(c, u)
           ON m.conversation_id = p.c AND m.user_id = p.u
         UNION ALL
         SELECT 'b', b.user_id, b.blocked_id, NULL
           FROM blocks b JOIN unnest($5::text[], $6::text[]) AS p(x, y)
           ON (b.user_id = p.x AND b.blocked_id = p.y) OR (b.user_id = p.y AND b.blocked_id = p.x)`,
        [...split(roles), ...split(members), ...split(blocks)],
      );
      for (const key of roles) ahead.roles.set(key, null);
      for (const key of members) ahead.conversationMembers.set(key, false);
      for (const key of blocks) ahead.blocks.set(key, false);
      for (const r of found) {
        if (r.k === 'r') ahead.roles.set(pair(r.a, r.b), r.c as MemberRow['role']);
        else if (r.k === 'c') ahead.conversationMembers.set(pair(r.a, r.b), true);
        else ahead.blocks.set([r.a, r.b].sort().join('\n'), true);
      }
    }

    if (budget > 0) {
      const budgetKeys = [...new Set(hints.map((h) => pair(h.userId, String(budgetDay(h.at)))))].sort();
      const split = budgetKeys.map(halves);
      // Each author's row of the day, made if missing and locked, as a charge would lock it.
      const stored = await rows<{ user_id: string; day: number; bytes: number }>(
        client,
        `INSERT INTO usage (user_id, day, bytes)
         SELECT k.user_id, k.day, 0 FROM unnest($1::text[], $2::int8[]) AS k(user_id, day)
         WHERE EXISTS (SELECT 1 FROM users WHERE id = k.user_id)
         ON CONFLICT (user_id, day) DO UPDATE SET bytes = usage.bytes
         RETURNING user_id, day, bytes`,
        [split.map(([u]) => u), split.map(([, d]) => Number(d))],
      );
      for (const key of budgetKeys) ahead.usage.set(key, null);
      for (const r of stored) ahead.usage.set(pair(r.user_id, String(r.day)), r.bytes);
    }
    return ahead;
  }

  role(serverId: string, userId: string): MemberRow['role'] | null | undefined {
    return this.roles.get(pair(serverId, userId));
  }

  conversationMember(conversationId: string, userId: string): boolean | undefined {
    return this.conversationMembers.get(pair(conversationId, userId));
  }

  blocked(a: string, b: string): boolean | undefined {
    return this.blocks.get([a, b].sort().join('\n'));
  }

  /**
   * The next number of a conversation read ahead, taken by job `job`; `undo`
   * receives how to give it back. Undefined when the conversation was not
   * read ahead.
   */
  nextSeq(conversationId: string, now: number, job: number, undo: (fn: () => void) => void): number | undefined {
    const conv = this.conversations.get(conversationId);
    if (!conv) return undefined;
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
    if (!this.conversations.get(m.conversationId)) return false;
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
