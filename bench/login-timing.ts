/**
 * Login timing: does "no such user" answer in the time "wrong password" does?
 *
 *   node --import tsx bench/login-timing.ts [--samples 200] [--bcrypt-cost 12] [--transport ws|tcp]
 *
 * Starts the real server (`startServer`, a temporary data directory, the login
 * limits and the auth deadline lifted), registers one account, then on one connection logs in
 * `samples` times with an unknown username and `samples` times with the
 * account's name and a wrong password, interleaved so that any drift in the
 * machine's speed touches both alike. Prints one JSON line: the percentiles of
 * each, and the ratio of the medians (1.0 is indistinguishable).
 *
 * The test suite proves the mechanism (an unknown user's password is compared
 * with a dummy hash of the same cost: test/server/testplan-abuse.test.ts,
 * case 15); how alike the two times are is a measurement, and belongs here.
 * Run it on an otherwise idle machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NatterClient, NatterError } from '../src/client/index.js';
import { defaultConfig } from '../src/server/config.js';
import { startServer } from '../src/server/server.js';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '200' },
    'bcrypt-cost': { type: 'string', default: '12' },
    transport: { type: 'string', default: 'ws' },
  },
});
const SAMPLES = Number(values.samples);
const COST = Number(values['bcrypt-cost']);
const PASSWORD = 'benchmark password';
const open = { capacity: 1e9, refillMs: 1 };
const limits = { ...defaultConfig().limits, loginPerAccount: open, loginPerAddress: open, registerPerAddress: open };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(times: number[]) {
  const sorted = [...times].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return { p10: round(percentile(sorted, 10)), p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)) };
}

const dataDir = mkdtempSync(join(tmpdir(), 'natter-login-timing-'));
// Every login fails, so the one connection never authenticates: lift the auth deadline too.
const server = await startServer({
  dataDir,
  port: 0,
  tcpPort: 0,
  bcryptCost: COST,
  log: false,
  limits,
  authDeadlineMs: 24 * 3600_000,
});
try {
  const url = values.transport === 'tcp' ? `tcp://127.0.0.1:${server.tcpPort}` : `ws://127.0.0.1:${server.port}`;
  const setup = await NatterClient.connect(url, { timeoutMs: 60_000 });
  await setup.request('register', { username: 'timed', password: PASSWORD });
  setup.close();

  const c = await NatterClient.connect(url, { timeoutMs: 60_000 });
  const timeLogin = async (username: string): Promise<number> => {
    const t0 = performance.now();
    try {
      await c.request('login', { username, password: 'not the password' });
    } catch (err) {
      if (!(err instanceof NatterError) || err.code !== 'invalid_credentials') throw err;
    }
    return performance.now() - t0;
  };
  // Warm up: the first compares pay for starting the hashing thread.
  for (let i = 0; i < 3; i++) await timeLogin('timed');
  const unknown: number[] = [];
  const wrong: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    unknown.push(await timeLogin(`ghost${i}`));
    wrong.push(await timeLogin('timed'));
  }
  c.close();
  const u = summary(unknown);
  const w = summary(wrong);
  console.log(
    JSON.stringify({
      bench: 'login-timing',
      transport: values.transport,
      bcryptCost: COST,
      samples: SAMPLES,
      unknownUserMs: u,
      wrongPasswordMs: w,
      medianRatio: Math.round((u.p50 / w.p50) * 1000) / 1000,
    }),
  );
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
