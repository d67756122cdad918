/**
 * Foreground colours for other people's names, readable on a dark
 * background: no green (the viewer's own colour), no red (errors), no plain
 * blue (dark on black). Terminals with fewer colours get the nearest ones.
 */
export const NAME_PALETTE = [
  '#5fafff',
  '#ffaf5f',
  '#d787ff',
  '#5fd7d7',
  '#ffd75f',
  '#ff87af',
  '#87afd7',
  '#d7af87',
  '#af87ff',
  '#87d7ff',
  '#ffafd7',
  '#d7d787',
] as const;

/** The viewer's own name: the theme's `self` colour, outside the palette. */
export const OWN_NAME_COLOR = 'self';

/** FNV-1a of a user id: where in the palette their colour starts. */
function slot(userId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % NAME_PALETTE.length;
}

/** A user's name colour: stable across sessions (FNV-1a of the id into the palette), fixed for the viewer. */
export function userColor(userId: string, meId: string | null): string {
  if (meId !== null && userId === meId) return OWN_NAME_COLOR;
  return NAME_PALETTE[slot(userId)] ?? 'cyan';
}

/**
 * Colours for the people of one conversation, each different while the
 * palette lasts: taken in id order, each gets its own colour, or the next
 * free one when someone before it has that colour already. The same people
 * always get the same colours.
 */
export function conversationColors(userIds: readonly string[], meId: string | null): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<number>();
  for (const id of [...new Set(userIds)].sort()) {
    if (id === meId) {
      out.set(id, OWN_NAME_COLOR);
      continue;
    }
    let at = slot(id);
    for (let i = 0; i < NAME_PALETTE.length && taken.has(at); i++) at = (at + 1) % NAME_PALETTE.length;
    taken.add(at);
    out.set(id, NAME_PALETTE[at] ?? 'cyan');
  }
  return out;
}

/** Whether colours may be used: the NO_COLOR convention (https://no-color.org) turns them off when set and non-empty. */
export function colorEnabled(env: Record<string, string | undefined> = process.env): boolean {
  const v = env.NO_COLOR;
  return v === undefined || v === '';
}
