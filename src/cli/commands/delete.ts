import { Command } from 'commander';
import { messageAt } from '../message-seq.js';
import { resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter delete <target> <seq>` */
export function deleteCommand(): Command {
  return new Command('delete')
    .description('delete a message, by its number')
    .argument('<target>')
    .argument('<seq>')
    .action(
      act(async (ctx, ref: string, seq: string) => {
        const t = await resolveTarget(ctx.s, ref);
        const m = await messageAt(ctx, t, seq);
        const { message } = await ctx.s.request('messages.delete', { messageId: m.id });
        ctx.out({ target: targetJson(t), message }, () => `deleted #${message.seq} in ${clean(t.label)}`);
      }),
    );
}
