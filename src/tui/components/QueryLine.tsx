import { Text } from 'ink';
import { sanitize } from '../sanitize.js';
import { graphemes, graphemeWidth, textWidth, truncate } from '../view/text-width.js';

/** Props of {@link QueryLine}. */
export type QueryLineProps = {
  /** Before the query, in bold: `Search: `, `Go to: `. */
  readonly label: string;
  readonly query: string;
  /** Where typing goes, as an index into `query` (UTF-16); the end when omitted. */
  readonly cursor?: number;
  /** Columns the line may take, the label included. */
  readonly width: number;
};

/** The part of a query shown, split around the cursor: `at` is the character under it (a space at the end). */
export type QueryWindow = { before: string; at: string; after: string };

/** `text` cut at its start to at most `width` columns, starting with "…" when cut. */
function cutStart(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  if (width <= 1) return width === 1 ? '…' : '';
  const kept: string[] = [];
  let w = 1;
  for (const g of graphemes(text).reverse()) {
    const gw = graphemeWidth(g);
    if (w + gw > width) break;
    kept.unshift(g);
    w += gw;
  }
  return `…${kept.join('')}`;
}

/**
 * What a one-line query shows in `room` columns, the cursor always in view:
 * the whole query when it fits; else the text before the cursor cut at its
 * start and the rest cut at its end ("…"), keeping a third of the room for
 * what follows the cursor when there is any.
 */
export function queryWindow(query: string, cursor: number, room: number): QueryWindow {
  const at = Math.max(0, Math.min(query.length, cursor));
  // Sanitized apart, so a placeholder wider than what it replaces leaves the cursor where it was.
  const before = sanitize(query.slice(0, at), { multiline: false });
  const rest = graphemes(sanitize(query.slice(at), { multiline: false }));
  const under = rest[0] ?? ' ';
  const after = rest.slice(1).join('');
  const avail = Math.max(0, room - graphemeWidth(under));
  if (textWidth(before) + textWidth(after) <= avail) return { before, at: under, after };
  const forAfter = Math.min(textWidth(after), Math.floor(avail / 3));
  const shownBefore = cutStart(before, avail - forAfter);
  return { before: shownBefore, at: under, after: truncate(after, avail - textWidth(shownBefore)) };
}

/** A label and a one-line query with a block cursor (inverse video) where typing goes. Reads no keys. */
export function QueryLine(props: QueryLineProps) {
  const room = Math.max(1, props.width - textWidth(props.label));
  const shown = queryWindow(props.query, props.cursor ?? props.query.length, room);
  return (
    <Text wrap="truncate-end">
      <Text bold>{props.label}</Text>
      {shown.before}
      <Text inverse>{shown.at}</Text>
      {shown.after}
    </Text>
  );
}
