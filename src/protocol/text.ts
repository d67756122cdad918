/**
 * Text rules shared by the server (which enforces them) and clients (which can
 * check input before sending). Pure functions, no I/O. A "character" is a
 * Unicode code point of the text after NFC normalization.
 */
import { USERNAME_CAPITAL_DATA, USERNAME_KEY_DATA, USERNAME_KEY_UNICODE } from './username-key-data.js';

export { isBlank, trimBlanks } from './blank.js';
export { USERNAME_KEY_UNICODE };

/** Length limits, in Unicode code points unless stated otherwise. */
export const LIMITS = {
  usernameMin: 2,
  usernameMax: 32,
  passwordMin: 8,
  /** bcrypt reads at most 72 bytes; longer passwords are refused, never truncated. */
  passwordMaxBytes: 72,
  displayNameMax: 64,
  statusMax: 128,
  bioMax: 1024,
  tokenNameMax: 64,
  clientNameMax: 64,
  messageMax: 4000,
  serverNameMax: 64,
  descriptionMax: 1024,
  channelNameMax: 32,
  topicMax: 512,
  groupNameMax: 64,
  /** Most members a group may have. */
  groupMembersMax: 50,
  /** Most messages one history page returns. */
  historyPageMax: 100,
  nonceMax: 64,
  /** Most people one message notifies with `@name`; further mentions stay text. */
  mentionsMax: 50,
  banReasonMax: 256,
  /** What a reporter adds in their own words, and a moderator's note on a report. */
  reportDetailsMax: 1000,
  reportNoteMax: 1000,
  /** Longest timeout: 28 days, in seconds. */
  timeoutMaxSeconds: 28 * 86_400,
  /** Longest slow mode: 6 hours between two messages, in seconds. */
  slowmodeMaxSeconds: 6 * 3_600,
  /** Longest search query, in characters. */
  searchQueryMax: 256,
  /** Most different words a search query may hold (each is one more list the index merges). */
  searchWordsMax: 16,
  /** Most hits one page of search results returns. */
  searchPageMax: 50,
} as const;

/** Number of Unicode code points in `s`. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** UTF-8 length of `s` in bytes. */
export function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** A UTF-16 surrogate that is not half of a pair: JSON can carry one (`"\ud800"`), Unicode text cannot. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** True when `s` is well-formed Unicode text (no lone surrogates). */
export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

