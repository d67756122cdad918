import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Joins, leaves, kicks, bans and topic changes as dim lines in the real terminal app: bin/natter runs dist/ (npm run build first).

let t: TestServer;
let dir: string;
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-info-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** The rows of the screen that are info lines (`12:04 -- …`), their text from the `--` on. */
function infoLines(screen: string): string[] {
  return [...screen.matchAll(/\d\d:\d\d (-- [^│]*?)\s*(?:│|$)/gm)].map((m) => m[1] ?? '');
}

test('the owner kicks and bans bob and sets the topic; who joins and leaves shows too, in the channel, between the messages', async () => {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: 'alice', password: PASSWORD });
  const bob = await api.call('register', { username: 'bob', password: PASSWORD });
  const carol = await api.call('register', { username: 'carol', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const b = await connectAs(t.wsUrl, bob.token);
  const c = await connectAs(t.wsUrl, carol.token);
  await b.request('invites.join', { code: invite.code });
  await b.request('messages.send', { conversationId: general, body: 'buy cheap watches', nonce: 'spam-1' });

  const home = join(dir, 'alice');
  saveLogin(home, t.wsUrl, alice);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/buy cheap watches/, "acme's #general, open");
    await screen.waitFor(/connected/, 'the status line');
    // The member list (Ctrl-T) has bob.
    await screen.type('\u0014', /[●○] bob/, 'bob in the member list');

    await screen.type('/topic no spam please', /> \/topic no spam please/, 'the command in the composer');
    await screen.type('\r', /\d\d:\d\d -- you set the topic: no spam please/, 'the topic line');

    await screen.type('/kick bob', /> \/kick bob/, 'the kick in the composer');
    let shown = await screen.type('\r', /\d\d:\d\d -- bob was kicked by you/, 'the kick line');
    await screen.waitFor((s) => !/[●○] bob/.test(s), 'bob gone from the member list');

    // He comes back with the invite, carol comes and goes.
    await b.request('invites.join', { code: invite.code });
    await c.request('invites.join', { code: invite.code });
    await c.request('servers.leave', { serverId: server.id });
    await screen.waitFor(/\d\d:\d\d -- carol left/, "carol's leaving");
    await b.request('messages.send', { conversationId: general, body: 'more cheap watches', nonce: 'spam-2' });
    await screen.waitFor(/more cheap watches/, "bob's second message");

    await screen.type('/ban bob spam', /> \/ban bob spam/, 'the ban in the composer');
    shown = await screen.type('\r', /\d\d:\d\d -- bob was banned by you \(spam\)/, 'the ban line');
    await screen.waitFor((s) => !/[●○] bob/.test(s), 'bob gone from the member list again');
    shown = await screen.text();
    assert.deepEqual(infoLines(shown), [
      '-- you set the topic: no spam please',
      '-- bob was kicked by you',
      '-- bob joined',
      '-- carol joined',
      '-- carol left',
      '-- bob was banned by you (spam)',
    ]);
    // In time order among the messages.
    const at = (pattern: RegExp) => shown.search(pattern);
    assert.ok(at(/buy cheap watches/) < at(/-- you set the topic/));
    assert.ok(at(/-- carol left/) < at(/more cheap watches/));
    assert.ok(at(/more cheap watches/) < at(/-- bob was banned/));
  } finally {
    assert.equal(await screen.quit(), 0);
    b.close();
    c.close();
  }
});
