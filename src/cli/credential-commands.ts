import { act } from './session.js';
import { clean, type PasswordOptions, readPassword, saveCredential, serverKey } from './util.js';

const CLIENT = 'natter-cli';

/** The action of `natter register|login <username>`: both take a password, log in and keep the token in the config dir. */
export function credentialAction(name: 'register' | 'login') {
  return act(async (ctx, username: string) => {
    const opts = ctx.opts as PasswordOptions;
    const password = await readPassword(opts, {
      prompt: 'Password',
      envVar: 'NATTER_PASSWORD',
      confirm: name === 'register',
    });
    const res = await ctx.s.raw(name, { username, password, client: CLIENT, presence: false });
    saveCredential(ctx.g.configDir, ctx.g.server, {
      token: res.token,
      username: res.user.username,
      userId: res.user.id,
      sessionId: res.session.id,
      savedAt: Date.now(),
    });
    ctx.out(
      { server: serverKey(ctx.g.server), user: res.user, session: res.session },
      () =>
        `${name === 'register' ? 'registered and logged in' : 'logged in'} as ${clean(res.user.username)} on ${serverKey(ctx.g.server)}`,
    );
  });
}
