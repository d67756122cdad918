/**
 * A circuit breaker in front of a service that may fail or hang (the
 * message classifier, the SMTP server). While the service answers, calls go through
 * (`closed`). After `failureThreshold` failures in a row it stops calling
 * (`open`): callers get their fallback at once instead of waiting out a
 * timeout on every message. Once `coolDownMs` has passed, the next call is
 * let through alone as a probe (`half-open`); calls meanwhile still get the
 * fallback. A probe that succeeds closes the breaker, one that fails opens it
 * for another cool-down.
 *
 * Time comes from an injectable clock, so tests move it instead of waiting.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

/** A change of state, as reported to `onStateChange`. */
export type BreakerChange = {
  from: BreakerState;
  to: BreakerState;
  /** Failures in a row when it happened. */
  failures: number;
  /** The failure that opened (or re-opened) the breaker, in words. */
  error?: string;
};

export type BreakerOptions = {
  /** Failures in a row that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long it stays open before one probe is let through, in ms (default 30 s). */
  coolDownMs?: number;
  /** The clock, in ms (default `performance.now`). */
  now?: () => number;
  onStateChange?: (change: BreakerChange) => void;
};

/** Where the breaker is, for `/readyz` and logs. */
export type BreakerStatus = {
  state: BreakerState;
  /** Failures in a row so far. */
  failures: number;
  /** While open: ms until a probe may go through (0 once it may). */
  retryInMs: number | null;
  /** The last failure, in words, or null. */
  lastError: string | null;
};

/** What a guarded call gave: its value, or why there is none (`open`: not attempted). */
export type Guarded<T> = { ok: true; value: T } | { ok: false; reason: 'open' | 'failed'; error: string };

export const BREAKER_DEFAULTS = { failureThreshold: 5, coolDownMs: 30_000 } as const;

/** The failure `err` in words. */
export function describeFailure(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private lastError: string | null = null;
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly now: () => number;
  private readonly onStateChange: ((change: BreakerChange) => void) | undefined;

  constructor(options: BreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? BREAKER_DEFAULTS.failureThreshold;
    this.coolDownMs = options.coolDownMs ?? BREAKER_DEFAULTS.coolDownMs;
    if (!Number.isInteger(this.threshold) || this.threshold < 1) {
      throw new RangeError(`failureThreshold must be a whole number of at least 1, not ${this.threshold}`);
    }
    if (!(this.coolDownMs >= 0)) throw new RangeError(`coolDownMs must be 0 or more, not ${this.coolDownMs}`);
    this.now = options.now ?? (() => performance.now());
    this.onStateChange = options.onStateChange;
  }

  /** The current state. */
  state(): BreakerState {
    return this.current;
  }

  status(): BreakerStatus {
    return {
      state: this.current,
      failures: this.failures,
      retryInMs: this.current === 'open' ? Math.max(0, this.openedAt + this.coolDownMs - this.now()) : null,
      lastError: this.lastError,
    };
  }

  /**
   * Runs `call` if the breaker lets it through. A call that throws or
   * rejects counts as a failure, and its error is returned, never thrown.
   */
  async run<T>(call: () => Promise<T>): Promise<Guarded<T>> {
    if (!this.admit()) {
      return { ok: false, reason: 'open', error: this.lastError ?? 'the service is not being called' };
    }
    try {
      const value = await call();
      this.succeeded();
      return { ok: true, value };
    } catch (err) {
      const error = describeFailure(err);
      this.failed(error);
      return { ok: false, reason: 'failed', error };
    }
  }

  /** May a call go through now? In `open`, past the cool-down, the first one may, as the probe. */
  private admit(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'half-open' || this.probing) return false;
    if (this.now() - this.openedAt < this.coolDownMs) return false;
    this.probing = true;
    this.move('half-open');
    return true;
  }

  private succeeded(): void {
    this.failures = 0;
    if (this.current === 'half-open') {
      this.probing = false;
      this.lastError = null;
      this.move('closed');
    }
  }

  private failed(error: string): void {
    this.failures++;
    this.lastError = error;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.threshold)) {
      this.probing = false;
      this.openedAt = this.now();
      this.move('open', error);
    }
  }

  private move(to: BreakerState, error?: string): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    const change: BreakerChange = { from, to, failures: this.failures };
    if (error !== undefined) change.error = error;
    this.onStateChange?.(change);
  }
}
