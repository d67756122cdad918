/**
 * Makes untrusted text (anything that came from the server: messages, names,
 * topics, error strings) safe to hand to the terminal. Every C0 control but
 * newline, DEL, every C1 control and ESC become visible placeholders, so text
 * cannot move the cursor, clear the screen, retitle the window or write the
 * clipboard. Tabs become spaces. Bidi controls are made visible too, so they
 * cannot reorder the interface around the text. Invisible hints are left out
 * (soft hyphens, zero-width spaces and word joiners, a variation selector
 * after anything but an emoji): terminals and the layout disagree on their
 * width, and one drawn where none was counted pushed a row's last character
 * off, which let a sender hide the end of a message.
 */
export function sanitize(text: string, options: { multiline?: boolean } = {}): string {
  const multiline = options.multiline ?? true;
  let out = '';
  let before = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const prev = before;
    before = ch;
    // Invisible characters the terminal and the layout count differently: each one drawn where the layout
    // counted none pushed a character off the end of its row.
    if (ZERO_WIDTH.has(cp)) continue;
    if (VARIATION_SELECTOR.test(ch) && !EMOJI_BASE.test(prev)) continue;
    if (ch === '\n') out += multiline ? '\n' : '\u2424';
    else if (ch === '\t') out += '  ';
    else if (cp < 0x20) out += String.fromCodePoint(0x2400 + cp);
    else if (cp === 0x7f) out += '\u2421';
    else if (cp >= 0x80 && cp <= 0x9f) out += `<${cp.toString(16).toUpperCase()}>`;
    else if (BIDI.has(cp)) out += `<U+${cp.toString(16).toUpperCase()}>`;
    else out += ch;
  }
  return out;
}

/** Bidi embeddings, overrides, isolates and marks, by code point. */
export const BIDI: ReadonlySet<number> = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);

// Soft hyphen, combining grapheme joiner, Mongolian vowel separator, zero-width space, word joiner and the
// invisible operators, zero-width no-break space.
export const ZERO_WIDTH: ReadonlySet<number> = new Set([
  0xad, 0x34f, 0x180e, 0x200b, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff,
]);
const VARIATION_SELECTOR = /^[\ufe00-\ufe0f\u{e0100}-\u{e01ef}]$/u;
// What an emoji variation selector may follow: an emoji, or a keycap's digit, # or *.
const EMOJI_BASE = /^\p{Emoji}$/u;
