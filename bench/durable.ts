/**
 * Durable write throughput: messages committed with synchronous=FULL (group
 * commit), measured twice, each printed as one JSON line.
 *
 *   taskset -c 0 node --import tsx bench/durable.ts --mode storage [--users 50] [--inflight 40] [--seconds 5]
 *   node --import tsx bench/durable.ts --mode e2e [--clients 50] [--inflight 40] [--seconds 5]
 *   node --import tsx bench/durable.ts            (both, each pinned as above)
 *   … --database postgres://postgres@127.0.0.1:5432/postgres
 *   node --import tsx bench/durable.ts --mode e2e --natter-root ../natter-before
 *
 * With --database (a PostgreSQL server and a role that may create databases),
 * each run stores in a database of its own on that server, created empty and
 * dropped at the end, instead of SQLite in a temporary data directory.
 * With --natter-root (e2e), the server is that other checkout's, so two
 * commits' servers are measured by the same clients.
 *
 * storage: in one process, the real server (`startServer` on a fresh data
 * directory, listeners on free ports but unused) and its real `Dispatcher`:
 * every send is a JSON line handed to `Dispatcher.onText` on an in-memory
 * connection, so it is decoded, validated, authorized, handled by
 * `messages.send` and committed by the real `Writer`. Each user posts to the
 * one channel of their own server (no fan-out beyond the sender) and keeps
 * `inflight` sends outstanding, so many sends are queued per event-loop turn.
 * Reports committed messages/s, commits and jobs per commit.
 *
 * e2e: the server in a child process pinned to core 0, this process (the
 * clients) pinned to core 1. Each client is its own user on its own raw TCP
 * socket, posting to its own server's channel, with `inflight` sends
 * pipelined. Reports acknowledged messages/s and latency percentiles.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/server/config.js';
import { Connection } from '../src/server/connection.js';
import { Dispatcher } from '../src/server/dispatch.js';
import { startServer } from '../src/server/server.js';
import { processCpuMs } from './load/measure.js';
import { type BenchDatabase, benchDatabase } from './postgres.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    users: { type: 'string', default: '50' },
    clients: { type: 'string', default: '50' },
    inflight: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    database: { type: 'string' },
    'natter-root': { type: 'string' },
  },
});
const INFLIGHT = Number(values.inflight);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const open = { capacity: 1e9, refillMs: 1 };
// A throughput test: lift the per-user and per-address limits.
const limits = { ...defaultConfig().limits, registerPerAddress: open, sendPerUser: open, writePerUser: open };
const self = new URL(import.meta.url).pathname;

/** An in-memory connection: what the server writes to it goes to `onText`. */
class MemoryConnection extends Connection {
  onText: (text: string) => void = () => {};
  constructor() {
    super('tcp', '127.0.0.1');
  }
  protected write(text: string): void {
    this.onText(text);
  }
  protected terminate(): void {}
  protected queuedBytes(): number {
    return 0;
  }
}

/** A fresh database on the --database server for one run (and how to drop it), or null for SQLite. */
function runDatabase(): Promise<BenchDatabase | null> {
  return values.database ? benchDatabase(values.database) : Promise.resolve(null);
}

/** The numeric id of a reply line (`{"id":N,...}`), or -1 for an event. */
function replyId(text: string): number {
  if (!text.startsWith('{"id":')) return -1;
  return Number.parseInt(text.slice(6, text.indexOf(',', 6)), 10);
}

function sendLine(id: number, conversationId: string, n: number): string {
  return `{"id":${id},"op":"messages.send","params":{"conversationId":"${conversationId}","body":"durable benchmark message ${n}","nonce":"n${n}"}}`;
}

