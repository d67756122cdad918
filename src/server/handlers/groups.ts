import { LIMITS, NatterError } from '../../protocol/index.js';
import { PAGE_MAX } from '../../protocol/operations.js';
import { mayAddToGroup, myGroup, noSuchConversation, notAccepting } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow, UserRow } from '../db/schema.js';
import { conversationScope, userScope } from '../event-log.js';
import { spendLookups, spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import type { AfterCommit } from '../store/port.js';
import { findUser } from '../usernames.js';
import { sizeOf, toGroup, toUserRef } from '../views.js';

const GROUPS = new PagedList('groups', ['s', 's']);
const INVITATIONS = new PagedList('invitations', ['n', 's']);

/** Resolves usernames (any case) to users; `not_found` names the first unknown one. */
async function resolveUsers(ctx: AuthedCtx, usernames: readonly string[]): Promise<UserRow[]> {
  const found = new Map<string, UserRow>();
  for (const name of usernames) {
    const user = await findUser(ctx, name);
    if (!user) throw new NatterError('not_found', `no user named "${name}"`, { field: 'params.usernames' });
    found.set(user.id, user);
  }
  return [...found.values()];
}

function tooMany(): NatterError {
  return new NatterError(
    'bad_request',
    `a group has at most ${LIMITS.groupMembersMax} members and pending invitations together`,
    { field: 'params.usernames' },
  );
}

/** The group as its members see it: members and pending invitations. */
async function groupView(ctx: AuthedCtx, conv: ConversationRow) {
  return toGroup(
    conv,
    (await ctx.chat.conversationMembers(conv.id)).map(toUserRef),
    await ctx.chat.groupInvitees(conv.id),
  );
}

/** Tells every member the group's new state. */
async function announce(ctx: AuthedCtx, after: AfterCommit, conv: ConversationRow) {
  const group = await groupView(ctx, conv);
  await ctx.events.append(after, [conversationScope(conv.id)], 'group.updated', { group }, ctx.clock());
  return group;
}

/**
 * Puts `users` in the group: each directly when their `groupAdds` setting
 * lets the caller do it, else as an invitation they accept or decline. Anyone
 * who blocked the caller (or whom the caller blocked) refuses the whole
 * request. Returns whether anything changed.
 */
async function addOrInvite(
  ctx: AuthedCtx,
  after: AfterCommit,
  conv: ConversationRow,
  users: readonly UserRow[],
): Promise<boolean> {
  const me = ctx.session.userId;
  const now = ctx.clock();
  const scope = conversationScope(conv.id);
  let changed = false;
  for (const user of users) {
    if (user.id === me || (await ctx.chat.isConversationMember(conv.id, user.id))) continue;
    if (await ctx.chat.blockedEitherWay(me, user.id)) throw notAccepting(user.username, 'params.usernames');
    if (await mayAddToGroup(ctx, user)) {
      if (await ctx.chat.removeGroupInvite(conv.id, user.id)) {
        const closed = { groupId: conv.id, outcome: 'added' } as const;
        await ctx.events.append(after, [userScope(user.id)], 'group.invitation_closed', closed, now);
      }
      await ctx.chat.addConversationMember(conv.id, user.id, now);
      after.push(() => ctx.fanout.subscribeUser(user.id, scope));
      changed = true;
    } else if (await ctx.chat.addGroupInvite(conv.id, user.id, me, now)) {
      const invitation = {
        group: {
          id: conv.id,
          name: conv.name ?? '',
          memberCount: (await ctx.chat.conversationMembers(conv.id)).length,
        },
        invitedBy: toUserRef((await ctx.chat.user(me)) ?? user),
        createdAt: now,
      };
      await ctx.events.append(after, [userScope(user.id)], 'group.invited', { invitation }, now);
      changed = true;
    }
  }
  const size = (await ctx.chat.conversationMembers(conv.id)).length + (await ctx.chat.groupInvitees(conv.id)).length;
  if (size > LIMITS.groupMembersMax) throw tooMany();
  return changed;
}

export const createGroup: Handler<'groups.create'> = async (ctx, { name, usernames }) => {
  await spendWrite(ctx);
  await spendLookups(ctx, new Set(usernames).size);
  return ctx.write(async (tx, after) => {
    const me = tx.session.userId;
    if ((await tx.chat.groupsCreatedBy(me)) >= tx.config.quotas.groupsCreatedPerUser) {
      throw limitReached(
        `you have created ${tx.config.quotas.groupsCreatedPerUser} groups that still exist, the most allowed; leave one first`,
      );
    }
    const others = (await resolveUsers(tx, usernames)).filter((u) => u.id !== me);
    if (others.length + 1 > LIMITS.groupMembersMax) throw tooMany();
    const now = tx.clock();
    const conv = await tx.chat.createConversation({ kind: 'group', name, createdBy: me }, now);
    await tx.chat.addConversationMember(conv.id, me, now);
    after.push(() => tx.fanout.subscribeUser(me, conversationScope(conv.id)));
    await addOrInvite(tx, after, conv, others);
    return { group: await announce(tx, after, conv) };
  });
};

export const addToGroup: Handler<'groups.add'> = async (ctx, { groupId, usernames }) => {
  await spendWrite(ctx);
  await spendLookups(ctx, new Set(usernames).size);
  return ctx.write(async (tx, after) => {
    const conv = await myGroup(tx, groupId);
    const changed = await addOrInvite(tx, after, conv, await resolveUsers(tx, usernames));
    return { group: changed ? await announce(tx, after, conv) : await groupView(tx, conv) };
  });
};

export const renameGroup: Handler<'groups.rename'> = async (ctx, { groupId, name }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const conv = await myGroup(tx, groupId);
    await tx.chat.updateConversation(conv.id, name, conv.topic);
    return { group: await announce(tx, after, { ...conv, name }) };
  });
};

