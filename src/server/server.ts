import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { VERSION } from '../package-info.js';
import { CloseCode, USERNAME_KEY_VERSION } from '../protocol/index.js';
import { scopesOfUser, settleScopes } from './access.js';
import { AccountWatch } from './account-watch.js';
import { RuleCache } from './automod/apply.js';
import { ClassifierClient } from './automod/classifier.js';
import { BackupScheduler } from './backup/scheduler.js';
import { checkBackupSettings } from './backup/settings.js';
import type { Bus, BusHooks } from './bus/bus.js';
import { Fanout } from './bus/fanout.js';
import { LocalBus } from './bus/local.js';
import { NatsBus } from './bus/nats.js';
import { hubTarget } from './bus/target.js';
import {
  ConfigError,
  checkClusterSettings,
  checkMailSettings,
  checkPublicUrl,
  DatabaseUnreachable,
  defaultConfig,
  LIMIT_NAMES,
  type MailSettings,
  REFUNDED_LIMITS,
  type ServerConfig,
  type ServerOverrides,
} from './config.js';
import type { Services } from './context.js';
import { DB_FILE, type Db, openDb, openReader, permissionWarnings } from './db/index.js';
import { Dispatcher } from './dispatch.js';
import { Hub } from './hub.js';
import { createLogger, type Logger } from './log.js';
import { MailOutbox, type OutboxHooks } from './mail/outbox.js';
import { smtpTransport } from './mail/transport.js';
import { Maintenance } from './maintenance.js';
import { FsBlobStore } from './media/blob-store.js';
import { Uploads } from './media/upload.js';
import { countingErrors, createMetrics, metricsProblem, NO_METRICS, serveMetrics } from './metrics.js';
import { PasswordHasher } from './passwords.js';
import type { Store, StoredEvent } from './store/port.js';
import { isUnavailable } from './store/postgres/sql.js';
import { describeDatabase, NodePresence, nodeTag, openPostgresStore } from './store/postgres/store.js';
import { type Checkpointer, checkpointOffTheLoop } from './store/sqlite/checkpointer.js';
import { SqliteStore } from './store/sqlite/store.js';
import { startTracing, stopTracing, tracingWanted } from './tracing.js';
import { AddressCounter, endAndCut, httpRefusal, remoteAddress, tooManyConnections } from './transports/common.js';
import { HostCheck, parseAllowedHosts } from './transports/hosts.js';
import { createHttpHandler } from './transports/http.js';
import { TrustedProxies } from './transports/proxy.js';
import { createTcpServer } from './transports/tcp.js';
import { HANDSHAKE_TIMEOUT_MS, ServerCertificate } from './transports/tls.js';
import { attachWebSocket } from './transports/ws.js';

/** How long a stop waits for the last spans to reach the OTLP collector. */
const TRACING_FLUSH_MS = 5_000;

/** A started server. */
export type RunningServer = {
  /** The HTTP/WebSocket port actually bound. */
  port: number;
  /** The TCP port actually bound, or null when TCP is off. */
  tcpPort: number | null;
  /** The port of `--metrics-listen` actually bound, or null when metrics are off or on the main port. */
  metricsPort: number | null;
  host: string;
  /** Whether HTTP, WebSocket and TCP are served over TLS. */
  tls: boolean;
  services: Services;
  /** The SQLite writer's connection (for tests and tools that look inside the file). */
  sqlite(): Db;
  /** Copies the WAL back into the database file, off the event loop (SQLite only). */
  checkpointer: Checkpointer | null;
  /** The mail outbox's sender (`--smtp-url`), or null when this server sends no mail. */
  outbox: MailOutbox | null;
  /** The maintenance sweeps: passes run by this natter, and whether it holds their lease. */
  maintenance: Maintenance['stats'];
  /** The scheduled backups (`stats`, `onBackup`), or null without `--backup-every`. */
  backups: BackupScheduler | null;
  /**
   * Reads the TLS certificate and key files again and serves them to new
   * connections; open ones keep theirs. When the files cannot be used the
   * previous certificate stays, and the log says why. Returns whether it reloaded.
   */
  reloadTls(): boolean;
  /**
   * Graceful stop: refuse new work, finish requests under way, tell clients
   * to reconnect later, close the database. Idempotent.
   */
  stop(): Promise<void>;
};

