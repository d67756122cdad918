import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { UserRow } from '../../server/db/schema.js';
import { formatBytes } from '../../server/quotas.js';
import { askYes, CliError, clean, EXIT, fmtTime, table, usageError } from '../util.js';
import { type AdminOptions, print, withDatabase } from './admin.js';

/*
 * `natter admin users|show|disable|enable|delete|reset-password|sessions|
 * end-sessions|stats`: the operators' user commands, on the server's own
 * database (server/instance-accounts.ts does the work).
 */

const accounts = () => import('../../server/instance-accounts.js');

/** An account as these commands print it with --json: never its password hash. */
function accountJson(u: UserRow) {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    email: u.email,
    emailVerifiedAt: u.emailVerifiedAt,
    createdAt: u.createdAt,
    operator: u.operator,
    disabledAt: u.disabledAt,
  };
}

/** `natter admin users [SEARCH] [--limit N] [--after KEY] [--disabled]` */
export async function users(
  search: string | undefined,
  opts: AdminOptions & { limit: number; after?: string; disabled?: boolean },
  cmd: Command,
): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const page = await m.listAccounts(db, search ?? null, opts.disabled === true, opts.after ?? null, opts.limit);
    const rows = page.accounts.map((u) => [
      clean(u.username),
      clean(u.displayName ?? ''),
      fmtTime(u.createdAt),
      u.lastSeenAt === null ? '-' : fmtTime(u.lastSeenAt),
      String(u.sessions),
      [u.operator ? 'operator' : '', u.disabledAt !== null ? 'disabled' : ''].filter(Boolean).join(' '),
    ]);
    const human =
      rows.length === 0
        ? search
          ? `no account's name holds "${clean(search)}"`
          : 'no accounts'
        : table(['USERNAME', 'DISPLAY NAME', 'CREATED', 'LAST SEEN', 'SESSIONS', 'FLAGS'], rows) +
          (page.next === null ? '' : `\n(more: natter admin users --after ${page.next})`);
    print(
      cmd,
      {
        database: db.where,
        accounts: page.accounts.map((u) => ({ ...accountJson(u), sessions: u.sessions, lastSeenAt: u.lastSeenAt })),
        next: page.next,
      },
      human,
    );
  });
}

/** `natter admin show USER` */
export async function show(username: string, opts: AdminOptions, cmd: Command): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const { user, summary } = await m.showAccount(db, username);
    const lines = [
      `username      ${clean(user.username)}`,
      `display name  ${clean(user.displayName ?? '-')}`,
      `id            ${user.id}`,
      `email         ${user.email === null ? '-' : `${clean(user.email)} (${user.emailVerifiedAt === null ? 'not confirmed' : 'confirmed'})`}`,
      `created       ${fmtTime(user.createdAt)}`,
      `last seen     ${summary.lastSeenAt === null ? '-' : fmtTime(summary.lastSeenAt)} (${summary.loginAddresses} login address(es))`,
      `sessions      ${summary.sessions}, bot tokens ${summary.botTokens}`,
      `servers       owns ${summary.serversOwned.length === 0 ? 'none' : summary.serversOwned.map((s) => clean(s.name)).join(', ')}; member of ${summary.serversJoined}; groups ${summary.groups}`,
      `messages      ${summary.messages}`,
      `uploads       ${summary.uploads} (${formatBytes(summary.uploadBytes)})`,
      `operator      ${user.operator ? 'yes' : 'no'}`,
      `disabled      ${user.disabledAt === null ? 'no' : `since ${fmtTime(user.disabledAt)}`}`,
    ];
    print(cmd, { database: db.where, user: accountJson(user), ...summary }, lines.join('\n'));
  });
}

/** `natter admin disable USER [--reason TEXT]` */
export async function disable(username: string, opts: AdminOptions & { reason?: string }, cmd: Command): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const { user, changed } = await m.setDisabled(db, username, true, Date.now());
    const name = clean(user.username);
    const why = opts.reason ? ` (${clean(opts.reason)})` : '';
    print(
      cmd,
      { database: db.where, user: accountJson(user), disabled: true, changed, reason: opts.reason ?? null },
      changed
        ? `${name} is disabled${why}: it can no longer log in or use its tokens, and a running server closes its connections`
        : `${name} was already disabled; nothing changed`,
    );
  });
}

/** `natter admin enable USER` */
export async function enable(username: string, opts: AdminOptions, cmd: Command): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const { user, changed } = await m.setDisabled(db, username, false, Date.now());
    const name = clean(user.username);
    print(
      cmd,
      { database: db.where, user: accountJson(user), disabled: false, changed },
      changed ? `${name} is enabled again: it can log in` : `${name} is not disabled; nothing changed`,
    );
  });
}

