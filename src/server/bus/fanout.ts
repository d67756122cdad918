import type { EventData, EventName } from '../../protocol/index.js';
import type { Scope } from '../event-log.js';
import type { StoredEvent } from '../store/port.js';
import { tracer } from '../tracing.js';
import { type Bus, type Effect, publishEffect } from './bus.js';

/**
 * What handlers call to reach connections, on this node and every other:
 * stored events, unstored ones, subscriptions, closes. During the after-commit
 * work of a write batch (between `begin` and `end`, which the store calls),
 * effects are gathered in order and handed to the bus as that batch, so that
 * every node applies them in the same order; outside a batch each is handed
 * over at once.
 */
export class Fanout {
  private batch: Effect[] | null = null;

  constructor(private readonly bus: Bus) {}

  /** The store is about to run a committed batch's after-commit work. */
  begin(): void {
    this.batch = [];
  }

  /** That work is done: the batch's effects go to the bus. */
  end(): void {
    const batch = this.batch;
    this.batch = null;
    if (batch && batch.length > 0) this.commit(batch);
  }

  private emit(effect: Effect): void {
    if (this.batch) this.batch.push(effect);
    else this.commit([effect]);
  }

  /** Hands effects to the bus: delivery to this node's connections, and to the other nodes. */
  private commit(effects: Effect[]): void {
    const t = tracer();
    if (t.on) t.span('fanout', () => this.bus.commit(effects), { 'natter.effects': effects.length });
    else this.bus.commit(effects);
  }

  /** A committed stream event (the store's `Publish`). */
  publish(event: StoredEvent): void {
    this.emit(publishEffect(event));
  }

  /** An unstored event a write causes, to `scopes`, optionally leaving out one user's connections. */
  send<N extends EventName>(scopes: readonly Scope[], event: N, data: EventData<N>, except?: string): void {
    const text = JSON.stringify({ event, data });
    this.emit(except === undefined ? { kind: 'send', scopes, text } : { kind: 'send', scopes, text, except });
  }

  subscribeUser(userId: string, scope: Scope): void {
    this.emit({ kind: 'subscribe', userId, scope });
  }

  unsubscribeUser(userId: string, scope: Scope): void {
    this.emit({ kind: 'unsubscribe', userId, scope });
  }

  dropScope(scope: Scope): void {
    this.emit({ kind: 'dropScope', scope });
  }

  closeSessions(sessionIds: readonly string[], code: number, reason: string): void {
    if (sessionIds.length > 0) this.emit({ kind: 'closeSessions', sessionIds, code, reason });
  }

  closeUser(userId: string, code: number, reason: string): void {
    this.emit({ kind: 'closeUser', userId, code, reason });
  }

  /** An ephemeral event that is not part of a write (typing), on every node. */
  broadcast<N extends EventName>(scopes: readonly Scope[], event: N, data: EventData<N>, except?: string): void {
    this.bus.broadcast(scopes, JSON.stringify({ event, data }), except);
  }
}
