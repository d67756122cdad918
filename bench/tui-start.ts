/**
 * Terminal app start-up: from spawning `natter tui` to the chat screen with
 * the open conversation's history drawn, logged in with saved credentials.
 *
 *   node --import tsx bench/tui-start.ts [--runs 15] [--warmup 2] [--history 200]
 *     [--conversations 20] [--bin bin/natter [--label TEXT]] [--no-build] [--cpu-prof DIR] [--results FILE]
 *
 * --bin measures another build of natter (a checkout of an older commit, built)
 * against the same fixture; --label names it in the record.
 *
 * Builds (unless --no-build), starts the real server in its own process
 * (`bench/server-process.ts`, a temporary data directory), registers a reader
 * and two writers sharing `conversations` conversations (two servers'
 * channels, two groups, two DMs), writes `history` messages into the channel
 * the app opens first, marks everything read (so the app opens at the newest
 * message) and saves the reader's session in a config directory.
 * Then, `runs` times (after `warmup` untimed runs), it starts `natter tui` in
 * a 120×40 pseudo-terminal (util-linux `script`) and times, from the spawn:
 *
 *   - output: the first byte (the switch to the alternate screen: the code is loaded);
 *   - frame:  the first frame Ink writes;
 *   - chat:   the screen showing the newest message of the history, the sidebar and "connected".
 *
 * and the frames written and the CPU time the app has used by then; then it
 * quits with Ctrl-C. For reference it times Node alone the same way (a
 * `node -e` that prints one word, in the same pseudo-terminal). Prints each
 * run on stderr, then one JSON line (median, max and min of each figure, and
 * every run's time to the chat screen), appended to `--results` (default
 * bench/results/tui/start.jsonl). --cpu-prof writes a CPU profile of each
 * run of the app to DIR.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BIN,
  buildFixture,
  commit,
  cpuMsOf,
  machine,
  ROOT,
  readEverything,
  record,
  savedLogin,
  startBenchServer,
  stats,
  Terminal,
  writeHistory,
} from './tui/harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '2' },
    history: { type: 'string', default: '200' },
    conversations: { type: 'string', default: '20' },
    bin: { type: 'string', default: BIN },
    label: { type: 'string', default: '' },
    'no-build': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    results: { type: 'string', default: join(ROOT, 'bench', 'results', 'tui', 'start.jsonl') },
  },
});
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const HISTORY = Number(values.history);
const bin = resolve(values.bin);

if (!values['no-build']) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });

const dir = mkdtempSync(join(tmpdir(), 'natter-tui-start-'));
const server = await startBenchServer(join(dir, 'data'));
try {
  const { reader, writers, conversations } = await buildFixture(server.url, {
    writers: 2,
    conversations: Number(values.conversations),
  });
  const first = conversations[0];
  if (!first) throw new Error('no conversation in the fixture');
  await writeHistory(first, HISTORY);
  // The newest message, on its own: what the screen must show.
  const newest = 'the newest message of the history';
  await writers[0]?.client.request('messages.send', { conversationId: first.id, body: newest, nonce: 'newest' });
  await readEverything(reader);
  const home = join(dir, 'home');
  savedLogin(home, server.url, reader);
  for (const a of [reader, ...writers]) a.client.close();
  const env: Record<string, string> = { NATTER_HOME: home, NATTER_SERVER: server.url };
  // Node refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.
  let command = `${bin} tui`;
  if (values['cpu-prof']) {
    mkdirSync(values['cpu-prof'], { recursive: true });
    command = `${process.execPath} --cpu-prof --cpu-prof-dir=${resolve(values['cpu-prof'])} ${bin} tui`;
  }

  const runApp = async () => {
    const t = new Terminal(command, env);
    try {
      const output = await t.until((s) => s.trim() !== '' || t.bytes > 0, 'any output');
      const frame = await t.until(() => t.frames > 0, 'a first frame');
      const chat = await t.until(
        (s) => s.includes(newest) && /server1/.test(s) && /connected/.test(s),
        'the history, the sidebar and "connected"',
      );
      const pid = t.programPid();
      const cpuMs = pid === null ? Number.NaN : (cpuMsOf(pid) ?? Number.NaN);
      return { outputMs: output, frameMs: frame, chatMs: chat, frames: t.frames, cpuMs };
    } finally {
      const code = await t.quit();
      if (code !== 0) console.error(`natter tui exited with ${code}`);
    }
  };
  const runNode = async () => {
    const t = new Terminal(`${process.execPath} -e "process.stdout.write('ready')"`, {});
    const at = await t.until((s) => s.includes('ready'), 'node printing "ready"');
    await t.exited;
    return at;
  };

  for (let i = 0; i < WARMUP; i++) {
    await runApp();
    await runNode();
  }
  const app: { outputMs: number; frameMs: number; chatMs: number; frames: number; cpuMs: number }[] = [];
  const node: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await runApp();
    app.push(r);
    node.push(await runNode());
    console.error(
      `run ${i + 1}: output ${r.outputMs.toFixed(0)} ms, frame ${r.frameMs.toFixed(0)} ms, chat ${r.chatMs.toFixed(0)} ms (${r.frames} frames, ${r.cpuMs} ms of CPU); node alone ${node[i]?.toFixed(0)} ms`,
    );
  }
  const round = (s: { median: number; max: number; min: number }) => ({
    median: Math.round(s.median),
    max: Math.round(s.max),
    min: Math.round(s.min),
  });
  record(values.results || null, {
    date: new Date().toISOString(),
    commit: commit(),
    machine: machine(),
    bench: 'tui-start',
    params: {
      runs: RUNS,
      warmup: WARMUP,
      history: HISTORY,
      conversations: conversations.length,
      bin,
      label: values.label || null,
    },
    result: {
      outputMs: round(stats(app.map((r) => r.outputMs))),
      frameMs: round(stats(app.map((r) => r.frameMs))),
      chatMs: round(stats(app.map((r) => r.chatMs))),
      nodeAloneMs: round(stats(node)),
      framesToChat: round(stats(app.map((r) => r.frames))),
      cpuToChatMs: round(stats(app.map((r) => r.cpuMs))),
      runs: app.map((r) => Math.round(r.chatMs)),
    },
  });
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
