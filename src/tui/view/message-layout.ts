import { sanitize } from '../sanitize.js';
import type { ConversationView, Line } from '../state.js';
import { attachmentRows, type MediaOptions } from './attachments.js';
import { conversationColors, userColor } from './colors.js';
import { findUrls, urlsByRow, withLinks } from './links.js';
import type { Row, Segment } from './segments.js';
import { textWidth, truncate } from './text-width.js';
import { formatDay, formatTime, sameDay, type TimeFormat, timeWidth } from './time.js';
import { wrapText } from './wrap.js';

/** What the message list lays out. */
export type MessageLayoutInput = {
  lines: readonly Line[];
  meId: string | null;
  /** The viewer's username, to highlight `@name` in bodies. */
  meUsername?: string | null;
  width: number;
  height: number;
  /** Rows scrolled up from the bottom (0 = following new messages). */
  scrollBack: number;
  hasMoreBefore: boolean;
  loading: boolean;
  timeFormat?: TimeFormat;
  now?: number;
  /** Messages that arrived below the window while scrolled up (shown on the bottom row). */
  newBelow?: number;
  /** A message a search led to: marked, with these words highlighted. */
  focus?: { seq: number; words: readonly string[] } | null;
  /** Name colours of the conversation's people, each different (see `conversationColors`). */
  colors?: ReadonlyMap<string, string>;
  /** The message picked in selection mode, by seq: drawn in inverse video. */
  selected?: number | null;
  /** The first message that was unread on opening: a `── new ──` line goes above it. */
  newFrom?: number | null;
  /** How files' previews are drawn and how tall they are (none when absent). */
  media?: MediaOptions;
};

/** The rows that fit, top to bottom, and where the window sits. */
export type MessageLayout = {
  rows: Row[];
  /** `scrollBack` clamped to what the loaded history allows. */
  scrollBack: number;
  /** True when the window shows the first loaded row (time to load older messages if there are any). */
  atTop: boolean;
};

/**
 * Rows of one message: a header row with time and author (`* alice` for an
 * action, a dim `bot` after a bot token's name), then wrapped,
 * hanging-indented body rows, then its files (a row each, and an image's
 * preview: see attachments.ts; a message of files alone has the first on
 * its header row).
 */
