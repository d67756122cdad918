import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// What the terminal app keeps across restarts in composer.json, end to end: bin/natter runs dist/ (npm run build first).

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

/** A new user with a server of two channels, #general then #random, one message in each; and her config directory. */
async function setUp(name: string): Promise<{ home: string; general: string; random: string }> {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName(name), password: PASSWORD });
  const c = await connectAs(t.wsUrl, me.token);
  try {
    const { server, channels } = await c.request('servers.create', { name: 'acme' });
    const general = channels[0]?.id ?? '';
    const { channel: random } = await c.request('channels.create', { serverId: server.id, name: 'random' });
    await c.request('messages.send', { conversationId: general, body: 'said in general', nonce: `${name}-1` });
    await c.request('messages.send', { conversationId: random.id, body: 'said in random', nonce: `${name}-2` });
    const home = join(dir, name);
    saveLogin(home, t.wsUrl, me);
    return { home, general, random: random.id };
  } finally {
    c.close();
  }
}

/** Which channel is open: its message shows, not the other's. */
const inGeneral = (s: string) => /said in general/.test(s) && !/said in random/.test(s);
const inRandom = (s: string) => /said in random/.test(s) && !/said in general/.test(s);

test('the terminal app opens again on the conversation that was open when it quit', async () => {
  const { home } = await setUp('restart');
  const env = { NATTER_HOME: home, NATTER_SERVER: t.wsUrl };
  const first = new Screen(env);
  try {
    await first.waitFor(inGeneral, 'the first conversation of the sidebar, #general, open at the first start');
    // Alt-2: the second of the sidebar.
    await first.type('\u001b2', inRandom, '#random open');
  } finally {
    assert.equal(await first.quit(), 0);
  }
  const second = new Screen(env);
  try {
    await second.waitFor(inRandom, '#random open again after the restart');
    await second.waitFor(/connected/, 'the status line');
  } finally {
    assert.equal(await second.quit(), 0);
  }
});

test("two apps on one config directory: each keeps its drafts, neither wipes out the other's", async () => {
  const { home, general, random } = await setUp('twice');
  const env = { NATTER_HOME: home, NATTER_SERVER: t.wsUrl };
  const a = new Screen(env);
  const b = new Screen(env);
  try {
    await a.waitFor(inGeneral, '#general open in the first app');
    await b.waitFor(inGeneral, '#general open in the second app');
    await a.type('half written in a', /> half written in a/, "the first app's draft in #general");
    await b.type('\u001b2', inRandom, '#random open in the second app');
    await b.type('half written in b', /> half written in b/, "the second app's draft in #random");
  } finally {
    // Each writes its drafts as it quits: the first, then the second, which knew nothing of the first's.
    assert.equal(await a.quit(), 0);
    assert.equal(await b.quit(), 0);
  }
  const saved = JSON.parse(readFileSync(join(home, 'composer.json'), 'utf8')) as { drafts: Record<string, string> };
  assert.deepEqual(saved.drafts, { [general]: 'half written in a', [random]: 'half written in b' });

  // The next start has both, and opens #random, where the second app was last.
  const next = new Screen(env);
  try {
    await next.waitFor((s) => inRandom(s) && /> half written in b/.test(s), "#random with the second app's draft");
    await next.type(
      '\u001b1',
      (s) => inGeneral(s) && /> half written in a/.test(s),
      "#general with the first app's draft",
    );
  } finally {
    assert.equal(await next.quit(), 0);
  }
});
