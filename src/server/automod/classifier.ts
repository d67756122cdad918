/**
 * The client of an external message classifier: a service the operator runs
 * that scores a message from 0 (fine) to 1 (surely abusive). natter POSTs
 *
 *   {"text": "...", "author": {"id", "username"},
 *    "conversation": {"id", "kind", "serverId", "name"}}
 *
 * and reads back exactly `{"score": <number from 0 to 1>}`. Anything else (another
 * status, a body that is not that JSON, no answer within the timeout, no
 * connection) is a failure. Calls go through a circuit breaker
 * (breaker.ts): while it is open the service is not called and every
 * message gets the configured fallback, `allow` (post it) or `hold` (keep it
 * for a moderator), at once. What the caller does with a score is its own
 * policy.
 */
import { z } from 'zod';
import {
  BREAKER_DEFAULTS,
  type BreakerChange,
  type BreakerState,
  type BreakerStatus,
  CircuitBreaker,
} from '../breaker.js';
import type { Logger } from '../log.js';

/** What the classifier is told about a message. */
export type ClassifierRequest = {
  text: string;
  author: { id: string; username: string };
  conversation: { id: string; kind: string; serverId: string | null; name: string | null };
};

export type ClassifierFallback = 'allow' | 'hold';

/** The classifier's answer, or the fallback and why it was used. */
export type ClassifierVerdict =
  | { source: 'service'; score: number }
  | {
      source: 'fallback';
      decision: ClassifierFallback;
      /** `open`: the breaker kept the service from being called; `failed`: the call failed. */
      reason: 'open' | 'failed';
      error: string;
    };

export type ClassifierOptions = {
  /** Where to POST, `http://` or `https://`. */
  url: string;
  /** What a message gets when the service cannot answer. */
  fallback: ClassifierFallback;
  /** Per call, the whole exchange included (default 500 ms). */
  timeoutMs?: number;
  /** Failures in a row that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long the breaker stays open before one probe call (default 30 s). */
  coolDownMs?: number;
  /** Extra request headers (an `Authorization` the service expects). */
  headers?: Record<string, string>;
  /** The breaker's clock, in ms (default `performance.now`). */
  now?: () => number;
  /** Breaker state changes are logged here: a warning on opening, a line on closing. */
  log?: Logger;
  onStateChange?: (change: BreakerChange) => void;
};

export const CLASSIFIER_DEFAULTS = { timeoutMs: 500, ...BREAKER_DEFAULTS } as const;

/** The largest answer read; a longer one is a failure (the answer is one number). */
const MAX_ANSWER_BYTES = 4096;

const Answer = z.strictObject({ score: z.number().min(0).max(1) });

/** Where the classifier is, for `/readyz`. */
export type ClassifierStatus = BreakerStatus & { fallback: ClassifierFallback };

export class ClassifierClient {
  private readonly breaker: CircuitBreaker;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  readonly fallback: ClassifierFallback;

  constructor(options: ClassifierOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
      throw new RangeError(`the classifier's address must start with http:// or https://, not ${this.url.protocol}`);
    }
    this.timeoutMs = options.timeoutMs ?? CLASSIFIER_DEFAULTS.timeoutMs;
    if (!(this.timeoutMs > 0))
      throw new RangeError(`the classifier's timeout must be above 0 ms, not ${this.timeoutMs}`);
    this.fallback = options.fallback;
    this.headers = { ...options.headers, 'content-type': 'application/json', accept: 'application/json' };
    // The address may hold a secret in its query or user part: logs name the origin only.
    const where = this.url.origin;
    const log = options.log;
    const onStateChange = options.onStateChange;
    const breakerOptions: ConstructorParameters<typeof CircuitBreaker>[0] = {
      onStateChange: (change) => {
        if (log) logChange(log, where, options.fallback, change, options.coolDownMs ?? CLASSIFIER_DEFAULTS.coolDownMs);
        onStateChange?.(change);
      },
    };
    if (options.failureThreshold !== undefined) breakerOptions.failureThreshold = options.failureThreshold;
    if (options.coolDownMs !== undefined) breakerOptions.coolDownMs = options.coolDownMs;
    if (options.now !== undefined) breakerOptions.now = options.now;
    this.breaker = new CircuitBreaker(breakerOptions);
  }

  /** Scores `request`, or says which fallback applies. Never throws. */
  async classify(request: ClassifierRequest): Promise<ClassifierVerdict> {
    const r = await this.breaker.run(() => this.call(request));
    if (r.ok) return { source: 'service', score: r.value };
    return { source: 'fallback', decision: this.fallback, reason: r.reason, error: r.error };
  }

  state(): BreakerState {
    return this.breaker.state();
  }

  status(): ClassifierStatus {
    return { ...this.breaker.status(), fallback: this.fallback };
  }

  /** One exchange with the service: the score, or an error saying what went wrong. */
  private async call(request: ClassifierRequest): Promise<number> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      let res: Response;
      try {
        res = await fetch(this.url, {
          method: 'POST',
          headers: this.headers,
          body: JSON.stringify(request),
          signal: controller.signal,
          redirect: 'error',
        });
      } catch (err) {
        if (controller.signal.aborted) throw this.timedOut();
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(`could not reach the classifier: ${cause?.code ?? cause?.message ?? describe(err)}`);
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`the classifier answered HTTP ${res.status}`);
      }
      const body = await readLimited(res, MAX_ANSWER_BYTES).catch((err: unknown) => {
        throw controller.signal.aborted ? this.timedOut() : err;
      });
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        throw new Error('the classifier did not answer JSON');
      }
      const answer = Answer.safeParse(json);
      if (!answer.success) throw new Error('the classifier did not answer {"score": <a number from 0 to 1>}');
      return answer.data.score;
    } finally {
      clearTimeout(timer);
    }
  }

  private timedOut(): Error {
    return new Error(`the classifier did not answer within ${this.timeoutMs} ms`);
  }
}

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The body of `res` as text, refusing one longer than `max` bytes. */
async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error(`the classifier's answer is longer than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function logChange(
  log: Logger,
  where: string,
  fallback: ClassifierFallback,
  change: BreakerChange,
  coolDownMs: number,
) {
  const then = fallback === 'allow' ? 'messages are posted unchecked' : 'messages are held for moderators';
  const wait = `${Math.round(coolDownMs / 1000)} s`;
  if (change.to === 'open' && change.from === 'closed') {
    log.warn(
      `the classifier at ${where} failed ${change.failures} times in a row (last: ${change.error}); ${then} until it answers again (next try in ${wait})`,
    );
  } else if (change.to === 'open') {
    log.warn(`the classifier at ${where} still fails (${change.error}); next try in ${wait}`);
  } else if (change.to === 'closed') {
    log.info(`the classifier at ${where} answers again`);
  }
}