// Names of the characters the text rules refuse, for error messages.
const C0_NAMES = [
  'NULL',
  'START OF HEADING',
  'START OF TEXT',
  'END OF TEXT',
  'END OF TRANSMISSION',
  'ENQUIRY',
  'ACKNOWLEDGE',
  'BELL',
  'BACKSPACE',
  'CHARACTER TABULATION',
  'LINE FEED',
  'LINE TABULATION',
  'FORM FEED',
  'CARRIAGE RETURN',
  'SHIFT OUT',
  'SHIFT IN',
  'DATA LINK ESCAPE',
  'DEVICE CONTROL ONE',
  'DEVICE CONTROL TWO',
  'DEVICE CONTROL THREE',
  'DEVICE CONTROL FOUR',
  'NEGATIVE ACKNOWLEDGE',
  'SYNCHRONOUS IDLE',
  'END OF TRANSMISSION BLOCK',
  'CANCEL',
  'END OF MEDIUM',
  'SUBSTITUTE',
  'ESCAPE',
  'INFORMATION SEPARATOR FOUR',
  'INFORMATION SEPARATOR THREE',
  'INFORMATION SEPARATOR TWO',
  'INFORMATION SEPARATOR ONE',
];
const NAMES: Record<number, string> = {
  127: 'DELETE',
  133: 'NEXT LINE',
  144: 'DEVICE CONTROL STRING',
  155: 'CONTROL SEQUENCE INTRODUCER',
  156: 'STRING TERMINATOR',
  157: 'OPERATING SYSTEM COMMAND',
  173: 'SOFT HYPHEN',
  847: 'COMBINING GRAPHEME JOINER',
  1564: 'ARABIC LETTER MARK',
  4447: 'HANGUL CHOSEONG FILLER',
  4448: 'HANGUL JUNGSEONG FILLER',
  6068: 'KHMER VOWEL INHERENT AQ',
  6069: 'KHMER VOWEL INHERENT AA',
  6158: 'MONGOLIAN VOWEL SEPARATOR',
  8203: 'ZERO WIDTH SPACE',
  8204: 'ZERO WIDTH NON-JOINER',
  8205: 'ZERO WIDTH JOINER',
  8206: 'LEFT-TO-RIGHT MARK',
  8207: 'RIGHT-TO-LEFT MARK',
  8232: 'LINE SEPARATOR',
  8233: 'PARAGRAPH SEPARATOR',
  8234: 'LEFT-TO-RIGHT EMBEDDING',
  8235: 'RIGHT-TO-LEFT EMBEDDING',
  8236: 'POP DIRECTIONAL FORMATTING',
  8237: 'LEFT-TO-RIGHT OVERRIDE',
  8238: 'RIGHT-TO-LEFT OVERRIDE',
  8288: 'WORD JOINER',
  8289: 'FUNCTION APPLICATION',
  8290: 'INVISIBLE TIMES',
  8291: 'INVISIBLE SEPARATOR',
  8292: 'INVISIBLE PLUS',
  8294: 'LEFT-TO-RIGHT ISOLATE',
  8295: 'RIGHT-TO-LEFT ISOLATE',
  8296: 'FIRST STRONG ISOLATE',
  8297: 'POP DIRECTIONAL ISOLATE',
  12644: 'HANGUL FILLER',
  65279: 'ZERO WIDTH NO-BREAK SPACE',
  65440: 'HALFWIDTH HANGUL FILLER',
  65529: 'INTERLINEAR ANNOTATION ANCHOR',
  65530: 'INTERLINEAR ANNOTATION SEPARATOR',
  65531: 'INTERLINEAR ANNOTATION TERMINATOR',
  917505: 'LANGUAGE TAG',
  917631: 'CANCEL TAG',
};

/** `U+200B ZERO WIDTH SPACE`: the code point and, when known, the name of `ch`. */
export function describeChar(ch: string): string {
  const c = ch.codePointAt(0) ?? 0;
  const hex = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  let name = c < 0x20 ? C0_NAMES[c] : NAMES[c];
  if (name === undefined && c >= 0xfe00 && c <= 0xfe0f) name = `VARIATION SELECTOR-${c - 0xfe00 + 1}`;
  if (name === undefined && c >= 0xe0100 && c <= 0xe01ef) name = `VARIATION SELECTOR-${c - 0xe0100 + 17}`;
  if (name === undefined && c >= 0xe0020 && c <= 0xe007e)
    name = `TAG ${JSON.stringify(String.fromCodePoint(c - 0xe0000))}`;
  return name ? `${hex} ${name}` : hex;
}

const CONTROL = /^[\u0000-\u001f\u007f-\u009f]$/u;
const LINE_BREAK = /^[\n\r\u0085\u2028\u2029]$/u;
const BIDI = /^[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]$/u;
const INVISIBLE = /^[\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;
const VARIATION_SELECTOR = /^[\ufe00-\ufe0f\u180b-\u180d\u180f\u{e0100}-\u{e01ef}]$/u;
const VISIBLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const PICTOGRAPH = /^\p{Extended_Pictographic}$/u;
// What may sit between a pictograph and its zero width joiner: a presentation selector or a skin tone.
const EMOJI_TRAILER = /^[\ufe0f\u{1f3fb}-\u{1f3ff}]$/u;
// Scripts whose words need the zero width joiner and non-joiner (Persian, Hindi, Malayalam...).
const JOINING_LETTER =
  /^(?=[\p{L}\p{M}])[\p{scx=Arabic}\p{scx=Syriac}\p{scx=Nko}\p{scx=Mongolian}\p{scx=Devanagari}\p{scx=Bengali}\p{scx=Gurmukhi}\p{scx=Gujarati}\p{scx=Oriya}\p{scx=Tamil}\p{scx=Telugu}\p{scx=Kannada}\p{scx=Malayalam}\p{scx=Sinhala}\p{scx=Tibetan}\p{scx=Myanmar}\p{scx=Khmer}]$/u;
// An emoji tag sequence: a pictograph (the black flag), tag characters, CANCEL TAG (the flag of Scotland).
const TAG_SEQUENCE = /\p{Extended_Pictographic}[\u{e0020}-\u{e007e}]+\u{e007f}/gu;
const TAG = /^[\u{e0000}-\u{e007f}]$/u;
// Any character the rules below look at more closely.
const SUSPECT_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cf}\p{Default_Ignorable_Code_Point}\ud800-\udfff]/u;
const SUSPECT_MULTILINE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\p{Cf}\p{Default_Ignorable_Code_Point}\ud800-\udfff]/u;

