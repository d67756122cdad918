import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { AccountListRow, AccountSummary, DeletedMessages, DeletionCounts, InstanceCounts } from './db/accounts.js';
import type { SessionRow, UserRow } from './db/schema.js';
import { account, InstanceAdminError, type InstanceDatabase } from './operators.js';

/*
 * The operators' user commands (`natter admin users|show|disable|enable|
 * delete|reset-password|sessions|revoke|stats`), on the server's own
 * database whether the server runs or not. A change that must end live
 * connections (disable, delete, reset-password, revoke) bumps the
 * operators' signal in the same transaction; a running natter notices it
 * within a quarter second and closes them (account-watch.ts).
 */

/** How long a session must have been seen ago, at most, for its account to count as active in `stats`. */
export const ACTIVE_MS = 30 * 24 * 3600 * 1000;

/** Runs `fn` and turns database failures into the person's words. */
async function explained<T>(db: InstanceDatabase, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw db.explain(err);
  }
}

/** A page of accounts (`natter admin users`): `next` is the username key to go on after, or null. */
export async function listAccounts(
  db: InstanceDatabase,
  search: string | null,
  disabledOnly: boolean,
  after: string | null,
  limit: number,
): Promise<{ accounts: AccountListRow[]; next: string | null }> {
  return explained(db, async () => {
    const rows = await db.accounts.list(search === '' ? null : search, disabledOnly, after, limit + 1);
    const accounts = rows.slice(0, limit);
    const last = accounts.at(-1);
    return { accounts, next: rows.length > limit && last ? last.usernameKey : null };
  });
}

/** One account and what it holds (`natter admin show`). */
export async function showAccount(
  db: InstanceDatabase,
  name: string,
): Promise<{ user: UserRow; summary: AccountSummary }> {
  return explained(db, async () => {
    const user = await account(db, name);
    return { user, summary: await db.accounts.summary(user.id) };
  });
}

/** Disables an account (`at`) or enables it (null); `changed` false when it already was so. */
export async function setDisabled(
  db: InstanceDatabase,
  name: string,
  disabled: boolean,
  now: number,
): Promise<{ user: UserRow; changed: boolean }> {
  return explained(db, () =>
    db.atomically(async ({ users, accounts }) => {
      const user = await account({ where: db.where, users }, name);
      const changed = await accounts.setDisabled(user.id, disabled ? now : null);
      if (changed) await accounts.bumpSignal();
      return { user: { ...user, disabledAt: disabled ? (changed ? now : user.disabledAt) : null }, changed };
    }),
  );
}

/** The refusal of deleting an account that owns servers. */
function ownsServers(name: string, servers: readonly { name: string }[]): InstanceAdminError {
  const names = servers.map((s) => s.name).join(', ');
  return new InstanceAdminError(
    'refused',
    `${name} owns ${names}: they must give ${servers.length === 1 ? 'it' : 'them'} away (natter server transfer) or delete ${servers.length === 1 ? 'it' : 'them'} first; nothing was deleted`,
  );
}

/**
 * Deletes an account as `natter account delete` does, but for its owner's
 * events (a running server's members lists catch up at their next read):
 * refused while it owns servers.
 */
export async function deleteAccount(
  db: InstanceDatabase,
  name: string,
  mode: DeletedMessages,
  now: number,
): Promise<{ user: UserRow; counts: DeletionCounts }> {
  return explained(db, () =>
    db.atomically(async ({ users, accounts }) => {
      const user = await account({ where: db.where, users }, name);
      const owned = await accounts.ownedServers(user.id);
      if (owned.length > 0) throw ownsServers(user.username, owned);
      const counts = await accounts.deleteAccount(user.id, now, mode);
      await accounts.bumpSignal();
      return { user, counts };
    }),
  );
}

/** A password nobody chose: 20 characters of 120 random bits. */
function randomPassword(): string {
  return randomBytes(15).toString('base64url');
}

/**
 * Gives an account a new random password (returned, to be passed on once)
 * and ends every session and bot token it had. The hash is made at the cost
 * most of the database's hashes have (the server's setting), 12 when none.
 */
export async function resetPassword(
  db: InstanceDatabase,
  name: string,
  now: number,
): Promise<{ user: UserRow; password: string; ended: number }> {
  return explained(db, async () => {
    const user = await account(db, name);
    const cost = (await db.users.commonHashCost()) ?? 12;
    const password = randomPassword();
    const passwordHash = await bcrypt.hash(password, cost);
    return db.atomically(async ({ users, accounts }) => {
      await users.update(user.id, { passwordHash, updatedAt: now });
      const ended = await accounts.endSessions(user.id, null);
      await accounts.bumpSignal();
      return { user, password, ended: ended.length };
    });
  });
}

/** An account's sessions and bot tokens (`natter admin sessions`). */
export async function accountSessions(
  db: InstanceDatabase,
  name: string,
): Promise<{ user: UserRow; sessions: SessionRow[] }> {
  return explained(db, async () => {
    const user = await account(db, name);
    return { user, sessions: await db.accounts.sessionsOf(user.id) };
  });
}

/** Ends one session or bot token of an account, or all of them (`natter admin revoke`). */
export async function revokeSessions(
  db: InstanceDatabase,
  name: string,
  sessionId: string | null,
): Promise<{ user: UserRow; ended: string[] }> {
  return explained(db, () =>
    db.atomically(async ({ users, accounts }) => {
      const user = await account({ where: db.where, users }, name);
      const ended = await accounts.endSessions(user.id, sessionId);
      if (sessionId !== null && ended.length === 0) {
        throw new InstanceAdminError(
          'not_found',
          `${user.username} has no session or bot token ${sessionId}: natter admin sessions ${user.username} lists them`,
        );
      }
      if (ended.length > 0) await accounts.bumpSignal();
      return { user, ended };
    }),
  );
}

/** Bytes of the files under `dir` (0 when there is none). */
function treeBytes(dir: string): number {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += treeBytes(path);
    else if (e.isFile()) total += statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

/** The instance's counts and sizes (`natter admin stats`). */
export async function instanceStats(
  db: InstanceDatabase,
  mediaDir: string,
  now: number,
): Promise<InstanceCounts & { databaseBytes: number; mediaBytes: number; mediaDir: string }> {
  return explained(db, async () => ({
    ...(await db.accounts.counts(now - ACTIVE_MS)),
    databaseBytes: await db.size(),
    mediaBytes: treeBytes(mediaDir),
    mediaDir,
  }));
}
