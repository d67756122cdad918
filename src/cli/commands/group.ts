import { Command } from 'commander';
import { resolveGroup } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter group create|add|leave` */
export function groupCommand(): Command {
  const create = new Command('create')
    .description('create a private group with these people')
    .argument('<name>')
    .argument('<username...>')
    .action(
      act(async (ctx, name: string, usernames: string[]) => {
        const { group } = await ctx.s.request('groups.create', {
          name,
          usernames: usernames.map((u) => u.replace(/^@/, '')),
        });
        ctx.out(
          { group },
          () => `created +${clean(group.name)} with ${group.members.map((m) => clean(m.username)).join(', ')}`,
        );
      }),
    );
  const add = new Command('add')
    .description('add people to a group')
    .argument('<group>')
    .argument('<username...>')
    .action(
      act(async (ctx, ref: string, usernames: string[]) => {
        const g = await resolveGroup(ctx.s, ref);
        const { group } = await ctx.s.request('groups.add', {
          groupId: g.id,
          usernames: usernames.map((u) => u.replace(/^@/, '')),
        });
        ctx.out({ group }, () => `+${clean(group.name)}: ${group.members.map((m) => clean(m.username)).join(', ')}`);
      }),
    );
  const leave = new Command('leave')
    .description('leave a group')
    .argument('<group>')
    .action(
      act(async (ctx, ref: string) => {
        const g = await resolveGroup(ctx.s, ref);
        await ctx.s.request('groups.leave', { groupId: g.id });
        ctx.out({ ok: true, groupId: g.id }, () => `left +${clean(g.name)}`);
      }),
    );
  return new Command('group').description('private groups').addCommand(create).addCommand(add).addCommand(leave);
}
