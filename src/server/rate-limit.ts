/** A clock in milliseconds; handlers and limiters take it instead of calling Date.now(). */
export type Clock = () => number;

/**
 * Token buckets by key: `capacity` actions at once, refilled at one per
 * `refillMs`. Asynchronous because a cluster keeps its buckets in the shared
 * database; the caller awaits the answer before it does the work it guards.
 */
export interface Limiter {
  readonly capacity: number;
  readonly refillMs: number;
  /** Milliseconds until `key` may use `cost` tokens, or 0 when it may now (without using them). */
  retryAfter(key: string, cost?: number): Promise<number>;
  /** Uses `cost` tokens (at most `capacity`); resolves to 0 when allowed, else to the milliseconds to wait. */
  take(key: string, cost?: number): Promise<number>;
  /** Gives back a token taken for an attempt that turned out not to count (a successful login). */
  refund(key: string): Promise<void>;
}

type Bucket = { tokens: number; at: number };

/**
 * Token buckets in this process's memory (one natter on SQLite). Every
 * answer is computed when the method is called, so calls made in one turn
 * are counted in the order they were made; the promise only gives this
 * limiter the shape of the shared one. Full buckets are forgotten, so memory
 * tracks only active keys.
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    readonly capacity: number,
    readonly refillMs: number,
    private readonly clock: Clock,
  ) {}

  retryAfter(key: string, cost = 1): Promise<number> {
    return Promise.resolve(this.waitNow(key, cost));
  }

  take(key: string, cost = 1): Promise<number> {
    return Promise.resolve(this.takeNow(key, cost));
  }

  refund(key: string): Promise<void> {
    this.refundNow(key);
    return Promise.resolve();
  }

  /** {@link retryAfter}, answered at once. */
  waitNow(key: string, cost = 1): number {
    const b = this.current(key);
    const n = Math.min(cost, this.capacity);
    return b.tokens >= n ? 0 : Math.ceil((n - b.tokens) * this.refillMs);
  }

  /** {@link take}, answered at once. */
  takeNow(key: string, cost = 1): number {
    const n = Math.min(cost, this.capacity);
    const wait = this.waitNow(key, n);
    if (wait > 0) return wait;
    this.set(key, this.current(key).tokens - n);
    return 0;
  }

  /** {@link refund}, at once. */
  refundNow(key: string): void {
    if (!this.buckets.has(key)) return;
    this.set(key, Math.min(this.capacity, this.current(key).tokens + 1));
  }

  /** Puts `tokens` in `key`'s bucket now (the shared limiter keeps its local copy in step with the database). */
  set(key: string, tokens: number): void {
    if (tokens >= this.capacity) {
      this.buckets.delete(key);
      return;
    }
    this.buckets.set(key, { tokens, at: this.clock() });
    // Sweeping is O(keys): do it only when the map is large, and not more than once a refill period.
    if (this.buckets.size > 10_000 && this.clock() - this.lastSweep > this.refillMs) {
      this.lastSweep = this.clock();
      this.sweep();
    }
  }

  private current(key: string): Bucket {
    const now = this.clock();
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.capacity, at: now };
    const tokens = Math.min(this.capacity, b.tokens + Math.max(0, now - b.at) / this.refillMs);
    return { tokens, at: now };
  }

  private sweep(): void {
    for (const key of this.buckets.keys()) {
      if (this.current(key).tokens >= this.capacity) this.buckets.delete(key);
    }
  }
}
