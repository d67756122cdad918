import { act } from '../session.js';
import { fmtTime, table } from '../util.js';
import { OPERATOR } from './whoami.js';

/** `natter profile [--display-name X] [--status X] [--bio X]` */
export const profile = act(async (ctx) => {
  const o = ctx.opts as { displayName?: string; status?: string; bio?: string };
  const changes: { displayName?: string | null; status?: string | null; bio?: string | null } = {};
  if (o.displayName !== undefined) changes.displayName = o.displayName === '' ? null : o.displayName;
  if (o.status !== undefined) changes.status = o.status === '' ? null : o.status;
  if (o.bio !== undefined) changes.bio = o.bio === '' ? null : o.bio;
  const user =
    Object.keys(changes).length > 0
      ? (await ctx.s.request('profile.update', changes)).user
      : (await ctx.s.request('whoami', {})).user;
  ctx.out({ user }, () =>
    table(
      ['', ''],
      [
        ['username', user.username],
        ['display name', user.displayName ?? '-'],
        ['status', user.status ?? '-'],
        ['bio', user.bio ?? '-'],
        ['since', fmtTime(user.createdAt)],
        ...(user.operator ? [['operator', OPERATOR]] : []),
      ],
    )
      .split('\n')
      .slice(1)
      .join('\n'),
  );
});
