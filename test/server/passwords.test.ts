import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { COMMON_PASSWORDS } from '../../src/server/common-passwords.js';
import { openApi, PASSWORD, rejection, TRANSPORTS, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
});

describe('weak passwords', () => {
  test('the blocklist is a few hundred passwords of 8 or more characters, in lower case', () => {
    assert.ok(COMMON_PASSWORDS.size >= 200 && COMMON_PASSWORDS.size <= 500, `${COMMON_PASSWORDS.size}`);
    for (const pw of ['password', '12345678', 'qwertyuiop', 'iloveyou', 'password1'])
      assert.ok(COMMON_PASSWORDS.has(pw), pw);
    for (const pw of COMMON_PASSWORDS) {
      assert.ok([...pw].length >= 8, pw);
      assert.equal(pw, pw.toLowerCase());
    }
  });

  for (const transport of TRANSPORTS) {
    test(`are refused at register with the reason, on params.password, and no account is made (${transport})`, async () => {
      const api = await openApi(t, transport);
      const username = uniqueName('weak');
      for (const [password, reason] of [
        ['password', 'password is too common; choose another'],
        ['12345678', 'password is too common; choose another'],
        ['QwertyUIOP', 'password is too common; choose another'],
        ['iloveyou', 'password is too common; choose another'],
        ['password1', 'password is too common; choose another'],
        ['P@ssw0rd!', 'password is too common; choose another'],
        ['Superman2024', 'password is too common; choose another'],
        ['!!iloveyou!!', 'password is too common; choose another'],
        ['123456789', 'password is a run of letters, digits or keys in order; choose another'],
        ['hgfedcba', 'password is a run of letters, digits or keys in order; choose another'],
        ['poiuytrewq!', 'password is a run of letters, digits or keys in order; choose another'],
        ['aaaaaaaaaa', 'password has fewer than 4 different characters; choose another'],
        ['abABabAB', 'password has fewer than 4 different characters; choose another'],
        ['        ', 'password is only spaces; choose another'],
        ['\u2003 \u3000   \u00a0 ', 'password is only spaces; choose another'],
        ['pass\tword 12', 'password contains a control character or a line break; choose another'],
        ['\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b', 'password is only spaces; choose another'],
        ['\u2800\u2800\u2800\u2800\u3164\u3164\u3164\u3164', 'password is only spaces; choose another'],
        ['correct\nhorse battery', 'password contains a control character or a line break; choose another'],
        [username.toUpperCase(), 'password is your username; choose another'],
        [`xx${username}yy`, 'password contains your username; choose another'],
      ]) {
        const err = await rejection(api.call('register', { username, password: password as string }));
        assert.equal(err.code, 'bad_request', JSON.stringify(password));
        assert.equal(err.field, 'params.password');
        assert.equal(err.message, reason);
      }
      // No account was made: the name is still free.
      assert.equal((await api.call('register', { username, password: PASSWORD })).user.username, username);
      api.close();
      // A username under 4 characters may appear inside a password: it is in too many words.
      const short = `x${transport.slice(0, 1)}`;
      const other = await openApi(t, transport);
      const reg = await other.call('register', { username: short, password: `grab ${short} the lantern` });
      assert.equal(reg.user.username, short);
      // Strong passwords with digits, symbols and spaces pass, in any script.
      for (const [i, password] of ['tr0ub4dor&3x', 'Wolke sieben über Köln', 'ключ от сарая 42'].entries()) {
        const more = await openApi(t, transport);
        const name = uniqueName(`ok${i}`);
        assert.equal((await more.call('register', { username: name, password })).user.username, name);
        more.close();
      }
      other.close();
    });

    test(`are refused at password.change on params.newPassword; the old password still works (${transport})`, async () => {
      const api = await openApi(t, transport);
      const username = uniqueName('changer');
      await api.call('register', { username, password: PASSWORD });
      for (const [newPassword, reason] of [
        ['iloveyou', 'new password is too common; choose another'],
        ['          ', 'new password is only spaces; choose another'],
        [`${username}!!`, 'new password contains your username; choose another'],
      ]) {
        const err = await rejection(
          api.call('password.change', { currentPassword: PASSWORD, newPassword: newPassword as string }),
        );
        assert.equal(err.code, 'bad_request');
        assert.equal(err.field, 'params.newPassword');
        assert.equal(err.message, reason);
      }
      const again = await openApi(t, 'http');
      await again.call('login', { username, password: PASSWORD });
      api.close();
    });
  }
});
