import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { codeIn, TestSmtp } from '../helpers/smtp.js';

// The terminal app's email confirmation screen against a server that requires an address and mails
// its codes to a real SMTP server: bin/natter runs dist/ (npm run build first).

const cleanup: (() => Promise<void>)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'natter-tui-mail-'));
after(async () => {
  for (const f of cleanup.reverse()) await f();
  rmSync(dir, { recursive: true, force: true });
});

test('a new account on a server that requires an address: the screen asks for the mailed code, says a wrong one is wrong, and the right one opens the chat', async () => {
  const smtp = await TestSmtp.start();
  cleanup.push(() => smtp.close());
  const t: TestServer = await startTestServer({ mail: smtp.settings({ requireEmail: true }) });
  cleanup.push(() => t.destroy());

  const username = uniqueName('mia');
  const address = `${username}@mail.example`;
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username, password: PASSWORD, email: address });
  const home = saveLogin(join(dir, username), t.wsUrl, reg);

  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(
      (s) =>
        /Confirm your email address/.test(s) &&
        /asks you to confirm an email address/.test(s) &&
        /m…@mail\.example/.test(s),
      'the confirmation screen, with where the code went',
    );
    await screen.waitFor(/can do nothing else/, 'why it must be confirmed');
    await screen.type('AAAA-AAAA\r', /wrong code; \d+ tries left/, "the server's refusal of a wrong code, in words");
    assert.match(await screen.waitFor(/code: AAAA-AAAA/, 'the wrong code kept in the field'), /code: AAAA-AAAA/);
    const code = codeIn(await smtp.mailTo(address));
    await screen.type(`\u0015${code.toLowerCase()}\r`, /address confirmed/, 'the notice once the code is right');
    await screen.waitFor(
      (s) => !/Confirm your email address/.test(s) && /connected/.test(s),
      'the chat screen in its place',
    );
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  const me = await api.call('whoami', {});
  assert.equal(me.user.email, address);
  assert.equal(me.user.confirmBy, undefined);
});

test('registering in the app where the server requires an address: the Email field, refused empty, then the code mailed to it confirms the account', async () => {
  const smtp = await TestSmtp.start();
  cleanup.push(() => smtp.close());
  const t: TestServer = await startTestServer({ mail: smtp.settings({ requireEmail: true }) });
  cleanup.push(() => t.destroy());

  const username = uniqueName('noa');
  const address = `${username}@mail.example`;
  const screen = new Screen({ NATTER_HOME: join(dir, username), NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/log in/, 'the login screen');
    await screen.type(
      '\u0012',
      (s) => /requires an email address/.test(s) && /Email/.test(s),
      'register mode, with what the server said of addresses and the Email field',
    );
    await screen.type(`${username}\r${PASSWORD}\r${PASSWORD}\r`, /› Email/, 'the cursor on the Email field');
    await screen.type('\r', /type your email address/, 'an empty address, refused in words');
    await screen.type(`${address}\r`, /Confirm your email address/, 'the confirmation screen for the new account');
    const code = codeIn(await smtp.mailTo(address));
    await screen.type(`${code}\r`, /address confirmed/, 'the notice once the code is right');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  const api = new HttpApi(t.httpUrl);
  const me = await api.call('login', { username, password: PASSWORD });
  assert.equal(me.user.email, address);
});
