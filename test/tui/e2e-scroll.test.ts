import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { patiently } from '../../src/client/index.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const PAGE_UP = '\u001b[5~';
const PAGE_DOWN = '\u001b[6~';
const END = '\u001b[F';
const CTRL_G = '\u0007';
/** Ink wraps each frame in these (synchronized output), so a frame can be told from half of one. */
const FRAME_BEGIN = Buffer.from('\u001b[?2026h');
const FRAME_END = Buffer.from('\u001b[?2026l');

/** How many bytes at the end of `buf` begin a frame marker (its first bytes, split from the rest between reads). */
function markerStart(buf: Buffer): number {
  for (let k = Math.min(FRAME_BEGIN.length - 1, buf.length); k > 0; k--) {
    const tail = buf.subarray(buf.length - k);
    if (tail.equals(FRAME_BEGIN.subarray(0, k)) || tail.equals(FRAME_END.subarray(0, k))) return k;
  }
  return 0;
}

/**
 * The real `natter tui` in a pseudo-terminal of `cols` x `rows` (util-linux
 * `script` provides it), its output fed to a headless terminal emulator one
 * whole frame at a time, so every read of the screen is a frame the app drew,
 * never half of one. (The emulator counts emoji as one column, Unicode 6
 * widths; the checks here compare text, not columns.)
 */
class Screen {
  private readonly term: InstanceType<typeof xterm.Terminal>;
  private readonly child: ChildProcess;
  private pending = Promise.resolve();
  private unwritten: Buffer = Buffer.alloc(0);

  constructor(
    env: Record<string, string>,
    readonly cols: number,
    readonly rows: number,
  ) {
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true });
    // Ink frames its output only where it does not take the environment for a CI log.
    const base = { ...process.env };
    delete base.CI;
    delete base.CONTINUOUS_INTEGRATION;
    this.child = spawn('script', ['-qfec', `stty cols ${cols} rows ${rows}; exec ${BIN} tui`, '/dev/null'], {
      env: { ...base, TERM: 'xterm-256color', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.unwritten = Buffer.concat([this.unwritten, chunk]);
      // A frame that has begun and not ended waits for the rest; so does the start of a marker split between reads.
      const begun = this.unwritten.lastIndexOf(FRAME_BEGIN);
      const ended = this.unwritten.lastIndexOf(FRAME_END);
      let upTo = begun > ended ? begun : this.unwritten.length;
      if (upTo === this.unwritten.length) upTo -= markerStart(this.unwritten);
      if (upTo <= 0) return;
      const ready = this.unwritten.subarray(0, upTo);
      this.unwritten = this.unwritten.subarray(upTo);
      this.pending = this.pending.then(() => new Promise<void>((r) => this.term.write(ready, r)));
    });
  }

  /** The screen's text, one string per row. */
  async lines(): Promise<string[]> {
    await this.pending;
    const buf = this.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < this.rows; i++) out.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    return out;
  }

  /**
   * The message list's rows, top to bottom: under the header row, above the
   * composer and the status line (the app leaves the terminal's last row
   * empty), right of the sidebar's border.
   */
  async messageArea(): Promise<string[]> {
    await this.pending;
    const buf = this.term.buffer.active;
    const cell = (row: number, col: number) =>
      buf
        .getLine(buf.viewportY + row)
        ?.getCell(col)
        ?.getChars() ?? '';
    let border = -1;
    for (let col = 0; col < this.cols && border < 0; col++) if (cell(0, col) === '│') border = col;
    const out: string[] = [];
    for (let row = 1; row <= this.rows - 4; row++) {
      let text = '';
      for (let col = border + 2; col < this.cols; col++) text += cell(row, col) || (cell(row, col - 1) ? '' : ' ');
      out.push(text.trimEnd());
    }
    return out;
  }

  /** Waits until the whole screen passes `check`; resolves with its rows. */
  async waitFor(check: (lines: string[]) => boolean, what: string): Promise<string[]> {
    let last: string[] = [];
    return waitFor(
      async () => {
        last = await this.lines();
        return check(last) ? last : undefined;
      },
      { what, intervalMs: 50, detail: () => `the screen was:\n${last.join('\n')}` },
    );
  }

  /** Waits until the message list passes `check`; resolves with its rows. */
  async waitForArea(check: (area: string[]) => boolean, what: string): Promise<string[]> {
    let last: string[] = [];
    return waitFor(
      async () => {
        last = await this.messageArea();
        return check(last) ? last : undefined;
      },
      { what, intervalMs: 50, detail: () => `the message list was:\n${last.join('\n')}` },
    );
  }

  /** Types `keys` (as a person does: after the app has drawn what the last ones did). */
  press(keys: string): void {
    this.child.stdin?.write(keys);
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
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-scroll-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const MESSAGES = 300;
/** Messages of many lines, by number: how many. */
const TALL = new Map([
  [12, 10],
  [57, 23],
  [101, 17],
  [150, 50],
  [199, 31],
  [243, 44],
  [298, 12],
]);
const marker = (n: number) => `m${String(n).padStart(3, '0')}`;

/**
 * Message `n`'s body, carrying its marker on every row it can take at any
 * width (so every row of the conversation reads differently): one line; many
 * lines; a paragraph that wraps over several rows; emoji and CJK text.
 */
function body(n: number): string {
  const m = marker(n);
  const tall = TALL.get(n);
  if (tall) return Array.from({ length: tall }, (_, k) => `${m} line ${k + 1} of ${tall}`).join('\n');
  if (n % 7 === 0) return Array.from({ length: 40 }, (_, k) => `${m}-w${k + 1}`).join(' ');
  if (n % 11 === 0) {
    const runs = ['🎉 漢字のテスト', '你好，世界 🚀', '한국어 텍스트', '😀 中文換行', 'カタカナ 🍜'];
    return [...runs.map((r, k) => `${m}-c${k + 1} ${r}`), `${m}-end`].join(' ');
  }
  return `${m} one line`;
}

/** Marker numbers in rows of the message list. */
function markersIn(rows: readonly string[]): number[] {
  return rows.flatMap((r) => [...r.matchAll(/\bm(\d{3})\b/g)].map((x) => Number(x[1])));
}

const BELOW = /── (more below|\d+ new messages? below) · End ──/;
const TOP = 'beginning of conversation';

/** The rows that show messages (and day separators): the message list less its "below" row. */
function messageRows(area: readonly string[]): string[] {
  const last = area[area.length - 1] ?? '';
  return BELOW.test(last) ? area.slice(0, -1) : [...area];
}

/** A conversation of 300 messages from two people, all read by the viewer; its channel id and a second channel. */
async function seed(name: string) {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: `alice-${name}`, password: PASSWORD });
  const bob = await new HttpApi(t.httpUrl).call('register', { username: `bob-${name}`, password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const b = await connectAs(t.wsUrl, bob.token);
  const { server, channels } = await a.request('servers.create', { name });
  const general = channels[0]?.id ?? '';
  await a.request('channels.create', { serverId: server.id, name: 'random' });
  const { invite } = await a.request('invites.create', { serverId: server.id });
  await b.request('invites.join', { code: invite.code });
  for (let n = 1; n <= MESSAGES; n++) {
    const from = n % 3 === 0 ? b : a;
    await patiently(() => from.request('messages.send', { conversationId: general, body: body(n), nonce: `s-${n}` }));
  }
  await a.request('read.mark', { conversationId: general, seq: MESSAGES });
  a.close();
  const home = join(dir, name);
  saveLogin(home, t.wsUrl, alice);
  return { home, general, bob: b };
}

/** What one walk through the conversation saw. */
type Walk = { markers: Set<number>; rows: Set<string>; presses: number; last: string[] };

/**
 * Presses `key` until the list reaches its end (`done`), each time waiting
 * for the list to change and settle (older messages loaded, if it went to
 * fetch them). Every press must move the view, and consecutive screens must
 * share exactly one row (the one at the edge), in the right order; only the
 * press that reaches the end may share more, as it can go only as far as
 * there is.
 */
async function walk(
  screen: Screen,
  key: string,
  direction: 'up' | 'down',
  done: (area: string[]) => boolean,
  start: string[],
): Promise<Walk> {
  const seen: Walk = { markers: new Set(markersIn(start)), rows: new Set(messageRows(start)), presses: 0, last: start };
  let prev = start;
  while (!done(prev)) {
    const before = prev;
    screen.press(key);
    seen.presses++;
    const next = await screen.waitForArea(
      (area) => area.join('\n') !== before.join('\n') && !area.some((r) => r.includes('loading older messages')),
      `PageUp/PageDown press ${seen.presses} (${direction}) to move the view`,
    );
    const old = messageRows(before);
    const now = messageRows(next);
    const shared = now.filter((r) => old.includes(r));
    const ending = done(next);
    const where = `press ${seen.presses} ${direction}:\nbefore\n${old.join('\n')}\nafter\n${now.join('\n')}`;
    assert.ok(shared.length >= 1, `no row lost between screens, ${where}`);
    if (!ending) assert.equal(shared.length, 1, `exactly one row seen twice, ${where}`);
    if (direction === 'up') assert.deepEqual(now.slice(-shared.length), old.slice(0, shared.length), where);
    else assert.deepEqual(now.slice(0, shared.length), old.slice(-shared.length), where);
    // "beginning of conversation" shows only at the very top, right above message 1 (after its day's separator).
    const top = next.findIndex((r) => r.includes(TOP));
    if (top >= 0) {
      assert.equal(top, 0, `${TOP} on the first row, ${where}`);
      assert.deepEqual(markersIn(next.slice(top, top + 3)), [1], `${TOP} right above message 1, ${where}`);
    }
    for (const m of markersIn(now)) seen.markers.add(m);
    for (const r of now) seen.rows.add(r);
    prev = next;
    assert.ok(seen.presses < 2000, 'the walk ends');
  }
  seen.last = prev;
  return seen;
}

function assertAllSeen(markers: Set<number>, what: string): void {
  const missing = Array.from({ length: MESSAGES }, (_, i) => i + 1).filter((n) => !markers.has(n));
  assert.deepEqual(missing, [], `every message seen ${what}; missing: ${missing.join(' ')}`);
}

/** Every line of the 50-line message among `rows`. */
function assertTallSeen(rows: Set<string>, what: string): void {
  const lines = new Set<number>();
  for (const r of rows) for (const x of r.matchAll(/\bm150 line (\d+) of 50\b/g)) lines.add(Number(x[1]));
  assert.equal(lines.size, 50, `all 50 lines of message 150 seen ${what}`);
}

for (const [cols, rows] of [
  [120, 40],
  [80, 24],
] as const) {
  test(`scrollback at ${cols}x${rows}: PageUp to the beginning and PageDown back show all 300 messages of mixed heights, one row shared per page; new messages while scrolled up; End; after a switch the top is reachable again`, async () => {
    const name = `scroll${cols}`;
    const { home, general, bob } = await seed(name);
    const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl }, cols, rows);
    try {
      await screen.waitFor(
        (s) => s.some((r) => /\bm300 one line/.test(r)) && s.some((r) => /● connected/.test(r)),
        'the latest messages, connected',
      );
      // The layout this test reads: the composer sits right under the message list (no notice line).
      const full = await screen.lines();
      assert.match(full[rows - 3] ?? '', /│ > /, 'the composer under the message list');
      const bottom = await screen.messageArea();
      assert.ok(!bottom.some((r) => r.includes(TOP)), 'the beginning is far up');
      assert.ok(!BELOW.test(bottom[bottom.length - 1] ?? ''), 'at the bottom, nothing below');

      // Up to the beginning, page by page (older pages load on the way).
      const up = await walk(screen, PAGE_UP, 'up', (a) => a.some((r) => r.includes(TOP)), bottom);
      assertAllSeen(up.markers, 'going up');
      assertTallSeen(up.rows, 'going up');
      assert.ok(up.presses > 10, `it took many pages (${up.presses})`);

      // Down to the newest, page by page.
      const down = await walk(screen, PAGE_DOWN, 'down', (a) => !BELOW.test(a[a.length - 1] ?? ''), up.last);
      assertAllSeen(down.markers, 'going down');
      assertTallSeen(down.rows, 'going down');
      assert.deepEqual(down.last, bottom, 'back where it started');
      assert.ok(Math.abs(down.presses - up.presses) <= 1, `as many pages down as up (${down.presses}, ${up.presses})`);

      // Scrolled up, a message from someone else does not move the view; the bottom row counts it.
      screen.press(PAGE_UP);
      let scrolled = await screen.waitForArea((a) => BELOW.test(a[a.length - 1] ?? ''), 'scrolled up a page');
      screen.press(PAGE_UP);
      scrolled = await screen.waitForArea(
        (a) => a.join('\n') !== scrolled.join('\n') && BELOW.test(a[a.length - 1] ?? ''),
        'scrolled up two pages',
      );
      await bob.request('messages.send', {
        conversationId: general,
        body: 'm301 from bob while alice reads',
        nonce: 'live',
      });
      const counted = await screen.waitForArea(
        (a) => /── 1 new message below · End ──/.test(a[a.length - 1] ?? ''),
        'the count of new messages below',
      );
      assert.deepEqual(counted.slice(0, -1), scrolled.slice(0, -1), 'the view did not move');
      assert.ok(!markersIn(counted).includes(301));

      // End: the newest, the count gone.
      screen.press(END);
      const newest = await screen.waitForArea(
        (a) => /\bm301 from bob/.test(a[a.length - 1] ?? ''),
        'End to jump to the newest message',
      );
      assert.ok(!newest.some((r) => BELOW.test(r)), 'nothing below any more');

      // Away to #random and back with the switcher; the beginning is still reachable.
      screen.press(CTRL_G);
      await screen.waitFor((s) => s.some((r) => /Go to:/.test(r)), 'the switcher');
      screen.press('random');
      await screen.waitFor((s) => s.some((r) => /Go to: random/.test(r)), 'the query');
      screen.press('\r');
      await screen.waitFor((s) => /#random/.test(s[0] ?? '') && !s.some((r) => /Go to:/.test(r)), '#random open');
      screen.press(CTRL_G);
      await screen.waitFor((s) => s.some((r) => /Go to:/.test(r)), 'the switcher again');
      screen.press('general');
      await screen.waitFor((s) => s.some((r) => /Go to: general/.test(r)), 'the query');
      screen.press('\r');
      const back = await screen.waitForArea((a) => /\bm301 from bob/.test(a[a.length - 1] ?? ''), '#general again');
      const again = await walk(screen, PAGE_UP, 'up', (a) => a.some((r) => r.includes(TOP)), back);
      assert.ok(again.markers.has(1), 'message 1 reached again');
      assertAllSeen(again.markers, 'going up after the switch');
    } finally {
      assert.equal(await screen.quit(), 0);
      bob.close();
    }
  });
}
