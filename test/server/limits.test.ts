import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { allPages } from '../../src/client/index.js';
import { CloseCode, type OpName } from '../../src/protocol/index.js';
import { connectAs, HttpApi, httpPost, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * What one user or one address may hold or ask for: caps answered
 * `limit_reached`, a daily write budget, paged lists, budgets for reads and
 * look-ups, and the per-address caps on sockets and HTTP requests.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

async function account(srv: TestServer = t, prefix = 'lm'): Promise<{ id: string; username: string; http: HttpApi }> {
  const http = new HttpApi(srv.httpUrl);
  const username = uniqueName(prefix);
  const reg = await http.call('register', { username, password: PASSWORD });
  return { id: reg.user.id, username, http };
}

let nonces = 0;
const nonce = () => `lm-${process.pid}-${++nonces}`;

describe('caps per user and per server', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({
      quotas: {
        serversOwnedPerUser: 2,
        serversJoinedPerUser: 3,
        channelsPerServer: 3,
        invitesPerServer: 2,
        sessionsPerUser: 3,
      },
    });
  });
  after(() => s.destroy());

  test('servers owned and joined, channels and live invites are capped with limit_reached saying which cap', async () => {
    const a = await account(s);
    const b = await account(s);
    const first = await a.http.call('servers.create', { name: 'one' });
    await a.http.call('servers.create', { name: 'two' });
    const owned = await rejection(a.http.call('servers.create', { name: 'three' }));
    assert.equal(owned.code, 'limit_reached');
    assert.match(owned.message, /you own 2 servers, the most allowed/);
    // Channels: general + 2 more, then the cap.
    const serverId = first.server.id;
    await a.http.call('channels.create', { serverId, name: 'dev' });
    await a.http.call('channels.create', { serverId, name: 'ops' });
    const channels = await rejection(a.http.call('channels.create', { serverId, name: 'more' }));
    assert.equal(channels.code, 'limit_reached');
    assert.match(channels.message, /3 channels/);
    // Invites: two live ones; a revoked one frees its place.
    const i1 = await a.http.call('invites.create', { serverId });
    await a.http.call('invites.create', { serverId });
    assert.equal((await rejection(a.http.call('invites.create', { serverId }))).code, 'limit_reached');
    await a.http.call('invites.revoke', { serverId, code: i1.invite.code });
    const i3 = await a.http.call('invites.create', { serverId, maxUses: 1 });
    // Transfer to someone at their own cap is refused.
    await b.http.call('servers.create', { name: 'b1' });
    await b.http.call('servers.create', { name: 'b2' });
    await b.http.call('invites.join', { code: i3.invite.code });
    const transfer = await rejection(a.http.call('servers.transfer', { serverId, userId: b.id }));
    assert.equal(transfer.code, 'limit_reached');
    // b is in 3 servers: joining a fourth is refused, and a used-up code does not count it as a guess.
    const other = await account(s);
    const four = await other.http.call('servers.create', { name: 'four' });
    const code = (await other.http.call('invites.create', { serverId: four.server.id })).invite.code;
    const joined = await rejection(b.http.call('invites.join', { code }));
    assert.equal(joined.code, 'limit_reached');
    assert.match(joined.message, /in 3 servers/);
    // Over HTTP the code has its status.
    const raw = await httpPost(s.httpUrl, 'servers.create', { name: 'three' }, a.http.token);
    assert.equal(raw.status, 403);
    assert.equal(raw.body.error?.code, 'limit_reached');
  });

  test('past sessionsPerUser, a login ends the least recently used session and closes its connections', async () => {
    const a = await account(s);
    const logins = [];
    for (let i = 0; i < 2; i++)
      logins.push(await new HttpApi(s.httpUrl).call('login', { username: a.username, password: PASSWORD }));
    // 3 sessions now: the registration's and two logins. The registration's is the least recently used.
    const oldest = await connectAs(s.tcpUrl, a.http.token ?? '');
    const closed = new Promise<number>((resolve) => oldest.on('close', (code) => resolve(code)));
    // Using the others makes them more recent.
    for (const l of logins) {
      const h = new HttpApi(s.httpUrl);
      h.token = l.token;
      await h.call('whoami', {});
    }
    await new HttpApi(s.httpUrl).call('login', { username: a.username, password: PASSWORD });
    assert.equal(await within(closed, 'the oldest session to be closed'), CloseCode.sessionRevoked);
    assert.equal((await rejection(a.http.call('whoami', {}))).code, 'unauthenticated');
    const remaining = new HttpApi(s.httpUrl);
    remaining.token = logins[1]?.token ?? '';
    assert.equal((await remaining.call('sessions.list', {})).sessions.length, 3);
  });
});

