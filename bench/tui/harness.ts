/**
 * What the terminal-app benchmarks share: a natter server in its own process,
 * a fixture of users and conversations built over the protocol, and the real
 * `natter tui` in a pseudo-terminal (util-linux `script`), its output fed to a
 * headless terminal emulator so the screen can be read, its frames counted
 * and its memory sampled from /proc.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { saveCredential } from '../../src/cli/util.js';
import { NatterClient } from '../../src/client/index.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'natter');
export const PASSWORD = 'benchmark password';

/** Ink opens every frame it writes with this (synchronized output): one per frame. */
const FRAME_START = '\u001b[?2026h';

/** The median and the maximum of some figures. */
export function stats(xs: readonly number[]): { median: number; max: number; min: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  return { median, max: s[s.length - 1] ?? Number.NaN, min: s[0] ?? Number.NaN };
}

/** Resolves after `ms`: the benchmarks pace their load by the clock (tests never do). */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A natter server in a process of its own (`bench/server-process.ts`), on a free port. */
export type BenchServer = { url: string; pid: number; stop(): Promise<void> };

/**
 * Starts the real server on `dataDir` with cheap bcrypt and the sending and
 * reading limits lifted (the fixture writes history fast; the load is paced by
 * the benchmark itself). Resolves once it says where it listens.
 */
