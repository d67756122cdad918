import { resolveGroup } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

// `natter group create|add|leave`

export const create = act(async (ctx, name: string, usernames: string[]) => {
  const { group } = await ctx.s.request('groups.create', {
    name,
    usernames: usernames.map((u) => u.replace(/^@/, '')),
  });
  ctx.out(
    { group },
    () => `created +${clean(group.name)} with ${group.members.map((m) => clean(m.username)).join(', ')}`,
  );
});

export const add = act(async (ctx, ref: string, usernames: string[]) => {
  const g = await resolveGroup(ctx.s, ref);
  const { group } = await ctx.s.request('groups.add', {
    groupId: g.id,
    usernames: usernames.map((u) => u.replace(/^@/, '')),
  });
  ctx.out({ group }, () => `+${clean(group.name)}: ${group.members.map((m) => clean(m.username)).join(', ')}`);
});

export const leave = act(async (ctx, ref: string) => {
  const g = await resolveGroup(ctx.s, ref);
  await ctx.s.request('groups.leave', { groupId: g.id });
  ctx.out({ ok: true, groupId: g.id }, () => `left +${clean(g.name)}`);
});
