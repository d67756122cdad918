/** A clock in milliseconds; handlers and limiters take it instead of calling Date.now(). */
export type Clock = () => number;

type Bucket = { tokens: number; at: number };

/**
 * Token buckets by key: `capacity` actions at once, refilled at one per
 * `refillMs`. Full buckets are forgotten, so memory tracks only active keys.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    readonly capacity: number,
    readonly refillMs: number,
    private readonly clock: Clock,
  ) {}

  /** Milliseconds until `key` may use `cost` tokens, or 0 when it may now (without using them). */
  retryAfter(key: string, cost = 1): number {
    const b = this.current(key);
    return b.tokens >= cost ? 0 : Math.ceil((cost - b.tokens) * this.refillMs);
  }

  /**
   * Uses `cost` tokens (at most `capacity`); returns 0 when allowed, else the
   * milliseconds to wait.
   */
  take(key: string, cost = 1): number {
    const n = Math.min(cost, this.capacity);
    const wait = this.retryAfter(key, n);
    if (wait > 0) return wait;
    const b = this.current(key);
    b.tokens -= n;
    this.buckets.set(key, b);
    // Sweeping is O(keys): do it only when the map is large, and not more than once a refill period.
    if (this.buckets.size > 10_000 && this.clock() - this.lastSweep > this.refillMs) {
      this.lastSweep = this.clock();
      this.sweep();
    }
    return 0;
  }

  /** Gives back a token taken for an attempt that turned out not to count (a successful login). */
  refund(key: string): void {
    const b = this.buckets.get(key);
    if (!b) return;
    const current = this.current(key);
    current.tokens = Math.min(this.capacity, current.tokens + 1);
    this.buckets.set(key, current);
  }

  /** Forgets a key (e.g. after a successful login). */
  reset(key: string): void {
    this.buckets.delete(key);
  }

  private current(key: string): Bucket {
    const now = this.clock();
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.capacity, at: now };
    const tokens = Math.min(this.capacity, b.tokens + (now - b.at) / this.refillMs);
    return { tokens, at: now };
  }

  private sweep(): void {
    for (const key of this.buckets.keys()) {
      if (this.current(key).tokens >= this.capacity) this.buckets.delete(key);
    }
  }
}