describe('the daily write budget', () => {
  test('a user who stores more than the budget today is refused with limit_reached until midnight UTC; others are not', async () => {
    const s = await startTestServer({ quotas: { writeBytesPerDay: 20_000 } });
    try {
      const a = await account(s);
      const b = await account(s);
      const { channels } = await a.http.call('servers.create', { name: 'budget' });
      const conversationId = channels[0]?.id ?? '';
      // Time left in the day, taken before the sends: the wait the server gives is no longer.
      const untilMidnight = 86_400_000 - (Date.now() % 86_400_000);
      let sent = 0;
      let refusal: Awaited<ReturnType<typeof rejection>> | null = null;
      for (let i = 0; i < 20 && refusal === null; i++) {
        try {
          await a.http.call('messages.send', { conversationId, body: 'x'.repeat(3000), nonce: nonce() });
          sent++;
        } catch (err) {
          refusal = err as Awaited<ReturnType<typeof rejection>>;
        }
      }
      assert.ok(refusal, 'the budget stopped the sender');
      assert.equal(refusal.code, 'limit_reached');
      assert.match(refusal.message, /daily limit of 20 KiB/);
      assert.ok((refusal.retryAfterMs ?? 0) > 0 && (refusal.retryAfterMs ?? 0) <= untilMidnight);
      assert.ok(sent >= 5 && sent <= 6, `${sent} messages of 3,000 characters fit in 20,000 bytes with their events`);
      // Nothing of the refused send was stored.
      const { messages } = await a.http.call('messages.history', { conversationId });
      assert.equal(messages.length, sent);
      // Every write that stores events draws on the same budget (a profile change among them); reads do not.
      let profileRefused: string | null = null;
      for (let i = 0; i < 10 && profileRefused === null; i++) {
        try {
          await a.http.call('profile.update', { bio: `${i} ${'b'.repeat(1000)}` });
        } catch (err) {
          profileRefused = (err as { code: string }).code;
        }
      }
      assert.equal(profileRefused, 'limit_reached');
      // What protects or shrinks a user is never refused: marking read, blocking, deleting, leaving.
      await a.http.call('read.mark', { conversationId, seq: 1 });
      await a.http.call('blocks.add', { userId: b.id });
      const first = (await a.http.call('messages.history', { conversationId, limit: 1 })).messages[0];
      assert.ok(first);
      await a.http.call('messages.delete', { messageId: first.id });
      assert.equal((await a.http.call('whoami', {})).user.id, a.id);
      // Another user is unaffected, and the total survives a restart (it is stored).
      await b.http.call('servers.create', { name: 'fine' });
      const dataDir = s.dataDir;
      await s.stop();
      const again = await startTestServer({ quotas: { writeBytesPerDay: 20_000 } }, dataDir);
      try {
        const relogin = new HttpApi(again.httpUrl);
        relogin.token = a.http.token;
        const body = 'y'.repeat(3000);
        const after = await rejection(relogin.call('messages.send', { conversationId, body, nonce: nonce() }));
        assert.equal(after.code, 'limit_reached');
      } finally {
        await again.destroy();
      }
    } finally {
      await s.destroy();
    }
  });
});

