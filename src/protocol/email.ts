/**
 * Email addresses and mailed codes: the rules both ends apply, pure functions.
 */

/** Characters a local part (before the `@`) may not hold: spaces, controls, and those that mean something in a mail header. */
const LOCAL_FORBIDDEN = /[\s\p{Cc}\p{Cf}<>()[\]\\,;:"@]/u;
/** One label of a domain: letters and digits, hyphens inside. */
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** Why `text` is not an email address natter mails, in words, or null when it is one. */
export function emailAddressProblem(text: string): string | null {
  if (text.length > 254) return 'an email address is at most 254 characters';
  const at = text.indexOf('@');
  if (at < 0 || at !== text.lastIndexOf('@')) return 'an email address has exactly one @, like name@example.org';
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (local.length === 0 || local.length > 64) return 'the part before the @ must be 1 to 64 characters';
  if (LOCAL_FORBIDDEN.test(local))
    return 'the part before the @ may not hold spaces, control characters or <>()[]\\,;:"';
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return 'the part before the @ may not start or end with a dot, or hold two dots in a row';
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)))
    return 'the part after the @ must be a domain name like example.org';
  return null;
}

/** Whether `text` is an email address natter mails (see {@link emailAddressProblem}). */
export function isEmailAddress(text: string): boolean {
  return emailAddressProblem(text) === null;
}

/** An address as natter keeps it: NFC, the domain lowercased (the part before the @ is the mail server's business). */
export function normalizeEmail(text: string): string {
  const s = text.normalize('NFC');
  const at = s.lastIndexOf('@');
  return `${s.slice(0, at)}@${s.slice(at + 1).toLowerCase()}`;
}

/** The letters of a mailed code: no 0/O, 1/I/L, 2/Z, 5/S, 8/B, none a person could read as another. */
export const CODE_ALPHABET = 'ACDEFGHJKMNPQRTUVWXY34679';
/** Characters in a code (`ABCD-EFGH` shows them in two groups). */
export const CODE_LENGTH = 8;

/** A code as typed (`abcd efgh`, `ABCD-EFGH`) in the one form codes are compared in, or null when it cannot be one. */
export function normalizeCode(typed: string): string | null {
  const s = typed.replace(/[\s-]/g, '').toUpperCase();
  if (s.length !== CODE_LENGTH) return null;
  for (const ch of s) if (!CODE_ALPHABET.includes(ch)) return null;
  return s;
}

/** A code as mailed: two groups of four, `ABCD-EFGH`. */
export function formatCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
