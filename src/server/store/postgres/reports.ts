import {
  type NewReport,
  REPORT_COLUMNS,
  type ReportFilter,
  type ReportResolution,
  type ReportView,
  toReport,
} from '../../db/reports.js';
import type { ReportStore } from '../port.js';
import { capLock, changes, type Queryable, row, rows } from './sql.js';

/** Reports of messages and users in PostgreSQL: the queries of the SQLite `reportQueries` (db/reports.ts). */
export class PostgresReports implements ReportStore {
  readonly #q: Queryable;
  /** Inside a write batch (checks of a cap take their lock there). */
  readonly #inWrite: boolean;

  constructor(q: Queryable, inWrite = false) {
    this.#q = q;
    this.#inWrite = inWrite;
  }

  /** Inside a write: the lock on a reporter's open reports, so two natters cannot both slip under the cap. */
  async #lockReporter(reporterId: string): Promise<void> {
    if (this.#inWrite) await capLock(this.#q, `reports\n${reporterId}`);
  }

  async insert(report: NewReport): Promise<number> {
    const r = await row<{ id: number }>(
      this.#q,
      `INSERT INTO reports (server_id, conversation_id, message_id, message_seq, target_user_id, target_key,
         reporter_id, reason, details, snapshot, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
      [
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
      ],
    );
    if (!r) throw new Error('report insert returned nothing');
    return r.id;
  }

  async byId(id: number): Promise<ReportView | undefined> {
    const r = await row(
      this.#q,
      `SELECT ${REPORT_COLUMNS} FROM reports r LEFT JOIN conversations c ON c.id = r.conversation_id WHERE r.id = $1`,
      [id],
    );
    return r && toReport(r);
  }

  async openTotal(): Promise<number> {
    const r = await row<{ n: number }>(this.#q, "SELECT count(*)::int8 AS n FROM reports WHERE status = 'open'");
    return r?.n ?? 0;
  }

  async openFor(reporterId: string, targetKey: string): Promise<number | undefined> {
    await this.#lockReporter(reporterId);
    const r = await row<{ id: number }>(
      this.#q,
      "SELECT id FROM reports WHERE reporter_id = $1 AND target_key = $2 AND status = 'open'",
      [reporterId, targetKey],
    );
    return r?.id;
  }

  async openCount(reporterId: string): Promise<number> {
    await this.#lockReporter(reporterId);
    return (
      (
        await row<{ n: number }>(
          this.#q,
          "SELECT count(*) AS n FROM reports WHERE reporter_id = $1 AND status = 'open'",
          [reporterId],
        )
      )?.n ?? 0
    );
  }

  async resolve(id: number, r: ReportResolution): Promise<boolean> {
    return (
      (await changes(
        this.#q,
        `UPDATE reports SET status = 'resolved', resolution = $1, resolved_by = $2, note = $3, resolved_at = $4
         WHERE id = $5 AND status = 'open'`,
        [r.resolution, r.resolvedBy, r.note, r.resolvedAt, id],
      )) === 1
    );
  }

  async page(filter: ReportFilter, beforeId: number | null, limit: number): Promise<ReportView[]> {
    const found =
      filter.serverId === null
        ? await rows(
            this.#q,
            `SELECT ${REPORT_COLUMNS} FROM reports r LEFT JOIN conversations c ON c.id = r.conversation_id
             WHERE r.server_id IS NULL AND ($1::text IS NULL OR r.status = $1) AND ($2::int8 IS NULL OR r.id < $2)
               AND (r.target_user_id IS NULL OR r.target_user_id <> $3)
             ORDER BY r.id DESC LIMIT $4`,
            [filter.status, beforeId, filter.viewer, limit],
          )
        : await rows(
            this.#q,
            `SELECT ${REPORT_COLUMNS} FROM reports r LEFT JOIN conversations c ON c.id = r.conversation_id
             WHERE r.server_id = $1 AND ($2::text IS NULL OR r.status = $2) AND ($3::int8 IS NULL OR r.id < $3)
               AND (r.target_user_id IS NULL OR r.target_user_id <> $4)
             ORDER BY r.id DESC LIMIT $5`,
            [filter.serverId, filter.status, beforeId, filter.viewer, limit],
          );
    return found.map(toReport);
  }
}
