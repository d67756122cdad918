/**
 * The mouse, as terminals report it once asked to (`ESC[?1000h` buttons and
 * wheel, `ESC[?1006h` in SGR form: `ESC[<b;x;yM` on press, `…m` on release,
 * columns and rows counted from 1).
 */

/** Asks the terminal to report buttons and the wheel (not motion), in SGR form. */
export const MOUSE_ON = '\u001b[?1000h\u001b[?1006h';
/** Stops it. */
export const MOUSE_OFF = '\u001b[?1006l\u001b[?1000l';

export type MouseEvent = {
  button: 'left' | 'middle' | 'right' | 'wheelUp' | 'wheelDown';
  /** Column and row, from 0. */
  x: number;
  y: number;
  /** Press (true) or release. */
  press: boolean;
};

// Ink may have taken the leading ESC off before the app sees the text.
const SGR = /\u001b?\[<(\d+);(\d+);(\d+)([Mm])/g;

/** Every mouse report in a chunk of terminal input, in order. */
export function parseMouse(data: string): MouseEvent[] {
  const out: MouseEvent[] = [];
  for (const m of data.matchAll(SGR)) {
    const code = Number(m[1]);
    // Shift, Alt and Ctrl are bits 2-4; motion is bit 5 (not asked for).
    const base = code & ~(4 | 8 | 16);
    const button =
      base === 64
        ? 'wheelUp'
        : base === 65
          ? 'wheelDown'
          : base === 0
            ? 'left'
            : base === 1
              ? 'middle'
              : base === 2
                ? 'right'
                : null;
    if (button === null) continue;
    out.push({ button, x: Number(m[2]) - 1, y: Number(m[3]) - 1, press: m[4] === 'M' });
  }
  return out;
}

/** The input without its mouse reports (what is left is keys or text). */
export function withoutMouse(input: string): string {
  return input.replace(SGR, '');
}
