/**
 * The email confirmation screen, as plain data: the address waiting for its
 * mailed code, the code being typed, and what the last attempt said. Pure:
 * the reducer keeps it in `State.confirm`, the intents feed it keys and carry
 * out what it asks for, and the component draws it.
 */
import type { Self } from '../protocol/index.js';
import type { InkKey } from './keys.js';
import { sanitize } from './sanitize.js';

/** What the confirmation screen shows and holds. */
export type ConfirmState = {
  /** The address the code was mailed to (as the server said it: sanitized when drawn). */
  address: string;
  /** The server requires a confirmed address: the screen cannot be hidden, and nothing else works until then. */
  required: boolean;
  /** When the account is removed if it has not confirmed (the server's `confirmBy`), or null. */
  confirmBy: number | null;
  /** `code`: the code is typed; `address`: a new address is typed in its place (`c`). */
  field: 'code' | 'address';
  code: string;
  /** The new address being typed. */
  newAddress: string;
  /** A request is under way: keys wait. */
  busy: boolean;
  /** Why the last attempt was refused, in words, or null. */
  error: string | null;
  /** What the last resend or change did, in words, or null. */
  info: string | null;
  /** When a new code may be asked for (the server's cooldown), or null. */
  retryAt: number | null;
  /** Hidden with Esc (only when optional): `/verify` or `/email` brings it back. */
  hidden: boolean;
};

/** What the account says of its address: a confirmation screen to show, or null when nothing waits. */
export function confirmOf(self: Pick<Self, 'pendingEmail' | 'confirmBy'>): ConfirmState | null {
  if (!self.pendingEmail) return null;
  return {
    address: self.pendingEmail,
    required: self.confirmBy !== undefined,
    confirmBy: self.confirmBy ?? null,
    field: 'code',
    code: '',
    newAddress: '',
    busy: false,
    error: null,
    info: null,
    retryAt: null,
    hidden: self.confirmBy === undefined,
  };
}

/** An address as shown before it is confirmed: its first letter and its domain (`a…@example.com`). */
export function maskedAddress(address: string): string {
  const clean = sanitize(address);
  const at = clean.lastIndexOf('@');
  if (at <= 0) return clean;
  return `${[...clean.slice(0, at)][0] ?? ''}…${clean.slice(at)}`;
}

/** How long until `at`, in words a person reads (`in 42 s`, `in 3 min`), or `now`. */
export function waitText(at: number, now: number): string {
  const seconds = Math.ceil((at - now) / 1000);
  if (seconds <= 0) return 'now';
  if (seconds < 90) return `in ${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `in ${minutes} min`;
  return `in ${Math.ceil(minutes / 60)} h`;
}

/** What a result does to the screen (the reducer's part): see the `confirm-…` actions of state.ts. */
export type ConfirmResult =
  | { kind: 'busy' }
  | { kind: 'refused'; error: string; retryAt: number | null }
  | { kind: 'mailed'; address: string; retryAt: number | null };

/** The screen after a request's result. */
export function confirmAfter(c: ConfirmState, r: ConfirmResult): ConfirmState {
  switch (r.kind) {
    case 'busy':
      return { ...c, busy: true, error: null, info: null };
    case 'refused':
      // A wrong code stays to be corrected; the field keeps what was typed.
      return { ...c, busy: false, error: r.error, retryAt: r.retryAt ?? c.retryAt };
    case 'mailed':
      return {
        ...c,
        address: r.address,
        busy: false,
        field: 'code',
        code: '',
        newAddress: '',
        error: null,
        info: `a new code was mailed to ${maskedAddress(r.address)}`,
        retryAt: r.retryAt,
        hidden: false,
      };
  }
}

/**
 * A refusal as this screen says it: the server words its advice as the
 * command line's commands (`natter email resend`), which are keys here.
 */
export function screenWords(message: string): string {
  return message
    .replace(/natter email resend/g, 'Ctrl-R')
    .replace(/natter email set ADDRESS/g, 'Tab (another address)');
}

/** What a key asks of the screen: the next state, and a request to make, or the screen hidden. */
export type ConfirmStep = {
  confirm: ConfirmState;
  /** `verify`: the code typed; `resend`: a new code; `change`: the address typed. */
  submit?: 'verify' | 'resend' | 'change';
  hide?: boolean;
};

/** Whether a code as typed could be one: eight letters or digits, a dash or spaces between any. */
export function codeComplete(code: string): boolean {
  return code.replace(/[\s-]/g, '').length === 8;
}

/**
 * One key on the confirmation screen. In the code field, letters and digits
 * type the code (Enter submits it); Ctrl-R asks for a new code, Ctrl-E (or
 * Tab) to type a different address; Esc hides the screen unless the address
 * is required (then it only leaves the address field).
 */
export function confirmKeys(c: ConfirmState, input: string, key: InkKey): ConfirmStep {
  if (c.busy) return { confirm: c };
  if (key.escape) {
    if (c.field === 'address') return { confirm: { ...c, field: 'code', newAddress: '', error: null } };
    return c.required ? { confirm: c } : { confirm: { ...c, hidden: true }, hide: true };
  }
  if (key.ctrl && input === 'r') return { confirm: { ...c, error: null }, submit: 'resend' };
  if ((key.ctrl && input === 'e') || key.tab) {
    return { confirm: { ...c, field: c.field === 'code' ? 'address' : 'code', error: null } };
  }
  const field = c.field === 'code' ? 'code' : 'newAddress';
  if (key.return) {
    if (c.field === 'code') {
      if (c.code.trim() === '') return { confirm: { ...c, error: 'type the code from the mail first' } };
      return { confirm: { ...c, error: null }, submit: 'verify' };
    }
    if (c.newAddress.trim() === '') return { confirm: { ...c, error: 'type the new address first' } };
    return { confirm: { ...c, error: null }, submit: 'change' };
  }
  if (key.backspace || key.delete) return { confirm: { ...c, [field]: [...c[field]].slice(0, -1).join('') } };
  if (key.ctrl && input === 'u') return { confirm: { ...c, [field]: '' } };
  if (key.ctrl || key.meta || input === '') return { confirm: c };
  // Typed or pasted text, on one line, without control characters.
  const text = sanitize(input.replace(/[\r\n]+/g, ' '));
  const max = c.field === 'code' ? 32 : 254;
  return { confirm: { ...c, [field]: [...`${c[field]}${text}`].slice(0, max).join('') } };
}
