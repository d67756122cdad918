/**
 * Abuse: what one user or one address can do to everyone else.
 *
 *   node --import tsx bench/abuse.ts [--scenario NAME]... [--bin bin/natter] [--label TEXT] [--out FILE]
 *
 * Runs `natter serve` from `--bin` (the build of this checkout by default; give
 * another checkout's `bin/natter` to measure an older version) as a child
 * process on free ports with a temporary data directory, then plays one
 * attacker against bystanders over raw TCP, one NDJSON line per request, from
 * distinct loopback addresses (127.0.0.2, 127.0.0.3, …: Linux routes all of
 * 127/8 to the loopback interface). Scenarios:
 *
 * - `read-burst`: a channel of 300 messages of 4,000 characters; on each of
 *   3 connections the attacker writes 500 `messages.history` requests
 *   (limit 100) in one write and reads the replies. A bystander on its own
 *   address pings every 10 ms throughout.
 * - `read-burst-open`: the same with the per-user read budget lifted
 *   (`--limits`), as an operator might for bots: what the request path alone
 *   holds back (requests in flight, work per turn, unread replies). Servers
 *   before the read budget existed are measured with `read-burst`.
 * - `read-burst-unread`: the same, but the attacker never reads a byte.
 * - `conn-cap`: the attacker opens 1,000 TCP connections from one address;
 *   meanwhile a bystander pings, and a newcomer from another address
 *   connects and authenticates with its token every 250 ms.
 * - `conn-cap-ws`: the same with WebSocket upgrades, each on a keep-alive
 *   socket that first carried one plain HTTP request; it counts the sockets
 *   that were upgraded (101) and are still open.
 * - `lockout`: the attacker guesses 10 victims' passwords from 8 addresses
 *   of its own, as fast as the server answers, for 40 s; the victims log in
 *   with the right password from their usual addresses, one every 2 s.
 * - `nat`: the attacker shares the victims' address (a NAT, a TLS proxy),
 *   where each victim has logged in before, and guesses random usernames
 *   on 4 connections;
 *   the victims log in from there, one every 2 s.
 *
 * Each scenario prints one JSON line (and appends it to `--out`): the
 * server's resident memory before and at its peak (sampled every 20 ms from
 * /proc), the bystander's ping percentiles, and what the attacker and the
 * victim were answered. `bench/abuse-summary.ts` prints the medians.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const SCENARIOS = [
  'read-burst',
  'read-burst-open',
  'read-burst-unread',
  'conn-cap',
  'conn-cap-ws',
  'lockout',
  'nat',
] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    bin: { type: 'string', default: 'bin/natter' },
    label: { type: 'string' },
    out: { type: 'string' },
    conns: { type: 'string', default: '3' },
    requests: { type: 'string', default: '500' },
    'bcrypt-cost': { type: 'string', default: '12' },
  },
});
const BIN = resolve(values.bin ?? 'bin/natter');
const LABEL = values.label ?? 'this checkout';
const PASSWORD = 'bench-Quartz-Lamp-42';
const chosen = (values.scenario ?? [...SCENARIOS]) as Scenario[];
for (const s of chosen) {
  if (!SCENARIOS.includes(s)) {
    console.error(`unknown scenario ${s}; one of ${SCENARIOS.join(', ')}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------- helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` is true, or throws after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function latency(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? Number.NaN) };
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.round(bytes / MiB);

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Samples `pid`'s RSS every 20 ms until stopped; returns the peak. */
function watchRss(pid: number): { stop: () => number } {
  let peak = rss(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch {
      // The process is gone; the peak so far stands.
    }
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

type ErrorBody = { code: string; message: string };
type Reply = { id: number; result?: unknown; error?: ErrorBody };

/** A raw NDJSON connection: requests by id, events ignored. */
class Line {
  private buf = '';
  private next = 1;
  private waiting = new Map<number, (r: Reply) => void>();
  closed = false;
  replies = 0;
  errors = new Map<string, number>();
  closeReason = '';

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason ||= (err as NodeJS.ErrnoException).code ?? err.message;
    });
    socket.on('close', () => {
      this.closed = true;
      for (const resolve of this.waiting.values()) resolve({ id: 0, error: { code: 'closed', message: 'closed' } });
      this.waiting.clear();
    });
  }

  static open(port: number, localAddress: string, timeoutMs = 30_000): Promise<Line> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port, localAddress });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timed out'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new Line(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf('\n');
      if (line === '') continue;
      const msg = JSON.parse(line) as Reply & { event?: string; data?: { code?: string | number } };
      if (msg.event === 'closing') {
        // The close code says why (4008: kept sending while rate limited; 4009: slow consumer).
        this.closeReason = String(msg.data?.code ?? 'closing');
        continue;
      }
      if (msg.event === 'error' || (msg.error && msg.id == null)) {
        const code = String(msg.error?.code ?? msg.data?.code ?? 'error');
        this.closeReason ||= code;
        continue;
      }
      if (typeof msg.id !== 'number') continue;
      this.replies++;
      if (msg.error) this.errors.set(msg.error.code, (this.errors.get(msg.error.code) ?? 0) + 1);
      const resolve = this.waiting.get(msg.id);
      if (resolve) {
        this.waiting.delete(msg.id);
        resolve(msg);
      }
    }
  }

  /** Writes `count` requests of `op` in one write, without waiting. */
  burst(op: string, params: unknown, count: number): void {
    let text = '';
    for (let i = 0; i < count; i++) text += `${JSON.stringify({ id: this.next++, op, params })}\n`;
    this.socket.write(text);
  }

  request(op: string, params: unknown = {}): Promise<Reply> {
    if (this.closed) return Promise.resolve({ id: 0, error: { code: 'closed', message: 'closed' } });
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(`${JSON.stringify({ id, op, params })}\n`);
    });
  }

  /** A request that must succeed. */
  async call<T>(op: string, params: unknown = {}): Promise<T> {
    const r = await this.request(op, params);
    if (r.error) throw new Error(`${op}: ${r.error.code}: ${r.error.message}`);
    return r.result as T;
  }

  close(): void {
    this.socket.destroy();
  }
}

