import type { Key } from 'ink';
import { BIDI, ZERO_WIDTH } from './sanitize.js';

/**
 * Bracketed paste: asked for, the terminal wraps pasted text in `ESC[200~` …
 * `ESC[201~`, so a paste is told apart from typing. Without it a line break in
 * a paste reads as Enter, and text typed fast followed by Enter looks like a
 * paste; with it, every Enter outside a paste is a key.
 */
export const PASTE_ON = '\u001b[?2004h';
export const PASTE_OFF = '\u001b[?2004l';

// Ink hands the markers to `useInput` without their ESC.
const START = /^\u001b?\[200~$/;
const END = /^\u001b?\[201~$/;

/** What a key means once pastes are put back together. */
export type PasteStep = { kind: 'key' } | { kind: 'pasting' } | { kind: 'paste'; text: string };

/**
 * Puts a bracketed paste back together from the pieces Ink reports (a long
 * paste comes in several reads, and Ink reports a lone line break or Tab as a
 * key with no text): feed it every key; between the markers it keeps the text
 * and says `pasting`, and at the end marker it hands the whole paste over.
 */
export class PasteReader {
  private text: string | null = null;

  /** Whether a paste has begun and not ended. */
  get pasting(): boolean {
    return this.text !== null;
  }

  feed(input: string, key: Key): PasteStep {
    if (this.text === null) {
      if (START.test(input)) {
        this.text = '';
        return { kind: 'pasting' };
      }
      return { kind: 'key' };
    }
    if (END.test(input)) {
      const text = this.text;
      this.text = null;
      return { kind: 'paste', text };
    }
    if (key.return) this.text += '\n';
    else if (key.tab) this.text += '\t';
    else this.text += input;
    return { kind: 'pasting' };
  }
}

/**
 * Pasted text as it goes into the composer: line breaks of any system as
 * `\n`, the ones at its end dropped (a whole line copied carries one), Tabs
 * kept, and left out what the server would refuse and nobody could see to
 * fix: control characters (escape sequences a copied terminal line may
 * carry), soft hyphens and zero-width spaces (copied from web pages), and
 * text-direction controls.
 */
export function pastedText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[\]P^_][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b./g, '')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
    .replace(/[^\n\t -~]/gu, (ch) => {
      const cp = ch.codePointAt(0) ?? 0;
      return ZERO_WIDTH.has(cp) || BIDI.has(cp) ? '' : ch;
    })
    .replace(/\n+$/, '');
}

/** Pasted text for a one-line field (a search, a name, a password): its lines joined by spaces, ends trimmed of breaks. */
export function pastedLine(text: string): string {
  return pastedText(text)
    .replace(/^\n+|\n+$/g, '')
    .replace(/\n+/g, ' ')
    .replace(/\t/g, ' ');
}

/**
 * The path a paste names, when it is one path and nothing else: a file
 * dragged from a file manager arrives as `/home/me/x.png`, `'/home/me/my
 * x.png'` (quoted, or with `\ ` before spaces), or `file:///home/me/x.png`
 * (its `%20`s decoded). Null for anything else (text, several lines,
 * several paths): whether the file exists is the caller's to check.
 */
export function pastedPath(text: string): string | null {
  const line = text.replace(/\r?\n$/, '').trim();
  if (line === '' || /[\n\r\u0000-\u001f]/.test(line)) return null;
  let path = line;
  if (/^file:\/\//i.test(path)) {
    try {
      const url = new URL(path);
      if (url.host !== '' && url.host !== 'localhost') return null;
      path = decodeURIComponent(url.pathname);
    } catch {
      return null;
    }
  } else if (/^(['"]).*\1$/.test(path) && path.length >= 2) {
    path = path.slice(1, -1);
  } else {
    // Spaces only escaped: one unescaped space means words, not a path.
    if (/(^|[^\\])\s/.test(path)) return null;
    path = path.replace(/\\(.)/g, '$1');
  }
  return path.startsWith('/') || path.startsWith('~/') ? path : null;
}
