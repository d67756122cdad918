import type { Db } from './index.js';
import type { ConversationRow, ReportRow } from './schema.js';

/** A report to record: everything but what the database gives (its id) and what resolving it sets. */
export type NewReport = Omit<ReportRow, 'id' | 'status' | 'resolution' | 'resolvedBy' | 'note' | 'resolvedAt'>;

/** A report with where its message is: the conversation's kind and name (null when there is none, or it is gone). */
export type ReportView = ReportRow & {
  conversationKind: ConversationRow['kind'] | null;
  conversationName: string | null;
};

/** How a report was resolved, as `resolve` records it. */
export type ReportResolution = { resolution: string; resolvedBy: string; note: string | null; resolvedAt: number };

/**
 * Which reports a page holds: a server's (`serverId`), or the instance
 * operators' queue (`serverId` null: reports from DMs and groups, and of
 * users outside any server); `open`, `resolved` or both (`status` null); never
 * those about `viewer` (nobody learns who reported them).
 */
export type ReportFilter = { serverId: string | null; status: 'open' | 'resolved' | null; viewer: string };

/** The target key of a reported message: message ids are unique across the instance. */
export function messageTargetKey(messageId: string): string {
  return `m:${messageId}`;
}

/** The target key of a reported user: in a server (`u:<user>:<server>`), or for the instance (`u:<user>`). */
export function userTargetKey(userId: string, serverId: string | null): string {
  return serverId === null ? `u:${userId}` : `u:${userId}:${serverId}`;
}

/** A `reports` row (joined with its conversation's kind and name) as both backends' drivers return it (snake_case columns). */
export function toReport(r: Record<string, unknown>): ReportView {
  const nullable = <T>(v: unknown) => (v as T | null | undefined) ?? null;
  return {
    id: r.id as number,
    serverId: nullable<string>(r.server_id),
    conversationId: nullable<string>(r.conversation_id),
    messageId: nullable<string>(r.message_id),
    messageSeq: nullable<number>(r.message_seq),
    targetUserId: nullable<string>(r.target_user_id),
    targetKey: r.target_key as string,
    reporterId: nullable<string>(r.reporter_id),
    reason: r.reason as ReportRow['reason'],
    details: nullable<string>(r.details),
    snapshot: nullable<string>(r.snapshot),
    status: r.status as ReportRow['status'],
    resolution: nullable<string>(r.resolution),
    resolvedBy: nullable<string>(r.resolved_by),
    note: nullable<string>(r.note),
    createdAt: r.created_at as number,
    resolvedAt: nullable<number>(r.resolved_at),
    conversationKind: nullable<ConversationRow['kind']>(r.conversation_kind),
    conversationName: nullable<string>(r.conversation_name),
  };
}

/** The columns of a report with its conversation's kind and name, for `FROM reports r LEFT JOIN conversations c`. */
export const REPORT_COLUMNS = 'r.*, c.kind AS conversation_kind, c.name AS conversation_name';

/** Queries on reports of messages and users (see `reports` in schema.ts). */
export function reportQueries(db: Db) {
  const sqlite = db.$client;
  const insert = sqlite.prepare<unknown[], { id: number }>(
    `INSERT INTO reports (server_id, conversation_id, message_id, message_seq, target_user_id, target_key,
       reporter_id, reason, details, snapshot, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  );
  const byId = sqlite.prepare(
    `SELECT ${REPORT_COLUMNS} FROM reports r LEFT JOIN conversations c ON c.id = r.conversation_id WHERE r.id = ?`,
  );
  const openFor = sqlite.prepare<[string, string], { id: number }>(
    "SELECT id FROM reports WHERE reporter_id = ? AND target_key = ? AND status = 'open'",
  );
  const openCount = sqlite.prepare<[string], { n: number }>(
    "SELECT count(*) AS n FROM reports WHERE reporter_id = ? AND status = 'open'",
  );
  const openTotal = sqlite.prepare<[], { n: number }>("SELECT count(*) AS n FROM reports WHERE status = 'open'");
  const resolve = sqlite.prepare(
    `UPDATE reports SET status = 'resolved', resolution = ?, resolved_by = ?, note = ?, resolved_at = ?
     WHERE id = ? AND status = 'open'`,
  );
  const serverPage = sqlite.prepare(
    `SELECT ${REPORT_COLUMNS} FROM reports r LEFT JOIN conversations c ON c.id = r.conversation_id
     WHERE r.server_id = ? AND (? IS NULL OR r.status = ?) AND (? IS NULL OR r.id < ?)
       AND (r.target_user_id IS NULL OR r.target_user_id <> ?)
     ORDER BY r.id DESC LIMIT ?`,
  );
  const instancePage = sqlite.prepare(
    `SELECT ${REPORT_COLUMNS} FROM reports r LEFT JOIN conversations c ON c.id = r.conversation_id
     WHERE r.server_id IS NULL AND (? IS NULL OR r.status = ?) AND (? IS NULL OR r.id < ?)
       AND (r.target_user_id IS NULL OR r.target_user_id <> ?)
     ORDER BY r.id DESC LIMIT ?`,
  );
  return {
    /** Records a report in the write under way; returns its id. */
    insert: (report: NewReport): number => {
      const row = insert.get(
        report.serverId,
        report.conversationId,
        report.messageId,
        report.messageSeq,
        report.targetUserId,
        report.targetKey,
        report.reporterId,
        report.reason,
        report.details,
        report.snapshot,
        report.createdAt,
      );
      if (!row) throw new Error('report insert returned nothing');
      return row.id;
    },
    byId: (id: number): ReportView | undefined => {
      const r = byId.get(id) as Record<string, unknown> | undefined;
      return r && toReport(r);
    },
    /** The id of `reporterId`'s open report about `targetKey`, if any. */
    openFor: (reporterId: string, targetKey: string): number | undefined => openFor.get(reporterId, targetKey)?.id,
    /** How many reports of `reporterId` are open (the cap `openReportsPerUser`). */
    openCount: (reporterId: string): number => openCount.get(reporterId)?.n ?? 0,
    /** How many reports are open on the whole instance (for metrics; on the index by status). */
    openTotal: (): number => openTotal.get()?.n ?? 0,
    /** Resolves an open report; false when it is not open (resolved already, or there is no such report). */
    resolve: (id: number, r: ReportResolution): boolean =>
      resolve.run(r.resolution, r.resolvedBy, r.note, r.resolvedAt, id).changes === 1,
    /** Up to `limit` reports `filter` selects with an id below `beforeId` (all without it), newest first. */
    page: (filter: ReportFilter, beforeId: number | null, limit: number): ReportView[] =>
      (
        (filter.serverId === null
          ? instancePage.all(filter.status, filter.status, beforeId, beforeId, filter.viewer, limit)
          : serverPage.all(
              filter.serverId,
              filter.status,
              filter.status,
              beforeId,
              beforeId,
              filter.viewer,
              limit,
            )) as Record<string, unknown>[]
      ).map(toReport),
  };
}

export type ReportQueries = ReturnType<typeof reportQueries>;
