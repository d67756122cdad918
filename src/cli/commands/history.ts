import type { Message } from '../../protocol/index.js';
import { authorLabel, fileLines, saying } from '../message-line.js';
import { resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean, cleanBlock, fmtTime, usageError } from '../util.js';

/**
 * One message as a history line: `  #12  2026-11-21 23:31  alice: text`; an
 * action reads `* alice waves`, and a bot token's message `relay [bot]: text`.
 * Its files follow, one line each, indented like the rest of its text.
 */
export function formatMessage(m: Message, seqWidth = 0): string {
  const seq = `#${m.seq}`.padStart(seqWidth + 1);
  const head = `${seq}  ${fmtTime(m.createdAt)}  `;
  if (m.deletedAt !== null) return `${head}${authorLabel(m)}: (deleted)`;
  const indent = ' '.repeat(seq.length + 2);
  const body = cleanBlock(m.body).replace(/\n/g, `\n${indent}`);
  return `${head}${saying(m, body)}${m.editedAt !== null ? ' (edited)' : ''}${fileLines(m, indent)}`;
}

/** `natter history <target>` */
export const history = act(async (ctx, ref: string) => {
  const o = ctx.opts as { limit?: number; before?: number; after?: number };
  if (o.limit !== undefined && o.limit > 100) throw usageError('--limit is at most 100');
  const t = await resolveTarget(ctx.s, ref);
  const res = await ctx.s.request('messages.history', {
    conversationId: t.id,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.before !== undefined ? { before: o.before } : {}),
    ...(o.after !== undefined ? { after: o.after } : {}),
  });
  ctx.out({ target: targetJson(t), ...res }, () => {
    if (res.messages.length === 0) return `no messages in ${clean(t.label)}`;
    const w = Math.max(...res.messages.map((m) => String(m.seq).length));
    return res.messages.map((m) => formatMessage(m, w)).join('\n');
  });
});
