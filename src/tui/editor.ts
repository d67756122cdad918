/**
 * The composer's line editor, without Ink: text, a cursor, readline's moves
 * and kills, and the history of what was sent. Every function is pure; the
 * cursor is an index into `text` (UTF-16) that always sits between two
 * grapheme clusters, so an emoji or an accented letter moves and erases as
 * one character.
 */

/** The text being written and where the cursor is. */
export type Editor = { readonly text: string; readonly cursor: number };

/** What a key does to the text. `up`/`down` are in {@link moveLine}. */
export type EditOp =
  | 'left'
  | 'right'
  | 'wordLeft'
  | 'wordRight'
  | 'lineStart'
  | 'lineEnd'
  | 'backspace'
  | 'deleteForward'
  | 'killWordBack'
  | 'killWordForward'
  | 'killToLineEnd'
  | 'killToLineStart'
  | 'yank';

/** The result of an edit: the editor, and the text a kill removed (for Ctrl-Y), if any. */
export type Edited = { editor: Editor; killed: string | null };

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The boundaries between grapheme clusters of `text`, 0 and `text.length` included. */
function boundaries(text: string): number[] {
  const out: number[] = [];
  for (const { index } of segmenter.segment(text)) out.push(index);
  out.push(text.length);
  return out;
}

/** The boundary before `at` (or 0). */
function prevBoundary(text: string, at: number): number {
  let best = 0;
  for (const b of boundaries(text)) {
    if (b >= at) break;
    best = b;
  }
  return best;
}

/** The boundary after `at` (or the end). */
function nextBoundary(text: string, at: number): number {
  for (const b of boundaries(text)) if (b > at) return b;
  return text.length;
}

/** `at` moved onto a grapheme boundary (backwards), within the text. */
export function clampCursor(text: string, at: number): number {
  const c = Math.max(0, Math.min(text.length, at));
  return boundaries(text).includes(c) ? c : prevBoundary(text, c);
}

export function editorOf(text: string, cursor = text.length): Editor {
  return { text, cursor: clampCursor(text, cursor) };
}

const WORD = /[\p{L}\p{M}\p{N}_]/u;

/** The start of the word before `at` (readline's Alt-B and Ctrl-W: skip non-word, then word characters). */
function wordStartBefore(text: string, at: number): number {
  let i = at;
  while (i > 0 && !WORD.test(text[i - 1] ?? '')) i--;
  while (i > 0 && WORD.test(text[i - 1] ?? '')) i--;
  return clampCursor(text, i);
}

/** The end of the word after `at` (Alt-F, Alt-D). */
function wordEndAfter(text: string, at: number): number {
  let i = at;
  while (i < text.length && !WORD.test(text[i] ?? '')) i++;
  while (i < text.length && WORD.test(text[i] ?? '')) i++;
  return i;
}

/** The start of the line (within a multi-line text) the cursor is on. */
function lineStart(text: string, at: number): number {
  return text.lastIndexOf('\n', at - 1) + 1;
}

/** The end of the line the cursor is on (before its newline). */
function lineEnd(text: string, at: number): number {
  const nl = text.indexOf('\n', at);
  return nl === -1 ? text.length : nl;
}

function cut(e: Editor, from: number, to: number): Edited {
  if (from === to) return { editor: e, killed: null };
  return { editor: { text: e.text.slice(0, from) + e.text.slice(to), cursor: from }, killed: e.text.slice(from, to) };
}

/** Inserts `s` at the cursor. */
export function insert(e: Editor, s: string): Editor {
  const text = e.text.slice(0, e.cursor) + s + e.text.slice(e.cursor);
  return { text, cursor: clampCursor(text, e.cursor + s.length) };
}

