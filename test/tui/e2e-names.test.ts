import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { idFragments } from '../../src/client/names.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Servers and groups of the same name in the real terminal app: told apart in the sidebar, the header and Ctrl-K.

let t: TestServer;
let dir: string;
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-names-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** A regular expression that matches `text` literally. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('two servers named acme, and two groups named climbing, are told apart in the sidebar, the header and Ctrl-K', async () => {
  const aliceApi = new HttpApi(t.httpUrl);
  const alice = await aliceApi.call('register', { username: 'alice', password: PASSWORD });
  const bobApi = new HttpApi(t.httpUrl);
  await bobApi.call('register', { username: 'bob', password: PASSWORD });
  const mine = await aliceApi.call('servers.create', { name: 'acme' });
  const his = await bobApi.call('servers.create', { name: 'acme' });
  const { invite } = await bobApi.call('invites.create', { serverId: his.server.id });
  await aliceApi.call('invites.join', { code: invite.code });
  const mineGeneral = mine.channels[0]?.id ?? '';
  const hisGeneral = his.channels[0]?.id ?? '';
  await aliceApi.call('messages.send', { conversationId: mineGeneral, body: "in alice's acme", nonce: 'n1' });
  await bobApi.call('messages.send', { conversationId: hisGeneral, body: "in bob's acme", nonce: 'n2' });
  const g1 = await aliceApi.call('groups.create', { name: 'climbing', usernames: ['bob'] });
  const g2 = await aliceApi.call('groups.create', { name: 'climbing', usernames: ['bob'] });

  // What the app must show: the start of each id, as the client's rule computes it (four characters, unless two ids begin alike).
  const servers = idFragments([mine.server, his.server]);
  const groups = idFragments([g1.group, g2.group]);
  const a = `acme·${servers.get(mine.server.id)}`;
  const b = `acme·${servers.get(his.server.id)}`;
  assert.notEqual(a, b);

  const home = join(dir, 'alice');
  saveLogin(home, t.wsUrl, alice);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/connected/, 'the status line');
    // The sidebar: each acme with its fragment, each climbing with its own.
    await screen.waitFor(
      (s) =>
        new RegExp(`^ ▾ ${literal(a)} `, 'm').test(s) &&
        new RegExp(`^ ▾ ${literal(b)} `, 'm').test(s) &&
        s.includes(`+climbing·${groups.get(g1.group.id)}`) &&
        s.includes(`+climbing·${groups.get(g2.group.id)}`),
      'both servers and both groups, told apart in the sidebar',
    );

    // Ctrl-K lists both #general, each with its server's name as the sidebar shows it.
    await screen.type('\u000b', /Go to:/, 'the quick switcher');
    await screen.type(
      'general',
      (s) => s.includes(`#general (${a})`) && s.includes(`#general (${b})`),
      'both #general in the switcher',
    );
    await screen.type('\u001b', (s) => !/Go to:/.test(s), 'the switcher closed');

    // Typing the fragment finds that server's channel; each opens its own conversation, named so in the header.
    for (const [name, text] of [
      [a, "in alice's acme"],
      [b, "in bob's acme"],
    ] as const) {
      const fragment = name.slice('acme·'.length);
      await screen.type('\u000b', /Go to:/, 'the quick switcher');
      await screen.type(fragment, new RegExp(`› #general \\(${literal(name)}\\)`), `#general of ${name} chosen`);
      await screen.type(
        '\r',
        (s) => s.includes(text) && s.includes(`#general  ${name}`) && !/Go to:/.test(s),
        `#general of ${name} open, named in the header`,
      );
    }

    // Making a third acme works, and the notice says which is which.
    await screen.type('/create-server acme', /> \/create-server acme/, 'the command');
    const shown = await screen.type('\r', /created server acme·\S+ with #general; you already have /, 'the notice');
    const notice = /created server (acme·\S+) with #general; you already have (acme·\S+), (acme·\S+)/.exec(shown);
    assert.ok(notice, shown);
    assert.deepEqual([notice[2], notice[3]].sort(), [a, b].sort());
    const check = await connectAs(t.wsUrl, alice.token);
    try {
      const { servers: list } = await check.request('servers.list', {});
      const third = list.find((s) => s.id !== mine.server.id && s.id !== his.server.id);
      assert.ok(third, 'the third acme exists');
      assert.equal(notice[1], `acme·${idFragments([mine.server, his.server, third]).get(third.id)}`);
    } finally {
      check.close();
    }
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});
