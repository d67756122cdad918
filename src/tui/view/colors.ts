/** Readable foreground colours for other people's names (no plain blue, which is dark on black; no red, which means errors). */
export const NAME_PALETTE = [
  'cyan',
  'green',
  'yellow',
  'magenta',
  'blueBright',
  'greenBright',
  'magentaBright',
  'cyanBright',
] as const;

/** The viewer's own name: the theme's `self` colour, outside the palette. */
export const OWN_NAME_COLOR = 'self';

/** A user's name colour: stable across sessions (FNV-1a of the id into the palette), fixed for the viewer. */
export function userColor(userId: string, meId: string | null): string {
  if (meId !== null && userId === meId) return OWN_NAME_COLOR;
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return NAME_PALETTE[h % NAME_PALETTE.length] ?? 'cyan';
}

/** Whether colours may be used: the NO_COLOR convention (https://no-color.org) turns them off when set and non-empty. */
export function colorEnabled(env: Record<string, string | undefined> = process.env): boolean {
  const v = env.NO_COLOR;
  return v === undefined || v === '';
}
