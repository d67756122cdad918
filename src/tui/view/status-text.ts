import { sanitize } from '../sanitize.js';
import type { ConnectionView } from '../state.js';
import { secondsUntil } from './time.js';

/** The connection as a symbol, a colour and words: `● connected`, `◌ reconnecting in 3s (refused)`, `○ offline`. */
export function connectionText(
  connection: ConnectionView,
  now: number,
): { symbol: string; color: string; text: string } {
  const clean = (s: string) => sanitize(s, { multiline: false });
  switch (connection.status) {
    case 'connecting':
      return { symbol: '◌', color: 'yellow', text: 'connecting' };
    case 'connected':
      return { symbol: '●', color: 'green', text: 'connected' };
    case 'reconnecting': {
      const s = secondsUntil(connection.retryAt, now);
      const when = s > 0 ? `reconnecting in ${s}s` : 'reconnecting';
      return { symbol: '◌', color: 'yellow', text: `${when} (${clean(connection.error)})` };
    }
    case 'closed':
      return {
        symbol: '○',
        color: 'red',
        text: connection.error === null ? 'offline' : `offline (${clean(connection.error)})`,
      };
  }
}

/**
 * The time the screen is drawn for, after a tick of the clock at `t`: `t`
 * while something on it counts time (the seconds until reconnecting) or when
 * the year has changed (day separators name the year when it is not this
 * one's), else still `shown`, so that a tick redraws nothing.
 */
export function clockFor(shown: number, t: number, connection: ConnectionView): number {
  if (connection.status === 'reconnecting') return t;
  return new Date(shown).getFullYear() === new Date(t).getFullYear() ? shown : t;
}

/** Who is typing, in words: `bob is typing…`, `bob and carol are typing…`, `several people are typing…`; '' for nobody. */
export function typingText(usernames: readonly string[]): string {
  const names = usernames.map((n) => sanitize(n, { multiline: false }));
  const [a, b] = names;
  if (a === undefined) return '';
  if (b === undefined) return `${a} is typing…`;
  if (names.length === 2) return `${a} and ${b} are typing…`;
  return 'several people are typing…';
}
