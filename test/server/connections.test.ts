import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeCodeOf, connectAs, connectClient, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

async function newAccount(): Promise<{ username: string; token: string; userId: string }> {
  const username = uniqueName('conn');
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD });
  return { username, token: reg.token, userId: reg.user.id };
}

describe('connecting', () => {
  test('the hello event and the hello operation agree on the protocol version', async () => {
    const c = await connectClient(t.tcpUrl);
    assert.equal(c.hello.protocol, 1);
    assert.equal(c.hello.authenticated, false);
    assert.equal(c.hello.server.name, 'natter');
    const res = await c.request('hello', { protocol: 1, client: 'test-suite' });
    assert.equal(res.protocol, 1);
    const err = await rejection(c.request('hello', { protocol: 99 }));
    assert.equal(err.code, 'unsupported_version');
    c.close();
  });

  test('a WebSocket can authenticate with an Authorization header on the upgrade', async () => {
    const { token, userId } = await newAccount();
    const ws = await RawWs.open(t.wsUrl, { authorization: `Bearer ${token}` });
    const hello = ws.messages[0] as { event: string; data: { authenticated: boolean } };
    assert.equal(hello.data.authenticated, true);
    ws.send(JSON.stringify({ id: 'w', op: 'whoami' }));
    const reply = await ws.reply('w');
    assert.equal((reply.result as { user: { id: string } }).user.id, userId);
    ws.close();
  });

  test('a bad Authorization header or a foreign Origin is refused before the upgrade', async () => {
    await assert.rejects(RawWs.open(t.wsUrl, { authorization: 'Bearer nts_forged' }), /401/);
    await assert.rejects(RawWs.open(t.wsUrl, { origin: 'https://evil.example' }), /403/);
    // Same-host origins (a page served by natter itself) are fine.
    const ok = await RawWs.open(t.wsUrl, { origin: t.httpUrl });
    ok.close();
  });

  test('a second auth on an authenticated connection is refused', async () => {
    const { token } = await newAccount();
    const c = await connectAs(t.wsUrl, token);
    assert.equal((await rejection(c.request('auth', { token }))).code, 'already_authenticated');
    assert.equal(
      (await rejection(c.request('login', { username: 'x1', password: PASSWORD }))).code,
      'already_authenticated',
    );
    c.close();
  });
});

describe('revocation reaches open connections', () => {
  test('logout closes every other connection of the session with 4004', async () => {
    const { token } = await newAccount();
    const main = await connectAs(t.wsUrl, token);
    const others = [
      await connectAs(t.wsUrl, token),
      await connectAs(t.tcpUrl, token),
      await connectAs(t.tcpUrl, token),
    ];
    const closes = others.map((c) => closeCodeOf(c, 'the other connections of the session to close'));
    await main.request('logout', {});
    assert.deepEqual(await Promise.all(closes), [4004, 4004, 4004]);
    assert.equal(main.closed, false, 'the connection that logged out stays open, logged out');
    assert.equal((await rejection(main.request('whoami', {}))).code, 'unauthenticated');
    main.close();
  });

  test('profile and username changes reach all of the user’s connections', async () => {
    const { token, userId } = await newAccount();
    const a = await connectAs(t.wsUrl, token);
    const b = await connectAs(t.tcpUrl, token);
    const seen = b.nextEvent('user.updated');
    await a.request('profile.update', { status: 'away' });
    const ev = await seen;
    assert.equal(ev.data.user.id, userId);
    assert.equal(ev.data.user.status, 'away');
    const renamed = uniqueName('renamed');
    const seen2 = a.nextEvent('user.updated');
    await b.request('username.change', { username: renamed });
    assert.equal((await seen2).data.user.username, renamed);
    a.close();
    b.close();
  });
});

describe('bot tokens and secrets', () => {
  test('a bot token cannot touch account security', async () => {
    const { token } = await newAccount();
    const owner = await connectAs(t.wsUrl, token);
    const { token: botToken } = await owner.request('tokens.create', { name: 'helper' });
    const bot = await connectAs(t.tcpUrl, botToken);
    for (const [op, params] of [
      ['password.change', { currentPassword: PASSWORD, newPassword: 'taken over!' }],
      ['sessions.list', {}],
      ['tokens.create', { name: 'persist' }],
      ['tokens.list', {}],
    ] as const) {
      const err = await rejection(bot.request(op, params as never));
      assert.equal(err.code, 'forbidden', op);
    }
    // Ordinary operations work.
    await bot.request('profile.update', { status: 'automated' });
    bot.close();
    owner.close();
  });

  test('the database holds token hashes only, and runs with durable settings', async () => {
    const { token } = await newAccount();
    const sqlite = t.server.sqlite().$client;
    const rows = sqlite.prepare('SELECT token_hash FROM sessions').all() as { token_hash: string }[];
    assert.ok(rows.length > 0);
    assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash)));
    const dump = JSON.stringify(sqlite.prepare('SELECT * FROM sessions').all());
    assert.ok(!dump.includes(token.slice(4)), 'no raw token is stored');
    const passwords = sqlite.prepare('SELECT password_hash FROM users').all() as { password_hash: string }[];
    assert.ok(
      passwords.every((r) => r.password_hash.startsWith('$2')),
      'bcrypt hashes',
    );
    assert.equal(sqlite.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(sqlite.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL');
    assert.equal(sqlite.pragma('foreign_keys', { simple: true }), 1);
  });
});

describe('restart', () => {
  test('accounts, sessions and bot tokens survive a restart', async () => {
    const own = await startTestServer();
    const username = uniqueName('durable');
    const api = new HttpApi(own.httpUrl);
    const reg = await api.call('register', { username, password: PASSWORD });
    await api.call('profile.update', { displayName: 'Still Here' });
    const bot = await api.call('tokens.create', { name: 'ci' });
    await own.stop();

    const again = await startTestServer({}, own.dataDir);
    try {
      const c = await connectAs(again.wsUrl, reg.token);
      const me = await c.request('whoami', {});
      assert.equal(me.user.id, reg.user.id);
      assert.equal(me.user.displayName, 'Still Here');
      c.close();
      const viaBot = await connectAs(again.tcpUrl, bot.token);
      assert.equal((await viaBot.request('whoami', {})).botToken?.name, 'ci');
      viaBot.close();
      const login = await new HttpApi(again.httpUrl).call('login', { username, password: PASSWORD });
      assert.equal(login.user.id, reg.user.id);
    } finally {
      await again.destroy();
    }
  });

  test('stopping tells connected clients to reconnect later (1012)', async () => {
    const own = await startTestServer();
    const { token } = await new HttpApi(own.httpUrl).call('register', {
      username: uniqueName('bye'),
      password: PASSWORD,
    });
    const ws = await connectAs(own.wsUrl, token);
    const tcp = await connectAs(own.tcpUrl, token);
    const closing = Promise.all([ws.nextEvent('closing'), tcp.nextEvent('closing')]);
    const closed = Promise.all([ws, tcp].map((c) => closeCodeOf(c, 'the server to close its connections')));
    await own.destroy();
    for (const ev of await closing) {
      assert.equal(ev.data.code, 1012);
      assert.ok((ev.data.reconnectAfterMs ?? 0) >= 1000);
    }
    assert.deepEqual(await closed, [1012, 1012]);
  });
});
