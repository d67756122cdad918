import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { NatterClient } from '../../src/client/client.js';
import { Natter } from '../../src/client/natter.js';
import { parseServerList, ServersUnreachableError } from '../../src/client/servers.js';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// A client given several servers (the nodes of a cluster): how it tries them, on connect and on reconnect.

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.destroy().catch(() => {});
});

async function server(overrides: Parameters<typeof startTestServer>[0] = {}, dataDir?: string) {
  const s = await startTestServer(overrides, dataDir);
  servers.push(s);
  return s;
}

/** A port nothing listens on (it was free a moment ago, and nothing here takes it). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

describe('parseServerList', () => {
  test('one URL, or several separated by commas, blanks trimmed, order kept', () => {
    assert.deepEqual(parseServerList('ws://a:7777'), ['ws://a:7777']);
    assert.deepEqual(parseServerList(' ws://a:7777 , wss://b,tcp://c:7778,tls://d:7778 '), [
      'ws://a:7777',
      'wss://b',
      'tcp://c:7778',
      'tls://d:7778',
    ]);
  });

  test('an empty entry or a bad one is refused in words that name it', () => {
    assert.throws(() => parseServerList('ws://a:7777,,ws://b:7777'), /^Error: server 2 of 3 is empty/);
    assert.throws(() => parseServerList('ws://a:7777,'), /server 2 of 2 is empty/);
    assert.throws(() => parseServerList(''), /no server given/);
    assert.throws(() => parseServerList('ws://a:7777,nope'), /server 2 of 2 "nope" is not a URL/);
    assert.throws(
      () => parseServerList('https://a,ws://b'),
      /server 1 of 2 "https:\/\/a" has the wrong scheme: expected a ws:\/\/, wss:\/\/, tcp:\/\/ or tls:\/\/ URL/,
    );
    assert.throws(() => parseServerList('tcp://'), /the server "tcp:\/\/" names no host/);
  });
});

describe('NatterClient.connect with several servers', () => {
  test('connects to the second when the first refuses; url says which answered', async () => {
    const live = await server();
    const dead = `ws://127.0.0.1:${await closedPort()}`;
    const c = await NatterClient.connect(`${dead}, ${live.tcpUrl}`, { timeoutMs: 5000 });
    try {
      assert.equal(c.url, live.tcpUrl);
      assert.equal(typeof (await c.request('ping', {})).now, 'number');
    } finally {
      c.close();
    }
  });

  test('when none answers, the error names each server and why', async () => {
    const a = `ws://127.0.0.1:${await closedPort()}`;
    const b = `tcp://127.0.0.1:${await closedPort()}`;
    const err = await NatterClient.connect([a, b], { timeoutMs: 5000 }).then(
      () => assert.fail('connected to nothing'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ServersUnreachableError);
    assert.deepEqual(
      err.failures.map((f) => f.url),
      [a, b],
    );
    assert.match(err.message, new RegExp(`^no server answered: ${a}: .*ECONNREFUSED.*; ${b}: .*ECONNREFUSED`));
  });

  test('a bad entry rejects before any server is tried', async () => {
    await assert.rejects(NatterClient.connect('ws://127.0.0.1:1,http://x'), /server 2 of 2 "http:\/\/x"/);
  });
});

describe('Natter with several servers', () => {
  test('a lost node: the next round starts at once with the server after it, not at the top of the list', async () => {
    const a = await server();
    const b = await server();
    const c = await server();
    // A backoff this long would stall the test: moving on to another node must not wait for it.
    const client = await Natter.connect({ url: [a.wsUrl, b.wsUrl, c.wsUrl], backoff: { initialMs: 60_000 } });
    try {
      assert.equal(client.url, a.wsUrl);
      const aPort = a.server.port;
      await a.stop();
      await waitFor(() => client.state.status === 'connected' && client.url === b.wsUrl, { what: 'connected to b' });
      // a is back; b goes: the round starts after b, so c (a would come first from the top).
      await server({ port: aPort });
      await b.stop();
      await waitFor(() => client.state.status === 'connected' && client.url !== b.wsUrl, {
        what: 'connected again',
      });
      assert.equal(client.url, c.wsUrl);
      await client.request('ping', {});
    } finally {
      client.close();
    }
  });

  test('the backoff is per round: one attempt tries every server, and its error names each', async () => {
    const a = `ws://127.0.0.1:${await closedPort()}`;
    const b = `tcp://127.0.0.1:${await closedPort()}`;
    const client = Natter.create({ url: `${a},${b}`, backoff: { initialMs: 60_000 } });
    const states: string[] = [];
    client.on('state', (s) => states.push(s.status === 'reconnecting' ? `reconnecting ${s.attempt}` : s.status));
    const started = client.start({ untilConnected: true }).catch(() => {});
    try {
      await waitFor(() => client.state.status === 'reconnecting', { what: 'the first round to fail' });
      const s = client.state;
      assert.ok(s.status === 'reconnecting');
      assert.equal(s.attempt, 1);
      assert.match(s.error, new RegExp(`${a}: .*; ${b}: `));
      assert.equal(client.url, `${a},${b}`);
      assert.deepEqual(states, ['connecting', 'reconnecting 1']);
    } finally {
      client.close();
      await started;
    }
  });

  test('resumes on another node: a message sent there while disconnected arrives, once', async () => {
    // startTestServer cannot run two servers on one database, so the other node is the same
    // database served on another port: the one the client had in its list after the first.
    const first = await server();
    const otherPort = await closedPort();
    const other = `ws://127.0.0.1:${otherPort}`;
    const api = new HttpApi(first.httpUrl);
    const alice = await api.call('register', { username: uniqueName('ann'), password: PASSWORD });
    const bob = await api.call('register', { username: uniqueName('bob'), password: PASSWORD });
    const a = await connectAs(first.wsUrl, alice.token);
    const { server: chat, channels } = await a.request('servers.create', { name: 'nodes' });
    const channelId = channels[0]?.id ?? '';
    const { invite } = await a.request('invites.create', { serverId: chat.id });
    const b = await connectAs(first.wsUrl, bob.token);
    await b.request('invites.join', { code: invite.code });
    b.close();

    const client = Natter.create({
      url: [first.wsUrl, other],
      token: bob.token,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    const seen: string[] = [];
    client.onEvent('message.created', ({ message }) => {
      if (message.conversationId === channelId) seen.push(message.body);
    });
    await client.start();
    try {
      await a.request('messages.send', { conversationId: channelId, body: 'before', nonce: 'n1' });
      await waitFor(() => seen.length === 1, { what: 'the first message' });
      a.close();
      await first.stop();
      // Lost: one round at once (the other port, then the first: both closed), then a long wait.
      await waitFor(() => client.state.status === 'reconnecting' && client.state.attempt === 2, {
        what: 'the round after the loss to fail',
      });
      const moved = await server({ port: otherPort }, first.dataDir);
      const a2 = await connectAs(moved.wsUrl, alice.token);
      await a2.request('messages.send', { conversationId: channelId, body: 'meanwhile', nonce: 'n2' });
      a2.close();
      client.reconnectNow();
      await waitFor(() => client.state.status === 'connected', { what: 'connected to the other node' });
      assert.equal(client.url, other);
      await waitFor(() => seen.length >= 2, { what: 'the message sent meanwhile' });
      await client.request('ping', {});
      assert.deepEqual(seen, ['before', 'meanwhile']);
    } finally {
      client.close();
    }
  });
});
