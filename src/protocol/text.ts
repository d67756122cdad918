/**
 * Text rules shared by the server (which enforces them) and clients (which can
 * check input before sending). Pure functions, no I/O.
 */

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
  banReasonMax: 256,
} as const;

// C0 controls except tab and newline, DEL, and C1 controls.
const C0_C1 = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;
const C0_C1_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f]/u;
// Bidi embeddings/overrides/isolates and marks, zero-width space, word joiner and invisible operators, BOM.
const INVISIBLE = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u;

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

/**
 * Why a single-line name (display name, status, server or channel name) is not
 * acceptable, or null when it is. Control characters, bidi controls and
 * invisible characters are refused.
 */
export function lineTextProblem(s: string, max: number): string | null {
  if (C0_C1_OR_NEWLINE.test(s)) return 'must not contain control characters or line breaks';
  if (INVISIBLE.test(s)) return 'must not contain invisible or text-direction characters';
  if (codePoints(s) > max) return `must be at most ${max} characters`;
  return null;
}

/** Like {@link lineTextProblem} but newlines and tabs are allowed (bios, messages). */
export function multilineTextProblem(s: string, max: number): string | null {
  if (C0_C1.test(s)) return 'must not contain control characters other than newline and tab';
  if (INVISIBLE.test(s)) return 'must not contain invisible or text-direction characters';
  if (codePoints(s) > max) return `must be at most ${max} characters`;
  return null;
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
 * letter or digit, and do not mix scripts.
 */
export function usernameProblem(name: string): string | null {
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
  return null;
}

// Letters of other scripts that look like Latin ones (a subset of Unicode's
// confusables for the scripts usernames accept). Used only to build the
// uniqueness key, never to change what people see.
const CONFUSABLES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  һ: 'h',
  ӏ: 'l',
  ɡ: 'g',
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ϲ: 'c',
};

/**
 * The key that decides whether two usernames are "the same": compatibility
 * normalized, case-folded, accents removed and look-alike letters mapped to
 * Latin. `Admin`, `admin`, `ádmin` and a Cyrillic `аdmin` share one key.
 */
export function usernameKey(name: string): string {
  const folded = name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  let key = '';
  for (const ch of folded) key += CONFUSABLES[ch] ?? ch;
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
  if (!CHANNEL_NAME.test(name)) return 'may contain only lower-case letters, digits, "-" and "_"';
  return null;
}

/**
 * The `@username` mentions in a message body (as written, without the `@`),
 * each once. An `@` inside a word (`a@b`) is not a mention.
 */
export function mentionedNames(body: string): string[] {
  const names = new Set<string>();
  for (const m of body.matchAll(/(?<![\p{L}\p{Nd}_.@-])@([\p{L}\p{M}\p{Nd}_.-]{2,32})/gu)) {
    const name = (m[1] ?? '').replace(/[.-]+$/, '');
    if (name.length >= LIMITS.usernameMin) names.add(name.normalize('NFC'));
  }
  return [...names];
}
