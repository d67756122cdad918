/**
 * The load generator: one process, open-loop. Run by bench/run.ts (pinned to
 * its own core), with a JSON job as its only argument; prints one JSON result.
 *
 * Modes:
 * - `idle`: connect every client, wait, and read the server's RSS (W1);
 * - `reconnect`: reconnect with saved credentials as fast as `concurrency` allows (W2);
 * - `fanout`: every client sends `rate` messages/s to its room on a fixed tick,
 *   optionally with password logins, history reads or client churn beside it (W2-W6).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Adapter, BenchClient } from './adapter.js';
import { ircAdapter } from './irc.js';
import {
  Histogram,
  makeBody,
  namedProcessesCpuMs,
  parseBody,
  pool,
  processCpuMs,
  processRssKiB,
  round,
  sleep,
} from './measure.js';
import { type NatterFixture, natterAdapter } from './natter.js';
import { relayAdapter } from './relay.js';

export type Job = {
  target: 'natter' | 'ngircd' | 'relay';
  host: string;
  port: number;
  /** natter as a cluster: every node's port; client i connects to `ports[i % ports.length]`. */
  ports?: number[];
  /** natter: the fixture file (tokens and channels). */
  fixture?: string;
  serverPid: number;
  /** Every server process whose CPU and memory count (a cluster's nodes); default: `serverPid` alone. */
  serverPids?: number[];
  /**
   * Names of processes the servers depend on (`postgres`, `nats-server`):
   * their CPU in the window is reported beside the servers' own.
   */
  dependencies?: string[];
  mode: 'idle' | 'reconnect' | 'fanout';
  clients: number;
  roomSize: number;
  /** Clients opened at once (ngircd's listen backlog is 10). */
  connectConcurrency: number;
  /** fanout: messages per second per client; reconnect: reconnects started per second (open loop). */
  rate?: number;
  warmupS?: number;
  seconds?: number;
  drainS?: number;
  /** idle: how long to wait after connecting before reading RSS. */
  settleS?: number;
  /** reconnect: parallel reconnect loops (closed loop), or the most in flight (open loop, with `rate`). */
  concurrency?: number;
  /** fanout: parallel password-login loops (natter). */
  logins?: number;
  /** fanout: parallel upload loops (natter), each uploading files of `uploadBytes` one after another. */
  uploads?: number;
  uploadBytes?: number;
  /** fanout: history readers in room 0, each paging `depth` pages back in turn (natter). */
  history?: { readers: number; depth: number; pauseMs: number };
  /** fanout: fraction of clients that disconnect and reconnect each second. */
  churnPerS?: number;
  /** fanout: length of the windows in which p99 and RSS are reported (for drift). */
  windowS?: number;
};

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const serverPids = job.serverPids ?? [job.serverPid];
/** The servers' CPU time so far (ms), every node of a cluster together. */
const serversCpuMs = () => serverPids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
/** The servers' resident memory (KiB), summed. */
const serversRssKiB = () => serverPids.reduce((sum, pid) => sum + processRssKiB(pid), 0);
const dependenciesCpuMs = () => namedProcessesCpuMs(job.dependencies ?? []);

/** The WebSocket URLs of natter's node or nodes. */
function natterUrls(j: Job): string[] {
  return (j.ports ?? [j.port]).map((port) => `ws://${j.host}:${port}`);
}

/** Asks the uploads process to stop, and what it counted while measuring. */
function counted(
  child: ChildProcess,
): Promise<{ uploads: number; errors: number; lastError: string; latencyMs: unknown }> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as never));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the uploads process ended (${code}) before it reported`)));
    child.send('stop');
  });
}

function adapterFor(j: Job): Adapter {
  if (j.target === 'natter') {
    const fx = JSON.parse(readFileSync(j.fixture ?? '', 'utf8')) as NatterFixture;
    const urls = natterUrls(j);
    return natterAdapter({ ...fx, url: urls[0] ?? '', urls });
  }
  if (j.target === 'ngircd') return ircAdapter(j.host, j.port);
  return relayAdapter(`ws://${j.host}:${j.port}`);
}

const adapter = adapterFor(job);
const roomOf = (i: number) => Math.floor(i / job.roomSize);
const rooms = Math.ceil(job.clients / job.roomSize);
const lag = monitorEventLoopDelay({ resolution: 10 });

