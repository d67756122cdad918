import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  ClassifierClient,
  type ClassifierOptions,
  type ClassifierRequest,
} from '../../../src/server/automod/classifier.js';
import { type Logger, loggerOf } from '../../../src/server/log.js';
import { waitFor } from '../../helpers/wait.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** A real HTTP server on a free loopback port; `handle` answers each request, with its body read. */
async function serve(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/classify`;
}

function answer(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

/** A port nothing listens on: one a server had, closed again. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}/classify`;
}

const message: ClassifierRequest = {
  text: 'hello there',
  author: { id: 'u1', username: 'ann' },
  conversation: { id: 'c1', kind: 'channel', serverId: 's1', name: 'general' },
};

/** A clock the test moves by hand, and a logger that keeps its lines. */
function harness() {
  let t = 0;
  const lines: string[] = [];
  const log: Logger = loggerOf({
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  });
  return { now: () => t, advance: (ms: number) => (t += ms), lines, log };
}

function client(url: string, more: Partial<ClassifierOptions> = {}) {
  return new ClassifierClient({ url, fallback: 'hold', timeoutMs: 200, ...more });
}

describe('classifier client', () => {
  test('a good service: the message is posted as JSON and its score read back', async () => {
    const seen: { method?: string; type?: string; body: unknown }[] = [];
    const url = await serve((req, body, res) => {
      seen.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
      answer(res, 200, '{"score": 0.25}');
    });
    const c = client(url, { headers: { authorization: 'Bearer s3cret' } });
    assert.deepEqual(await c.classify(message), { source: 'service', score: 0.25 });
    assert.deepEqual(seen, [{ method: 'POST', type: 'application/json', body: message }]);
    assert.equal(c.state(), 'closed');
  });

  test('a slow service: past the timeout the message gets the fallback', async () => {
    const url = await serve(() => {
      // Never answers: the client gives up on its own.
    });
    const c = client(url, { fallback: 'allow' });
    const v = await c.classify(message);
    assert.deepEqual(v, {
      source: 'fallback',
      decision: 'allow',
      reason: 'failed',
      error: 'the classifier did not answer within 200 ms',
    });
  });

  test('a dead service: connection refused is a failure', async () => {
    const c = client(await deadUrl());
    const v = await c.classify(message);
    assert.equal(v.source, 'fallback');
    assert.ok(v.source === 'fallback' && v.reason === 'failed');
    assert.match(v.error, /^could not reach the classifier: ECONNREFUSED/);
  });

  test('anything but {"score": <0..1>} with status 200 is a failure', async () => {
    const replies: [number, string][] = [
      [200, 'not json'],
      [200, '{"score": 1.5}'],
      [200, '{"score": -0.1}'],
      [200, '{"score": "0.5"}'],
      [200, '{"score": 0.5, "label": "spam"}'],
      [200, '[0.5]'],
      [200, 'null'],
      [200, `{"score": 0.5, "pad": "${'x'.repeat(10_000)}"}`],
      [500, '{"score": 0.5}'],
      [302, ''],
    ];
    let next = 0;
    const url = await serve((_req, _body, res) => {
      const [status, body] = replies[next++] ?? [200, ''];
      answer(res, status, body);
    });
    const c = client(url, { failureThreshold: 100 });
    const errors: string[] = [];
    for (let i = 0; i < replies.length; i++) {
      const v = await c.classify(message);
      assert.equal(v.source, 'fallback', `reply ${i + 1}: ${JSON.stringify(replies[i])}`);
      if (v.source === 'fallback') errors.push(v.error);
    }
    assert.equal(errors[0], 'the classifier did not answer JSON');
    assert.equal(errors[1], 'the classifier did not answer {"score": <a number from 0 to 1>}');
    assert.equal(errors[7], "the classifier's answer is longer than 4096 bytes");
    assert.equal(errors[8], 'the classifier answered HTTP 500');
    assert.equal(c.status().failures, replies.length);
  });

  test('repeated failures open the breaker: the service is not called, the fallback applies, and it is logged', async () => {
    const h = harness();
    let requests = 0;
    const url = await serve((_req, _body, res) => {
      requests++;
      answer(res, 503, '');
    });
    const c = client(`${url}?key=s3cret`, { failureThreshold: 5, coolDownMs: 30_000, now: h.now, log: h.log });
    for (let i = 0; i < 5; i++) await c.classify(message);
    assert.equal(c.state(), 'open');
    assert.equal(requests, 5);
    const v = await c.classify(message);
    assert.deepEqual(v, {
      source: 'fallback',
      decision: 'hold',
      reason: 'open',
      error: 'the classifier answered HTTP 503',
    });
    assert.equal(requests, 5);
    assert.deepEqual(c.status(), {
      state: 'open',
      failures: 5,
      retryInMs: 30_000,
      lastError: 'the classifier answered HTTP 503',
      fallback: 'hold',
    });
    assert.equal(h.lines.length, 1);
    assert.match(h.lines[0] ?? '', /^warn: the classifier at http:\/\/127\.0\.0\.1:\d+ failed 5 times in a row/);
    assert.match(h.lines[0] ?? '', /messages are held for moderators/);
    assert.doesNotMatch(h.lines.join('\n'), /s3cret/);
  });

  test('a service that recovers: after the cool-down the probe succeeds and closes the breaker', async () => {
    const h = harness();
    let healthy = false;
    let requests = 0;
    const url = await serve((_req, _body, res) => {
      requests++;
      if (healthy) answer(res, 200, '{"score": 0.9}');
      else answer(res, 500, '');
    });
    const changes: string[] = [];
    const c = client(url, {
      failureThreshold: 2,
      coolDownMs: 30_000,
      now: h.now,
      log: h.log,
      onStateChange: (ch) => changes.push(`${ch.from}->${ch.to}`),
    });
    await c.classify(message);
    await c.classify(message);
    assert.equal(c.state(), 'open');
    healthy = true;
    h.advance(29_999);
    assert.equal((await c.classify(message)).source, 'fallback');
    assert.equal(requests, 2);
    h.advance(1);
    assert.deepEqual(await c.classify(message), { source: 'service', score: 0.9 });
    assert.equal(requests, 3);
    assert.equal(c.state(), 'closed');
    assert.deepEqual(changes, ['closed->open', 'open->half-open', 'half-open->closed']);
    assert.match(h.lines.at(-1) ?? '', /^info: the classifier at .* answers again$/);
  });

  test('while the probe waits for its answer, other messages get the fallback without a call', async () => {
    const h = harness();
    let healthy = false;
    const waiting: ServerResponse[] = [];
    const url = await serve((_req, _body, res) => {
      if (healthy) waiting.push(res);
      else answer(res, 500, '');
    });
    const c = client(url, { failureThreshold: 1, coolDownMs: 1_000, now: h.now, timeoutMs: 60_000 });
    await c.classify(message);
    assert.equal(c.state(), 'open');
    healthy = true;
    h.advance(1_000);
    const probe = c.classify(message);
    await waitFor(() => waiting.length === 1, { what: 'the probe to reach the classifier' });
    assert.equal(c.state(), 'half-open');
    const meanwhile = await c.classify(message);
    assert.ok(meanwhile.source === 'fallback' && meanwhile.reason === 'open');
    assert.equal(waiting.length, 1);
    const res = waiting[0];
    assert.ok(res);
    answer(res, 200, '{"score": 0}');
    assert.deepEqual(await probe, { source: 'service', score: 0 });
    assert.equal(c.state(), 'closed');
  });

  test('a failed probe re-opens the breaker', async () => {
    const h = harness();
    const c = client(await deadUrl(), { failureThreshold: 1, coolDownMs: 1_000, now: h.now, log: h.log });
    await c.classify(message);
    h.advance(1_000);
    const probe = await c.classify(message);
    assert.ok(probe.source === 'fallback' && probe.reason === 'failed');
    assert.equal(c.state(), 'open');
    assert.equal(c.status().retryInMs, 1_000);
    assert.match(h.lines.at(-1) ?? '', /^warn: the classifier at .* still fails/);
  });

  test('an address that is not http(s) is refused', () => {
    assert.throws(() => client('ftp://127.0.0.1/x'), /must start with http:\/\/ or https:\/\//);
  });
});
