import { Box, Text } from 'ink';
import type { Row } from '../view/segments.js';
import { padEnd, textWidth } from '../view/text-width.js';
import { wrapText } from '../view/wrap.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link HelpOverlay}. */
export type HelpOverlayProps = {
  /** The keys under headings (`keyHelp` of keys.ts), each a table of its own. */
  readonly keys: readonly { title: string; rows: readonly { keys: string; action: string }[] }[];
  readonly commands: readonly { name: string; usage: string; description: string }[];
  /** What was wrong with config.json (each setting keeps its default), listed first. */
  readonly problems?: readonly string[];
  readonly width: number;
  readonly height: number;
  /** The last line; `Esc to close` when omitted. */
  readonly footer?: string;
  /** Rows scrolled past at the top (clamped). */
  readonly offset?: number;
};

/**
 * A list of keys (`Ctrl-K (nothing after the cursor), Ctrl-G`) wrapped to
 * `width` columns, breaking after a comma where it can: a key is never split
 * unless it is wider than the column.
 */
function wrapKeys(text: string, width: number): string[] {
  const rows: string[] = [];
  let row = '';
  const items = text.split(', ');
  items.forEach((item, i) => {
    const piece = i < items.length - 1 ? `${item},` : item;
    const joined = row === '' ? piece : `${row} ${piece}`;
    if (textWidth(joined) <= width) {
      row = joined;
      return;
    }
    if (row !== '') rows.push(row);
    const parts = wrapText(piece, width);
    rows.push(...parts.slice(0, -1));
    row = parts.at(-1) ?? '';
  });
  rows.push(row);
  return rows;
}

/**
 * The rows of the help text: a table of keys under each heading, then the
 * commands, in two aligned columns that both wrap (nothing is cut off).
 */
export function helpRows(props: Omit<HelpOverlayProps, 'height'>): Row[] {
  const inner = Math.max(10, props.width - 4);
  const rows: Row[] = [];
  if (props.problems && props.problems.length > 0) {
    rows.push({
      key: 'problems',
      segments: [{ text: 'config.json problems', bold: true, underline: true, color: 'error' }],
    });
    props.problems.forEach((p, i) => {
      wrapText(`• ${p}`, inner, inner - 2).forEach((line, k) => {
        rows.push({ key: `problems:${i}:${k}`, segments: [{ text: k === 0 ? line : `  ${line}` }] });
      });
    });
  }
  /** The left column's width for these first cells: the widest, up to two fifths of the room. */
  const leftOf = (cells: string[]) =>
    Math.min(Math.max(0, ...cells.map((l) => textWidth(l))), Math.max(8, Math.floor((inner * 2) / 5)));
  const table = (title: string, pairs: [string, string][], key: string, left: number) => {
    if (pairs.length === 0) return;
    if (rows.length > 0) rows.push({ key: `${key}:gap`, segments: [{ text: '' }] });
    rows.push({ key, segments: [{ text: title, bold: true, underline: true }] });
    pairs.forEach(([l, r], i) => {
      // Both columns wrap under themselves: nothing is cut off, however narrow the terminal.
      const keys = wrapKeys(l, left);
      const lines = wrapText(r, Math.max(1, inner - left - 2));
      for (let k = 0; k < Math.max(keys.length, lines.length); k++) {
        rows.push({
          key: `${key}:${i}:${k}`,
          segments: [{ text: padEnd(keys[k] ?? '', left), color: 'accent' }, { text: '  ' }, { text: lines[k] ?? '' }],
        });
      }
    });
  };
  // Every table of keys has the same columns, so they read as one list.
  const keyLeft = leftOf(props.keys.flatMap((g) => g.rows.map((r) => r.keys)));
  props.keys.forEach((group, g) => {
    table(
      group.title,
      group.rows.map((k) => [k.keys, k.action]),
      `keys:${g}`,
      keyLeft,
    );
  });
  const commands: [string, string][] = props.commands.map((c) => [
    `/${c.name}${c.usage ? ` ${c.usage}` : ''}`,
    c.description,
  ]);
  table('Commands', commands, 'commands', leftOf(commands.map(([l]) => l)));
  return rows;
}

/** The F1 / `/help` overlay: keys under headings and commands, scrolled with a note when the terminal is too short. */
export function HelpOverlay(props: HelpOverlayProps) {
  const rows = helpRows(props);
  const room = Math.max(1, props.height - 3);
  const fits = rows.length <= room;
  const window = fits ? room : Math.max(1, room - 1);
  const start = fits ? 0 : Math.max(0, Math.min(props.offset ?? 0, rows.length - window));
  const shown = rows.slice(start, start + window);
  const below = rows.length - start - shown.length;
  return (
    <Box flexDirection="column" width={props.width} borderStyle="round" paddingX={1}>
      {shown.map((row) => (
        <StyledRow key={row.key} segments={row.segments} />
      ))}
      {fits ? null : (
        <Text dimColor italic>
          {start > 0 ? `↑ ${start} above  ` : ''}
          {below > 0 ? `↓ ${below} more below: ↓/PageDown to scroll` : 'end of help'}
        </Text>
      )}
      <Text dimColor>{props.footer ?? 'Esc to close'}</Text>
    </Box>
  );
}
