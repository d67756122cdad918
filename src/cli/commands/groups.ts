import { Command } from 'commander';
import { resolveGroup } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, table } from '../util.js';

/** `natter groups` */
export function groupsCommand(): Command {
  return new Command('groups').description('list the groups you are in').action(
    act(async (ctx) => {
      const { groups } = await ctx.s.request('groups.list', {});
      ctx.out({ groups }, () =>
        groups.length === 0
          ? 'no groups yet'
          : table(
              ['GROUP', 'MEMBERS', 'ID'],
              groups.map((g) => [`+${g.name}`, g.members.map((m) => m.username).join(', '), g.id]),
            ),
      );
    }),
  );
}

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

/** `natter dms` */
export function dmsCommand(): Command {
  return new Command('dms').description('your direct-message conversations').action(
    act(async (ctx) => {
      const { dms } = await ctx.s.request('dms.list', {});
      ctx.out({ dms }, () =>
        dms.length === 0
          ? 'no direct messages yet: natter send @username <text>'
          : table(
              ['WITH', 'UNREAD', 'LAST', 'LAST MESSAGE'],
              dms.map((d) => [
                `@${d.peer?.username ?? d.name}`,
                String(d.unread),
                fmtTime(d.lastMessage?.createdAt),
                d.lastMessage ? `${d.lastMessage.author.username}: ${d.lastMessage.body || '(deleted)'}` : '',
              ]),
            ),
      );
    }),
  );
}
