import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatterError, RegistrationMode } from '../../src/protocol/index.js';
import { connectClient, HttpApi, httpPost, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Registration modes (`natter serve --registration`): `open` takes anyone,
 * `invite` only someone with a live invite code of one of its servers, whom
 * it joins to that server in the same write as the account (the use
 * counted), and `closed` nobody. `hello` says which before anything is
 * asked. A code that cannot be used leaves nothing behind: no account, no
 * membership, no use counted. Runs on PostgreSQL too (NATTER_TEST_DATABASE=postgres).
 */

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.destroy();
});

async function server(registration?: RegistrationMode, dataDir?: string, limits = {}): Promise<TestServer> {
  const t = await startTestServer({ ...(registration ? { registration } : {}), limits }, dataDir);
  servers.push(t);
  return t;
}

/** What a hello says of registration, on the hello event over WebSocket and TCP and from the hello operation. */
async function advertised(t: TestServer): Promise<unknown[]> {
  const seen: unknown[] = [];
  for (const url of [t.wsUrl, t.tcpUrl]) {
    const c = await connectClient(url);
    seen.push(c.hello.registration, (await c.request('hello', { protocol: 1 })).registration);
    c.close();
  }
  return seen;
}

/**
 * A server in `mode` whose first account (its communities' owner) was made
 * while it took anyone, then restarted: how an invite-only natter begins.
 */
async function serverWithOwner(mode: RegistrationMode, limits = {}): Promise<{ t: TestServer; owner: HttpApi }> {
  const first = await server();
  const owner = new HttpApi(first.httpUrl);
  await owner.call('register', { username: uniqueName('reg-own'), password: PASSWORD });
  await first.stop();
  const t = await server(mode, first.dataDir, limits);
  const again = new HttpApi(t.httpUrl);
  again.token = owner.token;
  return { t, owner: again };
}

/** A community of `owner`'s (a fresh account when not given), and an invite code to it. */
async function community(t: TestServer, invite: { maxUses?: number } = {}, by?: HttpApi) {
  const owner = by ?? new HttpApi(t.httpUrl);
  if (!by) await owner.call('register', { username: uniqueName('reg-own'), password: PASSWORD });
  const { server: made, channels } = await owner.call('servers.create', { name: uniqueName('Club') });
  const { invite: code } = await owner.call('invites.create', { serverId: made.id, ...invite });
  return { owner, server: made, channel: channels[0], code: code.code };
}

/** How many rows of accounts, members and uses the database holds for these (nothing written by a refusal). */
async function footprint(t: TestServer, username: string, serverId: string, code: string) {
  const n = async (sql: string, ...values: unknown[]) =>
    Number((await t.sql.get<{ n: number }>(sql, ...values))?.n ?? Number.NaN);
  return {
    accounts: await n('SELECT count(*) AS n FROM users WHERE username = ?', username),
    members: await n('SELECT count(*) AS n FROM members WHERE server_id = ?', serverId),
    uses: await n('SELECT uses AS n FROM invites WHERE code = ?', code),
  };
}

function register(t: TestServer, username: string, invite?: string) {
  return new HttpApi(t.httpUrl).call('register', {
    username,
    password: PASSWORD,
    ...(invite === undefined ? {} : { invite }),
  });
}

describe('open (the default)', () => {
  let t: TestServer;
  before(async () => {
    t = await server();
  });

  test('hello says open; anyone registers; with a code they also join its server', async () => {
    assert.deepEqual(await advertised(t), ['open', 'open', 'open', 'open']);
    const plain = await register(t, uniqueName('reg-open'));
    assert.equal(plain.joined, undefined);
    const { server: club, code } = await community(t);
    const name = uniqueName('reg-open');
    const joined = await register(t, name, code);
    assert.equal(joined.joined?.server.id, club.id);
    assert.equal(joined.joined?.server.role, 'member');
    assert.deepEqual(await footprint(t, name, club.id, code), { accounts: 1, members: 2, uses: 1 });
    const bad = await rejection(register(t, uniqueName('reg-open'), 'no-such-code'));
    assert.deepEqual([bad.code, bad.field], ['not_found', 'params.invite']);
  });
});

