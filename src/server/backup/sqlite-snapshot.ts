import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain CommonJS run with `eval`, like the checkpointer's: the same code runs
// from compiled output and from sources under tsx.
const SQLITE_PATH = createRequire(import.meta.url).resolve('better-sqlite3');
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.sqlitePath);
const { source, target } = workerData;
(async () => {
  const db = new Database(source, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    // A backup holds what the database holds: 0600 like it, whatever the umask.
    const fd = fs.openSync(target, 'wx', 0o600);
    try { fs.fchmodSync(fd, 0o600); } finally { fs.closeSync(fd); }
    await db.backup(target);
  } finally {
    db.close();
  }
  const copy = new Database(target);
  let summary;
  let blobs = [];
  try {
    // One self-contained file (no -wal beside it); the server turns WAL back on when it opens it.
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error('the copy failed its integrity check: ' + String(check));
    const has = (name) => copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    const count = (table) => (has(table) ? copy.prepare('SELECT count(*) AS n FROM ' + table).get().n : 0);
    summary = { users: count('users'), messages: count('messages'), conversations: count('conversations') };
    if (has('attachments')) {
      blobs = copy
        .prepare('SELECT sha256 AS sha FROM attachments WHERE sha256 IS NOT NULL UNION SELECT thumb_sha256 FROM attachments WHERE thumb_sha256 IS NOT NULL')
        .all()
        .map((r) => r.sha);
    }
  } finally {
    copy.close();
  }
  const fd = fs.openSync(target, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  parentPort.postMessage({ ok: true, summary, blobs });
})().catch((err) => {
  parentPort.postMessage({ ok: false, error: String((err && err.message) || err) });
});
`;

/** What a snapshot of a SQLite database holds. */
export type SqliteSnapshot = {
  users: number;
  messages: number;
  conversations: number;
  /** The SHA-256 of every blob its rows name (files and thumbnails). */
  blobs: string[];
};

/**
 * Copies the SQLite database `source` to the new file `target` (0600) with
 * SQLite's online backup, which reads one consistent snapshot beside a
 * running server's writes (WAL mode), then turns the copy into one
 * self-contained file, checks its integrity, lists the blobs its rows name
 * and fsyncs it. All of it runs on a worker thread with connections of its
 * own: checking a large copy takes seconds that the server's event loop, and
 * every delivery behind it, must not wait for. On failure `target` may be
 * left behind; the caller removes it.
 */
export function snapshotSqlite(source: string, target: string): Promise<SqliteSnapshot> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { sqlitePath: SQLITE_PATH, source, target },
    });
    let answered = false;
    worker.once(
      'message',
      (m: { ok: true; summary: Omit<SqliteSnapshot, 'blobs'>; blobs: string[] } | { ok: false; error: string }) => {
        answered = true;
        if (m.ok) resolve({ ...m.summary, blobs: m.blobs });
        else reject(new Error(m.error));
      },
    );
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the backup thread stopped (exit code ${code}) before it finished`));
    });
  });
}
