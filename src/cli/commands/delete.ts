import { messageAt } from '../message-seq.js';
import { resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter delete <target> <seq>` */
export const remove = act(async (ctx, ref: string, seq: string) => {
  const t = await resolveTarget(ctx.s, ref);
  const m = await messageAt(ctx, t, seq);
  const { reason } = ctx.opts as { reason?: string };
  const { message } = await ctx.s.request('messages.delete', {
    messageId: m.id,
    ...(reason !== undefined ? { reason } : {}),
  });
  ctx.out({ target: targetJson(t), message }, () => `deleted #${message.seq} in ${clean(t.label)}`);
});
