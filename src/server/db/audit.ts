import type { Db } from './index.js';
import type { AuditRow } from './schema.js';

/** An entry to record: everything but its id, which the log gives. */
export type AuditEntry = Omit<AuditRow, 'id'>;

/** Which entries a page of the audit log holds: one action, one actor, or all. */
export type AuditFilter = { action: string | null; actorId: string | null };

/** An `audit_log` row as both backends' drivers return it (snake_case columns). */
export function toAudit(r: Record<string, unknown>): AuditRow {
  return {
    id: r.id as number,
    serverId: r.server_id as string,
    action: r.action as string,
    actorId: (r.actor_id as string | null) ?? null,
    targetUserId: (r.target_user_id as string | null) ?? null,
    targetId: (r.target_id as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    details: (r.details as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

/** Queries on servers' audit logs (see `auditLog` in schema.ts). */
export function auditQueries(db: Db) {
  const sqlite = db.$client;
  const add = sqlite.prepare(
    `INSERT INTO audit_log (server_id, action, actor_id, target_user_id, target_id, reason, details, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const page = sqlite.prepare(
    `SELECT * FROM audit_log WHERE server_id = ? AND (? IS NULL OR id < ?)
       AND (? IS NULL OR action = ?) AND (? IS NULL OR actor_id = ?)
     ORDER BY id DESC LIMIT ?`,
  );
  const prune = sqlite.prepare<[number, number]>(
    'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < ? LIMIT ?)',
  );
  return {
    /** Records `entry` in the write under way. */
    add: (entry: AuditEntry): void => {
      add.run(
        entry.serverId,
        entry.action,
        entry.actorId,
        entry.targetUserId,
        entry.targetId,
        entry.reason,
        entry.details,
        entry.createdAt,
      );
    },
    /** Up to `limit` entries of a server's log older than `beforeId` (all without it), newest first. */
    page: (serverId: string, filter: AuditFilter, beforeId: number | null, limit: number): AuditRow[] =>
      (
        page.all(
          serverId,
          beforeId,
          beforeId,
          filter.action,
          filter.action,
          filter.actorId,
          filter.actorId,
          limit,
        ) as Record<string, unknown>[]
      ).map(toAudit),
    /** Deletes up to `limit` entries recorded before `before`; returns how many. */
    prune: (before: number, limit: number): number => prune.run(before, limit).changes,
  };
}

export type AuditQueries = ReturnType<typeof auditQueries>;
