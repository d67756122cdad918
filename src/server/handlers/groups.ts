import { LIMITS, NatterError } from '../../protocol/index.js';
import { PAGE_MAX } from '../../protocol/operations.js';
import { mayAddToGroup, myGroup, noSuchConversation, notAccepting } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow, UserRow } from '../db/schema.js';
import { conversationScope, userScope } from '../event-log.js';
import { spendLookups, spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import { findUser } from '../usernames.js';
import { sizeOf, toGroup, toUserRef } from '../views.js';
import type { AfterCommit } from '../writer.js';

const GROUPS = new PagedList('groups', ['s', 's']);
const INVITATIONS = new PagedList('invitations', ['n', 's']);

/** Resolves usernames (any case) to users; `not_found` names the first unknown one. */
function resolveUsers(ctx: AuthedCtx, usernames: readonly string[]): UserRow[] {
  const found = new Map<string, UserRow>();
  for (const name of usernames) {
    const user = findUser(ctx, name);
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
function groupView(ctx: AuthedCtx, conv: ConversationRow) {
  return toGroup(conv, ctx.chat.conversationMembers(conv.id).map(toUserRef), ctx.chat.groupInvitees(conv.id));
}

/** Tells every member the group's new state. */
function announce(ctx: AuthedCtx, after: AfterCommit, conv: ConversationRow) {
  const group = groupView(ctx, conv);
  ctx.events.append(after, [conversationScope(conv.id)], 'group.updated', { group }, ctx.clock());
  return group;
}

/**
 * Puts `users` in the group: each directly when their `groupAdds` setting
 * lets the caller do it, else as an invitation they accept or decline. Anyone
 * who blocked the caller (or whom the caller blocked) refuses the whole
 * request. Returns whether anything changed.
 */
function addOrInvite(ctx: AuthedCtx, after: AfterCommit, conv: ConversationRow, users: readonly UserRow[]): boolean {
  const me = ctx.session.userId;
  const now = ctx.clock();
  const scope = conversationScope(conv.id);
  let changed = false;
  for (const user of users) {
    if (user.id === me || ctx.chat.isConversationMember(conv.id, user.id)) continue;
    if (ctx.chat.blockedEitherWay(me, user.id)) throw notAccepting(user.username, 'params.usernames');
    if (mayAddToGroup(ctx, user)) {
      if (ctx.chat.removeGroupInvite(conv.id, user.id)) {
        const closed = { groupId: conv.id, outcome: 'added' } as const;
        ctx.events.append(after, [userScope(user.id)], 'group.invitation_closed', closed, now);
      }
      ctx.chat.addConversationMember(conv.id, user.id, now);
      after.push(() => ctx.hub.subscribeUser(user.id, scope));
      changed = true;
    } else if (ctx.chat.addGroupInvite(conv.id, user.id, me, now)) {
      const invitation = {
        group: { id: conv.id, name: conv.name ?? '', memberCount: ctx.chat.conversationMembers(conv.id).length },
        invitedBy: toUserRef(ctx.chat.user(me) ?? user),
        createdAt: now,
      };
      ctx.events.append(after, [userScope(user.id)], 'group.invited', { invitation }, now);
      changed = true;
    }
  }
  const size = ctx.chat.conversationMembers(conv.id).length + ctx.chat.groupInvitees(conv.id).length;
  if (size > LIMITS.groupMembersMax) throw tooMany();
  return changed;
}

export const createGroup: Handler<'groups.create'> = (ctx, { name, usernames }) => {
  spendWrite(ctx);
  spendLookups(ctx, new Set(usernames).size);
  return ctx.write((after) => {
    const me = ctx.session.userId;
    if (ctx.chat.groupsCreatedBy(me) >= ctx.config.quotas.groupsCreatedPerUser) {
      throw limitReached(
        `you have created ${ctx.config.quotas.groupsCreatedPerUser} groups that still exist, the most allowed; leave one first`,
      );
    }
    const others = resolveUsers(ctx, usernames).filter((u) => u.id !== me);
    if (others.length + 1 > LIMITS.groupMembersMax) throw tooMany();
    const now = ctx.clock();
    const conv = ctx.chat.createConversation({ kind: 'group', name, createdBy: me }, now);
    ctx.chat.addConversationMember(conv.id, me, now);
    after.push(() => ctx.hub.subscribeUser(me, conversationScope(conv.id)));
    addOrInvite(ctx, after, conv, others);
    return { group: announce(ctx, after, conv) };
  });
};

export const addToGroup: Handler<'groups.add'> = (ctx, { groupId, usernames }) => {
  spendWrite(ctx);
  spendLookups(ctx, new Set(usernames).size);
  return ctx.write((after) => {
    const conv = myGroup(ctx, groupId);
    const changed = addOrInvite(ctx, after, conv, resolveUsers(ctx, usernames));
    return { group: changed ? announce(ctx, after, conv) : groupView(ctx, conv) };
  });
};

export const renameGroup: Handler<'groups.rename'> = (ctx, { groupId, name }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const conv = myGroup(ctx, groupId);
    ctx.chat.updateConversation(conv.id, name, conv.topic);
    return { group: announce(ctx, after, { ...conv, name }) };
  });
};

export const leaveGroup: Handler<'groups.leave'> = (ctx, { groupId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const conv = myGroup(ctx, groupId);
    const userId = ctx.session.userId;
    const scope = conversationScope(conv.id);
    ctx.chat.removeConversationMember(conv.id, userId);
    after.push(() => ctx.hub.unsubscribeUser(userId, scope));
    const now = ctx.clock();
    ctx.events.append(after, [userScope(userId)], 'group.removed', { groupId }, now);
    if (ctx.chat.conversationMembers(conv.id).length === 0) {
      // The last one out: the group, its messages and its invitations go.
      for (const invitee of ctx.chat.groupInvitees(conv.id)) {
        ctx.events.append(after, [userScope(invitee.id)], 'group.invitation_closed', { groupId, outcome: 'gone' }, now);
      }
      ctx.chat.deleteConversation(conv.id);
      after.push(() => ctx.hub.dropScope(scope));
    } else {
      announce(ctx, after, conv);
    }
    return {};
  });
};

