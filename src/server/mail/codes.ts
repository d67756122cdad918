import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { CODE_ALPHABET, CODE_LENGTH } from '../../protocol/email.js';

/** How long a code confirming an address works. */
export const VERIFY_CODE_MS = 24 * 3600 * 1000;
/** How long a password reset code works. */
export const RESET_CODE_MS = 3600 * 1000;
/** Wrong tries a code takes before it stops working (a new one must then be asked for). */
export const CODE_MAX_TRIES = 5;
/** The least time between two codes mailed to the same account for the same purpose. */
export const RESEND_COOLDOWN_MS = 60_000;

/**
 * A new code: {@link CODE_LENGTH} characters drawn from a CSPRNG out of an
 * alphabet without look-alikes (about 37 bits). Short enough to type from a
 * phone; guessing is bounded by the 5 tries a code takes and by its expiry.
 */
export function newCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** What is stored of a code (normalised, see `normalizeCode`): its SHA-256, in hex. */
export function hashCode(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

/** Whether the normalised `code` is the one `storedHash` was made from, compared in constant time. */
export function codeMatches(storedHash: string, code: string): boolean {
  const a = Buffer.from(storedHash, 'hex');
  const b = Buffer.from(hashCode(code), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
