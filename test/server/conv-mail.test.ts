import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import type { BreakerState } from '../../src/server/breaker.js';
import type { MailSettings } from '../../src/server/config.js';
import { runMaintenance } from '../../src/server/maintenance.js';
import { closeCodeOf, connectAs, connectClient, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { codeIn, TestSmtp } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Email addresses, confirmation codes, password reset and the mail outbox,
 * against a real SMTP server (smtp-server on a free port) whose mail is read
 * back for its code. The server's clock is moved instead of waiting. Runs on
 * PostgreSQL too (NATTER_TEST_DATABASE=postgres).
 */

const HOUR = 3_600_000;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

type Setup = { t: TestServer; smtp: TestSmtp; later(ms: number): void };

/** A server sending mail to a fresh SMTP server, with a clock tests move forward. */
async function mailServer(settings: Partial<MailSettings> = {}, limits = {}): Promise<Setup> {
  const smtp = await TestSmtp.start();
  let offset = 0;
  const t = await startTestServer({ mail: smtp.settings(settings), clock: () => Date.now() + offset, limits });
  cleanup.push(
    () => t.destroy(),
    () => smtp.close(),
  );
  return {
    t,
    smtp,
    later: (ms) => {
      offset += ms;
    },
  };
}

async function account(t: TestServer, params: { email?: string } = {}) {
  const api = new HttpApi(t.httpUrl);
  const username = uniqueName('mail');
  const res = await api.call('register', { username, password: PASSWORD, ...params });
  return { api, username, id: res.user.id, token: res.token, res };
}

const address = () => `${uniqueName('p')}@Example.ORG`;
const stored = (a: string) => a.replace(/@.*/, '@example.org');

async function code(p: Promise<unknown>): Promise<string> {
  return (await rejection(p)).code;
}

describe('a server without mail', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    cleanup.push(() => t.destroy());
  });

  test('says so in hello, and every email operation answers mail_unavailable', async () => {
    const c = await connectClient(t.wsUrl);
    assert.equal(c.hello.mail, false);
    assert.equal(c.hello.emailRequired, false);
    c.close();
    const { api, username } = await account(t);
    assert.equal((await api.call('whoami', {})).user.email, null);
    const anon = new HttpApi(t.httpUrl);
    for (const call of [
      () => api.call('email.set', { address: 'a@example.org' }),
      () => api.call('email.verify', { code: 'AAAA-AAAA' }),
      () => anon.call('password.resetRequest', { username }),
      () => anon.call('register', { username: uniqueName('m'), password: PASSWORD, email: 'x@example.org' }),
    ]) {
      const err = await rejection(call());
      assert.equal(err.code, 'mail_unavailable');
      assert.match(err.message, /does not send mail/);
    }
  });
});

