import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CloseCode } from '../../src/protocol/index.js';
import { connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * Nobody is locked out by someone else: login failures count per account and
 * address, an address's failures do not refuse accounts used from there, a
 * live session's password change has its own budget, and the hashing threads
 * are shared fairly. Sessions cannot outlive a password change.
 *
 * Every 127.x.y.z address is this machine's loopback: a client that binds
 * 127.0.0.2 is, to the server, another address.
 */

const OTHER = '127.0.0.2';

type Line = {
  id?: unknown;
  event?: string;
  result?: Record<string, unknown>;
  error?: { code: string; retryAfterMs?: number };
};

/** A TCP client from a chosen local address that sends JSON lines and reads the replies by id. */
class Client {
  private text = '';
  private next = 1;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.text += d;
    });
    socket.on('error', () => {});
  }

  static async open(port: number, localAddress: string): Promise<Client> {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    await within(once(socket, 'connect'), `connecting from ${localAddress}`);
    const c = new Client(socket);
    await waitFor(() => c.lines().some((l) => l.event === 'hello'), { what: 'hello' });
    return c;
  }

  lines(): Line[] {
    return this.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Line);
  }

  /** Sends a request and resolves with its reply line. */
  async call(op: string, params: unknown): Promise<Line> {
    const id = this.next++;
    this.socket.write(`${JSON.stringify({ id, op, params })}\n`);
    return waitFor(() => this.lines().find((l) => l.id === id && l.event === undefined), {
      what: `the reply to ${op}`,
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Logs in on a fresh connection from `address`; resolves with the reply. */
async function loginFrom(srv: TestServer, address: string, username: string, password: string): Promise<Line> {
  const c = await Client.open(srv.server.tcpPort ?? 0, address);
  try {
    return await c.call('login', { username, password });
  } finally {
    c.close();
  }
}

async function register(
  srv: TestServer,
  address = '127.0.0.1',
): Promise<{ username: string; token: string; id: string }> {
  const username = uniqueName('lo');
  const c = await Client.open(srv.server.tcpPort ?? 0, address);
  try {
    const r = await c.call('register', { username, password: PASSWORD });
    assert.ok(r.result, JSON.stringify(r.error));
    return { username, token: r.result.token as string, id: (r.result.user as { id: string }).id };
  } finally {
    c.close();
  }
}

describe('login throttling does not lock owners out', () => {
  let t: TestServer;
  before(async () => {
    // The real defaults for login failures.
    t = await startTestServer({
      limits: {
        ...LOOSE_LIMITS,
        loginFailPerAccountAddress: { capacity: 5, refillMs: 60_000 },
        loginFailPerAccount: { capacity: 30, refillMs: 120_000 },
        loginFailPerAddress: { capacity: 20, refillMs: 15_000 },
        loginPerAccountAddress: { capacity: 10, refillMs: 6_000 },
        passwordChangePerUser: { capacity: 5, refillMs: 60_000 },
      },
    });
  });
  after(() => t.destroy());

  test('a stranger’s wrong guesses lock only their own address: the owner’s right password works from elsewhere', async () => {
    const victim = await register(t);
    for (let i = 0; i < 5; i++) {
      const r = await loginFrom(t, OTHER, victim.username, `wrong guess ${i}`);
      assert.equal(r.error?.code, 'invalid_credentials');
    }
    const locked = await loginFrom(t, OTHER, victim.username, PASSWORD);
    assert.equal(
      locked.error?.code,
      'rate_limited',
      'the guesser’s address is held back, even with the right password',
    );
    // Guessing on (polling) does not reach bcrypt, and does not touch the owner.
    const compares = t.server.services.passwords.stats.compares;
    for (let i = 0; i < 10; i++) await loginFrom(t, OTHER, victim.username, `more ${i}`);
    assert.equal(t.server.services.passwords.stats.compares, compares, 'refused guesses cost no hashing');
    const owner = await loginFrom(t, '127.0.0.1', victim.username, PASSWORD);
    assert.ok(owner.result, `the owner logs in: ${JSON.stringify(owner.error)}`);
  });

  test('one client guessing random names from a shared address does not refuse the others there', async () => {
    const nat = '127.0.0.3';
    // People who use this address (each has a session from it).
    const people = [];
    for (let i = 0; i < 6; i++) people.push(await register(t, nat));
    for (let i = 0; i < 25; i++) {
      const r = await loginFrom(t, nat, uniqueName('nobody'), 'whatever1');
      assert.ok(r.error?.code === 'invalid_credentials' || r.error?.code === 'rate_limited');
    }
    const stranger = await loginFrom(t, nat, uniqueName('nobody'), 'whatever1');
    assert.equal(stranger.error?.code, 'rate_limited', 'the guessing address is held back');
    for (const p of people) {
      const r = await loginFrom(t, nat, p.username, PASSWORD);
      assert.ok(r.result, `${p.username} logs in from the shared address: ${JSON.stringify(r.error)}`);
    }
  });

  test('guessing from many addresses does not refuse the owner where they logged in before, even after a logout', async () => {
    const u = await register(t, '127.0.0.6');
    // The owner logs out: no session is left from that address, but the address is remembered.
    const c = await Client.open(t.server.tcpPort ?? 0, '127.0.0.6');
    assert.ok((await c.call('auth', { token: u.token })).result);
    assert.ok((await c.call('logout', {})).result);
    c.close();
    // 30 wrong guesses spread over many addresses use up the account's budget for new addresses.
    for (let i = 0; i < 31; i++)
      await loginFrom(t, `127.0.${10 + (i % 10)}.${1 + Math.floor(i / 10)}`, u.username, `guess ${i}`);
    const fresh = await loginFrom(t, '127.0.9.9', u.username, PASSWORD);
    assert.equal(fresh.error?.code, 'rate_limited', 'a never-seen address waits while the account is under attack');
    const owner = await loginFrom(t, '127.0.0.6', u.username, PASSWORD);
    assert.ok(owner.result, `the owner, from where they logged in before: ${JSON.stringify(owner.error)}`);
  });

  test('a password change is not held back by someone else’s failed logins, and has its own bucket', async () => {
    const u = await register(t);
    for (let i = 0; i < 6; i++) await loginFrom(t, OTHER, u.username, `guess ${i}`);
    const c = await Client.open(t.server.tcpPort ?? 0, '127.0.0.1');
    try {
      assert.ok((await c.call('auth', { token: u.token })).result);
      const changed = await c.call('password.change', {
        currentPassword: PASSWORD,
        newPassword: 'a brand new passphrase',
      });
      assert.ok(changed.result, JSON.stringify(changed.error));
      for (let i = 0; i < 5; i++) {
        const r = await c.call('password.change', {
          currentPassword: `not it ${i}`,
          newPassword: 'another long passphrase',
        });
        assert.equal(r.error?.code, 'invalid_credentials');
      }
      const limited = await c.call('password.change', {
        currentPassword: 'a brand new passphrase',
        newPassword: 'another long passphrase',
      });
      assert.equal(limited.error?.code, 'rate_limited');
    } finally {
      c.close();
    }
    // Logins are not affected by the password-change bucket.
    assert.ok((await loginFrom(t, '127.0.0.1', u.username, 'a brand new passphrase')).result);
  });

  test('guesses sent in parallel are counted before any hashing', async () => {
    const u = await register(t);
    const c = await Client.open(t.server.tcpPort ?? 0, '127.0.0.4');
    try {
      const compares = t.server.services.passwords.stats.compares;
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) => c.call('login', { username: u.username, password: `parallel ${i}` })),
      );
      const codes = replies.map((r) => r.error?.code);
      assert.equal(codes.filter((x) => x === 'invalid_credentials').length, 5);
      assert.equal(codes.filter((x) => x === 'rate_limited').length, 7);
      await waitFor(() => t.server.services.passwords.pending === 0, { what: 'the hashing to settle' });
      assert.equal(t.server.services.passwords.stats.compares - compares, 5, 'only the allowance was hashed');
    } finally {
      c.close();
    }
  });
});

