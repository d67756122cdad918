import { Box, Text } from 'ink';
import { sanitize } from '../sanitize.js';
import { truncate } from '../view/text-width.js';
import { wrapText } from '../view/wrap.js';

/** Rows a notice takes at most: a long one (a command's usage, several invitations) wraps onto them. */
export const NOTICE_MAX_ROWS = 4;

/** The rows of a notice at `width` columns: wrapped, at most {@link NOTICE_MAX_ROWS}, the last cut with "…". */
export function noticeRows(text: string, width: number): string[] {
  const rows = wrapText(sanitize(text, { multiline: false }), Math.max(10, width));
  if (rows.length <= NOTICE_MAX_ROWS) return rows;
  const kept = rows.slice(0, NOTICE_MAX_ROWS);
  kept[NOTICE_MAX_ROWS - 1] = truncate(
    `${kept[NOTICE_MAX_ROWS - 1] ?? ''} ${rows[NOTICE_MAX_ROWS] ?? ''}`,
    Math.max(10, width),
  );
  return kept;
}

/** Props of {@link NoticeLine}. */
export type NoticeLineProps = {
  /** The notice (often the server's words: sanitized here). */
  readonly text: string;
  readonly level: 'info' | 'error';
  /** The colours to use, or undefined under NO_COLOR. */
  readonly colors?: { info: string; error: string };
  /** Columns: the notice wraps onto up to {@link NOTICE_MAX_ROWS} rows. */
  readonly width?: number;
};

/** One line under the messages: a command's result or an error, in words, never terminal controls. */
export function NoticeLine(props: NoticeLineProps) {
  const rows = noticeRows(props.text, props.width ?? 80);
  return (
    <Box flexDirection="column">
      {rows.map((row, i) => (
        // Rows of one notice never reorder: their index is their identity.
        <Text key={i} color={props.colors?.[props.level]} wrap="truncate-end">
          {row}
        </Text>
      ))}
    </Box>
  );
}
