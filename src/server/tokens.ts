import { createHash, randomBytes } from 'node:crypto';

/**
 * A new secret token: 256 random bits, base64url, with a prefix that tells a
 * login session (`nts_`) from a bot token (`ntb_`) when one turns up in a log.
 */
export function newToken(kind: 'session' | 'bot'): string {
  return `${kind === 'session' ? 'nts' : 'ntb'}_${randomBytes(32).toString('base64url')}`;
}

/** What is stored for a token: its SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
