import type { Scope } from '../event-log.js';
import type { Logger } from '../log.js';
import { applyEffect, type Bus, type BusHooks, type BusStatus, type Effect, type LocalTarget } from './bus.js';
import { ClusterPresence } from './presence.js';

export type LocalBusOptions = {
  /** Where effects go: the hub (`hubTarget`). */
  target: LocalTarget;
  hooks?: BusHooks;
  log: Logger;
  /** The newest event id at start (the store's head), for `status()`. */
  start?: number;
};

/**
 * The bus of a natter that runs alone: every effect is applied to the local
 * hub the moment the batch is handed over, and nothing crosses a network.
 * Nothing can be missed, so it never resyncs.
 */
export class LocalBus implements Bus {
  private readonly target: LocalTarget;
  private readonly log: Logger;
  private readonly presence: ClusterPresence;
  private last: number;

  constructor(options: LocalBusOptions) {
    this.target = options.target;
    this.log = options.log;
    this.last = options.start ?? 0;
    const onPresence = options.hooks?.onPresence ?? (() => {});
    this.presence = new ClusterPresence(onPresence);
  }

  commit(effects: readonly Effect[]): void {
    for (const effect of effects) {
      try {
        applyEffect(this.target, effect);
      } catch (err) {
        this.log.error(`bus: applying a ${effect.kind} effect`, err);
      }
      if (effect.kind === 'publish' && effect.id > this.last) this.last = effect.id;
    }
  }

  broadcast(scopes: readonly Scope[], text: string, except?: string): void {
    this.target.publish(scopes, text, except);
  }

  setPresence(userId: string, online: boolean): void {
    this.presence.setLocal(userId, online);
  }

  isOnline(userId: string): boolean {
    return this.presence.isOnline(userId);
  }

  onlineUsers(): IterableIterator<string> {
    return this.presence.users();
  }

  status(): BusStatus {
    return { transport: 'local', connected: true, mode: 'push', lastApplied: this.last, lag: 0, nodes: 0 };
  }

  async close(): Promise<void> {}
}
