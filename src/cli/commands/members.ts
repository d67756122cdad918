import { allPages } from '../../client/pages.js';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { fmtTime, table } from '../util.js';

/** `natter members <server>` */
export const members = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const members = await allPages(async (after) => {
    const r = await ctx.s.request('members.list', { serverId: server.id, after });
    return { items: r.members, next: r.next };
  });
  ctx.out({ serverId: server.id, members }, () =>
    table(
      ['USERNAME', 'DISPLAY NAME', 'ROLE', 'ONLINE', 'JOINED'],
      members.map((m) => [
        m.user.username,
        m.user.displayName ?? '',
        m.timeoutUntil === undefined ? m.role : `${m.role}, timed out until ${fmtTime(m.timeoutUntil)}`,
        m.online ? 'yes' : 'no',
        fmtTime(m.joinedAt),
      ]),
    ),
  );
});
