import { act } from '../session.js';
import { clean, loadCredentials, saveCredential, serverKey, usageError } from '../util.js';

/** `natter rename <new-username>` */
export const rename = act(async (ctx, username: string) => {
  if (username.trim() === '') throw usageError('empty username');
  const { user } = await ctx.s.request('username.change', { username });
  const stored = loadCredentials(ctx.g.configDir).servers[serverKey(ctx.g.server)];
  if (stored && stored.userId === user.id) {
    saveCredential(ctx.g.configDir, ctx.g.server, { ...stored, username: user.username });
  }
  ctx.out({ user }, () => `you are now ${clean(user.username)}`);
});