type Server = { child: ChildProcess; pid: number; port: number; tcpPort: number; dataDir: string };

/** Starts `natter serve`; `limits`, if given, is written to a `--limits` file. */
async function startNatter(bcryptCost: number, limits?: Record<string, unknown>): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-abuse-'));
  const port = await freePort();
  const tcpPort = await freePort();
  const args = ['serve', '--data', dataDir, '--port', String(port), '--tcp-port', String(tcpPort)];
  args.push('--bcrypt-cost', String(bcryptCost));
  if (limits) {
    const file = join(dataDir, 'limits.json');
    writeFileSync(file, JSON.stringify(limits));
    args.push('--limits', file);
  }
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the server');
  await until(() => stderr.includes('listening') || child.exitCode !== null, 60_000, 'the server to start');
  if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
  return { child, pid, port, tcpPort, dataDir };
}

async function stopNatter(s: Server): Promise<void> {
  if (s.child.exitCode === null) {
    s.child.kill('SIGTERM');
    const exited = new Promise((r) => s.child.once('exit', r));
    await Promise.race([exited, sleep(15_000)]);
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  }
  rmSync(s.dataDir, { recursive: true, force: true });
}

/** Registers `name` from `address`; returns the connection, logged in, and its session token. */
async function register(s: Server, name: string, address: string): Promise<{ c: Line; token: string }> {
  const c = await Line.open(s.tcpPort, address);
  const { token } = await c.call<{ token: string }>('register', { username: name, password: PASSWORD });
  return { c, token };
}

/** Registers `name` from `address`; returns the connection, logged in. */
async function account(s: Server, name: string, address: string): Promise<Line> {
  return (await register(s, name, address)).c;
}

/** Pings every `everyMs` until stopped; returns the round trips in ms. */
function pinger(c: Line, everyMs: number): { stop: () => Promise<number[]> } {
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running && !c.closed) {
      const t0 = performance.now();
      const r = await c.request('ping');
      if (!r.error) times.push(performance.now() - t0);
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return times;
    },
  };
}

const countsOf = (m: Map<string, number>) => Object.fromEntries([...m].sort());