/** How a piece of text is checked. */
type TextKind = {
  /** What the text is, in words: `message`, `display name`. */
  what: string;
  /** One line only. */
  line: boolean;
  /** Zero width joiners in emoji and in words of scripts that need them, variation selectors after a visible character, emoji tag sequences. */
  emoji: boolean;
};

/** Is the zero width (non-)joiner at `i` where emoji or a script's spelling needs it? */
function joinerFits(cps: readonly string[], i: number): boolean {
  const next = cps[i + 1];
  const zwj = cps[i] === '\u200d';
  let b = i - 1;
  while (b >= 0 && EMOJI_TRAILER.test(cps[b] ?? '')) b--;
  if (zwj && PICTOGRAPH.test(cps[b] ?? '') && PICTOGRAPH.test(next ?? '')) return true;
  if (!JOINING_LETTER.test(cps[i - 1] ?? '')) return false;
  return next === undefined || !INVISIBLE.test(next);
}

/** Code point positions of the tag characters that belong to emoji tag sequences. */
function tagSequencePositions(s: string): Set<number> {
  const positions = new Set<number>();
  for (const m of s.matchAll(TAG_SEQUENCE)) {
    const start = codePoints(s.slice(0, m.index));
    const length = codePoints(m[0]);
    for (let k = 1; k < length; k++) positions.add(start + k);
  }
  return positions;
}

/**
 * The first character of `s` the rules refuse, described in words with its
 * 1-based position in code points, or null. `s` is already NFC-normalized.
 */
function characterProblem(s: string, kind: TextKind): string | null {
  // Nearly all text has none of these: one scan, and done.
  if (!(kind.line ? SUSPECT_LINE : SUSPECT_MULTILINE).test(s)) return null;
  const cps = [...s];
  let tagged: Set<number> | null = null;
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i] ?? '';
    const at = ` (${describeChar(ch)}) at position ${i + 1}`;
    if (LONE_SURROGATE.test(ch)) return `${kind.what} contains a lone surrogate${at}, which is not a character`;
    if (LINE_BREAK.test(ch) && (kind.line || ch !== '\n')) {
      if (kind.line) return `${kind.what} must be one line: it contains a line break${at}`;
      if (ch === '\u2028' || ch === '\u2029') return `${kind.what} contains a line separator${at}; use a newline`;
    }
    if (CONTROL.test(ch) && (kind.line || (ch !== '\n' && ch !== '\t'))) {
      return `${kind.what} contains a control character${at}`;
    }
    if (BIDI.test(ch)) return `${kind.what} contains a text-direction character${at}`;
    if (!INVISIBLE.test(ch)) continue;
    if (kind.emoji) {
      if ((ch === '\u200d' || ch === '\u200c') && joinerFits(cps, i)) continue;
      const before = cps[i - 1] ?? '';
      if (VARIATION_SELECTOR.test(ch) && VISIBLE.test(before) && !INVISIBLE.test(before)) continue;
      if (TAG.test(ch)) {
        tagged ??= tagSequencePositions(s);
        if (tagged.has(i)) continue;
      }
    }
    const kindOf = /^\p{Default_Ignorable_Code_Point}$/u.test(ch) ? 'an invisible' : 'a formatting';
    return `${kind.what} contains ${kindOf} character${at}`;
  }
  return null;
}

