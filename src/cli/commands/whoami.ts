import { act } from '../session.js';
import { fmtTime, serverKey, table, who } from '../util.js';
import { emailRows } from './email.js';

/** What `whoami` and `profile` say of an instance operator (only ever shown to themself). */
export const OPERATOR = 'yes: you are an operator of this natter server';

/** A profile picture or server icon as `profile` and `whoami` show it: its id, for `natter download`; `-` for none. */
export function pictureWords(picture: { id: string } | undefined): string {
  return picture ? `id ${picture.id} (natter download ${picture.id})` : '-';
}

/** `natter whoami` */
export const whoami = act(async (ctx) => {
  const res = await ctx.s.request('whoami', {});
  ctx.out({ server: serverKey(ctx.g.server), ...res }, () => {
    const rows = [
      ['user', who(res.user)],
      ['user id', res.user.id],
      ['server', serverKey(ctx.g.server)],
    ];
    if (res.user.status) rows.push(['status', res.user.status]);
    if (res.user.avatar) rows.push(['picture', pictureWords(res.user.avatar)]);
    if (res.user.operator) rows.push(['operator', OPERATOR]);
    rows.push(...emailRows(res.user));
    if (res.session) rows.push(['session', `${res.session.id} (since ${fmtTime(res.session.createdAt)})`]);
    if (res.botToken) rows.push(['bot token', `${res.botToken.name} (${res.botToken.id})`]);
    if (ctx.s.tokenSource === 'env') rows.push(['token from', 'NATTER_TOKEN']);
    return table(['', ''], rows).split('\n').slice(1).join('\n');
  });
});