async function storage(): Promise<void> {
  const USERS = Number(values.users);
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-durable-'));
  const db = await runDatabase();
  const server = await startServer({
    dataDir,
    port: 0,
    tcpPort: null,
    bcryptCost: 4,
    log: false,
    limits,
    database: db?.url ?? null,
  });
  const { services } = server;
  const dispatcher = new Dispatcher(services);

  type Lane = { conn: MemoryConnection; channelId: string; pending: Map<number, (text: string) => void> };
  const request = (lane: Lane, id: number, line: string) =>
    new Promise<string>((resolve) => {
      lane.pending.set(id, resolve);
      dispatcher.onText(lane.conn, line);
    });
  const lanes: Lane[] = [];
  for (let i = 0; i < USERS; i++) {
    const lane: Lane = { conn: new MemoryConnection(), channelId: '', pending: new Map() };
    lane.conn.onText = (text) => {
      const id = replyId(text);
      const done = lane.pending.get(id);
      if (done) {
        lane.pending.delete(id);
        done(text);
      }
    };
    services.hub.add(lane.conn);
    await request(
      lane,
      1,
      JSON.stringify({
        id: 1,
        op: 'register',
        params: { username: `writer${i}`, password: 'benchmark password' },
      }),
    );
    const created = JSON.parse(
      await request(lane, 2, JSON.stringify({ id: 2, op: 'servers.create', params: { name: `bench${i}` } })),
    );
    lane.channelId = created.result.channels[0].id;
    lanes.push(lane);
  }

  // Each lane keeps INFLIGHT sends outstanding: a new one as each is acknowledged.
  let acked = 0;
  let errors = 0;
  let nonce = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  let finished = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    allDone = r;
  });
  for (const lane of lanes) {
    let nextId = 10;
    let outstanding = 0;
    const fire = () => {
      outstanding++;
      const id = nextId++;
      lane.pending.set(id, onReply);
      dispatcher.onText(lane.conn, sendLine(id, lane.channelId, nonce++));
    };
    const onReply = (text: string) => {
      outstanding--;
      if (text.includes('"error"')) errors++;
      else acked++;
      if (performance.now() < stopAt) fire();
      else if (outstanding === 0 && ++finished === lanes.length) allDone();
    };
    for (let k = 0; k < INFLIGHT; k++) fire();
  }
  stopAt = performance.now() + (WARMUP + SECONDS) * 1000;
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const ackedBefore = acked;
  const statsBefore = { ...services.store.stats };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const commits = services.store.stats.commits - statsBefore.commits;
  const jobs = services.store.stats.jobs - statsBefore.jobs;
  const committed = acked - ackedBefore;
  await done;
  console.log(
    JSON.stringify({
      bench: 'durable-storage',
      backend: db ? 'postgres' : 'sqlite',
      users: USERS,
      inflightPerUser: INFLIGHT,
      seconds: Number(elapsed.toFixed(2)),
      committedPerSecond: Math.round(committed / elapsed),
      commits,
      commitsPerSecond: Math.round(commits / elapsed),
      jobsPerCommit: Math.round(jobs / Math.max(commits, 1)),
      cpuPerMessageUs: Number(((cpu.user + cpu.system) / Math.max(committed, 1)).toFixed(2)),
      errors,
    }),
  );
  await server.stop();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}

/** A raw NDJSON TCP client: a line out, lines back, the replies matched by id. */
class LineClient {
  private buffered = '';
  onLine: (line: string) => void = () => {};
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      const text = this.buffered + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        this.onLine(text.slice(start, nl));
        start = nl + 1;
      }
      this.buffered = text.slice(start);
    });
  }
  static async open(port: number): Promise<LineClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new LineClient(socket);
  }
  /** Sends one request and waits for its reply (setup only). */
  request(id: number, op: string, params: unknown): Promise<{ result?: Record<string, unknown> }> {
    return new Promise((resolve) => {
      const prev = this.onLine;
      this.onLine = (line) => {
        if (replyId(line) !== id) return;
        this.onLine = prev;
        resolve(JSON.parse(line));
      };
      this.socket.write(`${JSON.stringify({ id, op, params })}\n`);
    });
  }
}

