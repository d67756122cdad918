import type { EventEmitter } from 'node:events';
import { once } from 'node:events';

/** Resolves with `promise`, or rejects once `ms` have passed, naming `what` was awaited. */
export function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** `once(emitter, event)` with a deadline. */
export function onceWithin(emitter: EventEmitter, event: string, ms = 5000): Promise<unknown[]> {
  return within(once(emitter, event), `"${event}"`, ms);
}
