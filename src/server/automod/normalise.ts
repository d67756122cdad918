/**
 * The one normaliser of automatic moderation. Keywords go through it when a
 * server's rules are compiled, and every message goes through it before the
 * keywords are looked for, so both sides are always in the same form:
 *
 *   1. compatibility forms become what they stand for (NFKD: full-width
 *      `ｆｕｃｋ`, mathematical `𝒸𝗄`, ligatures, circled letters);
 *   2. accents and other combining marks shared by scripts are dropped
 *      (`fück` is `fuck`), and so are invisible characters (a zero width space
 *      inside a word);
 *   3. letters that look like Latin ones count as them (Cyrillic `а е о р с х
 *      ѕ і ј`, Greek `α ο ρ`, small capitals, the IPA `ʃ` that passes for an
 *      f), then everything is lower case, the same whatever the locale;
 *   4. inside a word that has letters, digits and a few symbols count as the
 *      letters they stand in for (`h3ll0`, `sh!t`, `$hit`, `b@d`): 0 o, 1 i,
 *      3 e, 4 a, 5 s, 7 t, 8 b, 9 g, `$` s, `@` a (not at the start of a word,
 *      where it is a mention), and `!`, `|` i and `+` t between letters only
 *      (`shit!` keeps its `!`). A word of digits alone (`2024`, `$5`) is left
 *      as it is;
 *   5. a letter repeated stands for one (`fuuuuck` is `fuck`), and a run of
 *      white space for one space.
 *
 * Step 5 is a trade-off: words that differ only by a doubled letter become
 * one (`good` and `god`, `too` and `to`, `ass` and `as`), so a keyword
 * matches both. It is what lets `good` match `gooood` and `fuck` match
 * `fuuuuck` with a single rule, and it applies to keywords and allowed words
 * alike, so whatever matches is at least consistent. A keyword whose collapsed
 * form is an everyday word (`ass` -> `as`) is better left to the profanity
 * preset, which knows those words.
 */

/** Latin letters that other letters pass for, keyed by the look-alike (either case). */
const LOOK_ALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a',
  А: 'a',
  в: 'b',
  В: 'b',
  г: 'r',
  е: 'e',
  Е: 'e',
  к: 'k',
  К: 'k',
  м: 'm',
  М: 'm',
  н: 'h',
  Н: 'h',
  о: 'o',
  О: 'o',
  п: 'n',
  р: 'p',
  Р: 'p',
  с: 'c',
  С: 'c',
  т: 't',
  Т: 't',
  у: 'y',
  У: 'y',
  х: 'x',
  Х: 'x',
  ь: 'b',
  ѕ: 's',
  Ѕ: 's',
  і: 'i',
  І: 'i',
  ј: 'j',
  Ј: 'j',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  һ: 'h',
  Һ: 'h',
  ӏ: 'l',
  Ӏ: 'l',
  // Greek
  α: 'a',
  Α: 'a',
  β: 'b',
  Β: 'b',
  γ: 'y',
  ε: 'e',
  Ε: 'e',
  Ζ: 'z',
  η: 'n',
  Η: 'h',
  ι: 'i',
  Ι: 'i',
  κ: 'k',
  Κ: 'k',
  μ: 'u',
  Μ: 'm',
  ν: 'v',
  Ν: 'n',
  ο: 'o',
  Ο: 'o',
  π: 'n',
  ρ: 'p',
  Ρ: 'p',
  τ: 't',
  Τ: 't',
  υ: 'u',
  Υ: 'y',
  χ: 'x',
  Χ: 'x',
  ω: 'w',
  // Latin letters beyond the basic ones, IPA, small capitals
  ß: 'ss',
  æ: 'ae',
  Æ: 'ae',
  œ: 'oe',
  Œ: 'oe',
  ø: 'o',
  Ø: 'o',
  đ: 'd',
  Đ: 'd',
  ð: 'd',
  Ð: 'd',
  ł: 'l',
  Ł: 'l',
  ħ: 'h',
  Ħ: 'h',
  ŧ: 't',
  Ŧ: 't',
  ı: 'i',
  ŋ: 'n',
  ĸ: 'k',
  ɑ: 'a',
  ɐ: 'a',
  ƅ: 'b',
  ɓ: 'b',
  ƈ: 'c',
  ɗ: 'd',
  ɛ: 'e',
  ƒ: 'f',
  ɠ: 'g',
  ɡ: 'g',
  ɦ: 'h',
  ɩ: 'i',
  ʝ: 'j',
  ƙ: 'k',
  ɱ: 'm',
  ɲ: 'n',
  ɵ: 'o',
  ƥ: 'p',
  ʂ: 's',
  ʃ: 'f',
  ƭ: 't',
  ʈ: 't',
  ʊ: 'u',
  ʋ: 'v',
  ʍ: 'w',
  ƴ: 'y',
  ʐ: 'z',
  ȥ: 'z',
  ᴀ: 'a',
  ʙ: 'b',
  ᴄ: 'c',
  ᴅ: 'd',
  ᴇ: 'e',
  ꜰ: 'f',
  ɢ: 'g',
  ʜ: 'h',
  ɪ: 'i',
  ᴊ: 'j',
  ᴋ: 'k',
  ʟ: 'l',
  ᴍ: 'm',
  ɴ: 'n',
  ᴏ: 'o',
  ᴘ: 'p',
  ʀ: 'r',
  ꜱ: 's',
  ᴛ: 't',
  ᴜ: 'u',
  ᴠ: 'v',
  ᴡ: 'w',
  ʏ: 'y',
  ᴢ: 'z',
};

