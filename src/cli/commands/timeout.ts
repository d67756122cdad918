import { usageError } from '../errors.js';
import { resolveChannel, resolveServerNamed, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, spanWords } from '../util.js';

type ReasonOpts = { reason?: string };

/** `natter timeout <server> <username> <duration> [--reason T]` */
export const timeout = act(async (ctx, ref: string, username: string, seconds: number) => {
  const { server, name: place } = await resolveServerNamed(ctx.s, ref);
  const user = await resolveUser(ctx.s, username);
  const { reason } = ctx.opts as ReasonOpts;
  const { member } = await ctx.s.request('members.timeout', {
    serverId: server.id,
    userId: user.id,
    seconds,
    ...(reason !== undefined ? { reason } : {}),
  });
  ctx.out(
    { serverId: server.id, member },
    () =>
      `${clean(member.user.username)} is timed out in ${clean(place)} for ${spanWords(seconds)}, until ${fmtTime(member.timeoutUntil)}`,
  );
});

/** `natter untimeout <server> <username> [--reason T]` */
export const untimeout = act(async (ctx, ref: string, username: string) => {
  const { server, name: place } = await resolveServerNamed(ctx.s, ref);
  const user = await resolveUser(ctx.s, username);
  const { reason } = ctx.opts as ReasonOpts;
  const { member } = await ctx.s.request('members.untimeout', {
    serverId: server.id,
    userId: user.id,
    ...(reason !== undefined ? { reason } : {}),
  });
  ctx.out({ serverId: server.id, member }, () => `${clean(member.user.username)} may write in ${clean(place)} again`);
});

/** `natter slowmode <server>/<channel> [seconds|off] [--reason T]`: sets slow mode, or shows it without a value. */
export const slowmode = act(async (ctx, target: string, seconds: number | undefined) => {
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) {
    throw usageError(`expected SERVER/CHANNEL, such as acme/general, not "${clean(target)}"`);
  }
  const { channel: current, serverName } = await resolveChannel(ctx.s, target.slice(0, slash), target.slice(slash + 1));
  const where = `${clean(serverName)}/#${clean(current.name)}`;
  const say = (s: number | undefined) =>
    s ? `slow mode in ${where}: one message every ${spanWords(s)} per member` : `slow mode in ${where} is off`;
  if (seconds === undefined) {
    ctx.out({ channel: current }, () => say(current.slowmode));
    return;
  }
  const { reason } = ctx.opts as ReasonOpts;
  const { channel } = await ctx.s.request('channels.slowmode', {
    channelId: current.id,
    seconds,
    ...(reason !== undefined ? { reason } : {}),
  });
  ctx.out({ channel }, () => say(channel.slowmode));
});