function merge(into: Map<string, number>, from: Map<string, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

// ---------------------------------------------------------------- scenarios

async function readBurst(s: Server, attackerReads: boolean): Promise<Record<string, unknown>> {
  const CONNS = Number(values.conns);
  const REQUESTS = Number(values.requests);
  const owner = await account(s, 'owner', '127.0.0.2');
  const created = await owner.call<{ server: { id: string }; channels: { id: string }[] }>('servers.create', {
    name: 'bench',
  });
  const channelId = created.channels[0]?.id;
  if (!channelId) throw new Error('no channel');
  const { invite } = await owner.call<{ invite: { code: string } }>('invites.create', { serverId: created.server.id });
  // Ten writers on ten addresses, thirty messages each: 300 messages of 4,000 characters.
  const writers = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const w = await account(s, `writer${i}`, `127.0.1.${i + 1}`);
      await w.call('invites.join', { code: invite.code });
      return w;
    }),
  );
  await Promise.all(
    writers.map(async (w, i) => {
      for (let n = 0; n < 30; n++) {
        const body = `${String.fromCharCode(97 + i)}${n} ${'x'.repeat(3990)}`;
        for (;;) {
          const r = await w.request('messages.send', { conversationId: channelId, body, nonce: `w${i}-${n}` });
          if (!r.error) break;
          if (r.error.code !== 'rate_limited') throw new Error(`send: ${r.error.code}`);
          await sleep(100);
        }
      }
      w.close();
    }),
  );
  const { c: attacker, token } = await register(s, 'attacker', '127.0.0.3');
  await attacker.call('invites.join', { code: invite.code });
  attacker.close();
  const bystander = await account(s, 'bystander', '127.0.0.4');
  const conns = await Promise.all(
    Array.from({ length: CONNS }, async () => {
      const c = await Line.open(s.tcpPort, '127.0.0.3');
      await c.call('auth', { token });
      c.replies = 0;
      return c;
    }),
  );
  await sleep(1000);
  const before = rss(s.pid);
  const memory = watchRss(s.pid);
  const pings = pinger(bystander, 10);
  const t0 = performance.now();
  for (const c of conns) {
    if (!attackerReads) c.socket.pause();
    c.burst('messages.history', { conversationId: channelId, limit: 100 }, REQUESTS);
  }
  const total = CONNS * REQUESTS;
  const answered = () => conns.reduce((n, c) => n + c.replies, 0);
  const allDone = () => conns.every((c) => c.closed || c.replies >= REQUESTS);
  if (attackerReads) {
    try {
      await until(allDone, 600_000, 'the attacker to be answered');
    } catch {
      // Reported below as fewer answers.
    }
  } else {
    // An attacker that never reads: give the server 15 s to deal with it.
    await until(() => conns.every((c) => c.closed), 15_000, 'unread connections to close').catch(() => undefined);
  }
  const attackMs = performance.now() - t0;
  const peak = memory.stop();
  const times = await pings.stop();
  const errors = new Map<string, number>();
  for (const c of conns) merge(errors, c.errors);
  const closed = conns.filter((c) => c.closed).length;
  const reasons = [...new Set(conns.map((c) => c.closeReason).filter(Boolean))];
  for (const c of conns) c.close();
  bystander.close();
  owner.close();
  return {
    attacker: { connections: CONNS, requests: total, answered: answered(), errors: countsOf(errors), closed, reasons },
    attackSeconds: Math.round(attackMs / 100) / 10,
    rssBeforeMiB: mib(before),
    rssPeakMiB: mib(peak),
    rssRiseMiB: mib(peak - before),
    bystanderPingMs: latency(times),
  };
}

async function connCap(s: Server): Promise<Record<string, unknown>> {
  const ATTEMPTS = 1000;
  const bystander = await account(s, 'bystander', '127.0.0.4');
  const newcomer = await register(s, 'newcomer', '127.0.0.5');
  newcomer.c.close();
  await sleep(500);
  const before = rss(s.pid);
  const memory = watchRss(s.pid);
  const pings = pinger(bystander, 10);
  let newcomerOk = 0;
  const newcomerFailed = new Map<string, number>();
  const newcomerTimes: number[] = [];
  let flooding = true;
  const newcomers = (async () => {
    while (flooding) {
      const t0 = performance.now();
      try {
        const c = await Line.open(s.tcpPort, '127.0.0.5', 10_000);
        const r = await c.request('auth', { token: newcomer.token });
        if (r.error) newcomerFailed.set(r.error.code, (newcomerFailed.get(r.error.code) ?? 0) + 1);
        else {
          newcomerOk++;
          newcomerTimes.push(performance.now() - t0);
        }
        c.close();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'connect failed';
        newcomerFailed.set(code, (newcomerFailed.get(code) ?? 0) + 1);
      }
      await sleep(250);
    }
  })();
  const t0 = performance.now();
  const opened = await Promise.allSettled(
    Array.from({ length: ATTEMPTS }, () => Line.open(s.tcpPort, '127.0.0.3', 30_000)),
  );
  const lines = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const refusedAtConnect = ATTEMPTS - lines.length;
  // The server answers the excess with an error line and a close: wait for it to settle.
  let lastClosed = -1;
  for (let i = 0; i < 100; i++) {
    const n = lines.filter((l) => l.closed).length;
    if (n === lastClosed) break;
    lastClosed = n;
    await sleep(200);
  }
  const floodMs = performance.now() - t0;
  // Hold the connections a few seconds while the others carry on.
  await sleep(3000);
  flooding = false;
  await newcomers;
  const peak = memory.stop();
  const times = await pings.stop();
  const stillOpen = lines.filter((l) => !l.closed).length;
  const reasons = new Map<string, number>();
  for (const l of lines) {
    if (l.closed) reasons.set(l.closeReason || 'closed', (reasons.get(l.closeReason || 'closed') ?? 0) + 1);
  }
  for (const l of lines) l.close();
  bystander.close();
  return {
    attacker: {
      attempts: ATTEMPTS,
      kept: stillOpen,
      closedByServer: lines.length - stillOpen,
      refusedAtConnect,
      reasons: countsOf(reasons),
    },
    floodSeconds: Math.round(floodMs / 100) / 10,
    newcomer: { loggedIn: newcomerOk, refused: countsOf(newcomerFailed), loginMs: latency(newcomerTimes) },
    rssBeforeMiB: mib(before),
    rssPeakMiB: mib(peak),
    rssRiseMiB: mib(peak - before),
    bystanderPingMs: latency(times),
  };
}

