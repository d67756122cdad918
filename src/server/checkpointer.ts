import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain CommonJS run with `eval`, like the password worker: the same code runs
// from compiled output and from sources under tsx.
const SQLITE_PATH = createRequire(import.meta.url).resolve('better-sqlite3');
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const db = new Database(workerData.file, { timeout: 5000 });
db.pragma('synchronous = FULL');
const checkpoint = () => {
  try {
    // PASSIVE: copies what it can without blocking the writer, which goes on appending.
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r && r.checkpointed > 0) parentPort.postMessage({ frames: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

/**
 * Runs SQLite's WAL checkpoints on a worker thread with its own connection.
 * A checkpoint copies the pages that commits appended to the WAL back into
 * the database file and syncs it; done by the committing connection (SQLite's
 * default) it would stall the event loop, and every delivery and request
 * behind it, for milliseconds at a time. The server's own connection has its
 * automatic checkpoints turned off while this runs.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  /** Checkpoints that copied pages back into the database file. */
  readonly stats = { checkpoints: 0 };

  constructor(file: string, intervalMs: number, onError: (message: string) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlitePath: SQLITE_PATH, file, intervalMs } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (m: { frames?: number; error?: string; stopped?: boolean }) => {
      if (m.frames) this.stats.checkpoints++;
      if (m.error) onError(m.error);
      if (m.stopped) void this.worker.terminate();
    });
    this.worker.on('error', (err) => onError(err.message));
    this.worker.unref();
  }

  /** Stops checkpointing and closes the worker's connection. */
  async stop(): Promise<void> {
    // Kept alive until it has closed its connection (it is unref'd while it runs).
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
