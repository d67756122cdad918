/**
 * Terminal app soak: memory of one `natter tui` over a long session with
 * steady traffic, scrolling and switching conversations.
 *
 *   node --import tsx bench/tui-soak.ts [--minutes 30] [--rate 5] [--conversations 20]
 *     [--history 300] [--keys-every 3] [--switch-every 60] [--sample-every 10]
 *     [--bin bin/natter [--label TEXT]] [--no-build] [--results FILE]
 *
 * --bin measures another build of natter (a checkout of an older commit, built)
 * against the same fixture; --label names it in the record.
 *
 * Builds (unless --no-build), starts the real server in its own process, and
 * builds a reader with four writers sharing `conversations` conversations
 * (two servers' channels, two groups, two DMs), each with `history` messages
 * already, all read. The reader's `natter tui` runs in a 120×40 pseudo-terminal while,
 * for `minutes`:
 *
 *   - the writers send `rate` messages a second (open loop, paced by the
 *     clock), one conversation after another, bodies of 20 to 200 characters;
 *   - every `keys-every` seconds the reader presses the next key of
 *     PageUp PageUp PageUp Home Home PageDown End (Home at the top of what
 *     is loaded fetches older pages, so the open conversation goes deep into
 *     its history and back);
 *   - every `switch-every` seconds the reader moves to the next conversation
 *     (Alt-Down), so every conversation is opened, read and scrolled in turn;
 *   - every `sample-every` seconds the app's RSS (VmRSS of /proc/PID/status),
 *     its peak (VmHWM) and CPU time are sampled.
 *
 * At the end one more message goes to every conversation and the open one
 * must show it (End pressed first): the app kept up. Prints one JSON line
 * (every sample, and RSS at the first screen, at 1 minute, the peak and the
 * last, with the trend over the second half in MiB per 10 minutes), appended
 * to `--results` (default bench/results/tui/soak.jsonl).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type Account,
  BIN,
  buildFixture,
  commit,
  cpuMsOf,
  machine,
  memoryOf,
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
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '5' },
    conversations: { type: 'string', default: '20' },
    history: { type: 'string', default: '300' },
    'keys-every': { type: 'string', default: '3' },
    'switch-every': { type: 'string', default: '60' },
    'sample-every': { type: 'string', default: '10' },
    bin: { type: 'string', default: BIN },
    label: { type: 'string', default: '' },
    'no-build': { type: 'boolean', default: false },
    results: { type: 'string', default: join(ROOT, 'bench', 'results', 'tui', 'soak.jsonl') },
  },
});
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);
const KEYS_EVERY = Number(values['keys-every']) * 1000;
const SWITCH_EVERY = Number(values['switch-every']) * 1000;
const SAMPLE_EVERY = Number(values['sample-every']) * 1000;
const bin = resolve(values.bin);
const KEYS = ['\u001b[5~', '\u001b[5~', '\u001b[5~', '\u001b[H', '\u001b[H', '\u001b[6~', '\u001b[F'];
const NEXT_CONVERSATION = '\u001b[1;3B';
const END = '\u001b[F';
const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

if (!values['no-build']) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });

/** A body of 20 to 200 characters, different for each message. */
function body(k: number): string {
  const words = ['natter', 'soak', 'message', 'terminal', 'scroll', 'memory', 'steady', 'window', 'page', 'frame'];
  const length = 20 + ((k * 37) % 181);
  let text = `m${k}`;
  for (let i = 0; text.length < length; i++) text += ` ${words[(k + i * 7) % words.length]}`;
  return text.slice(0, length);
}

