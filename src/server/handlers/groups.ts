import { LIMITS, NatterError } from '../../protocol/index.js';
import { noSuchConversation } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow, UserRow } from '../db/schema.js';
import { conversationScope, userScope } from '../event-log.js';
import { spendWrite } from '../limits.js';
import { findUser } from '../usernames.js';
import { toGroup } from '../views.js';
import type { AfterCommit } from '../writer.js';

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

/** A group the caller is in; `not_found` otherwise. */
function myGroup(ctx: AuthedCtx, groupId: string): ConversationRow {
  const conv = ctx.chat.conversation(groupId);
  if (conv?.kind !== 'group' || !ctx.chat.isConversationMember(groupId, ctx.session.userId)) {
    throw noSuchConversation();
  }
  return conv;
}

function tooMany(): NatterError {
  return new NatterError('bad_request', `a group has at most ${LIMITS.groupMembersMax} members`, {
    field: 'params.usernames',
  });
}

/** Tells every member (and `extra` scopes, e.g. someone who just left) the group's new state. */
function announce(ctx: AuthedCtx, after: AfterCommit, conv: ConversationRow) {
  const group = toGroup(conv, ctx.chat.conversationMembers(conv.id));
  ctx.events.append(after, [conversationScope(conv.id)], 'group.updated', { group }, ctx.clock());
  return group;
}

export const createGroup: Handler<'groups.create'> = (ctx, { name, usernames }) => {
  spendWrite(ctx);
  return ctx.writer.run((after) => {
    const others = resolveUsers(ctx, usernames).filter((u) => u.id !== ctx.session.userId);
    if (others.length + 1 > LIMITS.groupMembersMax) throw tooMany();
    const now = ctx.clock();
    const conv = ctx.chat.createConversation({ kind: 'group', name, createdBy: ctx.session.userId }, now);
    const scope = conversationScope(conv.id);
    for (const id of [ctx.session.userId, ...others.map((u) => u.id)]) {
      ctx.chat.addConversationMember(conv.id, id, now);
      after.push(() => ctx.hub.subscribeUser(id, scope));
    }
    return { group: announce(ctx, after, conv) };
  });
};

export const addToGroup: Handler<'groups.add'> = (ctx, { groupId, usernames }) => {
  spendWrite(ctx);
  return ctx.writer.run((after) => {
    const conv = myGroup(ctx, groupId);
    const now = ctx.clock();
    const scope = conversationScope(conv.id);
    const current = ctx.chat.conversationMembers(conv.id).length;
    const added = resolveUsers(ctx, usernames).filter((u) => ctx.chat.addConversationMember(conv.id, u.id, now));
    if (current + added.length > LIMITS.groupMembersMax) throw tooMany();
    for (const u of added) after.push(() => ctx.hub.subscribeUser(u.id, scope));
    return {
      group: added.length > 0 ? announce(ctx, after, conv) : toGroup(conv, ctx.chat.conversationMembers(conv.id)),
    };
  });
};

export const renameGroup: Handler<'groups.rename'> = (ctx, { groupId, name }) => {
  spendWrite(ctx);
  return ctx.writer.run((after) => {
    const conv = myGroup(ctx, groupId);
    ctx.chat.updateConversation(conv.id, name, conv.topic);
    return { group: announce(ctx, after, { ...conv, name }) };
  });
};

export const leaveGroup: Handler<'groups.leave'> = (ctx, { groupId }) => {
  spendWrite(ctx);
  return ctx.writer.run((after) => {
    const conv = myGroup(ctx, groupId);
    const userId = ctx.session.userId;
    const scope = conversationScope(conv.id);
    ctx.chat.removeConversationMember(conv.id, userId);
    after.push(() => ctx.hub.unsubscribeUser(userId, scope));
    ctx.events.append(after, [userScope(userId)], 'group.removed', { groupId }, ctx.clock());
    if (ctx.chat.conversationMembers(conv.id).length === 0) {
      // The last one out: the group and its messages go.
      ctx.chat.deleteConversation(conv.id);
      after.push(() => ctx.hub.dropScope(scope));
    } else {
      announce(ctx, after, conv);
    }
    return {};
  });
};

export const listGroups: Handler<'groups.list'> = (ctx) => ({
  groups: ctx.chat
    .conversationsOf(ctx.session.userId, 'group')
    .map((c) => toGroup(c, ctx.chat.conversationMembers(c.id))),
});
