/**
 * Makes untrusted text (anything that came from the server: messages, names,
 * topics, error strings) safe to hand to the terminal. Every C0 control but
 * newline, DEL, every C1 control and ESC become visible placeholders, so text
 * cannot move the cursor, clear the screen, retitle the window or write the
 * clipboard. Tabs become spaces. Bidi controls are made visible too, so they
 * cannot reorder the interface around the text. Soft hyphens (U+00AD, a hint
 * where a word may break) are left out: terminals disagree on their width, and
 * one drawn where none was counted pushed a row's last character off.
 */
export function sanitize(text: string, options: { multiline?: boolean } = {}): string {
  const multiline = options.multiline ?? true;
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '\n') out += multiline ? '\n' : '\u2424';
    else if (ch === '\t') out += '  ';
    else if (cp < 0x20) out += String.fromCodePoint(0x2400 + cp);
    else if (cp === 0x7f) out += '\u2421';
    else if (cp >= 0x80 && cp <= 0x9f) out += `<${cp.toString(16).toUpperCase()}>`;
    else if (cp === 0xad) continue;
    else if (BIDI.has(cp)) out += `<U+${cp.toString(16).toUpperCase()}>`;
    else out += ch;
  }
  return out;
}

// Bidi embeddings, overrides, isolates and marks.
const BIDI = new Set([0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]);
