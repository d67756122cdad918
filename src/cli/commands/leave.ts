import { resolveServerNamed } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter leave <server>` */
export const leave = act(async (ctx, ref: string) => {
  const { server, name } = await resolveServerNamed(ctx.s, ref);
  await ctx.s.request('servers.leave', { serverId: server.id });
  ctx.out({ ok: true, serverId: server.id }, () => `left ${clean(name)}`);
});
