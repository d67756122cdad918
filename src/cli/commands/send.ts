import { randomBytes } from 'node:crypto';
import { patiently } from '../../client/pages.js';
import { isBlank } from '../../protocol/blank.js';
import type { Message } from '../../protocol/index.js';
import { resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean, readStdin, usageError } from '../util.js';

/** A fresh idempotency nonce for one send. */
function nonce(): string {
  return `cli-${randomBytes(12).toString('base64url')}`;
}

/** `natter send <target> [text...]`; with `--me`, an action (`* alice waves`). */
export const send = act(async (ctx, ref: string, words: string[]) => {
  const kind = (ctx.opts as { me?: boolean }).me ? { kind: 'action' as const } : {};
  let body: string;
  if (words.length > 0) {
    body = words.join(' ');
  } else {
    if (process.stdin.isTTY) throw usageError('no message: give the text as arguments or pipe it on stdin');
    body = (await readStdin()).replace(/\r?\n$/, '');
  }
  if (isBlank(body)) throw usageError('the message is empty');
  let label: string;
  let target: ReturnType<typeof targetJson> | null = null;
  let res: { message: Message; duplicate: boolean };
  if (ref.startsWith('@')) {
    // A DM: messages.send {to} opens it on the first message.
    const to = ref.slice(1);
    if (to === '') throw usageError('name someone after @');
    const params = { to, body, nonce: nonce(), ...kind };
    res = await patiently(() => ctx.s.request('messages.send', params));
    label = `@${to}`;
    target = { kind: 'dm', id: res.message.conversationId, label };
  } else {
    const t = await resolveTarget(ctx.s, ref);
    const params = { conversationId: t.id, body, nonce: nonce(), ...kind };
    res = await patiently(() => ctx.s.request('messages.send', params));
    label = t.label;
    target = targetJson(t);
  }
  ctx.out({ target, ...res }, () => `sent #${res.message.seq} to ${clean(label)}`);
});
