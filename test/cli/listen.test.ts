import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectClient, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS } from '../helpers/wait.js';
import { BIN, cleanEnv, Listener, natter, ROOT, removeTempDirs, tempDir } from './helpers.js';

let t: TestServer;
const home = { alice: '', bob: '' };
const listeners: Listener[] = [];

before(async () => {
  t = await startTestServer();
  home.alice = tempDir();
  home.bob = tempDir();
});

after(async () => {
  for (const l of listeners) l.child.kill('SIGKILL');
  await t.destroy();
  removeTempDirs();
});

const env = (user: keyof typeof home) => ({ NATTER_SERVER: t.wsUrl, NATTER_HOME: home[user] });

async function as(user: keyof typeof home, args: string[], input = '') {
  const r = await natter(args, { ...env(user), NATTER_PASSWORD: PASSWORD }, input);
  assert.equal(r.code, 0, `natter ${args.join(' ')}: ${r.stderr}`);
  return r;
}

describe('natter listen', () => {
  let human: Listener;
  let dmOnly: Listener;

  test('setup: two users share a server', async () => {
    await as('alice', ['register', 'alice']);
    await as('bob', ['register', 'bob']);
    await as('alice', ['server', 'create', 'acme']);
    const code = (await as('alice', ['invite', 'create', 'acme'])).stdout.trim();
    await as('bob', ['join', code]);
  });

  test('human output names the conversation and the author; a filter on a DM not yet opened works', async () => {
    human = await Listener.start([], env('bob'), 'bob human');
    dmOnly = await Listener.start(['--json', '@alice'], env('bob'), 'bob @alice');
    listeners.push(human, dmOnly);
    await as('alice', ['send', 'acme/general', 'hello', 'everyone']);
    await as('alice', ['send', '@bob', 'just', 'you']);
    await human.until(
      () => human.lines.some((l) => /^\[\d\d:\d\d:\d\d\] acme\/general {2}alice: hello everyone$/.test(l)),
      'the channel message',
    );
    await human.until(
      () => human.lines.some((l) => /^\[\d\d:\d\d:\d\d\] @alice {2}alice: just you$/.test(l)),
      'the DM',
    );
    await dmOnly.event((e) => e.event === 'message.created', 'the DM in the filtered listener');
    const names = dmOnly.events.map((e) => e.event);
    assert.deepEqual(names, ['dm.opened', 'message.created'], dmOnly.lines.join('\n'));
    assert.equal(dmOnly.events[1]?.target, '@alice');
  });

  test('after the server restarts it reconnects, resumes with its cursor, and prints each event once', async () => {
    const port = t.server.port;
    await t.stop();
    await dmOnly.until(() => /reconnecting/.test(dmOnly.stderr), 'the reconnecting note');
    t = await startTestServer({ port }, t.dataDir);
    // Sent at once, likely before the listener is back: it arrives by replay or live, but once.
    const c = await connectClient(t.wsUrl);
    await c.request('login', { username: 'alice', password: PASSWORD });
    await c.request('messages.send', { to: 'bob', body: 'after the restart', nonce: 'restart-1' });
    c.close();
    await dmOnly.event(
      (e) => e.event === 'message.created' && (e.data.message as { body: string }).body === 'after the restart',
      'the message sent across the restart',
    );
    await as('alice', ['send', '@bob', 'and live again']);
    await dmOnly.event(
      (e) => e.event === 'message.created' && (e.data.message as { body: string }).body === 'and live again',
      'a live message',
    );
    const bodies = dmOnly.events
      .filter((e) => e.event === 'message.created')
      .map((e) => (e.data.message as { body: string }).body);
    assert.deepEqual(bodies, ['just you', 'after the restart', 'and live again']);
    const cursors = dmOnly.events.map((e) => BigInt(e.cursor ?? '0'));
    for (let i = 1; i < cursors.length; i++) assert.ok((cursors[i] ?? 0n) > (cursors[i - 1] ?? 0n), 'cursors increase');
    await human.until(() => human.lines.some((l) => l.endsWith('alice: and live again')), 'human listener is back');
    assert.equal(await dmOnly.stop(), 0);
    assert.equal(await human.stop(), 0);
  });

  test('a revoked session ends listen with exit 3', async () => {
    const l = await Listener.start(['--json'], env('bob'), 'bob revoked');
    listeners.push(l);
    await as('bob', ['logout']);
    assert.equal(await l.exitCode(), 3);
    assert.match(l.stderr, /^error: unauthenticated: /m);
  });
});

test('natter --version and --help load neither ws nor zod (nor the server or the terminal app)', () => {
  const trace = join(tempDir(), 'imports.txt');
  const hook = join(ROOT, 'test', 'cli', 'fixtures', 'import-trace.mjs');
  const run = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', hook, BIN, ...args], {
      env: cleanEnv({ IMPORT_TRACE: trace, ...extra }),
      encoding: 'utf8',
      timeout: DEADLINE_MS,
    });
  const heavy = /node_modules\/(ws|zod|ink|react|better-sqlite3|drizzle-orm)\/|dist\/(server|tui|protocol)\//;
  const v = run(['--version']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(readFileSync(trace, 'utf8'), /dist\/cli\/main\.js/, 'the trace works');
  assert.doesNotMatch(readFileSync(trace, 'utf8'), heavy);
  rmSync(trace);
  const h = run(['send', '--help']);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /^Usage: natter send \[options\] <target> \[text\.\.\.\]/);
  assert.match(readFileSync(trace, 'utf8'), /node_modules\/commander\//);
  assert.doesNotMatch(readFileSync(trace, 'utf8'), heavy);
  // A command that talks to a server loads ws (so the check above means something), but not zod.
  rmSync(trace);
  const w = run(['--server', 'ws://127.0.0.1:9', 'whoami'], { NATTER_TOKEN: 'nts_x' });
  assert.equal(w.status, 4);
  const client = readFileSync(trace, 'utf8');
  assert.match(client, /node_modules\/ws\//);
  assert.doesNotMatch(client, /node_modules\/zod\//);
});
