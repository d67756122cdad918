import { resolveServerNamed, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter role <server> <username> admin|moderator|member [--reason T]` */
export const role = act(async (ctx, ref: string, username: string, role: 'admin' | 'moderator' | 'member') => {
  const { server, name: place } = await resolveServerNamed(ctx.s, ref);
  const user = await resolveUser(ctx.s, username);
  const { reason } = ctx.opts as { reason?: string };
  const { member } = await ctx.s.request('members.role', {
    serverId: server.id,
    userId: user.id,
    role,
    ...(reason !== undefined ? { reason } : {}),
  });
  ctx.out(
    { serverId: server.id, member },
    () => `${clean(member.user.username)} is now ${member.role} of ${clean(place)}`,
  );
});