describe('successful logins and the hashing threads', () => {
  test('one account logging in over and over from one address is slowed down', async () => {
    const s = await startTestServer({
      limits: { ...LOOSE_LIMITS, loginPerAccountAddress: { capacity: 3, refillMs: 60_000 } },
    });
    try {
      const u = await register(s);
      for (let i = 0; i < 3; i++) assert.ok((await loginFrom(s, OTHER, u.username, PASSWORD)).result);
      const limited = await loginFrom(s, OTHER, u.username, PASSWORD);
      assert.equal(limited.error?.code, 'rate_limited');
      assert.ok((limited.error?.retryAfterMs ?? 0) > 0);
      // From the owner's usual place, they still log in.
      assert.ok((await loginFrom(s, '127.0.0.1', u.username, PASSWORD)).result);
    } finally {
      await s.destroy();
    }
  });

  test('the hashing threads take addresses in turn: a flood from one address does not queue others behind it', async () => {
    // A real cost: each check takes a while, so queues form.
    const s = await startTestServer({ bcryptCost: 10 });
    try {
      const flooder = await register(s, OTHER);
      const victim = await register(s);
      const hasher = s.server.services.passwords;
      // The flood: as many logins as one address may have waiting (8), then more, all at once
      // (a login runs alone on its connection, so each has its own).
      const floodClients = await Promise.all(
        Array.from({ length: 12 }, () => Client.open(s.server.tcpPort ?? 0, OTHER)),
      );
      const flood = floodClients.map((c) => c.call('login', { username: flooder.username, password: PASSWORD }));
      await waitFor(() => hasher.pending >= 8, { what: 'the flood to fill its share of the queue' });
      const doneBefore = hasher.stats.compares;
      const victimLogin = await loginFrom(s, '127.0.0.1', victim.username, PASSWORD);
      assert.ok(victimLogin.result, JSON.stringify(victimLogin.error));
      // The victim's check ran within the next couple of turns, not after the whole flood.
      assert.ok(hasher.stats.compares - doneBefore <= 3, `${hasher.stats.compares - doneBefore} checks ran before it`);
      const replies = await Promise.all(flood);
      const limited = replies.filter((r) => r.error?.code === 'rate_limited');
      assert.ok(limited.length >= 4, 'past 8 waiting checks, the flooding address is told to wait');
      for (const c of floodClients) c.close();
    } finally {
      await s.destroy();
    }
  });

  test("strangers guessing from many addresses do not queue the owner's login from a known address behind them", async () => {
    const s = await startTestServer({ bcryptCost: 10 });
    try {
      // Registered from 127.0.0.1: that address is the owner's.
      const victim = await register(s);
      const hasher = s.server.services.passwords;
      const crowd = await Promise.all(
        Array.from({ length: 12 }, (_, i) => Client.open(s.server.tcpPort ?? 0, `127.0.5.${(i % 6) + 1}`)),
      );
      const guesses = crowd.map((c, i) => c.call('login', { username: victim.username, password: `guess-${i}-x` }));
      await waitFor(() => hasher.pending >= 10, { what: 'the guesses to queue up' });
      const doneBefore = hasher.stats.compares;
      const login = await loginFrom(s, '127.0.0.1', victim.username, PASSWORD);
      assert.ok(login.result, JSON.stringify(login.error));
      // Only the check running when it arrived (and one that started in between) came first.
      assert.ok(hasher.stats.compares - doneBefore <= 2, `${hasher.stats.compares - doneBefore} checks ran before it`);
      for (const r of await Promise.all(guesses)) assert.equal(r.error?.code, 'invalid_credentials');
      for (const c of crowd) c.close();
    } finally {
      await s.destroy();
    }
  });
});

