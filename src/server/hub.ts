import type { EventData, EventName } from '../protocol/index.js';
import { type AuthState, type Connection, OutgoingFrame } from './connection.js';
import type { Scope } from './event-log.js';
import type { StoredEvent } from './store/port.js';

/**
 * Who is connected: every live connection, indexed by user, by session and by
 * the scopes (servers, groups, DMs) whose events it receives. Fan-out,
 * presence and revocation all go through here.
 */
export class Hub {
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly bySession = new Map<string, Set<Connection>>();
  private readonly byScope = new Map<string, Set<Connection>>();
  /** Connections per user that count for presence. */
  private readonly present = new Map<string, number>();
  /** Users whose last present connection closed recently: still shown online until the timer fires. */
  private readonly lingering = new Map<string, { timer: NodeJS.Timeout; scopes: ReadonlySet<string> }>();
  /** Per user with connections here: how many effects changed their connections' scopes. */
  private readonly scopeChanges = new Map<string, number>();
  /** Scopes dropped for everyone (a server or group deleted). */
  private scopeDrops = 0;
  /** Called when a user comes online or goes offline (after the grace period). */
  onPresence: (userId: string, online: boolean) => void = () => {};

  /** @param presenceGraceMs how long a user stays online after their last connection closes */
  constructor(private readonly presenceGraceMs = 0) {}

  /** Live connections. */
  get size(): number {
    return this.all.size;
  }

  /** Registers a new, not yet authenticated, connection; it is forgotten the moment it closes. */
  add(conn: Connection): void {
    if (conn.closed) return;
    this.all.add(conn);
    conn.onGone = (c) => this.remove(c);
  }

  /**
   * Records that `conn` is now `auth`, receiving the events of `scopes`.
   * Returns false, and changes nothing, when the connection closed meanwhile
   * (a login whose password was still being checked when the peer hung up).
   */
  authenticate(conn: Connection, auth: AuthState, scopes: Iterable<Scope>, present = true): boolean {
    if (conn.closed || !this.all.has(conn)) return false;
    this.unindex(conn);
    conn.auth = auth;
    conn.present = present;
    addTo(this.byUser, auth.userId, conn);
    addTo(this.bySession, auth.sessionId, conn);
    for (const scope of scopes) this.subscribe(conn, scope);
    this.subscribe(conn, `u:${auth.userId}`);
    if (present) this.arrive(auth.userId);
    return true;
  }

  /** Records that `conn` is no longer authenticated. */
  deauthenticate(conn: Connection): void {
    this.unindex(conn);
    conn.auth = null;
    conn.onDeauthenticated();
  }

