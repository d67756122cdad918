import { distinctNames, matchName } from '../../client/names.js';
import { allPages } from '../../client/pages.js';
import type { GroupInfo, GroupInvitation } from '../../protocol/index.js';
import { ambiguous, notFound } from '../errors.js';
import { listGroups, type Requester, resolveGroupNamed } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, table, warnSameName } from '../util.js';

// `natter group create|add|leave|invitations|accept|decline`

/** `+name: alice, bob; invited carol (waiting for an answer)` */
function describe(group: GroupInfo): string {
  const members = group.members.map((m) => clean(m.username)).join(', ');
  const invited = group.invited.map((m) => clean(m.username)).join(', ');
  return `+${clean(group.name)}: ${members}${invited ? `; invited ${invited} (waiting for an answer)` : ''}`;
}

export const create = act(async (ctx, name: string, usernames: string[]) => {
  const before = await listGroups(ctx.s);
  const { group } = await ctx.s.request('groups.create', {
    name,
    usernames: usernames.map((u) => u.replace(/^@/, '')),
  });
  warnSameName('group', group, before);
  ctx.out({ group }, () => `created ${describe(group)}`);
});

export const add = act(async (ctx, ref: string, usernames: string[]) => {
  const { group: g } = await resolveGroupNamed(ctx.s, ref);
  const { group } = await ctx.s.request('groups.add', {
    groupId: g.id,
    usernames: usernames.map((u) => u.replace(/^@/, '')),
  });
  ctx.out({ group }, () => describe(group));
});

async function waiting(ctx: { s: Requester }): Promise<GroupInvitation[]> {
  return allPages(async (after) => {
    const r = await ctx.s.request('groups.invitations', { after });
    return { items: r.invitations, next: r.next };
  });
}

/** The invitation to the group named `ref` (name, `+name`, `name~fragment` or id). */
async function invitationTo(ctx: { s: Requester }, ref: string): Promise<GroupInvitation> {
  const name = ref.replace(/^\+/, '');
  const all = await waiting(ctx);
  const groups = all.map((i) => ({ id: i.group.id, name: i.group.name, invitation: i }));
  const found = matchName(groups, name);
  if (found.kind === 'one') return found.item.invitation;
  if (found.kind === 'none')
    throw notFound(`no invitation to a group named "${clean(name)}" is waiting for you (see natter group invitations)`);
  const names = distinctNames(groups);
  throw ambiguous(
    'group invitation',
    clean(name),
    found.items.map(
      ({ id, invitation: i }) =>
        `+${clean(names.get(id))}  from ${clean(i.invitedBy.username)}, invited ${fmtTime(i.createdAt)}, ${i.group.memberCount} member${i.group.memberCount === 1 ? '' : 's'}, id ${id}`,
    ),
  );
}

export const invitations = act(async (ctx) => {
  const list = await waiting(ctx);
  const names = distinctNames(list.map((i) => i.group));
  ctx.out({ invitations: list }, () =>
    list.length === 0
      ? 'no group invitations'
      : table(
          ['GROUP', 'FROM', 'MEMBERS', 'SINCE', 'ID'],
          list.map((i) => [
            `+${names.get(i.group.id) ?? i.group.name}`,
            i.invitedBy.username,
            String(i.group.memberCount),
            fmtTime(i.createdAt),
            i.group.id,
          ]),
        ),
  );
});

export const accept = act(async (ctx, ref: string) => {
  const invitation = await invitationTo(ctx, ref);
  const { group } = await ctx.s.request('groups.accept', { groupId: invitation.group.id });
  ctx.out({ group }, () => `joined ${describe(group)}`);
});

export const decline = act(async (ctx, ref: string) => {
  const invitation = await invitationTo(ctx, ref);
  await ctx.s.request('groups.decline', { groupId: invitation.group.id });
  ctx.out(
    { ok: true, groupId: invitation.group.id },
    () => `declined the invitation to +${clean(invitation.group.name)}`,
  );
});

export const leave = act(async (ctx, ref: string) => {
  const { group: g, name } = await resolveGroupNamed(ctx.s, ref);
  await ctx.s.request('groups.leave', { groupId: g.id });
  ctx.out({ ok: true, groupId: g.id }, () => `left +${clean(name)}`);
});
