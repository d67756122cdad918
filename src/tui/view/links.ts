/**
 * Links in message text: found once in the whole body, then marked on every
 * row a wrapped URL spans, so the terminal (OSC 8) opens the whole address
 * from any of its pieces.
 */
import type { Segment } from './segments.js';

/** A URL in a text, by UTF-16 offsets. */
export type UrlSpan = { start: number; end: number; url: string };

const URL = /\bhttps?:\/\/[^\s<>"'`\u2400-\u243f]+/gi;

/** The http(s) addresses in `text`, without the punctuation that usually ends a sentence after them. */
export function findUrls(text: string): UrlSpan[] {
  const out: UrlSpan[] = [];
  for (const m of text.matchAll(URL)) {
    let url = m[0];
    for (;;) {
      const last = url.at(-1) ?? '';
      if (/[.,;:!?'"]/.test(last)) url = url.slice(0, -1);
      // A closing bracket belongs to the URL only when it opened one too ("…/Foo_(bar)").
      else if (last === ')' && !url.includes('(')) url = url.slice(0, -1);
      else if (last === ']' && !url.includes('[')) url = url.slice(0, -1);
      else break;
    }
    if (/^https?:\/\/[^/?#]/i.test(url)) out.push({ start: m.index, end: m.index + url.length, url });
  }
  return out;
}

/**
 * For each wrapped row of `text`, the URL pieces on it (row-local offsets).
 * The rows are `text` in order with spaces dropped at breaks, so each is
 * found after the previous one.
 */
export function urlsByRow(text: string, rows: readonly string[], urls: readonly UrlSpan[]): UrlSpan[][] {
  let cursor = 0;
  return rows.map((row) => {
    if (urls.length === 0 || row === '') return [];
    const at = text.indexOf(row, cursor);
    if (at === -1) return [];
    cursor = at + row.length;
    return urls.flatMap((u) => {
      const start = Math.max(u.start, at);
      const end = Math.min(u.end, at + row.length);
      return start < end ? [{ start: start - at, end: end - at, url: u.url }] : [];
    });
  });
}

/** Splits a row's segments so the pieces of URLs carry their link. */
export function withLinks(segments: readonly Segment[], spans: readonly UrlSpan[]): Segment[] {
  if (spans.length === 0) return [...segments];
  const out: Segment[] = [];
  let offset = 0;
  for (const seg of segments) {
    const from = offset;
    const to = offset + seg.text.length;
    offset = to;
    let at = from;
    for (const span of spans) {
      const s = Math.max(span.start, at);
      const e = Math.min(span.end, to);
      if (s >= e) continue;
      if (s > at) out.push({ ...seg, text: seg.text.slice(at - from, s - from) });
      out.push({ ...seg, text: seg.text.slice(s - from, e - from), link: span.url, underline: true });
      at = e;
    }
    if (at < to) out.push({ ...seg, text: seg.text.slice(at - from) });
  }
  return out;
}
