import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { closeCodeOf, connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { assertFrame } from '../helpers/contract.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, deadline, waitFor, within } from '../helpers/wait.js';

// Each test gets the settings it is about on a server of its own: a short heartbeat
// or a small send queue would otherwise cut off the other tests' clients whenever
// the machine is too busy to answer a ping in time.
let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

async function account(on: TestServer = t): Promise<{ token: string; userId: string }> {
  const reg = await new HttpApi(on.httpUrl).call('register', { username: uniqueName('live'), password: PASSWORD });
  return { token: reg.token, userId: reg.user.id };
}

/** The opcodes of the (unmasked) frames a server sent, in order. */
function frameOpcodes(bytes: Buffer): number[] {
  const opcodes: number[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at] ?? 0;
    let len = (bytes[at + 1] ?? 0) & 0x7f;
    let offset = at + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(offset);
      offset += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(offset));
      offset += 8;
    }
    opcodes.push(b0 & 0x0f);
    at = offset + len;
  }
  return opcodes;
}

describe('slow consumers and dead peers', () => {
  test('a client that stops reading is cut off at the send-queue cap (4009) and others are unaffected', async (ctx) => {
    const small = await startTestServer({ maxQueuedBytes: 64 * 1024 });
    ctx.after(() => small.destroy());
    const owner = await account(small);
    const slowUser = await account(small);
    const alice = await connectAs(small.wsUrl, owner.token);
    const { server, channels } = await alice.request('servers.create', { name: 'busy' });
    const { invite } = await alice.request('invites.create', { serverId: server.id });
    const channelId = channels[0]?.id ?? '';

    // The slow client authenticates over raw TCP, joins, then stops reading.
    const socket = connect({ host: '127.0.0.1', port: small.server.tcpPort ?? 0 });
    ctx.after(() => socket.destroy());
    await within(once(socket, 'connect'), 'the slow client to connect');
    socket.write(`${JSON.stringify({ id: 1, op: 'auth', params: { token: slowUser.token } })}\n`);
    socket.write(`${JSON.stringify({ id: 2, op: 'invites.join', params: { code: invite.code } })}\n`);
    let received = '';
    socket.setEncoding('utf8');
    const onData = (chunk: string) => {
      received += chunk;
    };
    socket.on('data', onData);
    await waitFor(() => received.includes('"id":2'), { what: "the slow client's join reply" });
    socket.off('data', onData);
    socket.pause();

    const conn = small.server.services.hub.connections().find((c) => c.auth?.userId === slowUser.userId);
    assert.ok(conn, 'the slow client is connected');

    const watcher = await connectAs(small.tcpUrl, owner.token);
    let seenByWatcher = 0;
    watcher.on('event', (e) => {
      if (e.event === 'message.created') seenByWatcher++;
    });

    // The server sends the closing notice and destroys the socket 2 s later: the client reads
    // again the moment it is cut off, as a client that was merely slow would.
    let closed: Promise<unknown> | undefined;
    const cutOff = waitFor(() => conn.closed, { what: 'the server to cut off the slow client' }).then(() => {
      closed = within(once(socket, 'close'), 'the end of the slow client’s stream');
      socket.on('data', onData);
      socket.resume();
    });
    // Enough to fill the kernel's socket buffers on loopback (several MB) and then the server's cap.
    const body = 'x'.repeat(4000);
    let sent = 0;
    const overdue = deadline('the server to cut off the slow client', 4 * DEADLINE_MS);
    // Each pass is bounded twice: the loop by `overdue`, each batch of sends by its own deadline.
    while (!conn.closed) {
      overdue();
      assert.ok(sent < 20_000, `the slow client was not cut off after ${sent} messages`);
      const batch = [];
      for (let j = 0; j < 50; j++, sent++) {
        batch.push(alice.request('messages.send', { conversationId: channelId, body, nonce: `flood-${sent}` }));
      }
      await within(Promise.all(batch), 'a batch of sends to the slow client');
    }
    await cutOff;
    // Nothing more is queued for a connection that was cut off.
    await alice.request('messages.send', { conversationId: channelId, body: 'after the cut-off', nonce: 'after' });
    sent++;
    await closed;
    await waitFor(() => seenByWatcher >= sent, {
      what: `the watcher to receive all ${sent} messages`,
      detail: () => `it has ${seenByWatcher}`,
    });

    const lines = received.trim().split('\n');
    const messages = lines.map((l) => JSON.parse(l) as { event?: string; data?: { code?: number } });
    for (const m of messages) assertFrame(m, (id) => ({ 1: 'auth', 2: 'invites.join' })[String(id)]);
    const closing = messages.find((m) => m.event === 'closing');
    assert.equal(closing?.data?.code, 4009, 'the slow client was told why (4009) before the end of the stream');
    assert.equal(messages.at(-1)?.event, 'closing', 'nothing after the closing notice');
    const delivered = messages.filter((m) => m.event === 'message.created').length;
    assert.ok(delivered < sent, `the server stopped queueing for it (${delivered} of ${sent} messages reached it)`);
    assert.ok(!received.includes('after the cut-off'));
    assert.equal(seenByWatcher, sent, 'the other client got everything');
    alice.close();
    watcher.close();
  });

  test('a WebSocket peer that never answers pings is pinged, then dropped without a close handshake', async (ctx) => {
    // Only this test has the short heartbeat: nothing else on its server has to answer pings in time.
    const hb = await startTestServer({ heartbeatMs: 150 });
    ctx.after(() => hb.destroy());
    // A hand-made WebSocket handshake: this peer will never send a pong.
    const socket = connect({ host: '127.0.0.1', port: hb.server.port });
    ctx.after(() => socket.destroy());
    await within(once(socket, 'connect'), 'the silent peer to connect');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = within(once(socket, 'close'), 'the server to drop the silent peer');
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await closed;
    const bytes = Buffer.concat(chunks);
    const headEnd = bytes.indexOf('\r\n\r\n');
    assert.match(bytes.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 101/);
    const opcodes = frameOpcodes(bytes.subarray(headEnd + 4));
    assert.ok(opcodes.includes(0x9), `the server pinged it (frames: ${opcodes.join(', ')})`);
    // A close frame would mean another reason (the auth deadline closes with 4003); a dead peer is terminated.
    assert.ok(!opcodes.includes(0x8), `it was dropped, not closed with a close frame (frames: ${opcodes.join(', ')})`);
  });
});

