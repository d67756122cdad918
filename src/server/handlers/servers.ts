import { NatterError, PAGE_MAX } from '../../protocol/index.js';
import { assertCanRemove, assertMayLeave, assertMaySetRole, serverFor, serverWithRole } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { MemberRow, ServerRow } from '../db/schema.js';
import { serverScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import type { AfterCommit } from '../store/port.js';
import { sizeOf, toChannel, toMember, toPublicUser, toServerInfo, toUserRef } from '../views.js';
import { assertServerRoom, pictureUpload } from './attachments.js';
import { audit, changedFields } from './audit.js';

const SERVERS = new PagedList('servers', ['s', 's']);
const MEMBERS = new PagedList('members', ['n', 's', 's']);
const ONLINE = new PagedList('online', ['s', 's']);
const BANS = new PagedList('bans', ['n', 's']);

/** The server as the caller sees it (their role, the member count). */
async function infoFor(ctx: AuthedCtx, server: ServerRow, role: MemberRow['role']) {
  return toServerInfo(server, role, await ctx.chat.memberCount(server.id));
}

/** Announces a changed server to its members (role is per viewer; `member` is sent). */
async function announceServer(ctx: AuthedCtx, after: AfterCommit, serverId: string): Promise<void> {
  const server = await ctx.chat.server(serverId);
  if (!server) return;
  await ctx.events.append(
    after,
    [serverScope(serverId)],
    'server.updated',
    { server: await infoFor(ctx, server, 'member') },
    ctx.clock(),
  );
}

export const createServer: Handler<'servers.create'> = async (ctx, { name, description }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const now = tx.clock();
    const userId = tx.session.userId;
    const counts = await tx.chat.serverCounts(userId);
    const { serversOwnedPerUser, serversJoinedPerUser } = tx.config.quotas;
    if (counts.owned >= serversOwnedPerUser) {
      throw limitReached(`you own ${serversOwnedPerUser} servers, the most allowed; delete or transfer one first`);
    }
    if (counts.joined >= serversJoinedPerUser) {
      throw limitReached(`you are in ${serversJoinedPerUser} servers, the most allowed; leave one first`);
    }
    const server: ServerRow = {
      id: newId(),
      automodRev: 0,
      iconId: null,
      name,
      description: description || null,
      ownerId: userId,
      createdAt: now,
      updatedAt: now,
    };
    await tx.chat.insertServer(server);
    await tx.chat.addMember(server.id, userId, 'owner', now);
    const general = await tx.chat.createConversation({ kind: 'channel', serverId: server.id, name: 'general' }, now);
    after.push(() => tx.fanout.subscribeUser(userId, serverScope(server.id)));
    const result = { server: toServerInfo(server, 'owner', 1), channels: [toChannel(general)] };
    await tx.events.append(after, [userScope(userId)], 'server.joined', result, now);
    return result;
  });
};

export const updateServer: Handler<'servers.update'> = async (ctx, { serverId, name, description, icon }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const { server, role } = await serverWithRole(tx, serverId, 'admin');
    const next = {
      ...server,
      name: name ?? server.name,
      description: description === undefined ? server.description : description || null,
      iconId: icon === undefined ? server.iconId : icon,
    };
    if (next.iconId !== server.iconId) {
      if (next.iconId !== null) {
        const file = await pictureUpload(tx, next.iconId, 'server-icon', 'params.icon');
        await assertServerRoom(tx, serverId, file.size);
        await tx.media.keep(file.id, serverId);
      }
      // The icon it replaces goes (its bytes with the next sweep).
      if (server.iconId !== null) await tx.media.remove(server.iconId);
      await tx.media.setIcon(serverId, next.iconId);
    }
    await tx.chat.updateServer(serverId, next.name, next.description, next.ownerId, tx.clock());
    const changed = changedFields(server, next, ['name', 'description', 'iconId']);
    if (changed) await audit(tx, serverId, 'server.update', { details: changed });
    await announceServer(tx, after, serverId);
    return { server: await infoFor(tx, next, role) };
  });
};

export const deleteServer: Handler<'servers.delete'> = async (ctx, { serverId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    await serverWithRole(tx, serverId, 'owner');
    const scope = serverScope(serverId);
    // The log entry is scoped to each member, since the server scope dies with it.
    const memberScopes = (await tx.chat.memberIds(serverId)).map(userScope);
    await tx.chat.deleteServer(serverId);
    await tx.events.append(after, memberScopes, 'server.deleted', { serverId }, tx.clock());
    after.push(() => tx.fanout.dropScope(scope));
    return {};
  });
};

