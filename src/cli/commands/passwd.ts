import { Command } from 'commander';
import { act } from '../session.js';
import { type PasswordOptions, readPassword } from '../util.js';

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