describe('paged lists', () => {
  test('servers, members, channels, invites, bans, groups, DMs and conversations come in pages that cover each item once', async () => {
    const owner = await account(t, 'pg');
    const people = [];
    for (let i = 0; i < 7; i++) people.push(await account(t, 'pp'));
    const servers = [];
    for (let i = 0; i < 5; i++) servers.push((await owner.http.call('servers.create', { name: `paged ${i}` })).server);
    const main = servers[0];
    assert.ok(main);
    for (let i = 0; i < 4; i++) await owner.http.call('channels.create', { serverId: main.id, name: `c${i}` });
    for (let i = 0; i < 5; i++) await owner.http.call('invites.create', { serverId: main.id });
    const { invite } = await owner.http.call('invites.create', { serverId: main.id });
    for (const p of people) await p.http.call('invites.join', { code: invite.code });
    for (const p of people.slice(0, 3)) await owner.http.call('bans.add', { serverId: main.id, userId: p.id });
    await owner.http.call('settings.update', { groupAdds: 'everyone' });
    for (let i = 0; i < 4; i++)
      await people[6]?.http.call('groups.create', { name: `g${i}`, usernames: [owner.username] });
    for (const p of people.slice(3))
      await p.http.call('messages.send', { to: owner.username, body: 'hi', nonce: nonce() });

    type Paged = { next: string | null };
    const all = async <T>(op: OpName, params: Record<string, unknown>, key: string): Promise<T[]> => {
      const pages: number[] = [];
      const items = await allPages(async (after) => {
        const r = (await owner.http.call(op, { ...params, limit: 2, after } as never)) as unknown as Paged &
          Record<string, T[]>;
        const page = r[key] ?? [];
        pages.push(page.length);
        return { items: page, next: r.next };
      });
      assert.ok(pages.length > 1, `${op} came in several pages (${pages.join(', ')})`);
      assert.ok(
        pages.every((n) => n <= 2),
        `${op}: no page over the limit`,
      );
      return items;
    };
    const idsOf = (xs: { id: string }[]) => xs.map((x) => x.id);
    const srv = await all<{ id: string }>('servers.list', {}, 'servers');
    assert.deepEqual(idsOf(srv).sort(), idsOf(servers).sort());
    const members = await all<{ user: { id: string } }>('members.list', { serverId: main.id }, 'members');
    assert.deepEqual(members.map((m) => m.user.id).sort(), [owner.id, ...people.slice(3).map((p) => p.id)].sort());
    assert.equal(members[0]?.user.id, owner.id, 'the owner first');
    const chans = await all<{ name: string }>('channels.list', { serverId: main.id }, 'channels');
    assert.deepEqual(
      chans.map((c) => c.name),
      ['c0', 'c1', 'c2', 'c3', 'general'],
    );
    assert.equal((await all<unknown>('invites.list', { serverId: main.id }, 'invites')).length, 6);
    const bans = await all<{ user: { id: string } }>('bans.list', { serverId: main.id }, 'bans');
    assert.deepEqual(
      bans.map((b) => b.user.id).sort(),
      people
        .slice(0, 3)
        .map((p) => p.id)
        .sort(),
    );
    assert.equal((await all<unknown>('groups.list', {}, 'groups')).length, 4);
    const dms = await all<{ lastMessage: { createdAt: number } | null }>('dms.list', {}, 'dms');
    assert.equal(dms.length, 4);
    const times = dms.map((d) => d.lastMessage?.createdAt ?? 0);
    assert.deepEqual(
      times,
      [...times].sort((x, y) => y - x),
      'DMs most recent first',
    );
    const convs = await all<{ id: string }>('conversations.list', {}, 'conversations');
    assert.equal(new Set(idsOf(convs)).size, convs.length, 'no conversation twice');
    assert.equal(convs.length, 5 + 4 + 4 + 4, 'every channel of every server, every group, every DM');
    // A cursor from another list (or made up) is refused, naming the field.
    const r = await owner.http.call('servers.list', { limit: 1 });
    const wrong = await rejection(owner.http.call('members.list', { serverId: main.id, after: r.next ?? '' }));
    assert.equal(wrong.code, 'bad_request');
    assert.equal(wrong.field, 'params.after');
    assert.equal(
      (await rejection(owner.http.call('servers.list', { after: 'bm90IGEgY3Vyc29y' }))).field,
      'params.after',
    );
    const tooBig = await rejection(owner.http.call('members.list', { serverId: main.id, limit: 100_000 }));
    assert.equal(tooBig.field, 'params.limit');
  });

  test('the client library reads a long list past the read budget by waiting as the server asks', async () => {
    const s = await startTestServer({ limits: { ...LOOSE_LIMITS, readPerUser: { capacity: 3, refillMs: 50 } } });
    try {
      const a = await account(s, 'rb');
      for (let i = 0; i < 12; i++) await a.http.call('servers.create', { name: `s${i}` });
      const all = await allPages(async (after) => {
        const r = await a.http.call('servers.list', { limit: 1, after });
        return { items: r.servers, next: r.next };
      });
      assert.equal(all.length, 12, 'every page, after waiting out the budget');
    } finally {
      await s.destroy();
    }
  });

  test('who is online in a server comes from live connections, paged by name', async () => {
    const owner = await account(t, 'on');
    const { server } = await owner.http.call('servers.create', { name: 'online' });
    const { invite } = await owner.http.call('invites.create', { serverId: server.id });
    const people = [];
    for (let i = 0; i < 3; i++) {
      const p = await account(t, 'op');
      await p.http.call('invites.join', { code: invite.code });
      people.push(p);
    }
    const ownerConn = await connectAs(t.wsUrl, owner.http.token ?? '');
    const conns = [];
    for (const p of people.slice(0, 2)) conns.push(await connectAs(t.tcpUrl, p.http.token ?? ''));
    const users = await allPages(async (after) => {
      const r = await owner.http.call('members.online', { serverId: server.id, limit: 1, after });
      return { items: r.users, next: r.next };
    });
    assert.deepEqual(users.map((u) => u.id).sort(), [owner.id, ...people.slice(0, 2).map((p) => p.id)].sort());
    const names = users.map((u) => u.username.toLowerCase());
    assert.deepEqual(names, [...names].sort(), 'by name');
    ownerConn.close();
    for (const c of conns) c.close();
  });
});