export async function startBenchServer(dataDir: string): Promise<BenchServer> {
  const open = { capacity: 1_000_000, refillMs: 1 };
  const config = {
    dataDir,
    host: '127.0.0.1',
    port: 0,
    tcpPort: null,
    bcryptCost: 4,
    limits: { sendPerUser: open, writePerUser: open, readPerUser: open, lookupPerUser: open, registerPerAddress: open },
    quotas: { writeBytesPerDay: 0 },
  };
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'server-process.ts'), JSON.stringify(config)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /\(WebSocket (ws:\/\/[^ )]+)\)/.exec(log);
      if (m?.[1]) resolve(m[1]);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${log}`)));
  });
  return {
    url,
    pid: proc.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.on('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** A registered account and a connection logged in as it. */
export type Account = {
  username: string;
  id: string;
  token: string;
  sessionId: string;
  client: NatterClient;
};

export async function register(url: string, username: string): Promise<Account> {
  const client = await NatterClient.connect(url, { timeoutMs: 60_000 });
  const r = await client.request('register', { username, password: PASSWORD });
  return { username, id: r.user.id, token: r.token, sessionId: r.session.id, client };
}

/** Saves `a`'s session in a config directory, as `natter login` does, so the app starts logged in. */
export function savedLogin(home: string, url: string, a: Account): void {
  saveCredential(home, url, {
    token: a.token,
    username: a.username,
    userId: a.id,
    sessionId: a.sessionId,
    savedAt: Date.now(),
  });
}

/** A conversation of the fixture and the accounts that may write in it. */
export type FixtureConversation = { id: string; name: string; writers: Account[] };

/**
 * The reader (whose app is measured) and `writers` others, sharing
 * `conversations` conversations: two servers' channels, two groups, and DMs
 * between the reader and the first writers (one DM per writer, at most 2).
 */
export async function buildFixture(
  url: string,
  opts: { writers: number; conversations: number },
): Promise<{ reader: Account; writers: Account[]; conversations: FixtureConversation[] }> {
  const reader = await register(url, 'reader');
  const writers: Account[] = [];
  for (let i = 0; i < opts.writers; i++) writers.push(await register(url, `writer${i + 1}`));
  const dms = Math.min(2, writers.length, Math.max(0, opts.conversations - 4));
  const groups = Math.min(2, Math.max(0, opts.conversations - dms - 2));
  const channels = opts.conversations - dms - groups;
  const conversations: FixtureConversation[] = [];
  const serverCount = channels > 1 ? 2 : 1;
  for (let s = 0; s < serverCount; s++) {
    const want = Math.ceil(channels / serverCount) - (s === 1 && channels % 2 === 1 ? 1 : 0);
    const { server, channels: made } = await reader.client.request('servers.create', { name: `server${s + 1}` });
    const ids = made.map((c) => ({ id: c.id, name: c.name }));
    for (let c = ids.length; c < want; c++) {
      const { channel } = await reader.client.request('channels.create', {
        serverId: server.id,
        name: `room${String(c).padStart(2, '0')}`,
      });
      ids.push({ id: channel.id, name: channel.name });
    }
    const { invite } = await reader.client.request('invites.create', { serverId: server.id });
    for (const w of writers) await w.client.request('invites.join', { code: invite.code });
    for (const c of ids.slice(0, want)) conversations.push({ ...c, writers });
  }
  for (let g = 0; g < groups; g++) {
    const { group } = await reader.client.request('groups.create', {
      name: `group${g + 1}`,
      usernames: writers.map((w) => w.username),
    });
    for (const w of writers) {
      // Added directly or invited, as each one's settings say: an invitation is accepted.
      await w.client.request('groups.accept', { groupId: group.id }).catch(() => {});
    }
    conversations.push({ id: group.id, name: group.name, writers });
  }
  for (let d = 0; d < dms; d++) {
    const w = writers[d] as Account;
    const { message } = await w.client.request('messages.send', {
      to: reader.username,
      body: `hello ${reader.username}`,
      nonce: `dm-${d}`,
    });
    conversations.push({ id: message.conversationId, name: `@${w.username}`, writers: [w] });
  }
  return { reader, writers, conversations };
}

/** Sends `count` numbered messages to a conversation, round-robin over its writers. */
export async function writeHistory(c: FixtureConversation, count: number, label = 'history'): Promise<void> {
  const batch = 50;
  for (let i = 0; i < count; i += batch) {
    const sends: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(count, i + batch); k++) {
      const w = c.writers[k % c.writers.length] as Account;
      sends.push(
        w.client.request('messages.send', {
          conversationId: c.id,
          body: `${label} ${k + 1} of ${count}: the quick brown fox jumps over the lazy dog`,
          nonce: `${label}-${c.id}-${k}`,
        }),
      );
    }
    await Promise.all(sends);
  }
}

/** Marks every conversation of `a` read to its newest message, so the app opens at the bottom of each. */
export async function readEverything(a: Account): Promise<void> {
  const { conversations } = await a.client.request('conversations.list', { limit: 100 });
  for (const c of conversations) {
    if (c.lastSeq > 0) await a.client.request('read.mark', { conversationId: c.id, seq: c.lastSeq });
  }
}

/** Memory of a process, from /proc/PID/status, in KiB (null once it is gone). */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU time a process has used (user + system), in ms, from /proc/PID/stat. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100;
  } catch {
    return null;
  }
}

/**
 * A program in a pseudo-terminal of `cols` × `rows`, read through a headless
 * terminal. Every chunk of output is timed (ms since the spawn, on the
 * monotonic clock) and its frames counted.
 */
export class Terminal {
  readonly term: xterm.Terminal;
  readonly child: ChildProcess;
  /** performance.now() at the spawn. */
  readonly spawnedAt: number;
  /** Frames written so far (each Ink frame opens with a synchronized-output mark). */
  frames = 0;
  bytes = 0;
  /** When the last chunk of output arrived (ms since the spawn). */
  lastOutputAt = 0;
  private tail = '';
  private parsed = Promise.resolve();
  private watchers: { test: (screen: string) => boolean; resolve: (at: number) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    command: string,
    env: Record<string, string>,
    readonly cols = 120,
    readonly rows = 40,
  ) {
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 0 });
    this.spawnedAt = performance.now();
    this.child = spawn('script', ['-qfec', `stty cols ${cols} rows ${rows}; exec ${command}`, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm-256color', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stdout?.on('data', (chunk: Buffer) => this.onOutput(chunk));
    this.child.stderr?.resume();
  }

  private onOutput(chunk: Buffer): void {
    const at = performance.now() - this.spawnedAt;
    this.lastOutputAt = at;
    this.bytes += chunk.length;
    const text = this.tail + chunk.toString('latin1');
    for (let i = text.indexOf(FRAME_START); i !== -1; i = text.indexOf(FRAME_START, i + 1)) this.frames++;
    // Keep what could be the start of a mark cut in two by the chunk boundary.
    this.tail = text.slice(-(FRAME_START.length - 1)).replaceAll(FRAME_START, '');
    this.parsed = this.parsed.then(
      () =>
        new Promise<void>((resolve) =>
          this.term.write(chunk, () => {
            if (this.watchers.length > 0) {
              const screen = this.screenNow();
              this.watchers = this.watchers.filter((w) => {
                if (!w.test(screen)) return true;
                w.resolve(at);
                return false;
              });
            }
            resolve();
          }),
        ),
    );
  }

  private screenNow(): string {
    const buf = this.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < this.rows; i++) out.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    return out.join('\n');
  }

  /** The screen's text, one line per row, once all output so far is parsed. */
  async screen(): Promise<string> {
    await this.parsed;
    return this.screenNow();
  }

  /**
   * Resolves with the time (ms since the spawn) at which the output that made
   * the screen pass `test` arrived; rejects after `timeoutMs`.
   */
  async until(test: (screen: string) => boolean, what: string, timeoutMs = 60_000): Promise<number> {
    await this.parsed;
    if (test(this.screenNow())) return this.lastOutputAt;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<number>((resolve, reject) => {
        this.watchers.push({ test, resolve });
        timer = setTimeout(async () => {
          reject(new Error(`${what}: not on screen after ${timeoutMs} ms; the screen was:\n${await this.screen()}`));
        }, timeoutMs);
      });
    } finally {
      clearTimeout(timer);
    }
  }

  write(keys: string): void {
    this.child.stdin?.write(keys);
  }

  /** The program's own process: `script`'s child (the shell execs it). */
  programPid(): number | null {
    const pid = this.child.pid;
    if (pid === undefined) return null;
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
      const first = Number(children[0]);
      return Number.isInteger(first) && first > 0 ? first : null;
    } catch {
      return null;
    }
  }

  /** Ctrl-C, then SIGKILL if it is still there after `graceMs`; resolves with the exit code. */
  async quit(graceMs = 10_000): Promise<number | null> {
    this.write('\u0003');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The commit measured (with `+dirty` when src/ or dist/'s inputs differ from it). */
export function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'scripts', 'bin'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

/** The machine, for the record: CPU, cores, Node, and the load average when the run started. */
export function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    load: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** Prints `obj` as one JSON line, and appends it to `file` (bench/results/...jsonl) when given. */
export function record(file: string | null, obj: unknown): void {
  const line = JSON.stringify(obj);
  console.log(line);
  if (!file) return;
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${line}\n`);
}
