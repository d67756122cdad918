import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter join <code>` */
export const join = act(async (ctx, code: string) => {
  const res = await ctx.s.request('invites.join', { code: code.trim() });
  ctx.out(
    res,
    () =>
      `${res.alreadyMember ? 'already a member of' : 'joined'} ${clean(res.server.name)}; channels: ${res.channels.map((c) => `#${clean(c.name)}`).join(', ')}`,
  );
});
