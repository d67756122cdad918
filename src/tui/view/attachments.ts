/**
 * Files under a message: one row each (`📎 notes.pdf · 212 KB`, `🎵
 * voice.ogg · 0:42 · 212 KB`, `📷 cat.png · 1200×800 · 1.4 MB`), and under
 * an image its preview in half blocks. Every row is counted before anything
 * is drawn: a preview's height comes from the image's size as the server
 * stated it, never from the thumbnail (which may not have arrived), so the
 * message list measures a message the same before and after.
 */
import type { Attachment } from '../../protocol/index.js';
import { sanitize } from '../sanitize.js';
import type { Segment } from './segments.js';
import { graphemes, graphemeWidth, textWidth, truncate } from './text-width.js';

/** How previews are drawn: `halfblock` (the only kind the message list draws) or none. */
export type PreviewMode = 'halfblock' | 'off';

/** Colours a terminal takes: 24-bit, or the 256 of xterm's palette. */
export type ColorDepth = 'truecolor' | '256';

/** An image's thumbnail scaled to a preview: `cols` × `rows * 2` RGB pixels (two per cell, top and bottom). */
export type Pixels = { cols: number; rows: number; rgb: Uint8Array };

/** What is known of a preview: its pixels, still coming, or why there are none. */
export type PreviewState = { kind: 'ready'; pixels: Pixels } | { kind: 'loading' } | { kind: 'failed'; error: string };

/** Where previews come from: asked for a thumbnail at a size, it answers what it has (and fetches what it has not). */
export type PictureSource = {
  preview(url: string, cols: number, rows: number): PreviewState;
  readonly depth: ColorDepth;
};

/** What the attachment rows of a message depend on: the previews' largest height (0: none), and their pixels. */
export type MediaOptions = {
  /** Rows a preview takes at most; 0 draws none (and counts none). */
  previewRows: number;
  /** The thumbnails; without it, previews are drawn as placeholders of the same height. */
  pictures?: PictureSource;
};

/** The widest preview, in columns, whatever the width: a picture wider than this is a wall. */
export const PREVIEW_MAX_COLS = 64;

/** A size in bytes, as people read it: `812 B`, `212 KB`, `1.4 MB` (1024-based, as the server's limits are). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} ${units[u]}`;
}

/** A length in milliseconds as a clock: `0:42`, `12:05`, `1:02:03`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The icon of a file by its type (each one two columns wide in every terminal: all have emoji presentation). */
export function fileIcon(type: string): string {
  if (type.startsWith('image/')) return '📷';
  if (type.startsWith('audio/')) return '🎵';
  if (type.startsWith('video/')) return '🎬';
  return '📎';
}

/**
 * A file's name cut to `width` columns, its extension kept (`a-very-long-n….png`):
 * what kind of file it is matters more than the middle of its name.
 */
export function fitName(name: string, width: number): string {
  if (textWidth(name) <= width) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 8 ? name.slice(dot) : '';
  const room = width - textWidth(ext) - 1;
  if (room < 1) return `${graphemes(name)[0] ?? ''}…`.slice(0, Math.max(1, width));
  let out = '';
  let w = 0;
  for (const g of graphemes(name.slice(0, name.length - ext.length))) {
    const gw = graphemeWidth(g);
    if (w + gw > room) break;
    out += g;
    w += gw;
  }
  return `${out}…${ext}`;
}

/** The details after a file's name: duration for audio and video, pixels for images, then its size. */
function details(a: Attachment): string[] {
  const parts: string[] = [];
  if (a.durationMs !== undefined && (a.type.startsWith('audio/') || a.type.startsWith('video/')))
    parts.push(formatDuration(a.durationMs));
  if (a.width !== undefined && a.height !== undefined) parts.push(`${a.width}×${a.height}`);
  parts.push(formatBytes(a.size));
  return parts;
}

/**
 * One file's row at `width` columns: icon, name (sanitized: it is the
 * uploader's), details; the name is cut first, the details never. `index`
 * (1-based) numbers it when the message has several, as the `o` and `s`
 * keys of a selected message ask for them.
 */
export function attachmentLabel(a: Attachment, width: number, index: number | null): Segment[] {
  const icon = fileIcon(a.type);
  const tail = ` · ${details(a).join(' · ')}`;
  const number = index === null ? '' : `${index} `;
  const fixed = textWidth(number) + textWidth(icon) + 1 + textWidth(tail);
  const name = fitName(sanitize(a.name, { multiline: false }), Math.max(1, width - fixed));
  return [
    ...(number ? [{ text: number, dim: true }] : []),
    { text: `${icon} ` },
    { text: name, bold: true },
    { text: tail, dim: true },
  ];
}