describe('group commit', () => {
  test('concurrent sends share transactions and every one is acknowledged once', async () => {
    const owner = await account();
    const clients: NatterClient[] = [];
    for (let i = 0; i < 4; i++) clients.push(await connectAs(i % 2 ? t.tcpUrl : t.wsUrl, owner.token));
    const first = clients[0] as NatterClient;
    const { channels } = await first.request('servers.create', { name: 'batch' });
    const channelId = channels[0]?.id ?? '';
    const before = { ...t.server.services.store.stats };
    const sends = [];
    for (let i = 0; i < 200; i++) {
      const c = clients[i % clients.length] as NatterClient;
      sends.push(c.request('messages.send', { conversationId: channelId, body: `m${i}`, nonce: `batch-${i}` }));
    }
    const results = await Promise.all(sends);
    const seqs = results.map((r) => r.message.seq).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const commits = t.server.services.store.stats.commits - before.commits;
    const jobs = t.server.services.store.stats.jobs - before.jobs;
    assert.equal(jobs, 200);
    assert.ok(commits < jobs / 4, `${jobs} sends took ${commits} commits`);
    for (const c of clients) c.close();
  });
});

describe('flooding', () => {
  test('a client that keeps sending while rate limited is closed with 4008; others carry on', async () => {
    const strict = await startTestServer({
      limits: {
        ...(await import('../helpers/server.js')).LOOSE_LIMITS,
        sendPerUser: { capacity: 2, refillMs: 60_000 },
      },
    });
    try {
      const reg = await new HttpApi(strict.httpUrl).call('register', {
        username: uniqueName('flood'),
        password: PASSWORD,
      });
      const c = await connectAs(strict.wsUrl, reg.token);
      const closed = closeCodeOf(c, 'the flooding client to be closed');
      const { channels } = await c.request('servers.create', { name: 'floodzone' });
      const conversationId = channels[0]?.id ?? '';
      const outcomes = await Promise.allSettled(
        Array.from({ length: 45 }, (_, i) =>
          c.request('messages.send', { conversationId, body: `spam ${i}`, nonce: `spam-${i}` }),
        ),
      );
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length <= 2, true);
      assert.equal(await closed, 4008);
      // The burst allowance was stored (its replies may have been cut off by the close); nothing more.
      const other = await connectAs(strict.tcpUrl, reg.token);
      // Writes commit in order: once this one is acknowledged, the sends accepted before the close are in.
      await other.request('profile.update', { status: 'back' });
      const { messages } = await other.request('messages.history', { conversationId });
      assert.deepEqual(
        messages.map((m) => m.body),
        ['spam 0', 'spam 1'],
      );
      other.close();
    } finally {
      await strict.destroy();
    }
  });
});
