import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { NatterClient } from '../../src/client/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import type { Connection } from '../../src/server/connection.js';
import { MAX_IN_FLIGHT } from '../../src/server/dispatch.js';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, deadline, waitFor, within } from '../helpers/wait.js';

/** Waits (with a deadline) for `check` to hold, naming `what` on timeout. */
function until<T>(what: string, check: () => T | undefined | false, timeoutMs?: number): Promise<T> {
  return waitFor(check, timeoutMs === undefined ? { what } : { what, timeoutMs });
}

type Line = { id?: unknown; event?: string; result?: unknown; error?: { code: string }; data?: { code?: number } };

/** A raw TCP client that can stop reading, and parses what it read into lines. */
class PausableTcp {
  text = '';
  ended = false;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.text += d;
    });
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<PausableTcp> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const c = new PausableTcp(socket);
    await until('hello', () => c.text.includes('"hello"'));
    return c;
  }

  send(obj: unknown): void {
    this.socket.write(`${JSON.stringify(obj)}\n`);
  }

  /** Every complete line so far, parsed (throws if one is not JSON: a cut line). */
  lines(): Line[] {
    const complete = this.text.slice(0, this.text.lastIndexOf('\n') + 1);
    return complete
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);
  }

  reply(id: unknown): Line | undefined {
    return this.lines().find((l) => l.id === id && l.event === undefined);
  }
}

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

async function account(srv: TestServer = t): Promise<{ token: string; userId: string; username: string }> {
  const username = uniqueName('rp');
  const reg = await new HttpApi(srv.httpUrl).call('register', { username, password: PASSWORD });
  return { token: reg.token, userId: reg.user.id, username };
}

/** The server-side connection of a user (their only one). */
function serverConnection(srv: TestServer, userId: string): Connection | undefined {
  return srv.server.services.hub.connections().find((c) => c.auth?.userId === userId);
}

describe('a client that pipelines many requests', () => {
  test('cannot make the server hold its replies: it stops being served until it reads, and others are served meanwhile', async () => {
    const srv = await startTestServer({ maxQueuedBytes: 256 * 1024 });
    try {
      const me = await account(srv);
      const owner = await connectAs(srv.wsUrl, me.token);
      const { channels } = await owner.request('servers.create', { name: 'history' });
      const conversationId = channels[0]?.id ?? '';
      // 60 long messages: a page of 20 is about 80 KB of JSON.
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          owner.request('messages.send', { conversationId, body: `${i} ${'h'.repeat(3900)}`, nonce: `h${i}` }),
        ),
      );
      const attacker = await PausableTcp.open(srv.server.tcpPort ?? 0);
      attacker.send({ id: 'auth', op: 'auth', params: { token: me.token } });
      await until('auth reply', () => attacker.reply('auth'));
      attacker.socket.pause();
      const total = 300;
      let pipelined = '';
      for (let i = 0; i < total; i++) {
        pipelined += `${JSON.stringify({ id: i, op: 'messages.history', params: { conversationId, limit: 20 } })}\n`;
      }
      attacker.socket.write(pipelined);
      const conn = await until('the attacker on the server', () =>
        srv.server.services.hub.connections().find((c) => c.transport === 'tcp' && c.auth?.userId === me.userId),
      );
      // The server stops at the send-queue check: a handful of replies queued, the rest not even started.
      await until('the server to stop serving the attacker', () => conn.inbox.length > 0 && conn.inFlight === 0);
      const backlogWhilePaused = conn.backlog();
      assert.ok(backlogWhilePaused < 2 * 1024 * 1024, `queued for the attacker: ${backlogWhilePaused} bytes`);
      // Someone else is served while the attacker's requests wait.
      const other = await connectAs(srv.wsUrl, (await account(srv)).token);
      assert.ok((await other.request('ping', {})).now > 0);
      assert.equal(conn.closed, false, 'a client that merely pipelines is not cut off');
      // Once it reads, it gets every reply, in order, whole.
      attacker.socket.resume();
      await until('all replies', () => attacker.reply(total - 1), 120_000);
      const replies = attacker.lines().filter((l) => typeof l.id === 'number');
      assert.deepEqual(
        replies.map((l) => l.id),
        Array.from({ length: total }, (_, i) => i),
      );
      assert.ok(replies.every((l) => l.result !== undefined));
      other.close();
      owner.close();
      attacker.socket.destroy();
    } finally {
      await srv.destroy();
    }
  });

  test(`has at most ${MAX_IN_FLIGHT} requests under way at once, and every one is answered`, async () => {
    // Each send waits for its commit; a long commit window keeps them under way together.
    const srv = await startTestServer({ commitWindowMs: 500 });
    try {
      const me = await account(srv);
      const c = await PausableTcp.open(srv.server.tcpPort ?? 0);
      c.send({ id: 'auth', op: 'auth', params: { token: me.token } });
      await until('auth', () => c.reply('auth'));
      c.send({ id: 'srv', op: 'servers.create', params: { name: 'inflight' } });
      const created = (await until('servers.create', () => c.reply('srv'))) as {
        result: { channels: { id: string }[] };
      };
      const conversationId = created.result.channels[0]?.id ?? '';
      let burst = '';
      for (let i = 0; i < 200; i++) {
        burst += `${JSON.stringify({ id: i, op: 'messages.send', params: { conversationId, body: `m${i}`, nonce: `n${i}` } })}\n`;
      }
      c.socket.write(burst);
      const conn = await until('the connection', () => serverConnection(srv, me.userId));
      let most = 0;
      await until('every send acknowledged', () => {
        most = Math.max(most, conn.inFlight);
        return c.reply(199);
      });
      assert.ok(most <= MAX_IN_FLIGHT, `${most} requests were under way at once`);
      const ids = c
        .lines()
        .filter((l) => typeof l.id === 'number' && l.result !== undefined)
        .map((l) => l.id);
      assert.equal(ids.length, 200, 'every send was answered with a result');
      c.socket.destroy();
    } finally {
      await srv.destroy();
    }
  });
});

