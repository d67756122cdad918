import type { Db } from './index.js';
import type { AccountCodeRow, MailRow } from './schema.js';

/** What a mailed code is for: confirming an address, or setting a new password. */
export type CodePurpose = AccountCodeRow['purpose'];

/** A mail to queue: the outbox gives it its id and its first try (at once). */
export type NewMail = Pick<MailRow, 'kind' | 'toAddress' | 'subject' | 'body' | 'createdAt'>;

/** How many mails wait, went and were given up, and the latest that failed (given up, or failing still). */
export type OutboxSummary = {
  pending: number;
  sent: number;
  failed: number;
  /** Newest first: what an operator needs to see why mail does not leave (never a body). */
  failures: Omit<MailRow, 'subject' | 'body'>[];
};

/** An `account_codes` row as both backends' drivers return it. */
export function toCode(r: Record<string, unknown>): AccountCodeRow {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    purpose: r.purpose as CodePurpose,
    address: r.address as string,
    codeHash: r.code_hash as string,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    tries: Number(r.tries),
    usedAt: r.used_at == null ? null : Number(r.used_at),
  };
}

/** A `mail_outbox` row as both backends' drivers return it. */
export function toMail(r: Record<string, unknown>): MailRow {
  const n = (v: unknown) => (v == null ? null : Number(v));
  return {
    id: Number(r.id),
    kind: r.kind as string,
    toAddress: r.to_address as string,
    subject: (r.subject as string | undefined) ?? '',
    body: (r.body as string | undefined) ?? '',
    createdAt: Number(r.created_at),
    attempts: Number(r.attempts),
    nextAttemptAt: n(r.next_attempt_at),
    claimedUntil: n(r.claimed_until),
    sentAt: n(r.sent_at),
    failedAt: n(r.failed_at),
    lastError: (r.last_error as string | null | undefined) ?? null,
  };
}

