import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { NatterError } from '../protocol/index.js';

type HashRequest =
  | { kind: 'hash'; password: string; cost: number }
  | { kind: 'compare'; password: string; hash: string };
type HashJob = HashRequest & { id: number };
type HashResult = { id: number; ok: true; value: string | boolean } | { id: number; ok: false; message: string };
type Queued = {
  id: number;
  key: string;
  request: HashRequest;
  resolve: (v: string | boolean) => void;
  reject: (e: Error) => void;
};

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
try { require('node:os').setPriority(workerData.nice); } catch {}
parentPort.on('message', (job) => {
  try {
    const value = job.kind === 'hash' ? bcrypt.hashSync(job.password, job.cost) : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ id: job.id, ok: true, value });
  } catch (err) {
    parentPort.postMessage({ id: job.id, ok: false, message: String(err && err.message || err) });
  }
});
`;

/** One hashing thread and the job it is running, if any. */
type Slot = { worker: Worker; job: Queued | null };

/** The bcrypt cost a stored hash was made with (`$2b$12$…` → 12), or null. */
export function hashCost(hash: string): number | null {
  const m = /^\$2[abxy]?\$(\d\d)\$/.exec(hash);
  return m ? Number(m[1]) : null;
}

/**
 * Password hashing on worker threads, so a burst of logins never stalls
 * message delivery on the main thread.
 *
 * The threads are shared fairly: jobs wait in one queue per key (the client's
 * address) and the threads take them in turn from each key, so one address
 * that floods the server with logins gets its share of the hashing, and
 * others theirs. Jobs marked `first` (an owner's login from an address the
 * account has used, a signed-in user's password change) wait in a lane of
 * their own that the threads serve before the others, in turn by key too: a
 * crowd of strangers guessing from many addresses cannot make the owners
 * wait behind them. A key may have at most `maxPerKey` jobs waiting or
 * running in both lanes (more is `rate_limited`), and all keys together
 * `maxQueue` (more is `unavailable`, except for a key with nothing queued,
 * which still gets its turn). A thread that dies is replaced; the job it was
 * running fails.
 */
export class PasswordHasher {
  private readonly slots: Slot[] = [];
  /** Waiting jobs per key; a key is present only while it has jobs. Map order is the turn order. */
  private readonly queues = new Map<string, Queued[]>();
  /** The same for jobs that go first (owners'); served before {@link queues}. */
  private readonly firstQueues = new Map<string, Queued[]>();
  private waiting = 0;
  private running = 0;
  private nextId = 1;
  private dummy: Promise<string>;
  private dummyCost: number;
  private closed = false;
  /**
   * Work handed to the threads: hashes made, passwords compared, how many of
   * the compares were dummies (unknown users), and threads replaced after a crash.
   */
  readonly stats = { hashes: 0, compares: 0, dummyCompares: 0, workerRestarts: 0 };

  constructor(
    readonly cost: number,
    threads: number,
    private readonly maxQueue = 256,
    private readonly maxPerKey = 8,
    /** The threads' nice value (see `hashNice` in the server's settings). */
    private readonly nice = 10,
  ) {
    for (let i = 0; i < Math.max(1, threads); i++) this.slots.push({ worker: this.spawn(), job: null });
    // Ready before the first unknown-user login, so that one is not slower than the rest.
    this.dummyCost = cost;
    this.dummy = this.makeDummy(cost);
  }

  /** The bcrypt cost of the hash unknown users are checked against. */
  get dummyHashCost(): number {
    return this.dummyCost;
  }

  /** The hashing threads running now. */
  get threads(): Worker[] {
    return this.slots.map((s) => s.worker);
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.waiting + this.running;
  }

  /**
   * Makes the hash that unknown users are checked against at `cost`: the cost
   * most stored hashes have, so that "no such user" takes as long as "wrong
   * password" even after the configured cost changed.
   */
  setDummyCost(cost: number): void {
    if (cost === this.dummyCost) return;
    this.dummyCost = cost;
    this.dummy = this.makeDummy(cost);
  }

  /** Hashes a new password at the configured cost. */
  async hash(password: string, key = ''): Promise<string> {
    return (await this.run({ kind: 'hash', password, cost: this.cost }, key)) as string;
  }

  /** Checks a password against a stored hash; `first`: in the lane served first (see the class). */
  async verify(password: string, hash: string, key = '', first = false): Promise<boolean> {
    return (await this.run({ kind: 'compare', password, hash }, key, first)) as boolean;
  }

  /**
   * Spends the same work as {@link verify} against a hash no password matches,
   * so "no such user" takes as long as "wrong password".
   */
  async verifyDummy(password: string, key = ''): Promise<false> {
    const hash = await this.dummy;
    this.stats.dummyCompares++;
    await this.verify(password, hash, key);
    return false;
  }

  /** Stops the worker threads; pending jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new NatterError('unavailable', 'the server is shutting down; try again shortly');
    for (const lane of [this.firstQueues, this.queues]) {
      for (const queue of lane.values()) for (const job of queue) job.reject(err);
      lane.clear();
    }
    this.waiting = 0;
    for (const slot of this.slots) {
      slot.job?.reject(err);
      slot.job = null;
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private makeDummy(cost: number): Promise<string> {
    const p = this.run({ kind: 'hash', password: randomBytes(24).toString('base64'), cost }, '');
    p.catch(() => {});
    return p as Promise<string>;
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath: BCRYPT_PATH, nice: this.nice } });
    w.on('message', (r: HashResult) => this.settle(w, r));
    // A thread that fails or exits is replaced; the job it held fails alone.
    w.on('error', () => this.replace(w));
    w.on('exit', () => this.replace(w));
    w.unref();
    return w;
  }

  private replace(dead: Worker): void {
    if (this.closed) return;
    const slot = this.slots.find((s) => s.worker === dead);
    if (!slot) return;
    this.stats.workerRestarts++;
    const job = slot.job;
    slot.job = null;
    slot.worker = this.spawn();
    if (job) {
      this.running--;
      job.reject(new NatterError('unavailable', 'the password check failed on the server; try again'));
    }
    this.feed();
  }

  private run(request: HashRequest, key: string, first = false): Promise<string | boolean> {
    if (this.closed)
      return Promise.reject(new NatterError('unavailable', 'the server is shutting down; try again shortly'));
    const lane = first ? this.firstQueues : this.queues;
    const queue = lane.get(key);
    const mine =
      (this.queues.get(key)?.length ?? 0) +
      (this.firstQueues.get(key)?.length ?? 0) +
      this.slots.filter((s) => s.job?.key === key).length;
    // Past the global cap only a key with nothing waiting gets in: it takes its turn
    // with the others, so a flood from many addresses cannot shut out one more.
    if (this.pending >= this.maxQueue && (key === '' || mine > 0)) {
      return Promise.reject(
        new NatterError('unavailable', 'the server is busy checking passwords; try again in a few seconds', {
          retryAfterMs: 2000,
        }),
      );
    }
    if (key !== '' && mine >= this.maxPerKey) {
      return Promise.reject(
        new NatterError('rate_limited', 'too many password checks under way from this address; wait for them', {
          retryAfterMs: 1000,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Queued = { id: this.nextId++, key, request, resolve, reject };
      if (queue) queue.push(job);
      else lane.set(key, [job]);
      this.waiting++;
      this.feed();
    });
  }

  /** Gives each idle thread the next job, taking keys in turn. */
  private feed(): void {
    for (const slot of this.slots) {
      if (slot.job || this.waiting === 0) continue;
      const job = this.takeNext();
      if (!job) return;
      slot.job = job;
      this.running++;
      if (job.request.kind === 'hash') this.stats.hashes++;
      else this.stats.compares++;
      slot.worker.ref();
      slot.worker.postMessage({ ...job.request, id: job.id } satisfies HashJob);
    }
  }

  /**
   * The first job of the key whose turn it is, in the lane served first if it
   * has any; that key goes to the back of its lane's line.
   */
  private takeNext(): Queued | undefined {
    for (const lane of [this.firstQueues, this.queues]) {
      for (const [key, queue] of lane) {
        const job = queue.shift();
        lane.delete(key);
        if (queue.length > 0) lane.set(key, queue);
        if (job) {
          this.waiting--;
          return job;
        }
      }
    }
    return undefined;
  }

  private settle(worker: Worker, r: HashResult): void {
    const slot = this.slots.find((s) => s.worker === worker);
    const job = slot?.job;
    if (!slot || !job || job.id !== r.id) return;
    slot.job = null;
    this.running--;
    if (this.pending === 0) for (const s of this.slots) s.worker.unref();
    if (r.ok) job.resolve(r.value);
    else job.reject(new Error(`password hashing failed: ${r.message}`));
    this.feed();
  }
}
