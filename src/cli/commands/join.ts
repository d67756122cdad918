import { Command } from 'commander';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter join <code>` */
export function joinCommand(): Command {
  return new Command('join')
    .description('join a server with an invite code')
    .argument('<code>')
    .action(
      act(async (ctx, code: string) => {
        const res = await ctx.s.request('invites.join', { code: code.trim() });
        ctx.out(
          res,
          () =>
            `${res.alreadyMember ? 'already a member of' : 'joined'} ${clean(res.server.name)}; channels: ${res.channels.map((c) => `#${clean(c.name)}`).join(', ')}`,
        );
      }),
    );
}
