import { Command } from 'commander';
import { act } from '../session.js';
import {
  CliError,
  clean,
  EXIT,
  fmtTime,
  loadCredentials,
  type PasswordOptions,
  readPassword,
  saveCredential,
  serverKey,
  table,
  usageError,
  who,
} from '../util.js';

const CLIENT = 'natter-cli';

function passwordOption(cmd: Command): Command {
  return cmd.option(
    '--password-stdin',
    'read the password from the first line of stdin (else NATTER_PASSWORD, else a prompt)',
  );
}

function credentialCommand(name: 'register' | 'login', description: string): Command {
  return passwordOption(new Command(name).description(description).argument('<username>')).action(
    act(async (ctx, username: string) => {
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
    }),
  );
}

/** `natter register <username>` */
export function registerCommand(): Command {
  return credentialCommand('register', 'create an account and log in (the token is kept in the config dir)');
}

/** `natter login <username>` */
export function loginCommand(): Command {
  return credentialCommand('login', 'log in and keep the session token in the config dir');
}

/** `natter logout` */
export function logoutCommand(): Command {
  return new Command('logout').description('revoke the session and forget its token').action(
    act(async (ctx) => {
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
    }),
  );
}

/** `natter whoami` */
export function whoamiCommand(): Command {
  return new Command('whoami').description('show who you are logged in as').action(
    act(async (ctx) => {
      const res = await ctx.s.request('whoami', {});
      ctx.out({ server: serverKey(ctx.g.server), ...res }, () => {
        const rows = [
          ['user', who(res.user)],
          ['user id', res.user.id],
          ['server', serverKey(ctx.g.server)],
        ];
        if (res.user.status) rows.push(['status', res.user.status]);
        if (res.session) rows.push(['session', `${res.session.id} (since ${fmtTime(res.session.createdAt)})`]);
        if (res.botToken) rows.push(['bot token', `${res.botToken.name} (${res.botToken.id})`]);
        if (ctx.s.tokenSource === 'env') rows.push(['token from', 'NATTER_TOKEN']);
        return table(['', ''], rows).split('\n').slice(1).join('\n');
      });
    }),
  );
}

/** `natter passwd` */
export function passwdCommand(): Command {
  return new Command('passwd')
    .description('change your password (other sessions are logged out)')
    .option(
      '--password-stdin',
      'read the current password from the first line of stdin and the new one from the second',
    )
    .option('--revoke-bot-tokens', 'also revoke every bot token')
    .addHelpText('after', '\nWithout a terminal: NATTER_PASSWORD (current) and NATTER_NEW_PASSWORD (new) also work.')
    .action(
      act(async (ctx) => {
        const opts = ctx.opts as PasswordOptions & { revokeBotTokens?: boolean };
        const currentPassword = await readPassword(opts, { prompt: 'Current password', envVar: 'NATTER_PASSWORD' });
        const newPassword = await readPassword(opts, {
          prompt: 'New password',
          envVar: 'NATTER_NEW_PASSWORD',
          confirm: true,
        });
        const res = await ctx.s.request('password.change', {
          currentPassword,
          newPassword,
          revokeBotTokens: opts.revokeBotTokens === true,
        });
        ctx.out(res, () => `password changed; ${res.revokedSessions} other session(s) logged out`);
      }),
    );
}

/** `natter sessions [revoke <id>]` */
export function sessionsCommand(): Command {
  const revoke = new Command('revoke')
    .description('revoke one of your sessions')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        await ctx.s.request('sessions.revoke', { sessionId: id });
        const stored = loadCredentials(ctx.g.configDir).servers[serverKey(ctx.g.server)];
        if (stored?.sessionId === id) saveCredential(ctx.g.configDir, ctx.g.server, null);
        ctx.out({ ok: true, sessionId: id }, () => `revoked session ${id}`);
      }),
    );
  return new Command('sessions')
    .description('list your login sessions')
    .addCommand(revoke)
    .action(
      act(async (ctx) => {
        const { sessions } = await ctx.s.request('sessions.list', {});
        ctx.out({ sessions }, () =>
          table(
            ['ID', 'CLIENT', 'ADDRESS', 'CREATED', 'LAST SEEN', ''],
            sessions.map((x) => [
              x.id,
              x.client ?? '-',
              x.address ?? '-',
              fmtTime(x.createdAt),
              fmtTime(x.lastSeenAt),
              x.current ? '(this one)' : '',
            ]),
          ),
        );
      }),
    );
}

