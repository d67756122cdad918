import { type AuditEntry, type AuditFilter, toAudit } from '../../db/audit.js';
import type { AuditRow } from '../../db/schema.js';
import type { AuditStore } from '../port.js';
import { changes, type Queryable, rows } from './sql.js';

/** Servers' audit logs in PostgreSQL: the queries of the SQLite `auditQueries` (db/audit.ts). */
export class PostgresAudit implements AuditStore {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  async add(entry: AuditEntry): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO audit_log (server_id, action, actor_id, target_user_id, target_id, reason, details, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        entry.serverId,
        entry.action,
        entry.actorId,
        entry.targetUserId,
        entry.targetId,
        entry.reason,
        entry.details,
        entry.createdAt,
      ],
    );
  }

  async page(serverId: string, filter: AuditFilter, beforeId: number | null, limit: number): Promise<AuditRow[]> {
    return (
      await rows(
        this.#q,
        `SELECT * FROM audit_log WHERE server_id = $1 AND ($2::int8 IS NULL OR id < $2)
           AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR actor_id = $4)
         ORDER BY id DESC LIMIT $5`,
        [serverId, beforeId, filter.action, filter.actorId, limit],
      )
    ).map(toAudit);
  }

  async prune(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < $1 LIMIT $2)',
      [before, limit],
    );
  }
}
