import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

/** A job for the hashing thread. */
export type HashRequest =
  | { kind: 'hash'; password: string; cost: number }
  | { kind: 'compare'; password: string; hash: string };
export type HashJob = HashRequest & { id: number };
export type HashResult = { id: number; ok: true; value: string | boolean } | { id: number; ok: false; message: string };

// bcrypt is CPU-bound for hundreds of milliseconds at cost 12; it runs here so
// the event loop that delivers messages never waits for it.
parentPort?.on('message', (job: HashJob) => {
  try {
    const value =
      job.kind === 'hash' ? bcrypt.hashSync(job.password, job.cost) : bcrypt.compareSync(job.password, job.hash);
    parentPort?.postMessage({ id: job.id, ok: true, value } satisfies HashResult);
  } catch (err) {
    parentPort?.postMessage({
      id: job.id,
      ok: false,
      message: err instanceof Error ? err.message : String(err),
    } satisfies HashResult);
  }
});
