import { resolveServerNamed, resolveUser } from './resolve.js';
import { act } from './session.js';
import { clean } from './util.js';

/** The action of `natter kick|ban|unban <server> <username>`: one shape, three requests. */
export function moderationAction(name: 'kick' | 'ban' | 'unban') {
  return act(async (ctx, ref: string, username: string) => {
    const { server, name: place } = await resolveServerNamed(ctx.s, ref);
    const user = await resolveUser(ctx.s, username);
    const ids = { serverId: server.id, userId: user.id };
    const reason = (ctx.opts as { reason?: string }).reason;
    const why = reason !== undefined ? { reason } : {};
    if (name === 'kick') await ctx.s.request('members.kick', { ...ids, ...why });
    else if (name === 'ban') await ctx.s.request('bans.add', { ...ids, ...why });
    else await ctx.s.request('bans.remove', { ...ids, ...why });
    const past = { kick: 'kicked', ban: 'banned', unban: 'unbanned' }[name];
    ctx.out(
      { ok: true, ...ids },
      () => `${past} ${clean(user.username)} ${name === 'unban' ? 'in' : 'from'} ${clean(place)}`,
    );
  });
}
