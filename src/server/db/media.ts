import type { Db } from './index.js';
import type { AttachmentRow } from './schema.js';

/** A slot to record (`attachments.create`): what is known before the bytes arrive. */
export type NewAttachment = Pick<
  AttachmentRow,
  'id' | 'ownerId' | 'purpose' | 'name' | 'size' | 'type' | 'tokenHash' | 'uploadBy' | 'createdAt' | 'expiresAt'
>;

/**
 * What an upload found in the bytes it stored, recorded when it completes;
 * `name` and `size` when what is stored is not what was sent (a profile
 * picture or server icon is stored as the WebP made from it).
 */
export type UploadedContent = Pick<
  AttachmentRow,
  'sha256' | 'thumbSha256' | 'type' | 'width' | 'height' | 'durationMs' | 'uploadedAt'
> & { name?: string; size?: number };

/** Where a message's files now belong (`attach`). */
export type AttachedTo = { messageId: string; conversationId: string; serverId: string | null };

/** A UTC day as `upload_usage` counts it: days since the epoch. */
export function dayOf(ms: number): number {
  return Math.floor(ms / 86_400_000);
}

/** An `attachments` row as both backends' drivers return it (snake_case columns). */
export function toAttachmentRow(r: Record<string, unknown>): AttachmentRow {
  const nullable = <T>(v: unknown) => (v as T | null | undefined) ?? null;
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    purpose: r.purpose as AttachmentRow['purpose'],
    name: r.name as string,
    size: r.size as number,
    type: r.type as string,
    tokenHash: nullable<string>(r.token_hash),
    uploadBy: r.upload_by as number,
    sha256: nullable<string>(r.sha256),
    thumbSha256: nullable<string>(r.thumb_sha256),
    width: nullable<number>(r.width),
    height: nullable<number>(r.height),
    durationMs: nullable<number>(r.duration_ms),
    createdAt: r.created_at as number,
    uploadedAt: nullable<number>(r.uploaded_at),
    expiresAt: nullable<number>(r.expires_at),
    messageId: nullable<string>(r.message_id),
    conversationId: nullable<string>(r.conversation_id),
    serverId: nullable<string>(r.server_id),
    position: r.position as number,
  };
}

/** Groups rows by their message, each group in position order (rows come sorted). */
export function byMessage(rows: readonly AttachmentRow[]): Map<string, AttachmentRow[]> {
  const map = new Map<string, AttachmentRow[]>();
  for (const row of rows) {
    if (row.messageId === null) continue;
    const list = map.get(row.messageId);
    if (list) list.push(row);
    else map.set(row.messageId, [row]);
  }
  return map;
}

/** Most ids one `IN (...)` list holds (SQLite's bound-parameter limit is far above). */
export const IN_CHUNK = 500;

/**
 * Queries on uploaded files (see `attachments` and `upload_usage` in
 * schema.ts). The bytes are not here: they are in the blob store, named by
 * the rows' `sha256` and `thumb_sha256`.
 */
