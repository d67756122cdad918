import { NatterError, PAGE_MAX } from '../../protocol/index.js';
import { outranks, serverFor, serverWithRole } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { MemberRow, ServerRow } from '../db/schema.js';
import { toPublicUser } from '../db/users.js';
import { serverScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import { sizeOf, toChannel, toMember, toServerInfo, toUserRef } from '../views.js';
import type { AfterCommit } from '../writer.js';

const SERVERS = new PagedList('servers', ['s', 's']);
const MEMBERS = new PagedList('members', ['n', 's', 's']);
const ONLINE = new PagedList('online', ['s', 's']);
const BANS = new PagedList('bans', ['n', 's']);

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
    const counts = ctx.chat.serverCounts(userId);
    const { serversOwnedPerUser, serversJoinedPerUser } = ctx.config.quotas;
    if (counts.owned >= serversOwnedPerUser) {
      throw limitReached(`you own ${serversOwnedPerUser} servers, the most allowed; delete or transfer one first`);
    }
    if (counts.joined >= serversJoinedPerUser) {
      throw limitReached(`you are in ${serversJoinedPerUser} servers, the most allowed; leave one first`);
    }
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
    const memberScopes = ctx.chat.memberIds(serverId).map(userScope);
    ctx.chat.deleteServer(serverId);
    ctx.events.append(after, memberScopes, 'server.deleted', { serverId }, ctx.clock());
    after.push(() => ctx.hub.dropScope(scope));
    return {};
  });
};

export const listServers: Handler<'servers.list'> = (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.medium);
  const rows = ctx.chat.serversOf(ctx.session.userId, SERVERS.start(after), n + 1);
  const page = SERVERS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => kept.map((s) => toServerInfo(s.server, s.role, s.memberCount)),
    sizeOf.server,
  );
  return { servers: page.items, next: page.next };
};

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
  note: string | null = null,
): void {
  ctx.chat.removeMember(serverId, userId);
  after.push(() => ctx.hub.unsubscribeUser(userId, serverScope(serverId)));
  const now = ctx.clock();
  // Kicked or banned: the members are told by whom (and why, when a ban says).
  const actor = reason === 'left' ? undefined : ctx.chat.user(ctx.session.userId);
  const data = actor ? { serverId, userId, reason, by: toUserRef(actor), note } : { serverId, userId, reason };
  ctx.events.append(after, [serverScope(serverId)], 'member.left', data, now);
  ctx.events.append(after, [userScope(userId)], 'server.removed', { serverId, reason }, now);
}

export const leaveServer: Handler<'servers.leave'> = (ctx, { serverId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const { role } = serverFor(ctx, serverId);
    if (role === 'owner') {
      throw new NatterError(
        'conflict',
        'the owner cannot leave: transfer ownership to another member first, or delete the server',
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
    const cap = ctx.config.quotas.serversOwnedPerUser;
    if (ctx.chat.serverCounts(userId).owned >= cap) {
      throw limitReached(`that member already owns ${cap} servers, the most allowed`);
    }
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

export const listMembers: Handler<'members.list'> = (ctx, { serverId, after, limit }) => {
  serverFor(ctx, serverId);
  const n = pageSize(limit, PAGE_MAX.medium);
  const rows = ctx.chat.membersOf(serverId, MEMBERS.start(after), n + 1);
  const page = MEMBERS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => kept.map((m) => toMember(m, ctx.hub)),
    sizeOf.member,
  );
  return { members: page.items, next: page.next };
};

/** Who is online in a server: from the live connections, not from the member list (which may be huge). */
export const onlineMembers: Handler<'members.online'> = (ctx, { serverId, after, limit }) => {
  serverFor(ctx, serverId);
  const n = pageSize(limit, PAGE_MAX.medium);
  const start = ONLINE.start(after);
  const ids = [...ctx.hub.onlineIn(serverScope(serverId))];
  const refs = [...ctx.chat.userRefs(ids).values()]
    .map((u) => ({ u, key: [u.username.toLowerCase(), u.id] as const }))
    .filter(
      ({ key }) =>
        start === null || key[0] > (start[0] as string) || (key[0] === start[0] && key[1] > (start[1] as string)),
    )
    .sort((a, b) => (a.key[0] < b.key[0] ? -1 : a.key[0] > b.key[0] ? 1 : a.key[1] < b.key[1] ? -1 : 1));
  const page = ONLINE.page(
    refs.slice(0, n + 1),
    n,
    (r) => r.key,
    (kept) => {
      const users = ctx.chat.usersByIds(kept.map((r) => r.u.id));
      return kept
        .map((r) => users.get(r.u.id))
        .filter((u) => u !== undefined)
        .map(toPublicUser);
    },
    sizeOf.user,
  );
  return { users: page.items, next: page.next };
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
    if (target) removeMember(ctx, after, serverId, userId, 'banned', reason || null);
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

export const listBans: Handler<'bans.list'> = (ctx, { serverId, after, limit }) => {
  serverWithRole(ctx, serverId, 'admin');
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = ctx.chat.bansOf(serverId, BANS.start(after), n + 1);
  const page = BANS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => kept.map(({ key: _key, ...ban }) => ban),
    sizeOf.ban,
  );
  return { bans: page.items, next: page.next };
};