export const listGroups: Handler<'groups.list'> = (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.large);
  const rows = ctx.chat.groupsOf(ctx.session.userId, GROUPS.start(after), n + 1);
  const page = GROUPS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => {
      // Members and invitations of the whole page in two queries, however many groups it holds.
      const ids = kept.map((c) => c.id);
      const members = ctx.chat.conversationMembersOf(ids);
      const invited = ctx.chat.groupInviteesOf(ids);
      return kept.map((c) => toGroup(c, (members.get(c.id) ?? []).map(toUserRef), invited.get(c.id) ?? []));
    },
    sizeOf.group,
  );
  return { groups: page.items, next: page.next };
};

export const listInvitations: Handler<'groups.invitations'> = (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = ctx.chat.invitationsOf(ctx.session.userId, INVITATIONS.start(after), n + 1);
  const page = INVITATIONS.page(
    rows,
    n,
    (r) => [r.createdAt, r.conv.id],
    (kept) => {
      const refs = ctx.chat.userRefs([...new Set(kept.map((r) => r.invitedBy))]);
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
function answerInvitation(
  ctx: AuthedCtx,
  after: AfterCommit,
  groupId: string,
  outcome: 'accepted' | 'declined',
): ConversationRow {
  const me = ctx.session.userId;
  const conv = ctx.chat.conversation(groupId);
  if (conv?.kind !== 'group' || !ctx.chat.removeGroupInvite(groupId, me)) throw noSuchInvitation();
  ctx.events.append(after, [userScope(me)], 'group.invitation_closed', { groupId, outcome }, ctx.clock());
  return conv;
}

export const acceptInvitation: Handler<'groups.accept'> = (ctx, { groupId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const me = ctx.session.userId;
    const conv = answerInvitation(ctx, after, groupId, 'accepted');
    ctx.chat.addConversationMember(conv.id, me, ctx.clock());
    after.push(() => ctx.hub.subscribeUser(me, conversationScope(conv.id)));
    return { group: announce(ctx, after, conv) };
  });
};

export const declineInvitation: Handler<'groups.decline'> = (ctx, { groupId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    announce(ctx, after, answerInvitation(ctx, after, groupId, 'declined'));
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
