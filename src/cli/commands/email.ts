import type { ResultOf } from '../../protocol/index.js';
import { act } from '../session.js';
import { clean, fmtTime, table } from '../util.js';

type Self = ResultOf<'whoami'>['user'];

/** The email lines of `natter email` and `whoami`. */
export function emailRows(user: Self): string[][] {
  const rows: string[][] = [];
  if (user.email === undefined) return rows;
  rows.push(['email', user.email === null ? '- (natter email set ADDRESS adds one)' : `${user.email} (confirmed)`]);
  if (user.pendingEmail) {
    rows.push(['waiting', `${user.pendingEmail}: natter email verify CODE with the code mailed to it`]);
  }
  if (user.confirmBy !== undefined) {
    rows.push(['confirm by', `${fmtTime(user.confirmBy)}: until then this account can only confirm its address`]);
  }
  return rows;
}

function rowsText(rows: string[][]): string {
  return table(['', ''], rows).split('\n').slice(1).join('\n');
}

/** `natter email`: the confirmed address and the one waiting for its code. */
export const show = act(async (ctx) => {
  const { user } = await ctx.s.request('whoami', {});
  ctx.out(
    { email: user.email ?? null, pendingEmail: user.pendingEmail ?? null, confirmBy: user.confirmBy ?? null },
    () => rowsText(emailRows(user)),
  );
});

/** The line that says a code was mailed. */
function mailed(address: string, expiresAt: number): string {
  return `a code was mailed to ${clean(address)}; confirm with: natter email verify CODE (it works until ${fmtTime(expiresAt)})`;
}

/** `natter email set ADDRESS` */
export const set = act(async (ctx, address: string) => {
  const res = await ctx.s.request('email.set', { address });
  ctx.out(res, () => mailed(res.user.pendingEmail ?? address, res.expiresAt));
});

/** `natter email resend` */
export const resend = act(async (ctx) => {
  const res = await ctx.s.request('email.resend', {});
  ctx.out(res, () => mailed(res.user.pendingEmail ?? '', res.expiresAt));
});

/** `natter email verify CODE` */
export const verify = act(async (ctx, code: string) => {
  const res = await ctx.s.request('email.verify', { code });
  ctx.out(res, () => `${clean(res.user.email)} is confirmed as your email address`);
});

/** `natter email remove` */
export const remove = act(async (ctx) => {
  const res = await ctx.s.request('email.remove', {});
  ctx.out(res, () => 'email address removed; password reset by mail no longer works for this account');
});
