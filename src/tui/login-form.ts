/**
 * The login form's state and keys, without Ink: what each key does to the
 * form, for keys that arrive one by one or several in one chunk (fast typing,
 * a paste, automation: `carol\rsecret\r` is a username, Enter, a password,
 * Enter).
 */
import type { Key } from 'ink';
import type { RegistrationMode } from '../protocol/schemas.js';
import { NO_KEY } from './key-chunks.js';

/**
 * A field of the login form; `repeat` (the password again) only when
 * registering, and `invite` when registering on a server that takes new
 * accounts by invite only.
 */
export type LoginField = 'server' | 'username' | 'password' | 'repeat' | 'email' | 'invite';

/** Whether the server sends mail, as its `hello` said: an address may be given, or must be. */
export type MailMode = 'optional' | 'required';

export type { RegistrationMode };

export type LoginForm = {
  readonly mode: 'login' | 'register';
  readonly server: string;
  readonly username: string;
  readonly password: string;
  readonly repeat: string;
  /** An invite code of one of the server's communities (registering where the server asks for one). */
  readonly invite: string;
  /** An email address to confirm (registering where the server sends mail; required where it says so). */
  readonly email: string;
  readonly field: LoginField;
  /** What to tell the person about the form itself (passwords that differ), or null. */
  readonly problem: string | null;
  /** Who may register on `server`, as its `hello` said (asked when the form turns to registering), or null. */
  readonly registration: { readonly server: string; readonly mode: RegistrationMode; readonly mail?: MailMode } | null;
};

/** What the keys asked for besides editing: send the form, or leave. */
export type LoginOutcome = { form: LoginForm; submit: boolean; quit: boolean };

export function initialLoginForm(server: string): LoginForm {
  return {
    mode: 'login',
    server,
    username: '',
    password: '',
    repeat: '',
    invite: '',
    email: '',
    field: 'username',
    problem: null,
    registration: null,
  };
}

/** Who may register on the server the form names now, when its `hello` has said so; else null. */
export function registrationOf(form: LoginForm): RegistrationMode | null {
  return form.registration !== null && form.registration.server === form.server ? form.registration.mode : null;
}

/**
 * The fields shown in `mode`, top to bottom: the invite code last, when
 * registering on a server that takes new accounts by invite only.
 */
export function loginFields(
  mode: LoginForm['mode'],
  registration: RegistrationMode | null = null,
  mail: MailMode | null = null,
): LoginField[] {
  if (mode === 'login') return ['server', 'username', 'password'];
  const fields: LoginField[] = ['server', 'username', 'password', 'repeat'];
  if (mail !== null) fields.push('email');
  if (registration === 'invite') fields.push('invite');
  return fields;
}

/** Whether the server the form names now sends mail (an address optional or required), when its `hello` said; else null. */
export function mailOf(form: LoginForm): MailMode | null {
  return form.registration !== null && form.registration.server === form.server
    ? (form.registration.mail ?? null)
    : null;
}

function fieldsOf(form: LoginForm): LoginField[] {
  return loginFields(form.mode, registrationOf(form), mailOf(form));
}

/**
 * The form once the server at `server` has said who may register there
 * (its `hello`). Kept only while the form still names that server: a
 * person who changed the address meanwhile is asking about another one.
 */
export function withRegistration(
  form: LoginForm,
  server: string,
  mode: RegistrationMode,
  mail: MailMode | null = null,
): LoginForm {
  if (form.server !== server) return form;
  const next = { ...form, registration: mail === null ? { server, mode } : { server, mode, mail } };
  // The invite field went away under the cursor (the server stopped asking for codes): back to the password.
  return fieldsOf(next).includes(next.field) ? next : { ...next, field: 'password' };
}

/**
 * The form after the server refused it. A wrong password or a name taken:
 * the passwords are emptied and typed again, the cursor on the password; what
 * was typed in the other fields stays. A refusal about the invite code
 * (`field` is `params.invite`: a code is needed, or this one cannot be used)
 * says the server wants one: the invite field shows, the cursor on it, the
 * passwords kept.
 */
export function afterRefusal(form: LoginForm, field?: string): LoginForm {
  if (field === 'params.invite' && form.mode === 'register') {
    const mail = mailOf(form);
    const registration = { server: form.server, mode: 'invite' as const, ...(mail !== null ? { mail } : {}) };
    return { ...form, registration, field: 'invite', problem: null };
  }
  if (field === 'params.email' && form.mode === 'register') return { ...form, field: 'email', problem: null };
  return { ...form, password: '', repeat: '', field: 'password', problem: null };
}

function move(form: LoginForm, step: number): LoginForm {
  const fields = fieldsOf(form);
  const i = fields.indexOf(form.field) + step;
  return { ...form, field: fields[(i + fields.length) % fields.length] ?? 'username' };
}

