import { act } from '../session.js';
import { type PasswordOptions, readPassword } from '../util.js';

/** `natter passwd` */
export const passwd = act(async (ctx) => {
  const opts = ctx.opts as PasswordOptions & { keepBotTokens?: boolean };
  const currentPassword = await readPassword(opts, { prompt: 'Current password', envVar: 'NATTER_PASSWORD' });
  const newPassword = await readPassword(opts, {
    prompt: 'New password',
    envVar: 'NATTER_NEW_PASSWORD',
    confirm: true,
  });
  const res = await ctx.s.request('password.change', {
    currentPassword,
    newPassword,
    revokeBotTokens: opts.keepBotTokens !== true,
  });
  ctx.out(res, () => {
    const lines = [
      `password changed; ${res.revokedSessions} other session(s) logged out, ${res.revokedBotTokens} bot token(s) revoked`,
    ];
    for (const r of res.revoked) {
      if (r.kind === 'bot') lines.push(`  revoked bot token ${r.name ?? r.id}`);
    }
    return lines.join('\n');
  });
});
