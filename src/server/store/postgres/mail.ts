import {
  byDue,
  type CodePurpose,
  FAILURE_COLUMNS,
  type NewMail,
  type OutboxSummary,
  toCode,
  toMail,
} from '../../db/mail.js';
import type { AccountCodeRow, MailRow } from '../../db/schema.js';
import type { MailStore } from '../port.js';
import { changes, type Queryable, rows } from './sql.js';

/** Mailed codes, the mail outbox and unconfirmed accounts in PostgreSQL: the queries of the SQLite `mailQueries` (db/mail.ts). */
export class PostgresMail implements MailStore {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  async putCode(row: AccountCodeRow): Promise<void> {
    await this.dropCodes(row.userId, row.purpose);
    await changes(
      this.#q,
      `INSERT INTO account_codes (id, user_id, purpose, address, code_hash, created_at, expires_at, tries, used_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [row.id, row.userId, row.purpose, row.address, row.codeHash, row.createdAt, row.expiresAt, row.tries, row.usedAt],
    );
  }

  async latestCode(userId: string, purpose: CodePurpose): Promise<AccountCodeRow | undefined> {
    const [r] = await rows(
      this.#q,
      'SELECT * FROM account_codes WHERE user_id = $1 AND purpose = $2 ORDER BY created_at DESC, id DESC LIMIT 1',
      [userId, purpose],
    );
    return r ? toCode(r) : undefined;
  }

  async addTry(id: string): Promise<number> {
    const [r] = await rows(this.#q, 'UPDATE account_codes SET tries = tries + 1 WHERE id = $1 RETURNING tries', [id]);
    return r ? Number(r.tries) : 0;
  }

  async useCode(id: string, now: number): Promise<boolean> {
    return (
      (await changes(this.#q, 'UPDATE account_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL', [now, id])) ===
      1
    );
  }

  async dropCodes(userId: string, purpose: CodePurpose): Promise<void> {
    await changes(this.#q, 'DELETE FROM account_codes WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
  }

  async pruneCodes(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      'DELETE FROM account_codes WHERE id IN (SELECT id FROM account_codes WHERE expires_at < $1 LIMIT $2)',
      [before, limit],
    );
  }

  async enqueue(mail: NewMail): Promise<number> {
    const [r] = await rows(
      this.#q,
      `INSERT INTO mail_outbox (kind, to_address, subject, body, created_at, attempts, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, 0, $5) RETURNING id`,
      [mail.kind, mail.toAddress, mail.subject, mail.body, mail.createdAt],
    );
    return Number(r?.id);
  }

  /**
   * The rows are locked as they are picked (those another node is claiming
   * are skipped), and the claim's conditions are checked again on the row as
   * it is when updated: two nodes never both claim one mail.
   */
  async claim(now: number, until: number, limit: number): Promise<MailRow[]> {
    // A CTE that locks is evaluated once (a subquery under IN may run again, and pick more).
    const claimed = (
      await rows(
        this.#q,
        `WITH picked AS (
           SELECT id FROM mail_outbox
            WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2
              AND (claimed_until IS NULL OR claimed_until <= $2)
            ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         UPDATE mail_outbox m SET claimed_until = $1 FROM picked
          WHERE m.id = picked.id
            AND m.sent_at IS NULL AND m.failed_at IS NULL AND (m.claimed_until IS NULL OR m.claimed_until <= $2)
          RETURNING m.*`,
        [until, now, limit],
      )
    ).map(toMail);
    return claimed.sort(byDue);
  }

  async markSent(id: number, now: number): Promise<void> {
    await changes(
      this.#q,
      `UPDATE mail_outbox SET sent_at = $1, attempts = attempts + 1, next_attempt_at = NULL, claimed_until = NULL,
         body = '', last_error = NULL WHERE id = $2`,
      [now, id],
    );
  }

  async markRetry(id: number, at: number, error: string, counted: boolean): Promise<void> {
    await changes(
      this.#q,
      `UPDATE mail_outbox SET attempts = attempts + $1, next_attempt_at = $2, claimed_until = NULL, last_error = $3
        WHERE id = $4`,
      [counted ? 1 : 0, at, error, id],
    );
  }

  async markFailed(id: number, now: number, error: string): Promise<void> {
    await changes(
      this.#q,
      `UPDATE mail_outbox SET failed_at = $1, attempts = attempts + 1, next_attempt_at = NULL, claimed_until = NULL,
         body = '', last_error = $2 WHERE id = $3`,
      [now, error, id],
    );
  }

  async pending(): Promise<number> {
    const [r] = await rows(
      this.#q,
      'SELECT count(*)::int8 AS n FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL',
    );
    return Number(r?.n ?? 0);
  }

  async nextDue(): Promise<number | null> {
    const [r] = await rows(
      this.#q,
      `SELECT min(greatest(next_attempt_at, coalesce(claimed_until, 0))) AS at FROM mail_outbox
        WHERE sent_at IS NULL AND failed_at IS NULL`,
    );
    return r?.at == null ? null : Number(r.at);
  }

  async summary(limit: number): Promise<OutboxSummary> {
    const [c] = await rows(
      this.#q,
      `SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL)::int8 AS pending,
              count(*) FILTER (WHERE sent_at IS NOT NULL)::int8 AS sent,
              count(*) FILTER (WHERE failed_at IS NOT NULL)::int8 AS failed
         FROM mail_outbox`,
    );
    const failures = await rows(
      this.#q,
      `SELECT ${FAILURE_COLUMNS} FROM mail_outbox WHERE last_error IS NOT NULL AND sent_at IS NULL
        ORDER BY coalesce(failed_at, next_attempt_at) DESC, id DESC LIMIT $1`,
      [limit],
    );
    return {
      pending: Number(c?.pending ?? 0),
      sent: Number(c?.sent ?? 0),
      failed: Number(c?.failed ?? 0),
      failures: failures.map((r) => {
        const { subject: _s, body: _b, ...rest } = toMail(r);
        return rest;
      }),
    };
  }

  async pruneOutbox(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      `DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox
         WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1 LIMIT $2)`,
      [before, limit],
    );
  }

  async overdueUnconfirmed(now: number, limit: number): Promise<string[]> {
    return (
      await rows<{ id: string }>(
        this.#q,
        'SELECT id FROM users WHERE verify_by IS NOT NULL AND verify_by <= $1 ORDER BY verify_by LIMIT $2',
        [now, limit],
      )
    ).map((r) => r.id);
  }

  async removeUnconfirmed(id: string, now: number): Promise<boolean> {
    return (
      (await changes(this.#q, 'DELETE FROM users WHERE id = $1 AND verify_by IS NOT NULL AND verify_by <= $2', [
        id,
        now,
      ])) === 1
    );
  }
}
