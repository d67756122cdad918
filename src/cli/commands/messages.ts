import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import type { Message } from '../../protocol/index.js';
import { resolveTarget, type Target, targetJson } from '../resolve.js';
import { act, type Session } from '../session.js';
import {
  CliError,
  clean,
  cleanBlock,
  EXIT,
  fmtTime,
  nonNegativeInt,
  positiveInt,
  readStdin,
  usageError,
} from '../util.js';

/** A fresh idempotency nonce for one send. */
function nonce(): string {
  return `cli-${randomBytes(12).toString('base64url')}`;
}

/** One message as a history line: `  #12  2026-11-21 23:31  alice: text`. */
export function formatMessage(m: Message, seqWidth = 0): string {
  const seq = `#${m.seq}`.padStart(seqWidth + 1);
  const head = `${seq}  ${fmtTime(m.createdAt)}  ${clean(m.author.username)}:`;
  if (m.deletedAt !== null) return `${head} (deleted)`;
  const body = cleanBlock(m.body).replace(/\n/g, `\n${' '.repeat(seq.length + 2)}`);
  return `${head} ${body}${m.editedAt !== null ? ' (edited)' : ''}`;
}

/** The message with sequence number `seq` in a conversation. */
async function messageAt(ctx: { s: Session }, t: Target, seqText: string): Promise<Message> {
  const seq = Number(seqText.replace(/^#/, ''));
  if (!Number.isSafeInteger(seq) || seq < 1) throw usageError(`"${seqText}" is not a message number`);
  const { messages } = await ctx.s.request('messages.history', { conversationId: t.id, after: seq - 1, limit: 1 });
  const m = messages[0];
  if (!m || m.seq !== seq) throw new CliError(EXIT.refused, 'not_found', `no message #${seq} in ${clean(t.label)}`);
  return m;
}

/** `natter send <target> [text...]` */
export function sendCommand(): Command {
  return new Command('send')
    .description('send one message (the text from stdin when not given)')
    .argument('<target>', 'server/channel, @username or +group')
    .argument('[text...]', 'the message')
    .action(
      act(async (ctx, ref: string, words: string[]) => {
        let body: string;
        if (words.length > 0) {
          body = words.join(' ');
        } else {
          if (process.stdin.isTTY) throw usageError('no message: give the text as arguments or pipe it on stdin');
          body = (await readStdin()).replace(/\r?\n$/, '');
        }
        if (body.trim() === '') throw usageError('the message is empty');
        let label: string;
        let target: ReturnType<typeof targetJson> | null = null;
        let res: { message: Message; duplicate: boolean };
        if (ref.startsWith('@')) {
          // A DM: messages.send {to} opens it on the first message.
          const to = ref.slice(1);
          if (to === '') throw usageError('name someone after @');
          res = await ctx.s.request('messages.send', { to, body, nonce: nonce() });
          label = `@${to}`;
          target = { kind: 'dm', id: res.message.conversationId, label };
        } else {
          const t = await resolveTarget(ctx.s, ref);
          res = await ctx.s.request('messages.send', { conversationId: t.id, body, nonce: nonce() });
          label = t.label;
          target = targetJson(t);
        }
        ctx.out({ target, ...res }, () => `sent #${res.message.seq} to ${clean(label)}`);
      }),
    );
}

/** `natter history <target>` */
export function historyCommand(): Command {
  return new Command('history')
    .description('print messages of a conversation, oldest first (the latest 50 by default)')
    .argument('<target>', 'server/channel, @username or +group')
    .addOption(new Option('--limit <n>', 'how many (1 to 100)').argParser(positiveInt))
    .addOption(new Option('--before <seq>', 'only messages before this number').argParser(nonNegativeInt))
    .addOption(new Option('--after <seq>', 'only messages after this number').argParser(nonNegativeInt))
    .action(
      act(async (ctx, ref: string) => {
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
      }),
    );
}

/** `natter edit <target> <seq> <text>` */
export function editCommand(): Command {
  return new Command('edit')
    .description('edit one of your messages, by its number')
    .argument('<target>')
    .argument('<seq>')
    .argument('<text...>')
    .action(
      act(async (ctx, ref: string, seq: string, words: string[]) => {
        const t = await resolveTarget(ctx.s, ref);
        const m = await messageAt(ctx, t, seq);
        const { message } = await ctx.s.request('messages.edit', { messageId: m.id, body: words.join(' ') });
        ctx.out({ target: targetJson(t), message }, () => `edited #${message.seq} in ${clean(t.label)}`);
      }),
    );
}

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

/** `natter read <target> [--seq N]` */
export function readCommand(): Command {
  return new Command('read')
    .description('mark a conversation read (up to its latest message, or --seq)')
    .argument('<target>')
    .addOption(new Option('--seq <n>', 'read up to this message number').argParser(nonNegativeInt))
    .action(
      act(async (ctx, ref: string) => {
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
      }),
    );
}
