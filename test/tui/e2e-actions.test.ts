import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Actions (`/me`) and bot messages in the real terminal app, end to end: bin/natter runs dist/ (npm run build first).

let t: TestServer;
let dir: string;
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the terminal app: /me waves reaches others as an action and reads "* alice waves"; a bot token\'s messages carry a bot tag', async () => {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: 'alice', password: PASSWORD });
  const bob = await api.call('register', { username: 'bob', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const b: NatterClient = await connectAs(t.wsUrl, bob.token);
  await b.request('invites.join', { code: invite.code });
  const { token: botToken } = await b.request('tokens.create', { name: 'ci' });
  const bot: NatterClient = await connectAs(t.tcpUrl, botToken);
  await b.request('messages.send', { conversationId: general, body: 'morning, alice', nonce: 'act-0' });

  const home = join(dir, 'alice');
  saveLogin(home, t.wsUrl, alice);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/morning, alice/, "acme's #general, open");
    await screen.waitFor(/connected/, 'the status line');

    // /me alone says how to use it, and sends nothing.
    await screen.type('/me', /> \/me/, 'the command in the composer');
    await screen.type('\r', /usage: \/me ACTION/, 'the usage notice');
    await screen.type('\u0015', /> {2}message #general/, 'the composer cleared (Ctrl-U)');

    // Alice acts; Bob's client gets an action, and her screen shows it as one.
    const received = b.nextEvent(
      'message.created',
      (d) => d.message.nonce !== 'act-0' && d.message.author.id === alice.user.id,
    );
    await screen.type('/me waves', /> \/me waves/, 'the action in the composer');
    const shown = await screen.type('\r', /\d\d:\d\d \* alice waves/, 'the action on screen');
    assert.doesNotMatch(shown, /alice \/me waves/, 'the command is not shown as text');
    const { message } = (await received).data;
    assert.deepEqual([message.kind, message.body, message.bot], ['action', 'waves', false]);

    // What a bot token sends is tagged, after the author's name.
    await bot.request('messages.send', { conversationId: general, body: 'build 812 is green', nonce: 'ci-1' });
    await screen.waitFor(/\d\d:\d\d bob bot build 812 is green/, 'the bot message, tagged');
    await bot.request('messages.send', { conversationId: general, body: 'beeps', nonce: 'ci-2', kind: 'action' });
    await screen.waitFor(/\d\d:\d\d \* bob bot beeps/, 'the bot action, tagged');
    // Bob himself, on his login session, is not tagged.
    await b.request('messages.send', { conversationId: general, body: 'that was my script', nonce: 'act-1' });
    await screen.waitFor(/\d\d:\d\d bob that was my script/, "bob's own message, untagged");
    const { messages } = await b.request('messages.history', { conversationId: general });
    assert.deepEqual(
      messages.map((m) => [m.body, m.kind, m.bot]),
      [
        ['morning, alice', 'text', false],
        ['waves', 'action', false],
        ['build 812 is green', 'text', true],
        ['beeps', 'action', true],
        ['that was my script', 'text', false],
      ],
      'the lone /me sent nothing',
    );
  } finally {
    assert.equal(await screen.quit(), 0);
    b.close();
    bot.close();
  }
});
