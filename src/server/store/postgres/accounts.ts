import {
  ACCOUNTS_SIGNAL,
  type AccountListRow,
  type AccountSummary,
  type DeletedMessages,
  type DeletionCounts,
  deletedKey,
  type ExportMessage,
  type ExportReport,
  type ExportUpload,
  type InstanceCounts,
  type OwnedServer,
  UNUSABLE_HASH,
} from '../../db/accounts.js';
import type { SessionRow } from '../../db/schema.js';
import type { AccountStore } from '../port.js';
import { toSession, toUser } from './rows.js';
import { changes, type Queryable, type Raw, row, rows } from './sql.js';

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * Whole accounts in PostgreSQL: the queries of the SQLite `accountQueries`
 * (db/accounts.ts). `deleteAccount` runs its statements one after another on
 * `q`, which must be inside a transaction (a write batch's, or the one the
 * admin commands open).
 */
export class PostgresAccounts implements AccountStore {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  async deleteAccount(userId: string, now: number, mode: DeletedMessages): Promise<DeletionCounts> {
    const q = this.#q;
    // The row first: a second deletion of the same account waits here, then finds it gone.
    await changes(q, 'SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
    const sessions = await changes(q, 'DELETE FROM sessions WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM login_addresses WHERE user_id = $1', [userId]);
    let memberships = await changes(q, 'DELETE FROM members WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM bans WHERE user_id = $1', [userId]);
    memberships += await changes(
      q,
      `DELETE FROM conversation_members WHERE user_id = $1
          AND conversation_id IN (SELECT id FROM conversations WHERE kind <> 'dm')`,
      [userId],
    );
    await changes(q, 'DELETE FROM group_invites WHERE user_id = $1 OR invited_by = $1', [userId]);
    await changes(q, 'DELETE FROM read_states WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM blocks WHERE user_id = $1 OR blocked_id = $1', [userId]);
    await changes(q, 'DELETE FROM username_holds WHERE user_id = $1', [userId]);
    await changes(
      q,
      `DELETE FROM mail_outbox WHERE to_address IN (
         SELECT email FROM users WHERE id = $1 AND email IS NOT NULL UNION SELECT address FROM account_codes WHERE user_id = $1)`,
      [userId],
    );
    await changes(q, 'DELETE FROM account_codes WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM mentions WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM usage WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM upload_usage WHERE user_id = $1', [userId]);
    await changes(q, 'DELETE FROM held_messages WHERE author_id = $1', [userId]);
    let messagesRemoved = 0;
    if (mode === 'remove') {
      await changes(
        q,
        'DELETE FROM mentions WHERE message_id IN (SELECT id FROM messages WHERE author_id = $1 AND deleted_at IS NULL)',
        [userId],
      );
      messagesRemoved = await changes(
        q,
        "UPDATE messages SET body = '', search_text = NULL, deleted_at = $1 WHERE author_id = $2 AND deleted_at IS NULL",
        [now, userId],
      );
    }
    const uploadsRemoved = await changes(
      q,
      `DELETE FROM attachments WHERE owner_id = $1 AND purpose <> 'server-icon' AND (
         message_id IS NULL OR message_id IN (SELECT id FROM messages WHERE author_id = $1 AND deleted_at IS NOT NULL))`,
      [userId],
    );
    await changes(
      q,
      `UPDATE users SET username = 'deleted user', username_key = $1, username_capital_key = NULL, password_hash = $2,
         display_name = NULL, status = NULL, bio = NULL, avatar_id = NULL, email = NULL, email_verified_at = NULL,
         verify_by = NULL, operator = false, disabled_at = NULL, group_adds = 'invite', updated_at = $3, deleted_at = $3
       WHERE id = $4`,
      [deletedKey(userId), UNUSABLE_HASH, now, userId],
    );
    return { sessions, messagesRemoved, uploadsRemoved, memberships };
  }

  async ownedServers(userId: string): Promise<OwnedServer[]> {
    return rows<OwnedServer>(
      this.#q,
      'SELECT id, name FROM servers WHERE owner_id = $1 ORDER BY name COLLATE "C", id COLLATE "C"',
      [userId],
    );
  }

  async setDisabled(userId: string, at: number | null): Promise<boolean> {
    return (
      (at === null
        ? await changes(
            this.#q,
            'UPDATE users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL AND deleted_at IS NULL',
            [userId],
          )
        : await changes(
            this.#q,
            'UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL AND deleted_at IS NULL',
            [at, userId],
          )) === 1
    );
  }