describe('page size in bytes', () => {
  test('a history page of long messages stops at about 256 KB, says there is more, and paging reaches every message once', async () => {
    const a = await account(t, 'pb');
    const { channels } = await a.http.call('servers.create', { name: 'long messages' });
    const conversationId = channels[0]?.id ?? '';
    const total = 60;
    for (let i = 0; i < total; i++) {
      await a.http.call('messages.send', { conversationId, body: `${i} ${'𝄞'.repeat(3990)}`, nonce: nonce() });
    }
    const latest = await a.http.call('messages.history', { conversationId, limit: 100 });
    assert.ok(latest.messages.length < total, `${latest.messages.length} of ${total} in the first page`);
    assert.equal(latest.hasMore, true);
    assert.equal(latest.messages.at(-1)?.seq, total, 'the newest are kept');
    assert.ok(JSON.stringify(latest).length < 400_000, 'the reply stays small');
    const seen = new Set(latest.messages.map((m) => m.seq));
    let before = latest.messages[0]?.seq ?? 1;
    for (let guard = 0; guard < 20 && before > 1; guard++) {
      const page = await a.http.call('messages.history', { conversationId, limit: 100, before });
      for (const m of page.messages) {
        assert.equal(seen.has(m.seq), false, `seq ${m.seq} once`);
        seen.add(m.seq);
      }
      before = page.messages[0]?.seq ?? 1;
    }
    assert.equal(seen.size, total, 'every message once');
    const forward = await a.http.call('messages.history', { conversationId, limit: 100, after: 0 });
    assert.equal(forward.messages[0]?.seq, 1, 'after: the oldest are kept');
    assert.equal(forward.hasMore, true);
  });
});

describe('mentions', () => {
  test('a message notifies at most 50 people; further @names stay text', async () => {
    const owner = await account(t, 'mb');
    const { server, channels } = await owner.http.call('servers.create', { name: 'mention bomb' });
    const { invite } = await owner.http.call('invites.create', { serverId: server.id });
    const names: string[] = [];
    for (let i = 0; i < 55; i++) {
      const p = await account(t, 'mm');
      await p.http.call('invites.join', { code: invite.code });
      names.push(p.username);
    }
    const body = names.map((n) => `@${n}`).join(' ');
    const { message } = await owner.http.call('messages.send', {
      conversationId: channels[0]?.id ?? '',
      body,
      nonce: nonce(),
    });
    assert.equal(message.mentions.length, 50);
    assert.equal(message.body, body, 'the text is kept whole');
  });
});

