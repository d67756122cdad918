import { Box, Text } from 'ink';
import type { ConversationKind } from '../../protocol/index.js';
import { sanitize } from '../sanitize.js';
import { fuzzyFilter, fuzzyMatch } from '../view/fuzzy.js';
import type { Segment } from '../view/segments.js';
import { padEnd, textWidth, truncate } from '../view/text-width.js';
import { QueryLine } from './QueryLine.js';
import { badgeText } from './Sidebar.js';
import { StyledRow } from './StyledRow.js';

/** A conversation the switcher can jump to. */
export type SwitcherItem = {
  id: string;
  /** The name without its sigil (the kind adds `#`, `+` or `@`), e.g. `general` or `general (acme)`. */
  label: string;
  kind: ConversationKind;
  unread: number;
  mentions: number;
};

/** Props of {@link QuickSwitcher}. */
export type QuickSwitcherProps = {
  readonly query: string;
  /** Where typing goes in the query (an index into it); its end when omitted. */
  readonly cursor?: number;
  /** Every candidate: they are filtered and ranked here with `fuzzyFilter(items, query)`. */
  readonly items: readonly SwitcherItem[];
  /** Index into the filtered list (the app resolves it with the same `fuzzyFilter` call). */
  readonly selected: number;
  readonly width: number;
  readonly height: number;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

const SIGIL = { channel: '#', group: '+', dm: '@' } as const;

/** Label text with the query's matched characters in bold and underlined colour. */
function highlighted(label: string, query: string, base: Omit<Segment, 'text'>): Segment[] {
  const positions = new Set(fuzzyMatch(label, query)?.positions ?? []);
  const out: Segment[] = [];
  for (let i = 0; i < label.length; i++) {
    const hit = positions.has(i);
    const ch = label[i] ?? '';
    const last = out[out.length - 1];
    if (last && (last.color === 'yellow') === hit) last.text += ch;
    else out.push(hit ? { text: ch, ...base, bold: true, color: 'yellow' } : { text: ch, ...base });
  }
  return out;
}

/** The Ctrl-K overlay: a query line and the ranked matches, the selected one highlighted and kept in view. */
export function QuickSwitcher(props: QuickSwitcherProps) {
  const color = props.color ?? true;
  const inner = Math.max(4, props.width - 4);
  const listHeight = Math.max(1, props.height - 4);
  const clean = props.items.map((item) => ({ ...item, label: sanitize(item.label, { multiline: false }) }));
  const matches = fuzzyFilter(clean, props.query);
  const selected = Math.min(Math.max(0, props.selected), Math.max(0, matches.length - 1));
  const start = Math.min(Math.max(0, selected - listHeight + 1), Math.max(0, matches.length - listHeight));
  return (
    <Box flexDirection="column" width={props.width} borderStyle="round" paddingX={1}>
      <QueryLine label="Go to: " query={props.query} cursor={props.cursor} width={inner} />
      {matches.length === 0 ? (
        <Text dimColor italic>
          no matches
        </Text>
      ) : null}
      {matches.slice(start, start + listHeight).map((item, i) => {
        const isSelected = start + i === selected;
        const badge = badgeText(item.mentions);
        const room = inner - 2 - (badge ? textWidth(badge) + 1 : 0);
        const label = truncate(`${SIGIL[item.kind]}${item.label}`, room);
        const base: Omit<Segment, 'text'> = { bold: item.unread > 0, inverse: isSelected };
        const segments: Segment[] = [
          { text: isSelected ? '› ' : '  ', bold: true },
          ...highlighted(label, props.query, base),
          { text: ' '.repeat(Math.max(0, room - textWidth(label))), inverse: isSelected },
        ];
        if (badge) segments.push({ text: ' ' }, { text: badge, color: 'mention', inverse: true, bold: true });
        return <StyledRow key={item.id} segments={segments} color={color} />;
      })}
      {matches.length > listHeight ? <Text dimColor>{padEnd(`${selected + 1}/${matches.length}`, inner)}</Text> : null}
    </Box>
  );
}
