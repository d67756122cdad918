import { allPages } from '../../client/pages.js';
import type { GroupInfo, GroupInvitation } from '../../protocol/index.js';
import { ambiguous, notFound } from '../errors.js';
import { type Requester, resolveGroup } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, table } from '../util.js';

// `natter group create|add|leave|invitations|accept|decline`

/** `+name: alice, bob; invited carol (waiting for an answer)` */
function describe(group: GroupInfo): string {
  const members = group.members.map((m) => clean(m.username)).join(', ');
  const invited = group.invited.map((m) => clean(m.username)).join(', ');
  return `+${clean(group.name)}: ${members}${invited ? `; invited ${invited} (waiting for an answer)` : ''}`;
}

export const create = act(async (ctx, name: string, usernames: string[]) => {
  const { group } = await ctx.s.request('groups.create', {
    name,
    usernames: usernames.map((u) => u.replace(/^@/, '')),
  });
  ctx.out({ group }, () => `created ${describe(group)}`);
});

export const add = act(async (ctx, ref: string, usernames: string[]) => {
  const g = await resolveGroup(ctx.s, ref);
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

/** The invitation to the group named `ref` (name, `+name` or id). */
async function invitationTo(ctx: { s: Requester }, ref: string): Promise<GroupInvitation> {
  const name = ref.replace(/^\+/, '');
  const all = await waiting(ctx);
  const byId = all.find((i) => i.group.id === name);
  if (byId) return byId;
  const matches = all.filter((i) => i.group.name.toLowerCase() === name.toLowerCase());
  const [first, ...rest] = matches;
  if (!first)
    throw notFound(`no invitation to a group named "${clean(name)}" is waiting for you (see natter group invitations)`);
  if (rest.length > 0) {
    throw ambiguous(
      'group invitation',
      clean(name),
      matches.map((i) => `${clean(i.group.name)}  id ${i.group.id}, from ${clean(i.invitedBy.username)}`),
    );
  }
  return first;
}

export const invitations = act(async (ctx) => {
  const list = await waiting(ctx);
  ctx.out({ invitations: list }, () =>
    list.length === 0
      ? 'no group invitations'
      : table(
          ['GROUP', 'FROM', 'MEMBERS', 'SINCE', 'ID'],
          list.map((i) => [
            `+${i.group.name}`,
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
  const g = await resolveGroup(ctx.s, ref);
  await ctx.s.request('groups.leave', { groupId: g.id });
  ctx.out({ ok: true, groupId: g.id }, () => `left +${clean(g.name)}`);
});