describe('budgets for reads and look-ups', () => {
  test('history pages, lists and user look-ups each have a per-user budget; past it, rate_limited with retryAfterMs', async () => {
    const s = await startTestServer({
      limits: {
        ...LOOSE_LIMITS,
        readPerUser: { capacity: 5, refillMs: 60_000 },
        lookupPerUser: { capacity: 3, refillMs: 60_000 },
      },
    });
    try {
      const a = await account(s);
      const { channels } = await a.http.call('servers.create', { name: 'reads' });
      const conversationId = channels[0]?.id ?? '';
      for (let i = 0; i < 5; i++) await a.http.call('messages.history', { conversationId });
      const read = await rejection(a.http.call('conversations.list', {}));
      assert.equal(read.code, 'rate_limited');
      assert.ok((read.retryAfterMs ?? 0) > 0);
      for (let i = 0; i < 3; i++) await a.http.call('users.get', { userId: a.id });
      assert.equal((await rejection(a.http.call('users.get', { username: a.username }))).code, 'rate_limited');
      // Writes and pings are not reads.
      await a.http.call('messages.send', { conversationId, body: 'still writing', nonce: nonce() });
    } finally {
      await s.destroy();
    }
  });

  test('every request that tells whether a name exists draws on the look-up budget: DMs, blocks and group adds by name', async () => {
    const s = await startTestServer({
      limits: { ...LOOSE_LIMITS, lookupPerUser: { capacity: 4, refillMs: 60_000 } },
    });
    try {
      const a = await account(s);
      const [b, c, d] = [await account(s), await account(s), await account(s)];
      // A group of three names (one given twice) costs three look-ups; a DM by name one more: the budget of 4 is spent.
      const usernames = [b.username, c.username, d.username, c.username];
      const { group } = await a.http.call('groups.create', { name: 'probe', usernames });
      await a.http.call('messages.send', { to: d.username, body: 'hello', nonce: nonce() });
      // Each request is made when its turn comes: none can be refused before its rejection is awaited.
      for (const [what, request] of [
        ['a DM to a name', () => a.http.call('messages.send', { to: uniqueName('nobody'), body: 'x', nonce: nonce() })],
        ['a block by name', () => a.http.call('blocks.add', { username: uniqueName('nobody') })],
        ['a group add', () => a.http.call('groups.add', { groupId: group.id, usernames: [uniqueName('nobody')] })],
        ['a group of names', () => a.http.call('groups.create', { name: 'more', usernames: [uniqueName('nobody')] })],
        ['users.get', () => a.http.call('users.get', { username: uniqueName('nobody') })],
      ] as const) {
        const err = await rejection(request());
        assert.equal(err.code, 'rate_limited', what);
        assert.match(err.message, /user look-ups/, what);
      }
      // By id, a block and a send in a known conversation do not look a name up.
      await a.http.call('blocks.add', { userId: b.id });
      await a.http.call('messages.send', { conversationId: group.id, body: 'still here', nonce: nonce() });
    } finally {
      await s.destroy();
    }
  });
});