export function messageRows(
  line: Line,
  opts: {
    meId: string | null;
    meUsername?: string | null;
    width: number;
    timeFormat?: TimeFormat;
    /** Words to highlight: this is the message a search led to. */
    focus?: readonly string[] | null;
    /** Name colours of the conversation's people (see `conversationColors`); by id alone when missing. */
    colors?: ReadonlyMap<string, string>;
    /** The message picked in selection mode: every row in inverse video. */
    selected?: boolean;
    /** Files' previews: their height (every caller that counts rows passes the same) and their pixels. */
    media?: MediaOptions;
  },
): Row[] {
  if (line.kind === 'info') return infoRows(line, opts);
  const width = Math.max(10, opts.width);
  const time = formatTime(line.createdAt, opts.timeFormat);
  const name = truncate(sanitize(line.author.username, { multiline: false }), Math.max(6, Math.floor(width / 4)));
  const nameColor = opts.colors?.get(line.author.id) ?? userColor(line.author.id, opts.meId);
  const deleted = line.deletedAt !== null;
  // An action reads `* alice waves`: a star where the name goes, the name leading the text.
  const action = !deleted && line.kind === 'action';
  // A rule's notice is the server speaking: `⚑ automod`, never its named author's words.
  const automod = line.kind === 'automod';
  const who: Segment[] = automod
    ? [{ text: '⚑ automod', bold: true, color: 'error' }]
    : [{ text: name, bold: true, color: nameColor }, ...(line.bot ? [{ text: ' ' }, { text: 'bot', dim: true }] : [])];
  const author: Segment[] = action ? [{ text: '*', bold: true, color: nameColor }, { text: ' ' }, ...who] : who;
  const prefixWidth = timeWidth(opts.timeFormat) + 1 + author.reduce((w, s) => w + textWidth(s.text), 0) + 1;
  const indent = Math.min(prefixWidth, Math.floor(width / 3));
  const body = deleted ? 'message deleted' : sanitize(line.body, { multiline: true });
  const kindStyle: Omit<Segment, 'text'> = action ? { italic: true } : automod ? { dim: true } : {};
  const bodyStyle: Omit<Segment, 'text'> = deleted
    ? { dim: true, italic: true }
    : line.failed !== null
      ? { ...kindStyle, color: 'error' }
      : line.pending || line.held !== undefined
        ? { ...kindStyle, dim: true }
        : kindStyle;
  const files = deleted ? [] : (line.attachments ?? []);
  // A message of files alone: the first file's row is its header row's text.
  const filesOnly = files.length > 0 && body === '';
  const fileRows = attachmentRows(
    files,
    width - indent,
    opts.media ?? { previewRows: 0 },
    filesOnly ? width - prefixWidth : width - indent,
  );
  const texts = filesOnly ? [''] : wrapText(body, width - prefixWidth, width - indent);
  // A URL wrapped over several rows is one link on each of them.
  const links = deleted ? texts.map(() => []) : urlsByRow(body, texts, findUrls(body));
  const rows: Segment[][] = texts.map((text, i) => {
    const lead: Segment[] =
      i === 0
        ? [
            opts.focus
              ? { text: time, bold: true, color: 'accent', inverse: true }
              : { text: time, dim: !line.mentionsMe, ...(line.mentionsMe ? { color: 'mention', inverse: true } : {}) },
            { text: ' ' },
            ...author,
            { text: ' ' },
          ]
        : [{ text: ' '.repeat(indent) }];
    const body = withLinks(
      highlightMentions(text, bodyStyle, deleted ? null : (opts.meUsername ?? null)),
      links[i] ?? [],
    );
    if (filesOnly && i === 0) return [...lead, ...(fileRows.shift() ?? [])];
    return [...lead, ...(opts.focus && !deleted ? highlightWords(body, opts.focus) : body)];
  });
  const suffix: Segment | null =
    line.failed === null && line.pending && line.held === undefined
      ? { text: 'sending…', dim: true, italic: true }
      : !deleted && line.editedAt !== null
        ? { text: '(edited)', dim: true }
        : null;
  if (suffix) {
    const last = rows[rows.length - 1] ?? [];
    const used = last.reduce((w, s) => w + textWidth(s.text), 0);
    if (used + 1 + textWidth(suffix.text) <= width) last.push({ text: ' ' }, suffix);
    else rows.push([{ text: ' '.repeat(indent) }, suffix]);
  }
  for (const fileRow of fileRows) rows.push([{ text: ' '.repeat(indent) }, ...fileRow]);
  if (line.failed === null && line.held !== undefined) {
    const why = `⏳ ${sanitize(line.held, { multiline: false })}`;
    for (const text of wrapText(why, width - indent))
      rows.push([{ text: ' '.repeat(indent) }, { text, dim: true, italic: true }]);
  }
  if (line.failed !== null) {
    const why = `✗ not sent: ${sanitize(line.failed, { multiline: false })}`;
    for (const text of wrapText(why, width - indent))
      rows.push([{ text: ' '.repeat(indent) }, { text, color: 'error' }]);
  }
  return rows.map((segments, i) => ({
    key: `${line.key}:${i}`,
    segments: opts.selected ? segments.map((s) => (s.raw ? s : { ...s, inverse: true })) : segments,
  }));
}

/**
 * Rows of an info line, dim like weechat's network lines: the time, `--`,
 * then what happened (`12:04 -- bob was kicked`), wrapped under its text.
 * It is never selected, focused or marked as a mention.
 */
