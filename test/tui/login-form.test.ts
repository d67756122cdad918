import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Key } from 'ink';
import { NO_KEY } from '../../src/tui/key-chunks.js';
import { afterRefusal, initialLoginForm, type LoginForm, loginKeys } from '../../src/tui/login-form.js';

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
    field: 'repeat',
    problem: null,
  };
  assert.deepEqual(afterRefusal(typed), { ...typed, password: '', repeat: '', field: 'password' });
});