  /** Forgets a connection that has closed; it no longer speaks for anyone. */
  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    this.unindex(conn);
    conn.auth = null;
  }

  /** Is the user online: connected somewhere (not only by one-shot scripts), or gone less than the grace period ago? */
  isOnline(userId: string): boolean {
    return this.present.has(userId) || this.lingering.has(userId);
  }

  private arrive(userId: string): void {
    const n = this.present.get(userId) ?? 0;
    this.present.set(userId, n + 1);
    const timer = this.lingering.get(userId)?.timer;
    if (timer) {
      // Back within the grace period: nobody was told they left.
      clearTimeout(timer);
      this.lingering.delete(userId);
    } else if (n === 0) {
      this.onPresence(userId, true);
    }
  }

  private depart(userId: string, scopes: ReadonlySet<string>): void {
    const n = (this.present.get(userId) ?? 1) - 1;
    if (n > 0) {
      this.present.set(userId, n);
      return;
    }
    this.present.delete(userId);
    if (this.presenceGraceMs <= 0) {
      this.onPresence(userId, false);
      return;
    }
    const timer = setTimeout(() => {
      this.lingering.delete(userId);
      if (!this.present.has(userId)) this.onPresence(userId, false);
    }, this.presenceGraceMs);
    timer.unref();
    this.lingering.set(userId, { timer, scopes });
  }

  /**
   * The users shown online in `scope`: those with a present connection there,
   * and those whose last one closed there less than the grace period ago.
   */
  onlineIn(scope: Scope): Set<string> {
    const out = new Set<string>();
    for (const conn of this.byScope.get(scope) ?? EMPTY) if (conn.present && conn.auth) out.add(conn.auth.userId);
    for (const [userId, { scopes }] of this.lingering) if (scopes.has(scope)) out.add(userId);
    return out;
  }

  /** Connections of a user. */
  userConnections(userId: string): ReadonlySet<Connection> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  /**
   * A number that changes whenever something changes which scopes
   * `userId`'s connections receive (a join, a removal, a resubscription, a
   * deleted server or group). A read of the user's scopes that began before
   * such a change may be older than it: see `settleScopes` in access.ts.
   */
  scopeVersion(userId: string): number {
    return (this.scopeChanges.get(userId) ?? 0) + this.scopeDrops;
  }

  private changed(userId: string): void {
    if (this.byUser.has(userId)) this.scopeChanges.set(userId, (this.scopeChanges.get(userId) ?? 0) + 1);
  }

  /** Starts sending `scope`'s events to every connection of `userId`. */
  subscribeUser(userId: string, scope: Scope): void {
    this.changed(userId);
    for (const conn of this.userConnections(userId)) this.subscribe(conn, scope);
  }

  /** Stops sending `scope`'s events to every connection of `userId`, at once. */
  unsubscribeUser(userId: string, scope: Scope): void {
    this.changed(userId);
    for (const conn of this.userConnections(userId)) this.unsubscribe(conn, scope);
  }

  /** Makes an authenticated `conn` receive exactly `scopes` (and its user's own). */
  setScopes(conn: Connection, scopes: Iterable<Scope>): void {
    if (!conn.auth || !this.all.has(conn)) return;
    const wanted = new Set<string>(scopes);
    wanted.add(`u:${conn.auth.userId}`);
    for (const scope of [...conn.scopes]) if (!wanted.has(scope)) this.unsubscribe(conn, scope);
    for (const scope of wanted) if (!conn.scopes.has(scope)) this.subscribe(conn, scope);
  }

  /**
   * Makes every connection of `userId` receive exactly `scopes` (and the
   * user's own): what the database says after effects may have been missed.
   */
  resubscribeUser(userId: string, scopes: Iterable<Scope>): void {
    this.changed(userId);
    const list = [...scopes];
    for (const conn of this.userConnections(userId)) this.setScopes(conn, list);
  }

  /** Users with an authenticated connection here. */
  users(): string[] {
    return [...this.byUser.keys()];
  }

  /** Stops sending `scope`'s events to anyone (the server or group is gone). */
  dropScope(scope: Scope): void {
    this.scopeDrops++;
    for (const conn of this.byScope.get(scope) ?? EMPTY) conn.scopes.delete(scope);
    this.byScope.delete(scope);
  }

  /** Closes every connection authenticated with one of `sessionIds`. */
  closeSessions(sessionIds: Iterable<string>, code: number, reason: string): number {
    let n = 0;
    for (const id of sessionIds) {
      for (const conn of [...(this.bySession.get(id) ?? EMPTY)]) {
        // Closing forgets the connection at once (Connection.onGone): frames still
        // arriving from it are dropped, so a revoked session cannot act again.
        conn.close(code, reason);
        this.remove(conn);
        n++;
      }
    }
    return n;
  }

  /**
   * Writes already-serialized text to every connection subscribed to any of
   * `scopes`, once each. The text is encoded once, and each transport's frame
   * built once, for the whole audience.
   */
  publish(scopes: readonly Scope[], text: string, except?: string): void {
    const frame = new OutgoingFrame(text);
    if (scopes.length === 1) {
      for (const conn of this.byScope.get(scopes[0] as string) ?? EMPTY) {
        if (conn.auth?.userId !== except) conn.sendFrame(frame);
      }
      return;
    }
    for (const conn of this.audience(scopes)) if (conn.auth?.userId !== except) conn.sendFrame(frame);
  }

  /**
   * Delivers a committed stream event to the connections subscribed to its
   * scopes; a connection still reading its replay holds it until then.
   */
  publishEvent(event: StoredEvent): void {
    const frame = new OutgoingFrame(event.text);
    const send = (conn: Connection) => conn.sendStored(event.id, frame);
    if (event.scopes.length === 1) {
      for (const conn of this.byScope.get(event.scopes[0] as string) ?? EMPTY) send(conn);
      return;
    }
    for (const conn of this.audience(event.scopes)) send(conn);
  }

  /** Sends an ephemeral (unstored) event to `scopes`, optionally leaving out one user's connections. */
  broadcast<N extends EventName>(scopes: readonly Scope[], event: N, data: EventData<N>, except?: string): void {
    this.publish(scopes, JSON.stringify({ event, data }), except);
  }

  /** The scopes a user's connections receive (from any one of them). */
  scopesOf(userId: string): Scope[] {
    const first = this.byUser.get(userId)?.values().next().value;
    return first ? ([...first.scopes] as Scope[]) : [];
  }

  /** The user a live session or bot token belongs to (undefined when none of its connections is live). */
  userOfSession(sessionId: string): string | undefined {
    const first = this.bySession.get(sessionId)?.values().next().value;
    return first?.auth?.userId;
  }

  /** The sessions and bot tokens that have a live connection now. */
  liveSessions(): string[] {
    return [...this.bySession.keys()];
  }

  /** Every live connection (for shutdown). */
  connections(): Connection[] {
    return [...this.all];
  }

  private audience(scopes: readonly Scope[]): Set<Connection> {
    const out = new Set<Connection>();
    for (const scope of scopes) for (const conn of this.byScope.get(scope) ?? EMPTY) out.add(conn);
    return out;
  }

  private subscribe(conn: Connection, scope: string): void {
    conn.scopes.add(scope);
    addTo(this.byScope, scope, conn);
  }

  private unsubscribe(conn: Connection, scope: string): void {
    conn.scopes.delete(scope);
    removeFrom(this.byScope, scope, conn);
  }

  private unindex(conn: Connection): void {
    const auth = conn.auth;
    if (!auth) return;
    const scopes = new Set(conn.scopes);
    for (const scope of scopes) removeFrom(this.byScope, scope, conn);
    conn.scopes.clear();
    removeFrom(this.byUser, auth.userId, conn);
    if (!this.byUser.has(auth.userId)) this.scopeChanges.delete(auth.userId);
    removeFrom(this.bySession, auth.sessionId, conn);
    if (conn.present) this.depart(auth.userId, scopes);
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
