import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { confirmKeys, confirmOf, maskedAddress, screenWords, waitText } from '../../src/tui/email-confirm.js';
import { NO_KEY } from '../../src/tui/key-chunks.js';
import { initialState, reduce } from '../../src/tui/reducer.js';

const KEY = { ...NO_KEY };
const ENTER = { ...NO_KEY, return: true };
const ESC = { ...NO_KEY, escape: true };
const TAB = { ...NO_KEY, tab: true };
const BACKSPACE = { ...NO_KEY, backspace: true };
const CTRL = { ...NO_KEY, ctrl: true };

const required = () => {
  const c = confirmOf({ pendingEmail: 'alice@mail.example', confirmBy: Date.now() + 86_400_000 });
  assert.ok(c);
  return c;
};

describe('email confirmation screen', () => {
  test('a required address shows the screen at once; an optional one waits hidden; none, no screen', () => {
    assert.equal(required().hidden, false);
    assert.equal(required().required, true);
    const optional = confirmOf({ pendingEmail: 'a@x.example' });
    assert.equal(optional?.hidden, true);
    assert.equal(optional?.required, false);
    assert.equal(confirmOf({ pendingEmail: null }), null);
  });

  test('the code is typed, corrected, and Enter submits it; an empty one is refused in words', () => {
    let c = required();
    assert.deepEqual(confirmKeys(c, '', ENTER).submit, undefined);
    assert.equal(confirmKeys(c, '', ENTER).confirm.error, 'type the code from the mail first');
    c = confirmKeys(c, 'abcd-efgx', KEY).confirm;
    c = confirmKeys(c, '', BACKSPACE).confirm;
    c = confirmKeys(c, 'h', KEY).confirm;
    assert.equal(c.code, 'abcd-efgh');
    const step = confirmKeys(c, '', ENTER);
    assert.equal(step.submit, 'verify');
  });

  test('control characters and line breaks pasted into the field do not reach it', () => {
    const c = confirmKeys(required(), 'ab\u001b[31mcd\r\n\u202eef', KEY).confirm;
    assert.doesNotMatch(c.code, /[\u001b\r\n\u202e]/);
  });

  test('Esc hides an optional screen but not a required one; it leaves the address field first', () => {
    const optional = { ...required(), required: false, hidden: false };
    assert.equal(confirmKeys(optional, '', ESC).hide, true);
    assert.equal(confirmKeys(required(), '', ESC).hide, undefined);
    assert.equal(confirmKeys(required(), '', ESC).confirm.hidden, false);
    const changing = confirmKeys(required(), '', TAB).confirm;
    assert.equal(changing.field, 'address');
    const back = confirmKeys(changing, '', ESC);
    assert.equal(back.confirm.field, 'code');
    assert.equal(back.hide, undefined);
  });

  test('Ctrl-R asks for a new code; Tab, an address typed and Enter, a change of address', () => {
    assert.equal(confirmKeys(required(), 'r', CTRL).submit, 'resend');
    let c = confirmKeys(required(), '', TAB).confirm;
    c = confirmKeys(c, 'new@mail.example', KEY).confirm;
    const step = confirmKeys(c, '', ENTER);
    assert.equal(step.submit, 'change');
    assert.equal(step.confirm.newAddress, 'new@mail.example');
  });

  test('keys wait while a request is under way', () => {
    const busy = { ...required(), busy: true };
    assert.equal(confirmKeys(busy, 'x', KEY).confirm, busy);
    assert.equal(confirmKeys(busy, '', ENTER).submit, undefined);
  });

  test('an address is shown by its first letter and its domain, sanitized', () => {
    assert.equal(maskedAddress('alice@mail.example'), 'a…@mail.example');
    assert.doesNotMatch(maskedAddress('\u001b[2Jbob@x\u202e.example'), /[\u001b\u202e]/);
  });

  test("the server's advice to run a command is said as the screen's key", () => {
    assert.equal(
      screenWords('this code has expired: natter email resend mails a new one'),
      'this code has expired: Ctrl-R mails a new one',
    );
  });

  test('a wait is said in seconds, minutes or hours', () => {
    assert.equal(waitText(1000, 2000), 'now');
    assert.equal(waitText(42_000, 0), 'in 42 s');
    assert.equal(waitText(600_000, 0), 'in 10 min');
    assert.equal(waitText(86_400_000, 0), 'in 24 h');
  });
});

describe('reducer: email confirmation', () => {
  const base = () => reduce(initialState('ws://x'), { type: 'confirm-needed', confirm: required() });

  test('a wrong code keeps what was typed and says why; the cooldown is kept', () => {
    let s = reduce(base(), { type: 'confirm-edit', confirm: { ...required(), code: 'WRONG-CODE' } });
    s = reduce(s, { type: 'confirm-result', result: { kind: 'busy' } });
    assert.equal(s.confirm?.busy, true);
    s = reduce(s, { type: 'confirm-result', result: { kind: 'refused', error: 'that code is wrong', retryAt: 5000 } });
    assert.equal(s.confirm?.busy, false);
    assert.equal(s.confirm?.code, 'WRONG-CODE');
    assert.equal(s.confirm?.error, 'that code is wrong');
    assert.equal(s.confirm?.retryAt, 5000);
  });

  test('a new code mailed empties the field and names the address it went to', () => {
    let s = reduce(base(), { type: 'confirm-edit', confirm: { ...required(), code: 'OLD' } });
    s = reduce(s, { type: 'confirm-result', result: { kind: 'mailed', address: 'bob@other.example', retryAt: null } });
    assert.equal(s.confirm?.address, 'bob@other.example');
    assert.equal(s.confirm?.code, '');
    assert.equal(s.confirm?.info, 'a new code was mailed to b…@other.example');
  });

  test('the same address again (a reconnect) keeps what was typed; no address closes the screen', () => {
    let s = reduce(base(), { type: 'confirm-edit', confirm: { ...required(), code: 'ABCD' } });
    s = reduce(s, { type: 'confirm-needed', confirm: required() });
    assert.equal(s.confirm?.code, 'ABCD');
    s = reduce(s, { type: 'confirm-needed', confirm: null });
    assert.equal(s.confirm, null);
  });

  test('a hidden screen comes back; confirmed closes it with a notice', () => {
    let s = reduce(base(), { type: 'confirm-edit', confirm: { ...required(), hidden: true } });
    s = reduce(s, { type: 'confirm-show' });
    assert.equal(s.confirm?.hidden, false);
    s = reduce(s, { type: 'confirmed', address: 'alice@mail.example\u001b[31m' });
    assert.equal(s.confirm, null);
    assert.equal(s.notice?.level, 'info');
    assert.equal(s.notice?.text, 'address confirmed: alice@mail.example␛[31m');
  });
});