describe('confirming an address', () => {
  let s: Setup;
  before(async () => {
    s = await mailServer();
  });

  test('email set mails a code; the address is confirmed with it, typed in any case, with or without its dash', async () => {
    const { api } = await account(s.t);
    const to = address();
    const set = await api.call('email.set', { address: to });
    assert.equal(set.user.email, null);
    assert.equal(set.user.pendingEmail, stored(to));
    const mail = await s.smtp.mailTo(stored(to));
    assert.equal(mail.from, 'natter@example.org');
    assert.match(mail.text, /works once, for 24 hours/);
    assert.match(mail.text, /ignore this mail/);
    const typed = codeIn(mail).replace('-', '').toLowerCase();
    const me = (await api.call('whoami', {})).user;
    assert.deepEqual([me.email, me.pendingEmail], [null, stored(to)]);
    const verified = await api.call('email.verify', { code: typed });
    assert.equal(verified.user.email, stored(to));
    const after = (await api.call('whoami', {})).user;
    assert.deepEqual([after.email, after.pendingEmail], [stored(to), null]);
    // Single use: the code is spent.
    assert.equal(await code(api.call('email.verify', { code: codeIn(mail) })), 'invalid_code');
  });

  test('a malformed address is refused in words, and nothing is mailed', async () => {
    const { api } = await account(s.t);
    const before = s.smtp.mails.length;
    for (const bad of ['no-at-sign', 'two@@example.org', 'a b@example.org', 'a@localhost', `a@exa\u0007mple.org`]) {
      const err = await rejection(api.call('email.set', { address: bad }));
      assert.equal(err.code, 'bad_request', bad);
    }
    assert.equal(s.smtp.mails.length, before);
  });

  test('a new address replaces the confirmed one only once confirmed', async () => {
    const { api } = await account(s.t);
    const first = address();
    await api.call('email.set', { address: first });
    await api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(first))) });
    s.later(61_000);
    const second = address();
    await api.call('email.set', { address: second });
    const mid = (await api.call('whoami', {})).user;
    assert.deepEqual([mid.email, mid.pendingEmail], [stored(first), stored(second)]);
    await api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(second))) });
    assert.equal((await api.call('whoami', {})).user.email, stored(second));
    const removed = await api.call('email.remove', {});
    assert.equal(removed.user.email, null);
  });

  test('a second code within a minute is refused with retryAfterMs; later, resend supersedes the first code', async () => {
    const { api } = await account(s.t);
    const to = address();
    await api.call('email.set', { address: to });
    const firstCode = codeIn(await s.smtp.mailTo(stored(to)));
    const early = await rejection(api.call('email.resend', {}));
    assert.equal(early.code, 'rate_limited');
    assert.ok((early.retryAfterMs ?? 0) > 0 && (early.retryAfterMs ?? 0) <= 60_000, `${early.retryAfterMs}`);
    assert.equal(await code(api.call('email.set', { address: to })), 'rate_limited');
    s.later(61_000);
    await api.call('email.resend', {});
    const secondCode = codeIn(await s.smtp.mailTo(stored(to), 2));
    assert.notEqual(secondCode, firstCode);
    assert.equal(await code(api.call('email.verify', { code: firstCode })), 'invalid_code');
    assert.equal((await api.call('email.verify', { code: secondCode })).user.email, stored(to));
  });

  test('five wrong codes end the code: the right one no longer works', async () => {
    const { api } = await account(s.t);
    const to = address();
    await api.call('email.set', { address: to });
    const right = codeIn(await s.smtp.mailTo(stored(to)));
    const wrong = right.startsWith('A') ? 'CCCC-CCCC' : 'AAAA-AAAA';
    const messages: string[] = [];
    for (let i = 0; i < 5; i++) messages.push((await rejection(api.call('email.verify', { code: wrong }))).message);
    assert.match(messages[0] ?? '', /4 tries left/);
    assert.match(messages[4] ?? '', /no longer works/);
    const err = await rejection(api.call('email.verify', { code: right }));
    assert.equal(err.code, 'invalid_code');
    assert.equal((await api.call('whoami', {})).user.email, null);
  });

  test('a code expires after 24 hours', async () => {
    const { api } = await account(s.t);
    const to = address();
    await api.call('email.set', { address: to });
    const c = codeIn(await s.smtp.mailTo(stored(to)));
    s.later(24 * HOUR + 1000);
    const err = await rejection(api.call('email.verify', { code: c }));
    assert.equal(err.code, 'invalid_code');
    assert.match(err.message, /expired/);
  });
});

