import { allPages } from '../../client/pages.js';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { clean, who } from '../util.js';

/** `natter online <server>` */
export const online = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const users = await allPages(async (after) => {
    const r = await ctx.s.request('members.online', { serverId: server.id, after });
    return { items: r.users, next: r.next };
  });
  ctx.out({ serverId: server.id, users }, () =>
    users.length === 0 ? 'nobody is online' : users.map((u) => clean(who(u))).join('\n'),
  );
});