/** Digits that stand in for letters inside a word. */
const LEET_DIGITS: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '9': 'g',
};
/** Symbols that stand in for letters inside a word, and when (see the top of the file). */
const LEET_SYMBOLS: Record<string, string> = { $: 's', '@': 'a', '!': 'i', '|': 'i', '+': 't' };
/** Symbols that count as letters only between letters or digits: a word may end with them (`wow!`). */
const BETWEEN_ONLY = new Set(['!', '|', '+']);

/** Combining marks shared by scripts (accents, Arabic vowel marks), and invisible characters. */
const DROPPED = /(?=\p{M})\p{Script=Inherited}|\p{Cf}|\p{Default_Ignorable_Code_Point}/gu;
const LETTER = /^\p{L}$/u;
const WORD_CHAR = /^[\p{L}\p{M}\p{N}]$/u;
const SPACE = /^\s$/u;

/** What one character becomes in steps 1 to 3, for characters outside ASCII (which have a fast path). */
const folded = new Map<number, string>();
/** Past this many distinct characters the cache starts over: text full of rare characters cannot grow it without bound. */
const FOLDED_MAX = 20_000;

function foldChar(ch: string, cp: number): string {
  const known = folded.get(cp);
  if (known !== undefined) return known;
  let out = '';
  for (const part of ch.normalize('NFKD').replace(DROPPED, '')) {
    const alike = LOOK_ALIKES[part];
    if (alike !== undefined) {
      out += alike;
      continue;
    }
    // Lower case can bring back a combining mark (`İ` -> `i̇`): decompose and drop again.
    for (const low of part.toLowerCase().normalize('NFKD').replace(DROPPED, '')) {
      out += LOOK_ALIKES[low] ?? (SPACE.test(low) ? ' ' : low);
    }
  }
  if (folded.size >= FOLDED_MAX) folded.clear();
  folded.set(cp, out);
  return out;
}

/** Character classes of the folded text, for the word rules of step 4. */
const OTHER = 0;
const LETTER_CLASS = 1;
const DIGIT_CLASS = 2;
const SYMBOL_CLASS = 3;
const MARK_OR_NUMBER = 4;

function classOf(ch: string): number {
  const c = ch.charCodeAt(0);
  if (c < 128) {
    if (c >= 97 && c <= 122) return LETTER_CLASS;
    if (c >= 48 && c <= 57) return DIGIT_CLASS;
    return LEET_SYMBOLS[ch] !== undefined ? SYMBOL_CLASS : OTHER;
  }
  if (LETTER.test(ch)) return LETTER_CLASS;
  return WORD_CHAR.test(ch) ? MARK_OR_NUMBER : OTHER;
}

