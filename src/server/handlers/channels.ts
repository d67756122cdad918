import { NatterError, PAGE_MAX } from '../../protocol/index.js';
import { adminChannel, serverFor, serverWithRole } from '../access.js';
import type { Handler } from '../context.js';
import { serverScope } from '../event-log.js';
import { spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import { sizeOf, toChannel, toUserRef } from '../views.js';
import { audit, changedFields } from './audit.js';

const CHANNELS = new PagedList('channels', ['s', 's']);

function nameTaken(name: string): NatterError {
  return new NatterError('conflict', `there is already a channel named "${name}"`, { field: 'params.name' });
}

export const createChannel: Handler<'channels.create'> = async (ctx, { serverId, name, topic }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    await serverWithRole(tx, serverId, 'admin');
    if (await tx.chat.channelByName(serverId, name)) throw nameTaken(name);
    const cap = tx.config.quotas.channelsPerServer;
    if ((await tx.chat.channelCount(serverId)) >= cap) {
      throw limitReached(`this server has ${cap} channels, the most allowed; delete one first`);
    }
    const now = tx.clock();
    const row = await tx.chat.createConversation({ kind: 'channel', serverId, name, topic: topic || null }, now);
    const channel = toChannel(row);
    await audit(tx, serverId, 'channel.create', { targetId: row.id, details: { name } });
    await tx.events.append(after, [serverScope(serverId)], 'channel.created', { channel }, now);
    return { channel };
  });
};

export const updateChannel: Handler<'channels.update'> = async (ctx, { channelId, name, topic }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const conv = await adminChannel(tx, channelId);
    const serverId = conv.serverId ?? '';
    if (name !== undefined && name !== conv.name && (await tx.chat.channelByName(serverId, name)))
      throw nameTaken(name);
    const next = { ...conv, name: name ?? conv.name, topic: topic === undefined ? conv.topic : topic || null };
    await tx.chat.updateConversation(conv.id, next.name, next.topic);
    const changed = changedFields(conv, next, ['name', 'topic']);
    if (changed) await audit(tx, serverId, 'channel.update', { targetId: conv.id, details: changed });
    const channel = toChannel(next);
    const actor = await tx.chat.user(tx.session.userId);
    const data = actor ? { channel, by: toUserRef(actor) } : { channel };
    await tx.events.append(after, [serverScope(serverId)], 'channel.updated', data, tx.clock());
    return { channel };
  });
};

export const deleteChannel: Handler<'channels.delete'> = async (ctx, { channelId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const conv = await adminChannel(tx, channelId);
    const serverId = conv.serverId ?? '';
    if ((await tx.chat.channelCount(serverId)) <= 1) {
      throw new NatterError('conflict', "a server's last channel cannot be deleted; create another first");
    }
    await tx.chat.deleteConversation(conv.id);
    await audit(tx, serverId, 'channel.delete', { targetId: conv.id, details: { name: conv.name } });
    await tx.events.append(after, [serverScope(serverId)], 'channel.deleted', { serverId, channelId }, tx.clock());
    return {};
  });
};

export const listChannels: Handler<'channels.list'> = async (ctx, { serverId, after, limit }) => {
  await serverFor(ctx, serverId);
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = await ctx.chat.channelPage(serverId, CHANNELS.start(after), n + 1);
  const page = await CHANNELS.page(
    rows,
    n,
    (r) => [r.name ?? '', r.id],
    (kept) => kept.map(toChannel),
    sizeOf.channel,
  );
  return { channels: page.items, next: page.next };
};
