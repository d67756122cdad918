// Telling apart servers (or groups) that share a name: the name followed by a
// mark and the start of the id, as short as it can be while still unique, but
// never under MIN_FRAGMENT characters: `acme·2f9k` on screen, `acme~2f9k` typed.
// No imports: the CLI loads this on its quick path.

/** Something with an id and a name: a server, a group, an invitation's group. */
export type Named = { readonly id: string; readonly name: string };

/** The mark between a name and its id fragment on screen (the terminal app): `acme·2f9k`. */
export const SHOWN_MARK = '·';

/** The mark to type (plain ASCII, not special to a shell inside a word): `acme~2f9k`. Both marks are accepted. */
export const TYPED_MARK = '~';

/** The fewest characters of the id a fragment has. */
export const MIN_FRAGMENT = 4;

/** Ids are nanoids: URL-safe characters. */
const FRAGMENT = /^[A-Za-z0-9_-]+$/;

/** Two names are the same when this is: NFC, lower case (how every name-taking command compares them). */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/**
 * For each item whose name another item of `items` shares, the start of its
 * id that tells it apart from those: at least {@link MIN_FRAGMENT}
 * characters, and one more each time another's id starts the same way (in
 * any case, so a fragment typed in the wrong case still names one). Items
 * with a name of their own are not in the map.
 */
export function idFragments(items: readonly Named[]): Map<string, string> {
  const byName = new Map<string, Named[]>();
  for (const item of items) {
    const key = nameKey(item.name);
    const same = byName.get(key);
    if (same) same.push(item);
    else byName.set(key, [item]);
  }
  const out = new Map<string, string>();
  for (const same of byName.values()) {
    if (same.length < 2) continue;
    for (const item of same) {
      const id = item.id.toLowerCase();
      let n = Math.min(MIN_FRAGMENT, item.id.length);
      while (n < item.id.length && same.some((o) => o.id !== item.id && o.id.toLowerCase().startsWith(id.slice(0, n))))
        n++;
      out.set(item.id, item.id.slice(0, n));
    }
  }
  return out;
}

/** `acme~2f9k` with a fragment, `acme` without (the mark defaults to the typed one). */
export function withFragment(name: string, fragment: string | undefined, mark: string = TYPED_MARK): string {
  return fragment === undefined ? name : `${name}${mark}${fragment}`;
}

/** Each item's name as it should be written among `items`: `acme~2f9k` when another has the name, else `acme`. */
export function distinctNames(items: readonly Named[], mark: string = TYPED_MARK): Map<string, string> {
  const fragments = idFragments(items);
  return new Map(items.map((item) => [item.id, withFragment(item.name, fragments.get(item.id), mark)]));
}

/** `acme~2f9k` or `acme·2f9k` cut at its last mark: the name and the fragment; null when it is not of that form. */
export function splitFragment(ref: string): { name: string; fragment: string } | null {
  const at = Math.max(ref.lastIndexOf(TYPED_MARK), ref.lastIndexOf(SHOWN_MARK));
  if (at <= 0) return null;
  const fragment = ref.slice(at + 1);
  return FRAGMENT.test(fragment) ? { name: ref.slice(0, at), fragment } : null;
}

/** What a reference names among a list: one item, none, or several (a name that needs its fragment). */
export type Match<T> = { kind: 'one'; item: T } | { kind: 'none' } | { kind: 'many'; items: T[] };

/**
 * The item `ref` names among `items`: its id; else its name in any case;
 * else, when no name is `ref` as written, a name with a fragment
 * (`acme~2f9k`, `acme·2f9k`: the item of that name whose id starts with the
 * fragment, in that case, or else in any case).
 */
export function matchName<T extends Named>(items: readonly T[], ref: string): Match<T> {
  const byId = items.find((t) => t.id === ref);
  if (byId) return { kind: 'one', item: byId };
  const key = nameKey(ref);
  const named = items.filter((t) => nameKey(t.name) === key);
  if (named.length === 0) {
    const split = splitFragment(ref);
    if (!split) return { kind: 'none' };
    const nameKeyed = nameKey(split.name);
    const same = items.filter((t) => nameKey(t.name) === nameKeyed);
    const exact = same.filter((t) => t.id.startsWith(split.fragment));
    const lower = split.fragment.toLowerCase();
    named.push(...(exact.length > 0 ? exact : same.filter((t) => t.id.toLowerCase().startsWith(lower))));
  }
  const [first, ...rest] = named;
  if (!first) return { kind: 'none' };
  return rest.length === 0 ? { kind: 'one', item: first } : { kind: 'many', items: named };
}

/**
 * What to say of a server or group just made under a name the caller already
 * had, or null when the name was new to them: the new one's name written
 * apart (`acme~n0Zc`), the others' (`acme~x8k2`), and the warning in words,
 * `you already have a server named "acme" (acme~x8k2)`. `made` is the new
 * one, `before` what the caller had; `sigil` goes before each name (`+` for a group).
 */
export function sameNameWarning(
  what: 'server' | 'group',
  made: Named,
  before: readonly Named[],
  opts: { mark?: string; sigil?: string; clean?: (text: string) => string } = {},
): { name: string; others: string[]; warning: string } | null {
  const key = nameKey(made.name);
  const same = before.filter((b) => b.id !== made.id && nameKey(b.name) === key);
  if (same.length === 0) return null;
  const clean = opts.clean ?? ((text: string) => text);
  const sigil = opts.sigil ?? '';
  const names = distinctNames([...same, made], opts.mark);
  const written = (item: Named) => `${sigil}${clean(names.get(item.id) ?? item.name)}`;
  const others = same.map(written);
  const kind = same.length === 1 ? `a ${what}` : `${same.length} ${what}s`;
  return {
    name: written(made),
    others,
    warning: `you already have ${kind} named "${clean(made.name)}" (${others.join(', ')})`,
  };
}
