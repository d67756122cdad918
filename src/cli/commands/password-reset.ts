import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { usernameKey } from '../../protocol/text.js';
import { usageError } from '../errors.js';
import { act } from '../session.js';
import { clean, type PasswordOptions, readPassword, serverKey } from '../util.js';

/** Where the username of the last reset asked for is kept, per server (no secret: the code is never stored). */
function memoPath(configDir: string): string {
  return join(configDir, 'password-reset.json');
}

function readMemo(configDir: string): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(memoPath(configDir), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function remember(configDir: string, server: string, username: string): void {
  const memo = readMemo(configDir);
  memo[serverKey(server)] = username;
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  writeFileSync(memoPath(configDir), `${JSON.stringify(memo, null, 2)}\n`, { mode: 0o600 });
}

type ResetOptions = PasswordOptions & { code?: string; user?: string };

/**
 * `natter password reset USERNAME` mails a reset code to the account's
 * confirmed address; `natter password reset --code CODE [--user USERNAME]`
 * sets a new password with it (the username of the last request is
 * remembered in the config dir).
 */
export const reset = act(async (ctx, username: string | undefined) => {
  const opts = ctx.opts as ResetOptions;
  if (opts.code === undefined) {
    if (username === undefined) {
      throw usageError('name the account: natter password reset USERNAME (then --code CODE with the mailed code)');
    }
    if (opts.user !== undefined)
      throw usageError('--user goes with --code; without it, name the account as the argument');
    const res = await ctx.s.raw('password.resetRequest', { username });
    remember(ctx.g.configDir, ctx.g.server, username);
    ctx.out(
      res,
      () =>
        `if ${clean(username)} has a confirmed email address, a reset code was mailed to it (it works for ${Math.round(res.expiresInMs / 60_000)} minutes); then: natter password reset --code CODE`,
    );
    return;
  }
  if (username !== undefined && opts.user !== undefined && usernameKey(username) !== usernameKey(opts.user)) {
    throw usageError(`two different accounts named: ${username} and --user ${opts.user}`);
  }
  const name = opts.user ?? username ?? readMemo(ctx.g.configDir)[serverKey(ctx.g.server)];
  if (name === undefined) {
    throw usageError(
      `which account? add --user USERNAME (no reset was asked for from here on ${serverKey(ctx.g.server)})`,
    );
  }
  const newPassword = await readPassword(opts, {
    prompt: 'New password',
    envVar: 'NATTER_NEW_PASSWORD',
    confirm: true,
  });
  const res = await ctx.s.raw('password.reset', { username: name, code: opts.code, newPassword });
  ctx.out(
    res,
    () =>
      `password of ${clean(name)} reset; ${res.revokedSessions} session(s) logged out and ${res.revokedBotTokens} bot token(s) revoked: log in again with natter login ${clean(name)}`,
  );
});