export function mediaQueries(db: Db) {
  const sqlite = db.$client;
  const insert = sqlite.prepare(
    `INSERT INTO attachments (id, owner_id, purpose, name, size, type, token_hash, upload_by, created_at, expires_at)
     VALUES (@id, @ownerId, @purpose, @name, @size, @type, @tokenHash, @uploadBy, @createdAt, @expiresAt)`,
  );
  const byId = sqlite.prepare('SELECT * FROM attachments WHERE id = ?');
  const complete = sqlite.prepare(
    `UPDATE attachments SET sha256 = @sha256, thumb_sha256 = @thumbSha256, type = @type, width = @width,
       height = @height, duration_ms = @durationMs, uploaded_at = @uploadedAt,
       name = coalesce(@name, name), size = coalesce(@size, size)
     WHERE id = @id AND sha256 IS NULL`,
  );
  const remove = sqlite.prepare('DELETE FROM attachments WHERE id = ?');
  // One statement for a page of any length: the ids as a JSON array (as mentions are read).
  const ofMessages = sqlite.prepare(
    'SELECT * FROM attachments WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY message_id, position',
  );
  const removeSlot = sqlite.prepare('DELETE FROM attachments WHERE id = ? AND sha256 IS NULL');
  const attach = sqlite.prepare(
    `UPDATE attachments SET message_id = ?, conversation_id = ?, server_id = ?, position = ?, expires_at = NULL
     WHERE id = ? AND message_id IS NULL`,
  );
  const keep = sqlite.prepare('UPDATE attachments SET expires_at = NULL, server_id = ? WHERE id = ?');
  const expireAt = sqlite.prepare('UPDATE attachments SET expires_at = ? WHERE id = ? AND message_id IS NULL');
  const detach = sqlite.prepare('DELETE FROM attachments WHERE message_id = ?');
  const serverBytes = sqlite.prepare<[string], { n: number }>(
    'SELECT coalesce(sum(size), 0) AS n FROM attachments WHERE server_id = ?',
  );
  const storedBytes = sqlite.prepare<[], { n: number }>(
    'SELECT coalesce(sum(size), 0) AS n FROM attachments WHERE sha256 IS NOT NULL',
  );
  const usageOn = sqlite.prepare<[string, number], { bytes: number }>(
    'SELECT bytes FROM upload_usage WHERE user_id = ? AND day = ?',
  );
  const addUsage = sqlite.prepare(
    `INSERT INTO upload_usage (user_id, day, bytes) VALUES (?, ?, max(?, 0))
     ON CONFLICT (user_id, day) DO UPDATE SET bytes = max(bytes + excluded.bytes, 0)`,
  );
  const subtractUsage = sqlite.prepare(
    'UPDATE upload_usage SET bytes = max(bytes - ?, 0) WHERE user_id = ? AND day = ?',
  );
  const pruneUsage = sqlite.prepare('DELETE FROM upload_usage WHERE day < ?');
  const expired = sqlite.prepare<[number, number], { id: string }>(
    'SELECT id FROM attachments WHERE expires_at IS NOT NULL AND expires_at < ? ORDER BY expires_at LIMIT ?',
  );
  const setIcon = sqlite.prepare('UPDATE servers SET icon_id = ? WHERE id = ?');
  return {
    /** Records an upload slot. */
    insert: (row: NewAttachment): void => {
      insert.run(row);
    },
    byId: (id: string): AttachmentRow | undefined => {
      const r = byId.get(id) as Record<string, unknown> | undefined;
      return r && toAttachmentRow(r);
    },
    /**
     * Records what an upload stored; false when the slot is gone or was
     * completed already (two uploads to one slot: the first wins).
     */
    complete: (id: string, content: UploadedContent): boolean =>
      complete.run({ id, ...content, name: content.name ?? null, size: content.size ?? null }).changes === 1,
    /** Deletes one row (its blob goes with the next sweep if nothing else names it); false when there was none. */
    remove: (id: string): boolean => remove.run(id).changes === 1,
    /** Deletes a slot whose upload has not completed (a refused file); false when there is none, or it completed. */
    removeSlot: (id: string): boolean => removeSlot.run(id).changes === 1,
    /** The files of each message, in order. */
    ofMessages: (messageIds: readonly string[]): Map<string, AttachmentRow[]> => {
      if (messageIds.length === 0) return new Map();
      const found = ofMessages.all(JSON.stringify(messageIds)) as Record<string, unknown>[];
      return byMessage(found.map(toAttachmentRow));
    },
    /** Gives uploads (in this order) to a message; false when one was attached meanwhile. */
    attach: (ids: readonly string[], to: AttachedTo): boolean => {
      let ok = true;
      ids.forEach((id, position) => {
        if (attach.run(to.messageId, to.conversationId, to.serverId, position, id).changes !== 1) ok = false;
      });
      return ok;
    },
    /** Puts an upload to use as a picture (no expiry), counted in `serverId`'s total if it is a server's icon. */
    keep: (id: string, serverId: string | null): void => {
      keep.run(serverId, id);
    },
    /** Sets when an unattached upload goes (a held message's files wait for the decision). */
    expireAt: (id: string, at: number | null): void => {
      expireAt.run(at, id);
    },
    /** Deletes a message's files (the message was deleted); returns how many. */
    detachMessage: (messageId: string): number => detach.run(messageId).changes,
    /** Bytes of files counted in a server's total. */
    serverBytes: (serverId: string): number => serverBytes.get(serverId)?.n ?? 0,
    /** Bytes of every completed upload (for metrics: a scan of the table, read seldom). */
    storedBytes: (): number => storedBytes.get()?.n ?? 0,
    /** Bytes of uploads `userId` asked for on `day`. */
    usageOn: (userId: string, day: number): number => usageOn.get(userId, day)?.bytes ?? 0,
    /** Adds `bytes` (or takes them back, when negative) to `userId`'s uploads of `day`. */
    addUsage: (userId: string, day: number, bytes: number): void => {
      if (bytes >= 0) addUsage.run(userId, day, bytes);
      else subtractUsage.run(-bytes, userId, day);
    },
    /** Forgets upload totals of days before `day`; returns how many. */
    pruneUsage: (day: number): number => pruneUsage.run(day).changes,
    /** Up to `limit` ids of unused uploads whose time ran out before `now`. */
    expired: (now: number, limit: number): string[] => expired.all(now, limit).map((r) => r.id),
    /** Which of `shas` some row names, as its content or its thumbnail. */
    referenced: (shas: readonly string[]): Set<string> => {
      const found = new Set<string>();
      for (let i = 0; i < shas.length; i += IN_CHUNK) {
        const chunk = shas.slice(i, i + IN_CHUNK);
        const marks = chunk.map(() => '?').join(',');
        const rows = sqlite
          .prepare(
            `SELECT sha256 AS sha FROM attachments WHERE sha256 IN (${marks})
             UNION SELECT thumb_sha256 FROM attachments WHERE thumb_sha256 IN (${marks})`,
          )
          .all(...chunk, ...chunk) as { sha: string }[];
        for (const r of rows) found.add(r.sha);
      }
      return found;
    },
    /** Sets (or clears) a server's icon. */
    setIcon: (serverId: string, attachmentId: string | null): void => {
      setIcon.run(attachmentId, serverId);
    },
  };
}

export type MediaQueries = ReturnType<typeof mediaQueries>;
