import { Box } from 'ink';
import type { Line } from '../state.js';
import type { MediaOptions } from '../view/attachments.js';
import { layoutMessages } from '../view/message-layout.js';
import type { TimeFormat } from '../view/time.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link MessageList}. */
export type MessageListProps = {
  readonly lines: readonly Line[];
  readonly meId: string | null;
  /** The viewer's username, so `@name` in bodies is highlighted. */
  readonly meUsername?: string | null;
  readonly width: number;
  readonly height: number;
  /** Rows scrolled up from the bottom (0 = following new messages). */
  readonly scrollBack: number;
  readonly hasMoreBefore: boolean;
  readonly loading: boolean;
  /** Messages that arrived below while scrolled up. */
  readonly newBelow?: number;
  /** A message a search led to, marked with its matched words. */
  readonly focus?: { seq: number; words: readonly string[] } | null;
  /** The message picked in selection mode (by seq), drawn in inverse video. */
  readonly selected?: number | null;
  /** Name colours of the conversation's people. */
  readonly colors?: ReadonlyMap<string, string>;
  /** The first message that was unread on opening (a `── new ──` line goes above it). */
  readonly newFrom?: number | null;
  readonly timeFormat?: TimeFormat;
  /** For day separators: the year is shown when it is not this instant's. */
  readonly now?: number;
  /** False under NO_COLOR: styles (bold, dim, inverse) stay, colours go. */
  readonly color?: boolean;
  /** Files' previews: how tall, and where their pixels come from. */
  readonly media?: MediaOptions;
};

/** The open conversation's messages: only the rows that fit `height`, counted from the bottom minus `scrollBack`. */
export function MessageList(props: MessageListProps) {
  const { rows } = layoutMessages(props);
  return (
    <Box flexDirection="column" width={props.width} height={props.height} justifyContent="flex-end" overflow="hidden">
      {rows.map((row) => (
        <StyledRow key={row.key} segments={row.segments} color={props.color ?? true} />
      ))}
    </Box>
  );
}
