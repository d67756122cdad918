import type { Message } from '../protocol/index.js';
import { clean } from './util.js';

/** Who wrote a message, made safe for the terminal: `alice`, or `relay [bot]` when a bot token sent it. */
export function authorLabel(m: Pick<Message, 'author' | 'bot'>): string {
  return m.bot ? `${clean(m.author.username)} [bot]` : clean(m.author.username);
}

/**
 * A message as a line says it, given its body already made safe (and
 * indented, or highlighted, as the command wants): `alice: hello`, or for an
 * action (`/me`) `* alice waves`.
 */
export function saying(m: Pick<Message, 'author' | 'bot' | 'kind'>, body: string): string {
  return m.kind === 'action' ? `* ${authorLabel(m)} ${body}` : `${authorLabel(m)}: ${body}`;
}
