import { Box, Text } from 'ink';
import { sanitize } from '../sanitize.js';
import { halfBlockRow, type PictureSource } from '../view/attachments.js';
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

/** A notice's picture (a profile picture: square): this many rows, twice as many columns. */
export const NOTICE_PICTURE_ROWS = 8;

/** Rows a notice takes: its text's, or its picture's when it has one and previews are drawn. */
export function noticeHeight(text: string, width: number, picture: boolean): number {
  const rows = noticeRows(text, picture ? width - NOTICE_PICTURE_ROWS * 2 - 1 : width).length;
  return picture ? Math.max(rows, NOTICE_PICTURE_ROWS) : rows;
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
  /** A picture to show on its left ({@link NOTICE_PICTURE_ROWS} rows), and where its pixels come from. */
  readonly picture?: { url: string; source: PictureSource };
};

/** One line under the messages: a command's result or an error, in words, never terminal controls. */
export function NoticeLine(props: NoticeLineProps) {
  const width = props.width ?? 80;
  if (props.picture) return <PictureNotice {...props} picture={props.picture} width={width} />;
  const rows = noticeRows(props.text, width);
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

/** A notice with a picture on its left: the picture's rows (a note while it comes), the text beside them. */
function PictureNotice(props: NoticeLineProps & { picture: { url: string; source: PictureSource }; width: number }) {
  const cols = NOTICE_PICTURE_ROWS * 2;
  const text = noticeRows(props.text, props.width - cols - 1);
  const state = props.picture.source.preview(props.picture.url, cols, NOTICE_PICTURE_ROWS);
  const rows = Array.from({ length: NOTICE_PICTURE_ROWS }, (_, i) => i);
  return (
    <Box flexDirection="row">
      <Box flexDirection="column" width={cols} flexShrink={0}>
        {rows.map((i) => (
          // A picture's rows never reorder: their index is their identity.
          <Text key={i} dimColor italic wrap="truncate-end">
            {state.kind === 'ready'
              ? halfBlockRow(state.pixels, i, props.picture.source.depth)
              : i === 0
                ? state.kind === 'loading'
                  ? 'loading…'
                  : 'no picture'
                : ' '}
          </Text>
        ))}
      </Box>
      <Box flexDirection="column" marginLeft={1}>
        {text.map((row, i) => (
          // Rows of one notice never reorder: their index is their identity.
          <Text key={i} color={props.colors?.[props.level]} wrap="truncate-end">
            {row}
          </Text>
        ))}
      </Box>
    </Box>
  );
}
