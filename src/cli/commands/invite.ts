import { Command, Option } from 'commander';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { clean, duration, fmtTime, positiveInt, table } from '../util.js';

/** `natter invite create|list|revoke` */
export function inviteCommand(): Command {
  const create = new Command('create')
    .description('create an invite code and print it')
    .argument('<server>')
    .addOption(new Option('--max-uses <n>', 'how many people may use it').argParser(positiveInt))
    .addOption(new Option('--expires <duration>', 'lifetime: 30m, 1h, 7d, 2w (at least 1m)').argParser(duration))
    .action(
      act(async (ctx, ref: string) => {
        const o = ctx.opts as { maxUses?: number; expires?: number };
        const server = await resolveServer(ctx.s, ref);
        const { invite } = await ctx.s.request('invites.create', {
          serverId: server.id,
          ...(o.maxUses !== undefined ? { maxUses: o.maxUses } : {}),
          ...(o.expires !== undefined ? { expiresInSeconds: o.expires } : {}),
        });
        ctx.out({ invite }, () => invite.code);
      }),
    );
  const list = new Command('list')
    .description("a server's live invite codes")
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { invites } = await ctx.s.request('invites.list', { serverId: server.id });
        ctx.out({ serverId: server.id, invites }, () =>
          table(
            ['CODE', 'USES', 'EXPIRES', 'CREATED', 'BY'],
            invites.map((i) => [
              i.code,
              i.maxUses === null ? String(i.uses) : `${i.uses}/${i.maxUses}`,
              i.expiresAt === null ? 'never' : fmtTime(i.expiresAt),
              fmtTime(i.createdAt),
              i.createdBy.username,
            ]),
          ),
        );
      }),
    );
  const revoke = new Command('revoke')
    .description('revoke an invite code')
    .argument('<server>')
    .argument('<code>')
    .action(
      act(async (ctx, ref: string, code: string) => {
        const server = await resolveServer(ctx.s, ref);
        await ctx.s.request('invites.revoke', { serverId: server.id, code });
        ctx.out({ ok: true, serverId: server.id, code }, () => `revoked invite ${clean(code)}`);
      }),
    );
  return new Command('invite').description('invite codes').addCommand(create).addCommand(list).addCommand(revoke);
}
