import { Argument, Command } from 'commander';
import { resolveServer, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter role <server> <username> admin|member` */
export function roleCommand(): Command {
  return new Command('role')
    .description("set a member's role (owner only)")
    .argument('<server>')
    .argument('<username>')
    .addArgument(new Argument('<role>').choices(['admin', 'member']))
    .action(
      act(async (ctx, ref: string, username: string, role: 'admin' | 'member') => {
        const server = await resolveServer(ctx.s, ref);
        const user = await resolveUser(ctx.s, username);
        const { member } = await ctx.s.request('members.role', { serverId: server.id, userId: user.id, role });
        ctx.out(
          { serverId: server.id, member },
          () => `${clean(member.user.username)} is now ${member.role} of ${clean(server.name)}`,
        );
      }),
    );
}