describe('resuming', () => {
  test('a replay that would fill more than half the send queue is not written: the client is told to reload', async () => {
    const srv = await startTestServer({ maxQueuedBytes: 256 * 1024 });
    try {
      const me = await account(srv);
      const c = await connectAs(srv.wsUrl, me.token);
      const { channels } = await c.request('servers.create', { name: 'big replay' });
      const conversationId = channels[0]?.id ?? '';
      const { cursor } = await new HttpApi(srv.httpUrl).call('login', { username: me.username, password: PASSWORD });
      // 40 messages of 4,000 four-byte characters: 640 KB of events, over half of 256 KiB.
      for (let i = 0; i < 40; i++) {
        await c.request('messages.send', { conversationId, body: '𝄞'.repeat(4000), nonce: `big${i}` });
      }
      c.close();
      const resumed = await PausableTcp.open(srv.server.tcpPort ?? 0);
      resumed.send({ id: 'auth', op: 'auth', params: { token: me.token, cursor } });
      const caughtUp = await until('caught_up', () => resumed.lines().find((l) => l.event === 'caught_up'));
      const data = caughtUp.data as unknown as { replayed: number; limited: boolean };
      assert.equal(data.limited, true);
      assert.equal(data.replayed, 0);
      assert.equal(resumed.lines().filter((l) => l.event === 'message.created').length, 0, 'nothing replayed');
      resumed.socket.destroy();
    } finally {
      await srv.destroy();
    }
  });
});

describe('closing for abuse never loses acknowledgements', () => {
  for (const transport of ['ws', 'tcp'] as const) {
    test(`writes committed before a 4008 close are all acknowledged first (${transport})`, async () => {
      const srv = await startTestServer({
        limits: { ...LOOSE_LIMITS, writePerUser: { capacity: 30, refillMs: 600_000 } },
      });
      try {
        const me = await account(srv);
        const c = await connectAs(transport === 'ws' ? srv.wsUrl : srv.tcpUrl, me.token);
        const closed = new Promise<number>((resolve) => c.on('close', (code) => resolve(code)));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 70 }, (_, i) => c.request('profile.update', { status: `status ${i}` })),
        );
        assert.equal(await closed, CloseCode.rateLimited);
        const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
        // Every committed update was acknowledged: the reconnecting client sees the same count.
        const again = await connectAs(srv.tcpUrl, me.token);
        const status = (await again.request('whoami', {})).user.status;
        assert.equal(ok, 30, 'the 30 updates the bucket allowed were all acknowledged before the close');
        assert.equal(status, 'status 29');
        again.close();
      } finally {
        await srv.destroy();
      }
    });
  }
});