function infoRows(line: Line, opts: { width: number; timeFormat?: TimeFormat }): Row[] {
  const width = Math.max(10, opts.width);
  const prefix = `${formatTime(line.createdAt, opts.timeFormat)} --`;
  const indent = Math.min(textWidth(prefix) + 1, Math.floor(width / 3));
  const texts = wrapText(sanitize(line.body, { multiline: false }), width - textWidth(prefix) - 1, width - indent);
  return texts.map((text, i) => ({
    key: `${line.key}:${i}`,
    segments: [
      i === 0 ? { text: prefix, dim: true } : { text: ' '.repeat(indent - 1) },
      { text: ' ' },
      { text, dim: true, color: 'muted' },
    ],
  }));
}

/** One character with its case and accents folded (`É` → `e`); itself when that would not be one character. */
function foldChar(c: string): string {
  const f = c
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
  return [...f].length === 1 ? f : c;
}

/** Splits segments so the words a search matched stand out (any case, any accents). */
export function highlightWords(segments: readonly Segment[], words: readonly string[]): Segment[] {
  const wanted = [...new Set(words.map((w) => [...w].map(foldChar).join('')).filter((w) => w !== ''))].map((w) => [
    ...w,
  ]);
  if (wanted.length === 0) return [...segments];
  const out: Segment[] = [];
  for (const seg of segments) {
    const chars = [...seg.text];
    const folded = chars.map(foldChar);
    const matchAt = (i: number) =>
      wanted.find((w) => w.length <= chars.length - i && w.every((c, k) => folded[i + k] === c));
    let at = 0;
    let i = 0;
    while (i < chars.length) {
      const hit = matchAt(i);
      if (!hit) {
        i++;
        continue;
      }
      if (i > at) out.push({ ...seg, text: chars.slice(at, i).join('') });
      out.push({ ...seg, text: chars.slice(i, i + hit.length).join(''), bold: true, inverse: true });
      i += hit.length;
      at = i;
    }
    if (at < chars.length) out.push({ ...seg, text: chars.slice(at).join('') });
  }
  return out;
}

/**
 * Terminal rows below message `seq` (the messages after it, with their day
 * separators), as the list lays them out: how far up a view scrolls to show it.
 */
export function rowsBelow(
  lines: readonly Line[],
  seq: number,
  opts: {
    meId: string | null;
    meUsername?: string | null;
    width: number;
    timeFormat?: TimeFormat;
    /** Where the `── new ──` line goes (see {@link MessageLayoutInput}): its row counts when it is below. */
    newFrom?: number | null;
    media?: MediaOptions;
  },
): number | null {
  const at = lines.findIndex((l) => l.seq === seq);
  if (at === -1) return null;
  const newFrom = opts.newFrom ?? null;
  let rows = 0;
  for (let i = at + 1; i < lines.length; i++) {
    const line = lines[i];
    const prev = lines[i - 1];
    if (!line || !prev) continue;
    rows += messageRows(line, opts).length + (sameDay(prev.createdAt, line.createdAt) ? 0 : 1);
    if (
      newFrom !== null &&
      line.seq !== null &&
      line.seq >= newFrom &&
      (line.seq === newFrom || (prev.seq !== null && prev.seq < newFrom))
    )
      rows += 1;
  }
  return rows;
}

type RowOptions = {
  meId: string | null;
  meUsername?: string | null;
  width: number;
  timeFormat?: TimeFormat;
  media?: MediaOptions;
};

/**
 * `scrollBack` (rows from the bottom, laid out with `from`) for the same
 * place laid out with `to` (another width or time format): the message at the
 * bottom of the window stays there, as far into it as it was.
 */
export function reanchor(lines: readonly Line[], scrollBack: number, from: RowOptions, to: RowOptions): number {
  if (scrollBack <= 0) return 0;
  let belowFrom = 0;
  let belowTo = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!line) continue;
    const prev = lines[i - 1];
    const separator = prev && sameDay(prev.createdAt, line.createdAt) ? 0 : 1;
    const tallFrom = messageRows(line, from).length + separator;
    const tallTo = messageRows(line, to).length + separator;
    if (scrollBack < belowFrom + tallFrom) {
      const into = (scrollBack - belowFrom) / tallFrom;
      return belowTo + Math.min(tallTo - 1, Math.round(into * tallTo));
    }
    belowFrom += tallFrom;
    belowTo += tallTo;
  }
  // Above everything loaded (the top marker): as far up.
  return belowTo + (scrollBack - belowFrom);
}