/** Normalised text, and where each of its UTF-16 units came from in the original. */
export type NormalisedText = {
  text: string;
  /** `from[i]`: the index in the original text of the character that gave `text[i]`. */
  from: number[];
};

/** Steps 1-3 over `s`: folded characters, one string each, and (when asked) their origins. */
function fold(s: string, origins: number[] | null): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    let f: string;
    const at = i;
    if (c < 128) {
      f = c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : c === 9 || c === 10 || c === 13 ? ' ' : (s[i] ?? '');
    } else {
      let ch = s[i] ?? '';
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const low = s.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          c = (c - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
          ch = s.slice(i, i + 2);
          i++;
        }
      }
      f = foldChar(ch, c);
    }
    // A folded character may be several (`ß` -> `ss`, `ﬁ` -> `fi`) or none (an accent alone).
    for (const part of f) {
      out.push(part);
      origins?.push(at);
    }
  }
  return out;
}

/** Steps 4 and 5 over folded characters; `origins` (when given) is rewritten to match the output. */
function words(chars: string[], origins: number[] | null): NormalisedText {
  const n = chars.length;
  const classes = new Uint8Array(n);
  for (let i = 0; i < n; i++) classes[i] = classOf(chars[i] ?? '');
  let text = '';
  const from: number[] = [];
  let last = '';
  const emit = (ch: string, i: number) => {
    // Step 5: a repeated letter, or white space, stands for one.
    if (ch === last && (ch === ' ' || classOf(ch) === LETTER_CLASS)) return;
    last = ch;
    text += ch;
    if (origins) for (let k = 0; k < ch.length; k++) from.push(origins[i] ?? 0);
  };
  let i = 0;
  while (i < n) {
    if (classes[i] === OTHER) {
      emit(chars[i] ?? '', i);
      i++;
      continue;
    }
    // A word: letters, digits, marks and the symbols that may stand for letters.
    let end = i;
    let letters = false;
    while (end < n && classes[end] !== OTHER) {
      if (classes[end] === LETTER_CLASS) letters = true;
      end++;
    }
    for (let k = i; k < end; k++) {
      const ch = chars[k] ?? '';
      const cls = classes[k];
      if (!letters) emit(ch, k);
      else if (cls === DIGIT_CLASS) emit(LEET_DIGITS[ch] ?? ch, k);
      else if (cls === SYMBOL_CLASS) emit(symbolInWord(chars, classes, i, end, k), k);
      else emit(ch, k);
    }
    i = end;
  }
  return { text, from };
}

/** What the symbol at `k`, inside the word `start..end` that has letters, counts as. */
function symbolInWord(chars: string[], classes: Uint8Array, start: number, end: number, k: number): string {
  const ch = chars[k] ?? '';
  if (ch === '@' && k === start) return ch;
  if (!BETWEEN_ONLY.has(ch)) return LEET_SYMBOLS[ch] ?? ch;
  let before = false;
  for (let b = k - 1; b >= start && !before; b--) before = classes[b] !== SYMBOL_CLASS;
  let after = false;
  for (let a = k + 1; a < end && !after; a++) after = classes[a] !== SYMBOL_CLASS;
  return before && after ? (LEET_SYMBOLS[ch] ?? ch) : ch;
}