describe('the hashing queue', () => {
  test('the hashing threads run at the configured nice value (Linux keeps one per thread)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { PasswordHasher } = await import('../../src/server/passwords.js');
    /** The threads of this process at nice 7 (field 19 of /proc/self/task/N/stat), by thread id. */
    const atSeven = () =>
      new Set(
        readdirSync('/proc/self/task').filter((tid) => {
          try {
            const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
            return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === 7;
          } catch {
            // The thread ended between the listing and the read.
            return false;
          }
        }),
      );
    const before = atSeven();
    const hasher = new PasswordHasher(4, 2, 256, 8, 7);
    try {
      await Promise.all([hasher.hash('one'), hasher.hash('two')]);
      const fresh = () => [...atSeven()].filter((tid) => !before.has(tid)).length;
      await waitFor(() => fresh() === 2, {
        what: 'both hashing threads, and nothing else, at nice 7',
        detail: () => `${fresh()} new threads at nice 7`,
      });
    } finally {
      await hasher.close();
    }
  });

  test('when it is full, an address with nothing waiting still gets in, and its check runs in the next turn', async () => {
    const { PasswordHasher } = await import('../../src/server/passwords.js');
    // One thread, room for 4 waiting checks in all, 8 per address.
    const hasher = new PasswordHasher(10, 1, 4, 8, 0);
    try {
      // The hasher makes its dummy hash first: let that finish, so the queue starts empty.
      await hasher.verifyDummy('warm up');
      const order: string[] = [];
      const flood = Array.from({ length: 4 }, (_, i) =>
        hasher.hash(`flood ${i}`, '10.0.0.1').then(() => order.push(`flood ${i}`)),
      );
      const refused = await hasher.hash('one more', '10.0.0.1').then(
        () => 'accepted',
        (err: { code?: string }) => err.code,
      );
      assert.equal(refused, 'unavailable', 'the flooding address is told the server is busy');
      const other = hasher.hash('someone else', '10.0.0.2').then(() => order.push('other'));
      await Promise.all([...flood, other]);
      // The flood's first check was running; at most one more of it comes before the other address's turn.
      assert.ok(order.indexOf('other') <= 2, `the other address's check ran in its turn: ${order.join(', ')}`);
    } finally {
      await hasher.close();
    }
  });

  test("an owner's check goes before a crowd of addresses: it waits only for the one running", async () => {
    const { PasswordHasher } = await import('../../src/server/passwords.js');
    const hasher = new PasswordHasher(10, 1, 256, 8, 0);
    try {
      await hasher.verifyDummy('warm up');
      const stored = await hasher.hash('the owner password');
      const order: string[] = [];
      // Ten strangers on ten addresses, two checks each: the first one runs, 19 wait.
      const crowd = Array.from({ length: 20 }, (_, i) =>
        hasher.verify(`guess ${i}`, stored, `10.0.1.${i % 10}`).then(() => order.push(`guess ${i}`)),
      );
      const owner = hasher.verify('the owner password', stored, '10.0.2.1', true).then((ok) => {
        order.push('owner');
        return ok;
      });
      assert.equal(await owner, true);
      await Promise.all(crowd);
      assert.equal(order.indexOf('owner'), 1, `the owner's check ran right after the running one: ${order.join(', ')}`);
      // Owners' checks take turns by address too, and count toward their address's share.
      const many = Array.from({ length: 8 }, () => hasher.verify('x', stored, '10.0.2.2', true));
      const ninth = await hasher.verify('x', stored, '10.0.2.2', true).then(
        () => 'accepted',
        (err: { code?: string }) => err.code,
      );
      assert.equal(ninth, 'rate_limited', 'past 8 checks under way from one address, even owners wait');
      await Promise.all(many);
    } finally {
      await hasher.close();
    }
  });
});

