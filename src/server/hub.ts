import type { EventData, EventName } from '../protocol/index.js';
import type { AuthState, Connection } from './connection.js';

/**
 * Who is connected: every live connection, indexed by user and by session, so
 * events reach all of a user's connections and revocations reach all of a
 * session's.
 */
export class Hub {
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly bySession = new Map<string, Set<Connection>>();
  private readonly perAddress = new Map<string, number>();

  /** Live connections. */
  get size(): number {
    return this.all.size;
  }

  /** Connections currently open from `address`. */
  connectionsFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /** Registers a new, not yet authenticated, connection. */
  add(conn: Connection): void {
    this.all.add(conn);
    this.perAddress.set(conn.address, this.connectionsFrom(conn.address) + 1);
  }

  /** Records that `conn` is now `auth`. */
  authenticate(conn: Connection, auth: AuthState): void {
    this.unindex(conn);
    conn.auth = auth;
    addTo(this.byUser, auth.userId, conn);
    addTo(this.bySession, auth.sessionId, conn);
  }

  /** Records that `conn` is no longer authenticated. */
  deauthenticate(conn: Connection): void {
    this.unindex(conn);
    conn.auth = null;
  }

  /** Forgets a connection that has closed. */
  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    this.unindex(conn);
    const n = this.connectionsFrom(conn.address) - 1;
    if (n > 0) this.perAddress.set(conn.address, n);
    else this.perAddress.delete(conn.address);
  }

  /** Connections of a user. */
  userConnections(userId: string): ReadonlySet<Connection> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  /** Closes every connection authenticated with one of `sessionIds`. */
  closeSessions(sessionIds: Iterable<string>, code: number, reason: string): number {
    let n = 0;
    for (const id of sessionIds) {
      for (const conn of [...(this.bySession.get(id) ?? EMPTY)]) {
        conn.close(code, reason);
        this.remove(conn);
        n++;
      }
    }
    return n;
  }

  /** Sends an event to every connection of a user, serializing it once. */
  toUser<N extends EventName>(userId: string, event: N, data: EventData<N>): void {
    const conns = this.byUser.get(userId);
    if (!conns || conns.size === 0) return;
    const text = JSON.stringify({ event, data });
    for (const c of conns) c.sendText(text);
  }

  /** Every live connection (for shutdown). */
  connections(): Connection[] {
    return [...this.all];
  }

  private unindex(conn: Connection): void {
    const auth = conn.auth;
    if (!auth) return;
    removeFrom(this.byUser, auth.userId, conn);
    removeFrom(this.bySession, auth.sessionId, conn);
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();

function addTo(map: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(conn);
}

function removeFrom(map: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(conn);
  if (set.size === 0) map.delete(key);
}
