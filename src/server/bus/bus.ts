import type { Scope } from '../event-log.js';
import type { StoredEvent } from '../store/port.js';

/**
 * The bus: how what a committed write changes reaches the connections of
 * every node. One natter process uses the local bus (local.ts); several
 * natters sharing PostgreSQL use the NATS bus (nats.ts). Either way, the
 * server hands the bus each committed batch as an ordered list of effects,
 * and every node applies the same effects in the same order to its own
 * connections.
 */

/**
 * One thing a committed write does to live connections, in the order the
 * write's after-commit work did it on the hub.
 */
export type Effect =
  /** A stored event: its id (the cursor), its audiences and its text (cursor included). */
  | { kind: 'publish'; id: number; scopes: readonly Scope[]; text: string }
  /** An unstored event a write causes (`settings.updated`, `block.updated`), optionally leaving out one user. */
  | { kind: 'send'; scopes: readonly Scope[]; text: string; except?: string }
  /** A user now receives a scope's events (joined a server, a group, a DM). */
  | { kind: 'subscribe'; userId: string; scope: Scope }
  /** A user no longer receives a scope's events (left, kicked, banned). */
  | { kind: 'unsubscribe'; userId: string; scope: Scope }
  /** Nobody receives a scope's events any more (the server or group is gone). */
  | { kind: 'dropScope'; scope: Scope }
  /** Close every connection of these sessions or bot tokens (revoked, evicted, expired). */
  | { kind: 'closeSessions'; sessionIds: readonly string[]; code: number; reason: string }
  /** Close every connection of a user. */
  | { kind: 'closeUser'; userId: string; code: number; reason: string };

/** The effect that publishes a stored event, as the store hands it over. */
export function publishEffect(event: StoredEvent): Effect {
  return { kind: 'publish', id: event.id, scopes: event.scopes, text: event.text };
}

/**
 * What a node applies effects to: its hub (`hubTarget` in target.ts), with
 * the same method names.
 */
export type LocalTarget = {
  /** Delivers a committed stream event (a connection reading its replay holds it). */
  publishEvent(event: StoredEvent): void;
  /** Writes serialized text to every connection of `scopes`, once each, leaving out `except`'s connections. */
  publish(scopes: readonly Scope[], text: string, except?: string): void;
  subscribeUser(userId: string, scope: Scope): void;
  unsubscribeUser(userId: string, scope: Scope): void;
  dropScope(scope: Scope): void;
  closeSessions(sessionIds: Iterable<string>, code: number, reason: string): void;
  closeUser(userId: string, code: number, reason: string): void;
};

/** What a node is told by the bus, beside the effects it applies. */
export type BusHooks = {
  /**
   * A user came online on some node while offline on every node, or went
   * offline on the last node that had them (also when that node stopped
   * answering). The server tells its own connections (`presence` events).
   */
  onPresence?: (userId: string, online: boolean) => void;
  /**
   * The bus may have missed effects that no stored event records (a bus
   * message lost, NATS down): the server recomputes, from the database, the
   * scopes of its local connections and closes those whose session or bot
   * token no longer exists. Called before the events read back to fill the
   * gap are delivered, so that nobody who left a scope meanwhile gets them.
   */
  resync?: () => Promise<void> | void;
};

/** Where a node is, for `/readyz` and logs. */
export type BusStatus = {
  transport: 'local' | 'nats';
  /** The NATS connection is up (always true for the local bus). */
  connected: boolean;
  /** `push`: events arrive over the bus; `poll`: NATS is down and the database is read every few hundred ms. */
  mode: 'push' | 'poll';
  /** The newest event id delivered to this node's connections. */
  lastApplied: number;
  /** Events known to be committed and not yet delivered here. */
  lag: number;
  /** Other nodes heard from within the liveness timeout. */
  nodes: number;
};

/** The bus as the server uses it. */
export interface Bus {
  /**
   * Hands over a committed write batch: its effects, in order, with the
   * ids of its stored events ascending. Applied here at once when nothing
   * before it is missing, and sent to every other node.
   */
  commit(effects: readonly Effect[]): void;
  /**
   * Sends an unstored event that is not part of a write (typing) to `scopes`
   * on every node, leaving out `except`'s connections.
   */
  broadcast(scopes: readonly Scope[], text: string, except?: string): void;
  /** This node's count of present connections for a user went from 0 to 1 (true) or back to 0 (false). */
  setPresence(userId: string, online: boolean): void;
  /** Is the user online on any node? */
  isOnline(userId: string): boolean;
  /** The users online on any node. */
  onlineUsers(): IterableIterator<string>;
  status(): BusStatus;
  /** Stops: tells the other nodes this one is leaving, and lets go of the connection. */
  close(): Promise<void>;
}

/** Applies one effect to a node's connections. */
export function applyEffect(target: LocalTarget, effect: Effect): void {
  switch (effect.kind) {
    case 'publish':
      target.publishEvent(effect);
      return;
    case 'send':
      target.publish(effect.scopes, effect.text, effect.except);
      return;
    case 'subscribe':
      target.subscribeUser(effect.userId, effect.scope);
      return;
    case 'unsubscribe':
      target.unsubscribeUser(effect.userId, effect.scope);
      return;
    case 'dropScope':
      target.dropScope(effect.scope);
      return;
    case 'closeSessions':
      target.closeSessions(effect.sessionIds, effect.code, effect.reason);
      return;
    case 'closeUser':
      target.closeUser(effect.userId, effect.code, effect.reason);
      return;
    default: {
      const never: never = effect;
      throw new Error(`unknown effect ${JSON.stringify(never)}`);
    }
  }
}
