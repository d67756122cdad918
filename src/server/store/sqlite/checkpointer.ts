import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from '../../db/index.js';

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
  private worker: Worker;
  private stopping = false;
  private exited: Promise<void>;
  /** Checkpoints that copied pages back into the database file, and threads replaced after a crash. */
  readonly stats = { checkpoints: 0, restarts: 0 };

  constructor(
    private readonly file: string,
    private readonly intervalMs: number,
    private readonly onError: (message: string) => void,
  ) {
    this.worker = this.spawn();
    this.exited = this.exitOf(this.worker);
  }

  /** The thread running now (for tests that check a crashed one is replaced). */
  get thread(): Worker {
    return this.worker;
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { sqlitePath: SQLITE_PATH, file: this.file, intervalMs: this.intervalMs },
    });
    worker.on('message', (m: { frames?: number; error?: string; stopped?: boolean }) => {
      if (m.frames) this.stats.checkpoints++;
      if (m.error) this.onError(m.error);
      if (m.stopped) void worker.terminate();
    });
    worker.on('error', (err) => this.onError(err.message));
    // A thread that dies while it should be running is replaced: without checkpoints the WAL would grow forever.
    worker.once('exit', () => {
      if (this.stopping || worker !== this.worker) return;
      this.stats.restarts++;
      this.onError('the WAL checkpoint thread stopped; starting a new one');
      this.worker = this.spawn();
      this.exited = this.exitOf(this.worker);
    });
    worker.unref();
    return worker;
  }

  private exitOf(worker: Worker): Promise<void> {
    return new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  /** Stops checkpointing and closes the worker's connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Kept alive until it has closed its connection (it is unref'd while it runs).
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}

/**
 * Turns off the automatic checkpoints of the server's connection `db` to
 * `file` and starts a {@link Checkpointer} that runs them every 500 ms instead.
 */
export function checkpointOffTheLoop(db: Db, file: string, onError: (message: string) => void): Checkpointer {
  db.$client.pragma('wal_autocheckpoint = 0');
  return new Checkpointer(file, 500, onError);
}
