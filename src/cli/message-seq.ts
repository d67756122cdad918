import type { Message } from '../protocol/index.js';
import type { Target } from './resolve.js';
import type { Session } from './session.js';
import { CliError, clean, EXIT, usageError } from './util.js';

/** The message with sequence number `seq` in a conversation. */
export async function messageAt(ctx: { s: Session }, t: Target, seqText: string): Promise<Message> {
  const seq = Number(seqText.replace(/^#/, ''));
  if (!Number.isSafeInteger(seq) || seq < 1) throw usageError(`"${seqText}" is not a message number`);
  const { messages } = await ctx.s.request('messages.history', { conversationId: t.id, after: seq - 1, limit: 1 });
  const m = messages[0];
  if (!m || m.seq !== seq) throw new CliError(EXIT.refused, 'not_found', `no message #${seq} in ${clean(t.label)}`);
  return m;
}