  async list(
    search: string | null,
    disabledOnly: boolean,
    after: string | null,
    limit: number,
  ): Promise<AccountListRow[]> {
    const like = search === null ? null : `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const found = await rows(
      this.#q,
      `SELECT u.*, (SELECT count(*) FROM sessions s WHERE s.user_id = u.id) AS n_sessions,
              (SELECT max(coalesce(s.last_seen_at, s.created_at)) FROM sessions s WHERE s.user_id = u.id) AS last_seen
         FROM users u
        WHERE u.deleted_at IS NULL
          AND ($1::text IS NULL OR lower(u.username) LIKE $1 OR lower(coalesce(u.display_name, '')) LIKE $1)
          AND (NOT $2 OR u.disabled_at IS NOT NULL)
          AND ($3::text IS NULL OR u.username_key COLLATE "C" > $3)
        ORDER BY u.username_key COLLATE "C" LIMIT $4`,
      [like, disabledOnly, after, limit],
    );
    return found.map((r) => ({ ...toUser(r), sessions: num(r.n_sessions), lastSeenAt: numOrNull(r.last_seen) }));
  }

  async summary(userId: string): Promise<AccountSummary> {
    const q = this.#q;
    const s = await row(
      q,
      `SELECT count(*) FILTER (WHERE kind = 'session') AS sessions, count(*) FILTER (WHERE kind = 'bot') AS bots,
              max(coalesce(last_seen_at, created_at)) AS last FROM sessions WHERE user_id = $1`,
      [userId],
    );
    const up = await row(
      q,
      'SELECT count(*) AS n, sum(size) AS bytes FROM attachments WHERE owner_id = $1 AND uploaded_at IS NOT NULL',
      [userId],
    );
    const c = await row(
      q,
      `SELECT (SELECT count(*) FROM login_addresses WHERE user_id = $1) AS addresses,
              (SELECT count(*) FROM members WHERE user_id = $1) AS joined,
              (SELECT count(*) FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
                WHERE cm.user_id = $1 AND c.kind = 'group') AS groups,
              (SELECT count(*) FROM messages WHERE author_id = $1 AND deleted_at IS NULL) AS messages`,
      [userId],
    );
    return {
      sessions: num(s?.sessions),
      botTokens: num(s?.bots),
      lastSeenAt: numOrNull(s?.last),
      loginAddresses: num(c?.addresses),
      serversOwned: await this.ownedServers(userId),
      serversJoined: num(c?.joined),
      groups: num(c?.groups),
      messages: num(c?.messages),
      uploads: num(up?.n),
      uploadBytes: num(up?.bytes),
    };
  }

  async counts(activeSince: number): Promise<InstanceCounts> {
    const r = await row(
      this.#q,
      `SELECT (SELECT count(*) FROM users WHERE deleted_at IS NULL) AS users,
              (SELECT count(DISTINCT s.user_id) FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE coalesce(s.last_seen_at, s.created_at) >= $1 AND u.disabled_at IS NULL) AS active,
              (SELECT count(*) FROM users WHERE deleted_at IS NULL AND disabled_at IS NOT NULL) AS disabled,
              (SELECT count(*) FROM users WHERE deleted_at IS NOT NULL) AS deleted,
              (SELECT count(*) FROM users WHERE operator) AS operators,
              (SELECT count(*) FROM servers) AS servers,
              (SELECT count(*) FROM conversations WHERE kind = 'channel') AS channels,
              (SELECT count(*) FROM conversations WHERE kind = 'group') AS groups,
              (SELECT count(*) FROM conversations WHERE kind = 'dm') AS dms,
              (SELECT count(*) FROM messages WHERE deleted_at IS NULL) AS messages,
              (SELECT count(*) FROM attachments WHERE uploaded_at IS NOT NULL) AS uploads,
              (SELECT sum(size) FROM attachments WHERE uploaded_at IS NOT NULL) AS upload_bytes,
              (SELECT count(*) FROM sessions WHERE kind = 'session') AS sessions,
              (SELECT count(*) FROM sessions WHERE kind = 'bot') AS bots`,
      [activeSince],
    );
    return {
      users: num(r?.users),
      active: num(r?.active),
      disabled: num(r?.disabled),
      deleted: num(r?.deleted),
      operators: num(r?.operators),
      servers: num(r?.servers),
      channels: num(r?.channels),
      groups: num(r?.groups),
      dms: num(r?.dms),
      messages: num(r?.messages),
      uploads: num(r?.uploads),
      uploadBytes: num(r?.upload_bytes),
      sessions: num(r?.sessions),
      botTokens: num(r?.bots),
    };
  }

  async sessionsOf(userId: string): Promise<SessionRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id COLLATE "C"', [
        userId,
      ])
    ).map(toSession);
  }

  async endSessions(userId: string, sessionId: string | null): Promise<string[]> {
    const ended =
      sessionId === null
        ? await rows<{ id: string }>(this.#q, 'DELETE FROM sessions WHERE user_id = $1 RETURNING id', [userId])
        : await rows<{ id: string }>(this.#q, 'DELETE FROM sessions WHERE user_id = $1 AND id = $2 RETURNING id', [
            userId,
            sessionId,
          ]);
    return ended.map((r) => r.id);
  }

  async liveSessions(sessionIds: readonly string[]): Promise<string[]> {
    if (sessionIds.length === 0) return [];
    return (
      await rows<{ id: string }>(
        this.#q,
        `SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.id = ANY($1::text[]) AND u.disabled_at IS NULL AND u.deleted_at IS NULL
          ORDER BY s.id COLLATE "C"`,
        [sessionIds],
      )
    ).map((r) => r.id);
  }

  async signal(): Promise<string> {
    return (
      (await row<{ value: string }>(this.#q, 'SELECT value FROM meta WHERE key = $1', [ACCOUNTS_SIGNAL]))?.value ?? '0'
    );
  }

  async bumpSignal(): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO meta (key, value) VALUES ($1, '1')
         ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text`,
      [ACCOUNTS_SIGNAL],
    );
  }

