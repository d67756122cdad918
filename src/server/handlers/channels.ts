import { NatterError, PAGE_MAX } from '../../protocol/index.js';
import { noSuchConversation, serverFor, serverWithRole } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ConversationRow } from '../db/schema.js';
import { serverScope } from '../event-log.js';
import { spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import { sizeOf, toChannel, toUserRef } from '../views.js';

const CHANNELS = new PagedList('channels', ['s', 's']);

function nameTaken(name: string): NatterError {
  return new NatterError('conflict', `there is already a channel named "${name}"`, { field: 'params.name' });
}

/** A channel of a server the caller administers; `not_found` if they cannot see it. */
function adminChannel(ctx: AuthedCtx, channelId: string): ConversationRow {
  const conv = ctx.chat.conversation(channelId);
  if (conv?.kind !== 'channel' || !conv.serverId) throw noSuchConversation();
  if (!ctx.chat.role(conv.serverId, ctx.session.userId)) throw noSuchConversation();
  serverWithRole(ctx, conv.serverId, 'admin');
  return conv;
}

export const createChannel: Handler<'channels.create'> = (ctx, { serverId, name, topic }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    serverWithRole(ctx, serverId, 'admin');
    if (ctx.chat.channelByName(serverId, name)) throw nameTaken(name);
    const cap = ctx.config.quotas.channelsPerServer;
    if (ctx.chat.channelCount(serverId) >= cap) {
      throw limitReached(`this server has ${cap} channels, the most allowed; delete one first`);
    }
    const now = ctx.clock();
    const row = ctx.chat.createConversation({ kind: 'channel', serverId, name, topic: topic || null }, now);
    const channel = toChannel(row);
    ctx.events.append(after, [serverScope(serverId)], 'channel.created', { channel }, now);
    return { channel };
  });
};

export const updateChannel: Handler<'channels.update'> = (ctx, { channelId, name, topic }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const conv = adminChannel(ctx, channelId);
    const serverId = conv.serverId ?? '';
    if (name !== undefined && name !== conv.name && ctx.chat.channelByName(serverId, name)) throw nameTaken(name);
    const next = { ...conv, name: name ?? conv.name, topic: topic === undefined ? conv.topic : topic || null };
    ctx.chat.updateConversation(conv.id, next.name, next.topic);
    const channel = toChannel(next);
    const actor = ctx.chat.user(ctx.session.userId);
    const data = actor ? { channel, by: toUserRef(actor) } : { channel };
    ctx.events.append(after, [serverScope(serverId)], 'channel.updated', data, ctx.clock());
    return { channel };
  });
};

export const deleteChannel: Handler<'channels.delete'> = (ctx, { channelId }) => {
  spendWrite(ctx);
  return ctx.write((after) => {
    const conv = adminChannel(ctx, channelId);
    const serverId = conv.serverId ?? '';
    if (ctx.chat.channelCount(serverId) <= 1) {
      throw new NatterError('conflict', "a server's last channel cannot be deleted; create another first");
    }
    ctx.chat.deleteConversation(conv.id);
    ctx.events.append(after, [serverScope(serverId)], 'channel.deleted', { serverId, channelId }, ctx.clock());
    return {};
  });
};

export const listChannels: Handler<'channels.list'> = (ctx, { serverId, after, limit }) => {
  serverFor(ctx, serverId);
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = ctx.chat.channelPage(serverId, CHANNELS.start(after), n + 1);
  const page = CHANNELS.page(
    rows,
    n,
    (r) => [r.name ?? '', r.id],
    (kept) => kept.map(toChannel),
    sizeOf.channel,
  );
  return { channels: page.items, next: page.next };
};
