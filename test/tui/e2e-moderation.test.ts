import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The moderation view in the real terminal app, end to end: bin/natter runs dist/ (npm run build first).

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

test("a moderator sees ⚑ 1 when a member's message is held, approves it in /mod with a, and it is posted; the badge goes", async () => {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: 'alice', password: PASSWORD });
  const carol = await api.call('register', { username: 'carol', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  await a.request('automod.create', {
    serverId: server.id,
    rule: { name: 'links', kind: 'regex', config: { patterns: ['https?://'] }, actions: ['hold'] },
  });
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const c = await connectAs(t.wsUrl, carol.token);
  await c.request('invites.join', { code: invite.code });
  await c.request('messages.send', { conversationId: general, body: 'hello all', nonce: 'mod-0' });

  const home = join(dir, 'alice');
  saveLogin(home, t.wsUrl, alice);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/carol hello all/, "acme's #general, open");
    const quiet = await screen.waitFor(/connected/, 'the status line');
    assert.doesNotMatch(quiet, /⚑/, 'nothing waits: no badge');

    // Carol sends a link: the rule holds it, and Alice's status line counts it.
    await assert.rejects(
      c.request('messages.send', { conversationId: general, body: 'read https://example.com/x', nonce: 'mod-1' }),
      (err: { code?: string }) => err.code === 'held',
    );
    const badge = await screen.waitFor(/⚑ 1/, 'the badge counting the held message');
    assert.doesNotMatch(badge, /example\.com\/x/, 'a held message is not in the channel');

    // /mod lists it: where, who, why, what.
    await screen.type('/mod', /> \/mod/, 'the command in the composer');
    const view = await screen.type('\r', /› held #general \(acme\) \d\d:\d\d carol · held by rule links/, 'the view');
    assert.match(view, /Moderation: 1 waiting/);
    assert.match(view, /read https:\/\/example\.com\/x/);

    // a approves it: it leaves the list, and the view says nothing waits.
    await screen.type('a', /Moderation: nothing waits for review/, 'the list once it is approved');
    await screen.type('\u001b', /carol read https:\/\/example\.com\/x/, 'the message posted in #general');
    const after = await screen.waitFor((s) => !s.includes('⚑'), 'the badge gone');
    assert.match(after, /carol hello all/);
    const { messages } = await c.request('messages.history', { conversationId: general });
    assert.deepEqual(
      messages.map((m) => m.body),
      ['hello all', 'read https://example.com/x'],
    );
  } finally {
    assert.equal(await screen.quit(), 0);
    c.close();
  }
});
