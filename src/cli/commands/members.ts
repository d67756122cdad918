import { Command } from 'commander';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { fmtTime, table } from '../util.js';

/** `natter members <server>` */
export function membersCommand(): Command {
  return new Command('members')
    .description("a server's members, with role and presence")
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { members } = await ctx.s.request('members.list', { serverId: server.id });
        ctx.out({ serverId: server.id, members }, () =>
          table(
            ['USERNAME', 'DISPLAY NAME', 'ROLE', 'ONLINE', 'JOINED'],
            members.map((m) => [
              m.user.username,
              m.user.displayName ?? '',
              m.role,
              m.online ? 'yes' : 'no',
              fmtTime(m.joinedAt),
            ]),
          ),
        );
      }),
    );
}