describe('unknown users cost what real ones do, whatever the configured cost', () => {
  test('after a change of bcrypt cost, unknown users are checked at the cost most accounts have, and logins move accounts to the new cost', async () => {
    const first = await startTestServer({ bcryptCost: 4 });
    const dataDir = first.dataDir;
    const users = [];
    for (let i = 0; i < 3; i++) users.push(await register(first));
    await first.stop();
    const s = await startTestServer({ bcryptCost: 5 }, dataDir);
    try {
      const hasher = s.server.services.passwords;
      assert.equal(hasher.dummyHashCost, 4, 'the dummy hash has the stored accounts’ cost');
      const dummies = hasher.stats.dummyCompares;
      const unknown = await loginFrom(s, '127.0.0.1', uniqueName('ghost'), 'whatever1');
      assert.equal(unknown.error?.code, 'invalid_credentials');
      assert.equal(hasher.stats.dummyCompares, dummies + 1);
      // A login with the old-cost hash stores a new one at the configured cost.
      const u = users[0];
      assert.ok(u);
      const login1 = await loginFrom(s, '127.0.0.1', u.username, PASSWORD);
      assert.ok(login1.result, JSON.stringify(login1.error));
      const costOf = () =>
        (
          s.server.sqlite().$client.prepare('SELECT password_hash AS h FROM users WHERE id = ?').get(u.id) as {
            h: string;
          }
        ).h.slice(0, 7);
      await waitFor(() => costOf() === '$2b$05$', { what: 'the password to be rehashed at cost 5', detail: costOf });
      assert.ok((await loginFrom(s, '127.0.0.1', u.username, PASSWORD)).result, 'the new hash opens the account');
    } finally {
      await s.destroy();
    }
  });
});

