import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import type { ServerConfig } from '../../src/server/config.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The external classifier (`--moderation-webhook`), against real HTTP
 * services started here: one that answers, one too slow, one that fails.
 * Above the threshold a message gets the configured action; while the
 * service cannot answer, the fallback; after repeated failures the breaker
 * opens, the service is left alone, and `/readyz` says so.
 */

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

type Asked = { text: string; author: { id: string; username: string }; conversation: Record<string, unknown> };

/** An HTTP service on port 0 answering with `answer`; it notes what it was asked. */
async function service(answer: (asked: Asked, res: ServerResponse) => void): Promise<{ url: string; asked: Asked[] }> {
  const asked: Asked[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const a = JSON.parse(body) as Asked;
      asked.push(a);
      answer(a, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/classify`, asked };
}

async function natterWith(hook: NonNullable<ServerConfig['moderationWebhook']>): Promise<TestServer> {
  const t = await startTestServer({ moderationWebhook: hook });
  cleanup.push(() => t.destroy());
  return t;
}

async function people(t: TestServer) {
  const make = async (prefix: string) => {
    const api = new HttpApi(t.httpUrl);
    const reg = await api.call('register', { username: uniqueName(prefix), password: PASSWORD });
    api.token = reg.token;
    return { api, id: reg.user.id, username: reg.user.username };
  };
  const owner = await make('cl-own');
  const bob = await make('cl-bob');
  const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Classified') });
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  await bob.api.call('invites.join', { code });
  return { owner, bob, serverId: server.id, channelId: channels[0]?.id ?? '' };
}

let n = 0;
const nonce = () => `cl-${++n}-${Date.now()}`;

async function readyz(t: TestServer): Promise<{ ready: boolean; classifier?: { state: string; failures: number } }> {
  return (await fetch(`${t.httpUrl}/readyz`)).json() as never;
}

test('a score over the threshold holds the message; below it the message is posted; moderators are not asked about', async () => {
  const svc = await service((asked, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ score: asked.text.includes('awful') ? 0.93 : 0.05 }));
  });
  const t = await natterWith({ url: svc.url, threshold: 0.8, action: 'hold', fallback: 'allow', timeoutMs: 2000 });
  const { owner, bob, serverId, channelId } = await people(t);
  assert.equal(
    (await bob.api.call('messages.send', { conversationId: channelId, body: 'nice', nonce: nonce() })).message.seq,
    1,
  );
  const held = await rejection(
    bob.api.call('messages.send', { conversationId: channelId, body: 'you are awful', nonce: nonce() }),
  );
  assert.equal(held.code, 'held');
  assert.match(held.message, /the message classifier/);
  const [waiting] = (await owner.api.call('held.list', { serverId })).messages;
  assert.equal(waiting?.body, 'you are awful');
  assert.equal(waiting?.heldBy, 'classifier');
  await owner.api.call('messages.send', { conversationId: channelId, body: 'owner: awful weather', nonce: nonce() });
  assert.deepEqual(
    svc.asked.map((a) => [a.text, a.author.id, a.conversation.id, a.conversation.kind, a.conversation.serverId]),
    [
      ['nice', bob.id, channelId, 'channel', serverId],
      ['you are awful', bob.id, channelId, 'channel', serverId],
    ],
    'the owner was not asked about',
  );
  // Direct messages are not sent to the classifier.
  await bob.api.call('messages.send', { to: owner.username, body: 'awful dm', nonce: nonce() });
  assert.equal(svc.asked.length, 2);
  const flags = (await owner.api.call('audit.list', { serverId, action: 'automod.flag' })).entries;
  assert.deepEqual(flags[0]?.details?.rules, [{ name: 'classifier', trigger: 'score 0.93 (0.8 or more is flagged)' }]);
  assert.equal((await readyz(t)).classifier?.state, 'closed');
});

test('a classifier too slow to answer gets the fallback (allow): messages are posted, and the failures show in /readyz', async () => {
  const svc = await service((_asked, res) => {
    // Answers long after the timeout.
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"score": 1}');
    }, 5_000).unref();
  });
  const t = await natterWith({ url: svc.url, threshold: 0.5, action: 'block', fallback: 'allow', timeoutMs: 50 });
  const { bob, channelId } = await people(t);
  const sent = await bob.api.call('messages.send', { conversationId: channelId, body: 'slow one', nonce: nonce() });
  assert.equal(sent.message.body, 'slow one');
  const ready = await readyz(t);
  assert.equal(ready.ready, true, 'a failing classifier does not make natter unready');
  assert.equal(ready.classifier?.failures, 1);
});

test('a failing classifier with fallback hold holds messages; after five failures the breaker opens and it is no longer called', async () => {
  const svc = await service((_asked, res) => {
    res.writeHead(500);
    res.end('down');
  });
  const t = await natterWith({ url: svc.url, threshold: 0.5, action: 'block', fallback: 'hold', timeoutMs: 2000 });
  const { owner, bob, serverId, channelId } = await people(t);
  for (let i = 0; i < 7; i++) {
    const r = await rejection(
      bob.api.call('messages.send', { conversationId: channelId, body: `msg ${i}`, nonce: nonce() }),
    );
    assert.equal(r.code, 'held', `message ${i}`);
  }
  assert.equal(svc.asked.length, 5, 'called until the breaker opened, then left alone');
  await waitFor(async () => (await readyz(t)).classifier?.state === 'open', { what: 'the breaker to show open' });
  assert.equal((await owner.api.call('held.list', { serverId })).messages.length, 7);
});

test('a classifier that is not there at all: the fallback applies at once', async () => {
  const svc = await service((_asked, res) => res.end());
  const url = svc.url;
  // Nothing listens there any more.
  await cleanup.pop()?.();
  const t = await natterWith({ url, threshold: 0.5, action: 'block', fallback: 'allow', timeoutMs: 2000 });
  const { bob, channelId } = await people(t);
  const sent = await bob.api.call('messages.send', { conversationId: channelId, body: 'anyone?', nonce: nonce() });
  assert.equal(sent.message.seq, 1);
  const { classifier } = (await readyz(t)) as { classifier?: { state: string; failures: number; lastError: string } };
  assert.deepEqual([classifier?.state, classifier?.failures], ['closed', 1]);
  assert.match(classifier?.lastError ?? '', /refused|ECONNREFUSED/i);
});
