/**
 * Request latency with and without concurrent password logins.
 *
 *   node --import tsx bench/accounts.ts [--clients 50] [--seconds 5] [--transport ws|tcp] [--bcrypt-cost 12]
 *
 * Starts `natter serve` (compiled, as users run it) in a child process with a
 * temporary data directory, then:
 *   A. N authenticated clients send `whoami` in a closed loop: requests/s, p50, p99.
 *   B. the same, while 4 more clients log in with passwords as fast as they can:
 *      logins/s and what they do to the `whoami` latency (bcrypt runs on a worker thread).
 * Prints one JSON line per phase. Loopback only; stops by itself.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { nanoid } from 'nanoid';
import { NatterClient } from '../src/client/index.js';
import { usernameKey } from '../src/protocol/index.js';
import { closeDb, openDb } from '../src/server/db/index.js';
import { sessionQueries } from '../src/server/db/sessions.js';
import { userQueries } from '../src/server/db/users.js';
import { hashToken, newToken } from '../src/server/tokens.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    transport: { type: 'string', default: 'ws' },
    'bcrypt-cost': { type: 'string', default: '12' },
  },
});
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const PASSWORD = 'benchmark password';

const dataDir = mkdtempSync(join(tmpdir(), 'natter-bench-'));

// Seed the accounts straight into the database (registration is throttled per address).
const tokens: string[] = [];
{
  const db = openDb(dataDir);
  const users = userQueries(db);
  const sessions = sessionQueries(db);
  const passwordHash = bcrypt.hashSync(PASSWORD, Number(values['bcrypt-cost']));
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < CLIENTS; i++) {
      const id = nanoid();
      const username = `bench${i}`;
      users.insert({
        id,
        username,
        usernameKey: usernameKey(username),
        usernameCapitalKey: null,
        passwordHash,
        displayName: null,
        status: null,
        bio: null,
        createdAt: now,
        updatedAt: now,
        groupAdds: 'invite',
      });
      const token = newToken('session');
      sessions.insert({
        id: nanoid(),
        userId: id,
        kind: 'session',
        tokenHash: hashToken(token),
        name: 'bench',
        address: null,
        createdAt: now,
        lastSeenAt: now,
      });
      tokens.push(token);
    }
  });
  closeDb(db);
}
const bin = new URL('../bin/natter', import.meta.url).pathname;
const server = spawn(
  bin,
  ['serve', '--port', '0', '--tcp-port', '17878', '--data', dataDir, '--bcrypt-cost', String(values['bcrypt-cost'])],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
process.on('exit', () => server.kill('SIGKILL'));
const port = await new Promise<number>((resolve, reject) => {
  let err = '';
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (c: string) => {
    err += c;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
});
const url = values.transport === 'tcp' ? 'tcp://127.0.0.1:17878' : `ws://127.0.0.1:${port}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const clients: NatterClient[] = [];
for (const token of tokens) {
  const c = await NatterClient.connect(url);
  await c.request('auth', { token });
  clients.push(c);
}

async function phase(name: string, withLogins: boolean): Promise<void> {
  const latencies: number[] = [];
  let logins = 0;
  const until = performance.now() + SECONDS * 1000;
  const loops = clients.map(async (c) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await c.request('whoami', {});
      latencies.push(performance.now() - t0);
    }
  });
  if (withLogins) {
    for (let i = 0; i < 4; i++) {
      loops.push(
        (async () => {
          while (performance.now() < until) {
            const c = await NatterClient.connect(url);
            await c.request('login', { username: `bench${i}`, password: PASSWORD }, { timeoutMs: 60_000 });
            logins++;
            c.close();
          }
        })(),
      );
    }
  }
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      phase: name,
      transport: values.transport,
      clients: CLIENTS,
      seconds: SECONDS,
      requestsPerSecond: Math.round(latencies.length / SECONDS),
      p50ms: Number(percentile(latencies, 50).toFixed(2)),
      p99ms: Number(percentile(latencies, 99).toFixed(2)),
      ...(withLogins
        ? { loginsPerSecond: Number((logins / SECONDS).toFixed(1)), bcryptCost: Number(values['bcrypt-cost']) }
        : {}),
    }),
  );
}

await phase('whoami', false);
await phase('whoami+logins', true);
for (const c of clients) c.close();
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
rmSync(dataDir, { recursive: true, force: true });