/** Our own CPU use over a window, as a fraction of one core. */
function selfCpu(): () => number {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / (performance.now() - t0);
  };
}

function verdict(cpu: number): {
  valid: boolean;
  generatorCpu: number;
  lagP99Ms: number;
  lagMaxMs: number;
  invalid?: string;
} {
  const lagP99Ms = round(lag.percentile(99) / 1e6);
  const lagMaxMs = round(lag.max / 1e6);
  const reasons: string[] = [];
  if (cpu > 0.85) reasons.push(`load generator at ${Math.round(cpu * 100)}% CPU (over 85%)`);
  if (lagP99Ms > 50) reasons.push(`load generator event loop lag p99 ${lagP99Ms} ms (over 50 ms)`);
  return {
    valid: reasons.length === 0,
    generatorCpu: round(cpu, 3),
    lagP99Ms,
    lagMaxMs,
    ...(reasons.length ? { invalid: reasons.join('; ') } : {}),
  };
}

async function idle(): Promise<unknown> {
  const baseKiB = processRssKiB(job.serverPid);
  const t0 = performance.now();
  const clients: BenchClient[] = [];
  await pool(
    Array.from({ length: job.clients }, (_, i) => i),
    job.connectConcurrency,
    async (i) => {
      clients.push(await adapter.open(i, roomOf(i), () => {}));
    },
  );
  const connectS = (performance.now() - t0) / 1000;
  await sleep((job.settleS ?? 10) * 1000);
  lag.enable();
  const cpu = selfCpu();
  await sleep(2000);
  const loadedKiB = processRssKiB(job.serverPid);
  const result = {
    connected: clients.length,
    connectS: round(connectS),
    serverRssBaseKiB: baseKiB,
    serverRssLoadedKiB: loadedKiB,
    rssPerConnKiB: round((loadedKiB - baseKiB) / clients.length),
    ...verdict(cpu()),
  };
  for (const c of clients) c.close();
  return result;
}

async function reconnect(): Promise<unknown> {
  const seconds = job.seconds ?? 10;
  const hist = new Histogram();
  let done = 0;
  let failed = 0;
  let firstError = '';
  lag.enable();
  const cpu = selfCpu();
  const cpu0 = processCpuMs(job.serverPid);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let next = 0;
  const once = async () => {
    const i = next++ % job.clients;
    const s = performance.now();
    try {
      await adapter.reconnect(i);
      hist.add(performance.now() - s);
      done++;
    } catch (err) {
      failed++;
      firstError ||= String(err);
    }
  };
  let skipped = 0;
  if (job.rate) {
    // Open loop: start `rate` reconnects per second on a fixed tick, whatever the
    // server's pace; at most `concurrency` at once (beyond that a start is skipped and counted).
    const limit = job.concurrency ?? 256;
    let started = 0;
    let inFlight = 0;
    const running = new Set<Promise<void>>();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const now = performance.now();
        if (now >= end) {
          clearInterval(tick);
          resolve();
          return;
        }
        const due = Math.floor(((now - t0) * (job.rate ?? 0)) / 1000);
        while (started < due) {
          started++;
          if (inFlight >= limit) {
            skipped++;
            continue;
          }
          inFlight++;
          const p = once().finally(() => {
            inFlight--;
            running.delete(p);
          });
          running.add(p);
        }
      }, 5);
    });
    await Promise.all(running);
  } else {
    // Closed loop: `concurrency` reconnects back to back.
    await Promise.all(
      Array.from({ length: job.concurrency ?? 16 }, async () => {
        while (performance.now() < end) await once();
      }),
    );
  }
  const wallS = (performance.now() - t0) / 1000;
  return {
    reconnects: done,
    failed,
    ...(job.rate ? { offeredPerS: job.rate, skipped } : {}),
    ...(firstError ? { firstError } : {}),
    reconnectsPerS: round(done / wallS, 1),
    latencyMs: hist.summary(),
    serverCpuMsPerReconnect: round((processCpuMs(job.serverPid) - cpu0) / Math.max(1, done), 3),
    serverCpu: round((processCpuMs(job.serverPid) - cpu0) / (wallS * 1000), 3),
    ...verdict(cpu()),
  };
}

