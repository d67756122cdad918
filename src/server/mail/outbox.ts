import { type BreakerState, CircuitBreaker } from '../breaker.js';
import type { MailSettings } from '../config.js';
import type { MailRow } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/port.js';
import { describeSmtpFailure, type MailTransport } from './transport.js';

/** What handlers see of the outbox: a nudge after a commit that queued mail. */
export type Mailer = {
  /** The From address of every mail. */
  readonly from: string;
  /** Mail was queued (and committed): send it soon. */
  poke(): void;
};

/** Callbacks for metrics: what happened to a mail of `kind`, and the breaker's moves. */
export type OutboxHooks = {
  onSent?: (kind: string) => void;
  /** Given up (past `giveUpAfterMs`): it will not be tried again. */
  onFailed?: (kind: string) => void;
  /** A try failed; another is scheduled. */
  onRetry?: (kind: string) => void;
  onBreakerChange?: (state: BreakerState) => void;
};

export type OutboxOptions = OutboxHooks & {
  store: Store;
  transport: MailTransport;
  settings: MailSettings;
  clock: () => number;
  log: Logger;
};

/** Defaults of the outbox's settings (MailSettings). */
export const OUTBOX_DEFAULTS = {
  retryBaseMs: 30_000,
  retryMaxMs: 3_600_000,
  giveUpAfterMs: 24 * 3600 * 1000,
  breakerThreshold: 5,
  breakerCoolDownMs: 60_000,
  claimMs: 120_000,
} as const;

/** Mails claimed per write job. */
const CLAIM_BATCH = 10;
/** Longest wait between two looks at the outbox (mail queued by other nodes, retries that came due). */
const POLL_MS = 30_000;

/** The delay before try `attempts + 1`, after `attempts` failed: doubling from `base`, at most `max`. */
export function retryDelay(attempts: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, Math.min(30, attempts - 1)));
}

/**
 * The mail outbox's sender. Mail is written to `mail_outbox` by the write
 * job that decides it (a code and its mail commit together, or neither), and
 * leaves after the commit: the job pokes the outbox, which claims due mails
 * in a write of its own (`claimed_until`: another node skips them), sends them
 * one at a time through the SMTP transport behind a circuit breaker, and
 * records each outcome. A failed try is retried with exponential backoff;
 * past `giveUpAfterMs` the mail is given up (`failed_at`). While the breaker
 * is open no mail is tried: claimed ones are put back, uncounted, for when
 * its cool-down ends. An SMTP outage therefore never holds up, nor rolls
 * back, what queued the mail.
 */
export class MailOutbox implements Mailer {
  readonly from: string;
  readonly breaker: CircuitBreaker;
  readonly #store: Store;
  readonly #transport: MailTransport;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #hooks: OutboxHooks;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #giveUpAfterMs: number;
  readonly #claimMs: number;
  readonly #coolDownMs: number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(options: OutboxOptions) {
    const s = { ...OUTBOX_DEFAULTS, ...definedOf(options.settings) };
    this.from = options.settings.from;
    this.#store = options.store;
    this.#transport = options.transport;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#hooks = options;
    this.#retryBaseMs = s.retryBaseMs;
    this.#retryMaxMs = s.retryMaxMs;
    this.#giveUpAfterMs = s.giveUpAfterMs;
    this.#claimMs = s.claimMs;
    this.#coolDownMs = s.breakerCoolDownMs;
    this.breaker = new CircuitBreaker({
      failureThreshold: s.breakerThreshold,
      coolDownMs: s.breakerCoolDownMs,
      onStateChange: (change) => {
        if (change.to === 'open') {
          this.#log.warn(`mail: SMTP breaker open after ${change.failures} failure(s) in a row; mail waits`);
        } else if (change.to === 'closed') {
          this.#log.info('mail: SMTP server answers again; sending what waits');
        }
        this.#hooks.onBreakerChange?.(change.to);
      },
    });
  }

  /** Sends what is due now, then looks again every so often. */
  start(): void {
    this.poke();
  }

  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#running = this.#pass()
      .catch((err: unknown) => {
        this.#log.error('mail: sending the outbox', err);
        return POLL_MS;
      })
      .then((wait) => {
        this.#running = null;
        if (this.#stopped) return;
        if (this.#again) {
          this.#again = false;
          this.poke();
        } else {
          this.#schedule(wait);
        }
      });
  }

  /** Mail neither sent nor given up, on every node. */
  pending(): Promise<number> {
    return this.#store.mail.pending();
  }

  /** Stops looking, waits for the mail being sent, closes the transport. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
    this.#transport.close();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.poke(), Math.max(0, Math.min(POLL_MS, ms)));
    this.#timer.unref();
  }

  /** Sends due mail until none is left (or the breaker opens); returns how long to wait before looking again. */
  async #pass(): Promise<number> {
    for (;;) {
      if (this.#stopped) return POLL_MS;
      const now = this.#clock();
      const claimed = await this.#store.write((tx) => tx.mail.claim(now, now + this.#claimMs, CLAIM_BATCH));
      if (claimed.length === 0) break;
      for (const mail of claimed) await this.#deliver(mail);
      if (this.breaker.state() === 'open') return this.breaker.status().retryInMs ?? this.#coolDownMs;
    }
    const due = await this.#store.mail.nextDue();
    return due === null ? POLL_MS : due - this.#clock();
  }

  async #deliver(mail: MailRow): Promise<void> {
    let raw: unknown;
    const send = async () => {
      try {
        await this.#transport.send({ from: this.from, to: mail.toAddress, subject: mail.subject, text: mail.body });
      } catch (err) {
        raw = err;
        throw err;
      }
    };
    const outcome = this.#stopped
      ? ({ ok: false, reason: 'open', error: 'the server is stopping' } as const)
      : await this.breaker.run(send);
    const now = this.#clock();
    if (outcome.ok) {
      await this.#store.write((tx) => tx.mail.markSent(mail.id, now));
      this.#hooks.onSent?.(mail.kind);
      return;
    }
    if (outcome.reason === 'open') {
      // Not tried: it goes back, uncounted, for when a probe may go through.
      const at = now + (this.breaker.status().retryInMs ?? this.#coolDownMs);
      await this.#store.write((tx) =>
        tx.mail.markRetry(mail.id, at, mail.lastError ?? `not tried: ${outcome.error}`, false),
      );
      return;
    }
    const attempts = mail.attempts + 1;
    const error = outcome.error.slice(0, 500);
    if (now - mail.createdAt >= this.#giveUpAfterMs) {
      await this.#store.write((tx) => tx.mail.markFailed(mail.id, now, error));
      this.#log.error(
        `mail: ${mail.kind} mail ${mail.id} given up after ${attempts} tries (${describeSmtpFailure(raw)})`,
      );
      this.#hooks.onFailed?.(mail.kind);
      return;
    }
    const at = now + retryDelay(attempts, this.#retryBaseMs, this.#retryMaxMs);
    await this.#store.write((tx) => tx.mail.markRetry(mail.id, at, error, true));
    this.#log.warn(
      `mail: ${mail.kind} mail ${mail.id} not sent (try ${attempts}: ${describeSmtpFailure(raw)}); trying again later`,
    );
    this.#hooks.onRetry?.(mail.kind);
  }
}

/** The fields of `o` that are set (so that defaults fill the others). */
function definedOf<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
