import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { NatterError } from '../protocol/index.js';

type HashRequest =
  | { kind: 'hash'; password: string; cost: number }
  | { kind: 'compare'; password: string; hash: string };
type HashJob = HashRequest & { id: number };
type HashResult = { id: number; ok: true; value: string | boolean } | { id: number; ok: false; message: string };
type Pending = { resolve: (v: string | boolean) => void; reject: (e: Error) => void };

// The thread's code is plain CommonJS kept here, so it runs the same from
// compiled output and from TypeScript sources under tsx (whose loader does
// not reach worker threads).
const BCRYPT_PATH = createRequire(import.meta.url).resolve('bcryptjs');
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
// Hashing is background work: on Linux the nice value is per thread, so this
// lowers only this thread, and a burst of logins cannot take the CPU that
// message delivery on the main thread needs. Idle cores still run it at full speed.
try { require('node:os').setPriority(19); } catch {}
parentPort.on('message', (job) => {
  try {
    const value = job.kind === 'hash' ? bcrypt.hashSync(job.password, job.cost) : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ id: job.id, ok: true, value });
  } catch (err) {
    parentPort.postMessage({ id: job.id, ok: false, message: String(err && err.message || err) });
  }
});
`;

/**
 * Password hashing on worker threads, so a burst of logins never stalls
 * message delivery on the main thread. Jobs beyond `maxQueue` are refused
 * with `unavailable` rather than queued without bound.
 */
export class PasswordHasher {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private turn = 0;
  private readonly dummy: Promise<string>;
  private closed = false;
  /** Work handed to the threads: hashes made, passwords compared, and how many of the compares were dummies. */
  readonly stats = { hashes: 0, compares: 0, dummyCompares: 0 };

  constructor(
    readonly cost: number,
    threads: number,
    private readonly maxQueue = 256,
  ) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath: BCRYPT_PATH } });
      w.on('message', (r: HashResult) => this.settle(r));
      w.on('error', (err) => this.failAll(err));
      w.unref();
      this.workers.push(w);
    }
    // Ready before the first unknown-user login, so that one is not slower than the rest.
    this.dummy = this.hash(randomBytes(24).toString('base64'));
    this.dummy.catch(() => {});
  }

  /** Hashes a new password at the configured cost. */
  async hash(password: string): Promise<string> {
    return (await this.run({ kind: 'hash', password, cost: this.cost })) as string;
  }

  /** Checks a password against a stored hash. */
  async verify(password: string, hash: string): Promise<boolean> {
    return (await this.run({ kind: 'compare', password, hash })) as boolean;
  }

  /**
   * Spends the same work as {@link verify} against a hash no password matches,
   * so "no such user" takes as long as "wrong password".
   */
  async verifyDummy(password: string): Promise<false> {
    await this.run({ kind: 'compare', password, hash: await this.dummy }, true);
    return false;
  }

  /** Stops the worker threads; pending jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('password hasher closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private run(job: HashRequest, dummy = false): Promise<string | boolean> {
    if (this.closed)
      return Promise.reject(new NatterError('unavailable', 'the server is shutting down; try again shortly'));
    if (this.pending.size >= this.maxQueue) {
      return Promise.reject(
        new NatterError('unavailable', 'the server is busy checking passwords; try again in a few seconds'),
      );
    }
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length];
    if (!worker) return Promise.reject(new Error('no hashing thread'));
    if (job.kind === 'hash') this.stats.hashes++;
    else this.stats.compares++;
    if (dummy) this.stats.dummyCompares++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...job, id } as HashJob);
    });
  }

  private settle(r: HashResult): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) for (const w of this.workers) w.unref();
    if (r.ok) p.resolve(r.value);
    else p.reject(new Error(`password hashing failed: ${r.message}`));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