/** `natter admin delete USER [--yes] [--deleted-messages keep|remove]` */
export async function remove(
  username: string,
  opts: AdminOptions & { yes?: boolean; deletedMessages: 'keep' | 'remove' },
  cmd: Command,
): Promise<void> {
  if (!opts.yes && !process.stdin.isTTY) {
    throw usageError(
      `deleting ${clean(username)} cannot be undone, and there is no terminal to ask on: add --yes to confirm`,
    );
  }
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    if (!opts.yes) {
      const { user } = await m.showAccount(db, username);
      const yes = await askYes(
        `delete the account ${clean(user.username)} for good? y: yes, any other answer: no [y/N] `,
      );
      if (!yes) throw new CliError(EXIT.refused, 'cancelled', `${clean(user.username)} is kept`);
    }
    const { user, counts } = await m.deleteAccount(db, username, opts.deletedMessages, Date.now());
    print(
      cmd,
      {
        database: db.where,
        deleted: true,
        user: { id: user.id, username: user.username },
        deletedMessages: opts.deletedMessages,
        ...counts,
      },
      `${clean(user.username)} is deleted: ${counts.sessions} session(s) and token(s) ended, ${counts.uploadsRemoved} upload(s) removed, ` +
        (opts.deletedMessages === 'keep'
          ? 'its messages stay as "deleted user"'
          : `${counts.messagesRemoved} message(s) removed`),
    );
  });
}

/** `natter admin reset-password USER` */
export async function resetPassword(username: string, opts: AdminOptions, cmd: Command): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const { user, password, ended } = await m.resetPassword(db, username, Date.now());
    print(
      cmd,
      { database: db.where, user: accountJson(user), password, endedSessions: ended },
      `${clean(user.username)}'s new password (shown once; pass it on safely, they should change it with natter passwd):\n${password}\n${ended} session(s) and bot token(s) ended`,
    );
  });
}

/** `natter admin sessions USER` */
export async function sessions(username: string, opts: AdminOptions, cmd: Command): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const { user, sessions: rows } = await m.accountSessions(db, username);
    const list = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      name: r.name,
      address: r.address,
      createdAt: r.createdAt,
      lastSeenAt: r.lastSeenAt,
    }));
    const human =
      list.length === 0
        ? `${clean(user.username)} has no sessions or bot tokens`
        : table(
            ['ID', 'KIND', 'NAME', 'ADDRESS', 'CREATED', 'LAST SEEN'],
            list.map((r) => [
              r.id,
              r.kind === 'bot' ? 'bot token' : 'session',
              clean(r.name ?? '-'),
              clean(r.address ?? '-'),
              fmtTime(r.createdAt),
              r.lastSeenAt === null ? '-' : fmtTime(r.lastSeenAt),
            ]),
          );
    print(cmd, { database: db.where, user: accountJson(user), sessions: list }, human);
  });
}

/** `natter admin end-sessions USER [SESSION_ID]` */
export async function endSessions(
  username: string,
  sessionId: string | undefined,
  opts: AdminOptions,
  cmd: Command,
): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const { user, ended } = await m.revokeSessions(db, username, sessionId ?? null);
    const name = clean(user.username);
    print(
      cmd,
      { database: db.where, user: accountJson(user), ended },
      sessionId === undefined
        ? ended.length === 0
          ? `${name} had no sessions or bot tokens; nothing changed`
          : `${ended.length} session(s) and bot token(s) of ${name} ended; a running server closes their connections`
        : `session ${sessionId} of ${name} ended; a running server closes its connections`,
    );
  });
}

/** `natter admin stats [--media-dir DIR]` */
export async function stats(opts: AdminOptions & { mediaDir?: string }, cmd: Command): Promise<void> {
  const m = await accounts();
  await withDatabase(opts, async (db) => {
    const mediaDir = opts.mediaDir ? resolve(opts.mediaDir) : join(resolve(opts.data), 'media');
    const s = await m.instanceStats(db, mediaDir, Date.now());
    const lines = [
      `accounts   ${s.users} (${s.active} active in 30 days, ${s.disabled} disabled, ${s.operators} operator(s); ${s.deleted} deleted)`,
      `sessions   ${s.sessions}, bot tokens ${s.botTokens}`,
      `servers    ${s.servers}, channels ${s.channels}, groups ${s.groups}, DMs ${s.dms}`,
      `messages   ${s.messages}`,
      `uploads    ${s.uploads} (${formatBytes(s.uploadBytes)})`,
      `database   ${formatBytes(s.databaseBytes)} (${db.where})`,
      `media      ${formatBytes(s.mediaBytes)} (${s.mediaDir})`,
    ];
    print(cmd, { database: db.where, ...s }, lines.join('\n'));
  });
}