/** `natter token create|list|revoke` */
export function tokenCommand(): Command {
  const create = new Command('create')
    .description('create a bot token; the secret is printed once, on stdout')
    .argument('<name>')
    .action(
      act(async (ctx, name: string) => {
        const res = await ctx.s.request('tokens.create', { name });
        if (!ctx.g.json)
          process.stderr.write(
            `created bot token "${clean(name)}" (${res.botToken.id}); keep it safe, it is shown only once\n`,
          );
        ctx.out(res, () => res.token);
      }),
    );
  const list = new Command('list').description('list your bot tokens').action(
    act(async (ctx) => {
      const { tokens } = await ctx.s.request('tokens.list', {});
      ctx.out({ tokens }, () =>
        table(
          ['ID', 'NAME', 'CREATED', 'LAST USED'],
          tokens.map((t) => [t.id, t.name, fmtTime(t.createdAt), fmtTime(t.lastUsedAt)]),
        ),
      );
    }),
  );
  const revoke = new Command('revoke')
    .description('revoke a bot token (by id or name)')
    .argument('<id>')
    .action(
      act(async (ctx, ref: string) => {
        const { tokens } = await ctx.s.request('tokens.list', {});
        const t = tokens.find((x) => x.id === ref) ?? tokens.find((x) => x.name.toLowerCase() === ref.toLowerCase());
        if (!t) throw new CliError(EXIT.refused, 'not_found', `no bot token "${clean(ref)}"`);
        await ctx.s.request('tokens.revoke', { tokenId: t.id });
        ctx.out({ ok: true, tokenId: t.id }, () => `revoked bot token "${clean(t.name)}" (${t.id})`);
      }),
    );
  return new Command('token')
    .description('bot tokens for scripts')
    .addCommand(create)
    .addCommand(list)
    .addCommand(revoke);
}

/** `natter profile [--display-name X] [--status X] [--bio X]` */
export function profileCommand(): Command {
  return new Command('profile')
    .description('show your profile, or change it ("" clears a field)')
    .option('--display-name <text>', 'display name')
    .option('--status <text>', 'status line')
    .option('--bio <text>', 'bio')
    .action(
      act(async (ctx) => {
        const o = ctx.opts as { displayName?: string; status?: string; bio?: string };
        const changes: { displayName?: string | null; status?: string | null; bio?: string | null } = {};
        if (o.displayName !== undefined) changes.displayName = o.displayName === '' ? null : o.displayName;
        if (o.status !== undefined) changes.status = o.status === '' ? null : o.status;
        if (o.bio !== undefined) changes.bio = o.bio === '' ? null : o.bio;
        const user =
          Object.keys(changes).length > 0
            ? (await ctx.s.request('profile.update', changes)).user
            : (await ctx.s.request('whoami', {})).user;
        ctx.out({ user }, () =>
          table(
            ['', ''],
            [
              ['username', user.username],
              ['display name', user.displayName ?? '-'],
              ['status', user.status ?? '-'],
              ['bio', user.bio ?? '-'],
              ['since', fmtTime(user.createdAt)],
            ],
          )
            .split('\n')
            .slice(1)
            .join('\n'),
        );
      }),
    );
}

/** `natter rename <new-username>` */
export function renameCommand(): Command {
  return new Command('rename')
    .description('change your username')
    .argument('<new-username>')
    .action(
      act(async (ctx, username: string) => {
        if (username.trim() === '') throw usageError('empty username');
        const { user } = await ctx.s.request('username.change', { username });
        const stored = loadCredentials(ctx.g.configDir).servers[serverKey(ctx.g.server)];
        if (stored && stored.userId === user.id) {
          saveCredential(ctx.g.configDir, ctx.g.server, { ...stored, username: user.username });
        }
        ctx.out({ user }, () => `you are now ${clean(user.username)}`);
      }),
    );
}
