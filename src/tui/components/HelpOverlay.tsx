import { Box, Text } from 'ink';
import type { Row } from '../view/segments.js';
import { padEnd, textWidth, truncate } from '../view/text-width.js';
import { wrapText } from '../view/wrap.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link HelpOverlay}. */
export type HelpOverlayProps = {
  readonly keys: readonly { keys: string; action: string }[];
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

/** The rows of the help text: a Keys table, then a Commands table, in two aligned columns. */
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
  const table = (title: string, pairs: [string, string][], key: string) => {
    if (pairs.length === 0) return;
    if (rows.length > 0) rows.push({ key: `${key}:gap`, segments: [{ text: '' }] });
    rows.push({ key, segments: [{ text: title, bold: true, underline: true }] });
    const left = Math.min(Math.max(...pairs.map(([l]) => textWidth(l))), Math.max(8, Math.floor(inner / 2)));
    pairs.forEach(([l, r], i) => {
      // Descriptions wrap under themselves: nothing is cut off, however narrow the terminal.
      const lines = wrapText(r, Math.max(1, inner - left - 2));
      lines.forEach((line, k) => {
        rows.push({
          key: `${key}:${i}:${k}`,
          segments: [
            { text: k === 0 ? padEnd(truncate(l, left), left) : ' '.repeat(left), color: 'accent' },
            { text: '  ' },
            { text: line },
          ],
        });
      });
    });
  };
  table(
    'Keys',
    props.keys.map((k) => [k.keys, k.action]),
    'keys',
  );
  table(
    'Commands',
    props.commands.map((c) => [`/${c.name}${c.usage ? ` ${c.usage}` : ''}`, c.description]),
    'commands',
  );
  return rows;
}

/** The F1 / `/help` overlay: key bindings and commands, cut to fit with a note when the terminal is too short. */
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