describe('password reset', () => {
  let s: Setup;
  before(async () => {
    s = await mailServer();
  });

  test('the answer is the same for an unknown name, an account without an address, and one with', async () => {
    const withAddress = await account(s.t);
    const to = address();
    await withAddress.api.call('email.set', { address: to });
    await withAddress.api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(to))) });
    const without = await account(s.t);
    const anon = new HttpApi(s.t.httpUrl);
    const answers = [
      await anon.call('password.resetRequest', { username: uniqueName('nobody') }),
      await anon.call('password.resetRequest', { username: without.username }),
      await anon.call('password.resetRequest', { username: withAddress.username }),
    ];
    assert.deepEqual(answers[0], answers[1]);
    assert.deepEqual(answers[1], answers[2]);
    const mail = await s.smtp.mailTo(stored(to), 2);
    assert.match(mail.subject, /password reset/);
    assert.match(mail.text, /If this wasn't you, ignore this mail/);
    assert.match(mail.text, /1 hour/);
  });

  test('a reset code sets a new password and revokes every session and bot token, closing their sockets', async () => {
    const u = await account(s.t);
    const to = address();
    await u.api.call('email.set', { address: to });
    await u.api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(to))) });
    const bot = await u.api.call('tokens.create', { name: 'bot' });
    const sockets: NatterClient[] = [await connectAs(s.t.wsUrl, u.token), await connectAs(s.t.tcpUrl, bot.token)];
    const closes = sockets.map((c) => closeCodeOf(c, 'a socket of the account to close'));
    const anon = new HttpApi(s.t.httpUrl);
    await anon.call('password.resetRequest', { username: u.username });
    const resetCode = codeIn(await s.smtp.mailTo(stored(to), 2));
    const wrong = resetCode.startsWith('A') ? 'CCCC-CCCC' : 'AAAA-AAAA';
    const refused = await rejection(
      anon.call('password.reset', { username: u.username, code: wrong, newPassword: 'a brand new secret' }),
    );
    assert.equal(refused.code, 'invalid_code');
    const unknown = await rejection(
      anon.call('password.reset', { username: uniqueName('nobody'), code: wrong, newPassword: 'a brand new secret' }),
    );
    assert.deepEqual([unknown.code, unknown.message], [refused.code, refused.message]);
    const done = await anon.call('password.reset', {
      username: u.username,
      code: resetCode.toLowerCase(),
      newPassword: 'a brand new secret',
    });
    assert.deepEqual(done, { revokedSessions: 1, revokedBotTokens: 1 });
    assert.deepEqual(await Promise.all(closes), [4004, 4004]);
    assert.equal(await code(connectAs(s.t.wsUrl, u.token)), 'unauthenticated');
    assert.equal(
      await code(new HttpApi(s.t.httpUrl).call('login', { username: u.username, password: PASSWORD })),
      'invalid_credentials',
    );
    await new HttpApi(s.t.httpUrl).call('login', { username: u.username, password: 'a brand new secret' });
    // Single use.
    assert.equal(
      await code(
        anon.call('password.reset', { username: u.username, code: resetCode, newPassword: 'another new one!' }),
      ),
      'invalid_code',
    );
  });

  test('reset requests are rate limited per account, unknown names alike', async () => {
    const limited = await mailServer({}, { passwordResetPerAccount: { capacity: 2, refillMs: HOUR } });
    const anon = new HttpApi(limited.t.httpUrl);
    const name = uniqueName('nobody');
    await anon.call('password.resetRequest', { username: name });
    await anon.call('password.resetRequest', { username: name.toUpperCase() });
    const err = await rejection(anon.call('password.resetRequest', { username: name }));
    assert.equal(err.code, 'rate_limited');
    assert.ok((err.retryAfterMs ?? 0) > 0);
  });
});

describe('a server that requires an email address', () => {
  let s: Setup;
  before(async () => {
    s = await mailServer({ requireEmail: true, unverifiedTtlMs: 48 * HOUR });
  });

  test('hello says so, and register without an address is refused naming the field', async () => {
    const c = await connectClient(s.t.wsUrl);
    assert.deepEqual([c.hello.mail, c.hello.emailRequired], [true, true]);
    c.close();
    const err = await rejection(
      new HttpApi(s.t.httpUrl).call('register', { username: uniqueName('m'), password: PASSWORD }),
    );
    assert.equal(err.code, 'bad_request');
    assert.equal(err.field, 'params.email');
  });

  test('the new account can only confirm its address until it has; then everything works', async () => {
    const to = address();
    const u = await account(s.t, { email: to });
    assert.ok((u.res.user.confirmBy ?? 0) > Date.now() + 47 * HOUR);
    const c = await connectAs(s.t.wsUrl, u.token);
    const refused = await rejection(c.request('servers.create', { name: uniqueName('S') }));
    assert.equal(refused.code, 'email_unconfirmed');
    assert.match(refused.message, /natter email verify/);
    assert.equal(await code(u.api.call('servers.list', {})), 'email_unconfirmed');
    assert.equal((await u.api.call('whoami', {})).user.pendingEmail, stored(to));
    await u.api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(to))) });
    // The other connection finds out at its next request.
    await c.request('servers.create', { name: uniqueName('S') });
    assert.equal((await u.api.call('whoami', {})).user.confirmBy, undefined);
    c.close();
  });

  test('an account that does not confirm in time is removed by the sweep, its sockets closed', async () => {
    const late = await account(s.t, { email: address() });
    const kept = await account(s.t, { email: address() });
    await kept.api.call('email.verify', {
      code: codeIn(await s.smtp.mailTo(stored(kept.res.user.pendingEmail ?? ''))),
    });
    const c = await connectAs(s.t.wsUrl, late.token);
    const closed = closeCodeOf(c, 'the removed account to be closed');
    s.later(48 * HOUR + 1000);
    const report = await runMaintenance(s.t.server.services);
    assert.ok(report.unconfirmed >= 1);
    assert.equal(await closed, 4004);
    assert.equal(await s.t.server.services.users.byId(late.id), undefined);
    assert.notEqual(await s.t.server.services.users.byId(kept.id), undefined);
    assert.equal(
      await code(new HttpApi(s.t.httpUrl).call('login', { username: late.username, password: PASSWORD })),
      'invalid_credentials',
    );
  });

  test('accounts made before the requirement are not restricted', async () => {
    const plain = await startTestServer();
    const old = await account(plain);
    await plain.stop();
    const smtp = await TestSmtp.start();
    const t = await startTestServer({ mail: smtp.settings({ requireEmail: true }) }, plain.dataDir);
    cleanup.push(
      () => t.destroy(),
      () => smtp.close(),
    );
    const api = new HttpApi(t.httpUrl);
    api.token = old.token;
    await api.call('servers.create', { name: uniqueName('Old') });
  });
});