/**
 * Why a single-line text (display name, status, names, topic, token and client
 * names, ban reason) is not acceptable, or null when it is. Refused: control
 * characters and line breaks, text-direction controls, and invisible or
 * formatting characters other than those emoji and some scripts need.
 */
export function lineTextProblem(s: string, max: number, what = 'text'): string | null {
  if (codePoints(s) > max) return `${what} must be at most ${max} characters`;
  return characterProblem(s, { what, line: true, emoji: true });
}

/** Like {@link lineTextProblem} but newlines and tabs are allowed (messages, bios, descriptions). */
export function multilineTextProblem(s: string, max: number, what = 'text'): string | null {
  if (codePoints(s) > max) return `${what} must be at most ${max} characters`;
  return characterProblem(s, { what, line: false, emoji: true });
}

const USERNAME_CHARS = /^[\p{L}\p{M}\p{Nd}_.-]+$/u;
const STARTS_WELL = /^[\p{L}\p{Nd}]/u;

// Scripts a username's letters may come from. Letters of two different scripts
// in one name are refused (the classic "pаypal" with a Cyrillic а), except the
// Japanese mix of Han, Hiragana and Katakana.
const SCRIPTS = [
  'Latin',
  'Cyrillic',
  'Greek',
  'Armenian',
  'Georgian',
  'Hebrew',
  'Arabic',
  'Devanagari',
  'Bengali',
  'Tamil',
  'Thai',
  'Hangul',
  'Han',
  'Hiragana',
  'Katakana',
] as const;
const SCRIPT_RES = SCRIPTS.map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);
const JAPANESE = new Set(['Han', 'Hiragana', 'Katakana']);

function scriptOf(ch: string): string {
  for (const [name, re] of SCRIPT_RES) if (re.test(ch)) return name;
  return 'Other';
}

/**
 * Why `name` (already NFC-normalized) is not a valid username, or null.
 * Usernames are 2-32 letters, digits, marks, `_`, `.` or `-`, start with a
 * letter or digit, do not mix scripts, and hold no invisible or formatting
 * character (not even those emoji use).
 */
export function usernameProblem(name: string): string | null {
  const invisible = characterProblem(name, { what: 'username', line: true, emoji: false });
  if (invisible) return invisible.replace(/^username /, '');
  const len = codePoints(name);
  if (len < LIMITS.usernameMin || len > LIMITS.usernameMax) {
    return `must be ${LIMITS.usernameMin} to ${LIMITS.usernameMax} characters`;
  }
  if (!USERNAME_CHARS.test(name)) return 'may contain only letters, digits, "_", "." and "-"';
  if (!STARTS_WELL.test(name)) return 'must start with a letter or a digit';
  const scripts = new Set<string>();
  for (const ch of name) if (/\p{L}/u.test(ch)) scripts.add(scriptOf(ch));
  if (scripts.has('Other')) return 'uses a script natter does not accept in usernames';
  const mixed = scripts.size > 1 && ![...scripts].every((s) => JAPANESE.has(s));
  if (mixed) return 'must not mix letters of different scripts';
  if (usernameKey(name) === '') return 'must contain a letter or a digit';
  return null;
}

/**
 * The version of {@link usernameKey}: a database whose stored keys were made
 * by another version recomputes them at start.
 */
export const USERNAME_KEY_VERSION = `3 (Unicode ${USERNAME_KEY_UNICODE})`;

/** A table in the form of username-key-data.ts, decoded. */
function decodeKeyTable(data: string): Map<number, string> {
  const table = new Map<number, string>();
  let code = 0;
  let key = '';
  for (const entry of data.split(',')) {
    const colon = entry.indexOf(':');
    code += Number.parseInt(entry.slice(0, colon), 36);
    const raw = entry.slice(colon + 1);
    if (raw === '-') key = '';
    else if (raw !== '=')
      key = raw.replace(/<([0-9a-z]+)>/g, (_, n: string) => String.fromCodePoint(Number.parseInt(n, 36)));
    table.set(code, key);
  }
  return table;
}

