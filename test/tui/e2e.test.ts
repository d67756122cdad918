import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { saveCredential } from '../../src/cli/util.js';
import type { NatterClient } from '../../src/client/index.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

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

  /** Waits until the screen matches `pattern`; resolves with it. */
  async waitFor(pattern: RegExp, what: string): Promise<string> {
    let last = '';
    return waitFor(
      async () => {
        last = await this.text();
        return pattern.test(last) ? last : undefined;
      },
      { what, intervalMs: 50, detail: () => `the screen was:\n${last}` },
    );
  }

  async type(keys: string): Promise<void> {
    this.child.stdin?.write(keys);
    await new Promise((r) => setTimeout(r, 120));
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
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the terminal app: open a channel, send and receive, switch with Ctrl-K, unread badges appear and clear', async () => {
  const alice = await new HttpApi(t.httpUrl).call('register', { username: 'alice', password: PASSWORD });
  const bob = await new HttpApi(t.httpUrl).call('register', { username: 'bob', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  const { channel: random } = await a.request('channels.create', { serverId: server.id, name: 'random' });
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const b: NatterClient = await connectAs(t.wsUrl, bob.token);
  await b.request('invites.join', { code: invite.code });
  await b.request('messages.send', { conversationId: general, body: 'welcome to acme, alice', nonce: 'e2e-0' });

  const home = join(dir, 'alice');
  saveCredential(home, t.wsUrl, {
    token: alice.token,
    username: 'alice',
    userId: alice.user.id,
    sessionId: alice.session.id,
    savedAt: Date.now(),
  });
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    // It opens on the first channel, with the history and the status line.
    await screen.waitFor(/acme/, 'the sidebar');
    await screen.waitFor(/welcome to acme, alice/, 'the latest messages');
    await screen.waitFor(/connected/, 'the status line');

    // Alice sends; Bob receives.
    const received = b.nextEvent('message.created', (d) => d.message.body === 'hello from the terminal');
    await screen.type('hello from the terminal');
    await screen.type('\r');
    assert.equal((await received).data.message.author.username, 'alice');
    await screen.waitFor(/alice.*hello from the terminal/, 'my own line');

    // Bob answers; Alice sees it live.
    await b.request('messages.send', { conversationId: general, body: 'got it, alice!', nonce: 'e2e-1' });
    await screen.waitFor(/got it, alice!/, "bob's reply");

    // A mention in another channel shows a badge in the sidebar…
    await b.request('messages.send', { conversationId: random.id, body: 'look here @alice', nonce: 'e2e-2' });
    await screen.waitFor(/random\s+1\s/, 'the mention badge on #random');

    // …which clears when Ctrl-K opens that channel.
    await screen.type('\u000b');
    await screen.waitFor(/random/, 'the quick switcher');
    await screen.type('rand');
    await screen.type('\r');
    await screen.waitFor(/look here @alice/, 'the #random history');
    const after = await screen.waitFor(/#random/, 'the header');
    assert.doesNotMatch(after, /random\s+1\s/, 'the badge is gone');
    // And the server knows it was read, so other clients clear too.
    const { conversations } = await b.request('conversations.list', {});
    assert.ok(conversations.some((c) => c.id === random.id));
  } finally {
    assert.equal(await screen.quit(), 0);
    b.close();
  }
});

test('first run: the login screen logs in, keeps the session, and refuses a wrong password in words', async () => {
  await new HttpApi(t.httpUrl).call('register', { username: 'carol', password: PASSWORD });
  const home = join(dir, 'carol');
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/log ?in/i, 'the login screen');
    await screen.type('carol');
    await screen.type('\r');
    await screen.type('not the password');
    await screen.type('\r');
    await screen.waitFor(/wrong username or password/, 'the error in words');
    for (let i = 0; i < 'not the password'.length; i++) await screen.type('\u007f');
    await screen.type(PASSWORD);
    await screen.type('\r');
    await screen.waitFor(/connected/, 'the chat screen');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  // The session was saved: the next start goes straight to the chat.
  const again = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await again.waitFor(/connected/, 'the chat screen without logging in');
  } finally {
    assert.equal(await again.quit(), 0);
  }
});
