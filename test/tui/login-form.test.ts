import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Key } from 'ink';
import { NO_KEY } from '../../src/tui/key-chunks.js';
import {
  afterRefusal,
  emailToSend,
  initialLoginForm,
  inviteToSend,
  type LoginForm,
  loginFields,
  loginKeys,
  type RegistrationMode,
  registrationOf,
  withRegistration,
} from '../../src/tui/login-form.js';

const NONE: Key = NO_KEY;

/** Feeds `chunks` as Ink delivers unflagged text chunks. */
function feed(form: LoginForm, ...chunks: string[]) {
  let out = { form, submit: false, quit: false };
  for (const c of chunks) out = loginKeys(out.form, c, NONE);
  return out;
}

describe('login form keys', () => {
  test('a chunk "carol\\rsecret\\r" is the username, Enter, the password, Enter: the form is sent', () => {
    const out = feed(initialLoginForm('ws://x'), 'carol\rsecret\r');
    assert.equal(out.form.username, 'carol');
    assert.equal(out.form.password, 'secret');
    assert.equal(out.submit, true);
  });

  test('the same keys in two chunks, or one by one, give the same form', () => {
    const two = feed(initialLoginForm('ws://x'), 'carol\r', 'secret\r');
    const each = feed(initialLoginForm('ws://x'), ...'carol\rsecret\r');
    for (const out of [two, each]) {
      assert.equal(out.form.username, 'carol');
      assert.equal(out.form.password, 'secret');
      assert.equal(out.submit, true);
    }
  });

  test('keys after the submit in the same chunk are dropped; LF counts as Enter', () => {
    const out = feed(initialLoginForm('ws://x'), 'bob\nhunter22\nextra');
    assert.equal(out.submit, true);
    assert.equal(out.form.password, 'hunter22');
  });

  test('DEL erases one character (a whole emoji), Ctrl-U the field; escape sequences in a chunk are not text', () => {
    const out = feed(initialLoginForm('ws://x'), 'al😀\u007fice\u001b[A', '\u0015ann');
    assert.equal(out.form.username, 'ann');
    const arrows = feed(initialLoginForm('ws://x'), 'ab\u001b[Dc');
    assert.equal(arrows.form.username, 'abc');
  });

  test('an empty username or password is not sent, with the reason', () => {
    const empty = feed(initialLoginForm('ws://x'), '\r\r');
    assert.equal(empty.submit, false);
    assert.equal(empty.form.problem, 'type a username');
    assert.equal(empty.form.field, 'username');
    const noPassword = feed(initialLoginForm('ws://x'), 'carol\r\r');
    assert.equal(noPassword.submit, false);
    assert.equal(noPassword.form.problem, 'type a password');
  });

  test('register asks for the password twice and refuses two that differ, clearing the second', () => {
    const start = loginKeys(initialLoginForm('ws://x'), 'r', { ...NONE, ctrl: true }).form;
    assert.equal(start.mode, 'register');
    const differ = feed(start, 'erin\rpass-word-1\rpass-word-2\r');
    assert.equal(differ.submit, false);
    assert.equal(differ.form.problem, 'the two passwords differ; type it again');
    assert.equal(differ.form.repeat, '');
    assert.equal(differ.form.field, 'repeat');
    const same = feed(differ.form, 'pass-word-1\r');
    assert.equal(same.submit, true);
    assert.equal(same.form.problem, null);
  });

  test('Ctrl-C in a chunk quits; Tab and arrows move between fields, wrapping', () => {
    assert.equal(feed(initialLoginForm('ws://x'), 'ab\u0003cd').quit, true);
    const up = loginKeys(initialLoginForm('ws://x'), '', { ...NONE, upArrow: true });
    assert.equal(up.form.field, 'server');
    const wrap = loginKeys(up.form, '', { ...NONE, upArrow: true });
    assert.equal(wrap.form.field, 'password');
    assert.equal(feed(initialLoginForm('ws://x'), '\t').form.field, 'password');
  });
});

test('after the server refuses the form, the passwords are emptied and the cursor is on the password; the rest stays', () => {
  const typed: LoginForm = {
    mode: 'register',
    server: 'ws://chat.example:7700',
    username: 'carol',
    password: 'hunter22',
    repeat: 'hunter22',
    invite: '',
    email: '',
    field: 'repeat',
    problem: null,
    registration: null,
  };
  assert.deepEqual(afterRefusal(typed), { ...typed, password: '', repeat: '', field: 'password' });
});