let keyTable: Map<number, string> | null = null;
let capitalTable: Map<number, string> | null = null;

/** The table of username-key-data.ts, read on first use. */
function usernameKeyTable(): Map<number, string> {
  keyTable ??= decodeKeyTable(USERNAME_KEY_DATA);
  return keyTable;
}

/**
 * The key that decides whether two usernames are "the same": the same in any
 * case, with or without accents, in compatibility forms (full-width,
 * mathematical letters), and up to look-alike letters (Unicode's confusables,
 * UTS #39), so `Alice`, `ALICE`, `álice`, `aIice` (capital i), `ɑlice`,
 * `ᴀlice` and a Cyrillic `аlice` share one key. How the rules combine is
 * explained in scripts/username-keys.ts, which generates the table. Used to
 * find and compare names, never shown.
 */
export function usernameKey(name: string): string {
  const table = usernameKeyTable();
  let key = '';
  for (const ch of name.normalize('NFD')) key += table.get(ch.codePointAt(0) ?? 0) ?? ch;
  return key;
}

/**
 * The second key of a username: like {@link usernameKey}, but the few capitals
 * whose small letters look like something else count as what they look like
 * (`ΗΑΚΕ` with Greek capitals looks like `HAKE`, though its key is that of
 * `ηακε`, "nake"). A name is refused when either of its keys is either key
 * of a name someone else has.
 */
export function usernameCapitalKey(name: string): string {
  const table = usernameKeyTable();
  capitalTable ??= decodeKeyTable(USERNAME_CAPITAL_DATA);
  let key = '';
  for (const ch of name.normalize('NFD')) {
    const c = ch.codePointAt(0) ?? 0;
    key += capitalTable.get(c) ?? table.get(c) ?? ch;
  }
  return key;
}

const CHANNEL_NAME = /^[\p{Ll}\p{Lo}\p{Nd}_-]+$/u;

/**
 * A channel name as people type it, made canonical: lower case, spaces to
 * dashes (`General Chat` becomes `general-chat`).
 */
export function canonicalChannelName(name: string): string {
  return name.normalize('NFC').trim().toLowerCase().replace(/\s+/g, '-');
}

/** Why a canonical channel name is not acceptable, or null: 1-32 lower-case letters, digits, `-`, `_`. */
export function channelNameProblem(name: string): string | null {
  const len = codePoints(name);
  if (len < 1 || len > LIMITS.channelNameMax) return `must be 1 to ${LIMITS.channelNameMax} characters`;
  const invisible = characterProblem(name, { what: 'channel name', line: true, emoji: false });
  if (invisible) return invisible.replace(/^channel name /, '');
  if (!CHANNEL_NAME.test(name)) return 'may contain only lower-case letters, digits, "-" and "_"';
  return null;
}

/**
 * The `@username` mentions in a message body (as written, without the `@`),
 * each once. An `@` inside a word (`a@b`) is not a mention. A message that
 * starts by addressing someone, IRC style (`bob: the build is green`,
 * `bob, look`), mentions them too.
 */
export function mentionedNames(body: string): string[] {
  const names = new Set<string>();
  const addressed = /^([\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_.-]{1,31})[:,](?:\s|$)/u.exec(body)?.[1];
  if (addressed && addressed.length >= LIMITS.usernameMin) names.add(addressed.normalize('NFC'));
  // Not inside a word or an address (`a@b`, `https://x.com/@bob/status`).
  for (const m of body.matchAll(/(?<![\p{L}\p{Nd}_.@/:-])@([\p{L}\p{M}\p{Nd}_.-]{2,32})/gu)) {
    const name = (m[1] ?? '').replace(/[.-]+$/, '');
    if (name.length >= LIMITS.usernameMin) names.add(name.normalize('NFC'));
  }
  return [...names];
}
