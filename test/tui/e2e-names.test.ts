import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { saveCredential } from '../../src/cli/util.js';
import { idFragments } from '../../src/client/names.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

// Servers and groups of the same name in the real terminal app: told apart in the sidebar, the header and Ctrl-K.

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const COLS = 120;
const ROWS = 40;

/**
 * The real `natter tui` in a pseudo-terminal (util-linux `script` provides
 * it), its output fed to a headless terminal emulator so the test reads the
 * screen as a person would see it.
 */
class Screen {
  private readonly term = new xterm.Terminal({ cols: COLS, rows: ROWS, allowProposedApi: true });
  private readonly child: ChildProcess;
  private pending = Promise.resolve();

  constructor(env: Record<string, string>) {
    this.child = spawn('script', ['-qfec', `stty cols ${COLS} rows ${ROWS}; exec ${BIN} tui`, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm-256color', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.pending = this.pending.then(() => new Promise<void>((r) => this.term.write(chunk, r)));
    });
  }

  /** The screen's text, one string per row. */
  async text(): Promise<string> {
    await this.pending;
    const buf = this.term.buffer.active;
    const rows: string[] = [];
    for (let i = 0; i < ROWS; i++) rows.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    return rows.join('\n');
  }

  /** Waits until the screen matches `expected` (a pattern, or a test of the whole screen); resolves with it. */
  async waitFor(expected: RegExp | ((screen: string) => boolean), what: string): Promise<string> {
    const matches = typeof expected === 'function' ? expected : (s: string) => expected.test(s);
    let last = '';
    return waitFor(
      async () => {
        last = await this.text();
        return matches(last) ? last : undefined;
      },
      { what, intervalMs: 50, detail: () => `the screen was:\n${last}` },
    );
  }

  /** Types `keys`, then waits until the screen shows their effect (`expected`). */
  async type(keys: string, expected: RegExp | ((screen: string) => boolean), what: string): Promise<string> {
    this.child.stdin?.write(keys);
    return this.waitFor(expected, what);
  }

  /** Ctrl-C; resolves with the exit code (the app is killed if it does not exit by the deadline). */
  async quit(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stdin?.write('\u0003');
    try {
      return await within(exited, 'the terminal app to exit on Ctrl-C');
    } catch (err) {
      this.child.kill('SIGKILL');
      throw err;
    }
  }
}

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
  saveCredential(home, t.wsUrl, {
    token: alice.token,
    username: alice.user.username,
    userId: alice.user.id,
    sessionId: alice.session.id,
    savedAt: Date.now(),
  });
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
