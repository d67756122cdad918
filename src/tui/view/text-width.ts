/**
 * Terminal column widths without a dependency: graphemes via Intl.Segmenter,
 * East Asian wide characters and emoji count two columns, marks count zero.
 * Close to what Ink measures (string-width); rows are still rendered with
 * `wrap="truncate-end"` so a disagreement costs a character, not the layout.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
// Built at run time from a variable: the `v` flag is newer than the compile target (ES2022).
const RGI_EMOJI_SOURCE = '^\\p{RGI_Emoji}$';
const RGI_EMOJI = new RegExp(RGI_EMOJI_SOURCE, 'v');
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u200b-\u200d\u2060\ufeff]+$/u;

/** The grapheme clusters of a string, in order. */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) out.push(segment);
  return out;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x231a && cp <= 0x231b) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns one grapheme cluster takes. */
export function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0) ?? 0;
  if (cp < 0x7f) return cp < 0x20 ? 0 : 1;
  if (ZERO_WIDTH.test(g)) return 0;
  if (RGI_EMOJI.test(g)) return 2;
  return isWide(cp) ? 2 : 1;
}

/** Columns a single-line string takes. */
export function textWidth(text: string): number {
  // Fast path: printable ASCII is one column a character.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let w = 0;
  for (const g of graphemes(text)) w += graphemeWidth(g);
  return w;
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
