import type { Logger } from '../log.js';
import type { StoredEvent } from '../store/port.js';
import { applyEffect, type Effect, type LocalTarget } from './bus.js';

/**
 * A batch as the stream orders it: its stored events are `first..last`
 * (none when `last === first - 1`; `last` then says after which event its
 * effects belong), and its effects in order.
 */
export type Batch = { first: number; last: number; effects: readonly Effect[] };

export type StreamOptions = {
  target: LocalTarget;
  /** Committed events after an id, oldest first (the store's `EventStore.since`). */
  since: (after: number, limit: number) => Promise<StoredEvent[]>;
  /** Recompute the local connections' scopes (see BusHooks.resync). */
  resync: () => Promise<void> | void;
  log: Logger;
  /** The newest event id already accounted for at start (the store's head). */
  start: number;
  /** How long a batch that arrived ahead of a missing one waits for it before the gap is read from the database. */
  gapWaitMs: number;
  /** How often the database is read while polling. */
  pollMs: number;
  /** Events per `since` call. */
  fillLimit: number;
  /** Hears of each fill that found events the bus had not brought (not while polling). */
  onGapFilled?: (events: number) => void;
};

/** Pages read in one fill before what was read is delivered (a long outage is caught up in rounds). */
const FILL_PAGES = 20;

/** Subscription changes: a resync recomputes them, so a batch whose events were read back drops them. */
const RESYNCED = new Set<Effect['kind']>(['subscribe', 'unsubscribe', 'dropScope']);

/**
 * Delivers stored events to this node's connections in id order, exactly
 * once, whatever order batches arrive in and whichever are lost.
 *
 * A batch that follows the last applied event is applied at once. One that
 * starts further on waits (`gapWaitMs`) for the batches before it, which are
 * usually on their way from another node; if they do not come, the missing
 * events are read from the database (`since`), the server resyncs its
 * connections' scopes (the lost batches' subscription changes are not in the
 * database's events), and the events are delivered before the batch. A batch
 * whose events were already read back is applied without them and without
 * its subscription changes (the resync covered those); its unstored events
 * and closes still apply. While polling, the database is read every
 * `pollMs` in the same way.
 */
export class EventStream {
  /** The newest event id delivered. */
  last: number;
  /** The newest event id known to be committed. */
  known: number;
  /** Batches that arrived before some of the events ahead of them, by position. */
  private waiting: Batch[] = [];
  /** Batches that arrived while the database was being read. */
  private inbox: Batch[] = [];
  private busy = false;
  /** Effects may have been lost: the next fill resyncs even if it finds no event. */
  private mustResync = false;
  /** The next fill reads to the newest event, not only up to the first waiting batch. */
  private toEnd = false;
  /** The last fill stopped before its target (a long outage): go on at once. */
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private failing = false;
  private closed = false;

  constructor(private readonly options: StreamOptions) {
    this.last = options.start;
    this.known = options.start;
  }

  /** Events known to be committed and not delivered yet. */
  get lag(): number {
    return Math.max(0, this.known - this.last);
  }

  get polling(): boolean {
    return this.pollTimer !== null;
  }

  /** A committed batch, from this node or another. */
  offer(batch: Batch): void {
    if (this.closed) return;
    if (batch.last > this.known) this.known = batch.last;
    if (this.busy) {
      this.inbox.push(batch);
      return;
    }
    this.take(batch);
    this.settle();
  }

  /** Another node says events up to `id` are committed. */
  learn(id: number): void {
    if (this.closed || id <= this.known) return;
    this.known = id;
    if (!this.busy) this.settle();
  }

  /** Bus messages were lost: read what the database has and resync, without waiting. */
  lost(): void {
    if (this.closed) return;
    this.mustResync = true;
    if (!this.busy) this.settle();
  }

  /** After a reconnect: read everything committed meanwhile and resync, now. */
  catchUp(): void {
    if (this.closed) return;
    this.mustResync = true;
    this.toEnd = true;
    if (!this.busy) this.settle();
  }

