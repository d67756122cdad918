import { Box, Text } from 'ink';
import type { SearchHit } from '../../protocol/index.js';
import { sanitize } from '../sanitize.js';
import type { Segment } from '../view/segments.js';
import { textWidth, truncate } from '../view/text-width.js';
import { formatTime, type TimeFormat } from '../view/time.js';
import { QueryLine } from './QueryLine.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link SearchOverlay}. */
export type SearchOverlayProps = {
  readonly query: string;
  /** Where typing goes in the query (an index into it); its end when omitted. */
  readonly cursor?: number;
  /** The results of the last search, or null before one ran. */
  readonly hits: readonly SearchHit[] | null;
  readonly selected: number;
  readonly loading: boolean;
  /** Why the search failed, in words, or null. */
  readonly error: string | null;
  /** True when the server has more results than are shown. */
  readonly more: boolean;
  readonly width: number;
  readonly height: number;
  readonly timeFormat?: TimeFormat;
  /** False under NO_COLOR. */
  readonly color?: boolean;
  /** How my servers and groups are named on screen, by id (`acme·2f9k` when two share a name). */
  readonly names?: ReadonlyMap<string, string>;
};

const SIGIL = { channel: '#', group: '+', dm: '@' } as const;

/** Where a hit is: `#general (acme)`, `+friends`, `@bob`; servers and groups as `names` shows them. */
export function hitPlace(hit: SearchHit, names?: ReadonlyMap<string, string>): string {
  const c = hit.conversation;
  const serverName = (c.serverId ? names?.get(c.serverId) : undefined) ?? c.serverName;
  const server = c.kind === 'channel' && serverName ? ` (${serverName})` : '';
  const name = c.kind === 'group' ? (names?.get(c.id) ?? c.name) : c.name;
  return `${SIGIL[c.kind]}${name}${server}`;
}

/**
 * The text of a hit on one line, around its first match (so the match shows
 * even in a long message), with the matched words as segments of their own.
 */
export function hitSegments(hit: SearchHit, room: number, base: Omit<Segment, 'text'>): Segment[] {
  const chars = [...hit.message.body.replace(/\s+/g, ' ')];
  const first = hit.matches[0]?.[0] ?? 0;
  // Start a little before the first match when the message is long.
  const from = chars.length > room && first > room / 3 ? Math.max(0, first - Math.floor(room / 3)) : 0;
  const out: Segment[] = from > 0 ? [{ text: '…', ...base }] : [];
  let at = from;
  for (const [start, end] of hit.matches) {
    if (end <= at) continue;
    const s = Math.max(start, at);
    if (s > at) out.push({ text: sanitize(chars.slice(at, s).join(''), { multiline: false }), ...base });
    out.push({
      text: sanitize(chars.slice(s, end).join(''), { multiline: false }),
      ...base,
      bold: true,
      color: 'mention',
    });
    at = end;
  }
  if (at < chars.length) out.push({ text: sanitize(chars.slice(at).join(''), { multiline: false }), ...base });
  // Cut to the room, segment by segment.
  const cut: Segment[] = [];
  let left = room;
  for (const seg of out) {
    if (left <= 0) break;
    const w = textWidth(seg.text);
    if (w <= left) {
      cut.push(seg);
      left -= w;
    } else {
      cut.push({ ...seg, text: truncate(seg.text, left) });
      left = 0;
    }
  }
  return cut;
}

/** The Ctrl-F overlay: a query line, then the hits (where, when, who, the text around the match), newest first. */
export function SearchOverlay(props: SearchOverlayProps) {
  const color = props.color ?? true;
  const inner = Math.max(10, props.width - 4);
  const listHeight = Math.max(1, props.height - 5);
  const hits = props.hits ?? [];
  const selected = Math.min(Math.max(0, props.selected), Math.max(0, hits.length - 1));
  const start = Math.min(Math.max(0, selected - listHeight + 1), Math.max(0, hits.length - listHeight));
  const status = props.loading
    ? 'searching…'
    : props.error !== null
      ? null
      : props.hits === null
        ? 'type words, then Enter (any case, any accents; the last word also as a prefix)'
        : hits.length === 0
          ? 'nothing found'
          : `${hits.length}${props.more ? '+' : ''} found · ↑↓ choose · Enter go there · Esc close`;
  return (
    <Box flexDirection="column" width={props.width} borderStyle="round" paddingX={1}>
      <QueryLine label="Search: " query={props.query} cursor={props.cursor} width={inner} />
      {props.error !== null ? (
        <Text color={color ? 'red' : undefined} wrap="truncate-end">
          ✗ {sanitize(props.error, { multiline: false })}
        </Text>
      ) : null}
      {status !== null ? (
        <Text dimColor italic wrap="truncate-end">
          {status}
        </Text>
      ) : null}
      {hits.slice(start, start + listHeight).map((hit, i) => {
        const isSelected = start + i === selected;
        const base: Omit<Segment, 'text'> = { inverse: isSelected };
        const m = hit.message;
        const who = `${truncate(sanitize(m.author.username, { multiline: false }), 16)}${m.bot ? ' bot' : ''}`;
        const head = `${truncate(sanitize(hitPlace(hit, props.names), { multiline: false }), 24)} ${formatTime(m.createdAt, props.timeFormat)} ${m.kind === 'action' ? `* ${who} ` : `${who}: `}`;
        const room = Math.max(4, inner - 2 - textWidth(head));
        const segments: Segment[] = [
          { text: isSelected ? '› ' : '  ', bold: true },
          { text: head, ...base, dim: !isSelected },
          ...hitSegments(hit, room, base),
        ];
        return <StyledRow key={hit.message.id} segments={segments} color={color} />;
      })}
    </Box>
  );
}
