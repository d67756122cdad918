import { NatterError } from '../../protocol/index.js';
import { outranks, serverFor, serverWithRole } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { MemberRow, ServerRow } from '../db/schema.js';
import { serverScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spendWrite } from '../limits.js';
import { toChannel, toMember, toServerInfo } from '../views.js';
import type { AfterCommit } from '../writer.js';

/** The server as the caller sees it (their role, the member count). */
function infoFor(ctx: AuthedCtx, server: ServerRow, role: MemberRow['role']) {
  return toServerInfo(server, role, ctx.chat.memberCount(server.id));
}

/** Announces a changed server to its members (role is per viewer; `member` is sent). */
function announceServer(ctx: AuthedCtx, after: AfterCommit, serverId: string): void {
  const server = ctx.chat.server(serverId);
  if (!server) return;
  ctx.events.append(
    after,
    [serverScope(serverId)],
    'server.updated',
    { server: infoFor(ctx, server, 'member') },
    ctx.clock(),
  );
}

export const createServer: Handler<'servers.create'> = (ctx, { name, description }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const now = ctx.clock();
    const userId = ctx.session.userId;
    const server: ServerRow = {
      id: newId(),
      name,
      description: description || null,
      ownerId: userId,
      createdAt: now,
      updatedAt: now,
    };
    ctx.chat.insertServer(server);
    ctx.chat.addMember(server.id, userId, 'owner', now);
    const general = ctx.chat.createConversation({ kind: 'channel', serverId: server.id, name: 'general' }, now);
    after.push(() => ctx.hub.subscribeUser(userId, serverScope(server.id)));
    const result = { server: toServerInfo(server, 'owner', 1), channels: [toChannel(general)] };
    ctx.events.append(after, [userScope(userId)], 'server.joined', result, now);
    return result;
  });
};

export const updateServer: Handler<'servers.update'> = (ctx, { serverId, name, description }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const { server, role } = serverWithRole(ctx, serverId, 'admin');
    const next = {
      ...server,
      name: name ?? server.name,
      description: description === undefined ? server.description : description || null,
    };
    ctx.chat.updateServer(serverId, next.name, next.description, next.ownerId, ctx.clock());
    announceServer(ctx, after, serverId);
    return { server: infoFor(ctx, next, role) };
  });
};

export const deleteServer: Handler<'servers.delete'> = (ctx, { serverId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    serverWithRole(ctx, serverId, 'owner');
    const scope = serverScope(serverId);
    // The log entry is scoped to each member, since the server scope dies with it.
    const memberScopes = ctx.chat.membersOf(serverId).map((m) => userScope(m.userId));
    ctx.chat.deleteServer(serverId);
    ctx.events.append(after, memberScopes, 'server.deleted', { serverId }, ctx.clock());
    after.push(() => ctx.hub.dropScope(scope));
    return {};
  });
};

export const listServers: Handler<'servers.list'> = (ctx) => ({
  servers: ctx.chat.serversOf(ctx.session.userId).map((s) => toServerInfo(s.server, s.role, s.memberCount)),
});

export const getServer: Handler<'servers.get'> = (ctx, { serverId }) => {
  const { server, role } = serverFor(ctx, serverId);
  return { server: infoFor(ctx, server, role), channels: ctx.chat.channelsOf(serverId).map(toChannel) };
};

/**
 * Removes a member and tells everyone: the member's connections stop
 * receiving the server's events before anything else is published.
 */
export function removeMember(
  ctx: AuthedCtx,
  after: AfterCommit,
  serverId: string,
  userId: string,
  reason: 'left' | 'kicked' | 'banned',
): void {
  ctx.chat.removeMember(serverId, userId);
  after.push(() => ctx.hub.unsubscribeUser(userId, serverScope(serverId)));
  const now = ctx.clock();
  ctx.events.append(after, [serverScope(serverId)], 'member.left', { serverId, userId, reason }, now);
  ctx.events.append(after, [userScope(userId)], 'server.removed', { serverId, reason }, now);
}

export const leaveServer: Handler<'servers.leave'> = (ctx, { serverId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const { role } = serverFor(ctx, serverId);
    if (role === 'owner') {
      throw new NatterError(
        'conflict',
        'the owner cannot leave: transfer ownership (servers.transfer) or delete the server',
      );
    }
    removeMember(ctx, after, serverId, ctx.session.userId, 'left');
    return {};
  });
};

