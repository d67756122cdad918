import { allPages } from '../../client/pages.js';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { fmtTime, table } from '../util.js';

/** `natter bans <server>` */
export const bans = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const bans = await allPages(async (after) => {
    const r = await ctx.s.request('bans.list', { serverId: server.id, after });
    return { items: r.bans, next: r.next };
  });
  ctx.out({ serverId: server.id, bans }, () =>
    table(
      ['USERNAME', 'BY', 'SINCE', 'REASON'],
      bans.map((b) => [b.user.username, b.bannedBy.username, fmtTime(b.createdAt), b.reason ?? '']),
    ),
  );
});
