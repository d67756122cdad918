import { CloseCode } from '../protocol/index.js';
import type { Hub } from './hub.js';
import type { Logger } from './log.js';
import type { AccountStore, UserStore } from './store/port.js';

/** How often a running natter looks at the operators' signal. */
export const WATCH_MS = 250;

/** Sessions checked per query when the signal moved. */
const CHUNK = 500;

/**
 * Notices the changes `natter admin` makes to accounts from outside the
 * server (disable, delete, reset-password, revoke) and closes the
 * connections they end, within about {@link WATCH_MS}.
 *
 * The admin commands write straight to the database, then bump a counter in
 * the `meta` table (`accounts_signal`). Every natter reads that one row every
 * quarter second, on SQLite (its read connection: the row is in the page
 * cache, the read costs microseconds) and on PostgreSQL alike (one indexed
 * row, so a cluster of N nodes costs 4N tiny queries a second). When the
 * counter moved, each node checks the sessions of its own live connections:
 * those whose session is gone, or whose account is disabled or deleted, are
 * closed. Every node does this for its own connections, so a cluster needs
 * nothing on the bus; a node that was down missed nothing (its connections
 * are gone too). A check also runs at start, so a signal never needs to be
 * seen twice. Password changes and resets bump the counter as well, so the
 * sessions they revoke close on every node even if the bus lost the close.
 */
export class AccountWatch {
  #timer: NodeJS.Timeout | null = null;
  #seen: string | null = null;
  #busy = false;
  #failing = false;

  constructor(
    private readonly deps: { accounts: AccountStore; users: UserStore; hub: Hub; log: Logger },
    private readonly intervalMs = WATCH_MS,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One look at the signal; when it moved, the live sessions are checked. */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const signal = await this.deps.accounts.signal();
      if (signal === this.#seen) return;
      await this.check();
      this.#seen = signal;
      this.#failing = false;
    } catch (err) {
      // The database may be busy or unreachable a moment: the next tick tries again (said once).
      if (!this.#failing) this.deps.log.warn(`checking accounts changed by natter admin: ${(err as Error).message}`);
      this.#failing = true;
    } finally {
      this.#busy = false;
    }
  }

  /** Closes the live connections whose session ended or whose account was disabled or deleted. */
  async check(): Promise<number> {
    const { hub, accounts, users } = this.deps;
    const live = hub.liveSessions();
    const gone: string[] = [];
    for (let i = 0; i < live.length; i += CHUNK) {
      const chunk = live.slice(i, i + CHUNK);
      const kept = new Set(await accounts.liveSessions(chunk));
      for (const id of chunk) if (!kept.has(id)) gone.push(id);
    }
    let closed = 0;
    for (const sessionId of gone) {
      const userId = hub.userOfSession(sessionId);
      const user = userId === undefined ? undefined : await users.byId(userId);
      if (user?.deletedAt != null) {
        closed += hub.closeSessions([sessionId], CloseCode.accountClosed, 'account deleted');
      } else if (user?.disabledAt != null) {
        closed += hub.closeSessions(
          [sessionId],
          CloseCode.accountClosed,
          "account disabled by the natter server's operators",
        );
      } else {
        closed += hub.closeSessions(
          [sessionId],
          CloseCode.sessionRevoked,
          // An operator's revoke, a password change or reset: whichever ended it, the session is gone.
          'session revoked',
        );
      }
    }
    return closed;
  }
}
