import { resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter read <target> [--seq N]` */
export const read = act(async (ctx, ref: string) => {
  const o = ctx.opts as { seq?: number };
  const t = await resolveTarget(ctx.s, ref);
  let seq = o.seq;
  if (seq === undefined) {
    const { messages } = await ctx.s.request('messages.history', { conversationId: t.id, limit: 1 });
    seq = messages[0]?.seq ?? 0;
  }
  const state = await ctx.s.request('read.mark', { conversationId: t.id, seq });
  ctx.out(
    { target: targetJson(t), ...state },
    () => `${clean(t.label)}: read up to #${state.lastReadSeq}, ${state.unread} unread`,
  );
});