async function fanout(): Promise<unknown> {
  const rate = job.rate ?? 0.5;
  const warmupS = job.warmupS ?? 5;
  const seconds = job.seconds ?? 20;
  const drainS = job.drainS ?? 3;
  const windowMs = (job.windowS ?? 0) * 1000;
  const hist = new Histogram();
  let windowHist = new Histogram();
  const windows: unknown[] = [];
  let expected = 0;
  let delivered = 0;
  let late = 0;
  let measuring = false;
  let receivedInWindow = 0;

  const clients: (BenchClient | undefined)[] = new Array(job.clients);
  const connectedIn = new Array(rooms).fill(0) as number[];
  const onBodyOf = (i: number) => (body: string) => {
    const b = parseBody(body);
    if (!b || b.sender === i) return;
    if (measuring) receivedInWindow++;
    if (!b.measured) return;
    const ms = performance.now() - b.sentAt;
    delivered++;
    hist.add(ms);
    windowHist.add(ms);
    if (ms > 1000) late++;
  };
  const openClient = async (i: number) => {
    const c = await adapter.open(i, roomOf(i), onBodyOf(i));
    clients[i] = c;
    connectedIn[roomOf(i)] = (connectedIn[roomOf(i)] ?? 0) + 1;
  };
  const t0c = performance.now();
  await pool(
    Array.from({ length: job.clients }, (_, i) => i),
    job.connectConcurrency,
    openClient,
  );
  const connectS = (performance.now() - t0c) / 1000;

  // Open loop: on every tick, send what the schedule says is due by now, round-robin over clients.
  const total = rate * job.clients;
  let phase: 'warmup' | 'measure' | 'drain' = 'warmup';
  let sent = 0;
  let slots = 0;
  const start = performance.now();
  const tick = setInterval(() => {
    if (phase === 'drain') return;
    const due = Math.floor(((performance.now() - start) * total) / 1000);
    while (slots < due) {
      const i = slots++ % job.clients;
      const c = clients[i];
      if (!c) continue; // churning: this client is reconnecting
      const measured = phase === 'measure';
      if (measured) expected += (connectedIn[roomOf(i)] ?? 1) - 1;
      c.send(makeBody(measured, i, performance.now()));
      sent++;
    }
  }, 5);

  // Side loads: password logins, history readers, churn.
  let stopSide = false;
  let logins = 0;
  let loginErrors = 0;
  const loginHist = new Histogram();
  const side: Promise<void>[] = [];
  for (let k = 0; k < (job.logins ?? 0); k++) {
    side.push(
      (async () => {
        while (!stopSide) {
          const s = performance.now();
          try {
            await adapter.login?.((k * 7919 + logins) % job.clients);
            if (measuring) {
              logins++;
              loginHist.add(performance.now() - s);
            }
          } catch {
            loginErrors++;
          }
        }
      })(),
    );
  }
  // Uploads run in a process of their own: their bytes must not delay this loop, which times deliveries.
  const uploader =
    job.uploads && job.target === 'natter'
      ? fork(
          fileURLToPath(new URL('./uploader.ts', import.meta.url)),
          [
            JSON.stringify({
              fixture: {
                ...(JSON.parse(readFileSync(job.fixture ?? '', 'utf8')) as NatterFixture),
                urls: natterUrls(job),
              },
              uploads: job.uploads,
              uploadBytes: job.uploadBytes ?? 1024 * 1024,
            }),
          ],
          { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
        )
      : null;
  const pages = Array.from({ length: (job.history?.depth ?? 0) + 1 }, () => new Histogram());
  for (let r = 0; r < (job.history?.readers ?? 0); r++) {
    const h = job.history ?? { readers: 0, depth: 0, pauseMs: 0 };
    side.push(
      (async () => {
        while (!stopSide) {
          let before: number | undefined;
          for (let d = 0; d <= h.depth && !stopSide; d++) {
            const s = performance.now();
            before = await (adapter.history?.(r, 0, before) ?? Promise.resolve(0));
            if (measuring) pages[d]?.add(performance.now() - s);
            await sleep(h.pauseMs);
          }
        }
      })(),
    );
  }
  let churned = 0;
  const churn =
    job.churnPerS && job.churnPerS > 0
      ? setInterval(() => {
          const n = Math.max(1, Math.round(job.clients * (job.churnPerS ?? 0)));
          for (let k = 0; k < n; k++) {
            const i = Math.floor(Math.random() * job.clients);
            const c = clients[i];
            if (!c) continue;
            c.close();
            clients[i] = undefined;
            connectedIn[roomOf(i)] = (connectedIn[roomOf(i)] ?? 1) - 1;
            churned++;
            openClient(i).catch(() => {});
          }
        }, 1000)
      : undefined;

  await sleep(warmupS * 1000);
  phase = 'measure';
  measuring = true;
  uploader?.send('measure');
  lag.enable();
  const cpu = selfCpu();
  const serverCpu0 = serversCpuMs();
  const dependencyCpu0 = dependenciesCpuMs();
  const rss0 = serversRssKiB();
  const m0 = performance.now();
  let windowStart = m0;
  let windowCpu0 = serverCpu0;
  const windowTimer =
    windowMs > 0
      ? setInterval(() => {
          const now = performance.now();
          const cpuNow = serversCpuMs();
          windows.push({
            atS: round((now - m0) / 1000, 0),
            p50: windowHist.quantile(0.5),
            p99: windowHist.quantile(0.99),
            deliveries: windowHist.count,
            serverRssKiB: serversRssKiB(),
            serverCpu: round((cpuNow - windowCpu0) / (now - windowStart), 3),
          });
          windowHist = new Histogram();
          windowStart = now;
          windowCpu0 = cpuNow;
        }, windowMs)
      : undefined;
  await sleep(seconds * 1000);
  const measureMs = performance.now() - m0;
  const serverCpuMs = serversCpuMs() - serverCpu0;
  const dependencyCpuMs = dependenciesCpuMs() - dependencyCpu0;
  const deliveriesInWindow = receivedInWindow;
  measuring = false;
  const generator = verdict(cpu());
  phase = 'drain';
  if (windowTimer) clearInterval(windowTimer);
  if (churn) clearInterval(churn);
  stopSide = true;
  const uploadsCounted = uploader ? await counted(uploader) : null;
  await sleep(drainS * 1000);
  clearInterval(tick);
  const rss1 = serversRssKiB();
  for (const c of clients) c?.close();

  const result: Record<string, unknown> = {
    connectS: round(connectS),
    sentPerS: round(sent / ((performance.now() - start) / 1000), 1),
    expected,
    delivered,
    deliveryRatio: round(delivered / Math.max(1, expected), 5),
    deliveriesPerS: round((deliveriesInWindow * 1000) / measureMs, 0),
    latencyMs: hist.summary(),
    lateOver1s: late,
    serverCpu: round(serverCpuMs / measureMs, 3),
    serverCpuMsPer1000: round((serverCpuMs * 1000) / Math.max(1, deliveriesInWindow), 2),
    serverRssKiB: { start: rss0, end: rss1 },
    ...(job.dependencies?.length
      ? {
          dependencies: job.dependencies,
          dependencyCpu: round(dependencyCpuMs / measureMs, 3),
          dependencyCpuMsPer1000: round((dependencyCpuMs * 1000) / Math.max(1, deliveriesInWindow), 2),
        }
      : {}),
    ...generator,
  };
  if (job.logins) {
    result.logins = {
      perS: round((logins * 1000) / measureMs, 2),
      errors: loginErrors,
      latencyMs: loginHist.summary(),
    };
  }
  if (uploadsCounted) {
    const u = uploadsCounted;
    result.uploads = {
      perS: round((u.uploads * 1000) / measureMs, 2),
      mibPerS: round((u.uploads * (job.uploadBytes ?? 0) * 1000) / measureMs / (1024 * 1024), 1),
      errors: u.errors,
      ...(u.lastError ? { lastError: u.lastError } : {}),
      latencyMs: u.latencyMs,
    };
  }
  if (job.history) result.historyMs = pages.map((h, d) => ({ page: d, ...h.summary() }));
  if (job.churnPerS) result.churned = churned;
  if (windows.length) result.windows = windows;
  return result;
}

const modes = { idle, reconnect, fanout };
const out = await modes[job.mode]();
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