export const leaveGroup: Handler<'groups.leave'> = async (ctx, { groupId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const conv = await myGroup(tx, groupId);
    await departGroup(tx, after, conv, tx.session.userId);
    return {};
  });
};

/**
 * `userId` leaves the group `conv` (inside a write): the others are told,
 * and the last one out takes the group, its messages and its invitations along.
 */
export async function departGroup(
  tx: AuthedCtx,
  after: AfterCommit,
  conv: ConversationRow,
  userId: string,
): Promise<void> {
  const groupId = conv.id;
  const scope = conversationScope(conv.id);
  await tx.chat.removeConversationMember(conv.id, userId);
  after.push(() => tx.fanout.unsubscribeUser(userId, scope));
  const now = tx.clock();
  await tx.events.append(after, [userScope(userId)], 'group.removed', { groupId }, now);
  if ((await tx.chat.conversationMembers(conv.id)).length === 0) {
    // The last one out: the group, its messages and its invitations go.
    for (const invitee of await tx.chat.groupInvitees(conv.id)) {
      await tx.events.append(
        after,
        [userScope(invitee.id)],
        'group.invitation_closed',
        { groupId, outcome: 'gone' },
        now,
      );
    }
    await tx.chat.deleteConversation(conv.id);
    after.push(() => tx.fanout.dropScope(scope));
  } else {
    await announce(tx, after, conv);
  }
}

export const listGroups: Handler<'groups.list'> = async (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.large);
  const rows = await ctx.chat.groupsOf(ctx.session.userId, GROUPS.start(after), n + 1);
  const page = await GROUPS.page(
    rows,
    n,
    (r) => r.key,
    async (kept) => {
      // Members and invitations of the whole page in two queries, however many groups it holds.
      const ids = kept.map((c) => c.id);
      const members = await ctx.chat.conversationMembersOf(ids);
      const invited = await ctx.chat.groupInviteesOf(ids);
      return kept.map((c) => toGroup(c, (members.get(c.id) ?? []).map(toUserRef), invited.get(c.id) ?? []));
    },
    sizeOf.group,
  );
  return { groups: page.items, next: page.next };
};

export const listInvitations: Handler<'groups.invitations'> = async (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = await ctx.chat.invitationsOf(ctx.session.userId, INVITATIONS.start(after), n + 1);
  const page = await INVITATIONS.page(
    rows,
    n,
    (r) => [r.createdAt, r.conv.id],
    async (kept) => {
      const refs = await ctx.chat.userRefs([...new Set(kept.map((r) => r.invitedBy))]);
      return kept.map((r) => ({
        group: { id: r.conv.id, name: r.conv.name ?? '', memberCount: r.memberCount },
        invitedBy: refs.get(r.invitedBy) ?? { id: r.invitedBy, username: 'unknown', displayName: null },
        createdAt: r.createdAt,
      }));
    },
  );
  return { invitations: page.items, next: page.next };
};

/**
 * Ends the caller's invitation to `groupId` (`not_found` when none waits) and
 * tells their connections how; returns the group.
 */
async function answerInvitation(
  ctx: AuthedCtx,
  after: AfterCommit,
  groupId: string,
  outcome: 'accepted' | 'declined',
): Promise<ConversationRow> {
  const me = ctx.session.userId;
  const conv = await ctx.chat.conversation(groupId);
  if (conv?.kind !== 'group' || !(await ctx.chat.removeGroupInvite(groupId, me))) throw noSuchInvitation();
  await ctx.events.append(after, [userScope(me)], 'group.invitation_closed', { groupId, outcome }, ctx.clock());
  return conv;
}

export const acceptInvitation: Handler<'groups.accept'> = async (ctx, { groupId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const me = tx.session.userId;
    const conv = await answerInvitation(tx, after, groupId, 'accepted');
    await tx.chat.addConversationMember(conv.id, me, tx.clock());
    after.push(() => tx.fanout.subscribeUser(me, conversationScope(conv.id)));
    return { group: await announce(tx, after, conv) };
  });
};

export const declineInvitation: Handler<'groups.decline'> = async (ctx, { groupId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    await announce(tx, after, await answerInvitation(tx, after, groupId, 'declined'));
    return {};
  });
};

function noSuchInvitation(): NatterError {
  const err = noSuchConversation();
  return new NatterError('not_found', 'no invitation to that group is waiting for you', {
    field: 'params.groupId',
    cause: err,
  });
}