/**
 * One socket from `address`: a plain HTTP request, then, on the same
 * keep-alive socket, a WebSocket upgrade. Resolves with the socket and
 * whether it was upgraded (status 101).
 */
function upgradeAfterHttp(port: number, address: string): Promise<{ socket: Socket; upgraded: boolean }> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port, localAddress: address });
    let text = '';
    let step: 'http' | 'upgrade' = 'http';
    const done = (upgraded: boolean) => {
      socket.removeAllListeners('data');
      resolve({ socket, upgraded });
    };
    const timer = setTimeout(() => done(false), 30_000);
    socket.setEncoding('latin1');
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      done(false);
    });
    socket.on('connect', () => {
      socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (step === 'http') {
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
        if (text.length < end + 4 + length) return;
        text = '';
        step = 'upgrade';
        const key = Buffer.from(Math.random().toString(36).slice(2, 18).padEnd(16, 'x')).toString('base64');
        socket.write(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
        );
      } else if (text.includes('\r\n')) {
        clearTimeout(timer);
        done(/^HTTP\/1\.1 101/.test(text));
      }
    });
  });
}

async function connCapWs(s: Server): Promise<Record<string, unknown>> {
  const ATTEMPTS = 1000;
  const bystander = await account(s, 'bystander', '127.0.0.4');
  await sleep(500);
  const before = rss(s.pid);
  const memory = watchRss(s.pid);
  const pings = pinger(bystander, 10);
  const t0 = performance.now();
  const sockets = await Promise.all(Array.from({ length: ATTEMPTS }, () => upgradeAfterHttp(s.port, '127.0.0.3')));
  const floodMs = performance.now() - t0;
  await sleep(3000);
  const peak = memory.stop();
  const times = await pings.stop();
  const upgradedOpen = sockets.filter((x) => x.upgraded && !x.socket.destroyed).length;
  const upgraded = sockets.filter((x) => x.upgraded).length;
  for (const x of sockets) x.socket.destroy();
  bystander.close();
  return {
    attacker: { attempts: ATTEMPTS, upgraded, kept: upgradedOpen },
    floodSeconds: Math.round(floodMs / 100) / 10,
    rssBeforeMiB: mib(before),
    rssPeakMiB: mib(peak),
    rssRiseMiB: mib(peak - before),
    bystanderPingMs: latency(times),
  };
}

/** What a group of victims' logins were answered. */
class Logins {
  ok = 0;
  refused = new Map<string, number>();
  times: number[] = [];
  summary() {
    return { loggedIn: this.ok, refused: countsOf(this.refused), loginMs: latency(this.times) };
  }
}

/** One login with the right password from `address`; the session is ended again. */
async function loginOnce(s: Server, name: string, address: string, into: Logins): Promise<void> {
  const c = await Line.open(s.tcpPort, address);
  const t0 = performance.now();
  const r = await c.request('login', { username: name, password: PASSWORD });
  if (r.error) into.refused.set(r.error.code, (into.refused.get(r.error.code) ?? 0) + 1);
  else {
    into.ok++;
    into.times.push(performance.now() - t0);
    await c.request('logout');
  }
  c.close();
}

