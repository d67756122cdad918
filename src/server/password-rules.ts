import { NatterError } from '../protocol/index.js';
import { COMMON_PASSWORDS } from './common-passwords.js';

/** Usernames at least this long may not appear inside a password; shorter ones appear in too many words. */
export const USERNAME_IN_PASSWORD_MIN = 4;

/** A password needs at least this many different visible characters (`abababab` has 2). */
export const DISTINCT_CHARS_MIN = 4;

// Characters that show nothing: whitespace, the braille blank, and the invisible and formatting ones.
const BLANK = /[\p{White_Space}\u2800\u3164\u115f\u1160\uffa0\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;
// Control characters (line breaks included): a password is typed on one line.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
// The usual substitutions in "clever" passwords: p@ssw0rd, $uperman, 1loveyou.
const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
  '!': 'i',
};
const TRAILER = /[\p{N}\p{P}\p{S}\s]+$/u;
const LEADER = /^[\p{N}\p{P}\p{S}\s]+/u;
// Runs people type instead of a password: in order, backwards, along keyboard rows and columns.
const RUNS = [
  '0123456789012',
  'abcdefghijklmnopqrstuvwxyz',
  'qwertyuiop',
  'asdfghjkl',
  'zxcvbnm',
  'azertyuiop',
  'qwertzuiop',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p',
  '1234567890-=',
];

/** Is `pw` (lower case) a stretch of one of the runs, forwards or backwards? */
function isRun(pw: string): boolean {
  return RUNS.some((run) => run.includes(pw) || [...run].reverse().join('').includes(pw));
}

/**
 * The forms of a (lower-case) password looked up in the blocklist: as typed,
 * without digits and symbols added before or after (`Password123!`), and both
 * with the usual letter-for-digit substitutions undone (`p@ssw0rd`).
 */
function blocklistForms(pw: string): Set<string> {
  const forms = new Set<string>([pw]);
  const core = pw.replace(TRAILER, '').replace(LEADER, '');
  if (core.length > 0) forms.add(core);
  for (const f of [...forms]) {
    const plain = [...f].map((ch) => LEET[ch] ?? ch).join('');
    forms.add(plain);
    const plainCore = plain.replace(TRAILER, '');
    if (plainCore.length > 0) forms.add(plainCore);
  }
  return forms;
}

/**
 * Why `password` is too weak for the account `username`, or null. Refused:
 * control characters and line breaks; only blanks (spaces, invisible
 * characters); fewer than 4 different visible characters; one of the most
 * common passwords, in any case, with digits or symbols added before or after
 * it and with the usual substitutions (`P@ssw0rd!`, `superman2024`); a run
 * of letters, digits or keys in order (`123456789`, `hgfedcba`); the
 * username itself (any case), and for usernames of 4 or more characters any
 * password that contains it. Length limits are checked by the schema.
 */
export function weakPasswordProblem(password: string, username: string): string | null {
  if (CONTROL.test(password)) return 'contains a control character or a line break; choose another';
  const visible = password.normalize('NFC').replace(BLANK, '');
  if (visible === '') return 'is only spaces; choose another';
  if (new Set(visible.toLowerCase()).size < DISTINCT_CHARS_MIN) {
    return `has fewer than ${DISTINCT_CHARS_MIN} different characters; choose another`;
  }
  const pw = password.normalize('NFC').toLowerCase();
  const forms = blocklistForms(pw);
  for (const form of forms) if (COMMON_PASSWORDS.has(form)) return 'is too common; choose another';
  for (const form of forms) {
    if ([...form].length >= 6 && isRun(form)) return 'is a run of letters, digits or keys in order; choose another';
  }
  const name = username.normalize('NFC').toLowerCase();
  if (pw === name) return 'is your username; choose another';
  if ([...name].length >= USERNAME_IN_PASSWORD_MIN && pw.includes(name)) {
    return 'contains your username; choose another';
  }
  return null;
}

/** Throws `bad_request` on `field` (`params.password`, `params.newPassword`) for a weak password. */
export function assertStrongPassword(password: string, username: string, field: string): void {
  const problem = weakPasswordProblem(password, username);
  const what = field === 'params.newPassword' ? 'new password' : 'password';
  if (problem) throw new NatterError('bad_request', `${what} ${problem}`, { field });
}
