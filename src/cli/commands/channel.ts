import { resolveChannel, resolveServerNamed } from '../resolve.js';
import { act } from '../session.js';
import { clean, usageError } from '../util.js';

// `natter channel create|rename|delete|topic <server> <channel>`

export const create = act(async (ctx, ref: string, name: string) => {
  const o = ctx.opts as { topic?: string };
  const { server, name: place } = await resolveServerNamed(ctx.s, ref);
  const { channel } = await ctx.s.request('channels.create', {
    serverId: server.id,
    name: name.replace(/^#/, ''),
    ...(o.topic !== undefined ? { topic: o.topic } : {}),
  });
  ctx.out({ channel }, () => `created #${clean(channel.name)} in ${clean(place)}`);
});

export const rename = act(async (ctx, ref: string, ch: string, name: string) => {
  const { channel: old } = await resolveChannel(ctx.s, ref, ch);
  const { channel } = await ctx.s.request('channels.update', { channelId: old.id, name: name.replace(/^#/, '') });
  ctx.out({ channel }, () => `renamed #${clean(old.name)} to #${clean(channel.name)}`);
});

export const remove = act(async (ctx, ref: string, ch: string) => {
  const { channel } = await resolveChannel(ctx.s, ref, ch);
  await ctx.s.request('channels.delete', { channelId: channel.id });
  ctx.out({ ok: true, channelId: channel.id }, () => `deleted #${clean(channel.name)}`);
});

export const topic = act(async (ctx, ref: string, ch: string, words: string[]) => {
  const o = ctx.opts as { clear?: boolean };
  const { channel: current } = await resolveChannel(ctx.s, ref, ch);
  if (words.length === 0 && !o.clear) {
    ctx.out({ channel: current }, () => (current.topic ? clean(current.topic) : '(no topic)'));
    return;
  }
  if (words.length > 0 && o.clear) throw usageError('give a topic or --clear, not both');
  const { channel } = await ctx.s.request('channels.update', {
    channelId: current.id,
    topic: o.clear ? null : words.join(' '),
  });
  ctx.out({ channel }, () =>
    channel.topic
      ? `topic of #${clean(channel.name)}: ${clean(channel.topic)}`
      : `cleared the topic of #${clean(channel.name)}`,
  );
});
