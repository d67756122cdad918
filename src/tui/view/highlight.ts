/**
 * Highlight words: words of the config that make a message count as a
 * mention of me. A word matches whole (not inside a longer word), in any case
 * and with any accents: `deploy` matches `Deploy!` and `DÉPLOY`, not
 * `deployment`.
 */

/** Text with case and accents folded, the same length in code points when it can be. */
function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** True when `body` holds one of `words` as a whole word. */
export function highlighted(body: string, words: readonly string[]): boolean {
  if (words.length === 0) return false;
  const text = fold(body);
  for (const raw of words) {
    const word = fold(raw.trim());
    if (word === '') continue;
    for (let at = text.indexOf(word); at !== -1; at = text.indexOf(word, at + 1)) {
      const before = text[at - 1];
      const after = text[at + word.length];
      const startsWord = !WORD_CHAR.test(word[0] ?? '') || before === undefined || !WORD_CHAR.test(before);
      const endsWord = !WORD_CHAR.test(word.at(-1) ?? '') || after === undefined || !WORD_CHAR.test(after);
      if (startsWord && endsWord) return true;
    }
  }
  return false;
}