describe('sessions do not outlive a password change', () => {
  test('logins racing a password change: none that checked the old password gets a session afterwards', async () => {
    const s = await startTestServer({ bcryptCost: 8 });
    try {
      const u = await register(s);
      const changer = await connectAs(s.wsUrl, u.token);
      // From another address than the change's, so the hashing queue takes both in turn.
      const racers = await Promise.all(
        Array.from({ length: 7 }, () => Client.open(s.server.tcpPort ?? 0, '127.0.0.5')),
      );
      const logins = racers.map((c) => c.call('login', { username: u.username, password: PASSWORD }));
      await changer.request('password.change', { currentPassword: PASSWORD, newPassword: 'the new passphrase here' });
      const replies = await Promise.all(logins);
      const tokens = replies.filter((r) => r.result).map((r) => r.result?.token as string);
      // Whatever got through must have committed before the change, and was revoked by it.
      for (const token of tokens) {
        const h = new HttpApi(s.httpUrl);
        h.token = token;
        assert.equal(
          (await rejection(h.call('whoami', {}))).code,
          'unauthenticated',
          'no old-password session survives',
        );
      }
      for (const c of racers) c.close();
      changer.close();
    } finally {
      await s.destroy();
    }
  });

  test('a password change revokes bot tokens by default and lists what it revoked; they can be kept', async () => {
    const s = await startTestServer();
    try {
      const u = await register(s);
      const h = new HttpApi(s.httpUrl);
      h.token = u.token;
      const bot = await h.call('tokens.create', { name: 'deploy' });
      const changed = await h.call('password.change', {
        currentPassword: PASSWORD,
        newPassword: 'rotated passphrase one',
      });
      assert.equal(changed.revokedBotTokens, 1);
      assert.deepEqual(
        changed.revoked.map((r) => [r.kind, r.name]),
        [['bot', 'deploy']],
      );
      const botApi = new HttpApi(s.httpUrl);
      botApi.token = bot.token;
      assert.equal((await rejection(botApi.call('whoami', {}))).code, 'unauthenticated');
      const kept = await h.call('tokens.create', { name: 'keeper' });
      const second = await h.call('password.change', {
        currentPassword: 'rotated passphrase one',
        newPassword: 'rotated passphrase two',
        revokeBotTokens: false,
      });
      assert.equal(second.revokedBotTokens, 0);
      botApi.token = kept.token;
      assert.equal((await botApi.call('whoami', {})).botToken?.name, 'keeper');
    } finally {
      await s.destroy();
    }
  });

  test('a login session unused for longer than sessionIdleMs no longer works, and maintenance removes it; one in use stays', async () => {
    const idle = 2_000;
    const s = await startTestServer({ sessionIdleMs: idle });
    try {
      const u = await register(s);
      const registered = Date.now();
      // A second session, kept in use on an open connection.
      const inUse = await new HttpApi(s.httpUrl).call('login', { username: u.username, password: PASSWORD });
      const open = await connectAs(s.tcpUrl, inUse.token);
      await waitFor(() => Date.now() > registered + idle + 50, { what: 'the first session to sit idle long enough' });
      const h = new HttpApi(s.httpUrl);
      h.token = u.token;
      const refused = await rejection(h.call('whoami', {}));
      assert.equal(refused.code, 'unauthenticated');
      assert.match(refused.message, /expired/);
      const { runMaintenance } = await import('../../src/server/maintenance.js');
      const report = await runMaintenance(s.server.services);
      assert.equal(report.sessions, 1, 'the idle one was removed');
      assert.equal(open.closed, false, 'the session in use was kept');
      assert.equal((await open.request('whoami', {})).user.id, u.id);
      open.close();
    } finally {
      await s.destroy();
    }
  });
});

