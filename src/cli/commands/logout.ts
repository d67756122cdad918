import { act } from '../session.js';
import { CliError, EXIT, loadCredentials, saveCredential, serverKey } from '../util.js';

/** `natter logout` */
export const logout = act(async (ctx) => {
  const stored = loadCredentials(ctx.g.configDir).servers[serverKey(ctx.g.server)];
  const fromEnv = Boolean(process.env.NATTER_TOKEN?.trim());
  if (!stored && !fromEnv) {
    ctx.out({ server: serverKey(ctx.g.server), loggedOut: false }, () => 'not logged in; nothing to do');
    return;
  }
  let revoked = true;
  try {
    await ctx.s.request('logout', {});
  } catch (err) {
    // A token the server no longer accepts is as good as logged out.
    if (!(err instanceof CliError && err.exitCode === EXIT.auth)) throw err;
    revoked = false;
  }
  if (!fromEnv) saveCredential(ctx.g.configDir, ctx.g.server, null);
  ctx.out({ server: serverKey(ctx.g.server), loggedOut: true, revoked }, () =>
    revoked ? `logged out of ${serverKey(ctx.g.server)}` : 'the token was no longer valid; forgot it',
  );
});