/** Applies one editing key; `yanked` is what Ctrl-Y puts back. */
export function edit(e: Editor, op: EditOp, yanked = ''): Edited {
  const { text, cursor } = e;
  const move = (to: number): Edited => ({ editor: { text, cursor: to }, killed: null });
  switch (op) {
    case 'left':
      return move(prevBoundary(text, cursor));
    case 'right':
      return move(nextBoundary(text, cursor));
    case 'wordLeft':
      return move(wordStartBefore(text, cursor));
    case 'wordRight':
      return move(clampCursor(text, wordEndAfter(text, cursor)));
    case 'lineStart':
      return move(lineStart(text, cursor));
    case 'lineEnd':
      return move(lineEnd(text, cursor));
    case 'backspace':
      return { editor: cut(e, prevBoundary(text, cursor), cursor).editor, killed: null };
    case 'deleteForward':
      return { editor: cut(e, cursor, nextBoundary(text, cursor)).editor, killed: null };
    case 'killWordBack':
      return cut(e, wordStartBefore(text, cursor), cursor);
    case 'killWordForward':
      return cut(e, cursor, clampCursor(text, wordEndAfter(text, cursor)));
    case 'killToLineEnd': {
      // At the end of a line, Ctrl-K joins the next one (it kills the newline).
      const end = lineEnd(text, cursor);
      return cut(e, cursor, end === cursor && end < text.length ? end + 1 : end);
    }
    case 'killToLineStart': {
      // At the start of a line, Ctrl-U joins it to the one above (it kills the newline), as Ctrl-K does forward.
      const start = lineStart(text, cursor);
      return cut(e, start === cursor && start > 0 ? start - 1 : start, cursor);
    }
    case 'yank':
      return { editor: insert(e, yanked), killed: null };
  }
}

/**
 * Up or Down within a multi-line text, keeping the column (in graphemes) as
 * far as the other line allows; null on the first line (up) or the last
 * (down), where the key goes to the history instead.
 */
export function moveLine(e: Editor, direction: 'up' | 'down'): Editor | null {
  const { text, cursor } = e;
  const start = lineStart(text, cursor);
  const column = [...segmenter.segment(text.slice(start, cursor))].length;
  let targetStart: number;
  if (direction === 'up') {
    if (start === 0) return null;
    targetStart = lineStart(text, start - 1);
  } else {
    const end = lineEnd(text, cursor);
    if (end === text.length) return null;
    targetStart = end + 1;
  }
  const targetEnd = lineEnd(text, targetStart);
  let at = targetStart;
  let n = 0;
  for (const { segment } of segmenter.segment(text.slice(targetStart, targetEnd))) {
    if (n === column) break;
    at += segment.length;
    n++;
  }
  return { text, cursor: at };
}

/**
 * What was sent, oldest first, and where Up/Down are in it. `draft` keeps
 * what was being written when the walk through the history began; Down past
 * the newest entry brings it back.
 */
export type History = { readonly entries: readonly string[]; readonly index: number | null; readonly draft: string };

export const HISTORY_MAX = 200;

export function emptyHistory(entries: readonly string[] = []): History {
  return { entries: entries.slice(-HISTORY_MAX), index: null, draft: '' };
}

/** Remembers a sent text (not twice in a row) and ends any walk through the history. */
export function remember(h: History, sent: string): History {
  const entries = h.entries[h.entries.length - 1] === sent ? h.entries : [...h.entries, sent].slice(-HISTORY_MAX);
  return { entries, index: null, draft: '' };
}

/** One step back (older) or forward (newer) in the history; null when there is nowhere to go. */
export function walkHistory(h: History, current: string, step: -1 | 1): { history: History; text: string } | null {
  if (h.entries.length === 0) return null;
  if (h.index === null) {
    if (step === 1) return null;
    const index = h.entries.length - 1;
    return { history: { ...h, index, draft: current }, text: h.entries[index] ?? '' };
  }
  const index = h.index + step;
  if (index < 0) return null;
  if (index >= h.entries.length) return { history: { ...h, index: null, draft: '' }, text: h.draft };
  return { history: { ...h, index }, text: h.entries[index] ?? '' };
}
