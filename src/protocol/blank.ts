/**
 * Blank text: what shows nothing on screen. Kept apart from the text rules so
 * a command that only checks "is this message empty?" loads no tables.
 */

// What shows nothing though it is not whitespace: the braille pattern blank (U+2800).
const BLANK_RUN = '[\\s\\u2800]+';
const BLANK_ENDS = new RegExp(`^${BLANK_RUN}|${BLANK_RUN}$`, 'gu');
const ALL_BLANK = new RegExp(`^(?:${BLANK_RUN})?$`, 'u');

/** Is `s` empty or only whitespace and blank braille cells (U+2800), which show nothing? */
export function isBlank(s: string): boolean {
  return ALL_BLANK.test(s);
}

/** `s` without whitespace or blank braille cells (U+2800) at either end. */
export function trimBlanks(s: string): string {
  return s.replace(BLANK_ENDS, '');
}