async function e2e(): Promise<void> {
  const CLIENTS = Number(values.clients);
  // The clients (this process, every thread) on core 1, the server on core 0.
  try {
    execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {
    console.error('taskset not available: running unpinned');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-durable-'));
  const db = await runDatabase();
  const settings = { dataDir, port: 0, tcpPort: 0, bcryptCost: 4, limits, database: db?.url ?? null };
  // --natter-root: the server of another checkout (another commit), measured by this script's clients.
  const root = values['natter-root'];
  const script = root
    ? join(process.cwd(), root, 'bench', 'server-process.ts')
    : new URL('./server-process.ts', import.meta.url).pathname;
  const server = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', script, JSON.stringify(settings)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  process.on('exit', () => server.kill('SIGKILL'));
  const tcpPort = await new Promise<number>((resolve, reject) => {
    let err = '';
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (c: string) => {
      err += c;
      const m = /tcp:\/\/[^:]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });

  type Lane = { client: LineClient; channelId: string };
  const lanes: Lane[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const client = await LineClient.open(tcpPort);
    await client.request(1, 'register', { username: `client${i}`, password: 'benchmark password' });
    const created = await client.request(2, 'servers.create', { name: `bench${i}` });
    const channels = created.result?.channels as { id: string }[] | undefined;
    lanes.push({ client, channelId: channels?.[0]?.id ?? '' });
  }

  const SLOTS = 1 << 16;
  let acked = 0;
  let errors = 0;
  let measuring = false;
  let stopAt = Number.POSITIVE_INFINITY;
  const latencies: number[] = [];
  let nonce = 0;
  let finished = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    allDone = r;
  });
  for (const lane of lanes) {
    const sentAt = new Float64Array(SLOTS);
    let nextId = 10;
    let outstanding = 0;
    let out = '';
    const fire = () => {
      outstanding++;
      const id = nextId++;
      sentAt[id % SLOTS] = performance.now();
      out += `${sendLine(id, lane.channelId, nonce++)}\n`;
    };
    lane.client.onLine = (line) => {
      const id = replyId(line);
      if (id < 10) return; // an event (the sender's own copy of the message)
      outstanding--;
      if (line.includes('"error"')) errors++;
      else if (measuring) {
        acked++;
        latencies.push(performance.now() - (sentAt[id % SLOTS] ?? 0));
      }
      if (performance.now() < stopAt) fire();
      else if (outstanding === 0 && ++finished === lanes.length) allDone();
    };
    // Pipelined: everything a chunk of replies frees goes out in one write.
    lane.client.socket.on('data', () => {
      if (out) {
        lane.client.socket.write(out);
        out = '';
      }
    });
    for (let k = 0; k < INFLIGHT; k++) fire();
    lane.client.socket.write(out);
    out = '';
  }
  stopAt = performance.now() + (WARMUP + SECONDS) * 1000;
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  measuring = true;
  const t0 = performance.now();
  const serverCpu0 = processCpuMs(server.pid ?? 0);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const serverCpuMs = processCpuMs(server.pid ?? 0) - serverCpu0;
  const elapsed = (performance.now() - t0) / 1000;
  const count = acked;
  await done;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Number((latencies[Math.floor((p / 100) * (latencies.length - 1))] ?? Number.NaN).toFixed(2));
  console.log(
    JSON.stringify({
      bench: 'durable-e2e',
      backend: db ? 'postgres' : 'sqlite',
      clients: CLIENTS,
      inflightPerClient: INFLIGHT,
      seconds: Number(elapsed.toFixed(2)),
      ackedPerSecond: Math.round(count / elapsed),
      // The server's CPU (user + system) per acknowledged message, and its share of its core.
      serverCpuPerMessageUs: Math.round((serverCpuMs * 1000) / Math.max(count, 1)),
      serverCpu: Number((serverCpuMs / (elapsed * 1000)).toFixed(3)),
      p50ms: pct(50),
      p99ms: pct(99),
      errors,
    }),
  );
  for (const lane of lanes) lane.client.socket.destroy();
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}

if (values.mode === 'storage') await storage();
else if (values.mode === 'e2e') await e2e();
else {
  // Both: the storage run in its own process on core 0, then the end-to-end run.
  const passThrough = process.argv.slice(2);
  execFileSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx', self, '--mode', 'storage', ...passThrough], {
    stdio: 'inherit',
  });
  await e2e();
}