/** Deep-merges overrides into the defaults (one level for `limits`). */
export function makeConfig(overrides: ServerOverrides = {}): ServerConfig {
  const base = defaultConfig();
  return {
    ...base,
    ...overrides,
    limits: { ...base.limits, ...overrides.limits },
    quotas: { ...base.quotas, ...overrides.quotas },
  };
}

/**
 * Opens the database, binds the listeners and serves until `stop()`. A setting
 * that cannot be used (TLS files, `trustProxy`, `allowedHosts`) throws a
 * `ConfigError` before anything is opened.
 */
export async function startServer(overrides: ServerOverrides = {}): Promise<RunningServer> {
  const config = makeConfig(overrides);
  config.dataDir = resolve(config.dataDir);
  if (config.mediaDir !== null) config.mediaDir = resolve(config.mediaDir);
  checkClusterSettings(config);
  checkPublicUrl(config.publicUrl);
  if (config.backup) config.backup = { ...config.backup, dir: resolve(config.backup.dir) };
  // Before anything is opened: a backup directory that cannot be written starts nothing.
  await checkBackupSettings(config);
  checkMailSettings(config.mail);
  const certificate = config.tls ? new ServerCertificate(config.tls) : null;
  const proxies = new TrustedProxies(config.trustProxy);
  const hosts = new HostCheck(parseAllowedHosts(config.allowedHosts), config.host, () => certificate?.names ?? []);
  if (config.metrics) {
    const problem = metricsProblem(config.metrics, config.host);
    if (problem) throw new ConfigError(problem);
  }
  const metrics = config.metrics
    ? createMetrics({ version: VERSION, backend: config.database === null ? 'sqlite' : 'postgres' })
    : NO_METRICS;
  const log = countingErrors(
    createLogger({ level: config.log ? config.logLevel : 'silent', format: config.logFormat }),
    metrics,
  );
  // OpenTelemetry is loaded only when an OTLP endpoint is set (docs/operations.md, Tracing).
  if (tracingWanted()) {
    await startTracing({
      version: VERSION,
      cluster: config.bus === null ? null : config.cluster,
      node: `${hostname()}-${process.pid}`,
      log,
    });
  }
  const clock = overrides.clock ?? (() => Date.now());
  const hub = new Hub(config.presenceGraceMs);
  /** The HTTP port once bound (`hello.media` tells TCP clients). */
  let boundPort = config.port;
  const sockets = new AddressCounter();
  // The store hands committed events and after-commit effects to the bus, through the fan-out made below.
  let fanout: Fanout | null = null;
  const storeHooks = {
    publish: (event: StoredEvent) => fanout?.publish(event),
    effects: { begin: () => fanout?.begin(), end: () => fanout?.end() },
    onAfterError: (err: unknown) => log.error('after a commit', err),
    writeBytesPerDay: config.quotas.writeBytesPerDay,
    commitWindowMs: config.commitWindowMs,
    onBatch: metrics.enabled ? metrics.batch : undefined,
  };
  let sqlite: Db | null = null;
  let checkpointer: Checkpointer | null = null;
  let nodePresence: NodePresence | null = null;
  let store: Store;
  if (config.database !== null) {
    const url = config.database;
    const opened = await openPostgresStore(url, {
      ...storeHooks,
      onConnectionError: (err) => log.warn(`PostgreSQL connection lost: ${(err as Error).message}`),
      onReadAheadError: (err) =>
        log.warn(`sends read one by one in a write batch: reading ahead failed (${(err as Error).message})`),
    }).catch((err: unknown) => {
      const why = `cannot use the database ${describeDatabase(url)}: ${err instanceof Error ? err.message : String(err)}`;
      // Unreachable is an outage, not a wrong setting.
      throw isUnavailable(err)
        ? new DatabaseUnreachable(`${why} (is PostgreSQL running and reachable from here?)`)
        : new ConfigError(why);
    });
    store = opened;
    const tag = nodeTag(config.bus === null ? null : config.cluster);
    nodePresence = new NodePresence(url, tag);
    try {
      let conflict = nodeConflict(tag, await nodePresence.announce());
      // A natter that has just stopped, or was killed, may still be listed for a moment.
      for (let look = 0; conflict !== null && look < 3; look++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        conflict = nodeConflict(tag, await nodePresence.others());
      }
      if (conflict) throw new ConfigError(`${conflict} (docs/scaling.md)`);
    } catch (err) {
      await nodePresence.close();
      await opened.close();
      throw err;
    }
  } else {
    const db = openDb(config.dataDir, {
      busyTimeoutMs: config.busyTimeoutMs,
      onStatement: config.onStatement,
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
    for (const warning of permissionWarnings(config.dataDir)) log.warn(warning);
    // Checkpoints run on their own thread; the event loop only appends to the WAL.
    checkpointer = checkpointOffTheLoop(db, resolve(config.dataDir, DB_FILE), (message) =>
      log.error('WAL checkpoint failed', message),
    );
    sqlite = db;
    store = new SqliteStore(
      db,
      openReader(config.dataDir, { busyTimeoutMs: config.busyTimeoutMs, onStatement: config.onStatement }),
      storeHooks,
    );
  }
  const target = hubTarget(hub);
  const busHooks: BusHooks = {
    // Presence is ephemeral: people who share a server, group or DM hear of it.
    onPresence: (userId, online) => {
      scopesOfUser(store.chat, userId).then(
        (scopes) => hub.broadcast(scopes, 'presence', { userId, online }, userId),
        (err: unknown) => log.error('announcing presence', err),
      );
    },
    resync: () => resyncConnections(hub, store, log),
  };
  const start = await store.events.head();
  const bus: Bus =
    config.bus === null
      ? new LocalBus({ target, hooks: busHooks, log, start })
      : new NatsBus({
          servers: config.bus.split(',').map((s) => s.trim().replace(/^nats:\/\//, '')),
          cluster: config.cluster,
          target,
          since: (after, limit) => store.events.since(after, limit),
          head: () => store.events.head(),
          start,
          hooks: busHooks,
          log,
          livenessMs: config.nodeTimeoutMs,
          // At least three heartbeats per timeout, so one lost message does not make a node look gone.
          heartbeatMs: Math.min(5_000, Math.floor(config.nodeTimeoutMs / 3)),
          onGapFilled: metrics.busGapFilled,
        });
  fanout = new Fanout(bus);
  hub.onPresence = (userId, online) => bus.setPresence(userId, online);
  const services: Services = {
    config,
    store,
    users: store.users,
    sessions: store.sessions,
    chat: store.chat,
    events: store.events,
    usage: store.usage,
    audit: store.audit,
    reports: store.reports,
    automod: store.automod,
    media: store.media,
    accounts: store.accounts,
    mail: store.mail,
    mailer: null,
    blobs: new FsBlobStore(config.mediaDir ?? resolve(config.dataDir, 'media')),
    uploads: new Uploads(config.quotas.uploadBytesPerSecond),
    ruleCache: new RuleCache(),
    classifier: classifierOf(config, log),
    hub,
    bus,
    fanout,
    sockets,
    proxies,
    hosts,
    clock,
    passwords: new PasswordHasher(config.bcryptCost, config.hashThreads, undefined, undefined, config.hashNice),
    // In memory on SQLite; shared through the database on PostgreSQL.
    limiters: Object.fromEntries(
      LIMIT_NAMES.map((name) => [name, store.limiter(name, config.limits[name], clock, REFUNDED_LIMITS.has(name))]),
    ) as Services['limiters'],
    log,
    metrics,
    version: VERSION,
    typing: new Map(),
    httpPort: () => boundPort,
  };
  // Unknown users are checked against a hash of the cost most accounts have, so
  // they answer as slowly as real ones even after --bcrypt-cost changed.
  services.passwords.setDummyCost((await services.users.commonHashCost()) ?? config.bcryptCost);
  metrics.attach({
    reportsOpen: () => store.reports.openTotal(),
    mediaBytes: () => store.media.storedBytes(),
    classifierState: () => services.classifier?.client.status().state ?? null,
    dataDir: config.dataDir,
    node: bus instanceof NatsBus ? { cluster: config.cluster, node: bus.nodeId } : null,
  });
  // The outbox starts with the server; an SMTP server that cannot be reached only delays mail.
  const outbox =
    config.mail === null
      ? null
      : mailOutbox(config.mail, store, () => services.clock(), log, {
          // The metrics see every mail and breaker change; a test's own hooks hear them too.
          onSent: (kind) => {
            metrics.mailSent(kind);
            overrides.mailHooks?.onSent?.(kind);
          },
          onFailed: (kind) => {
            metrics.mailFailed(kind);
            overrides.mailHooks?.onFailed?.(kind);
          },
          onRetry: (kind) => {
            metrics.mailRetry(kind);
            overrides.mailHooks?.onRetry?.(kind);
          },
          onBreakerChange: (state) => {
            metrics.breakerState('smtp', state);
            overrides.mailHooks?.onBreakerChange?.(state);
          },
        });
  services.mailer = outbox;
  if (outbox) {
    metrics.breakerState('smtp', 'closed');
    metrics.setMailPending(() => outbox.pending());
  }
  const maintenance = new Maintenance(services);
  const backups = config.backup
    ? new BackupScheduler(
        config.backup,
        {
          database: config.database,
          dataDir: config.dataDir,
          mediaDir: config.mediaDir ?? resolve(config.dataDir, 'media'),
        },
        store.lease('backup'),
        log,
      )
    : null;
  metrics.backupSchedule(config.backup ? config.backup.everyMs : null);
  if (backups) backups.onBackup = (outcome) => metrics.backupDone(outcome);
  const dispatcher = new Dispatcher(services);
  const startedAt = Date.now();
  const httpOptions = {
    // Check the header and request deadlines every 2 s (Node's default is 30 s), so a
    // client that trickles its headers is dropped near the 10 s it is allowed.
    maxHeaderSize: 16 * 1024,
    // A whole request may take as long as an upload slot lasts (a large file on a slow
    // link); an API body has its own 30 s (transports/http.ts) and headers their 10 s.
    requestTimeout: config.uploadSlotMs,
    headersTimeout: 10_000,
    connectionsCheckingInterval: 2_000,
  };
  const handler = createHttpHandler(services, dispatcher, startedAt);
  const https = certificate
    ? createHttpsServer({ ...httpOptions, ...certificate.options, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, handler)
    : null;
  const http = https ?? createHttpServer(httpOptions, handler);
  // Every socket counts toward its address's cap from the moment it connects until
  // it closes: one that carried plain HTTP requests can still be upgraded to a
  // WebSocket. A trusted proxy's sockets carry many clients: each WebSocket through
  // one counts against the client it names, from the upgrade on (transports/ws.ts).
  // Over the cap, a plain socket is answered 429 at once and cut off; over TLS, where
  // nothing can be said before the handshake, its request or upgrade is answered 429
  // (transports/http.ts, ws.ts) and it is cut off soon after. Far over the cap,
  // sockets are dropped unanswered: refusing must not cost more than the attack.
  http.on('connection', (socket: Socket) => {
    if (proxies.trusts(remoteAddress(socket))) return;
    const open = sockets.track(socket);
    const cap = config.maxConnectionsPerAddress;
    if (open <= cap) return;
    socket.on('error', () => socket.destroy());
    if (open > 2 * cap) socket.destroy();
    else if (https) setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS).unref();
    else endAndCut(socket, httpRefusal(tooManyConnections()));
  });
  const ws = attachWebSocket(http, services, dispatcher);
  const tcp = config.tcpPort === null ? null : createTcpServer(services, dispatcher, certificate);
  const metricsServer = config.metrics?.listen ? metricsListener(services, config.metrics.token) : null;

  try {
    http.listen(config.port, config.host);
    await once(http, 'listening');
    if (tcp) {
      tcp.listen(config.tcpPort ?? 0, config.host);
      await once(tcp, 'listening');
    }
    if (metricsServer && config.metrics?.listen) {
      metricsServer.listen(config.metrics.listen.port, config.metrics.listen.host);
      await once(metricsServer, 'listening');
    }
  } catch (err) {
    http.close();
    tcp?.close();
    metricsServer?.close();
    metrics.stop();
    await services.passwords.close();
    await checkpointer?.stop();
    await bus.close();
    await store.close();
    await nodePresence?.close();
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  boundPort = port;
  const tcpPort = tcp ? (tcp.address() as AddressInfo).port : null;
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : null;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  const [web, socket, line] = certificate ? ['https', 'wss', 'tls'] : ['http', 'ws', 'tcp'];
  const data = config.database === null ? resolve(config.dataDir, DB_FILE) : describeDatabase(config.database);
  log.info(
    `natter ${VERSION} listening on ${web}://${hostForUrl}:${port} (WebSocket ${socket}://${hostForUrl}:${port})` +
      `${tcpPort === null ? ', TCP off' : `, ${line}://${hostForUrl}:${tcpPort}`}; data in ${data}` +
      (config.bus === null ? '' : `; cluster "${config.cluster}" over NATS ${config.bus}`),
    {
      event: 'listening',
      version: VERSION,
      http: `${web}://${hostForUrl}:${port}`,
      tcp: tcpPort === null ? null : `${line}://${hostForUrl}:${tcpPort}`,
      data,
      cluster: config.bus === null ? null : config.cluster,
      logLevel: config.logLevel,
    },
  );
  if (certificate) {
    log.info(`TLS ${certificate.summary}`);
    for (const warning of certificate.warnings) log.warn(warning);
  }
  if (config.metrics) {
    const where = config.metrics.listen
      ? `http://${urlHost(config.metrics.listen.host)}:${metricsPort}/metrics`
      : `/metrics on the main port`;
    log.info(
      `Prometheus metrics at ${where}${config.metrics.token === null ? ', no token asked' : ', Bearer token required'}`,
    );
  }
  if (proxies.enabled) {
    log.info(`client addresses from X-Forwarded-For and PROXY headers of ${proxies.entries.join(', ')}`);
  }

  const reloadTls = (): boolean => {
    if (!https || !certificate) {
      log.warn('no TLS certificate to reload: TLS is off');
      return false;
    }
    try {
      certificate.reload();
    } catch (err) {
      log.error(`TLS certificate not reloaded, still serving the previous one: ${(err as Error).message}`);
      return false;
    }
    https.setSecureContext(certificate.options);
    log.info(`TLS ${certificate.summary} (reloaded)`);
    for (const warning of certificate.warnings) log.warn(warning);
    return true;
  };

  // Housekeeping starts once the server is up (a failed start leaves nothing running).
  maintenance.start();
  backups?.start();
  // Changes natter admin makes to accounts from outside close the connections they end.
  const accountWatch = new AccountWatch({ accounts: store.accounts, users: store.users, hub: services.hub, log });
  accountWatch.start();
  outbox?.start();

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      accountWatch.stop();
      http.close();
      tcp?.close();
      ws.close();
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      await dispatcher.drain(config.shutdownGraceMs);
      // Waits for a pass under way, then lets another natter take the sweeps over.
      await maintenance.stop();
      // A backup under way finishes (or fails) before the database closes.
      await backups?.stop();
      await outbox?.stop();
      // Spread reconnects over a few seconds so clients do not stampede the restarted server.
      for (const conn of services.hub.connections()) {
        conn.close(CloseCode.serviceRestart, 'server restarting', 1000 + Math.floor(Math.random() * 4000));
      }
      http.closeAllConnections();
      await services.passwords.close();
      await checkpointer?.stop();
      await bus.close();
      await store.close();
      await nodePresence?.close();
      metrics.stop();
      // The last spans go out, or are given up on: an unreachable collector does not hold the stop.
      await stopTracing(TRACING_FLUSH_MS);
      log.info('natter stopped', { event: 'stopped' });
      await log.flush();
    })();
    return stopping;
  };

  return {
    port,
    tcpPort,
    metricsPort,
    host: config.host,
    tls: certificate !== null,
    services,
    sqlite: () => {
      if (!sqlite) throw new Error('this server keeps its data in PostgreSQL, not SQLite');
      return sqlite;
    },
    checkpointer,
    maintenance: maintenance.stats,
    backups,
    outbox,
    reloadTls,
    stop,
  };
}

/** An HTTP server of its own for `--metrics-listen`: `/metrics` and nothing else. */
function metricsListener(services: Services, token: string | null) {
  const server = createHttpServer(
    { maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        serveMetrics(services.metrics, token, req, res, (err) => services.log.error('collecting metrics', err));
        return;
      }
      req.resume();
      const body = 'nothing here: this address serves GET /metrics only\n';
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    },
  );
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The outbox of `--smtp-url`, sending through nodemailer. */
function mailOutbox(
  settings: MailSettings,
  store: Store,
  clock: () => number,
  log: Logger,
  hooks: OutboxHooks | undefined,
): MailOutbox {
  return new MailOutbox({ ...hooks, store, transport: smtpTransport(settings.url), settings, clock, log });
}

/** The classifier `--moderation-webhook` names, with its policy; null without one. */
function classifierOf(config: ServerConfig, log: Logger): Services['classifier'] {
  const hook = config.moderationWebhook;
  if (!hook) return null;
  return {
    client: new ClassifierClient({ url: hook.url, fallback: hook.fallback, timeoutMs: hook.timeoutMs, log }),
    policy: { threshold: hook.threshold, action: hook.action },
  };
}

/**
 * After the bus may have missed effects (a lost message, NATS down): every
 * local connection gets the scopes the database says its user has, and those
 * whose session or bot token is gone are closed.
 */
async function resyncConnections(hub: Hub, store: Store, log: Logger): Promise<void> {
  try {
    for (const userId of hub.users()) {
      await settleScopes(
        hub,
        userId,
        () => scopesOfUser(store.chat, userId),
        (scopes) => hub.resubscribeUser(userId, scopes),
      );
    }
    for (const id of hub.liveSessions()) {
      if (!(await store.sessions.exists(id)))
        hub.closeSessions([id], CloseCode.sessionRevoked, 'this session was revoked; log in again');
    }
  } catch (err) {
    log.error('recomputing what local connections receive', err);
  }
}

/**
 * Why a natter tagged `mine` must not serve a database that the natters
 * tagged `others` serve (see `nodeTag`), or null when it may: the nodes
 * sharing a database must share one bus and one cluster name, or each would
 * deliver only part of what the others commit, and no later than its next
 * look at the database.
 */
export function nodeConflict(mine: string, others: readonly string[]): string | null {
  const other = others.find((tag) => tag !== mine || tag === 'alone');
  if (other === undefined) return null;
  const them = other === 'alone' ? 'a natter serve without --bus' : `a node of the cluster "${other.slice(2)}"`;
  const fix =
    mine === 'alone'
      ? 'every node sharing a database needs --bus (the same NATS) and the same --cluster'
      : 'nodes sharing a database need the same --bus and the same --cluster';
  return `${them} already serves this database: ${fix}; stop it or start this one to match`;
}
