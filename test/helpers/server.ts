import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig, ServerOverrides } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/server.js';

/** Limits loose enough that only tests aimed at throttling meet them. */
export const LOOSE_LIMITS: ServerConfig['limits'] = {
  loginFailPerAccountAddress: { capacity: 1000, refillMs: 1 },
  loginFailPerAccount: { capacity: 1000, refillMs: 1 },
  loginFailPerAddress: { capacity: 1000, refillMs: 1 },
  loginPerAccountAddress: { capacity: 1000, refillMs: 1 },
  loginPerAccount: { capacity: 1000, refillMs: 1 },
  passwordChangePerUser: { capacity: 1000, refillMs: 1 },
  registerPerAddress: { capacity: 1000, refillMs: 1 },
  authFailPerAddress: { capacity: 1000, refillMs: 1 },
  sendPerUser: { capacity: 10_000, refillMs: 1 },
  writePerUser: { capacity: 10_000, refillMs: 1 },
  readPerUser: { capacity: 10_000, refillMs: 1 },
  lookupPerUser: { capacity: 10_000, refillMs: 1 },
  inviteFail: { capacity: 1000, refillMs: 1 },
};

export type TestServer = {
  server: RunningServer;
  dataDir: string;
  wsUrl: string;
  tcpUrl: string;
  httpUrl: string;
  /** Stops the server (the data directory stays). */
  stop(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
};

/** Starts a real server on free ports with a fresh (or the given) data directory and a cheap bcrypt cost. */
export async function startTestServer(overrides: ServerOverrides = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'natter-test-'));
  const server = await startServer({
    port: 0,
    tcpPort: 0,
    dataDir: dir,
    bcryptCost: 4,
    // Tests run beside other work: the hashing threads get their share of the CPU, not what is left.
    hashNice: 0,
    log: false,
    shutdownGraceMs: 1000,
    // Presence changes at once in tests, unless a test asks for a grace period.
    presenceGraceMs: 0,
    ...overrides,
    limits: { ...LOOSE_LIMITS, ...overrides.limits },
  });
  return {
    server,
    dataDir: dir,
    wsUrl: `ws://127.0.0.1:${server.port}`,
    tcpUrl: `tcp://127.0.0.1:${server.tcpPort}`,
    httpUrl: `http://127.0.0.1:${server.port}`,
    stop: () => server.stop(),
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