export const transferServer: Handler<'servers.transfer'> = (ctx, { serverId, userId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const { server } = serverWithRole(ctx, serverId, 'owner');
    if (userId === ctx.session.userId)
      throw new NatterError('bad_request', 'you already own this server', { field: 'params.userId' });
    if (!ctx.chat.role(serverId, userId))
      throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
    ctx.chat.setRole(serverId, userId, 'owner');
    ctx.chat.setRole(serverId, ctx.session.userId, 'admin');
    ctx.chat.updateServer(serverId, server.name, server.description, userId, ctx.clock());
    announceMember(ctx, after, serverId, userId);
    announceMember(ctx, after, serverId, ctx.session.userId);
    announceServer(ctx, after, serverId);
    const updated = ctx.chat.server(serverId) ?? server;
    return { server: infoFor(ctx, updated, 'admin') };
  });
};

function announceMember(ctx: AuthedCtx, after: AfterCommit, serverId: string, userId: string): void {
  const m = ctx.chat.memberWithUser(serverId, userId);
  if (!m) return;
  ctx.events.append(
    after,
    [serverScope(serverId)],
    'member.updated',
    { serverId, member: toMember(m, ctx.hub) },
    ctx.clock(),
  );
}

export const listMembers: Handler<'members.list'> = (ctx, { serverId }) => {
  serverFor(ctx, serverId);
  return { members: ctx.chat.membersOf(serverId).map((m) => toMember(m, ctx.hub)) };
};

export const onlineMembers: Handler<'members.online'> = (ctx, { serverId }) => {
  serverFor(ctx, serverId);
  return {
    users: ctx.chat
      .membersOf(serverId)
      .filter((m) => ctx.hub.isOnline(m.userId))
      .map((m) => toMember(m, ctx.hub).user),
  };
};

export const setRole: Handler<'members.role'> = (ctx, { serverId, userId, role }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    serverWithRole(ctx, serverId, 'owner');
    const current = ctx.chat.role(serverId, userId);
    if (!current) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
    if (current === 'owner')
      throw new NatterError('bad_request', "the owner's role cannot change; transfer ownership instead");
    if (current !== role) {
      ctx.chat.setRole(serverId, userId, role);
      announceMember(ctx, after, serverId, userId);
    }
    const m = ctx.chat.memberWithUser(serverId, userId);
    if (!m) throw new NatterError('not_found', 'no such member');
    return { member: toMember(m, ctx.hub) };
  });
};

/** Checks that the caller may remove `userId` from the server. */
function assertCanRemove(
  ctx: AuthedCtx,
  serverId: string,
  userId: string,
  verb: string,
): MemberRow['role'] | undefined {
  const { role } = serverWithRole(ctx, serverId, 'admin');
  if (userId === ctx.session.userId)
    throw new NatterError('bad_request', `you cannot ${verb} yourself`, { field: 'params.userId' });
  const target = ctx.chat.role(serverId, userId);
  if (!outranks(role, target)) {
    throw new NatterError('forbidden', `you cannot ${verb} ${target === 'owner' ? 'the owner' : 'another admin'}`);
  }
  return target;
}

export const kickMember: Handler<'members.kick'> = (ctx, { serverId, userId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const target = assertCanRemove(ctx, serverId, userId, 'kick');
    if (!target) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
    removeMember(ctx, after, serverId, userId, 'kicked');
    return {};
  });
};

export const addBan: Handler<'bans.add'> = (ctx, { serverId, userId, reason }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const target = assertCanRemove(ctx, serverId, userId, 'ban');
    if (!ctx.chat.user(userId)) throw new NatterError('not_found', 'no such user', { field: 'params.userId' });
    ctx.chat.addBan(serverId, userId, ctx.session.userId, reason || null, ctx.clock());
    if (target) removeMember(ctx, after, serverId, userId, 'banned');
    return {};
  });
};

export const removeBan: Handler<'bans.remove'> = (ctx, { serverId, userId }) => {
  spendWrite(ctx);
  return ctx.write(() => {
    serverWithRole(ctx, serverId, 'admin');
    if (!ctx.chat.removeBan(serverId, userId)) throw new NatterError('not_found', 'that user is not banned here');
    return {};
  });
};

export const listBans: Handler<'bans.list'> = (ctx, { serverId }) => {
  serverWithRole(ctx, serverId, 'admin');
  return {
    bans: ctx.chat.bansOf(serverId).map((b) => ({
      user: { id: b.user.id, username: b.user.username, displayName: b.user.displayName },
      bannedBy: { id: b.bannedBy.id, username: b.bannedBy.username, displayName: b.bannedBy.displayName },
      reason: b.reason,
      createdAt: b.createdAt,
    })),
  };
};
