import type { ResultOf } from '../protocol/index.js';
import { CliError, EXIT } from './errors.js';
import { act } from './session.js';
import { clean, type PasswordOptions, readPassword, saveCredential, serverKey } from './util.js';

const CLIENT = 'natter-cli';

/** `register`'s options. */
type RegisterOptions = PasswordOptions & { invite?: string; email?: string };

/** What `register` and `login` add when an address waits for its code. */
function confirmWords(user: { pendingEmail?: string | null; confirmBy?: number }): string {
  if (user.confirmBy !== undefined) {
    return `\nconfirm your email address${user.pendingEmail ? ` (${clean(user.pendingEmail)})` : ''} with the mailed code before anything else: natter email verify CODE`;
  }
  return user.pendingEmail
    ? `\na code was mailed to ${clean(user.pendingEmail)}: natter email verify CODE confirms it`
    : '';
}

/** What `register` says when the server takes accounts only with a code and none was given. */
function inviteNeeded(server: string): CliError {
  return new CliError(
    EXIT.refused,
    'forbidden',
    `${serverKey(server)} takes new accounts only with an invite code: pass --invite CODE (ask someone on it for a code to one of its servers)`,
  );
}

/**
 * Before `register` asks for a password: refuses at once what the server's
 * `hello` says it will refuse (older servers say nothing: they take anyone).
 */
function checkRegistration(mode: string | undefined, invite: string | undefined, server: string): void {
  if (mode === 'closed') {
    throw new CliError(EXIT.refused, 'forbidden', `${serverKey(server)} is not accepting new accounts`);
  }
  if (mode === 'invite' && invite === undefined) throw inviteNeeded(server);
}

/**
 * Before `register` asks for a password: an address where the server
 * requires one (`hello.emailRequired`), none where it sends no mail.
 */
function checkEmail(
  hello: { mail?: boolean; emailRequired?: boolean },
  email: string | undefined,
  server: string,
): void {
  if (email === undefined && hello.emailRequired) {
    throw new CliError(
      EXIT.usage,
      'email_required',
      `${serverKey(server)} requires an email address for new accounts: pass --email ADDRESS (a code is mailed to it for natter email verify)`,
    );
  }
  if (email !== undefined && hello.mail === false) {
    throw new CliError(
      EXIT.refused,
      'mail_unavailable',
      `${serverKey(server)} does not send mail, so it takes no email address: register without --email`,
    );
  }
}

/** The action of `natter register|login <username>`: both take a password, log in and keep the token in the config dir. */
export function credentialAction(name: 'register' | 'login') {
  return act(async (ctx, username: string) => {
    const opts = ctx.opts as RegisterOptions;
    const invite = name === 'register' ? opts.invite : undefined;
    const email = name === 'register' ? opts.email : undefined;
    if (name === 'register') {
      const hello = (await ctx.s.connect()).hello;
      checkRegistration(hello.registration, invite, ctx.g.server);
      checkEmail(hello, email, ctx.g.server);
      // A password typed at a prompt may take longer than the server waits for a login (10 s):
      // the request goes on a connection opened after it.
      if (!opts.passwordStdin && !process.env.NATTER_PASSWORD) ctx.s.close();
    }
    const password = await readPassword(opts, {
      prompt: 'Password',
      envVar: 'NATTER_PASSWORD',
      confirm: name === 'register',
    });
    const res =
      name === 'register'
        ? await ctx.s
            .raw('register', {
              username,
              password,
              client: CLIENT,
              presence: false,
              ...(invite === undefined ? {} : { invite }),
              ...(email === undefined ? {} : { email }),
            })
            .catch((err: unknown) => {
              const field = (err as { field?: unknown }).field;
              throw invite === undefined && field === 'params.invite' ? inviteNeeded(ctx.g.server) : err;
            })
        : await ctx.s.raw('login', { username, password, client: CLIENT, presence: false });
    saveCredential(ctx.g.configDir, ctx.g.server, {
      token: res.token,
      username: res.user.username,
      userId: res.user.id,
      sessionId: res.session.id,
      savedAt: Date.now(),
    });
    const joined = (res as ResultOf<'register'>).joined;
    ctx.out(
      { server: serverKey(ctx.g.server), user: res.user, session: res.session, ...(joined ? { joined } : {}) },
      () =>
        `${name === 'register' ? 'registered and logged in' : 'logged in'} as ${clean(res.user.username)} on ${serverKey(ctx.g.server)}${joined ? `; joined ${clean(joined.server.name)}` : ''}${confirmWords(res.user)}`,
    );
  });
}