  async messagesBy(
    userId: string,
    after: { createdAt: number; id: string } | null,
    limit: number,
  ): Promise<ExportMessage[]> {
    const found = await rows(
      this.#q,
      `SELECT m.id, m.conversation_id, c.kind AS conversation_kind, c.server_id, m.seq, m.body, m.kind, m.created_at,
              m.edited_at, m.deleted_at
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE m.author_id = $1 AND ($2::bigint IS NULL OR (m.created_at, m.id COLLATE "C") > ($2, $3::text COLLATE "C"))
        ORDER BY m.created_at, m.id COLLATE "C" LIMIT $4`,
      [userId, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return found.map((r: Raw) => ({
      id: String(r.id),
      conversationId: String(r.conversation_id),
      conversationKind: String(r.conversation_kind),
      serverId: textOrNull(r.server_id),
      seq: num(r.seq),
      body: String(r.body),
      kind: String(r.kind),
      createdAt: num(r.created_at),
      editedAt: numOrNull(r.edited_at),
      deletedAt: numOrNull(r.deleted_at),
    }));
  }

  async latestBy(userId: string, limit: number): Promise<string[]> {
    return (
      await rows<{ id: string }>(
        this.#q,
        `SELECT id FROM messages WHERE author_id = $1 AND deleted_at IS NULL
          ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2`,
        [userId, limit],
      )
    ).map((r) => r.id);
  }

  async uploadsBy(userId: string): Promise<ExportUpload[]> {
    const found = await rows(
      this.#q,
      `SELECT id, purpose, name, size, type, created_at, uploaded_at, message_id FROM attachments
        WHERE owner_id = $1 ORDER BY created_at, id COLLATE "C"`,
      [userId],
    );
    return found.map((r: Raw) => ({
      id: String(r.id),
      purpose: String(r.purpose),
      name: String(r.name),
      size: num(r.size),
      type: String(r.type),
      createdAt: num(r.created_at),
      uploadedAt: numOrNull(r.uploaded_at),
      messageId: textOrNull(r.message_id),
    }));
  }

  async reportsBy(userId: string): Promise<ExportReport[]> {
    const found = await rows(
      this.#q,
      `SELECT id, server_id, conversation_id, message_id, target_user_id, reason, details, status, resolution, created_at
         FROM reports WHERE reporter_id = $1 ORDER BY id`,
      [userId],
    );
    return found.map((r: Raw) => ({
      id: num(r.id),
      serverId: textOrNull(r.server_id),
      conversationId: textOrNull(r.conversation_id),
      messageId: textOrNull(r.message_id),
      targetUserId: textOrNull(r.target_user_id),
      reason: String(r.reason),
      details: textOrNull(r.details),
      status: String(r.status),
      resolution: textOrNull(r.resolution),
      createdAt: num(r.created_at),
    }));
  }
}
