import type { Message } from '../protocol/index.js';
import { clean } from './util.js';

/** Who wrote a message, made safe for the terminal: `alice`, or `relay [bot]` when a bot token sent it. */
export function authorLabel(m: Pick<Message, 'author' | 'bot'>): string {
  return m.bot ? `${clean(m.author.username)} [bot]` : clean(m.author.username);
}

/**
 * A message as a line says it, given its body already made safe (and
 * indented, or highlighted, as the command wants): `alice: hello`, for an
 * action (`/me`) `* alice waves`, and for an automatic moderation notice
 * `⚑ automod: …` (its body names the person it is about).
 */
export function saying(m: Pick<Message, 'author' | 'bot' | 'kind'>, body: string): string {
  if (m.kind === 'automod') return `⚑ automod: ${body}`;
  return m.kind === 'action' ? `* ${authorLabel(m)} ${body}` : `${authorLabel(m)}: ${body}`;
}
