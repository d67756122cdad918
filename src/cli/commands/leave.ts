import { Command } from 'commander';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter leave <server>` */
export function leaveCommand(): Command {
  return new Command('leave')
    .description('leave a server')
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        await ctx.s.request('servers.leave', { serverId: server.id });
        ctx.out({ ok: true, serverId: server.id }, () => `left ${clean(server.name)}`);
      }),
    );
}