/** Splits a body row so `@me` stands out. */
function highlightMentions(text: string, style: Omit<Segment, 'text'>, me: string | null): Segment[] {
  if (!me) return [{ text, ...style }];
  const token = `@${me}`.toLowerCase();
  const out: Segment[] = [];
  const lower = text.toLowerCase();
  if (lower.length !== text.length) return [{ text, ...style }];
  let at = 0;
  for (let i = lower.indexOf(token); i >= 0; i = lower.indexOf(token, i + token.length)) {
    const after = text[i + token.length];
    if (after !== undefined && /[\p{L}\p{N}_-]/u.test(after)) continue;
    if (i > at) out.push({ text: text.slice(at, i), ...style });
    out.push({ text: text.slice(i, i + token.length), ...style, bold: true, color: 'mention' });
    at = i + token.length;
  }
  if (at < text.length || out.length === 0) out.push({ text: text.slice(at), ...style });
  return out;
}

/** A centred, dim `── Tuesday 21 November ──` row. */
export function daySeparator(key: string, at: number, width: number, now?: number): Row {
  const label = truncate(`── ${formatDay(at, now)} ──`, width);
  const pad = Math.max(0, Math.floor((width - textWidth(label)) / 2));
  return { key: `day:${key}`, segments: [{ text: ' '.repeat(pad) }, { text: label, dim: true }] };
}

function notice(key: string, text: string, width: number): Row {
  return { key, segments: [{ text: truncate(text, width), dim: true, italic: true }] };
}

/**
 * Lays out the visible window of a conversation, bottom up: only the messages
 * that reach into the window (plus `scrollBack` rows below it) are wrapped, so
 * the cost follows the screen, not the history.
 */
export function layoutMessages(input: MessageLayoutInput): MessageLayout {
  const height = Math.max(1, input.height);
  const width = Math.max(10, input.width);
  const colors =
    input.colors ??
    conversationColors(
      input.lines.filter((l) => l.kind !== 'info').map((l) => l.author.id),
      input.meId,
    );
  const opts = {
    meId: input.meId,
    meUsername: input.meUsername ?? null,
    width,
    timeFormat: input.timeFormat,
    colors,
    ...(input.media ? { media: input.media } : {}),
  };
  // The pinned loading notice takes the top row; scrolled up, the bottom row says what is below.
  const below = Math.max(0, input.scrollBack) > 0;
  const room = roomAt(height, input.scrollBack, input.loading);
  const wanted = Math.max(0, input.scrollBack) + room;
  // Collected bottom-up: reversed[0] is the last row.
  const reversed: Row[] = [];
  let reachedTop = true;
  for (let i = input.lines.length - 1; i >= 0; i--) {
    if (reversed.length >= wanted) {
      reachedTop = false;
      break;
    }
    const line = input.lines[i];
    if (!line) continue;
    const focused = input.focus && line.seq === input.focus.seq ? input.focus.words : null;
    const rows = messageRows(line, {
      ...opts,
      ...(focused ? { focus: focused } : {}),
      selected: line.seq !== null && line.seq === input.selected,
    });
    for (let k = rows.length - 1; k >= 0; k--) {
      const row = rows[k];
      if (row) reversed.push(row);
    }
    const prev = input.lines[i - 1];
    const newFrom = input.newFrom ?? null;
    // Only where the first unread one is known: loaded, or right after a loaded older one.
    if (
      newFrom !== null &&
      line.seq !== null &&
      line.seq >= newFrom &&
      (line.seq === newFrom || (prev?.seq != null && prev.seq < newFrom))
    ) {
      reversed.push(newMarker(width));
    }
    if (!prev || !sameDay(prev.createdAt, line.createdAt)) {
      reversed.push(daySeparator(line.key, line.createdAt, width, input.now));
    }
  }
  if (reachedTop && !input.hasMoreBefore && !input.loading) {
    reversed.push(notice('top', 'beginning of conversation', width));
  }
  const maxBack = reachedTop ? Math.max(0, reversed.length - room) : Number.POSITIVE_INFINITY;
  const scrollBack = Math.min(Math.max(0, input.scrollBack), maxBack);
  const window = reversed.slice(scrollBack, scrollBack + Math.max(0, room)).reverse();
  if (input.loading) window.unshift(notice('loading', 'loading older messages…', width));
  if (below && scrollBack > 0) window.push(belowRow(input.newBelow ?? 0, width));
  return { rows: window, scrollBack, atTop: reachedTop && scrollBack + room >= reversed.length };
}