export const listServers: Handler<'servers.list'> = async (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.medium);
  const rows = await ctx.chat.serversOf(ctx.session.userId, SERVERS.start(after), n + 1);
  const page = await SERVERS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => kept.map((s) => toServerInfo(s.server, s.role, s.memberCount)),
    sizeOf.server,
  );
  return { servers: page.items, next: page.next };
};

export const getServer: Handler<'servers.get'> = async (ctx, { serverId }) => {
  const { server, role } = await serverFor(ctx, serverId);
  return { server: await infoFor(ctx, server, role), channels: (await ctx.chat.channelsOf(serverId)).map(toChannel) };
};

/**
 * Removes a member and tells everyone: the member's connections stop
 * receiving the server's events before anything else is published.
 */
export async function removeMember(
  ctx: AuthedCtx,
  after: AfterCommit,
  serverId: string,
  userId: string,
  reason: 'left' | 'kicked' | 'banned',
  note: string | null = null,
): Promise<void> {
  await ctx.chat.removeMember(serverId, userId);
  after.push(() => ctx.fanout.unsubscribeUser(userId, serverScope(serverId)));
  const now = ctx.clock();
  // Kicked or banned: the members are told by whom (and why, when a ban says).
  const actor = reason === 'left' ? undefined : await ctx.chat.user(ctx.session.userId);
  const who = await ctx.chat.userRef(userId);
  const named = who ? { user: who } : {};
  const data = actor
    ? { serverId, userId, ...named, reason, by: toUserRef(actor), note }
    : { serverId, userId, ...named, reason };
  await ctx.events.append(after, [serverScope(serverId)], 'member.left', data, now);
  // The person removed is told too: by whom and why.
  const told = actor ? { serverId, reason, by: toUserRef(actor), note } : { serverId, reason };
  await ctx.events.append(after, [userScope(userId)], 'server.removed', told, now);
}

export const leaveServer: Handler<'servers.leave'> = async (ctx, { serverId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const { role } = await serverFor(tx, serverId);
    assertMayLeave(role);
    await removeMember(tx, after, serverId, tx.session.userId, 'left');
    return {};
  });
};

export const transferServer: Handler<'servers.transfer'> = async (ctx, { serverId, userId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const { server } = await serverWithRole(tx, serverId, 'owner');
    if (userId === tx.session.userId)
      throw new NatterError('bad_request', 'you already own this server', { field: 'params.userId' });
    if (!(await tx.chat.role(serverId, userId)))
      throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
    const cap = tx.config.quotas.serversOwnedPerUser;
    if ((await tx.chat.serverCounts(userId)).owned >= cap) {
      throw limitReached(`that member already owns ${cap} servers, the most allowed`);
    }
    await tx.chat.setRole(serverId, userId, 'owner');
    await tx.chat.setRole(serverId, tx.session.userId, 'admin');
    await tx.chat.updateServer(serverId, server.name, server.description, userId, tx.clock());
    await audit(tx, serverId, 'server.transfer', { targetUserId: userId });
    await announceMember(tx, after, serverId, userId);
    await announceMember(tx, after, serverId, tx.session.userId);
    await announceServer(tx, after, serverId);
    const updated = (await tx.chat.server(serverId)) ?? server;
    return { server: await infoFor(tx, updated, 'admin') };
  });
};

async function announceMember(ctx: AuthedCtx, after: AfterCommit, serverId: string, userId: string): Promise<void> {
  const m = await ctx.chat.memberWithUser(serverId, userId);
  if (!m) return;
  await ctx.events.append(
    after,
    [serverScope(serverId)],
    'member.updated',
    { serverId, member: toMember(m, ctx.bus, ctx.clock()) },
    ctx.clock(),
  );
}

export const listMembers: Handler<'members.list'> = async (ctx, { serverId, after, limit }) => {
  await serverFor(ctx, serverId);
  const n = pageSize(limit, PAGE_MAX.medium);
  const rows = await ctx.chat.membersOf(serverId, MEMBERS.start(after), n + 1);
  const page = await MEMBERS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => kept.map((m) => toMember(m, ctx.bus, ctx.clock())),
    sizeOf.member,
  );
  return { members: page.items, next: page.next };
};

