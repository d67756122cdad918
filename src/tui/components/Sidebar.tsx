import { Box } from 'ink';
import { idFragments, SHOWN_MARK } from '../../client/names.js';
import { sanitize } from '../sanitize.js';
import type { ConversationEntry, ServerEntry } from '../state.js';
import type { Row, Segment } from '../view/segments.js';
import { padEnd, textWidth, truncate } from '../view/text-width.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link Sidebar}. */
export type SidebarProps = {
  /** Servers in display order. */
  readonly servers: readonly ServerEntry[];
  readonly conversations: Readonly<Record<string, ConversationEntry>>;
  readonly active: string | null;
  readonly online: Readonly<Record<string, boolean>>;
  readonly width: number;
  readonly height: number;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

/** A mention count as it shows in a badge: ` 3 `, ` 99+ `. */
export function badgeText(mentions: number): string {
  return mentions > 0 ? ` ${mentions > 99 ? '99+' : mentions} ` : '';
}

const SIGIL = { channel: '#', group: '+', dm: '@' } as const;

function byName(a: ConversationEntry, b: ConversationEntry): number {
  return a.name.localeCompare(b.name);
}

/**
 * Builds one sidebar row: marker, indent, optional dot, name (cut to fit), badge on the right.
 * A `tag` (`·2f9k`, telling apart names that are the same) follows the name, dimmed; the name is cut before it is.
 */
function entryRow(opts: {
  key: string;
  width: number;
  indent: number;
  lead?: Segment;
  label: string;
  tag?: string;
  bold: boolean;
  active: boolean;
  mentions: number;
  extra?: Segment;
}): Row {
  const badge = badgeText(opts.mentions);
  const leadWidth = opts.lead ? textWidth(opts.lead.text) + 1 : 0;
  const extraWidth = opts.extra ? textWidth(opts.extra.text) : 0;
  const room = Math.max(1, opts.width - 1 - opts.indent - leadWidth - extraWidth - (badge ? textWidth(badge) + 1 : 0));
  const segments: Segment[] = [
    { text: opts.active ? '›' : ' ', bold: true },
    { text: ' '.repeat(Math.max(0, opts.indent)) },
  ];
  if (opts.lead) segments.push(opts.lead, { text: ' ' });
  const style = { bold: opts.bold || opts.active, inverse: opts.active };
  const tagWidth = opts.tag ? textWidth(opts.tag) : 0;
  if (opts.tag && room >= tagWidth + 2) {
    // Two columns of name at least (a letter and the ellipsis), then the tag whole.
    const label = truncate(opts.label, room - tagWidth);
    segments.push(
      { text: label, ...style },
      { text: opts.tag, dim: !opts.active, inverse: opts.active },
      { text: ' '.repeat(room - tagWidth - textWidth(label)), inverse: opts.active },
    );
  } else {
    segments.push({ text: padEnd(truncate(opts.label + (opts.tag ?? ''), room), room), ...style });
  }
  if (opts.extra) segments.push(opts.extra);
  if (badge) segments.push({ text: ' ' }, { text: badge, color: 'mention', inverse: true, bold: true });
  return { key: opts.key, segments };
}

/** The sidebar rows (before scrolling) and which one is the active conversation. */
export function sidebarRows(props: Omit<SidebarProps, 'height'>): { rows: Row[]; activeIndex: number } {
  const { conversations, active, online } = props;
  const width = Math.max(4, props.width);
  const rows: Row[] = [];
  let activeIndex = -1;
  const clean = (s: string) => sanitize(s, { multiline: false });
  const all = Object.values(conversations);
  const groups = all.filter((c) => c.kind === 'group').sort(byName);
  // Servers (and groups) of the same name are told apart by the start of their id.
  const fragments = new Map([...idFragments(props.servers), ...idFragments(groups)]);
  const tagOf = (id: string) => {
    const fragment = fragments.get(id);
    return fragment === undefined ? undefined : clean(`${SHOWN_MARK}${fragment}`);
  };
  const pushEntry = (c: ConversationEntry, indent: number, lead?: Segment) => {
    if (c.id === active) activeIndex = rows.length;
    rows.push(
      entryRow({
        key: `c:${c.id}`,
        width,
        indent,
        lead,
        label: `${SIGIL[c.kind]}${clean(c.name)}`,
        tag: tagOf(c.id),
        bold: c.unread > 0,
        active: c.id === active,
        // Every message of a DM is meant for me: its unread count is the badge.
        mentions: c.kind === 'dm' ? Math.max(c.unread, c.mentions) : c.mentions,
      }),
    );
  };
  for (const server of props.servers) {
    const channels = server.channelIds.flatMap((id) => {
      const c = conversations[id];
      return c ? [c] : [];
    });
    const unread = channels.some((c) => c.unread > 0);
    const mentions = channels.reduce((n, c) => n + c.mentions, 0);
    rows.push(
      entryRow({
        key: `s:${server.id}`,
        width,
        indent: 0,
        lead: { text: server.expanded ? '▾' : '▸', dim: true },
        label: clean(server.name),
        tag: tagOf(server.id),
        // A collapsed server carries its channels' unread state and mentions.
        bold: true,
        active: false,
        mentions: server.expanded ? 0 : mentions,
        extra: !server.expanded && unread ? { text: ' •', bold: true } : undefined,
      }),
    );
    if (!server.expanded) {
      if (channels.some((c) => c.id === active)) activeIndex = rows.length - 1;
      continue;
    }
    for (const c of channels) pushEntry(c, 2);
  }
  const dms = all.filter((c) => c.kind === 'dm').sort(byName);
  if (groups.length > 0) {
    rows.push({
      key: 'h:groups',
      segments: [{ text: ' ' }, { text: truncate('Groups', width - 1), bold: true, dim: true }],
    });
    for (const c of groups) pushEntry(c, 2);
  }
  if (dms.length > 0) {
    rows.push({
      key: 'h:dms',
      segments: [{ text: ' ' }, { text: truncate('Direct messages', width - 1), bold: true, dim: true }],
    });
    for (const c of dms) {
      const on = c.peer ? online[c.peer.id] === true : false;
      pushEntry(c, 2, on ? { text: '●', color: 'green' } : { text: '○', dim: true });
    }
  }
  return { rows, activeIndex };
}

/** The first row to show so the active row stays in view: it is kept near the middle once the list overflows. */
export function scrollOffset(total: number, activeIndex: number, height: number): number {
  if (total <= height || activeIndex < 0) return 0;
  return Math.min(Math.max(0, activeIndex - Math.floor(height / 2)), total - height);
}

/** Servers with their channels, then groups, then direct messages, with unread, mention badges and presence. */
export function Sidebar(props: SidebarProps) {
  const height = Math.max(1, props.height);
  const { rows, activeIndex } = sidebarRows(props);
  const offset = scrollOffset(rows.length, activeIndex, height);
  return (
    <Box flexDirection="column" width={props.width} height={height} overflow="hidden">
      {rows.slice(offset, offset + height).map((row) => (
        <StyledRow key={row.key} segments={row.segments} color={props.color ?? true} />
      ))}
    </Box>
  );
}
