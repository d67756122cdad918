import { formatBytes, formatDuration } from '../client/media.js';
import type { Attachment, Message } from '../protocol/index.js';
import { clean } from './util.js';

/** Who wrote a message, made safe for the terminal: `alice`, or `relay [bot]` when a bot token sent it. */
export function authorLabel(m: Pick<Message, 'author' | 'bot'>): string {
  return m.bot ? `${clean(m.author.username)} [bot]` : clean(m.author.username);
}

/**
 * A message as a line says it, given its body already made safe (and
 * indented, or highlighted, as the command wants): `alice: hello`, for an
 * action (`/me`) `* alice waves`, and for an automatic moderation notice
 * `⚑ automod: …` (its body names the person it is about). A message of
 * files alone says so (`alice sent 2 files:`); the files follow on lines
 * of their own ({@link fileLines}).
 */
export function saying(m: Pick<Message, 'author' | 'bot' | 'kind' | 'attachments'>, body: string): string {
  if (m.kind === 'automod') return `⚑ automod: ${body}`;
  const files = m.attachments?.length ?? 0;
  if (body === '' && files > 0) return `${authorLabel(m)} sent ${files === 1 ? 'a file' : `${files} files`}:`;
  return m.kind === 'action' ? `* ${authorLabel(m)} ${body}` : `${authorLabel(m)}: ${body}`;
}

/**
 * Whether lines may carry a picture character (📎): on a terminal that is
 * not `TERM=dumb`, unless `NO_COLOR` asks for plain output. In a pipe, a
 * file reads `[file] …`.
 */
export function fancy(): boolean {
  return process.stdout.isTTY === true && process.env.TERM !== 'dumb' && (process.env.NO_COLOR ?? '') === '';
}

/**
 * One file of a message: `📎 voice.ogg · 0:42 · 212 KiB · audio/ogg · id
 * Xy…` (pixels for an image, the length of audio and video), its id whole
 * for `natter download`.
 */
export function fileLine(a: Attachment, plain = !fancy()): string {
  const parts = [clean(a.name)];
  if (a.width !== undefined && a.height !== undefined) parts.push(`${a.width}×${a.height}`);
  if (a.durationMs !== undefined) parts.push(formatDuration(a.durationMs));
  parts.push(formatBytes(a.size), clean(a.type), `id ${clean(a.id)}`);
  return `${plain ? '[file]' : '📎'} ${parts.join(' · ')}`;
}

/** A message's files, each on a line of its own after `indent`, each line starting with a newline; '' when none. */
export function fileLines(m: Pick<Message, 'attachments'>, indent: string): string {
  return (m.attachments ?? []).map((a) => `\n${indent}${fileLine(a)}`).join('');
}

/**
 * A text on one line with the names of the files that go with it, for a
 * cell or a line that has no room for a line per file: `see this (files:
 * photo.png, plan.pdf)`, or `(files: photo.png)` alone.
 */
export function withFileNames(text: string, attachments: readonly Pick<Attachment, 'name'>[] | undefined): string {
  if (!attachments || attachments.length === 0) return text;
  const names = `(file${attachments.length === 1 ? '' : 's'}: ${attachments.map((a) => clean(a.name)).join(', ')})`;
  return text === '' ? names : `${text} ${names}`;
}
