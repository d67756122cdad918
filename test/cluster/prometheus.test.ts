import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { type Cleanup, databaseFor } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The deploy/ files checked by Prometheus's own tool (the Debian package
 * `prometheus` provides promtool; .ci/run installs it), and a live scrape
 * after real traffic linted by it. Without promtool these tests fail: they
 * do not pass by checking nothing.
 */

const DEPLOY = resolve('deploy');
const TOKEN = 'prometheus-test-token-0123456789';

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const run = spawnSync('promtool', args, {
    cwd: join(DEPLOY, 'prometheus'),
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) {
    throw new Error(
      `promtool could not run (${run.error.message}): install it (Debian: apt-get install prometheus) to run these tests`,
    );
  }
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

/** Names of the metrics an expression reads (natter's own and the process figures it serves). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:natter|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1] as string);
}

/** Every series name a scrape can answer for: declared metrics (with a histogram's parts) and samples. */
function scrapedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const name = type[1] as string;
      names.add(name);
      if (type[2] === 'histogram') for (const part of ['_bucket', '_sum', '_count']) names.add(name + part);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1] as string);
  }
  return names;
}

async function scrape(t: TestServer): Promise<string> {
  const res = await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  return res.text();
}

/** Some of everything: register, a channel, sends over WebSocket and TCP, history, and errors. */
async function traffic(t: TestServer): Promise<void> {
  const username = uniqueName('prom');
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD });
  const ws = await connectAs(t.wsUrl, reg.token);
  const tcp = await connectAs(t.tcpUrl, reg.token);
  const { channels } = await ws.request('servers.create', { name: 'Prometheus' });
  const conversationId = channels[0]?.id as string;
  for (let i = 0; i < 5; i++) {
    await tcp.request('messages.send', { conversationId, body: `message ${i}`, nonce: `prom-${i}` });
  }
  await ws.request('messages.history', { conversationId });
  assert.equal((await rejection(ws.request('users.get', { username: 'no-such-person-here' }))).code, 'not_found');
  const api = new HttpApi(t.httpUrl);
  assert.equal(
    (await rejection(api.call('login', { username, password: 'not the password' }))).code,
    'invalid_credentials',
  );
  ws.close();
  tcp.close();
}

describe('the Prometheus files in deploy/', () => {
  test('promtool accepts the alert rules', () => {
    const r = promtool(['check', 'rules', 'alerts.yml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });

  test("the alert rules' unit tests pass (promtool test rules)", () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    assert.equal(r.status, 0, r.out);
  });

  test('promtool accepts the example scrape configuration', () => {
    // The example names a token file that exists on a real host: here, one of our own.
    const dir = mkdtempSync(join(tmpdir(), 'natter-prom-'));
    try {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
      const config = readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')
        .replace('/etc/prometheus/natter-metrics-token', tokenFile)
        .replace('- alerts.yml', `- ${join(DEPLOY, 'prometheus', 'alerts.yml')}`);
      assert.ok(config.includes(tokenFile), 'the example names its token file');
      writeFileSync(join(dir, 'prometheus.yml'), config);
      const r = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
      assert.equal(r.status, 0, r.out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a live scrape', () => {
  let t: TestServer;
  let text: string;
  before(async () => {
    t = await startTestServer({ metrics: { token: TOKEN, listen: null } });
    await traffic(t);
    text = await scrape(t);
  });
  after(() => t.destroy());

  test('passes promtool check metrics (names, units, help texts)', () => {
    const r = promtool(['check', 'metrics'], text);
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), '', `promtool has remarks:\n${r.out}`);
  });

  test('has every metric the dashboard and the alert rules read', () => {
    const served = scrapedNames(text);
    const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'natter.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { definition?: string }[] };
    };
    const wanted = new Map<string, string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        for (const name of metricNames(target.expr)) wanted.set(name, `the dashboard's panel "${panel.title}"`);
      }
    }
    for (const v of dashboard.templating.list) {
      for (const name of metricNames(v.definition ?? '')) wanted.set(name, "the dashboard's variables");
    }
    const rules = readFileSync(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8');
    for (const m of rules.matchAll(/expr: (\|\n(?: {10}.*\n)+|.*)/g)) {
      for (const name of metricNames(m[1] as string)) wanted.set(name, 'the alert rules');
    }
    assert.ok(wanted.size > 30, `only ${wanted.size} metrics found in the dashboard and rules`);
    const missing = [...wanted].filter(([name]) => !served.has(name)).map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(missing, [], 'metrics read by deploy/ that the server does not serve');
  });
});

describe('metrics on PostgreSQL', () => {
  const cleanup: Cleanup = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test('group commits are counted and timed, and the scrape names the backend', async () => {
    const db = await databaseFor(cleanup);
    const t = await startTestServer({ database: db.url, metrics: { token: TOKEN, listen: null } });
    cleanup.push(() => t.destroy());
    await traffic(t);
    const text = await scrape(t);
    const value = (line: RegExp) => Number(line.exec(text)?.[1] ?? Number.NaN);
    assert.match(text, /^natter_build_info\{version="[^"]+",backend="postgres"\} 1$/m);
    assert.ok(value(/^natter_writer_commits_total\{outcome="committed"\} (\S+)$/m) >= 7);
    assert.ok(value(/^natter_writer_commit_duration_seconds_count (\S+)$/m) >= 7);
    assert.ok(value(/^natter_writer_batch_jobs_sum (\S+)$/m) >= 7);
    assert.equal(value(/^natter_messages_stored_total (\S+)$/m), 5);
    assert.ok(value(/^natter_reports_open (\S+)$/m) >= 0);
    assert.ok(value(/^natter_media_stored_bytes (\S+)$/m) >= 0);
    const r = promtool(['check', 'metrics'], text);
    assert.equal(r.status, 0, r.out);
  });
});