describe('per-address caps on sockets', () => {
  /** Opens a raw socket, does one plain HTTP request on it (keep-alive), and returns it open. */
  async function keepAlive(srv: TestServer): Promise<{ socket: Socket; status: number }> {
    const socket = connect({ host: '127.0.0.1', port: srv.server.port });
    socket.on('error', () => {});
    await within(once(socket, 'connect'), 'connecting');
    let text = '';
    socket.setEncoding('latin1');
    const onData = (d: string) => {
      text += d;
    };
    socket.on('data', onData);
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => /\r\n\r\n[\s\S]*\}/.test(text) || socket.destroyed, { what: 'the healthz answer' });
    socket.off('data', onData);
    return { socket, status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0) };
  }

  test('a keep-alive socket that carried plain HTTP still counts, so upgrading it cannot slip past the cap', async () => {
    const srv = await startTestServer({ maxConnectionsPerAddress: 4 });
    const sockets: Socket[] = [];
    try {
      const a = await account(srv);
      await waitFor(() => srv.server.services.sockets.count('127.0.0.1') === 0, {
        what: 'the registration’s socket to close',
        timeoutMs: 30_000,
      });
      for (let i = 0; i < 4; i++) {
        const k = await keepAlive(srv);
        assert.equal(k.status, 200);
        sockets.push(k.socket);
      }
      assert.equal(srv.server.services.sockets.count('127.0.0.1'), 4, 'the four keep-alive sockets count');
      // A fifth socket's request is refused, in words.
      const fifth = await keepAlive(srv);
      assert.equal(fifth.status, 429);
      sockets.push(fifth.socket);
      // Upgrading one of the counted sockets works (it was counted all along) and does not add to the count.
      const first = sockets[0];
      assert.ok(first);
      let head = '';
      first.setEncoding('latin1');
      first.on('data', (d: string) => {
        head += d;
      });
      first.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nAuthorization: Bearer ${a.http.token}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      await waitFor(() => head.includes('\r\n\r\n'), { what: 'the upgrade answer' });
      assert.match(head, /^HTTP\/1\.1 101/);
      assert.ok(srv.server.services.sockets.count('127.0.0.1') <= 5);
    } finally {
      for (const s of sockets) s.destroy();
      await srv.destroy();
    }
  });

  test('refused sockets whose peers never close their side are cut off, on both ports: no file descriptors pile up', async () => {
    const srv = await startTestServer({ maxConnectionsPerAddress: 3 });
    const held: Socket[] = [];
    try {
      await waitFor(() => srv.server.services.sockets.count('127.0.0.1') === 0, { what: 'a quiet start' });
      for (let i = 0; i < 3; i++) {
        const s = connect({ host: '127.0.0.1', port: srv.server.tcpPort ?? 0 });
        s.on('error', () => {});
        await within(once(s, 'connect'), 'a connection within the cap');
        held.push(s);
      }
      // Over the cap: each is answered and closed by the server, but the peer keeps its side open.
      const answers: string[] = [];
      // Up to twice the cap they are answered; past that, dropped unanswered.
      for (const port of [srv.server.tcpPort ?? 0, srv.server.port, srv.server.tcpPort ?? 0, srv.server.port]) {
        const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        s.on('error', () => {});
        s.setEncoding('utf8');
        let text = '';
        s.on('data', (d: string) => {
          text += d;
        });
        await within(once(s, 'connect'), 'an over-the-cap connection');
        await within(once(s, 'end'), 'the refusal and the end of the stream');
        answers.push(text);
        held.push(s);
      }
      assert.ok(
        answers.slice(0, 3).every((a) => a.includes('rate_limited')),
        `each was told why, in words: ${JSON.stringify(answers)}`,
      );
      assert.match(answers[1] ?? '', /^HTTP\/1\.1 429/);
      assert.equal(answers[3], '', 'far over the cap: dropped without an answer');
      // The half-open ones are cut: the count falls back to the three held within the cap.
      await waitFor(() => srv.server.services.sockets.count('127.0.0.1') === 3, {
        what: 'the refused sockets to be cut off',
        detail: () => `${srv.server.services.sockets.count('127.0.0.1')} still counted`,
      });
    } finally {
      for (const s of held) s.destroy();
      await srv.destroy();
    }
  });

  test('HTTP API requests under way from one address are capped (429); finished ones free their place', async () => {
    // A long commit window keeps writes under way long enough to pile up.
    const srv = await startTestServer({ maxHttpRequestsPerAddress: 3, commitWindowMs: 2_000 });
    try {
      const a = await account(srv);
      await a.http.call('profile.update', { status: 'opens the window' });
      const many = Array.from({ length: 6 }, (_, i) =>
        httpPost(srv.httpUrl, 'profile.update', { status: `s${i}` }, a.http.token),
      );
      const answers = await Promise.all(many);
      const statuses = answers.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
      const refused = answers.find((r) => r.status === 429);
      assert.equal(refused?.body.error?.code, 'rate_limited');
      assert.match(refused?.body.error?.message ?? '', /under way from this address/);
      assert.equal((await httpPost(srv.httpUrl, 'ping', {}, null)).status, 200);
    } finally {
      await srv.destroy();
    }
  });
});

describe('invite codes for members', () => {
  test('a member following a used-up or revoked code of their server is told alreadyMember, and it costs no guess', async () => {
    const s = await startTestServer({ limits: { ...LOOSE_LIMITS, inviteFail: { capacity: 1, refillMs: 600_000 } } });
    try {
      const owner = await account(s);
      const member = await account(s);
      const { server } = await owner.http.call('servers.create', { name: uniqueName('Members') });
      const once1 = await owner.http.call('invites.create', { serverId: server.id, maxUses: 1 });
      await member.http.call('invites.join', { code: once1.invite.code });
      const revoked = await owner.http.call('invites.create', { serverId: server.id });
      await owner.http.call('invites.revoke', { serverId: server.id, code: revoked.invite.code });
      for (const code of [once1.invite.code, revoked.invite.code, once1.invite.code]) {
        const r = await member.http.call('invites.join', { code });
        assert.equal(r.alreadyMember, true);
        assert.equal(r.server.id, server.id);
      }
      // Not one of those was counted as a failed guess: the one allowed guess is still there.
      const guess = await rejection(member.http.call('invites.join', { code: 'NOSUCHCODE01' }));
      assert.equal(guess.code, 'not_found');
    } finally {
      await s.destroy();
    }
  });
});
