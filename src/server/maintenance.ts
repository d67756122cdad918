import { CloseCode } from '../protocol/index.js';
import type { Services } from './context.js';
import { dayOf } from './db/media.js';
import { KNOWN_ADDRESS_MS } from './handlers/accounts.js';
import { BLOB_GRACE_MS, sweepBlobs, TEMP_MAX_AGE_MS } from './media/sweep.js';
import type { AfterCommit, Lease, TxStores } from './store/port.js';

/** Rows deleted per write batch by the sweeps: small enough that no batch holds up the writer for long. */
export const SWEEP_BATCH = 500;

/**
 * Runs `batch` through the writer, one job per turn of the event loop, until
 * it deletes less than a full batch. Each batch is a job of its own in a group
 * commit, so sends and other writes interleave with a long sweep instead of
 * waiting behind one big DELETE.
 */
async function sweep(
  services: Services,
  batch: (tx: TxStores, after: AfterCommit) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await services.store.write(batch);
    total += n;
    if (n < SWEEP_BATCH) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** What one maintenance pass removed. */
export type MaintenanceReport = {
  events: number;
  sessions: number;
  holds: number;
  usage: number;
  invites: number;
  /** Audit log entries past `auditRetentionMs`. */
  audit: number;
  /** Shared rate-limit buckets full again (PostgreSQL; always 0 on SQLite, whose buckets live in memory). */
  rateBuckets: number;
  /** Uploads not put to use in time (their rows; their blobs go with `blobs`). */
  files: number;
  /** Daily upload totals of days before yesterday. */
  uploadUsage: number;
  /** Temporary files of uploads that never finished. */
  temps: number;
  /** Blobs no row names, past their grace period. */
  blobs: number;
  /** Accounts removed for not confirming the email address the server required in time. */
  unconfirmed: number;
  /** Mailed codes past their expiry. */
  codes: number;
  /** Mails sent or given up more than a week ago (the outbox's history). */
  mail: number;
};

/** How long the outbox keeps a mail once sent or given up (for `natter admin mail`). */
export const MAIL_HISTORY_MS = 7 * 24 * 3600 * 1000;

/** How long a dead invite code (revoked, expired, used up) is kept before it is deleted. */
export const DEAD_INVITE_MS = 7 * 24 * 3600 * 1000;

/**
 * The hourly housekeeping: stream events past their retention (a cursor older
 * than what is left gets `limited` on resume), login sessions unused for
 * longer than `sessionIdleMs` (their connections, if any, are closed),
 * username holds past `usernameHoldMs`, daily write totals of past days,
 * addresses not logged in from for 90 days, invite codes dead for a week,
 * servers' audit log entries past `auditRetentionMs`,
 * shared rate-limit buckets full again, and files (uploads not put to use,
 * upload totals, unfinished temporary files, blobs no row names), accounts that did not confirm the
 * email address the server required in time, expired mailed codes and the outbox's week-old history;
 * then the cost of the dummy hash
 * unknown users are checked against follows the cost most accounts now have.
 * On PostgreSQL one natter of a cluster runs it (see {@link Maintenance}).
 */
export async function runMaintenance(services: Services): Promise<MaintenanceReport> {
  const now = services.clock();
  const { config, store } = services;
  const removed = await sweep(services, (tx) => tx.events.prune(now - config.eventRetentionMs, SWEEP_BATCH));
  await touchLiveSessions(services, now);
  const expired = await sweep(services, async (tx, after) => {
    const ids = await tx.sessions.expireIdle(now - config.sessionIdleMs, SWEEP_BATCH);
    after.push(() =>
      services.fanout.closeSessions(ids, CloseCode.sessionRevoked, 'session expired after a long time unused'),
    );
    return ids.length;
  });
  await sweep(services, (tx) => tx.sessions.forgetAddresses(now - KNOWN_ADDRESS_MS, SWEEP_BATCH));
  // Invite codes that stopped working a week ago: a member following one is told alreadyMember until then.
  const invites = await sweep(services, (tx) => tx.chat.pruneDeadInvites(now - DEAD_INVITE_MS, SWEEP_BATCH));
  const holds = await sweep(services, (tx) => tx.users.pruneHolds(now - config.usernameHoldMs, SWEEP_BATCH));
  const audit = await sweep(services, (tx) => tx.audit.prune(now - config.auditRetentionMs, SWEEP_BATCH));
  const usage = await store.write((tx) => tx.usage.pruneBefore(now));
  const media = await sweepMedia(services, now);
  // A bucket untouched for its capacity times its refill is full, the same as no bucket.
  const full = Math.max(...Object.values(config.limits).map((l) => l.capacity * l.refillMs));
  let rateBuckets = 0;
  for (;;) {
    const n = await store.pruneLimits(now - full, SWEEP_BATCH);
    rateBuckets += n;
    if (n < SWEEP_BATCH) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const accounts = await sweepMail(services, now);
  await followDummyCost(services);
  return { events: removed, sessions: expired, holds, usage, invites, audit, rateBuckets, ...media, ...accounts };
}

/**
 * Mail: accounts registered while the server required an email address
 * that did not confirm one by their `verify_by` (their sessions are closed;
 * only while the server still requires one), codes past their expiry, and
 * the outbox's history older than a week.
 */
async function sweepMail(
  services: Services,
  now: number,
): Promise<Pick<MaintenanceReport, 'unconfirmed' | 'codes' | 'mail'>> {
  let unconfirmed = 0;
  if (services.config.mail?.requireEmail) {
    await sweep(services, async (tx, after) => {
      const ids = await tx.mail.overdueUnconfirmed(now, SWEEP_BATCH);
      const sessions: string[] = [];
      // Counted once committed (a rolled-back batch removed nobody).
      let removed = 0;
      for (const id of ids) {
        const rows = [
          ...(await tx.sessions.revokeOthers(id, 'session', null)),
          ...(await tx.sessions.revokeOthers(id, 'bot', null)),
        ];
        if (await tx.mail.removeUnconfirmed(id, now)) {
          removed++;
          sessions.push(...rows.map((r) => r.id));
        }
      }
      after.push(() => {
        unconfirmed += removed;
      });
      after.push(() =>
        services.fanout.closeSessions(
          sessions,
          CloseCode.sessionRevoked,
          'account removed: its email address was not confirmed in time',
        ),
      );
      return ids.length;
    });
  }
  const codes = await sweep(services, (tx) => tx.mail.pruneCodes(now, SWEEP_BATCH));
  const mail = await sweep(services, (tx) => tx.mail.pruneOutbox(now - MAIL_HISTORY_MS, SWEEP_BATCH));
  return { unconfirmed, codes, mail };
}

/**
 * Files: rows of uploads not put to use before their `expires_at` (slots
 * never uploaded to, files never attached), upload totals of days before
 * yesterday, temporary files of uploads that never finished, and then the
 * blobs no row names any more, whatever removed the rows (this sweep, a
 * deleted message, channel or server, a replaced picture): deleting a row
 * never touches bytes, the sweep does, safely against uploads committing at
 * the same moment (media/sweep.ts).
 */
async function sweepMedia(
  services: Services,
  now: number,
): Promise<Pick<MaintenanceReport, 'files' | 'uploadUsage' | 'temps' | 'blobs'>> {
  const files = await sweep(services, async (tx) => {
    const ids = await tx.media.expired(now, SWEEP_BATCH);
    for (const id of ids) await tx.media.remove(id);
    return ids.length;
  });
  const uploadUsage = await services.store.write((tx) => tx.media.pruneUsage(dayOf(now) - 1));
  const temps = await services.blobs.removeTemps(now - TEMP_MAX_AGE_MS);
  const blobs = await sweepBlobs(services.blobs, services.media, now - BLOB_GRACE_MS);
  return { files, uploadUsage, temps, blobs };
}

/**
 * A session in use on an open connection is not idle, however long ago it
 * connected: each natter renews those of its own connections, since the one
 * that expires idle sessions sees only its own.
 */
async function touchLiveSessions(services: Services, now: number): Promise<void> {
  const live = services.hub.liveSessions();
  for (let i = 0; i < live.length; i += SWEEP_BATCH) {
    const ids = live.slice(i, i + SWEEP_BATCH);
    await services.store.write(async (tx) => {
      for (const id of ids) await tx.sessions.touch(id, now);
    });
  }
}

/** Unknown users keep costing what most accounts cost, as accounts move to the configured cost (each natter's own hasher). */
async function followDummyCost(services: Services): Promise<void> {
  services.passwords.setDummyCost((await services.users.commonHashCost()) ?? services.config.bcryptCost);
}

/**
 * Runs the maintenance every `maintenanceIntervalMs`, from `start()` on, on
 * the natter that holds the store's `maintenance` lease: on SQLite always
 * this one; on PostgreSQL the one natter of those sharing the database that
 * holds its advisory lock. The others only renew their own connections'
 * sessions and follow the dummy hash cost, and ask for the lease at each
 * interval: when its holder stops or dies, the next to ask takes it and runs
 * the sweeps at once. A pass still under way when the next is due makes
 * that one wait for the interval after.
 */
export class Maintenance {
  /** Times this natter asked for the lease, sweeps it ran, and whether it held the lease at its last look. */
  readonly stats = { passes: 0, runs: 0, holding: false };
  readonly #lease: Lease;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** What the log last said about who runs the sweeps. */
  #said: boolean | null = null;

  constructor(private readonly services: Services) {
    this.#lease = services.store.lease('maintenance');
  }

  /** Runs a pass now and then every interval. */
  start(): void {
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.services.config.maintenanceIntervalMs);
    this.#timer.unref();
  }

  /** Stops the timer, waits for a pass under way and gives the lease up. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
    await this.#lease.release();
    this.stats.holding = false;
  }

  #tick(): void {
    if (this.#running || this.#stopped) return;
    this.#running = this.#pass()
      .catch((err: unknown) => this.services.log.error('hourly maintenance', err))
      .finally(() => {
        this.#running = null;
      });
  }

  async #pass(): Promise<void> {
    const { services } = this;
    const holding = await this.#lease.hold();
    if (holding !== this.#said && services.store.backend === 'postgres') {
      this.#said = holding;
      services.log.info(
        holding
          ? 'maintenance: this natter runs the sweeps for every natter on the database'
          : 'maintenance: another natter runs the sweeps',
      );
    }
    this.stats.holding = holding;
    this.stats.passes++;
    if (this.#stopped) return;
    if (holding) {
      await runMaintenance(services);
      this.stats.runs++;
    } else {
      await touchLiveSessions(services, services.clock());
      await followDummyCost(services);
    }
  }
}