  /** Reads the database every `pollMs` (the bus is down). */
  startPolling(): void {
    if (this.closed || this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      this.toEnd = true;
      void this.fill();
    }, this.options.pollMs);
    this.pollTimer.unref();
  }

  stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  close(): void {
    this.closed = true;
    this.stopPolling();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting = [];
    this.inbox = [];
  }

  /** Applies a batch whose place has come, or puts it aside until it has. */
  private take(batch: Batch): void {
    if (batch.first - 1 > this.last) {
      let i = this.waiting.length;
      while (i > 0 && (this.waiting[i - 1] as Batch).first > batch.first) i--;
      this.waiting.splice(i, 0, batch);
      return;
    }
    this.apply(batch);
    while (this.waiting.length > 0 && (this.waiting[0] as Batch).first - 1 <= this.last) {
      this.apply(this.waiting.shift() as Batch);
    }
  }

  private apply(batch: Batch): void {
    const floor = this.last;
    // Some of its events were read back from the database, after this batch had
    // committed, and the resync that preceded them covered its subscription changes.
    const covered = batch.last >= batch.first && batch.first <= floor;
    for (const effect of batch.effects) {
      if (effect.kind === 'publish' ? effect.id <= floor : covered && RESYNCED.has(effect.kind)) continue;
      this.effect(effect);
    }
    if (batch.last > this.last) this.last = batch.last;
  }

  private effect(effect: Effect): void {
    try {
      applyEffect(this.options.target, effect);
    } catch (err) {
      this.options.log.error(`bus: applying a ${effect.kind} effect`, err);
    }
  }

  /** Arms the timer for the next fill when something is missing, or disarms it. */
  private settle(): void {
    if (this.closed) return;
    const now = this.mustResync || this.toEnd || this.again;
    const behind = now || this.waiting.length > 0 || this.known > this.last;
    if (!behind) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      return;
    }
    if (this.timer && !now) return;
    if (this.timer) clearTimeout(this.timer);
    // While the database does not answer, it is asked again at the polling pace.
    const { gapWaitMs, pollMs } = this.options;
    const delay = this.failing ? Math.max(gapWaitMs, pollMs) : now ? 0 : gapWaitMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.fill();
    }, delay);
    this.timer.unref();
  }

  /**
   * Reads the missing events from the database (up to the first waiting
   * batch, or to the newest when catching up or polling), resyncs when
   * anything was missed, delivers them, then whatever waited behind them.
   */
  private async fill(): Promise<void> {
    if (this.busy || this.closed) return;
    const toEnd = this.toEnd;
    const resync = this.mustResync;
    const target = toEnd ? Number.POSITIVE_INFINITY : (this.waiting[0]?.first ?? this.known + 1) - 1;
    if (!resync && target <= this.last) return;
    // The target is the start of a batch that has committed, not only a heartbeat's word.
    const vouched = !toEnd && this.waiting.length > 0;
    this.busy = true;
    this.toEnd = false;
    this.again = false;
    this.mustResync = false;
    const from = this.last;
    let more = false;
    try {
      let events: StoredEvent[];
      try {
        ({ events, more } = await this.read(target));
      } catch (err) {
        // The database did not answer: try again later, with nothing forgotten.
        this.toEnd ||= toEnd;
        this.mustResync ||= resync;
        if (!this.failing) this.options.log.error('bus: reading missed events from the database', err);
        this.failing = true;
        return;
      }
      if (this.failing) this.options.log.info('bus: the database answers again');
      this.failing = false;
      if (this.closed) return;
      if (events.length > 0 || resync) {
        try {
          await this.options.resync();
        } catch (err) {
          this.options.log.error('bus: resyncing local connections', err);
        }
      }
      if (this.closed) return;
      for (const event of events) {
        if (event.id <= this.last) continue;
        this.effect({ kind: 'publish', id: event.id, scopes: event.scopes, text: event.text });
        this.last = event.id;
      }
      if (!toEnd && !more && this.last < target) {
        if (vouched) {
          // Ids before a committed batch that the database does not have: pruned, or never used.
          this.options.log.warn(`bus: events ${this.last + 1}..${target} are not in the database; skipping them`);
          this.last = target;
        } else {
          // Only a heartbeat spoke of them: forget it rather than skip events that may yet come.
          this.known = this.last;
        }
      }
      if (this.last > this.known) this.known = this.last;
      if (!this.polling && events.length > 0) {
        this.options.onGapFilled?.(events.length);
        this.options.log.info(
          `bus: delivered ${events.length} missed events (${from + 1}..${this.last}) from the database`,
        );
      }
    } finally {
      this.busy = false;
      if (more) {
        this.again = true;
        this.toEnd ||= toEnd;
      }
      if (!this.closed) {
        const inbox = this.inbox;
        this.inbox = [];
        for (const batch of inbox) this.take(batch);
        while (this.waiting.length > 0 && (this.waiting[0] as Batch).first - 1 <= this.last) {
          this.take(this.waiting.shift() as Batch);
        }
        this.settle();
      }
    }
  }

  /** Up to FILL_PAGES pages of events after `last` and no later than `target`; `more` when there may be others. */
  private async read(target: number): Promise<{ events: StoredEvent[]; more: boolean }> {
    const { since, fillLimit } = this.options;
    const events: StoredEvent[] = [];
    let cursor = this.last;
    for (let page = 0; page < FILL_PAGES; page++) {
      const rows = await since(cursor, fillLimit);
      for (const event of rows) {
        if (event.id <= cursor) continue;
        if (event.id > target) return { events, more: false };
        events.push(event);
        cursor = event.id;
      }
      if (rows.length < fillLimit) return { events, more: false };
    }
    return { events, more: true };
  }
}
