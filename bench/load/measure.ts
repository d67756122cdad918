/**
 * What the load generator measures with: message bodies that carry their send
 * time, a latency histogram, and the CPU and memory of a process read from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Every benchmark message body is exactly this many bytes, whatever the protocol. */
export const BODY_BYTES = 75;

/**
 * A body: `<phase>;<sender>;<sent ms>;` padded with `x`. The phase is `m`
 * (measured) or `w` (warm-up); the sender is the client index; the time is
 * `performance.now()` in the generator, which also receives it.
 */
export function makeBody(measured: boolean, sender: number, sentAt: number): string {
  const head = `${measured ? 'm' : 'w'};${sender};${sentAt.toFixed(3)};`;
  return head + 'x'.repeat(BODY_BYTES - head.length);
}

export type ParsedBody = { measured: boolean; sender: number; sentAt: number };

/** Reads a body back; undefined when it is not one of ours. */
export function parseBody(body: string): ParsedBody | undefined {
  const a = body.indexOf(';');
  const b = body.indexOf(';', a + 1);
  const c = body.indexOf(';', b + 1);
  if (a !== 1 || b < 0 || c < 0) return undefined;
  return { measured: body[0] === 'm', sender: Number(body.slice(2, b)), sentAt: Number(body.slice(b + 1, c)) };
}

/** Latencies in 0.1 ms buckets up to 30 s (the last bucket holds everything slower). */
export class Histogram {
  private readonly buckets = new Uint32Array(300_001);
  count = 0;
  max = 0;

  add(ms: number): void {
    const i = Math.min(this.buckets.length - 1, Math.max(0, Math.round(ms * 10)));
    this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The latency (ms) below which `q` (0..1) of the samples fall; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const want = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] ?? 0;
      if (seen >= want) return i / 10;
    }
    return this.max;
  }

  summary(): { count: number; p50: number; p99: number; max: number } {
    return { count: this.count, p50: this.quantile(0.5), p99: this.quantile(0.99), max: round(this.max) };
  }
}

const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** CPU time (user + system, ms) a process has used so far. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time (ms) of every running process with one of these names (as
 * /proc/PID/comm shows it), with what their exited children used: PostgreSQL's
 * backends, say, which come and go under the postmaster.
 */
export function namedProcessesCpuMs(names: readonly string[]): number {
  if (names.length === 0) return 0;
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.includes(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // The process ended while the list was read.
    }
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Resident set size of a process, in KiB. */
export function processRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
}
