import { randomBytes } from 'node:crypto';
import { formatBytes, type MediaClient } from '../../client/media.js';
import { patiently } from '../../client/pages.js';
import { isBlank } from '../../protocol/blank.js';
import type { Message } from '../../protocol/index.js';
import { checkFile, checkSizes, type LocalFile, upload } from '../files.js';
import { resolveTarget, targetJson } from '../resolve.js';
import { act, type Ctx } from '../session.js';
import { clean, readStdin, usageError } from '../util.js';

/** Most files one message carries (the protocol's limit, said before anything is uploaded). */
export const MAX_FILES = 10;

/** A fresh idempotency nonce for one send. */
function nonce(): string {
  return `cli-${randomBytes(12).toString('base64url')}`;
}

/** What one send carries: text (null for none), its kind, and files to upload first. */
export type Outgoing = {
  body: string | null;
  kind: 'text' | 'action';
  paths: string[];
  /** The option the files came with, named in errors about them (`--file`), or null for an argument. */
  option: string | null;
};

/**
 * Sends one message to `ref`: checks every file first (there, readable, not
 * over the server's limit), resolves the target, uploads the files one
 * after another, then sends; prints `sent #3 to acme/general` (with the
 * files: `(photo.png, 1.2 MiB)`).
 */
export async function sendMessage(ctx: Ctx<unknown>, ref: string, out: Outgoing): Promise<void> {
  const files: LocalFile[] = [];
  for (const path of out.paths) files.push(await checkFile(path, out.option));
  let media: MediaClient | null = null;
  if (files.length > 0) {
    media = await ctx.s.media();
    checkSizes(media, files, out.option);
  }
  let dm: string | null = null;
  let target: ReturnType<typeof targetJson> | null = null;
  let label: string;
  if (ref.startsWith('@')) {
    // A DM: messages.send {to} opens it on the first message.
    dm = ref.slice(1);
    if (dm === '') throw usageError('name someone after @');
    label = `@${dm}`;
  } else {
    const t = await resolveTarget(ctx.s, ref);
    target = targetJson(t);
    label = t.label;
  }
  const attachments: string[] = [];
  for (const file of files) {
    if (media) attachments.push((await upload(media, file, 'message', ctx.g.server)).id);
  }
  const params = {
    ...(dm !== null ? { to: dm } : { conversationId: target?.id ?? '' }),
    ...(out.body !== null ? { body: out.body } : {}),
    ...(attachments.length > 0 ? { attachments } : {}),
    ...(out.kind === 'action' ? { kind: 'action' as const } : {}),
    nonce: nonce(),
  };
  const res: { message: Message; duplicate: boolean } = await patiently(() => ctx.s.request('messages.send', params));
  if (dm !== null) target = { kind: 'dm', id: res.message.conversationId, label };
  const carried =
    files.length === 0
      ? ''
      : ` (${files.length === 1 ? clean(files[0]?.name) : `${files.length} files`}, ${formatBytes(files.reduce((n, f) => n + f.size, 0))})`;
  ctx.out({ target, ...res }, () => `sent #${res.message.seq} to ${clean(label)}${carried}`);
}

/** `natter send <target> [text...] [--file PATH]...`; with `--me`, an action (`* alice waves`). */
export const send = act(async (ctx, ref: string, words: string[]) => {
  const o = ctx.opts as { me?: boolean; file?: string[] };
  const paths = o.file ?? [];
  if (paths.length > MAX_FILES) {
    throw usageError(`a message carries at most ${MAX_FILES} files; this one has ${paths.length} (--file)`);
  }
  let body: string | null;
  if (words.length > 0) {
    body = words.join(' ');
  } else if (paths.length > 0) {
    // Files alone: the text, if any, is given as words; stdin is not read.
    body = null;
  } else {
    if (process.stdin.isTTY) throw usageError('no message: give the text as arguments or pipe it on stdin');
    body = (await readStdin()).replace(/\r?\n$/, '');
  }
  if (body !== null && isBlank(body)) {
    if (paths.length === 0) throw usageError('the message is empty');
    body = null;
  }
  await sendMessage(ctx, ref, { body, kind: o.me ? 'action' : 'text', paths, option: '--file' });
});