// Taken now: the run is long, and what is measured is what was built at its start.
const measured = commit();
const dir = mkdtempSync(join(tmpdir(), 'natter-tui-soak-'));
const server = await startBenchServer(join(dir, 'data'));
let terminal: Terminal | null = null;
try {
  const fixture = await buildFixture(server.url, { writers: 4, conversations: Number(values.conversations) });
  const { reader, conversations } = fixture;
  for (const c of conversations) await writeHistory(c, Number(values.history));
  await readEverything(reader);
  const home = join(dir, 'home');
  savedLogin(home, server.url, reader);
  reader.client.close();

  const t = new Terminal(`${bin} tui`, { NATTER_HOME: home, NATTER_SERVER: server.url });
  terminal = t;
  await t.until((s) => /connected/.test(s) && s.includes(` of ${values.history}: `), 'the first screen');
  const pid = t.programPid();
  if (pid === null) throw new Error('the app process was not found');
  const startedAt = performance.now();
  const samples: { s: number; rssMiB: number; hwmMiB: number; cpuS: number; frames: number; sent: number }[] = [];
  let sent = 0;
  let failed = 0;
  let lagging = 0;
  const sample = () => {
    const mem = memoryOf(pid);
    if (!mem) throw new Error('the app exited during the soak');
    samples.push({
      s: Math.round((performance.now() - startedAt) / 1000),
      rssMiB: MiB(mem.rssKiB),
      hwmMiB: MiB(mem.hwmKiB),
      cpuS: Math.round((cpuMsOf(pid) ?? 0) / 100) / 10,
      frames: t.frames,
      sent,
    });
    const last = samples[samples.length - 1];
    console.error(
      `${last?.s} s: RSS ${last?.rssMiB} MiB (peak ${last?.hwmMiB}), CPU ${last?.cpuS} s, ${last?.frames} frames, ${sent} sent`,
    );
  };
  sample();

  const endAt = startedAt + MINUTES * 60_000;
  const send = (k: number) => {
    const c = conversations[k % conversations.length];
    if (!c) return;
    const w = c.writers[Math.floor(k / conversations.length) % c.writers.length] as Account;
    w.client
      .request('messages.send', { conversationId: c.id, body: body(k), nonce: `soak-${k}` })
      .then(() => sent++)
      .catch(() => failed++);
  };
  const load = (async () => {
    const interval = 1000 / RATE;
    for (let k = 0; ; k++) {
      const due = startedAt + k * interval;
      if (due >= endAt) return k;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -1000) lagging++;
      send(k);
    }
  })();
  const keys = (async () => {
    let nextSwitch = startedAt + SWITCH_EVERY;
    for (let i = 0; performance.now() + KEYS_EVERY < endAt; i++) {
      await sleep(KEYS_EVERY);
      if (performance.now() >= nextSwitch) {
        t.write(NEXT_CONVERSATION);
        nextSwitch += SWITCH_EVERY;
      } else {
        t.write(KEYS[i % KEYS.length] ?? END);
      }
    }
  })();
  const sampler = (async () => {
    while (performance.now() + SAMPLE_EVERY < endAt) {
      await sleep(SAMPLE_EVERY);
      sample();
    }
  })();
  const planned = await load;
  await Promise.all([keys, sampler]);

  // Everything sent has been acknowledged (or refused): then one marker per conversation.
  const settle = performance.now() + 30_000;
  while (sent + failed < planned && performance.now() < settle) await sleep(100);
  t.write(END);
  const marker = 'the soak is over';
  for (const c of conversations) {
    const w = c.writers[0] as Account;
    await w.client.request('messages.send', { conversationId: c.id, body: marker, nonce: `end-${c.id}` });
  }
  const caughtUp = await t
    .until((s) => s.includes(marker), 'the last message in the open conversation', 30_000)
    .then(
      () => true,
      () => false,
    );
  sample();

  const first = samples[0];
  const atMinute = samples.find((x) => x.s >= 60) ?? first;
  const last = samples[samples.length - 1];
  const half = samples.filter((x) => x.s >= ((last?.s ?? 0) * 1) / 2);
  // Least-squares slope of RSS over the second half, in MiB per 10 minutes.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const mx = mean(half.map((x) => x.s));
  const my = mean(half.map((x) => x.rssMiB));
  const slope =
    half.reduce((a, x) => a + (x.s - mx) * (x.rssMiB - my), 0) /
    Math.max(
      1e-9,
      half.reduce((a, x) => a + (x.s - mx) ** 2, 0),
    );
  record(values.results || null, {
    date: new Date().toISOString(),
    commit: measured,
    machine: machine(),
    bench: 'tui-soak',
    params: {
      minutes: MINUTES,
      rate: RATE,
      conversations: conversations.length,
      history: Number(values.history),
      keysEveryS: KEYS_EVERY / 1000,
      switchEveryS: SWITCH_EVERY / 1000,
      bin,
      label: values.label || null,
    },
    result: {
      sent,
      failed,
      lagging,
      caughtUp,
      rssMiB: {
        firstScreen: first?.rssMiB,
        atOneMinute: atMinute?.rssMiB,
        peak: Math.max(...samples.map((x) => x.hwmMiB)),
        maxSampled: Math.max(...samples.map((x) => x.rssMiB)),
        last: last?.rssMiB,
        trendPer10Min: Math.round(slope * 600 * 10) / 10,
      },
      cpuS: last?.cpuS,
      frames: last?.frames,
      samples,
    },
  });
  if (!caughtUp) process.exitCode = 1;
} finally {
  if (terminal) await terminal.quit();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