describe('the invite code, where the server takes new accounts only with one', () => {
  const CTRL_R: Key = { ...NONE, ctrl: true };
  /** The form in register mode on ws://x, the server having said `mode` (or nothing yet). */
  function registering(mode?: RegistrationMode): LoginForm {
    const form = loginKeys(initialLoginForm('ws://x'), 'r', CTRL_R).form;
    return mode === undefined ? form : withRegistration(form, 'ws://x', mode);
  }

  test('the invite field shows once the server says invite, last, and only in register mode', () => {
    assert.deepEqual(loginFields('register', null), ['server', 'username', 'password', 'repeat']);
    assert.deepEqual(loginFields('register', 'open'), ['server', 'username', 'password', 'repeat']);
    assert.deepEqual(loginFields('register', 'invite'), ['server', 'username', 'password', 'repeat', 'invite']);
    assert.deepEqual(loginFields('login', 'invite'), ['server', 'username', 'password']);
    const form = registering('invite');
    assert.equal(registrationOf(form), 'invite');
    assert.equal(registrationOf(loginKeys(form, 'r', CTRL_R).form), 'invite', 'kept across login and back');
  });

  test('Enter on the repeated password goes on to the invite code; the code is sent, trimmed, with the form', () => {
    const out = feed(registering('invite'), 'erin\rpass-word-1\rpass-word-1\r');
    assert.equal(out.submit, false);
    assert.equal(out.form.field, 'invite');
    const sent = feed(out.form, ' k7Hq2XpL9mZt \r');
    assert.equal(sent.submit, true);
    assert.equal(sent.form.invite, ' k7Hq2XpL9mZt ');
    assert.equal(inviteToSend(sent.form), 'k7Hq2XpL9mZt');
    // Elsewhere no code is sent: logging in, or registering where anyone may.
    assert.equal(inviteToSend(loginKeys(sent.form, 'r', CTRL_R).form), null);
    assert.equal(inviteToSend(withRegistration(sent.form, 'ws://x', 'open')), null);
  });

  test('an empty code is not sent, with the reason, the cursor on it', () => {
    const out = feed(registering('invite'), 'erin\rpass-word-1\rpass-word-1\r\r');
    assert.equal(out.submit, false);
    assert.equal(out.form.field, 'invite');
    assert.equal(
      out.form.problem,
      'type an invite code: this server takes new accounts only with one (ask someone on it)',
    );
  });

  test('an answer about another address than the one typed now is not taken; one that drops the field moves the cursor', () => {
    const elsewhere = withRegistration({ ...registering(), server: 'ws://y' }, 'ws://x', 'invite');
    assert.equal(elsewhere.registration, null);
    const onInvite = { ...registering('invite'), field: 'invite' as const };
    const reopened = withRegistration(onInvite, 'ws://x', 'open');
    assert.equal(reopened.field, 'password');
    // The address changed after the answer: the answer no longer counts, the field goes.
    assert.equal(registrationOf({ ...registering('invite'), server: 'ws://x:7000' }), null);
  });

  test('a closed server: the form says so instead of sending', () => {
    const out = feed(registering('closed'), 'erin\rpass-word-1\rpass-word-1\r');
    assert.equal(out.submit, false);
    assert.equal(out.form.problem, 'this server is not accepting new accounts; Ctrl-R to log in instead');
  });

  test('refused for the code (needed, or unusable): the invite field shows with the cursor on it, the passwords kept', () => {
    const sent = feed(registering(), 'erin\rpass-word-1\rpass-word-1\r');
    assert.equal(sent.submit, true, 'not known to need a code: sent without one');
    const refused = afterRefusal(sent.form, 'params.invite');
    assert.equal(refused.field, 'invite');
    assert.equal(registrationOf(refused), 'invite');
    assert.deepEqual([refused.password, refused.repeat], ['pass-word-1', 'pass-word-1']);
    const again = feed(refused, 'k7Hq2XpL9mZt\r');
    assert.equal(again.submit, true);
    assert.equal(inviteToSend(again.form), 'k7Hq2XpL9mZt');
  });

  test('leaving register mode from the invite field lands on the password', () => {
    const onInvite = { ...registering('invite'), field: 'invite' as const };
    assert.equal(loginKeys(onInvite, 'r', CTRL_R).form.field, 'password');
  });
});

test('registering where the server requires an email address: an Email field, refused empty in words, sent once typed', () => {
  const url = 'ws://chat.example:7700';
  let form = withRegistration({ ...initialLoginForm(url), mode: 'register' }, url, 'open', 'required');
  assert.deepEqual(loginFields('register', 'open', 'required'), ['server', 'username', 'password', 'repeat', 'email']);
  form = loginKeys(form, `dora\r${'pw-long-1'}\r${'pw-long-1'}\r`, NO_KEY).form;
  assert.equal(form.field, 'email');
  const empty = loginKeys(form, '\r', NO_KEY);
  assert.equal(empty.submit, false);
  assert.match(empty.form.problem ?? '', /requires one/);
  const typed = loginKeys(form, 'dora@mail.example\r', NO_KEY);
  assert.equal(typed.submit, true);
  assert.equal(emailToSend(typed.form), 'dora@mail.example');
});

test('an optional email address may stay empty; a server without mail has no Email field', () => {
  const url = 'ws://chat.example:7700';
  let form = withRegistration({ ...initialLoginForm(url), mode: 'register' }, url, 'open', 'optional');
  form = loginKeys(form, 'dora\rpw-long-1\rpw-long-1\r\r', NO_KEY).form;
  assert.equal(emailToSend(form), null);
  assert.deepEqual(loginFields('register', 'open', null), ['server', 'username', 'password', 'repeat']);
  assert.equal(emailToSend({ ...form, mode: 'login', email: 'x@y.example' }), null);
});