describe('workers', () => {
  test('a crashed password thread is replaced: the check it held fails alone, the next ones work', async () => {
    const s = await startTestServer({ bcryptCost: 12 });
    try {
      const u = await register(s);
      const hasher = s.server.services.passwords;
      const c = await Client.open(s.server.tcpPort ?? 0, '127.0.0.1');
      const pending = c.call('login', { username: u.username, password: PASSWORD });
      await waitFor(() => hasher.pending > 0, { what: 'the check to start' });
      // Kill the thread running it.
      await Promise.all(hasher.threads.map((w) => w.terminate()));
      const first = await pending;
      assert.equal(first.error?.code, 'unavailable');
      assert.equal(hasher.stats.workerRestarts, 1);
      const again = await c.call('login', { username: u.username, password: PASSWORD });
      assert.ok(again.result, JSON.stringify(again.error));
      c.close();
    } finally {
      await s.destroy();
    }
  });

  test('a crashed checkpoint thread is replaced and checkpoints go on', async () => {
    const s = await startTestServer();
    try {
      const checkpointer = s.server.checkpointer;
      assert.ok(checkpointer, 'a SQLite server has a checkpoint thread');
      await checkpointer.thread.terminate();
      await waitFor(() => checkpointer.stats.restarts === 1, { what: 'a new checkpoint thread' });
      const u = await register(s);
      const h = new HttpApi(s.httpUrl);
      h.token = u.token;
      const before = checkpointer.stats.checkpoints;
      await h.call('servers.create', { name: 'after the crash' });
      await waitFor(() => checkpointer.stats.checkpoints > before, { what: 'a checkpoint by the new thread' });
    } finally {
      await s.destroy();
    }
  });
});

describe('revocation closes the session everywhere', () => {
  test('a session revoked while a connection of it is open: closed 4004 at once', async () => {
    const s = await startTestServer();
    try {
      const u = await register(s);
      const victim = await connectAs(s.tcpUrl, u.token);
      const closed = new Promise<number>((resolve) => victim.on('close', (code) => resolve(code)));
      const other = await new HttpApi(s.httpUrl).call('login', { username: u.username, password: PASSWORD });
      const h = new HttpApi(s.httpUrl);
      h.token = other.token;
      const target = (await h.call('sessions.list', {})).sessions.find((x) => !x.current);
      assert.ok(target);
      await h.call('sessions.revoke', { sessionId: target.id });
      assert.equal(await within(closed, 'the revoked connection to close'), CloseCode.sessionRevoked);
    } finally {
      await s.destroy();
    }
  });
});
