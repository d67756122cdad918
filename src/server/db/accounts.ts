import { user as rawUser } from './chat.js';
import type { Db } from './index.js';
import type { SessionRow, UserRow } from './schema.js';

/*
 * Whole accounts: deleting one, disabling it, and what the instance's
 * operators (`natter admin`) and an account's export read of it. The
 * PostgreSQL twin is store/postgres/accounts.ts; both keep the same names.
 */

/** What happens to the messages a deleted account wrote (`natter serve --deleted-messages`). */
export type DeletedMessages = 'keep' | 'remove';

/** What a deletion removed, for the reply and the command line. */
export type DeletionCounts = {
  sessions: number;
  messagesRemoved: number;
  uploadsRemoved: number;
  memberships: number;
};

/** A server an account owns (it must be given away or deleted before the account goes). */
export type OwnedServer = { id: string; name: string };

/** An account as the operators' list shows it. */
export type AccountListRow = UserRow & { sessions: number; lastSeenAt: number | null };

/** Everything `natter admin show` says of an account besides its row. */
export type AccountSummary = {
  sessions: number;
  botTokens: number;
  lastSeenAt: number | null;
  loginAddresses: number;
  serversOwned: OwnedServer[];
  serversJoined: number;
  groups: number;
  messages: number;
  uploads: number;
  uploadBytes: number;
};

/** The instance's counts (`natter admin stats`). */
export type InstanceCounts = {
  users: number;
  active: number;
  disabled: number;
  deleted: number;
  operators: number;
  servers: number;
  channels: number;
  groups: number;
  dms: number;
  messages: number;
  uploads: number;
  uploadBytes: number;
  sessions: number;
  botTokens: number;
};

/** A message of the export: where it was written and what it says now. */
export type ExportMessage = {
  id: string;
  conversationId: string;
  conversationKind: string;
  serverId: string | null;
  seq: number;
  body: string;
  kind: string;
  createdAt: number;
  editedAt: number | null;
  deletedAt: number | null;
};

/** An upload of the export: never its bytes. */
export type ExportUpload = {
  id: string;
  purpose: string;
  name: string;
  size: number;
  type: string;
  createdAt: number;
  uploadedAt: number | null;
  messageId: string | null;
};

/** A report the account filed, for its export. */
export type ExportReport = {
  id: number;
  serverId: string | null;
  conversationId: string | null;
  messageId: string | null;
  targetUserId: string | null;
  reason: string;
  details: string | null;
  status: string;
  resolution: string | null;
  createdAt: number;
};

/** Where the operators' signal lives in `meta`: a number bumped by `natter admin` after changing accounts. */
export const ACCOUNTS_SIGNAL = 'accounts_signal';

/** The username key a deleted account's row keeps: nobody can type it, so the name is free again. */
export function deletedKey(id: string): string {
  return `#deleted:${id}`;
}

/** A password hash no password matches (bcrypt hashes start with `$2`). */
export const UNUSABLE_HASH = '!deleted';