/**
 * The size of an image's preview in terminal cells, or null when it gets
 * none (not an image, no thumbnail, its size unknown): at most `maxCols` by
 * `maxRows`, its proportions kept (a cell holds two square pixels, one
 * above the other, so a row is two pixels high).
 */
export function previewSize(a: Attachment, maxCols: number, maxRows: number): { cols: number; rows: number } | null {
  if (maxRows <= 0 || maxCols <= 0 || a.thumbnailUrl === null || a.width === undefined || a.height === undefined)
    return null;
  const cols = Math.min(maxCols, PREVIEW_MAX_COLS);
  const scale = Math.min(cols / a.width, (maxRows * 2) / a.height);
  return {
    cols: Math.max(1, Math.min(cols, Math.round(a.width * scale))),
    rows: Math.max(1, Math.min(maxRows, Math.round((a.height * scale) / 2))),
  };
}

/** The xterm 256-colour palette's index nearest an RGB colour (its 6×6×6 cube or its grey ramp). */
export function ansi256(r: number, g: number, b: number): number {
  const level = (v: number) => (v < 48 ? 0 : v < 115 ? 1 : Math.min(5, Math.floor((v - 35) / 40)));
  const cube = [0, 95, 135, 175, 215, 255];
  const [cr, cg, cb] = [level(r), level(g), level(b)];
  const grey = Math.max(0, Math.min(23, Math.round(((r + g + b) / 3 - 8) / 10)));
  const greyV = 8 + grey * 10;
  const dist = (x: number, y: number, z: number) => (x - r) ** 2 + (y - g) ** 2 + (z - b) ** 2;
  const cubeDist = dist(cube[cr] ?? 0, cube[cg] ?? 0, cube[cb] ?? 0);
  return dist(greyV, greyV, greyV) < cubeDist ? 232 + grey : 16 + 36 * cr + 6 * cg + cb;
}

/**
 * One row of a preview as terminal text: `▀` in each cell, its foreground
 * the pixel above and its background the one below, with the colour
 * sequences between (only where the colours change), reset at the end. The
 * bytes are the app's own, made from pixel values: no server text is in them.
 */
export function halfBlockRow(p: Pixels, row: number, depth: ColorDepth): string {
  let out = '';
  let last = '';
  for (let c = 0; c < p.cols; c++) {
    const top = (row * 2 * p.cols + c) * 3;
    const bottom = ((row * 2 + 1) * p.cols + c) * 3;
    const color = (at: number, ground: 38 | 48) => {
      const r = p.rgb[at] ?? 0;
      const g = p.rgb[at + 1] ?? 0;
      const b = p.rgb[at + 2] ?? 0;
      return depth === 'truecolor' ? `${ground};2;${r};${g};${b}` : `${ground};5;${ansi256(r, g, b)}`;
    };
    const sgr = `${color(top, 38)};${color(bottom, 48)}`;
    if (sgr !== last) out += `\u001b[${sgr}m`;
    last = sgr;
    out += '▀';
  }
  return `${out}\u001b[39;49m`;
}

/**
 * The rows of a message's files at `width` columns, after its text (each a
 * row of segments, indented by the caller): a row per file, and under an
 * image its preview, `previewRows` high at most. A preview not fetched yet
 * is as tall as it will be, with a dim note on its first row; one that could
 * not be fetched says why there. The count depends only on the files and
 * the options, never on what has been fetched.
 */
export function attachmentRows(
  attachments: readonly Attachment[],
  width: number,
  media: MediaOptions,
  /** The first file's row is this wide (it goes on the header row of a message without text). */
  firstWidth = width,
): Segment[][] {
  const rows: Segment[][] = [];
  const numbered = attachments.length > 1;
  attachments.forEach((a, i) => {
    rows.push(attachmentLabel(a, i === 0 ? firstWidth : width, numbered ? i + 1 : null));
    const size = previewSize(a, width - 2, media.previewRows);
    if (!size || a.thumbnailUrl === null) return;
    const state = media.pictures?.preview(a.thumbnailUrl, size.cols, size.rows) ?? { kind: 'loading' };
    for (let r = 0; r < size.rows; r++) {
      if (state.kind === 'ready') {
        rows.push([{ text: '  ' }, { text: halfBlockRow(state.pixels, r, media.pictures?.depth ?? '256'), raw: true }]);
      } else if (r === 0) {
        const note = state.kind === 'loading' ? 'loading preview…' : `no preview: ${state.error}`;
        rows.push([{ text: '  ' }, { text: truncate(note, Math.max(1, width - 2)), dim: true, italic: true }]);
      } else {
        rows.push([{ text: '' }]);
      }
    }
  });
  return rows;
}