describe('an SMTP outage', () => {
  test('registration and email set still answer; the mail goes out once the server is back', async () => {
    const s = await mailServer();
    await s.smtp.close();
    const to = address();
    const u = await account(s.t, { email: to });
    const other = address();
    const v = await account(s.t);
    await v.api.call('email.set', { address: other });
    await waitFor(
      async () =>
        (await s.t.sql.get<{ n: number }>('SELECT count(*) AS n FROM mail_outbox WHERE last_error IS NOT NULL'))?.n,
      {
        what: 'a failed try recorded in the outbox',
      },
    );
    await s.smtp.open();
    s.t.server.outbox?.poke();
    await u.api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(to))) });
    await v.api.call('email.verify', { code: codeIn(await s.smtp.mailTo(stored(other))) });
    assert.equal(await s.t.server.outbox?.pending(), 0);
  });

  test('repeated failures open the breaker; a refusing server is probed again and mail goes once it accepts', async () => {
    const smtp = await TestSmtp.start();
    const states: BreakerState[] = [];
    const retried: string[] = [];
    const sent: string[] = [];
    const t = await startTestServer({
      mail: smtp.settings({ breakerThreshold: 2, breakerCoolDownMs: 100 }),
      mailHooks: {
        onBreakerChange: (state) => states.push(state),
        onRetry: (kind) => retried.push(kind),
        onSent: (kind) => sent.push(kind),
      },
    });
    cleanup.push(
      () => t.destroy(),
      () => smtp.close(),
    );
    smtp.refusing = true;
    const to = address();
    await account(t, { email: to });
    await waitFor(() => states.includes('open'), { what: 'the breaker to open', detail: () => states.join(',') });
    await waitFor(() => retried.length >= 2, { what: 'two failed tries counted', detail: () => `${retried.length}` });
    smtp.refusing = false;
    await smtp.mailTo(stored(to));
    await waitFor(() => states.at(-1) === 'closed', { what: 'the breaker to close', detail: () => states.join(',') });
    assert.deepEqual(sent, ['verify']);
    assert.ok(states.indexOf('half-open') > states.indexOf('open'));
  });

  test('a mail not sent within its last day is given up, with its error kept for operators', async () => {
    const s = await mailServer({ giveUpAfterMs: 24 * HOUR });
    await s.smtp.close();
    const { api } = await account(s.t);
    await api.call('email.set', { address: address() });
    await waitFor(async () => (await s.t.server.services.mail.summary(5)).failures.length, { what: 'a failed try' });
    s.later(25 * HOUR);
    s.t.server.outbox?.poke();
    const summary = await waitFor(
      async () => {
        const got = await s.t.server.services.mail.summary(5);
        return got.failed === 1 ? got : null;
      },
      { what: 'the mail to be given up' },
    );
    assert.equal(summary.pending, 0);
    assert.match(summary.failures[0]?.lastError ?? '', /ECONNREFUSED|connect/i);
    const row = await s.t.sql.get<{ body: string }>('SELECT body FROM mail_outbox');
    assert.equal(row?.body, '', 'the body, and its code, are not kept');
  });
});
