import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { VERSION } from '../package-info.js';
import { CloseCode, USERNAME_KEY_VERSION } from '../protocol/index.js';
import { scopesOfUser } from './access.js';
import { Checkpointer } from './checkpointer.js';
import { defaultConfig, LIMIT_NAMES, type ServerConfig } from './config.js';
import type { Services } from './context.js';
import { ChatQueries } from './db/chat.js';
import { closeDb, DB_FILE, openDb } from './db/index.js';
import { sessionQueries } from './db/sessions.js';
import { userQueries } from './db/users.js';
import { Dispatcher } from './dispatch.js';
import { EventLog } from './event-log.js';
import { Hub } from './hub.js';
import { createLogger } from './log.js';
import { runMaintenance } from './maintenance.js';
import { PasswordHasher } from './passwords.js';
import { UsageMeter } from './quotas.js';
import { RateLimiter } from './rate-limit.js';
import { AddressCounter, refuseSocket } from './transports/common.js';
import { createHttpHandler } from './transports/http.js';
import { createTcpServer } from './transports/tcp.js';
import { attachWebSocket } from './transports/ws.js';
import { Writer } from './writer.js';

/** A started server. */
export type RunningServer = {
  /** The HTTP/WebSocket port actually bound. */
  port: number;
  /** The TCP port actually bound, or null when TCP is off. */
  tcpPort: number | null;
  host: string;
  services: Services;
  /** Copies the WAL back into the database file, off the event loop. */
  checkpointer: Checkpointer;
  /**
   * Graceful stop: refuse new work, finish requests under way, tell clients
   * to reconnect later, close the database. Idempotent.
   */
  stop(): Promise<void>;
};

/** Deep-merges overrides into the defaults (one level for `limits`). */
export function makeConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const base = defaultConfig();
  return {
    ...base,
    ...overrides,
    limits: { ...base.limits, ...overrides.limits },
    quotas: { ...base.quotas, ...overrides.quotas },
  };
}

/** Opens the database, binds the listeners and serves until `stop()`. */
export async function startServer(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const config = makeConfig(overrides);
  config.dataDir = resolve(config.dataDir);
  const log = createLogger(config.log);
  const db = openDb(config.dataDir, {
    busyTimeoutMs: config.busyTimeoutMs,
    onUsernameKeys: (done) => {
      if (done.from === null && done.accounts === 0) return;
      log.info(`username keys of ${done.accounts} account(s) recomputed under rules ${USERNAME_KEY_VERSION}`);
      for (const s of done.sharing) {
        log.info(
          `account ${s.id} ("${s.username}") now has the key of the older account ${s.olderId}; it keeps working, and its name stays taken`,
        );
      }
    },
  });
  // Checkpoints run on their own thread; the event loop only appends to the WAL.
  db.$client.pragma('wal_autocheckpoint = 0');
  const checkpointer = new Checkpointer(resolve(config.dataDir, DB_FILE), 500, (message) =>
    log.error('WAL checkpoint failed', message),
  );
  const clock = () => Date.now();
  const limiter = (l: { capacity: number; refillMs: number }) => new RateLimiter(l.capacity, l.refillMs, clock);
  const hub = new Hub(config.presenceGraceMs);
  const sockets = new AddressCounter();
  const chat = new ChatQueries(db);
  const usage = new UsageMeter(db, config.quotas.writeBytesPerDay);
  const services: Services = {
    config,
    db,
    users: userQueries(db),
    sessions: sessionQueries(db),
    chat,
    writer: new Writer(db, (err) => log.error('after a commit', err), [chat.pending, usage], config.commitWindowMs),
    usage,
    events: new EventLog(db, hub),
    hub,
    sockets,
    clock,
    passwords: new PasswordHasher(config.bcryptCost, config.hashThreads),
    limiters: Object.fromEntries(
      LIMIT_NAMES.map((name) => [name, limiter(config.limits[name])]),
    ) as Services['limiters'],
    log,
    version: VERSION,
    typing: new Map(),
  };
  // Unknown users are checked against a hash of the cost most accounts have, so
  // they answer as slowly as real ones even after --bcrypt-cost changed.
  services.passwords.setDummyCost(services.users.commonHashCost() ?? config.bcryptCost);
  // Presence is ephemeral: people who share a server, group or DM hear of it.
  hub.onPresence = (userId, online) => {
    if (!db.$client.open) return;
    hub.broadcast(scopesOfUser(chat, userId), 'presence', { userId, online }, userId);
  };
  let maintaining: Promise<unknown> = Promise.resolve();
  const maintain = () => {
    maintaining = runMaintenance(services).catch((err: unknown) => log.error('hourly maintenance', err));
  };
  maintain();
  const maintenance = setInterval(maintain, 3_600_000);
  maintenance.unref();
  const dispatcher = new Dispatcher(services);
  const startedAt = Date.now();
  const http = createHttpServer(
    // Check the header and request deadlines every 2 s (Node's default is 30 s), so a
    // client that trickles its headers is dropped near the 10 s it is allowed.
    { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, connectionsCheckingInterval: 2_000 },
    createHttpHandler(services, dispatcher, startedAt),
  );
  // Every socket counts toward its address's cap until it closes: one that carried
  // plain HTTP requests can still be upgraded to a WebSocket.
  http.on('connection', (socket) => {
    if (sockets.track(socket) > config.maxConnectionsPerAddress) refuseSocket(socket);
  });
  const ws = attachWebSocket(http, services, dispatcher);
  const tcp = config.tcpPort === null ? null : createTcpServer(services, dispatcher);

  try {
    http.listen(config.port, config.host);
    await once(http, 'listening');
    if (tcp) {
      tcp.listen(config.tcpPort ?? 0, config.host);
      await once(tcp, 'listening');
    }
  } catch (err) {
    http.close();
    tcp?.close();
    await services.passwords.close();
    await checkpointer.stop();
    closeDb(db);
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  const tcpPort = tcp ? (tcp.address() as AddressInfo).port : null;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  log.info(
    `natter ${VERSION} listening on http://${hostForUrl}:${port} (WebSocket ws://${hostForUrl}:${port})` +
      `${tcpPort === null ? ', TCP off' : `, tcp://${hostForUrl}:${tcpPort}`}; data in ${resolve(config.dataDir, DB_FILE)}`,
  );

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(maintenance);
      http.close();
      tcp?.close();
      ws.close();
      await dispatcher.drain(config.shutdownGraceMs);
      await maintaining;
      // Spread reconnects over a few seconds so clients do not stampede the restarted server.
      for (const conn of services.hub.connections()) {
        conn.close(CloseCode.serviceRestart, 'server restarting', 1000 + Math.floor(Math.random() * 4000));
      }
      http.closeAllConnections();
      await services.passwords.close();
      await checkpointer.stop();
      closeDb(db);
      log.info('natter stopped');
    })();
    return stopping;
  };

  return { port, tcpPort, host: config.host, services, checkpointer, stop };
}
