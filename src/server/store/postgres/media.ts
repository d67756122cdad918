import {
  type AttachedTo,
  byMessage,
  IN_CHUNK,
  type NewAttachment,
  toAttachmentRow,
  type UploadedContent,
} from '../../db/media.js';
import type { AttachmentRow } from '../../db/schema.js';
import type { MediaStore } from '../port.js';
import { capLock, changes, type Queryable, row, rows } from './sql.js';

/** Uploaded files in PostgreSQL: the queries of the SQLite `mediaQueries` (db/media.ts). */
export class PostgresMedia implements MediaStore {
  readonly #q: Queryable;
  /** Inside a write batch (checks of a quota take their lock there). */
  readonly #inWrite: boolean;

  constructor(q: Queryable, inWrite = false) {
    this.#q = q;
    this.#inWrite = inWrite;
  }

  async insert(a: NewAttachment): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO attachments (id, owner_id, purpose, name, size, type, token_hash, upload_by, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [a.id, a.ownerId, a.purpose, a.name, a.size, a.type, a.tokenHash, a.uploadBy, a.createdAt, a.expiresAt],
    );
  }

  async byId(id: string): Promise<AttachmentRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM attachments WHERE id = $1', [id]);
    return r && toAttachmentRow(r);
  }

  async complete(id: string, c: UploadedContent): Promise<boolean> {
    const n = await changes(
      this.#q,
      `UPDATE attachments SET sha256 = $2, thumb_sha256 = $3, type = $4, width = $5, height = $6, duration_ms = $7,
         uploaded_at = $8, name = coalesce($9, name), size = coalesce($10::bigint, size)
       WHERE id = $1 AND sha256 IS NULL`,
      [
        id,
        c.sha256,
        c.thumbSha256,
        c.type,
        c.width,
        c.height,
        c.durationMs,
        c.uploadedAt,
        c.name ?? null,
        c.size ?? null,
      ],
    );
    return n === 1;
  }

  async remove(id: string): Promise<boolean> {
    return (await changes(this.#q, 'DELETE FROM attachments WHERE id = $1', [id])) === 1;
  }

  async removeSlot(id: string): Promise<boolean> {
    return (await changes(this.#q, 'DELETE FROM attachments WHERE id = $1 AND sha256 IS NULL', [id])) === 1;
  }

  async ofMessages(messageIds: readonly string[]): Promise<Map<string, AttachmentRow[]>> {
    if (messageIds.length === 0) return new Map();
    const found = await rows(
      this.#q,
      'SELECT * FROM attachments WHERE message_id = ANY($1) ORDER BY message_id, position',
      [messageIds],
    );
    return byMessage(found.map(toAttachmentRow));
  }

  async attach(ids: readonly string[], to: AttachedTo): Promise<boolean> {
    let ok = true;
    for (const [position, id] of ids.entries()) {
      const n = await changes(
        this.#q,
        `UPDATE attachments SET message_id = $1, conversation_id = $2, server_id = $3, position = $4, expires_at = NULL
         WHERE id = $5 AND message_id IS NULL`,
        [to.messageId, to.conversationId, to.serverId, position, id],
      );
      if (n !== 1) ok = false;
    }
    return ok;
  }

  async keep(id: string, serverId: string | null): Promise<void> {
    await changes(this.#q, 'UPDATE attachments SET expires_at = NULL, server_id = $1 WHERE id = $2', [serverId, id]);
  }

  async expireAt(id: string, at: number | null): Promise<void> {
    await changes(this.#q, 'UPDATE attachments SET expires_at = $1 WHERE id = $2 AND message_id IS NULL', [at, id]);
  }

  async detachMessage(messageId: string): Promise<number> {
    return changes(this.#q, 'DELETE FROM attachments WHERE message_id = $1', [messageId]);
  }

  async storedBytes(): Promise<number> {
    const r = await row<{ n: number }>(
      this.#q,
      'SELECT coalesce(sum(size), 0)::int8 AS n FROM attachments WHERE sha256 IS NOT NULL',
    );
    return r?.n ?? 0;
  }

  async serverBytes(serverId: string): Promise<number> {
    // Two natters attaching to one server at once: the second waits for the first's total.
    if (this.#inWrite) await capLock(this.#q, `media\n${serverId}`);
    const r = await row<{ n: number }>(
      this.#q,
      'SELECT coalesce(sum(size), 0)::int8 AS n FROM attachments WHERE server_id = $1',
      [serverId],
    );
    return r?.n ?? 0;
  }

  async usageOn(userId: string, day: number): Promise<number> {
    if (this.#inWrite) await capLock(this.#q, `uploads\n${userId}`);
    const r = await row<{ bytes: number }>(this.#q, 'SELECT bytes FROM upload_usage WHERE user_id = $1 AND day = $2', [
      userId,
      day,
    ]);
    return r?.bytes ?? 0;
  }

  async addUsage(userId: string, day: number, bytes: number): Promise<void> {
    if (bytes >= 0) {
      await changes(
        this.#q,
        `INSERT INTO upload_usage (user_id, day, bytes) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, day) DO UPDATE SET bytes = upload_usage.bytes + excluded.bytes`,
        [userId, day, bytes],
      );
    } else {
      await changes(
        this.#q,
        'UPDATE upload_usage SET bytes = greatest(bytes - $1, 0) WHERE user_id = $2 AND day = $3',
        [-bytes, userId, day],
      );
    }
  }

  async pruneUsage(day: number): Promise<number> {
    return changes(this.#q, 'DELETE FROM upload_usage WHERE day < $1', [day]);
  }

  async expired(now: number, limit: number): Promise<string[]> {
    const found = await rows<{ id: string }>(
      this.#q,
      'SELECT id FROM attachments WHERE expires_at IS NOT NULL AND expires_at < $1 ORDER BY expires_at LIMIT $2',
      [now, limit],
    );
    return found.map((r) => r.id);
  }

  async referenced(shas: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < shas.length; i += IN_CHUNK) {
      const chunk = shas.slice(i, i + IN_CHUNK);
      const named = await rows<{ sha: string }>(
        this.#q,
        `SELECT sha256 AS sha FROM attachments WHERE sha256 = ANY($1)
         UNION SELECT thumb_sha256 FROM attachments WHERE thumb_sha256 = ANY($1)`,
        [chunk],
      );
      for (const r of named) found.add(r.sha);
    }
    return found;
  }

  async setIcon(serverId: string, attachmentId: string | null): Promise<void> {
    await changes(this.#q, 'UPDATE servers SET icon_id = $1 WHERE id = $2', [attachmentId, serverId]);
  }
}
