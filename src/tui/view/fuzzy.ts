/** Where a query matched a label, and how well. */
export type FuzzyMatch = {
  /** Higher is better: exact, prefix, word-start, initials, substring, then scattered subsequence. */
  score: number;
  /** Indexes (UTF-16) into the label of the matched characters, ascending. */
  positions: number[];
};

const TIER = { exact: 6, prefix: 5, wordStart: 4, initials: 3, substring: 2, subsequence: 1 } as const;
const TIER_SIZE = 10_000;

function isWordStart(text: string, i: number): boolean {
  if (i === 0) return true;
  const prev = text[i - 1] ?? '';
  const cur = text[i] ?? '';
  if (!/[\p{L}\p{N}]/u.test(prev)) return true;
  // camelCase: a capital after a lower-case letter.
  return /\p{Ll}/u.test(prev) && /\p{Lu}/u.test(cur);
}

function range(start: number, length: number): number[] {
  return Array.from({ length }, (_, k) => start + k);
}

/** Best alignment of `q` as a subsequence of `t` (both lower-cased), preferring word starts and runs. */
function subsequence(original: string, t: string, q: string): FuzzyMatch | null {
  const n = t.length;
  const m = q.length;
  const NONE = Number.NEGATIVE_INFINITY;
  // score[j][i]: best score with q[j] matched at t[i]; from[j][i]: where q[j-1] was matched.
  const score: number[][] = [];
  const from: number[][] = [];
  for (let j = 0; j < m; j++) {
    const row = new Array<number>(n).fill(NONE);
    const back = new Array<number>(n).fill(-1);
    const prev = score[j - 1];
    let bestPrev = NONE;
    let bestPrevAt = -1;
    for (let i = 0; i < n; i++) {
      if (prev && i >= 2) {
        const p = prev[i - 2] ?? NONE;
        if (p > bestPrev) {
          bestPrev = p;
          bestPrevAt = i - 2;
        }
      }
      if (t[i] !== q[j]) continue;
      const bonus = 1 + (isWordStart(original, i) ? 8 : 0);
      if (!prev) {
        row[i] = bonus - 0.05 * i;
        continue;
      }
      const consecutive = i >= 1 ? (prev[i - 1] ?? NONE) + 5 : NONE;
      const gapped = bestPrev - 1;
      if (consecutive === NONE && gapped === NONE) continue;
      if (consecutive >= gapped) {
        row[i] = consecutive + bonus;
        back[i] = i - 1;
      } else {
        row[i] = gapped + bonus;
        back[i] = bestPrevAt;
      }
    }
    score.push(row);
    from.push(back);
  }
  const last = score[m - 1] ?? [];
  let end = -1;
  for (let i = 0; i < n; i++) if ((last[i] ?? NONE) > (end < 0 ? NONE : (last[end] ?? NONE))) end = i;
  if (end < 0 || (last[end] ?? NONE) === NONE) return null;
  const positions: number[] = [];
  let at = end;
  for (let j = m - 1; j >= 0 && at >= 0; j--) {
    positions.unshift(at);
    at = from[j]?.[at] ?? -1;
  }
  // Keep the subsequence tier below substring whatever the bonuses.
  const sub = Math.min(TIER_SIZE - 1, Math.max(0, 1000 + (last[end] ?? 0)));
  // Every character on a word start (`dr` for dev-random) reads as initials: ranked above plain substrings.
  const tier = positions.every((i) => isWordStart(original, i)) ? TIER.initials : TIER.subsequence;
  return { score: tier * TIER_SIZE + sub, positions };
}

/** Matches a query against a label, case-insensitively; null when the query is not a subsequence of it. */
export function fuzzyMatch(label: string, query: string): FuzzyMatch | null {
  const q = query.trim().toLowerCase();
  if (q === '') return { score: 0, positions: [] };
  const t = label.toLowerCase();
  // Lower-casing can change lengths (rare: İ); fall back to a plain check then.
  const aligned = t.length === label.length;
  const lengthPenalty = Math.min(TIER_SIZE - 1, label.length);
  if (t === q) return { score: TIER.exact * TIER_SIZE, positions: range(0, q.length) };
  if (t.startsWith(q))
    return { score: TIER.prefix * TIER_SIZE + (TIER_SIZE - 1 - lengthPenalty), positions: range(0, q.length) };
  let first = -1;
  for (let at = t.indexOf(q); at >= 0; at = t.indexOf(q, at + 1)) {
    if (first < 0) first = at;
    if (aligned && isWordStart(label, at)) {
      return { score: TIER.wordStart * TIER_SIZE + (TIER_SIZE - 1 - lengthPenalty), positions: range(at, q.length) };
    }
  }
  if (first >= 0) {
    return { score: TIER.substring * TIER_SIZE + (TIER_SIZE - 1 - lengthPenalty), positions: range(first, q.length) };
  }
  return subsequence(aligned ? label : t, t, q);
}

/**
 * Filters items by a query and ranks them: exact, prefix and word-start matches
 * first, then initials (`dr` for dev-random), then substrings, then scattered
 * subsequences; ties keep shorter labels
 * first, then the given order. An empty query keeps every item in order.
 */
export function fuzzyFilter<T extends { label: string }>(items: readonly T[], query: string): T[] {
  if (query.trim() === '') return [...items];
  const scored: { item: T; score: number; index: number }[] = [];
  items.forEach((item, index) => {
    const m = fuzzyMatch(item.label, query);
    if (m) scored.push({ item, score: m.score, index });
  });
  scored.sort((a, b) => b.score - a.score || a.item.label.length - b.item.label.length || a.index - b.index);
  return scored.map((s) => s.item);
}
