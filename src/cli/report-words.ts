import type { Report, ReportAction } from '../protocol/index.js';
import { clean, spanWords } from './util.js';

// Reports in words, for natter reports and natter listen.

/** Where a reported message is: `#general #1042`, `+climbing #5`, `a DM #3`; a report of a user has none (''). */
export function reportPlace(r: Pick<Report, 'seq' | 'conversation'>): string {
  if (r.seq === null) return '';
  const c = r.conversation;
  if (c === null) return `#${r.seq} (its conversation is gone)`;
  if (c.kind === 'channel') return `#${clean(c.name) || '?'} #${r.seq}`;
  if (c.kind === 'group') return `+${clean(c.name) || '?'} #${r.seq}`;
  return `a DM #${r.seq}`;
}

/** What a resolution did: `the message was deleted`, `mallory was banned`, `no action was taken`. */
export function outcomeWords(action: ReportAction, who: string | null | undefined, seconds?: number): string {
  const name = clean(who) || 'the reported user';
  switch (action) {
    case 'delete':
      return 'the message was deleted';
    case 'timeout':
      return seconds === undefined ? `${name} was timed out` : `${name} was timed out for ${spanWords(seconds)}`;
    case 'kick':
      return `${name} was kicked`;
    case 'ban':
      return `${name} was banned`;
    case 'none':
      return 'no action was taken';
  }
}
