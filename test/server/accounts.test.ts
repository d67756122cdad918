import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeCodeOf, connectClient, openApi, PASSWORD, rejection, TRANSPORTS, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

for (const transport of TRANSPORTS) {
  describe(`accounts over ${transport}`, () => {
    test('register logs in and whoami answers with the new account', async () => {
      const api = await openApi(t, transport);
      const username = uniqueName('Reg');
      const reg = await api.call('register', { username, password: PASSWORD, client: 'test' });
      assert.equal(reg.user.username, username);
      assert.match(reg.user.id, /^[A-Za-z0-9_-]{10,}$/);
      assert.match(reg.token, /^nts_[A-Za-z0-9_-]{43}$/, 'a session token carries 256 random bits');
      assert.equal(reg.session.client, 'test');
      assert.equal(reg.session.current, true);
      const me = await api.call('whoami', {});
      assert.equal(me.user.id, reg.user.id);
      assert.equal(me.session?.id, reg.session.id);
      assert.equal(me.botToken, null);
      api.close();
    });

    test('login gives a new session; logout revokes it', async () => {
      const username = uniqueName('log');
      const first = await openApi(t, transport);
      const reg = await first.call('register', { username, password: PASSWORD });
      first.close();

      const api = await openApi(t, transport);
      // Username lookup is case-insensitive.
      const login = await api.call('login', { username: username.toUpperCase(), password: PASSWORD });
      assert.equal(login.user.id, reg.user.id);
      assert.notEqual(login.token, reg.token);
      assert.notEqual(login.session.id, reg.session.id);
      await api.call('logout', {});
      // The token is dead everywhere.
      const check = await connectClient(t.wsUrl);
      const err = await rejection(check.request('auth', { token: login.token }));
      assert.equal(err.code, 'unauthenticated');
      // The first session is untouched.
      await check.request('auth', { token: reg.token });
      check.close();
      if (transport !== 'http') {
        // The connection is still open, now logged out.
        assert.equal((await rejection(api.call('whoami', {}))).code, 'unauthenticated');
      }
      api.close();
    });

    test('profile update, user lookup and clearing fields', async () => {
      const api = await openApi(t, transport);
      const username = uniqueName('prof');
      const reg = await api.call('register', { username, password: PASSWORD });
      const updated = await api.call('profile.update', {
        displayName: '  Ada Lovelace ',
        status: 'writing notes',
        bio: 'line one\nline two',
      });
      assert.equal(updated.user.displayName, 'Ada Lovelace', 'single-line fields are trimmed');
      assert.equal(updated.user.status, 'writing notes');
      assert.equal(updated.user.bio, 'line one\nline two');
      const cleared = await api.call('profile.update', { status: null, bio: '' });
      assert.equal(cleared.user.status, null);
      assert.equal(cleared.user.bio, null);
      assert.equal(cleared.user.displayName, 'Ada Lovelace', 'absent fields stay as they were');
      const byName = await api.call('users.get', { username: username.toUpperCase() });
      assert.equal(byName.user.id, reg.user.id);
      const byId = await api.call('users.get', { userId: reg.user.id });
      assert.equal(byId.user.displayName, 'Ada Lovelace');
      assert.equal((await rejection(api.call('users.get', { username: 'nobody-here' }))).code, 'not_found');
      const tooLong = await rejection(api.call('profile.update', { displayName: 'x'.repeat(65) }));
      assert.equal(tooLong.code, 'bad_request');
      assert.equal(tooLong.field, 'params.displayName');
      const bidi = await rejection(api.call('profile.update', { status: 'evil \u202e txt' }));
      assert.equal(bidi.code, 'bad_request');
      api.close();
    });

    test('rename keeps the id; the old name is held for its owner, not given to others', async () => {
      const api = await openApi(t, transport);
      const oldName = uniqueName('old');
      const newName = uniqueName('new');
      const reg = await api.call('register', { username: oldName, password: PASSWORD });
      const renamed = await api.call('username.change', { username: newName });
      assert.equal(renamed.user.id, reg.user.id);
      assert.equal(renamed.user.username, newName);
      assert.equal((await api.call('whoami', {})).user.username, newName);
      assert.equal((await api.call('users.get', { userId: reg.user.id })).user.username, newName);
      assert.equal((await rejection(api.call('users.get', { username: oldName }))).code, 'not_found');
      // The old name is held for its previous owner (test/server/usernames.test.ts has the rest).
      const other = await openApi(t, transport);
      const held = await rejection(other.call('register', { username: oldName, password: PASSWORD }));
      assert.equal(held.code, 'conflict');
      await other.call('register', { username: uniqueName('other'), password: PASSWORD });
      // And the new one is taken.
      const clash = await rejection(other.call('username.change', { username: newName.toLowerCase() }));
      assert.equal(clash.code, 'conflict');
      // Logging in with the new name reaches this account; the old name, held and unused, reaches nobody.
      const again = await openApi(t, transport);
      assert.equal((await again.call('login', { username: newName, password: PASSWORD })).user.id, reg.user.id);
      const oldLogin = await openApi(t, transport);
      assert.equal(
        (await rejection(oldLogin.call('login', { username: oldName, password: PASSWORD }))).code,
        'invalid_credentials',
      );
      oldLogin.close();
      api.close();
      other.close();
      again.close();
    });

    test('password change revokes the other sessions and keeps this one', async () => {
      const username = uniqueName('pw');
      const api = await openApi(t, transport);
      await api.call('register', { username, password: PASSWORD });
      const otherLogin = await (await openApi(t, 'http')).call('login', { username, password: PASSWORD });
      const watcher = await connectClient(t.wsUrl);
      await watcher.request('auth', { token: otherLogin.token });
      const closed = closeCodeOf(watcher, "the other session's connection to close");

      const wrong = await rejection(
        api.call('password.change', { currentPassword: 'not it at all', newPassword: 'a new secret' }),
      );
      assert.equal(wrong.code, 'invalid_credentials');
      const res = await api.call('password.change', { currentPassword: PASSWORD, newPassword: 'a new secret' });
      assert.equal(res.revokedSessions, 1);
      assert.equal(await closed, 4004, 'the other session is closed with "session revoked"');
      await api.call('whoami', {});
      const fresh = await openApi(t, transport);
      assert.equal(
        (await rejection(fresh.call('login', { username, password: PASSWORD }))).code,
        'invalid_credentials',
      );
      await fresh.call('login', { username, password: 'a new secret' });
      api.close();
      fresh.close();
    });

    test('sessions can be listed and revoked', async () => {
      const username = uniqueName('ses');
      const api = await openApi(t, transport);
      const reg = await api.call('register', { username, password: PASSWORD, client: 'first' });
      const second = await (await openApi(t, 'http')).call('login', { username, password: PASSWORD, client: 'second' });
      const list = await api.call('sessions.list', {});
      assert.equal(list.sessions.length, 2);
      assert.deepEqual(list.sessions.find((s) => s.current)?.id, reg.session.id);
      assert.equal(list.sessions.find((s) => !s.current)?.client, 'second');
      await api.call('sessions.revoke', { sessionId: second.session.id });
      assert.equal((await api.call('sessions.list', {})).sessions.length, 1);
      const again = await rejection(api.call('sessions.revoke', { sessionId: second.session.id }));
      assert.equal(again.code, 'not_found');
      api.close();
    });

    test('bot tokens: create, authenticate with, list, revoke', async () => {
      const api = await openApi(t, transport);
      const reg = await api.call('register', { username: uniqueName('bot'), password: PASSWORD });
      const created = await api.call('tokens.create', { name: 'deploy bot' });
      assert.match(created.token, /^ntb_/);
      assert.equal(created.botToken.name, 'deploy bot');
      const dup = await rejection(api.call('tokens.create', { name: 'Deploy Bot' }));
      assert.equal(dup.code, 'conflict');

      const bot = await connectClient(t.tcpUrl);
      const authed = await bot.request('auth', { token: created.token });
      assert.equal(authed.user.id, reg.user.id);
      assert.equal(authed.session, null);
      const me = await bot.request('whoami', {});
      assert.equal(me.botToken?.id, created.botToken.id);
      const closed = closeCodeOf(bot, "the bot token's connection to close");

      const list = await api.call('tokens.list', {});
      assert.deepEqual(
        list.tokens.map((x) => x.name),
        ['deploy bot'],
      );
      assert.ok(!JSON.stringify(list).includes(created.token), 'secrets are never listed');
      await api.call('tokens.revoke', { tokenId: created.botToken.id });
      assert.equal(await closed, 4004);
      assert.equal((await api.call('tokens.list', {})).tokens.length, 0);
      assert.equal((await rejection(api.call('tokens.revoke', { tokenId: created.botToken.id }))).code, 'not_found');
      api.close();
    });
  });
}
