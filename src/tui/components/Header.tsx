import { Box, Text } from 'ink';
import type { ConversationKind } from '../../protocol/index.js';
import { sanitize } from '../sanitize.js';
import { useTheme } from '../theme.js';

/** Props of {@link Header}. */
export type HeaderProps = {
  /** Channel or group name, or the other person's username for a DM. */
  readonly title: string;
  readonly topic: string | null;
  /** People online in the conversation; hidden when null. */
  readonly onlineCount: number | null;
  /** What the title names (its sigil, `#`, `+` or `@`); null: no conversation is open, the title is plain. */
  readonly kind: ConversationKind | null;
  /** Columns; the parent's width when omitted. */
  readonly width?: number;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

const SIGIL = { channel: '#', group: '+', dm: '@' } as const;

/** One line above the messages: `#general — topic` on the left (cut to fit), `3 online` on the right. */
export function Header(props: HeaderProps) {
  const title = sanitize(props.title, { multiline: false });
  const topic = props.topic ? sanitize(props.topic, { multiline: false }) : '';
  const color = props.color ?? true;
  const theme = useTheme();
  return (
    <Box width={props.width} flexDirection="row">
      <Box flexGrow={1} flexShrink={1} overflow="hidden">
        <Text wrap="truncate-end">
          <Text bold color={color ? theme.accent : undefined}>
            {props.kind ? SIGIL[props.kind] : ''}
            {title}
          </Text>
          {topic ? <Text dimColor> — {topic}</Text> : null}
        </Text>
      </Box>
      {props.onlineCount !== null ? (
        <Box flexShrink={0} marginLeft={1}>
          <Text dimColor>{props.onlineCount} online</Text>
        </Box>
      ) : null}
    </Box>
  );
}