/** Who is online in a server: from the live connections, not from the member list (which may be huge). */
export const onlineMembers: Handler<'members.online'> = async (ctx, { serverId, after, limit }) => {
  await serverFor(ctx, serverId);
  const n = pageSize(limit, PAGE_MAX.medium);
  const start = ONLINE.start(after);
  // Online here (from the connections), and, in a cluster, members online on other nodes.
  const online = ctx.hub.onlineIn(serverScope(serverId));
  if (ctx.bus.status().transport !== 'local') {
    const elsewhere = [...ctx.bus.onlineUsers()].filter((id) => !online.has(id));
    if (elsewhere.length > 0) {
      const members = new Set(await ctx.chat.memberIds(serverId));
      for (const id of elsewhere) if (members.has(id)) online.add(id);
    }
  }
  const ids = [...online];
  const refs = [...(await ctx.chat.userRefs(ids)).values()]
    .map((u) => ({ u, key: [u.username.toLowerCase(), u.id] as const }))
    .filter(
      ({ key }) =>
        start === null || key[0] > (start[0] as string) || (key[0] === start[0] && key[1] > (start[1] as string)),
    )
    .sort((a, b) => (a.key[0] < b.key[0] ? -1 : a.key[0] > b.key[0] ? 1 : a.key[1] < b.key[1] ? -1 : 1));
  const page = await ONLINE.page(
    refs.slice(0, n + 1),
    n,
    (r) => r.key,
    async (kept) => {
      const users = await ctx.chat.usersByIds(kept.map((r) => r.u.id));
      return kept
        .map((r) => users.get(r.u.id))
        .filter((u) => u !== undefined)
        .map(toPublicUser);
    },
    sizeOf.user,
  );
  return { users: page.items, next: page.next };
};

export const setRole: Handler<'members.role'> = async (ctx, { serverId, userId, role, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const current = await assertMaySetRole(tx, serverId, userId, role);
    if (current !== role) {
      await tx.chat.setRole(serverId, userId, role);
      await audit(tx, serverId, 'member.role', { targetUserId: userId, reason, details: { from: current, to: role } });
      await announceMember(tx, after, serverId, userId);
    }
    const m = await tx.chat.memberWithUser(serverId, userId);
    if (!m) throw new NatterError('not_found', 'no such member');
    return { member: toMember(m, tx.bus, tx.clock()) };
  });
};

/** The caller kicks a member below them (see `assertCanRemove`), logged with `reason`. */
export async function kick(
  ctx: AuthedCtx,
  after: AfterCommit,
  serverId: string,
  userId: string,
  reason: string | null | undefined,
): Promise<void> {
  const target = await assertCanRemove(ctx, serverId, userId, 'kick');
  if (!target) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
  await audit(ctx, serverId, 'member.kick', { targetUserId: userId, reason });
  await removeMember(ctx, after, serverId, userId, 'kicked', reason || null);
}

/** The caller bans a user (removed at once when a member below them), logged with `reason`. */
export async function ban(
  ctx: AuthedCtx,
  after: AfterCommit,
  serverId: string,
  userId: string,
  reason: string | null | undefined,
): Promise<void> {
  const target = await assertCanRemove(ctx, serverId, userId, 'ban');
  if (!(await ctx.chat.user(userId))) throw new NatterError('not_found', 'no such user', { field: 'params.userId' });
  await ctx.chat.addBan(serverId, userId, ctx.session.userId, reason || null, ctx.clock());
  await audit(ctx, serverId, 'member.ban', { targetUserId: userId, reason });
  if (target) await removeMember(ctx, after, serverId, userId, 'banned', reason || null);
}

export const kickMember: Handler<'members.kick'> = async (ctx, { serverId, userId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    await kick(tx, after, serverId, userId, reason);
    return {};
  });
};

export const addBan: Handler<'bans.add'> = async (ctx, { serverId, userId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    await ban(tx, after, serverId, userId, reason);
    return {};
  });
};

export const removeBan: Handler<'bans.remove'> = async (ctx, { serverId, userId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx) => {
    await serverWithRole(tx, serverId, 'moderator');
    if (!(await tx.chat.removeBan(serverId, userId)))
      throw new NatterError('not_found', 'that user is not banned here');
    await audit(tx, serverId, 'member.unban', { targetUserId: userId, reason });
    return {};
  });
};

export const listBans: Handler<'bans.list'> = async (ctx, { serverId, after, limit }) => {
  await serverWithRole(ctx, serverId, 'moderator');
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = await ctx.chat.bansOf(serverId, BANS.start(after), n + 1);
  const page = await BANS.page(
    rows,
    n,
    (r) => r.key,
    (kept) => kept.map(({ key: _key, ...ban }) => ban),
    sizeOf.ban,
  );
  return { bans: page.items, next: page.next };
};
