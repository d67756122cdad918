import { resolveServerNamed, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter role <server> <username> admin|member` */
export const role = act(async (ctx, ref: string, username: string, role: 'admin' | 'member') => {
  const { server, name: place } = await resolveServerNamed(ctx.s, ref);
  const user = await resolveUser(ctx.s, username);
  const { member } = await ctx.s.request('members.role', { serverId: server.id, userId: user.id, role });
  ctx.out(
    { serverId: server.id, member },
    () => `${clean(member.user.username)} is now ${member.role} of ${clean(place)}`,
  );
});
