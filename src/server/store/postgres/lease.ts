import pg from 'pg';
import type { Lease } from '../port.js';

/**
 * The advisory lock keys of the background jobs, one per job: "natter" in
 * ASCII, then a number (1 is the migration lock, `MIGRATION_LOCK`).
 */
export const JOB_LOCKS: Readonly<Record<string, string>> = {
  maintenance: '7953757168339533826',
  backup: '7953757168339533827',
};

/** How a lease connects. */
export type LeaseOptions = {
  /** How long opening the connection may take (ms). */
  connectTimeoutMs: number;
  /** How long a statement may take before the connection is given up (ms). */
  statementTimeoutMs: number;
};

/**
 * A job's lease among the natters sharing a database: the session-level
 * advisory lock of the job (`pg_try_advisory_lock`), held on a connection
 * of its own for as long as this natter runs the job. The lock lives as long
 * as that session: a natter that stops, crashes or loses its connection
 * lets it go (PostgreSQL ends the session of a dead peer once the TCP
 * connection is seen closed, or after the server's keepalive settings for a
 * host that vanished), and the next natter to ask takes it. A natter that
 * does not hold the lease keeps no connection open for it.
 */
export class PostgresLease implements Lease {
  #client: pg.Client | null = null;
  #held = false;
  #released = false;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly options: LeaseOptions,
  ) {}

  async hold(): Promise<boolean> {
    if (this.#released) return false;
    if (this.#held && this.#client) {
      try {
        // Still ours while the session lives: a session that ended took the lock with it.
        await this.#client.query('SELECT 1');
        return true;
      } catch {
        await this.#drop();
      }
    }
    try {
      const client = await this.#connect();
      const r = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [this.key]);
      this.#held = r.rows[0]?.got === true;
    } catch {
      this.#held = false;
    }
    if (!this.#held) await this.#drop();
    return this.#held;
  }

  async release(): Promise<void> {
    this.#released = true;
    // Ending the session lets the lock go.
    await this.#drop();
  }

  async #connect(): Promise<pg.Client> {
    await this.#drop();
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      statement_timeout: this.options.statementTimeoutMs,
      query_timeout: this.options.statementTimeoutMs + 500,
      keepAlive: true,
      application_name: 'natter lease',
    });
    // A lost connection is noticed at the next hold(); until then the lease counts as lost.
    client.on('error', () => {
      this.#held = false;
    });
    client.on('end', () => {
      this.#held = false;
    });
    this.#client = client;
    await client.connect();
    return client;
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    this.#held = false;
    if (client) await client.end().catch(() => {});
  }
}
