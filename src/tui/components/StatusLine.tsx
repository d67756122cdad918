import { Box, Text } from 'ink';
import { sanitize } from '../sanitize.js';
import type { ConnectionView } from '../state.js';
import { connectionText, typingText } from '../view/status-text.js';
import { truncate } from '../view/text-width.js';

/** Props of {@link StatusLine}. */
export type StatusLineProps = {
  readonly connection: ConnectionView;
  /** Usernames typing in the open conversation. */
  readonly typing: readonly string[];
  /** For the reconnect countdown. */
  readonly now: number;
  /** How many held messages and reports wait for my review (`3`, `50+`), or null: none, or I review nothing. */
  readonly waiting?: string | null;
  /** Files moving (`⇡ cat.png 45% of 1.4 MB`), or null. */
  readonly transfer?: string | null;
  /** Dim text on the right, e.g. `Ctrl-K switch · F1 help`. */
  readonly hint?: string;
  /** Columns; the parent's width when omitted. */
  readonly width?: number;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

/** The bottom line: connection state and address, who is typing, what waits for review (`⚑ 3`), and a key hint on the right. */
export function StatusLine(props: StatusLineProps) {
  const c = connectionText(props.connection, props.now);
  const typing = typingText(props.typing);
  const url = sanitize(props.connection.url, { multiline: false });
  const color = props.color ?? true;
  return (
    <Box width={props.width} flexDirection="row">
      <Box flexGrow={1} flexShrink={1} overflow="hidden">
        <Text wrap="truncate-end">
          <Text color={color ? c.color : undefined}>{c.symbol}</Text> {c.text} <Text dimColor>{url}</Text>
          {typing ? (
            <Text italic color={color ? 'yellow' : undefined}>
              {'  '}
              {typing}
            </Text>
          ) : null}
        </Text>
      </Box>
      {props.transfer ? (
        <Box flexShrink={0} marginLeft={1}>
          <Text color={color ? 'cyan' : undefined}>{props.transfer}</Text>
        </Box>
      ) : null}
      {props.waiting ? (
        <Box flexShrink={0} marginLeft={1}>
          <Text bold color={color ? 'yellow' : undefined}>
            ⚑ {props.waiting}
          </Text>
        </Box>
      ) : null}
      {props.hint ? (
        <Box flexShrink={0} marginLeft={1}>
          {/* The connection keeps a dozen columns; the hint gets the rest. */}
          <Text dimColor>
            {truncate(sanitize(props.hint, { multiline: false }), Math.max(10, (props.width ?? 80) - 14))}
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}