describe('a revoked session cannot act', () => {
  test('lines still arriving on a TCP connection after its session was revoked are not run', async () => {
    const me = await account();
    const victim = await PausableTcp.open(t.server.tcpPort ?? 0);
    victim.send({ id: 'auth', op: 'auth', params: { token: me.token } });
    await until('auth', () => victim.reply('auth'));
    const owner = await connectAs(t.wsUrl, (await account()).token);
    const { channels, server } = await owner.request('servers.create', { name: 'revoke' });
    const { invite } = await owner.request('invites.create', { serverId: server.id });
    victim.send({ id: 'join', op: 'invites.join', params: { code: invite.code } });
    await until('join', () => victim.reply('join'));
    const conversationId = channels[0]?.id ?? '';
    // Another login of the same user revokes the victim's session.
    const login = await new HttpApi(t.httpUrl).call('login', { username: me.username, password: PASSWORD });
    const admin = new HttpApi(t.httpUrl);
    admin.token = login.token;
    const victimSession = (await admin.call('sessions.list', {})).sessions.find((s) => !s.current);
    assert.ok(victimSession);
    await admin.call('sessions.revoke', { sessionId: victimSession.id });
    await until('the closing notice', () => victim.lines().find((l) => l.event === 'closing'));
    assert.equal(victim.lines().find((l) => l.event === 'closing')?.data?.code, CloseCode.sessionRevoked);
    // The socket is half-open now: what the client still writes must not run.
    victim.send({
      id: 'late',
      op: 'messages.send',
      params: { conversationId, body: 'after revocation', nonce: 'late' },
    });
    await until('the server to hang up', () => victim.ended);
    // A later committed write by someone else orders the check after anything the late line could have done.
    await owner.request('messages.send', { conversationId, body: 'owner', nonce: 'owner-after' });
    const { messages } = await owner.request('messages.history', { conversationId });
    assert.deepEqual(
      messages.map((m) => m.body),
      ['owner'],
    );
    assert.equal(victim.reply('late'), undefined, 'no reply either');
    owner.close();
  });

  test('frames still arriving on a WebSocket after its session was revoked are not run', async () => {
    const me = await account();
    const owner = await connectAs(t.wsUrl, (await account()).token);
    const { channels, server } = await owner.request('servers.create', { name: 'revoke-ws' });
    const { invite } = await owner.request('invites.create', { serverId: server.id });
    const conversationId = channels[0]?.id ?? '';
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(t.wsUrl, { perMessageDeflate: false, headers: { authorization: `Bearer ${me.token}` } });
    const frames: Line[] = [];
    let sentLate = false;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Line;
      frames.push(msg);
      // The moment the server says it is closing, the client fires more requests: the close
      // frame has not been read yet, so the socket still takes them.
      if (msg.event === 'closing' && ws.readyState === WebSocket.OPEN) {
        ws.send(
          JSON.stringify({
            id: 'late',
            op: 'messages.send',
            params: { conversationId, body: 'late', nonce: 'ws-late' },
          }),
        );
        ws.send(
          JSON.stringify({ id: 'rename', op: 'servers.update', params: { serverId: server.id, name: 'hijacked' } }),
        );
        sentLate = true;
      }
    });
    ws.on('error', () => {});
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ id: 'join', op: 'invites.join', params: { code: invite.code } }));
    await until('join', () => frames.find((f) => f.id === 'join'));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const login = await new HttpApi(t.httpUrl).call('login', { username: me.username, password: PASSWORD });
    const admin = new HttpApi(t.httpUrl);
    admin.token = login.token;
    const target = (await admin.call('sessions.list', {})).sessions.find((s) => !s.current);
    assert.ok(target);
    await admin.call('sessions.revoke', { sessionId: target.id });
    assert.equal(await within(closed, 'the revoked WebSocket to close'), CloseCode.sessionRevoked);
    assert.equal(sentLate, true, 'the client did send after the closing notice');
    await owner.request('messages.send', { conversationId, body: 'owner', nonce: 'owner-ws-after' });
    const { messages } = await owner.request('messages.history', { conversationId });
    assert.deepEqual(
      messages.map((m) => m.body),
      ['owner'],
    );
    assert.equal((await owner.request('servers.get', { serverId: server.id })).server.name, 'revoke-ws');
    assert.equal(
      frames.find((f) => f.id === 'late' || f.id === 'rename'),
      undefined,
      'no replies either',
    );
    owner.close();
  });

  test('a write queued behind its session’s revocation in the same commit is refused', async () => {
    // A wide commit window puts the revocation and the send in one batch, the revocation first.
    const srv = await startTestServer({ commitWindowMs: 400 });
    try {
      const me = await account(srv);
      const owner = await connectAs(srv.wsUrl, (await account(srv)).token);
      const { channels, server } = await owner.request('servers.create', { name: 'race' });
      const { invite } = await owner.request('invites.create', { serverId: server.id });
      const victim = await connectAs(srv.tcpUrl, me.token);
      await victim.request('invites.join', { code: invite.code });
      const conversationId = channels[0]?.id ?? '';
      const login = await new HttpApi(srv.httpUrl).call('login', { username: me.username, password: PASSWORD });
      const admin = await connectAs(srv.wsUrl, login.token);
      const victimSession = (await admin.request('sessions.list', {})).sessions.find((s) => !s.current);
      assert.ok(victimSession);
      // A first write opens the commit window; the next two share the following batch.
      await owner.request('profile.update', { status: 'opening the window' });
      const revoked = admin.request('sessions.revoke', { sessionId: victimSession.id });
      await until('the revocation queued', () => srv.server.services.store.queued > 0);
      const late = victim.request('messages.send', { conversationId, body: 'raced', nonce: 'raced' });
      await revoked;
      await assert.rejects(late, (err: Error) => /unauthenticated|closed/.test(err.message) || 'code' in err);
      await owner.request('messages.send', { conversationId, body: 'owner', nonce: 'owner-after' });
      const { messages } = await owner.request('messages.history', { conversationId });
      assert.deepEqual(
        messages.map((m) => m.body),
        ['owner'],
      );
      owner.close();
      admin.close();
      victim.close();
    } finally {
      await srv.destroy();
    }
  });

  test('a connection that closes while its login is being checked is never attached (no ghost online)', async () => {
    // A real bcrypt cost keeps the password check busy long after the socket is gone.
    const srv = await startTestServer({ bcryptCost: 12, hashThreads: 1 });
    try {
      const username = uniqueName('ghost');
      const reg = await new HttpApi(srv.httpUrl).call('register', { username, password: PASSWORD });
      const before = srv.server.services.hub.size;
      const socket = connect({ host: '127.0.0.1', port: srv.server.tcpPort ?? 0 });
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write(`${JSON.stringify({ id: 1, op: 'login', params: { username, password: PASSWORD } })}\n`);
      // Wait until the check is under way, then hang up.
      await until('the password check to start', () => srv.server.services.passwords.pending > 0);
      socket.destroy();
      await until('the check to finish', () => srv.server.services.passwords.pending === 0, 60_000);
      await until('the hub to settle', () => srv.server.services.hub.size === before);
      assert.equal(srv.server.services.hub.isOnline(reg.user.id), false, 'not shown online');
      assert.equal(serverConnection(srv, reg.user.id), undefined);
    } finally {
      await srv.destroy();
    }
  });
});

