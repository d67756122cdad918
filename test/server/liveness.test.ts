import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { closeCodeOf, connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ maxQueuedBytes: 64 * 1024, heartbeatMs: 150 });
});
after(() => t.destroy());

async function account(): Promise<{ token: string; userId: string }> {
  const reg = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('live'), password: PASSWORD });
  return { token: reg.token, userId: reg.user.id };
}

describe('slow consumers and dead peers', () => {
  test('a client that stops reading is cut off at the send-queue cap (4009) and others are unaffected', async () => {
    const owner = await account();
    const slowUser = await account();
    const alice = await connectAs(t.wsUrl, owner.token);
    const { server, channels } = await alice.request('servers.create', { name: 'busy' });
    const { invite } = await alice.request('invites.create', { serverId: server.id });
    const channelId = channels[0]?.id ?? '';

    // The slow client authenticates over raw TCP, joins, then stops reading.
    const socket = connect({ host: '127.0.0.1', port: t.server.tcpPort ?? 0 });
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

    const watcher = await connectAs(t.tcpUrl, owner.token);
    let seenByWatcher = 0;
    watcher.on('event', (e) => {
      if (e.event === 'message.created') seenByWatcher++;
    });
    // Enough to fill the kernel's socket buffers on loopback (several MB) and then the server's cap.
    const body = 'x'.repeat(4000);
    const total = 4000;
    for (let i = 0; i < total; i += 200) {
      const batch = [];
      for (let j = i; j < i + 200; j++) {
        batch.push(alice.request('messages.send', { conversationId: channelId, body, nonce: `flood-${j}` }));
      }
      await Promise.all(batch);
    }
    await waitFor(() => seenByWatcher >= total, {
      what: `the watcher to receive all ${total} messages`,
      detail: () => `it has ${seenByWatcher}`,
    });

    // Reading again, the slow client finds the closing notice and the end of the stream.
    const closed = within(once(socket, 'close'), 'the server to close the slow client');
    socket.resume();
    socket.on('data', onData);
    await closed;
    const lines = received.trim().split('\n');
    const closing = lines
      .map((l) => JSON.parse(l) as { event?: string; data?: { code?: number } })
      .find((m) => m.event === 'closing');
    assert.equal(closing?.data?.code, 4009);
    assert.ok(lines.length < total, `the server stopped queueing for it (${lines.length} lines reached it)`);
    assert.equal(seenByWatcher, total, 'the other client got everything');
    alice.close();
    watcher.close();
  });

  test('a WebSocket peer that never answers pings is dropped', async () => {
    // A hand-made WebSocket handshake: this peer will never send a pong.
    const socket = connect({ host: '127.0.0.1', port: t.server.port });
    await within(once(socket, 'connect'), 'the silent peer to connect');
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      head += c;
    });
    const started = Date.now();
    await within(once(socket, 'close'), 'the server to drop the silent peer');
    assert.match(head, /^HTTP\/1\.1 101/);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 5000, `dropped after ${elapsed} ms (heartbeat 150 ms)`);
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
    const before = { ...t.server.services.writer.stats };
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
    const commits = t.server.services.writer.stats.commits - before.commits;
    const jobs = t.server.services.writer.stats.jobs - before.jobs;
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