describe('invite', () => {
  let t: TestServer;
  let owner: HttpApi;
  before(async () => {
    ({ t, owner } = await serverWithOwner('invite'));
  });

  test('hello says invite; without a code, registering is refused in words, before anything is written', async () => {
    assert.deepEqual(await advertised(t), ['invite', 'invite', 'invite', 'invite']);
    const name = uniqueName('reg-none');
    const { status, body } = await httpPost(t.httpUrl, 'register', { username: name, password: PASSWORD });
    assert.equal(status, 403);
    assert.deepEqual(body.error, {
      code: 'forbidden',
      message:
        'this natter server takes new accounts only with an invite code: ask someone on it for a code to one of its servers',
      field: 'params.invite',
    });
    const n = await t.sql.get<{ n: number }>('SELECT count(*) AS n FROM users WHERE username = ?', name);
    assert.equal(Number(n?.n), 0);
  });

  test('a valid code: the account is made, joins the server (members hear it), reads its channels, and the use is counted', async () => {
    const { server: club, channel, code } = await community(t, { maxUses: 5 }, owner);
    await owner.call('messages.send', { conversationId: channel?.id ?? '', body: 'before you came', nonce: 'r-1' });
    const watcher = await connectClient(t.wsUrl);
    await watcher.request('auth', { token: owner.token ?? '' });
    const name = uniqueName('reg-in');
    const heard = watcher.nextEvent('member.joined', (d) => d.member.user.username === name);
    const api = new HttpApi(t.httpUrl);
    const res = await api.call('register', { username: name, password: PASSWORD, invite: code });
    assert.equal(res.user.username, name);
    assert.deepEqual(
      [res.joined?.server.id, res.joined?.server.memberCount, res.joined?.channels.map((c) => c.id)],
      [club.id, 2, [channel?.id]],
    );
    assert.equal((await heard).data.serverId, club.id);
    watcher.close();
    const servers = await api.call('servers.list', {});
    assert.deepEqual(
      servers.servers.map((s) => [s.id, s.role]),
      [[club.id, 'member']],
    );
    const unread = (await api.call('conversations.list', {})).conversations.find((c) => c.id === channel?.id);
    assert.equal(unread?.unread, 0, 'what was said before joining is read');
    const invites = await owner.call('invites.list', { serverId: club.id });
    assert.equal(invites.invites.find((i) => i.code === code)?.uses, 1);
  });

  test('revoked, expired, used-up and garbage codes are refused alike, and leave no account, member or use behind', async () => {
    const { server: club, code } = await community(t, { maxUses: 1 }, owner);
    const revoked = await community(t, {}, owner);
    await owner.call('invites.revoke', { serverId: revoked.server.id, code: revoked.code });
    const expired = await community(t, {}, owner);
    await t.sql.run('UPDATE invites SET expires_at = ? WHERE code = ?', Date.now() - 1000, expired.code);
    // The one use of `code` goes to the first; then it is used up.
    await register(t, uniqueName('reg-first'), code);
    const cases: [string, string, string][] = [
      ['revoked', revoked.code, revoked.server.id],
      ['expired', expired.code, expired.server.id],
      ['used up', code, club.id],
      ['garbage', 'zzzzzzzzzzzz', club.id],
    ];
    for (const [what, invite, serverId] of cases) {
      const name = uniqueName('reg-bad');
      const before = await footprint(t, name, serverId, invite);
      const err = await rejection(register(t, name, invite));
      assert.deepEqual(
        [err.code, err.message, err.field],
        ['not_found', 'this invite code is invalid or has expired; ask for a new one', 'params.invite'],
        what,
      );
      assert.deepEqual(await footprint(t, name, serverId, invite), before, `${what}: nothing written`);
      assert.equal(before.accounts, 0);
    }
    assert.equal((await footprint(t, 'nobody', club.id, code)).uses, 1, 'the used-up code was used once');
    assert.equal((await owner.call('members.list', { serverId: club.id })).members.length, 2);
    // The name a refused registration asked for is still free.
    const name = uniqueName('reg-again');
    await rejection(register(t, name, revoked.code));
    const fresh = await community(t, {}, owner);
    assert.equal((await register(t, name, fresh.code)).user.username, name);
  });

  test('a code that is no code is a bad request on the invite field', async () => {
    for (const invite of ['', 'x'.repeat(65)]) {
      const err = await rejection(register(t, uniqueName('reg-odd'), invite));
      assert.deepEqual([err.code, err.field], ['bad_request', 'params.invite']);
      assert.match(err.message, /^invite code /);
    }
  });

  test('two registrations race for the last use of a code: one account is made, the other refused', async () => {
    const { server: club, code } = await community(t, { maxUses: 2 }, owner);
    await register(t, uniqueName('reg-one'), code);
    const [a, b] = [uniqueName('reg-race'), uniqueName('reg-race')];
    const outcomes = await Promise.allSettled([register(t, a, code), register(t, b, code)]);
    const made = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as NatterError] : []));
    assert.equal(made.length, 1);
    assert.deepEqual(
      refused.map((e) => e.code),
      ['not_found'],
    );
    const accounts = (await footprint(t, a, club.id, code)).accounts + (await footprint(t, b, club.id, code)).accounts;
    assert.deepEqual([accounts, (await footprint(t, a, club.id, code)).uses], [1, 2]);
  });

  test('codes tried at registration count as invite guesses: past the limit even a good code waits', async () => {
    const tight = await serverWithOwner('invite', { inviteFail: { capacity: 2, refillMs: 3_600_000 } });
    const { code } = await community(tight.t, {}, tight.owner);
    for (let i = 0; i < 2; i++) {
      assert.equal((await rejection(register(tight.t, uniqueName('reg-guess'), `guess${i}`))).code, 'not_found');
    }
    const limited = await rejection(register(tight.t, uniqueName('reg-guess'), code));
    assert.equal(limited.code, 'rate_limited');
    assert.match(limited.message, /invalid invite codes/);
  });
});

describe('closed', () => {
  test('hello says closed; nobody registers, with a code or without; existing accounts still log in', async () => {
    const open = await server();
    const name = uniqueName('reg-old');
    await register(open, name);
    const { code } = await community(open);
    await open.stop();
    const t = await server('closed', open.dataDir);
    assert.deepEqual(await advertised(t), ['closed', 'closed', 'closed', 'closed']);
    for (const invite of [undefined, code]) {
      const newcomer = uniqueName('reg-new');
      const err = await rejection(register(t, newcomer, invite));
      assert.deepEqual(
        [err.code, err.message, err.field],
        ['forbidden', 'this natter server is not accepting new accounts', undefined],
      );
      const n = await t.sql.get<{ n: number }>('SELECT count(*) AS n FROM users WHERE username = ?', newcomer);
      assert.equal(Number(n?.n), 0);
    }
    const back = await new HttpApi(t.httpUrl).call('login', { username: name, password: PASSWORD });
    assert.equal(back.user.username, name);
  });
});
