import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { clean, who } from '../util.js';

/** `natter online <server>` */
export const online = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const { users } = await ctx.s.request('members.online', { serverId: server.id });
  ctx.out({ serverId: server.id, users }, () =>
    users.length === 0 ? 'nobody is online' : users.map((u) => clean(who(u))).join('\n'),
  );
});