// The same steps for text that is all ASCII, as most chat is: one pass over char codes, no tables of strings.
const NON_ASCII = /[^\u0000-\u007f]/;
/** Per ASCII code: 0 other, 1 letter, 2 digit, 3 symbol standing for a letter, 4 white space. */
const ASCII_CLASS = new Uint8Array(128);
/** Per ASCII code: what it is as a letter (lower case, or the letter a digit or symbol stands for). */
const ASCII_AS_LETTER = new Uint16Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const low = ch.toLowerCase();
  ASCII_AS_LETTER[c] = (LEET_DIGITS[ch] ?? LEET_SYMBOLS[ch] ?? low).charCodeAt(0);
  if (low >= 'a' && low <= 'z') ASCII_CLASS[c] = LETTER_CLASS;
  else if (ch >= '0' && ch <= '9') ASCII_CLASS[c] = DIGIT_CLASS;
  else if (LEET_SYMBOLS[ch] !== undefined) ASCII_CLASS[c] = SYMBOL_CLASS;
  else if (c === 9 || c === 10 || c === 13 || c === 32) ASCII_CLASS[c] = 4;
}
const AT = 64;
const DOLLAR = 36;
const SPACE_CODE = 32;

function normaliseAscii(s: string): string {
  const n = s.length;
  const out = new Uint16Array(n);
  let len = 0;
  let last = -1;
  let wordEnd = 0;
  let wordStart = 0;
  let letters = false;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    const cls = ASCII_CLASS[c] ?? OTHER;
    let code = c;
    let letter = false;
    if (cls === OTHER || cls === 4) {
      if (cls === 4) code = SPACE_CODE;
    } else {
      if (k >= wordEnd) {
        // The start of a word: find its end, and whether it has letters.
        wordStart = k;
        letters = false;
        for (wordEnd = k; wordEnd < n; wordEnd++) {
          const w = ASCII_CLASS[s.charCodeAt(wordEnd)] ?? OTHER;
          if (w === OTHER || w === 4) break;
          if (w === LETTER_CLASS) letters = true;
        }
      }
      if (!letters) {
        // Digits and symbols only (`2024`, `$5`): as written.
      } else if (cls === LETTER_CLASS) {
        code = ASCII_AS_LETTER[c] ?? c;
        letter = true;
      } else if (cls === DIGIT_CLASS) {
        code = ASCII_AS_LETTER[c] ?? c;
        letter = code !== c;
      } else if (c === AT ? k > wordStart : c === DOLLAR || asciiBetween(s, wordStart, wordEnd, k)) {
        code = ASCII_AS_LETTER[c] ?? c;
        letter = true;
      }
    }
    // Step 5: a repeated letter, or white space, stands for one.
    if (code === last && (letter || code === SPACE_CODE)) continue;
    last = code;
    out[len++] = code;
  }
  let text = '';
  for (let at = 0; at < len; at += 8192) {
    // apply takes the typed array as it is; spreading it would go through its iterator.
    text += String.fromCharCode.apply(null, out.subarray(at, Math.min(len, at + 8192)) as unknown as number[]);
  }
  return text;
}

/** Is there a letter or digit before `k` and one after it, inside the word `start..end` (ASCII)? */
function asciiBetween(s: string, start: number, end: number, k: number): boolean {
  let before = false;
  for (let b = k - 1; b >= start && !before; b--) before = ASCII_CLASS[s.charCodeAt(b)] !== SYMBOL_CLASS;
  let after = false;
  for (let a = k + 1; a < end && !after; a++) after = ASCII_CLASS[s.charCodeAt(a)] !== SYMBOL_CLASS;
  return before && after;
}

/** `s` in the normalised form keywords are compared in (see the top of this file). */
export function normalise(s: string): string {
  if (!NON_ASCII.test(s)) return normaliseAscii(s);
  return words(fold(s, null), null).text;
}

/** Like {@link normalise}, with a map back to the original text, to show moderators what matched. */
export function normaliseWithMap(s: string): NormalisedText {
  const origins: number[] = [];
  return words(fold(s, origins), origins);
}

/**
 * The part of `original` that gave `normalised.text.slice(start, end)`,
 * repeated letters that collapsed into it included.
 */
export function originalSpan(original: string, normalised: NormalisedText, start: number, end: number): string {
  const from = normalised.from[start] ?? original.length;
  const to = end < normalised.from.length ? (normalised.from[end] ?? original.length) : original.length;
  return original.slice(from, to);
}

/** True for the characters words are made of in normalised text: letters, marks and digits. */
export function isWordChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
  return WORD_CHAR.test(ch);
}
