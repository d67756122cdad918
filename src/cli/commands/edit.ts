import { messageAt } from '../message-seq.js';
import { resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter edit <target> <seq> <text>` */
export const edit = act(async (ctx, ref: string, seq: string, words: string[]) => {
  const t = await resolveTarget(ctx.s, ref);
  const m = await messageAt(ctx, t, seq);
  const { message } = await ctx.s.request('messages.edit', { messageId: m.id, body: words.join(' ') });
  ctx.out({ target: targetJson(t), message }, () => `edited #${message.seq} in ${clean(t.label)}`);
});
