import { Text } from 'ink';
import { sanitize } from '../sanitize.js';

/** Props of {@link NoticeLine}. */
export type NoticeLineProps = {
  /** The notice (often the server's words: sanitized here). */
  readonly text: string;
  readonly level: 'info' | 'error';
  /** The colours to use, or undefined under NO_COLOR. */
  readonly colors?: { info: string; error: string };
};

/** One line under the messages: a command's result or an error, in words, never terminal controls. */
export function NoticeLine(props: NoticeLineProps) {
  return (
    <Text color={props.colors?.[props.level]} wrap="truncate-end">
      {sanitize(props.text, { multiline: false })}
    </Text>
  );
}
