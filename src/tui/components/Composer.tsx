import { Box, Text } from 'ink';
import { sanitize } from '../sanitize.js';
import { graphemes, graphemeWidth, textWidth } from '../view/text-width.js';

/** Props of {@link Composer}. */
export type ComposerProps = {
  /** The text being written; may contain newlines. */
  readonly value: string;
  /** Cursor position as an index into `value` (UTF-16); the end when omitted. */
  readonly cursor?: number;
  readonly placeholder: string;
  readonly focused: boolean;
  readonly width: number;
  /** Shown before the first row, e.g. `> `; later rows are indented as wide. */
  readonly prefix: string;
  /** Rows shown at most; the window follows the cursor. */
  readonly maxRows?: number;
};

/** One displayed row of the composer, split around the cursor when it sits on this row. */
type ComposerRow = { before: string; at: string | null; after: string };

/** Rows of composer text with the cursor located: the character under it (a space at a row's end) is `at`. */
export function composerRows(value: string, cursor: number, width: number): { rows: ComposerRow[]; cursorRow: number } {
  const at = Math.max(0, Math.min(value.length, cursor));
  // Sanitize each side separately so placeholders (which may be longer than what they replace) keep the cursor in place.
  const before = sanitize(value.slice(0, at));
  const text = before + sanitize(value.slice(at));
  const target = before.length;
  // One column is kept for a cursor at the end of a full row.
  const max = Math.max(1, width - 1);
  const rows: ComposerRow[] = [];
  let cursorRow = 0;
  let offset = 0;
  const paragraphs = text.split('\n');
  for (const paragraph of paragraphs) {
    let row: string[] = [];
    let w = 0;
    let cursorCol = -1;
    const flush = () => {
      if (cursorCol < 0) rows.push({ before: row.join(''), at: null, after: '' });
      else {
        cursorRow = rows.length;
        rows.push({
          before: row.slice(0, cursorCol).join(''),
          at: row[cursorCol] ?? ' ',
          after: row.slice(cursorCol + 1).join(''),
        });
      }
      row = [];
      w = 0;
      cursorCol = -1;
    };
    for (const g of graphemes(paragraph)) {
      const gw = graphemeWidth(g);
      if (w + gw > max && w > 0) flush();
      if (offset === target) cursorCol = row.length;
      row.push(g);
      w += gw;
      offset += g.length;
    }
    if (offset === target) cursorCol = row.length;
    flush();
    offset += 1; // the newline
  }
  return { rows, cursorRow };
}

/** The message being written, with its prefix and a block cursor; shows the placeholder when empty. Reads no keys. */
export function Composer(props: ComposerProps) {
  const prefixWidth = textWidth(props.prefix);
  const room = Math.max(2, props.width - prefixWidth);
  const indent = ' '.repeat(prefixWidth);
  if (props.value === '') {
    return (
      <Box width={props.width}>
        <Text wrap="truncate-end">
          <Text bold={props.focused} dimColor={!props.focused}>
            {props.prefix}
          </Text>
          {props.focused ? <Text inverse> </Text> : null}
          <Text dimColor>{props.placeholder}</Text>
        </Text>
      </Box>
    );
  }
  const { rows, cursorRow } = composerRows(props.value, props.cursor ?? props.value.length, room);
  const maxRows = Math.max(1, props.maxRows ?? 6);
  const start = Math.min(Math.max(0, cursorRow - maxRows + 1), Math.max(0, rows.length - maxRows));
  return (
    <Box flexDirection="column" width={props.width}>
      {rows.slice(start, start + maxRows).map((row, i) => {
        const n = start + i;
        return (
          // Rows are positions in the text, so the index is their identity.
          <Text key={n} wrap="truncate-end" dimColor={!props.focused}>
            <Text bold={props.focused}>{n === 0 ? props.prefix : indent}</Text>
            {row.before}
            {row.at !== null && props.focused ? <Text inverse>{row.at}</Text> : row.at === ' ' ? '' : row.at}
            {row.after}
            {row.before === '' && row.after === '' && row.at === null ? ' ' : ''}
          </Text>
        );
      })}
    </Box>
  );
}
