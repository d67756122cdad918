import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { codeIn, TestSmtp } from '../helpers/smtp.js';
import { natter, removeTempDirs, tempDir } from './helpers.js';

/**
 * The mail commands through the built binary (npm run build first): serve's
 * mail flags, register --email, natter email, natter password reset and
 * natter admin mail, against a real SMTP server.
 */

let smtp: TestSmtp;
let t: TestServer;
before(async () => {
  smtp = await TestSmtp.start();
  t = await startTestServer({ mail: smtp.settings({ requireEmail: true }) });
});
after(async () => {
  await t.destroy();
  await smtp.close();
  removeTempDirs();
});

describe('natter serve with mail flags', () => {
  for (const [args, words] of [
    [['--smtp-url', 'smtp://127.0.0.1:2525'], /--smtp-url needs --mail-from/],
    [['--require-email'], /--require-email needs mail/],
    [['--mail-from', 'a@example.org'], /--mail-from goes with --smtp-url/],
    [
      ['--smtp-url', 'http://mail.example.org', '--mail-from', 'a@example.org'],
      /must start with smtp:\/\/ or smtps:\/\//,
    ],
    [
      ['--smtp-url', 'smtp://mail.example.org', '--mail-from', 'nobody'],
      /--mail-from "nobody" is not an email address/,
    ],
  ] as const) {
    test(`${args.join(' ')}: a usage error before anything is opened`, async () => {
      const data = tempDir();
      const r = await natter(['serve', '--port', '0', '--tcp-port', '0', '--data', data, ...args], {});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, words);
      assert.equal(existsSync(join(data, 'natter.db')), false, 'no database was made');
    });
  }
});

describe('the mail commands', () => {
  test('register needs --email here; the account confirms it with natter email verify, and whoami shows it', async () => {
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
    const name = uniqueName('cli');
    const missing = await natter(['register', name, '--password-stdin'], env, `${PASSWORD}\n`);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /requires an email address for new accounts: pass --email ADDRESS/);
    const to = `${name}@example.org`;
    const reg = await natter(['register', name, '--email', to, '--password-stdin'], env, `${PASSWORD}\n`);
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, /natter email verify CODE/);
    const blocked = await natter(['servers'], env);
    assert.equal(blocked.code, 1);
    assert.match(blocked.stderr, /email_unconfirmed: confirm your email address first/);
    const shown = await natter(['email'], env);
    assert.match(shown.stdout, new RegExp(`waiting +${to}`));
    const wrong = await natter(['email', 'verify', 'AAAA-AAAA'], env);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /invalid_code: (wrong code; 4 tries left|this code no longer works)/);
    const code = codeIn(await smtp.mailTo(to));
    const ok = await natter(['email', 'verify', code.toLowerCase()], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`${to} is confirmed`));
    assert.match((await natter(['whoami'], env)).stdout, new RegExp(`email +${to} \\(confirmed\\)`));
    assert.equal((await natter(['servers'], env)).code, 0);
    const again = await natter(['email', 'set', `other-${to}`], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /a code was mailed to other-/);
    const early = await natter(['email', 'resend'], env);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /rate_limited: a code was mailed less than a minute ago/);
  });

  test('password reset: a code by mail, then --code with the remembered name; the old session is logged out', async () => {
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
    const name = uniqueName('rst');
    const to = `${name}@example.org`;
    await natter(['register', name, '--email', to, '--password-stdin'], env, `${PASSWORD}\n`);
    await natter(['email', 'verify', codeIn(await smtp.mailTo(to))], env);
    const other = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
    const asked = await natter(['password', 'reset', name], other);
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stdout, /if .* has a confirmed email address, a reset code was mailed to it/);
    const nobody = await natter(['password', 'reset', uniqueName('nobody')], {
      NATTER_SERVER: t.wsUrl,
      NATTER_HOME: tempDir(),
    });
    assert.equal(nobody.code, 0);
    const code = codeIn(await smtp.mailTo(to, 2));
    const noName = await natter(
      ['password', 'reset', '--code', code, '--password-stdin'],
      {
        NATTER_SERVER: t.wsUrl,
        NATTER_HOME: tempDir(),
      },
      'a brand new secret\n',
    );
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /add --user USERNAME/);
    const done = await natter(['password', 'reset', '--code', code, '--password-stdin'], other, 'a brand new secret\n');
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /1 session\(s\) logged out/);
    assert.equal((await natter(['whoami'], env)).code, 3, 'the old session is gone');
    const login = await natter(['login', name, '--password-stdin'], env, 'a brand new secret\n');
    assert.equal(login.code, 0, login.stderr);
  });

  test('natter admin mail shows the counts and no code', async () => {
    const r = await natter(['admin', 'mail', '--json'], {
      NATTER_DATA: t.dataDir,
      ...(t.database ? { NATTER_DATABASE: t.database.url } : {}),
    });
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { pending: number; sent: number; failed: number; failures: unknown[] };
    assert.ok(got.sent >= 3, `${got.sent} sent`);
    const human = await natter(['admin', 'mail'], {
      NATTER_DATA: t.dataDir,
      ...(t.database ? { NATTER_DATABASE: t.database.url } : {}),
    });
    assert.match(human.stdout, /\d+ waiting, \d+ sent, 0 given up/);
    assert.doesNotMatch(human.stdout + r.stdout, /[A-Z0-9]{4}-[A-Z0-9]{4}/);
  });
});
