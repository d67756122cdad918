import { NatterError } from '../protocol/index.js';
import { COMMON_PASSWORDS } from './common-passwords.js';

/** Usernames at least this long may not appear inside a password; shorter ones appear in too many words. */
export const USERNAME_IN_PASSWORD_MIN = 4;

/**
 * Why `password` is too weak for the account `username`, or null. Refused:
 * only whitespace, one of the most common passwords (any case), the username
 * itself (any case), and for usernames of 4 or more characters any password
 * that contains it. Length limits are checked by the schema.
 */
export function weakPasswordProblem(password: string, username: string): string | null {
  if (password.trim() === '') return 'is only spaces; choose another';
  const pw = password.normalize('NFC').toLowerCase();
  if (COMMON_PASSWORDS.has(pw)) return 'is too common; choose another';
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
