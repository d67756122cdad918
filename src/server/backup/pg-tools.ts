import { spawn, spawnSync } from 'node:child_process';
import pg from 'pg';

/** PostgreSQL's client programs natter runs for backups and restores. */
export type PgTool = 'pg_dump' | 'pg_restore';

/**
 * Whether `tool` can be run from here (on the PATH), with an error that says
 * what to install when it cannot.
 */
export function checkPgTool(tool: PgTool): void {
  const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${tool} is not installed or not on the PATH: backups of a PostgreSQL database need PostgreSQL's client programs (Debian and Ubuntu: apt install postgresql-client), of the server's major version or newer`,
    );
  }
}

/**
 * A connection URL without its password, and the password apart: a password
 * on a program's command line can be read by every user of the machine (ps).
 * The tools get it in PGPASSWORD instead; ~/.pgpass works as usual.
 */
export function splitPassword(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  if (u.password === '') return { url, env: process.env };
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: { ...process.env, PGPASSWORD: password } };
}

/** Runs a PostgreSQL tool to its end; a failure throws with the tool's own words (its stderr). */
export function runPgTool(tool: PgTool, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < 64 * 1024) stderr += c;
    });
    child.once('error', (err) => reject(new Error(`cannot run ${tool}: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else {
        const why = stderr.trim().split('\n').slice(-5).join('; ') || `exit ${code ?? signal}`;
        reject(new Error(`${tool} failed: ${why}`));
      }
    });
  });
}

/** What a dump of a PostgreSQL database holds. */
export type PostgresDump = { blobs: string[] };

/**
 * Dumps the database `url` into `file` (pg_dump's custom format) and lists
 * the blobs its rows name, both from one snapshot: a transaction here
 * exports its snapshot, pg_dump reads that one (`--snapshot`), and the blob
 * list is read in the same transaction. Files uploaded after the snapshot
 * are not needed by it; files deleted after it are still listed.
 */
export async function dumpPostgres(url: string, file: string): Promise<PostgresDump> {
  const { url: bare, env } = splitPassword(url);
  const client = new pg.Client({ connectionString: url, application_name: 'natter backup' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    const id = snap.rows[0]?.id ?? '';
    const table = await client.query<{ found: string | null }>("SELECT to_regclass('attachments')::text AS found");
    let blobs: string[] = [];
    if (table.rows[0]?.found) {
      const r = await client.query<{ sha: string }>(
        `SELECT sha256 AS sha FROM attachments WHERE sha256 IS NOT NULL
         UNION SELECT thumb_sha256 FROM attachments WHERE thumb_sha256 IS NOT NULL`,
      );
      blobs = r.rows.map((row) => row.sha);
    }
    await runPgTool('pg_dump', ['--format=custom', `--snapshot=${id}`, `--file=${file}`, `--dbname=${bare}`], env);
    await client.query('COMMIT');
    return { blobs };
  } finally {
    await client.end().catch(() => {});
  }
}
