import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { uploadFile } from '../../src/client/media.js';
import { CloseCode } from '../../src/protocol/index.js';
import { connectAs, connectNatter, createNatter, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

const FAST = { initialMs: 20, maxMs: 200 };

async function account() {
  const reg = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('nat'), password: PASSWORD });
  return { token: reg.token, userId: reg.user.id, username: reg.user.username };
}

/** A server with a channel shared by `owner` and `member`. */
async function sharedChannel(owner: { token: string }, member: { token: string }): Promise<string> {
  const a = await connectAs(t.wsUrl, owner.token);
  const { server, channels } = await a.request('servers.create', { name: 'lib' });
  const { invite } = await a.request('invites.create', { serverId: server.id });
  const b = await connectAs(t.wsUrl, member.token);
  await b.request('invites.join', { code: invite.code });
  a.close();
  b.close();
  return channels[0]?.id ?? '';
}

/** Drops every connection of a user from the server side, as a network failure would. */
function dropConnections(userId: string): void {
  for (const conn of [...t.server.services.hub.userConnections(userId)])
    conn.close(CloseCode.slowConsumer, 'dropped by test');
}

function until(cond: () => boolean, what: string): Promise<true> {
  return waitFor(() => cond(), { what });
}

describe('Natter (reconnecting client)', () => {
  test('reconnects after a drop and resumes: every message once, in order', async () => {
    const alice = await account();
    const bob = await account();
    const channelId = await sharedChannel(alice, bob);
    const client = await connectNatter({ url: t.tcpUrl, token: bob.token, backoff: FAST });
    const seen: number[] = [];
    const states: string[] = [];
    client.on('state', (s) => states.push(s.status));
    client.onEvent('message.created', ({ message }) => {
      if (message.conversationId === channelId) seen.push(message.seq);
    });
    const sender = await connectAs(t.wsUrl, alice.token);
    for (let round = 0; round < 4; round++) {
      const sends = [];
      for (let i = 0; i < 10; i++) {
        sends.push(
          sender.request('messages.send', {
            conversationId: channelId,
            body: `r${round} m${i}`,
            nonce: `r${round}-${i}`,
          }),
        );
        if (i === 3) dropConnections(bob.userId);
      }
      await Promise.all(sends);
    }
    await until(() => seen.length >= 40, '40 messages');
    // A duplicate would come ahead of this reply on the client's connection.
    await client.request('ping', {});
    assert.deepEqual(
      seen,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.ok(states.includes('reconnecting') && states.at(-1) === 'connected', states.join(','));
    assert.ok(Number(client.cursor) > 0);
    client.close();
    sender.close();
  });

  test('the outbox keeps a send across a server restart and it is stored once', async () => {
    const own = await startTestServer();
    const reg = await new HttpApi(own.httpUrl).call('register', { username: uniqueName('box'), password: PASSWORD });
    const c0 = await connectAs(own.wsUrl, reg.token);
    const { channels } = await c0.request('servers.create', { name: 'outbox' });
    c0.close();
    const channelId = channels[0]?.id ?? '';
    const port = own.server.port;
    const client = await connectNatter({ url: own.wsUrl, token: reg.token, backoff: FAST });
    await own.stop();
    await until(() => client.state.status === 'reconnecting', 'reconnecting');
    const sent = client.send({ conversationId: channelId }, 'written while the server was down');
    assert.equal(client.pending.length, 1);
    const again = await startTestServer({ port }, own.dataDir);
    try {
      const message = await sent;
      assert.equal(message.body, 'written while the server was down');
      assert.equal(client.pending.length, 0);
      const check = await connectAs(again.wsUrl, reg.token);
      const { messages } = await check.request('messages.history', { conversationId: channelId });
      assert.equal(messages.filter((m) => m.body === 'written while the server was down').length, 1);
      check.close();
    } finally {
      client.close();
      await again.destroy();
    }
  });

  test('a file sent while the server is down goes with its message once it is back, stored once', async () => {
    const own = await startTestServer();
    const reg = await new HttpApi(own.httpUrl).call('register', { username: uniqueName('box'), password: PASSWORD });
    const c0 = await connectAs(own.wsUrl, reg.token);
    const { channels } = await c0.request('servers.create', { name: 'outbox files' });
    c0.close();
    const channelId = channels[0]?.id ?? '';
    const port = own.server.port;
    const client = await connectNatter({ url: own.wsUrl, token: reg.token, backoff: FAST });
    const bytes = Buffer.from('minutes of the meeting\n');
    const dir = mkdtempSync(join(tmpdir(), 'natter-outbox-'));
    const path = join(dir, 'minutes.txt');
    writeFileSync(path, bytes);
    const file = await uploadFile(client, path);
    await own.stop();
    await until(() => client.state.status === 'reconnecting', 'reconnecting');
    const sent = client.send({ conversationId: channelId }, '', 'file-1', 'text', [file.id]);
    assert.deepEqual(client.pending[0]?.attachments, [file.id]);
    const again = await startTestServer({ port }, own.dataDir);
    try {
      const message = await sent;
      assert.equal(message.body, '');
      assert.deepEqual(
        message.attachments?.map((a) => [a.name, a.size]),
        [['minutes.txt', bytes.length]],
      );
      const check = await connectAs(again.wsUrl, reg.token);
      const { messages } = await check.request('messages.history', { conversationId: channelId });
      assert.equal(messages.filter((m) => m.attachments?.[0]?.id === file.id).length, 1);
      check.close();
    } finally {
      client.close();
      await again.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a restarting server’s "come back in 1-5 s" never makes a client wait past its own backoff ceiling', async () => {
    const own = await startTestServer();
    const reg = await new HttpApi(own.httpUrl).call('register', { username: uniqueName('hint'), password: PASSWORD });
    const client = await connectNatter({ url: own.wsUrl, token: reg.token, backoff: { initialMs: 50, maxMs: 300 } });
    const waits: number[] = [];
    client.on('state', (st) => {
      if (st.status === 'reconnecting') waits.push(st.retryInMs);
    });
    try {
      // A graceful stop closes with 1012 and a hint of 1,000-5,000 ms.
      await own.stop();
      await until(() => waits.length > 0, 'the first wait');
      assert.ok((waits[0] ?? Infinity) <= 300, `waited ${waits[0]} ms, at most the client's 300`);
    } finally {
      client.close();
      rmSync(own.dataDir, { recursive: true, force: true });
    }
  });

  test('an action waiting in the outbox across a server restart is stored as an action', async () => {
    const own = await startTestServer();
    const reg = await new HttpApi(own.httpUrl).call('register', { username: uniqueName('act'), password: PASSWORD });
    const c0 = await connectAs(own.wsUrl, reg.token);
    const { channels } = await c0.request('servers.create', { name: 'outbox' });
    c0.close();
    const target = { conversationId: channels[0]?.id ?? '' };
    const port = own.server.port;
    const client = await connectNatter({ url: own.wsUrl, token: reg.token, backoff: FAST });
    let again: TestServer | null = null;
    try {
      const said = await client.send(target, 'brb');
      assert.equal(said.kind, 'text', 'text unless asked');
      await own.stop();
      await until(() => client.state.status === 'reconnecting', 'reconnecting');
      const sent = client.send(target, 'stretches', 'stretch-1', 'action');
      assert.deepEqual(
        client.pending.map((p) => [p.body, p.kind]),
        [['stretches', 'action']],
      );
      again = await startTestServer({ port }, own.dataDir);
      const message = await sent;
      assert.deepEqual([message.body, message.kind, message.nonce], ['stretches', 'action', 'stretch-1']);
    } finally {
      client.close();
      await (again ?? own).destroy();
    }
  });

  test('start({ untilConnected }) waits out a server that is down at first; reconnectNow() cuts the wait short', async () => {
    const own = await startTestServer();
    const reg = await new HttpApi(own.httpUrl).call('register', { username: uniqueName('late'), password: PASSWORD });
    const port = own.server.port;
    await own.stop();
    // A long backoff: only reconnectNow() can bring it back within the test's deadline.
    const client = createNatter({ url: own.wsUrl, token: reg.token, backoff: { initialMs: 600_000, maxMs: 600_000 } });
    const started = client.start({ untilConnected: true });
    let settled = false;
    void started.then(() => {
      settled = true;
    });
    await until(() => client.state.status === 'reconnecting', 'waiting to reconnect');
    assert.equal(settled, false, 'start() has not given up on an unreachable server');
    assert.equal(client.reconnectNow(), true);
    await until(() => client.state.status === 'reconnecting', 'waiting again, the server still down');
    const again = await startTestServer({ port }, own.dataDir);
    try {
      assert.equal(client.reconnectNow(), true);
      await started;
      assert.equal(client.state.status, 'connected');
      assert.equal(client.user?.id, reg.user.id);
      assert.equal(client.reconnectNow(), false, 'nothing to cut short once connected');
    } finally {
      client.close();
      await again.destroy();
    }
  });

  test('start({ untilConnected }) still rejects a refused token at once', async () => {
    const client = createNatter({ url: t.wsUrl, token: 'nts_not-a-real-token-at-all-0000000000000', backoff: FAST });
    await assert.rejects(
      client.start({ untilConnected: true }),
      (err: { code?: string }) => err.code === 'unauthenticated',
    );
    assert.equal(client.state.status, 'closed');
    client.close();
  });

  test('a revoked session stops the client instead of retrying forever', async () => {
    const me = await account();
    const client = await connectNatter({ url: t.wsUrl, token: me.token, backoff: FAST });
    const other = await connectAs(t.tcpUrl, me.token);
    await other.request('logout', {});
    await until(() => client.state.status === 'closed', 'closed');
    assert.match(client.state.status === 'closed' ? (client.state.error ?? '') : '', /4004/);
    await assert.rejects(client.send({ conversationId: 'any' }, 'too late'), /not connected/);
    other.close();
  });

  test('a server refusal rejects the send at once and leaves the outbox empty', async () => {
    const me = await account();
    const client = await connectNatter({ url: t.wsUrl, token: me.token });
    await assert.rejects(client.send({ conversationId: 'nope-nope' }, 'hello'), /no such conversation/);
    assert.equal(client.pending.length, 0);
    client.close();
  });

  test('a stale cursor after a reset falls back to "start from now" with limited', async () => {
    const me = await account();
    // A cursor past the server's head, as after restoring an older backup.
    const client = createNatter({ url: t.wsUrl, token: me.token, cursor: '999999999' });
    const caughtUp: { replayed: number; limited: boolean }[] = [];
    client.on('caughtUp', (d) => caughtUp.push(d));
    await client.start();
    assert.deepEqual(
      caughtUp.map((d) => [d.replayed, d.limited]),
      [[0, true]],
      'told to reload (limited), with nothing replayed',
    );
    assert.equal(client.state.status, 'connected');
    assert.ok(Number(client.cursor) < 999999999, 'the cursor is the server head now');
    const { user } = await client.request('whoami', {});
    assert.equal(user.id, me.userId);
    client.close();
  });

  test('the first connection failure is reported, not retried', async () => {
    await assert.rejects(connectNatter({ url: 'ws://127.0.0.1:1' }), /ECONNREFUSED/);
  });

  test('login through the client keeps the token for reconnects', async () => {
    const me = await account();
    const client = await connectNatter({ url: t.wsUrl, backoff: FAST });
    await client.login(me.username, PASSWORD, 'lib-test');
    assert.equal(client.user?.id, me.userId);
    const states: string[] = [];
    client.on('state', (s) => states.push(s.status));
    dropConnections(me.userId);
    await until(() => states.includes('reconnecting') && client.state.status === 'connected', 'reconnected');
    const { user } = await client.request('whoami', {});
    assert.equal(user.id, me.userId);
    client.close();
  });
});

describe("the outbox and the server's limits", () => {
  test('100 sends at once are paced to the send limit: each delivered once, the connection never closed for flooding', async () => {
    const strict = await startTestServer({
      limits: { ...LOOSE_LIMITS, sendPerUser: { capacity: 5, refillMs: 40 } },
    });
    try {
      const reg = await new HttpApi(strict.httpUrl).call('register', {
        username: uniqueName('pace'),
        password: PASSWORD,
      });
      const n = await connectNatter({ url: strict.tcpUrl, token: reg.token, backoff: FAST });
      const { channels } = await n.request('servers.create', { name: 'paced' });
      const conversationId = channels[0]?.id ?? '';
      const closes: number[] = [];
      n.on('state', (s) => {
        if (s.status === 'reconnecting') closes.push(1);
      });
      const sent = await Promise.all(Array.from({ length: 100 }, (_, i) => n.send({ conversationId }, `m${i}`)));
      assert.equal(sent.length, 100);
      assert.deepEqual(closes, [], 'never cut off for ignoring the limit');
      const { messages } = await n.request('messages.history', { conversationId, limit: 100 });
      assert.equal(messages.length, 100);
      assert.deepEqual(
        messages.map((m) => m.body).sort(),
        Array.from({ length: 100 }, (_, i) => `m${i}`).sort(),
        'each exactly once',
      );
      n.close();
    } finally {
      await strict.destroy();
    }
  });
});

describe('Natter.create + start', () => {
  test('listeners attached before start() receive the replay of a stored cursor', async () => {
    const alice = await account();
    const bob = await account();
    const channelId = await sharedChannel(alice, bob);
    const first = await connectNatter({ url: t.wsUrl, token: bob.token });
    const cursor = first.cursor;
    first.close();
    const sender = await connectAs(t.wsUrl, alice.token);
    for (let i = 0; i < 5; i++)
      await sender.request('messages.send', { conversationId: channelId, body: `away ${i}`, nonce: `away-${i}` });
    sender.close();

    const client = createNatter({ url: t.tcpUrl, token: bob.token, cursor });
    const bodies: string[] = [];
    client.onEvent('message.created', ({ message }) => bodies.push(message.body));
    const caughtUp = client.nextEvent('caught_up');
    await client.start();
    assert.equal((await caughtUp).data.replayed, 5);
    assert.deepEqual(bodies, ['away 0', 'away 1', 'away 2', 'away 3', 'away 4']);
    client.close();
  });
});
