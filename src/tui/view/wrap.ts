import { graphemes, graphemeWidth, textWidth } from './text-width.js';

/**
 * Word-wraps text (which may contain newlines) into rows: the first row holds
 * at most `firstWidth` columns, the others `restWidth` (room for a hanging
 * indent). Words longer than a row are broken; spaces at a break are dropped,
 * leading spaces of a paragraph kept; an empty paragraph is an empty row.
 */
export function wrapText(text: string, firstWidth: number, restWidth: number = firstWidth): string[] {
  const rows: string[] = [];
  const limit = () => Math.max(1, rows.length === 0 ? firstWidth : restWidth);
  for (const paragraph of text.split('\n')) {
    let row = '';
    let w = 0;
    let space = '';
    for (const token of paragraph.split(/( +)/)) {
      if (token === '') continue;
      if (token.startsWith(' ')) {
        space += token;
        continue;
      }
      const tw = textWidth(token);
      const sw = textWidth(space);
      if (w + sw + tw <= limit()) {
        row += space + token;
        w += sw + tw;
        space = '';
        continue;
      }
      if (w > 0 && tw <= Math.max(1, restWidth)) {
        rows.push(row);
        row = token;
        w = tw;
        space = '';
        continue;
      }
      // Longer than a whole row: break it, starting on the current row if there is room.
      if (w > 0 && w + sw < limit()) {
        row += space;
        w += sw;
      } else if (w > 0) {
        rows.push(row);
        row = '';
        w = 0;
      }
      space = '';
      for (const g of graphemes(token)) {
        const gw = graphemeWidth(g);
        if (w + gw > limit() && w > 0) {
          rows.push(row);
          row = '';
          w = 0;
        }
        row += g;
        w += gw;
      }
    }
    rows.push(row);
  }
  return rows;
}

/** Breaks text into rows of exactly `width` columns (the last shorter), ignoring words; newlines start rows. */
export function hardWrap(text: string, width: number): string[] {
  const max = Math.max(1, width);
  const rows: string[] = [];
  for (const paragraph of text.split('\n')) {
    let row = '';
    let w = 0;
    for (const g of graphemes(paragraph)) {
      const gw = graphemeWidth(g);
      if (w + gw > max && w > 0) {
        rows.push(row);
        row = '';
        w = 0;
      }
      row += g;
      w += gw;
    }
    rows.push(row);
  }
  return rows;
}
