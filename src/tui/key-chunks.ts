import type { Key } from 'ink';

/** Ink's key flags with none set: typed text. */
export const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/**
 * Ink hands a chunk of several keys (fast typing, automation: "\u000bbob\r")
 * to `useInput` as one string with no key flags. Splits such a chunk into the
 * keys it holds: runs of text, Enter, Tab, Backspace, and Ctrl-letters. A chunk
 * of plain text is returned as it is. Every CR is Enter: a paste comes marked
 * (bracketed paste, paste.ts) and never reaches this.
 */
export function splitKeys(input: string, key: Key): { input: string; key: Key }[] {
  // Text typed fast and a Tab after it, in one read ("/cr\t"): the text, then the Tab key.
  if (input.length > 1 && input.endsWith('\t') && !key.meta && !/[\u0000-\u001f\u007f]/.test(input.slice(0, -1)))
    return [
      { input: input.slice(0, -1), key: NO_KEY },
      { input: '\t', key: { ...NO_KEY, tab: true } },
    ];
  if (input.length <= 1 || key.meta || !/[\u0001-\u001a\u007f]/.test(input.replace(/\n/g, ''))) return [{ input, key }];
  const out: { input: string; key: Key }[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push({ input: text, key: NO_KEY });
    text = '';
  };
  for (const ch of input) {
    const code = ch.charCodeAt(0);
    if (ch === '\r') {
      flush();
      out.push({ input: '\r', key: { ...NO_KEY, return: true } });
    } else if (ch === '\t') {
      flush();
      out.push({ input: '', key: { ...NO_KEY, tab: true } });
    } else if (code === 0x7f || code === 0x08) {
      flush();
      out.push({ input: '', key: { ...NO_KEY, backspace: true } });
    } else if (code >= 1 && code <= 26 && ch !== '\n') {
      flush();
      out.push({ input: String.fromCharCode(code + 96), key: { ...NO_KEY, ctrl: true } });
    } else {
      text += ch;
    }
  }
  flush();
  return out;
}
