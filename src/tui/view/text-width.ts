/**
 * Terminal column widths, measured as Ink measures them (string-width, the
 * version Ink depends on): the message list counts rows after wrapping, and a
 * row it thinks fits must fit when Ink draws it, or scrolling goes wrong.
 * Graphemes come from Intl.Segmenter, as string-width splits them.
 */
import stringWidth from 'string-width';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The grapheme clusters of a string, in order. */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) out.push(segment);
  return out;
}

/** Columns one grapheme cluster takes. */
export function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0) ?? 0;
  if (g.length === 1 && cp >= 0x20 && cp < 0x7f) return 1;
  return stringWidth(g);
}

/** Columns a single-line string takes. */
export function textWidth(text: string): number {
  // Fast path: printable ASCII is one column a character.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  return stringWidth(text);
}

/** Cuts a single-line string to at most `width` columns, ending it with `ellipsis` when cut. */
export function truncate(text: string, width: number, ellipsis = '…'): string {
  if (width <= 0) return '';
  if (textWidth(text) <= width) return text;
  const ew = textWidth(ellipsis);
  if (ew >= width) return ellipsis.slice(0, width);
  let out = '';
  let w = 0;
  for (const g of graphemes(text)) {
    const gw = graphemeWidth(g);
    if (w + gw > width - ew) break;
    out += g;
    w += gw;
  }
  return out + ellipsis;
}

/** Pads a single-line string with spaces to `width` columns (never cuts). */
export function padEnd(text: string, width: number): string {
  const w = textWidth(text);
  return w >= width ? text : text + ' '.repeat(width - w);
}