/** Mails in the order they are due (then written). */
export function byDue(a: MailRow, b: MailRow): number {
  return (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.id - b.id;
}

/** The columns of a failure as an operator sees it: no subject, no body (a body holds a code). */
export const FAILURE_COLUMNS =
  'id, kind, to_address, created_at, attempts, next_attempt_at, claimed_until, sent_at, failed_at, last_error';

/**
 * Mailed one-time codes, the mail outbox, and the accounts that never
 * confirmed the address they had to (see `accountCodes`, `mailOutbox` and
 * `users.verify_by` in schema.ts). The PostgreSQL twin is store/postgres/mail.ts.
 */
export function mailQueries(db: Db) {
  const sqlite = db.$client;
  const dropCodes = sqlite.prepare<[string, string]>('DELETE FROM account_codes WHERE user_id = ? AND purpose = ?');
  const insertCode = sqlite.prepare(
    `INSERT INTO account_codes (id, user_id, purpose, address, code_hash, created_at, expires_at, tries, used_at)
     VALUES (@id, @userId, @purpose, @address, @codeHash, @createdAt, @expiresAt, @tries, @usedAt)`,
  );
  const latestCode = sqlite.prepare<[string, string]>(
    'SELECT * FROM account_codes WHERE user_id = ? AND purpose = ? ORDER BY created_at DESC, id DESC LIMIT 1',
  );
  const addTry = sqlite.prepare<[string]>('UPDATE account_codes SET tries = tries + 1 WHERE id = ? RETURNING tries');
  const useCode = sqlite.prepare<[number, string]>(
    'UPDATE account_codes SET used_at = ? WHERE id = ? AND used_at IS NULL',
  );
  const pruneCodes = sqlite.prepare<[number, number]>(
    'DELETE FROM account_codes WHERE id IN (SELECT id FROM account_codes WHERE expires_at < ? LIMIT ?)',
  );
  const enqueue = sqlite.prepare(
    `INSERT INTO mail_outbox (kind, to_address, subject, body, created_at, attempts, next_attempt_at)
     VALUES (@kind, @toAddress, @subject, @body, @createdAt, 0, @createdAt) RETURNING id`,
  );
  const claim = sqlite.prepare<[number, number, number, number]>(
    `UPDATE mail_outbox SET claimed_until = ?
      WHERE id IN (SELECT id FROM mail_outbox
                    WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?
                      AND (claimed_until IS NULL OR claimed_until <= ?)
                    ORDER BY next_attempt_at, id LIMIT ?)
      RETURNING *`,
  );
  const sent = sqlite.prepare<[number, number]>(
    `UPDATE mail_outbox SET sent_at = ?, attempts = attempts + 1, next_attempt_at = NULL, claimed_until = NULL,
       body = '', last_error = NULL WHERE id = ?`,
  );
  const retry = sqlite.prepare<[number, number, string, number]>(
    `UPDATE mail_outbox SET attempts = attempts + ?, next_attempt_at = ?, claimed_until = NULL, last_error = ?
      WHERE id = ?`,
  );
  const failed = sqlite.prepare<[number, string, number]>(
    `UPDATE mail_outbox SET failed_at = ?, attempts = attempts + 1, next_attempt_at = NULL, claimed_until = NULL,
       body = '', last_error = ? WHERE id = ?`,
  );
  const pending = sqlite.prepare<[], { n: number }>(
    'SELECT count(*) AS n FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL',
  );
  const nextDue = sqlite.prepare<[], { at: number | null }>(
    'SELECT min(max(next_attempt_at, coalesce(claimed_until, 0))) AS at FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL',
  );
  const counts = sqlite.prepare<[], { pending: number; sent: number; failed: number }>(
    `SELECT coalesce(sum(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0) AS pending,
            coalesce(sum(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS sent,
            coalesce(sum(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS failed
       FROM mail_outbox`,
  );
  const failures = sqlite.prepare<[number]>(
    `SELECT ${FAILURE_COLUMNS} FROM mail_outbox WHERE last_error IS NOT NULL AND sent_at IS NULL
      ORDER BY coalesce(failed_at, next_attempt_at) DESC, id DESC LIMIT ?`,
  );
  const pruneOutbox = sqlite.prepare<[number, number]>(
    `DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox
       WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < ? LIMIT ?)`,
  );
  const overdue = sqlite.prepare<[number, number], { id: string }>(
    'SELECT id FROM users WHERE verify_by IS NOT NULL AND verify_by <= ? ORDER BY verify_by LIMIT ?',
  );
  const removeUnconfirmed = sqlite.prepare<[string, number]>(
    'DELETE FROM users WHERE id = ? AND verify_by IS NOT NULL AND verify_by <= ?',
  );
  return {
    /** Stores a new code, ending every earlier code of the same user and purpose (a new code supersedes them). */
    putCode: (row: AccountCodeRow): void => {
      dropCodes.run(row.userId, row.purpose);
      insertCode.run(row);
    },
    /** The user's newest code of `purpose` (used, expired or not), if any. */
    latestCode: (userId: string, purpose: CodePurpose): AccountCodeRow | undefined => {
      const r = latestCode.get(userId, purpose) as Record<string, unknown> | undefined;
      return r ? toCode(r) : undefined;
    },
    /** Counts a wrong code against the code `id`; returns its wrong tries so far. */
    addTry: (id: string): number => (addTry.get(id) as { tries: number } | undefined)?.tries ?? 0,
    /** Marks the code used, once: false when it already was. */
    useCode: (id: string, now: number): boolean => useCode.run(now, id).changes === 1,
    /** Ends the user's codes of `purpose`. */
    dropCodes: (userId: string, purpose: CodePurpose): void => {
      dropCodes.run(userId, purpose);
    },
    /** Deletes up to `limit` codes that expired before `before`; returns how many. */
    pruneCodes: (before: number, limit: number): number => pruneCodes.run(before, limit).changes,
    /** Queues a mail, due at once; returns its id. */
    enqueue: (mail: NewMail): number => (enqueue.get(mail) as { id: number }).id,
    /**
     * Claims up to `limit` mails due at `now` that nobody holds, until
     * `until`: one statement, so two nodes never claim the same mail.
     */
    claim: (now: number, until: number, limit: number): MailRow[] =>
      (claim.all(until, now, now, limit) as Record<string, unknown>[]).map(toMail).sort(byDue),
    /** Records a mail as sent (its body, which may hold a code, is dropped). */
    markSent: (id: number, now: number): void => {
      sent.run(now, id);
    },
    /**
     * Puts a mail back for another try at `at`: `counted` when it was tried
     * (and failed with `error`), not when it never left (the breaker was open).
     */
    markRetry: (id: number, at: number, error: string, counted: boolean): void => {
      retry.run(counted ? 1 : 0, at, error, id);
    },
    /** Gives a mail up (its body dropped), with the last error. */
    markFailed: (id: number, now: number, error: string): void => {
      failed.run(now, error, id);
    },
    /** Mails neither sent nor given up. */
    pending: (): number => pending.get()?.n ?? 0,
    /** When the next waiting mail is due (or its claim ends), or null when none waits. */
    nextDue: (): number | null => nextDue.get()?.at ?? null,
    /** Counts by state and the latest `limit` failures (never bodies). */
    summary: (limit: number): OutboxSummary => {
      const c = counts.get() ?? { pending: 0, sent: 0, failed: 0 };
      return {
        pending: c.pending,
        sent: c.sent,
        failed: c.failed,
        failures: (failures.all(limit) as Record<string, unknown>[]).map((r) => {
          const { subject: _s, body: _b, ...rest } = toMail(r);
          return rest;
        }),
      };
    },
    /** Deletes up to `limit` mails sent or given up, written before `before`; returns how many. */
    pruneOutbox: (before: number, limit: number): number => pruneOutbox.run(before, limit).changes,
    /** Up to `limit` accounts past the time they had to confirm an address by. */
    overdueUnconfirmed: (now: number, limit: number): string[] => overdue.all(now, limit).map((r) => r.id),
    /** Deletes the account `id` if it still has not confirmed past its time; false when it did meanwhile (or is gone). */
    removeUnconfirmed: (id: string, now: number): boolean => removeUnconfirmed.run(id, now).changes === 1,
  };
}

export type MailQueries = ReturnType<typeof mailQueries>;
