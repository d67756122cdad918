/**
 * The login form's state and keys, without Ink: what each key does to the
 * form, for keys that arrive one by one or several in one chunk (fast typing,
 * a paste, automation: `carol\rsecret\r` is a username, Enter, a password,
 * Enter).
 */
import type { Key } from 'ink';
import { NO_KEY } from './key-chunks.js';

/** A field of the login form; `repeat` (the password again) only when registering. */
export type LoginField = 'server' | 'username' | 'password' | 'repeat';

export type LoginForm = {
  readonly mode: 'login' | 'register';
  readonly server: string;
  readonly username: string;
  readonly password: string;
  readonly repeat: string;
  readonly field: LoginField;
  /** What to tell the person about the form itself (passwords that differ), or null. */
  readonly problem: string | null;
};

/** What the keys asked for besides editing: send the form, or leave. */
export type LoginOutcome = { form: LoginForm; submit: boolean; quit: boolean };

export function initialLoginForm(server: string): LoginForm {
  return { mode: 'login', server, username: '', password: '', repeat: '', field: 'username', problem: null };
}

/** The fields shown in `mode`, top to bottom. */
export function loginFields(mode: LoginForm['mode']): LoginField[] {
  return mode === 'register' ? ['server', 'username', 'password', 'repeat'] : ['server', 'username', 'password'];
}

/**
 * The form after the server refused it (a wrong password, a name taken): the passwords are emptied and typed again, the cursor
 * on the password; what was typed in the other fields stays.
 */
export function afterRefusal(form: LoginForm): LoginForm {
  return { ...form, password: '', repeat: '', field: 'password', problem: null };
}

function move(form: LoginForm, step: number): LoginForm {
  const fields = loginFields(form.mode);
  const i = fields.indexOf(form.field) + step;
  return { ...form, field: fields[(i + fields.length) % fields.length] ?? 'username' };
}

function toggleMode(form: LoginForm): LoginForm {
  const mode = form.mode === 'login' ? 'register' : 'login';
  // Leaving register mode from its last field lands on the password.
  const field = mode === 'login' && form.field === 'repeat' ? 'password' : form.field;
  return { ...form, mode, field, repeat: '', problem: null };
}

/** Enter: the next field, or (on the last) a submit if the form is complete. */
function enter(form: LoginForm): LoginOutcome {
  const fields = loginFields(form.mode);
  if (form.field !== fields[fields.length - 1]) return { form: move(form, 1), submit: false, quit: false };
  if (form.username.trim() === '') return fail({ ...form, field: 'username' }, 'type a username');
  if (form.password === '') return fail({ ...form, field: 'password' }, 'type a password');
  if (form.mode === 'register' && form.repeat !== form.password) {
    return fail({ ...form, repeat: '', field: 'repeat' }, 'the two passwords differ; type it again');
  }
  return { form: { ...form, problem: null }, submit: true, quit: false };
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