/**
 * `guess` runs on one connection from each of `attackers` (addresses) for
 * 40 s, as fast as the server answers. Meanwhile 10 victims, each registered from its own
 * `home(i)` address, log in with the right password from `from(i)`, one
 * every 2 s in turn (each twice: people do not log in every few seconds, and
 * the server slows down one place logging in to one account over and over).
 */
async function loginsUnderAttack(
  s: Server,
  attackers: string[],
  guess: (i: number) => { username: string; password: string },
  home: (i: number) => string,
  from: (i: number) => string,
): Promise<Record<string, unknown>> {
  const SECONDS = 40;
  const VICTIMS = 10;
  for (let i = 0; i < VICTIMS; i++) (await account(s, `victim${i}`, home(i))).close();
  // Victims who log in from elsewhere than where they registered have been there before.
  const before = new Logins();
  for (let i = 0; i < VICTIMS; i++) if (from(i) !== home(i)) await loginOnce(s, `victim${i}`, from(i), before);
  if (before.refused.size > 0) throw new Error(`victims could not log in before the attack: ${[...before.refused]}`);
  const bystander = await account(s, 'bystander', '127.0.0.4');
  const pings = pinger(bystander, 10);
  const guesses = new Map<string, number>();
  let running = true;
  let n = 0;
  const attack = Promise.all(
    attackers.map(async (attackerAddress) => {
      let c = await Line.open(s.tcpPort, attackerAddress);
      while (running) {
        if (c.closed) c = await Line.open(s.tcpPort, attackerAddress);
        const r = await c.request('login', guess(n++));
        const code = r.error ? r.error.code : 'ok';
        guesses.set(code, (guesses.get(code) ?? 0) + 1);
      }
      c.close();
    }),
  );
  const logins = new Logins();
  const started = Date.now();
  // The attack has a head start of 2 s: the victims come when the buckets are already empty.
  await sleep(2000);
  for (let k = 0; Date.now() - started < SECONDS * 1000; k++) {
    const i = k % VICTIMS;
    await loginOnce(s, `victim${i}`, from(i), logins);
    await sleep(2000);
  }
  running = false;
  await attack;
  const times = await pings.stop();
  bystander.close();
  return {
    seconds: SECONDS,
    attacker: { guesses: n, answers: countsOf(guesses) },
    victim: logins.summary(),
    bystanderPingMs: latency(times),
  };
}

// ---------------------------------------------------------------- main

for (const scenario of chosen) {
  const cost = scenario === 'lockout' || scenario === 'nat' ? Number(values['bcrypt-cost']) : 4;
  const open = { readPerUser: { capacity: 1_000_000, refillMs: 1 } };
  const s = await startNatter(cost, scenario === 'read-burst-open' ? open : undefined);
  let result: Record<string, unknown>;
  try {
    switch (scenario) {
      case 'read-burst':
        result = await readBurst(s, true);
        break;
      case 'read-burst-open':
        result = await readBurst(s, true);
        break;
      case 'read-burst-unread':
        result = await readBurst(s, false);
        break;
      case 'conn-cap':
        result = await connCap(s);
        break;
      case 'conn-cap-ws':
        result = await connCapWs(s);
        break;
      case 'lockout':
        // Guesses at the victims' passwords from elsewhere; the victims log in from home.
        result = await loginsUnderAttack(
          s,
          Array.from({ length: 8 }, (_, i) => `127.0.4.${i + 1}`),
          (i) => ({ username: `victim${i % 10}`, password: `wrong-${Math.random().toString(36).slice(2)}` }),
          (i) => `127.0.2.${i + 1}`,
          (i) => `127.0.2.${i + 1}`,
        );
        break;
      case 'nat':
        // Guesses at random names from the address the victims share and have used before.
        result = await loginsUnderAttack(
          s,
          ['127.0.0.7', '127.0.0.7', '127.0.0.7', '127.0.0.7'],
          (i) => ({ username: `ghost${i}`, password: `wrong-${Math.random().toString(36).slice(2)}` }),
          (i) => `127.0.3.${i + 1}`,
          () => '127.0.0.7',
        );
        break;
    }
  } finally {
    await stopNatter(s);
  }
  const line = JSON.stringify({
    bench: 'abuse',
    scenario,
    label: LABEL,
    bcryptCost: cost,
    ...result,
    at: new Date().toISOString(),
  });
  console.log(line);
  if (values.out) appendFileSync(values.out, `${line}\n`);
}
