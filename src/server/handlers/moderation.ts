import { NatterError } from '../../protocol/index.js';
import { assertCanRemove, channelWithRole } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import { serverScope } from '../event-log.js';
import { spendWrite } from '../limits.js';
import type { AfterCommit } from '../store/port.js';
import { toChannel, toMember, toUserRef } from '../views.js';
import { audit } from './audit.js';

/** Sets or lifts (`until` null) a member's timeout, logs it and tells the server; returns the member as it is now. */
export async function setTimeoutOf(
  ctx: AuthedCtx,
  after: AfterCommit,
  serverId: string,
  userId: string,
  until: number | null,
  reason: string | null | undefined,
) {
  const now = ctx.clock();
  await ctx.chat.setTimeoutUntil(serverId, userId, until);
  await audit(
    ctx,
    serverId,
    until === null ? 'member.untimeout' : 'member.timeout',
    until === null
      ? { targetUserId: userId, reason }
      : { targetUserId: userId, reason, details: { until, seconds: Math.round((until - now) / 1000) } },
  );
  const m = await ctx.chat.memberWithUser(serverId, userId);
  const actor = await ctx.chat.user(ctx.session.userId);
  if (!m || !actor) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
  await ctx.events.append(
    after,
    [serverScope(serverId)],
    'member.timeout',
    { serverId, user: toUserRef(m.user), until, by: toUserRef(actor), note: reason || null },
    now,
  );
  return { member: toMember(m, ctx.bus, now) };
}

/** The caller times a member below them out for `seconds` (see `assertCanRemove`); returns the member as it is now. */
export async function timeOut(
  ctx: AuthedCtx,
  after: AfterCommit,
  serverId: string,
  userId: string,
  seconds: number,
  reason: string | null | undefined,
) {
  const target = await assertCanRemove(ctx, serverId, userId, 'time out');
  if (!target) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
  return setTimeoutOf(ctx, after, serverId, userId, ctx.clock() + seconds * 1000, reason);
}

export const timeoutMember: Handler<'members.timeout'> = async (ctx, { serverId, userId, seconds, reason }) => {
  await spendWrite(ctx);
  return ctx.write((tx, after) => timeOut(tx, after, serverId, userId, seconds, reason));
};

export const untimeoutMember: Handler<'members.untimeout'> = async (ctx, { serverId, userId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const target = await assertCanRemove(tx, serverId, userId, 'lift the timeout of');
    if (!target) throw new NatterError('not_found', 'no such member', { field: 'params.userId' });
    const gate = await tx.chat.sendGate(serverId, userId);
    if (!gate || gate.timeoutUntil === null || gate.timeoutUntil <= tx.clock()) {
      throw new NatterError('conflict', 'that member is not timed out');
    }
    return setTimeoutOf(tx, after, serverId, userId, null, reason);
  });
};

export const setSlowmode: Handler<'channels.slowmode'> = async (ctx, { channelId, seconds, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const conv = await channelWithRole(tx, channelId, 'moderator');
    const serverId = conv.serverId ?? '';
    const channel = toChannel({ ...conv, slowmodeSeconds: seconds });
    if (conv.slowmodeSeconds === seconds) return { channel };
    await tx.chat.setSlowmode(conv.id, seconds);
    await audit(tx, serverId, 'channel.slowmode', {
      targetId: conv.id,
      reason,
      details: { channel: conv.name, from: conv.slowmodeSeconds, to: seconds },
    });
    const actor = await tx.chat.user(tx.session.userId);
    const data = actor ? { channel, by: toUserRef(actor) } : { channel };
    await tx.events.append(after, [serverScope(serverId)], 'channel.updated', data, tx.clock());
    return { channel };
  });
};
