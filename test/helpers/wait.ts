import type { EventEmitter } from 'node:events';

/**
 * Every wait in the suite has a deadline, and every deadline says what it was
 * waiting for. Deadlines are generous: they only have to end a run that would
 * otherwise hang, and a loaded two-core machine can be ten times slower than
 * an idle one. Nothing may depend on how fast the machine is: wait on state,
 * never sleep.
 */
export const DEADLINE_MS = 30_000;

/**
 * A deadline for a loop that waits by doing work (sending until the server
 * reacts): the returned check throws, naming `what`, once `ms` have passed.
 */
export function deadline(what: string, ms = DEADLINE_MS): () => void {
  const end = performance.now() + ms;
  return () => {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  };
}

export type WaitOptions = {
  /** What is awaited, in words: it is the error message on timeout. */
  what: string;
  timeoutMs?: number;
  /** How often to look again (default 10 ms). */
  intervalMs?: number;
  /** More to say on timeout: the state the wait saw last. */
  detail?: () => string;
};

function timeoutError(what: string, timeoutMs: number, detail?: () => string): Error {
  let extra = '';
  if (detail) {
    try {
      extra = `\n${detail()}`;
    } catch (err) {
      extra = `\n(could not describe the state: ${String(err)})`;
    }
  }
  return new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
}

/**
 * Polls `check` until it returns something other than `undefined`, `null` or
 * `false`, and resolves with that. Rejects with `what` after the deadline, or
 * with whatever `check` throws.
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEADLINE_MS;
  const intervalMs = options.intervalMs ?? 10;
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v;
    if (performance.now() > end) throw timeoutError(options.what, timeoutMs, options.detail);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves or rejects as `p` does, or rejects with `what` after the deadline. */
export function within<T>(p: Promise<T>, what: string, timeoutMs = DEADLINE_MS, detail?: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError(what, timeoutMs, detail)), timeoutMs);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * The first emission of `event` by `emitter` (its arguments), with a
 * deadline. Starts listening at once: create it before causing the event.
 */
export function nextEmit<A extends unknown[] = unknown[]>(
  emitter: Pick<EventEmitter, 'once' | 'off'>,
  event: string,
  what: string,
  timeoutMs = DEADLINE_MS,
): Promise<A> {
  let listener: ((...args: unknown[]) => void) | undefined;
  const p = new Promise<A>((resolve) => {
    listener = (...args: unknown[]) => resolve(args as A);
    emitter.once(event, listener);
  });
  return within(p, what, timeoutMs).finally(() => {
    if (listener) emitter.off(event, listener);
  });
}

/**
 * Waits until `check` holds, re-checking whenever `subscribe`'s callback is
 * called (a new message, a close): no polling. Resolves with what `check`
 * returned.
 */
export function waitUntil<T>(
  check: () => T | undefined,
  subscribe: (wake: () => void) => void,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEADLINE_MS;
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(timeoutError(options.what, timeoutMs, options.detail));
    }, timeoutMs);
    const attempt = () => {
      if (done) return;
      let v: T | undefined;
      try {
        v = check();
      } catch (err) {
        done = true;
        clearTimeout(timer);
        reject(err);
        return;
      }
      if (v !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve(v);
      } else {
        subscribe(attempt);
      }
    };
    attempt();
  });
}
