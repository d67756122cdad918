import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Runs the bot as a child process; resolves once it says it is connected. */
async function startBot(file: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    out += c;
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise((r) => child.on('exit', r));
  await waitFor(() => out.includes('connected as'), {
    what: 'the bot to connect',
    detail: () => `its output: ${out}`,
  });
  return {
    output: () => out,
    stop: async () => {
      child.kill('SIGINT');
      await within(exited, 'the bot to exit on SIGINT');
    },
  };
}

test('the bot in docs/client.md answers, and after a restart answers what arrived while it was down, once', async () => {
  const doc = readFileSync(join(ROOT, 'docs', 'client.md'), 'utf8');
  const code = /## A bot that survives restarts[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code, 'docs/client.md has the bot example');
  assert.ok(code.trim().split('\n').length <= 25, 'the example is at most 25 lines');
  // The same program, importing the library from this checkout's build instead of the installed package.
  const file = join(dir, 'bot.mjs');
  writeFileSync(file, code.replace("'natter/client'", JSON.stringify(join(ROOT, 'dist', 'client', 'index.js'))));
  const cursorFile = join(dir, 'bot.cursor');

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
  const conversationId = channels[0]?.id ?? '';
  const env = { NATTER_SERVER: t.wsUrl, NATTER_TOKEN: token, CURSOR_FILE: cursorFile };
  const pongTo = (ping: { id: string }) =>
    human.nextEvent('message.created', (d) => d.message.nonce === `pong-${ping.id}`);

  try {
    const first = await startBot(file, env);
    assert.match(first.output(), new RegExp(`connected as ${botUser.user.username}`));
    // On its first run the bot saves the head of its stream, so that nothing is lost if it stops at once.
    const start = await waitFor(() => existsSync(cursorFile) && readFileSync(cursorFile, 'utf8'), {
      what: 'the bot to save its first cursor',
    });
    const ping1 = await human.request('messages.send', { conversationId, body: '!ping', nonce: 'ping-1' });
    const reply = await pongTo(ping1.message);
    assert.equal(reply.data.message.body, `pong, @${owner.user.username}`);
    assert.equal(reply.data.message.author.id, botUser.user.id);
    await first.stop();

    // A ping sent while the bot is down is answered when it comes back.
    const ping2 = await human.request('messages.send', { conversationId, body: '!ping', nonce: 'ping-2' });
    const pong2 = pongTo(ping2.message);
    const second = await startBot(file, env);
    const late = await pong2;
    assert.equal(late.data.message.author.id, botUser.user.id);
    await waitFor(() => readFileSync(cursorFile, 'utf8') === late.cursor, {
      what: 'the bot to save the cursor of its last reply',
      detail: () => `cursor file: ${readFileSync(cursorFile, 'utf8')}, last reply: ${late.cursor}`,
    });
    await second.stop();

    // Started again from its first cursor, it handles both pings again, and the server stores no second reply.
    writeFileSync(cursorFile, start);
    const third = await startBot(file, env);
    await waitFor(() => readFileSync(cursorFile, 'utf8') === late.cursor, {
      what: 'the bot to handle the replayed events',
      detail: () => `cursor file: ${readFileSync(cursorFile, 'utf8')}, last reply: ${late.cursor}`,
    });
    await third.stop();
    const { messages } = await human.request('messages.history', { conversationId });
    const pong = `pong, @${owner.user.username}`;
    assert.deepEqual(
      messages.map((m) => m.body),
      ['!ping', pong, '!ping', pong],
    );
  } finally {
    human.close();
  }
});
