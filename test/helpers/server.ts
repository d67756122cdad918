import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig, ServerOverrides } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { postgresSql, sqliteSql, TEST_BACKEND, type TestSql } from './backend.js';
import { freshDatabase, type TestDatabase } from './postgres.js';

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
  reportPerUser: { capacity: 1000, refillMs: 1 },
  emailSendPerUser: { capacity: 1000, refillMs: 1 },
  emailVerifyFailPerUser: { capacity: 1000, refillMs: 1 },
  passwordResetPerAddress: { capacity: 1000, refillMs: 1 },
  passwordResetPerAccount: { capacity: 1000, refillMs: 1 },
  passwordResetFailPerAddress: { capacity: 1000, refillMs: 1 },
};

export type TestServer = {
  server: RunningServer;
  dataDir: string;
  wsUrl: string;
  tcpUrl: string;
  httpUrl: string;
  /** The PostgreSQL database the server keeps its data in, or null on SQLite (`dataDir`). */
  database: TestDatabase | null;
  /** Plain SQL on the server's database, whichever the backend (open until the server stops). */
  sql: TestSql;
  /** Stops the server (the data directory stays). */
  stop(): Promise<void>;
  /** Stops the server and deletes its data directory (and its PostgreSQL database). */
  destroy(): Promise<void>;
};

/** The media directory the nodes of each test cluster share (by database and cluster name), removed at exit. */
const clusterMedia = new Map<string, string>();
process.once('exit', () => {
  for (const dir of clusterMedia.values()) rmSync(dir, { recursive: true, force: true });
});

function sharedMediaDir(overrides: ServerOverrides): string {
  const key = `${overrides.database ?? ''}\n${overrides.cluster ?? 'natter'}`;
  let dir = clusterMedia.get(key);
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'natter-media-'));
    clusterMedia.set(key, dir);
  }
  return dir;
}

/** The PostgreSQL database of each data directory, so a server restarted on a directory finds its data again. */
const databases = new Map<string, TestDatabase>();

/**
 * Starts a real server on free ports with a fresh (or the given) data directory and a cheap bcrypt cost.
 * With NATTER_TEST_DATABASE=postgres (test/helpers/backend.ts) and no `database` override, the server keeps
 * its data in a fresh PostgreSQL database, the same one each time it is started on the same directory.
 */
export async function startTestServer(overrides: ServerOverrides = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'natter-test-'));
  let database: TestDatabase | null = null;
  if (TEST_BACKEND === 'postgres' && overrides.database === undefined) {
    database = databases.get(dir) ?? (await freshDatabase());
    databases.set(dir, database);
  }
  let server: RunningServer;
  try {
    server = await startServer({
      port: 0,
      tcpPort: 0,
      dataDir: dir,
      ...(database ? { database: database.url } : {}),
      bcryptCost: 4,
      // Tests run beside other work: the hashing threads get their share of the CPU, not what is left.
      hashNice: 0,
      log: false,
      shutdownGraceMs: 1000,
      // Presence changes at once in tests, unless a test asks for a grace period.
      presenceGraceMs: 0,
      // The nodes of a cluster share one media directory, as they must.
      ...(overrides.bus && overrides.mediaDir === undefined ? { mediaDir: sharedMediaDir(overrides) } : {}),
      ...overrides,
      limits: { ...LOOSE_LIMITS, ...overrides.limits },
    });
  } catch (err) {
    if (database && dataDir === undefined) {
      databases.delete(dir);
      await database.drop();
    }
    throw err;
  }
  const url = database?.url ?? overrides.database ?? null;
  const sql = url === null ? sqliteSql(server.sqlite().$client) : postgresSql(url);
  const stop = async () => {
    await server.stop();
    await sql.close();
  };
  return {
    server,
    dataDir: dir,
    wsUrl: `ws://127.0.0.1:${server.port}`,
    tcpUrl: `tcp://127.0.0.1:${server.tcpPort}`,
    httpUrl: `http://127.0.0.1:${server.port}`,
    database,
    sql,
    stop,
    async destroy() {
      await stop();
      if (database) {
        databases.delete(dir);
        await database.drop();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