/** Rows of messages a window of `height` shows at `scrollBack` (less the loading and "below" rows). */
function roomAt(height: number, scrollBack: number, loading: boolean): number {
  return Math.max(1, height - (loading ? 1 : 0) - (scrollBack > 0 ? 1 : 0));
}

/**
 * Where PageUp (`up`) or PageDown leads from `scrollBack`: one screen less a
 * line, so exactly one row (the old top, or the old bottom) stays in view.
 * The layout clamps the result to what is loaded.
 */
export function pageScroll(scrollBack: number, height: number, loading: boolean, direction: 'up' | 'down'): number {
  const from = Math.max(0, scrollBack);
  if (direction === 'up') return from + roomAt(height, from, loading) - 1;
  // The new window's top row is the old bottom one: from - (its room - 1).
  const to = from - (roomAt(height, 1, loading) - 1);
  return Math.max(0, to);
}

/** What a conversation's layout depends on besides its messages: who reads, the list's size, the clock format. */
export type ListGeometry = {
  meId: string | null;
  meUsername: string | null;
  width: number;
  height: number;
  timeFormat?: TimeFormat;
  media?: MediaOptions;
};

/**
 * Where scrolling `view` by `delta` rows (up when positive) leads, laid out
 * as the message list lays it out: clamped to what is loaded. `fetch` when it
 * reached the top of that and older messages exist; with `whole` (a page up),
 * `owed` holds the rows it could not go up yet (added to those the view
 * already owes), to go up when the older messages come in.
 */
export function scrollView(
  view: ConversationView,
  delta: number,
  geometry: ListGeometry,
  whole = false,
): { scrollBack: number; owed: number; fetch: boolean } {
  const wanted = Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, view.scrollBack + delta));
  const laid = layoutMessages({
    ...geometry,
    lines: view.lines,
    scrollBack: wanted,
    hasMoreBefore: view.hasMoreBefore,
    loading: view.loading,
    newBelow: view.newBelow,
    newFrom: view.newFrom ?? null,
  });
  const fetch = delta > 0 && laid.atTop && view.hasMoreBefore;
  const owed = fetch && whole ? (view.owed ?? 0) + wanted - laid.scrollBack : 0;
  return { scrollBack: laid.scrollBack, owed, fetch };
}

/** The `── new ──` line above the first message that was unread when the conversation opened. */
function newMarker(width: number): Row {
  const label = '── new ';
  return {
    key: 'new',
    segments: [{ text: `${label}${'─'.repeat(Math.max(0, width - textWidth(label)))}`, color: 'mention', bold: true }],
  };
}

/** The bottom row while scrolled up: how many new messages wait below, and the key that goes there. */
function belowRow(count: number, width: number): Row {
  const what = count === 0 ? 'more below' : count === 1 ? '1 new message below' : `${count} new messages below`;
  const label = truncate(`── ${what} · End ──`, width);
  const pad = Math.max(0, Math.floor((width - textWidth(label)) / 2));
  return {
    key: 'below',
    segments: [
      { text: ' '.repeat(pad) },
      { text: label, bold: count > 0, color: count > 0 ? 'mention' : undefined, dim: count === 0 },
    ],
  };
}
