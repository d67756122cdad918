/**
 * Terminal app frames: how many frames `natter tui` writes for one incoming
 * message (and for one scrolling key), counted in the pseudo-terminal's output.
 *
 *   node --import tsx bench/tui-frames.ts [--messages 30] [--bin bin/natter [--label TEXT]] [--no-build] [--results FILE]
 *
 * --bin measures another build of natter (a checkout of an older commit, built)
 * against the same fixture; --label names it in the record.
 *
 * Ink opens every frame it writes with the synchronized-output mark
 * (ESC [ ? 2026 h), so counting the marks counts frames. The fixture is the
 * one of bench/tui-start.ts (a reader, two writers, 20 conversations with 100
 * messages each, all read). With the app showing the first channel and
 * nothing moving, first 20 s of nothing (idle: frames and CPU time per
 * second), then one case at a time, each `messages` times: the input goes
 * in, the app's answer is waited for on screen, then 400 ms without output,
 * and the frames written in between are counted.
 *
 *   - open:     a message to the open conversation (it appears at the bottom);
 *   - unread:   a message to a conversation that was read (its name turns bold);
 *   - more:     another message to that conversation, already unread (nothing to redraw);
 *   - mention:  a message mentioning the reader elsewhere (the badge counts up);
 *   - burst:    10 messages to the open conversation at once (one packet or a few);
 *   - page:     PageUp, then PageDown (the window moves).
 *
 * Prints one JSON line with, for each case, frames per input (mean, max),
 * bytes per frame and the app's CPU time per input (the quiet wait included,
 * in 10 ms ticks), appended to `--results` (default bench/results/tui/frames.jsonl).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BIN,
  buildFixture,
  commit,
  cpuMsOf,
  type FixtureConversation,
  machine,
  ROOT,
  readEverything,
  record,
  savedLogin,
  sleep,
  startBenchServer,
  Terminal,
  writeHistory,
} from './tui/harness.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '30' },
    bin: { type: 'string', default: BIN },
    label: { type: 'string', default: '' },
    'no-build': { type: 'boolean', default: false },
    results: { type: 'string', default: join(ROOT, 'bench', 'results', 'tui', 'frames.jsonl') },
  },
});
const N = Number(values.messages);
const bin = resolve(values.bin);
const QUIET_MS = 400;
const IDLE_S = 20;

if (!values['no-build']) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });

const dir = mkdtempSync(join(tmpdir(), 'natter-tui-frames-'));
const server = await startBenchServer(join(dir, 'data'));
let terminal: Terminal | null = null;
try {
  const { reader, conversations } = await buildFixture(server.url, { writers: 2, conversations: 20 });
  for (const c of conversations) await writeHistory(c, 100);
  await readEverything(reader);
  const home = join(dir, 'home');
  savedLogin(home, server.url, reader);

  const t = new Terminal(`${bin} tui`, { NATTER_HOME: home, NATTER_SERVER: server.url });
  terminal = t;
  await t.until((s) => /connected/.test(s) && s.includes(' of 100: '), 'the first screen');
  const pid = t.programPid();
  if (pid === null) throw new Error('the app process was not found');

  /** Resolves once the app has written nothing for QUIET_MS. */
  const quiet = async () => {
    for (;;) {
      const bytes = t.bytes;
      await sleep(QUIET_MS);
      if (t.bytes === bytes) return;
    }
  };
  await quiet();

  let serial = 0;
  const send = (c: FixtureConversation, body: string) =>
    c.writers[0]?.client.request('messages.send', { conversationId: c.id, body, nonce: `frames-${serial++}` });
  /** Runs `input`, waits for `shown` on screen and then for quiet; returns the frames and bytes written. */
  const measure = async (input: () => Promise<unknown> | undefined, shown: (s: string) => boolean, what: string) => {
    const frames = t.frames;
    const bytes = t.bytes;
    const cpu = cpuMsOf(pid) ?? 0;
    await input();
    await t.until(shown, what, 30_000);
    await quiet();
    return { frames: t.frames - frames, bytes: t.bytes - bytes, cpuMs: (cpuMsOf(pid) ?? 0) - cpu };
  };
  type Measured = { frames: number; bytes: number; cpuMs: number };
  const cases: Record<string, Measured[]> = {};
  const add = (name: string, r: Measured) => {
    cases[name] ??= [];
    cases[name].push(r);
  };

  // Nothing happening: no frame, and next to no CPU.
  const idleFrames = t.frames;
  const idleCpu = cpuMsOf(pid) ?? 0;
  await sleep(IDLE_S * 1000);
  const idle = {
    seconds: IDLE_S,
    frames: t.frames - idleFrames,
    cpuMsPerSecond: Math.round((((cpuMsOf(pid) ?? 0) - idleCpu) / IDLE_S) * 10) / 10,
  };

  const open = conversations[0] as FixtureConversation;
  const others = conversations.slice(1, 1 + N).filter((c) => c.name !== '@writer1' && c.name !== '@writer2');
  for (let i = 0; i < N; i++) {
    const body = `frames open ${i}`;
    add(
      'open',
      await measure(
        () => send(open, body),
        (s) => s.includes(body),
        'the message in the open conversation',
      ),
    );
  }
  // Elsewhere: the first message makes the name bold, which the text does not show: wait on the frame count instead.
  for (const c of others.slice(0, N)) {
    const before = t.frames;
    add(
      'unread',
      await measure(
        () => send(c, `frames unread ${c.name}`),
        () => t.frames > before,
        'a redraw',
      ),
    );
    add(
      'more',
      await measure(
        () => send(c, `frames more ${c.name}`),
        () => true,
        'nothing',
      ),
    );
  }
  const mentioned = others[0] as FixtureConversation;
  for (let i = 0; i < N; i++) {
    const badge = new RegExp(`${mentioned.name.replace('#', '')}\\s+${i + 1}\\s`);
    add(
      'mention',
      await measure(
        () => send(mentioned, `hey @${reader.username} ${i}`),
        (s) => badge.test(s),
        `the mention badge at ${i + 1}`,
      ),
    );
  }
  for (let i = 0; i < Math.max(3, Math.floor(N / 5)); i++) {
    const last = `frames burst ${i} 9`;
    add(
      'burst',
      await measure(
        () => Promise.all(Array.from({ length: 10 }, (_, k) => send(open, `frames burst ${i} ${k}`))),
        (s) => s.includes(last),
        'the burst',
      ),
    );
  }
  for (let i = 0; i < N; i++) {
    const before = t.frames;
    add(
      'page',
      await measure(
        async () => t.write('\u001b[5~'),
        () => t.frames > before,
        'PageUp',
      ),
    );
    const back = t.frames;
    add(
      'page',
      await measure(
        async () => t.write('\u001b[6~'),
        () => t.frames > back,
        'PageDown',
      ),
    );
  }

  const summary = Object.fromEntries(
    Object.entries(cases).map(([name, rs]) => {
      const frames = rs.map((r) => r.frames);
      const totalFrames = frames.reduce((a, b) => a + b, 0);
      return [
        name,
        {
          inputs: rs.length,
          framesPerInput: Math.round((totalFrames / rs.length) * 100) / 100,
          maxFrames: Math.max(...frames),
          bytesPerFrame: totalFrames === 0 ? 0 : Math.round(rs.reduce((a, r) => a + r.bytes, 0) / totalFrames),
          cpuMsPerInput: Math.round(rs.reduce((a, r) => a + r.cpuMs, 0) / rs.length),
        },
      ];
    }),
  );
  console.error(JSON.stringify({ idle, ...summary }, null, 2));
  record(values.results || null, {
    date: new Date().toISOString(),
    commit: commit(),
    machine: machine(),
    bench: 'tui-frames',
    params: { messages: N, quietMs: QUIET_MS, bin, label: values.label || null },
    result: { idle, ...summary },
  });
} finally {
  if (terminal) await terminal.quit();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
