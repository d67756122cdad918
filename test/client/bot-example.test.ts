import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let t: TestServer;
let dir: string;
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-bot-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the bot in docs/client.md works as written', async () => {
  const doc = readFileSync(join(ROOT, 'docs', 'client.md'), 'utf8');
  const code = /## A bot in 20 lines[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code, 'docs/client.md has the bot example');
  assert.ok(code.trim().split('\n').length <= 20, 'the example is at most 20 lines');
  // The same program, importing the library from this checkout's build instead of the installed package.
  const file = join(dir, 'bot.mjs');
  writeFileSync(file, code.replace("'natter/client'", JSON.stringify(join(ROOT, 'dist', 'client', 'index.js'))));

  const owner = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('human'), password: PASSWORD });
  const botUser = await new HttpApi(t.httpUrl).call('register', {
    username: uniqueName('pingbot'),
    password: PASSWORD,
  });
  const botSide = await connectAs(t.wsUrl, botUser.token);
  const { token } = await botSide.request('tokens.create', { name: 'ping-bot' });
  const human = await connectAs(t.wsUrl, owner.token);
  const { server, channels } = await human.request('servers.create', { name: 'bots' });
  const { invite } = await human.request('invites.create', { serverId: server.id });
  await botSide.request('invites.join', { code: invite.code });
  botSide.close();

  const child = spawn(process.execPath, [file], {
    env: { ...process.env, NATTER_SERVER: t.wsUrl, NATTER_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    out += c;
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  try {
    await waitFor(() => out.includes('connected as'), {
      what: 'the bot to connect',
      detail: () => `its output: ${out}`,
    });
    assert.match(out, new RegExp(`connected as ${botUser.user.username}`));
    const conversationId = channels[0]?.id ?? '';
    const pong = human.nextEvent('message.created', (d) => d.message.body.startsWith('pong'));
    await human.request('messages.send', { conversationId, body: '!ping', nonce: 'ping-1' });
    const reply = await pong;
    assert.equal(reply.data.message.body, `pong, @${owner.user.username}`);
    assert.equal(reply.data.message.author.id, botUser.user.id);
  } finally {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGINT');
    await within(exited, 'the bot to exit on SIGINT');
    human.close();
  }
});