describe('TCP liveness', () => {
  let hb: TestServer;
  before(async () => {
    hb = await startTestServer({ heartbeatMs: 1000 });
  });
  after(() => hb.destroy());

  test('a silent TCP peer is asked for a sign of life (ping event), then closed with 4011 after whole lines', async () => {
    const c = await PausableTcp.open(hb.server.tcpPort ?? 0);
    const ping = await until('a ping event', () => c.lines().find((l) => l.event === 'ping'));
    assert.equal(typeof (ping.data as unknown as { at: number }).at, 'number');
    await until('the server to hang up', () => c.ended);
    const lines = c.lines();
    assert.equal(c.text.endsWith('\n'), true, 'nothing cut mid-line');
    assert.equal(lines.at(-1)?.event, 'closing');
    assert.equal(lines.at(-1)?.data?.code, CloseCode.heartbeatMissed);
  });

  test('a TCP peer that answers the ping stays connected', async () => {
    const c = await PausableTcp.open(hb.server.tcpPort ?? 0);
    let answered = 0;
    while (answered < 3) {
      const pings = c.lines().filter((l) => l.event === 'ping').length;
      await until(`ping ${answered + 1}`, () => c.lines().filter((l) => l.event === 'ping').length > pings || c.ended);
      assert.equal(c.ended, false, 'still connected');
      c.send({ id: `p${answered}`, op: 'ping', params: {} });
      answered++;
    }
    assert.equal(
      c.lines().some((l) => l.event === 'closing'),
      false,
    );
    c.socket.destroy();
  });

  test('the client library keeps an idle TCP connection alive by itself', async () => {
    const me = await account(hb);
    const c = await connectAs(hb.tcpUrl, me.token);
    const conn = await until('the connection', () => serverConnection(hb, me.userId));
    // Several heartbeats pass without the application sending anything.
    const firstSeen = c.hello.limits.heartbeatMs;
    assert.equal(firstSeen, 1000);
    let beats = 0;
    const start = Date.now();
    await until('three heartbeats', () => {
      beats = Math.floor((Date.now() - start) / 1000);
      return beats >= 3;
    });
    assert.equal(c.closed, false);
    assert.equal(conn.closed, false);
    assert.equal((await c.request('whoami', {})).user.id, me.userId);
    c.close();
  });

  test('the client drops a server that stops answering (1006) instead of waiting forever', async () => {
    // A fake server: it says hello, then never writes again.
    const { createServer } = await import('node:net');
    const fake = createServer((s) => {
      s.on('error', () => {});
      s.write(
        `${JSON.stringify({ event: 'hello', data: { protocol: 1, server: { name: 'natter', version: 'x' }, authenticated: false, limits: { maxFrameBytes: 65536, authDeadlineMs: 10000, heartbeatMs: 200 } } })}\n`,
      );
    });
    fake.listen(0, '127.0.0.1');
    await once(fake, 'listening');
    try {
      const port = (fake.address() as { port: number }).port;
      const c = await NatterClient.connect(`tcp://127.0.0.1:${port}`);
      const [code, reason] = (await Promise.race([
        once(c, 'close'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no close within 30 s')), 30_000)),
      ])) as [number, string];
      assert.equal(code, 1006);
      assert.match(reason, /sent nothing/);
    } finally {
      fake.close();
    }
  });
});

describe('slow consumers on TCP', () => {
  test('a paused reader that resumes gets whole lines, then closing 4009, then the end', async () => {
    const srv = await startTestServer({ maxQueuedBytes: 64 * 1024 });
    try {
      const me = await account(srv);
      const owner = await connectAs(srv.wsUrl, me.token);
      const { channels } = await owner.request('servers.create', { name: 'slow' });
      const conversationId = channels[0]?.id ?? '';
      const slow = await PausableTcp.open(srv.server.tcpPort ?? 0);
      slow.send({ id: 'auth', op: 'auth', params: { token: me.token } });
      await until('auth', () => slow.reply('auth'));
      slow.socket.pause();
      const conn = await until('the slow connection', () =>
        srv.server.services.hub.connections().find((c) => c.transport === 'tcp' && c.auth?.userId === me.userId),
      );
      // Sends until the server gives up on the slow reader.
      let i = 0;
      const overdue = deadline('the server to give up on the slow reader', 4 * DEADLINE_MS);
      // Each pass is bounded twice: the loop by `overdue`, each batch of sends by its own deadline.
      while (!conn.closed) {
        overdue();
        await within(
          Promise.all(
            Array.from({ length: 50 }, () =>
              owner.request('messages.send', { conversationId, body: 'x'.repeat(3000), nonce: `s${i++}` }),
            ),
          ),
          'a batch of sends to the slow reader',
        );
        if (i > 20_000) throw new Error('the slow reader was never cut off');
      }
      // The reader stays away a while (longer than a close handshake is usually given), then reads.
      await new Promise((r) => setTimeout(r, 2500));
      slow.socket.resume();
      await until('the end of the stream', () => slow.ended, 60_000);
      assert.ok(slow.text.endsWith('\n'), 'the stream ends with a whole line');
      const lines = slow.lines();
      assert.equal(lines.at(-1)?.event, 'closing');
      assert.equal(lines.at(-1)?.data?.code, CloseCode.slowConsumer);
      owner.close();
    } finally {
      await srv.destroy();
    }
  });
});
