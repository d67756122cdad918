import { sanitize } from '../sanitize.js';
import type { ConnectionView, Transfer } from '../state.js';
import { formatBytes } from './attachments.js';
import { truncate } from './text-width.js';
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

/**
 * Files moving, for the status line: `⇡ cat.png 45% of 1.4 MB` for one
 * (`⇣` coming down), `⇡ 2 files 30% of 12 MB` for several at once; null
 * when none. The name is the file's (a download's is the server's: sanitized).
 */
export function transferText(transfers: readonly Transfer[]): string | null {
  const first = transfers[0];
  if (!first) return null;
  const sent = transfers.reduce((n, t) => n + t.sent, 0);
  const total = transfers.reduce((n, t) => n + t.total, 0);
  const percent = total === 0 ? 100 : Math.floor((sent / total) * 100);
  const arrow = transfers.every((t) => t.kind === 'download') ? '⇣' : '⇡';
  const what =
    transfers.length === 1 ? truncate(sanitize(first.name, { multiline: false }), 30) : `${transfers.length} files`;
  return `${arrow} ${what} ${percent}% of ${formatBytes(total)}`;
}
