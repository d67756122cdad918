import type { SessionRow } from '../../db/schema.js';
import type { SessionStore } from '../port.js';
import type { Batch } from './batch.js';
import { toSession } from './rows.js';
import { capLock, changes, placeholders, type Queryable, row, rows } from './sql.js';

/**
 * Login sessions, bot tokens and login addresses in PostgreSQL: the queries
 * of the SQLite `sessionQueries` (db/sessions.ts).
 */
export class PostgresSessions implements SessionStore {
  readonly #q: Queryable;
  readonly #inWrite: boolean;
  readonly #batch: Batch | null;

  /** @param batch `q` holds this write batch's transaction (caps are counted under a lock there) */
  constructor(q: Queryable, batch: Batch | null = null) {
    this.#q = q;
    this.#inWrite = batch !== null;
    this.#batch = batch;
  }

  async byId(id: string): Promise<SessionRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM sessions WHERE id = $1', [id]);
    return r && toSession(r);
  }

  /** Does the session or bot token still exist (inside a write batch: as the batch sees it)? */
  async exists(id: string): Promise<boolean> {
    const ahead = this.#batch?.live?.sessions.get(id);
    if (ahead !== undefined) return ahead;
    return (await row(this.#q, 'SELECT 1 AS x FROM sessions WHERE id = $1', [id])) !== undefined;
  }

  /** Has the account logged in from `address` since `since` (ms)? */
  async usedFrom(userId: string, address: string, since: number): Promise<boolean> {
    return (
      (await row(this.#q, 'SELECT 1 AS x FROM login_addresses WHERE user_id = $1 AND address = $2 AND last_at >= $3', [
        userId,
        address,
        since,
      ])) !== undefined
    );
  }

  /** Records a login of the account from `address` at `now`. */
  async recordAddress(userId: string, address: string, now: number): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO login_addresses (user_id, address, last_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, address) DO UPDATE SET last_at = greatest(login_addresses.last_at, excluded.last_at)`,
      [userId, address, now],
    );
  }

  /** Forgets up to `limit` login addresses not used since `before`; returns how many. */
  async forgetAddresses(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      `DELETE FROM login_addresses WHERE (user_id, address) IN (
         SELECT user_id, address FROM login_addresses WHERE last_at < $1 LIMIT $2)`,
      [before, limit],
    );
  }

  async count(userId: string, kind: SessionRow['kind']): Promise<number> {
    if (this.#inWrite) await capLock(this.#q, `${kind}s\n${userId}`);
    return (
      (
        await row<{ n: number }>(this.#q, 'SELECT count(*) AS n FROM sessions WHERE user_id = $1 AND kind = $2', [
          userId,
          kind,
        ])
      )?.n ?? 0
    );
  }

  /** The ids of the user's `n` least recently used login sessions. */
  async leastRecentlyUsed(userId: string, n: number): Promise<string[]> {
    return (
      await rows<{ id: string }>(
        this.#q,
        `SELECT id FROM sessions WHERE user_id = $1 AND kind = 'session'
         ORDER BY coalesce(last_seen_at, created_at), created_at, id COLLATE "C" LIMIT $2`,
        [userId, n],
      )
    ).map((r) => r.id);
  }

  /** Deletes up to `limit` login sessions unused since `before`; returns their ids. */
  async expireIdle(before: number, limit: number): Promise<string[]> {
    return (
      await rows<{ id: string }>(
        this.#q,
        `DELETE FROM sessions WHERE id IN (
           SELECT id FROM sessions WHERE kind = 'session' AND coalesce(last_seen_at, created_at) < $1 LIMIT $2)
         RETURNING id`,
        [before, limit],
      )
    ).map((r) => r.id);
  }

  async byTokenHash(hash: string): Promise<SessionRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM sessions WHERE token_hash = $1', [hash]);
    return r && toSession(r);
  }

  async insert(s: SessionRow): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO sessions (id, user_id, kind, token_hash, name, address, created_at, last_seen_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [s.id, s.userId, s.kind, s.tokenHash, s.name, s.address, s.createdAt, s.lastSeenAt],
    );
  }

  async touch(id: string, now: number): Promise<void> {
    await changes(this.#q, 'UPDATE sessions SET last_seen_at = $1 WHERE id = $2', [now, id]);
  }

  async listForUser(userId: string, kind: SessionRow['kind']): Promise<SessionRow[]> {
    // Bot tokens are capped (and their names unique per account) by what this list holds.
    if (this.#inWrite) await capLock(this.#q, `${kind}s\n${userId}`);
    return (
      await rows(
        this.#q,
        `SELECT * FROM sessions WHERE user_id = $1 AND kind = $2
         ORDER BY coalesce(last_seen_at, created_at) DESC, created_at DESC`,
        [userId, kind],
      )
    ).map(toSession);
  }

  /** Deletes one of the user's sessions of `kind`; false when there was none. */
  async revoke(userId: string, id: string, kind: SessionRow['kind']): Promise<boolean> {
    return (
      (await changes(this.#q, 'DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND kind = $3', [
        id,
        userId,
        kind,
      ])) > 0
    );
  }

  /** Deletes every session of `kind` of the user except `keepId`; returns what was deleted. */
  async revokeOthers(userId: string, kind: SessionRow['kind'], keepId: string | null): Promise<SessionRow[]> {
    const p = placeholders();
    return (
      await rows(
        this.#q,
        `DELETE FROM sessions WHERE user_id = ${p(userId)} AND kind = ${p(kind)}
           ${keepId === null ? '' : `AND id <> ${p(keepId)}`}
         RETURNING *`,
        p.values,
      )
    ).map(toSession);
  }
}