/** Prepared queries on whole accounts (SQLite). */
export function accountQueries(db: Db) {
  const sqlite = db.$client;
  const one = <R>(text: string, ...args: unknown[]): R | undefined =>
    sqlite.prepare(text).get(...args) as R | undefined;
  const all = <R>(text: string, ...args: unknown[]): R[] => sqlite.prepare(text).all(...args) as R[];
  const run = (text: string, ...args: unknown[]): number => sqlite.prepare(text).run(...args).changes;
  const count = (text: string, ...args: unknown[]): number => one<{ n: number }>(text, ...args)?.n ?? 0;

  const deleteAccount = sqlite.transaction((userId: string, now: number, mode: DeletedMessages): DeletionCounts => {
    const sessions = run('DELETE FROM sessions WHERE user_id = ?', userId);
    run('DELETE FROM login_addresses WHERE user_id = ?', userId);
    let memberships = run('DELETE FROM members WHERE user_id = ?', userId);
    run('DELETE FROM bans WHERE user_id = ?', userId);
    // A DM stays for the other person, who sees "deleted user" across from them: the row
    // that names the deleted account as its peer stays; its groups go on without it.
    memberships += run(
      `DELETE FROM conversation_members WHERE user_id = ?
          AND conversation_id IN (SELECT id FROM conversations WHERE kind <> 'dm')`,
      userId,
    );
    run('DELETE FROM group_invites WHERE user_id = ? OR invited_by = ?', userId, userId);
    run('DELETE FROM read_states WHERE user_id = ?', userId);
    run('DELETE FROM blocks WHERE user_id = ? OR blocked_id = ?', userId, userId);
    run('DELETE FROM username_holds WHERE user_id = ?', userId);
    // Mail to the account's addresses (its email, and any it was confirming) names the person: it goes too.
    run(
      `DELETE FROM mail_outbox WHERE to_address IN (
         SELECT email FROM users WHERE id = ? AND email IS NOT NULL UNION SELECT address FROM account_codes WHERE user_id = ?)`,
      userId,
      userId,
    );
    run('DELETE FROM account_codes WHERE user_id = ?', userId);
    run('DELETE FROM mentions WHERE user_id = ?', userId);
    run('DELETE FROM usage WHERE user_id = ?', userId);
    run('DELETE FROM upload_usage WHERE user_id = ?', userId);
    run('DELETE FROM held_messages WHERE author_id = ?', userId);
    let messagesRemoved = 0;
    if (mode === 'remove') {
      run(
        'DELETE FROM mentions WHERE message_id IN (SELECT id FROM messages WHERE author_id = ? AND deleted_at IS NULL)',
        userId,
      );
      messagesRemoved = run(
        "UPDATE messages SET body = '', search_text = NULL, deleted_at = ? WHERE author_id = ? AND deleted_at IS NULL",
        now,
        userId,
      );
    }
    // Files of messages that stay (kept, or others' deleted tombstones keep none) stay with them;
    // a server's icon stays with its server; the rest (the picture, unused slots) goes.
    const uploadsRemoved = run(
      `DELETE FROM attachments WHERE owner_id = ? AND purpose <> 'server-icon' AND (
         message_id IS NULL OR message_id IN (SELECT id FROM messages WHERE author_id = ? AND deleted_at IS NOT NULL))`,
      userId,
      userId,
    );
    run(
      `UPDATE users SET username = 'deleted user', username_key = ?, username_capital_key = NULL, password_hash = ?,
         display_name = NULL, status = NULL, bio = NULL, avatar_id = NULL, email = NULL, email_verified_at = NULL,
         verify_by = NULL, operator = 0, disabled_at = NULL, group_adds = 'invite', updated_at = ?, deleted_at = ?
       WHERE id = ?`,
      deletedKey(userId),
      UNUSABLE_HASH,
      now,
      now,
      userId,
    );
    return { sessions, messagesRemoved, uploadsRemoved, memberships };
  });

  const bumpSignal = sqlite.prepare(
    `INSERT INTO meta (key, value) VALUES (?, '1')
       ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
  );

  return {
    /**
     * Deletes an account in one transaction (a savepoint inside a write
     * batch): its sessions, tokens, memberships, blocks, invitations, read
     * positions, holds, codes and uploads go; with `remove` its messages are
     * blanked as a deletion blanks them; the row stays as a tombstone with
     * no name, no password and nothing personal, so others' history keeps
     * an author ("deleted user"). The caller has checked it owns no server.
     */
    deleteAccount: (userId: string, now: number, mode: DeletedMessages): DeletionCounts =>
      deleteAccount(userId, now, mode),
    /** The servers `userId` owns, by name. */
    ownedServers: (userId: string): OwnedServer[] =>
      all<OwnedServer>('SELECT id, name FROM servers WHERE owner_id = ? ORDER BY name, id', userId),
    /** Disables (`at`) or enables (null) an account; false when it already was so, or is deleted. */
    setDisabled: (userId: string, at: number | null): boolean =>
      run(
        at === null
          ? 'UPDATE users SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL AND deleted_at IS NULL'
          : 'UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL AND deleted_at IS NULL',
        ...(at === null ? [userId] : [at, userId]),
      ) === 1,
    /**
     * Accounts (not deleted) by username key after `after`, at most `limit`:
     * those whose name or display name holds `search` (any case), only the
     * disabled ones with `disabledOnly`.
     */
    list: (search: string | null, disabledOnly: boolean, after: string | null, limit: number): AccountListRow[] => {
      const like = search === null ? null : `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      return all<Record<string, unknown>>(
        `SELECT u.*, (SELECT count(*) FROM sessions s WHERE s.user_id = u.id) AS n_sessions,
                (SELECT max(coalesce(s.last_seen_at, s.created_at)) FROM sessions s WHERE s.user_id = u.id) AS last_seen
           FROM users u
          WHERE u.deleted_at IS NULL
            AND (? IS NULL OR lower(u.username) LIKE ? ESCAPE '\\' OR lower(coalesce(u.display_name, '')) LIKE ? ESCAPE '\\')
            AND (? = 0 OR u.disabled_at IS NOT NULL)
            AND (? IS NULL OR u.username_key > ?)
          ORDER BY u.username_key LIMIT ?`,
        like,
        like,
        like,
        disabledOnly ? 1 : 0,
        after,
        after,
        limit,
      ).map((r) => ({
        ...rawUser(r),
        sessions: r.n_sessions as number,
        lastSeenAt: (r.last_seen as number | null) ?? null,
      }));
    },
    /** Counts about one account (`natter admin show`). */
    summary: (userId: string): AccountSummary => {
      const s = one<{ sessions: number; bots: number; last: number | null }>(
        `SELECT sum(kind = 'session') AS sessions, sum(kind = 'bot') AS bots,
                max(coalesce(last_seen_at, created_at)) AS last FROM sessions WHERE user_id = ?`,
        userId,
      );
      const up = one<{ n: number; bytes: number | null }>(
        'SELECT count(*) AS n, sum(size) AS bytes FROM attachments WHERE owner_id = ? AND uploaded_at IS NOT NULL',
        userId,
      );
      return {
        sessions: s?.sessions ?? 0,
        botTokens: s?.bots ?? 0,
        lastSeenAt: s?.last ?? null,
        loginAddresses: count('SELECT count(*) AS n FROM login_addresses WHERE user_id = ?', userId),
        serversOwned: all<OwnedServer>('SELECT id, name FROM servers WHERE owner_id = ? ORDER BY name, id', userId),
        serversJoined: count('SELECT count(*) AS n FROM members WHERE user_id = ?', userId),
        groups: count(
          `SELECT count(*) AS n FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
            WHERE cm.user_id = ? AND c.kind = 'group'`,
          userId,
        ),
        messages: count('SELECT count(*) AS n FROM messages WHERE author_id = ? AND deleted_at IS NULL', userId),
        uploads: up?.n ?? 0,
        uploadBytes: up?.bytes ?? 0,
      };
    },
    /** The instance's counts; `activeSince`: sessions seen since then make an account active. */
    counts: (activeSince: number): InstanceCounts => {
      const u = one<Record<string, number | null>>(
        `SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS users,
                count(*) FILTER (WHERE deleted_at IS NULL AND disabled_at IS NOT NULL) AS disabled,
                count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted,
                count(*) FILTER (WHERE operator) AS operators
           FROM users`,
      );
      const conv = one<Record<string, number | null>>(
        `SELECT count(*) FILTER (WHERE kind = 'channel') AS channels, count(*) FILTER (WHERE kind = 'group') AS groups,
                count(*) FILTER (WHERE kind = 'dm') AS dms FROM conversations`,
      );
      const up = one<{ n: number; bytes: number | null }>(
        'SELECT count(*) AS n, sum(size) AS bytes FROM attachments WHERE uploaded_at IS NOT NULL',
      );
      const ses = one<{ sessions: number | null; bots: number | null }>(
        "SELECT sum(kind = 'session') AS sessions, sum(kind = 'bot') AS bots FROM sessions",
      );
      return {
        users: u?.users ?? 0,
        active: count(
          `SELECT count(DISTINCT s.user_id) AS n FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE coalesce(s.last_seen_at, s.created_at) >= ? AND u.disabled_at IS NULL`,
          activeSince,
        ),
        disabled: u?.disabled ?? 0,
        deleted: u?.deleted ?? 0,
        operators: u?.operators ?? 0,
        servers: count('SELECT count(*) AS n FROM servers'),
        channels: conv?.channels ?? 0,
        groups: conv?.groups ?? 0,
        dms: conv?.dms ?? 0,
        messages: count('SELECT count(*) AS n FROM messages WHERE deleted_at IS NULL'),
        uploads: up?.n ?? 0,
        uploadBytes: up?.bytes ?? 0,
        sessions: ses?.sessions ?? 0,
        botTokens: ses?.bots ?? 0,
      };
    },
    /** Every session and bot token of an account, newest first. */
    sessionsOf: (userId: string): SessionRow[] =>
      all<Record<string, unknown>>('SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id', userId).map(
        (r) => ({
          id: r.id as string,
          userId: r.user_id as string,
          kind: r.kind as SessionRow['kind'],
          tokenHash: r.token_hash as string,
          name: (r.name as string | null) ?? null,
          address: (r.address as string | null) ?? null,
          createdAt: r.created_at as number,
          lastSeenAt: (r.last_seen_at as number | null) ?? null,
        }),
      ),
    /** Ends one session or bot token of an account (`sessionId`), or all of them (null); returns the ids ended. */
    endSessions: (userId: string, sessionId: string | null): string[] =>
      (sessionId === null
        ? all<{ id: string }>('DELETE FROM sessions WHERE user_id = ? RETURNING id', userId)
        : all<{ id: string }>('DELETE FROM sessions WHERE user_id = ? AND id = ? RETURNING id', userId, sessionId)
      ).map((r) => r.id),
    /**
     * Of these sessions (the connected ones), those that may go on: the
     * session still exists and its account is neither disabled nor deleted.
     */
    liveSessions: (sessionIds: readonly string[]): string[] =>
      sessionIds.length === 0
        ? []
        : all<{ id: string }>(
            `SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id IN (SELECT value FROM json_each(?)) AND u.disabled_at IS NULL AND u.deleted_at IS NULL
              ORDER BY s.id`,
            JSON.stringify(sessionIds),
          ).map((r) => r.id),
    /** The operators' signal: bumped after an admin command changed accounts, read by running servers. */
    signal: (): string => one<{ value: string }>('SELECT value FROM meta WHERE key = ?', ACCOUNTS_SIGNAL)?.value ?? '0',
    /** Bumps the operators' signal (see `signal`). */
    bumpSignal: (): void => {
      bumpSignal.run(ACCOUNTS_SIGNAL);
    },
    /** Messages `userId` wrote, oldest first, after the message `after` (by creation time, then id), at most `limit`. */
    messagesBy: (userId: string, after: { createdAt: number; id: string } | null, limit: number): ExportMessage[] =>
      all<Record<string, unknown>>(
        `SELECT m.id, m.conversation_id, c.kind AS conversation_kind, c.server_id, m.seq, m.body, m.kind, m.created_at,
                m.edited_at, m.deleted_at
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE m.author_id = ? AND (? IS NULL OR m.created_at > ? OR (m.created_at = ? AND m.id > ?))
          ORDER BY m.created_at, m.id LIMIT ?`,
        userId,
        after?.createdAt ?? null,
        after?.createdAt ?? null,
        after?.createdAt ?? null,
        after?.id ?? null,
        limit,
      ).map((r) => ({
        id: r.id as string,
        conversationId: r.conversation_id as string,
        conversationKind: r.conversation_kind as string,
        serverId: (r.server_id as string | null) ?? null,
        seq: r.seq as number,
        body: r.body as string,
        kind: r.kind as string,
        createdAt: r.created_at as number,
        editedAt: (r.edited_at as number | null) ?? null,
        deletedAt: (r.deleted_at as number | null) ?? null,
      })),
    /** Ids of the newest `limit` messages `userId` wrote that are not deleted, newest first. */
    latestBy: (userId: string, limit: number): string[] =>
      all<{ id: string }>(
        'SELECT id FROM messages WHERE author_id = ? AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT ?',
        userId,
        limit,
      ).map((r) => r.id),
    /** The files `userId` uploaded (rows only), oldest first. */
    uploadsBy: (userId: string): ExportUpload[] =>
      all<Record<string, unknown>>(
        `SELECT id, purpose, name, size, type, created_at, uploaded_at, message_id FROM attachments
          WHERE owner_id = ? ORDER BY created_at, id`,
        userId,
      ).map((r) => ({
        id: r.id as string,
        purpose: r.purpose as string,
        name: r.name as string,
        size: r.size as number,
        type: r.type as string,
        createdAt: r.created_at as number,
        uploadedAt: (r.uploaded_at as number | null) ?? null,
        messageId: (r.message_id as string | null) ?? null,
      })),
    /** The reports `userId` filed, oldest first. */
    reportsBy: (userId: string): ExportReport[] =>
      all<Record<string, unknown>>(
        `SELECT id, server_id, conversation_id, message_id, target_user_id, reason, details, status, resolution, created_at
           FROM reports WHERE reporter_id = ? ORDER BY id`,
        userId,
      ).map((r) => ({
        id: r.id as number,
        serverId: (r.server_id as string | null) ?? null,
        conversationId: (r.conversation_id as string | null) ?? null,
        messageId: (r.message_id as string | null) ?? null,
        targetUserId: (r.target_user_id as string | null) ?? null,
        reason: r.reason as string,
        details: (r.details as string | null) ?? null,
        status: r.status as string,
        resolution: (r.resolution as string | null) ?? null,
        createdAt: r.created_at as number,
      })),
  };
}
export type AccountQueries = ReturnType<typeof accountQueries>;
