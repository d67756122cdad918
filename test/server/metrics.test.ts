import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/server/config.js';
import { parseListen } from '../../src/server/metrics.js';
import { connectAs, connectClient, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { RawTcp } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'metrics-token-0123456789abcdef';

/** One sample line's value, by metric name and labels (all of them, in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
      got[pair[1] as string] = pair[2] as string;
    if (Object.keys(got).length !== Object.keys(labels).length) continue;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(url: string, token: string | null = TOKEN): Promise<{ status: number; text: string }> {
  const res = await fetch(url, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text() };
}

async function account(t: TestServer) {
  const username = uniqueName('met');
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD });
  return { username, token: reg.token, userId: reg.user.id };
}

describe('metrics off (the default)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.destroy());

  test('GET /metrics is 404 and the server has no metrics registry', async () => {
    const res = await scrape(`${t.httpUrl}/metrics`);
    assert.equal(res.status, 404);
    assert.equal(t.server.services.metrics.enabled, false);
    assert.equal(t.server.metricsPort, null);
  });
});

describe('metrics on the main port, with a token', () => {
  let t: TestServer;
  let url: string;
  before(async () => {
    t = await startTestServer({ metrics: { token: TOKEN, listen: null } });
    url = `${t.httpUrl}/metrics`;
  });
  after(() => t.destroy());

  test('a scrape without the token, or with a wrong one, is 401 in words and counted as a metrics auth failure', async () => {
    const missing = await scrape(url, null);
    assert.equal(missing.status, 401);
    assert.match(missing.text, /Authorization: Bearer/);
    const wrong = await scrape(url, 'not-the-token-at-all');
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /wrong metrics token/);
    const ok = await scrape(url);
    assert.equal(ok.status, 200);
    assert.equal(sample(ok.text, 'natter_auth_failures_total', { kind: 'metrics' }), 2);
    assert.equal(sample(ok.text, 'natter_up'), 1);
    assert.equal(sample(ok.text, 'natter_build_info', { version: t.server.services.version, backend: 'sqlite' }), 1);
  });

  test('counters follow real traffic over WebSocket and TCP', async () => {
    const before = (await scrape(url)).text;
    const base = (name: string, labels: Record<string, string> = {}) => sample(before, name, labels) ?? 0;
    const alice = await account(t);
    const ws = await connectAs(t.wsUrl, alice.token);
    const tcp = await connectAs(t.tcpUrl, alice.token);
    const { channels } = await ws.request('servers.create', { name: 'Metrics' });
    const channelId = channels[0]?.id as string;
    await tcp.request('messages.send', { conversationId: channelId, body: 'over tcp', nonce: 'n-metrics-1' });
    await ws.request('messages.send', { conversationId: channelId, body: 'over ws', nonce: 'n-metrics-2' });
    await tcp.request('messages.history', { conversationId: channelId });
    // An error reply, an unknown operation and a wrong password.
    assert.equal((await rejection(ws.request('users.get', { username: 'nobody-by-this-name' }))).code, 'not_found');
    const raw = await RawTcp.open(t.tcpUrl);
    raw.write(`${JSON.stringify({ id: 'u', op: 'no.such.op', params: {} })}\n`);
    assert.equal((await raw.reply('u')).error?.code, 'unknown_op');
    raw.close();
    const anon = await connectClient(t.wsUrl);
    assert.equal(
      (await rejection(anon.request('login', { username: alice.username, password: 'wrong password here' }))).code,
      'invalid_credentials',
    );
    assert.equal((await rejection(anon.request('auth', { token: 'nts_not_a_real_token' }))).code, 'unauthenticated');
    anon.close();

    const now = await waitFor(
      async () => {
        const text = (await scrape(url)).text;
        // Both messages reached both connections (each is subscribed to the channel).
        const delivered =
          (sample(text, 'natter_events_delivered_total', { transport: 'ws' }) ?? 0) -
          base('natter_events_delivered_total', { transport: 'ws' });
        return delivered >= 2 ? text : null;
      },
      { what: 'the deliveries to be counted' },
    );
    const delta = (name: string, labels: Record<string, string> = {}) =>
      (sample(now, name, labels) ?? 0) - base(name, labels);
    assert.equal(delta('natter_requests_total', { op: 'messages.send', code: 'ok' }), 2);
    assert.equal(delta('natter_requests_total', { op: 'messages.history', code: 'ok' }), 1);
    assert.equal(delta('natter_requests_total', { op: 'users.get', code: 'not_found' }), 1);
    assert.equal(delta('natter_requests_total', { op: 'unknown', code: 'unknown_op' }), 1);
    assert.equal(delta('natter_requests_total', { op: 'login', code: 'invalid_credentials' }), 1);
    assert.ok(delta('natter_request_duration_seconds_count', { op: 'messages.send' }) >= 2);
    assert.equal(delta('natter_messages_stored_total'), 2);
    assert.ok(delta('natter_events_delivered_total', { transport: 'tcp' }) >= 2);
    assert.ok(delta('natter_sent_bytes_total', { transport: 'ws' }) > 0);
    assert.ok(delta('natter_sent_bytes_total', { transport: 'tcp' }) > 0);
    assert.equal(delta('natter_auth_failures_total', { kind: 'password' }), 1);
    assert.equal(delta('natter_auth_failures_total', { kind: 'token' }), 1);
    assert.ok(delta('natter_connections_opened_total', { transport: 'ws' }) >= 2);
    assert.ok(delta('natter_connections_opened_total', { transport: 'tcp' }) >= 2);
    assert.ok((sample(now, 'natter_connections_open', { transport: 'ws' }) ?? 0) >= 1);
    assert.ok((sample(now, 'natter_connections_open', { transport: 'tcp' }) ?? 0) >= 1);
    assert.ok(delta('natter_writer_commits_total', { outcome: 'committed' }) >= 3);
    assert.ok(delta('natter_writer_batch_jobs_count') >= 3);
    assert.ok(delta('natter_writer_commit_duration_seconds_count') >= 3);
    assert.ok((sample(now, 'natter_data_dir_size_bytes') ?? 0) > 0);
    assert.ok((sample(now, 'natter_data_dir_free_bytes') ?? -1) >= 0);
    assert.ok((sample(now, 'process_resident_memory_bytes') ?? 0) > 0);

    // No id of a user, channel, server or message in any label, nor the test's names or tokens.
    const history = await tcp.request('messages.history', { conversationId: channelId });
    const ids = [alice.userId, channelId, alice.username, alice.token, ...history.messages.map((m) => m.id)];
    for (const line of now.split('\n')) {
      if (line.startsWith('#')) continue;
      for (const id of ids) assert.ok(!line.includes(id), `a metric names ${id}: ${line}`);
    }
    ws.close();
    tcp.close();
    await waitFor(
      async () => {
        const text = (await scrape(url)).text;
        return sample(text, 'natter_connections_open', { transport: 'tcp' }) === 0 &&
          sample(text, 'natter_connections_open', { transport: 'ws' }) === 0
          ? text
          : null;
      },
      { what: 'closed connections to leave the open gauge' },
    );
  });

  test('a resume is counted by its outcome', async () => {
    const bob = await account(t);
    const c = await connectClient(t.wsUrl);
    await c.request('auth', { token: bob.token, cursor: '0' });
    c.close();
    const text = (await scrape(url)).text;
    assert.ok((sample(text, 'natter_resumes_total', { outcome: 'exact' }) ?? 0) >= 1);
  });
});

describe('metrics on an address of their own', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ metrics: { token: null, listen: { host: '127.0.0.1', port: 0 } } });
  });
  after(() => t.destroy());

  test('/metrics is served on --metrics-listen, not on the main port; anything else there is 404', async () => {
    const port = t.server.metricsPort;
    assert.ok(port !== null && port !== t.server.port);
    const own = await scrape(`http://127.0.0.1:${port}/metrics`, null);
    assert.equal(own.status, 200);
    assert.equal(sample(own.text, 'natter_up'), 1);
    assert.equal((await scrape(`${t.httpUrl}/metrics`, null)).status, 404);
    assert.equal((await scrape(`http://127.0.0.1:${port}/api/v1/hello`, null)).status, 404);
    const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.text();
  });
});

describe('metrics settings', () => {
  test('metrics beyond loopback without a token or an address of their own refuse to start', async () => {
    await assert.rejects(
      startTestServer({ host: '0.0.0.0', metrics: { token: null, listen: null } }),
      (err: unknown) => err instanceof ConfigError && /--metrics-token/.test(err.message),
    );
    await assert.rejects(
      startTestServer({ metrics: { token: 'short', listen: null } }),
      (err: unknown) => err instanceof ConfigError && /at least 16 characters/.test(err.message),
    );
  });

  test('--metrics-listen takes HOST:PORT and [IPv6]:PORT only', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
    assert.equal(parseListen('9464'), null);
    assert.equal(parseListen('host:99999'), null);
    assert.equal(parseListen('::1:9464'), null);
  });

  test('two servers in one process keep separate registries', async () => {
    const a = await startTestServer({ metrics: { token: TOKEN, listen: null } });
    const b = await startTestServer({ metrics: { token: TOKEN, listen: null } });
    try {
      await account(a);
      await account(a);
      const ta = (await scrape(`${a.httpUrl}/metrics`)).text;
      const tb = (await scrape(`${b.httpUrl}/metrics`)).text;
      assert.equal(sample(ta, 'natter_requests_total', { op: 'register', code: 'ok' }), 2);
      assert.equal(sample(tb, 'natter_requests_total', { op: 'register', code: 'ok' }), undefined);
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });

  test('a process that started and stopped a server with metrics exits on its own (nothing left running)', () => {
    const script = `
      import { startServer } from './src/server/server.ts';
      import { mkdtempSync } from 'node:fs';
      import { tmpdir } from 'node:os';
      import { join } from 'node:path';
      const s = await startServer({ port: 0, tcpPort: 0, log: false, bcryptCost: 4,
        dataDir: mkdtempSync(join(tmpdir(), 'natter-metrics-exit-')),
        metrics: { token: null, listen: { host: '127.0.0.1', port: 0 } } });
      const r = await fetch('http://127.0.0.1:' + s.metricsPort + '/metrics');
      if (r.status !== 200) process.exit(3);
      await r.text();
      await s.stop();
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      timeout: 60_000,
      encoding: 'utf8',
    });
    assert.equal(run.signal, null, `the process did not exit by itself: ${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
  });
});