function toggleMode(form: LoginForm): LoginForm {
  const mode = form.mode === 'login' ? 'register' : 'login';
  // Leaving register mode from one of its own fields lands on the password.
  const field =
    mode === 'login' && (form.field === 'repeat' || form.field === 'invite' || form.field === 'email')
      ? 'password'
      : form.field;
  return { ...form, mode, field, repeat: '', problem: null };
}

/** Enter: the next field, or (on the last) a submit if the form is complete. */
function enter(form: LoginForm): LoginOutcome {
  const fields = fieldsOf(form);
  if (form.field !== fields[fields.length - 1]) return { form: move(form, 1), submit: false, quit: false };
  const registration = form.mode === 'register' ? registrationOf(form) : null;
  if (registration === 'closed') {
    return fail(form, 'this server is not accepting new accounts; Ctrl-R to log in instead');
  }
  if (form.username.trim() === '') return fail({ ...form, field: 'username' }, 'type a username');
  if (form.password === '') return fail({ ...form, field: 'password' }, 'type a password');
  if (form.mode === 'register' && form.repeat !== form.password) {
    return fail({ ...form, repeat: '', field: 'repeat' }, 'the two passwords differ; type it again');
  }
  if (form.mode === 'register' && mailOf(form) === 'required' && form.email.trim() === '') {
    return fail(
      { ...form, field: 'email' },
      'type your email address: this server requires one (a code is mailed to it to confirm it)',
    );
  }
  if (registration === 'invite' && form.invite.trim() === '') {
    return fail(
      { ...form, field: 'invite' },
      'type an invite code: this server takes new accounts only with one (ask someone on it)',
    );
  }
  return { form: { ...form, problem: null }, submit: true, quit: false };
}

/** The invite code to send with the form: the typed one where the server asks for one, else none. */
export function inviteToSend(form: LoginForm): string | null {
  return form.mode === 'register' && registrationOf(form) === 'invite' ? form.invite.trim() : null;
}

/** The email address to send with the form: the typed one where the server sends mail, else none. */
export function emailToSend(form: LoginForm): string | null {
  return form.mode === 'register' && mailOf(form) !== null && form.email.trim() !== '' ? form.email.trim() : null;
}

function fail(form: LoginForm, problem: string): LoginOutcome {
  return { form: { ...form, problem }, submit: false, quit: false };
}

function edit(form: LoginForm, f: (value: string) => string): LoginForm {
  return { ...form, [form.field]: f(form[form.field]), problem: null };
}

/** One key with Ink's flags. */
function oneKey(form: LoginForm, input: string, key: Key): LoginOutcome {
  const same = (next: LoginForm): LoginOutcome => ({ form: next, submit: false, quit: false });
  if (key.ctrl && input === 'c') return { form, submit: false, quit: true };
  if (key.tab && key.shift) return same(move(form, -1));
  if (key.upArrow) return same(move(form, -1));
  if (key.downArrow || key.tab) return same(move(form, 1));
  if (key.return) return enter(form);
  if (key.backspace || key.delete) return same(edit(form, (v) => [...v].slice(0, -1).join('')));
  if (key.ctrl && input === 'r') return same(toggleMode(form));
  if (key.ctrl && input === 'u') return same(edit(form, () => ''));
  if (key.ctrl || key.meta || key.escape || input === '') return same(form);
  return same(edit(form, (v) => v + input));
}

/**
 * Applies what Ink delivered (one key, or a chunk of several) to the form.
 * In a chunk every CR or LF is Enter, Tab moves on, DEL and BS erase, and
 * Ctrl-letters act; keys after a submit are dropped (the form is busy then).
 */
export function loginKeys(form: LoginForm, input: string, key: Key): LoginOutcome {
  const flagged = Object.entries(key).some(([, v]) => v === true);
  if (flagged) return oneKey(form, input, key);
  let out: LoginOutcome = { form, submit: false, quit: false };
  let text = '';
  // Escape sequences (arrows, function keys) inside a chunk are not text.
  const keys = input.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001bO.|\u001b./g, '');
  const flush = () => {
    if (text) out = { ...oneKey(out.form, text, NO_KEY), submit: out.submit, quit: out.quit };
    text = '';
  };
  for (const ch of keys) {
    if (out.submit || out.quit) break;
    const code = ch.codePointAt(0) ?? 0;
    let step: Key | null = null;
    let stepInput = '';
    if (ch === '\r' || ch === '\n') step = { ...NO_KEY, return: true };
    else if (ch === '\t') step = { ...NO_KEY, tab: true };
    else if (code === 0x7f || code === 0x08) step = { ...NO_KEY, backspace: true };
    else if (code >= 1 && code <= 26) {
      step = { ...NO_KEY, ctrl: true };
      stepInput = String.fromCharCode(code + 96);
    } else if (code < 0x20 || code === 0x1b) step = NO_KEY;
    if (step === null) {
      text += ch;
      continue;
    }
    flush();
    if (step !== NO_KEY) {
      const next = oneKey(out.form, stepInput, step);
      out = { form: next.form, submit: next.submit, quit: next.quit };
    }
  }
  if (!out.submit && !out.quit) flush();
  return out;
}
