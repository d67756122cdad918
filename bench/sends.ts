/**
 * Durable send throughput: acknowledged messages per second with group commit.
 *
 *   node --import tsx bench/sends.ts [--clients 20] [--inflight 50] [--seconds 5]
 *
 * Starts the server (synchronous=FULL) in a child process on a fresh
 * data directory, connects N authenticated TCP clients to one channel, and has
 * each keep `inflight` sends outstanding (a new one as each is acknowledged).
 * Prints acknowledged sends/s, latency percentiles, and the server's commits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NatterClient } from '../src/client/index.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    inflight: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
  },
});
const CLIENTS = Number(values.clients);
const INFLIGHT = Number(values.inflight);
const SECONDS = Number(values.seconds);

const dataDir = mkdtempSync(join(tmpdir(), 'natter-bench-'));
const open = { capacity: 1e9, refillMs: 1 };
const settings = {
  dataDir,
  port: 0,
  tcpPort: 17879,
  bcryptCost: 4,
  // A throughput test: lift the per-user and per-address limits.
  limits: { registerPerAddress: open, sendPerUser: open, writePerUser: open },
};
const script = new URL('./server-process.ts', import.meta.url).pathname;
const server = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(settings)], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
process.on('exit', () => server.kill('SIGKILL'));
await new Promise<void>((resolve, reject) => {
  let err = '';
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (c: string) => {
    err += c;
    if (err.includes('listening on')) resolve();
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
});
const url = 'tcp://127.0.0.1:17879';

// Each client is its own user (the send limit is per user), all in one server's channel.
const clients: NatterClient[] = [];
let channelId = '';
let code = '';
for (let i = 0; i < CLIENTS; i++) {
  const c = await NatterClient.connect(url);
  await c.request('register', { username: `sender${i}`, password: 'benchmark password' });
  if (i === 0) {
    const { server: s, channels } = await c.request('servers.create', { name: 'bench' });
    channelId = channels[0]?.id ?? '';
    code = (await c.request('invites.create', { serverId: s.id })).invite.code;
  } else {
    await c.request('invites.join', { code });
  }
  clients.push(c);
}

const latencies: number[] = [];
let acked = 0;
let limited = 0;
const until = performance.now() + SECONDS * 1000;
let nonce = 0;
async function lane(c: NatterClient): Promise<void> {
  while (performance.now() < until) {
    const t0 = performance.now();
    try {
      await c.request('messages.send', {
        conversationId: channelId,
        body: `benchmark message ${nonce}`,
        nonce: `b${nonce++}`,
      });
      latencies.push(performance.now() - t0);
      acked++;
    } catch {
      limited++;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
await Promise.all(clients.flatMap((c) => Array.from({ length: INFLIGHT }, () => lane(c))));
latencies.sort((a, b) => a - b);
const pct = (p: number) => Number((latencies[Math.floor((p / 100) * (latencies.length - 1))] ?? Number.NaN).toFixed(2));
console.log(
  JSON.stringify({
    clients: CLIENTS,
    inflightPerClient: INFLIGHT,
    seconds: SECONDS,
    ackedPerSecond: Math.round(acked / SECONDS),
    rateLimitedReplies: limited,
    p50ms: pct(50),
    p99ms: pct(99),
  }),
);
for (const c of clients) c.close();
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
rmSync(dataDir, { recursive: true, force: true });
