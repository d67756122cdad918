import { createHash, timingSafeEqual } from 'node:crypto';
import { readdirSync, statfs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode, OP_NAMES } from '../protocol/index.js';
import type { BreakerState } from './breaker.js';
import type { Transport } from './connection.js';
import type { Logger } from './log.js';

/** Why an attempt to prove who one is failed (`natter_auth_failures_total{kind}`). */
export type AuthFailureKind = 'password' | 'token' | 'upload_token' | 'rate_limited' | 'metrics';

/** The dependencies behind a circuit breaker (`natter_breaker_state{dependency}`). */
export type BreakerDependency = 'classifier' | 'smtp';

/** What a connection reports as it writes (null on a server without metrics: one null check per write). */
export type ConnectionMeter = {
  /** `bytes` written to the socket of a `transport` connection (frames and lines, headers included). */
  sent(transport: Transport, bytes: number): void;
  /** A server event written to a connection. */
  delivered(transport: Transport): void;
  /** A connection closed because it did not read its events fast enough. */
  slowConsumer(): void;
};

/** Where the gauges read at scrape time come from (set once the server's services exist). */
export type MetricSources = {
  /** Open reports on the whole instance. */
  reportsOpen(): Promise<number>;
  /** Bytes of uploaded files (identical files are stored once; this counts each upload). */
  mediaBytes(): Promise<number>;
  /** The classifier's breaker, or null when no classifier is configured. */
  classifierState(): BreakerState | null;
  /** The data directory, whose file system's free and total bytes are reported. */
  dataDir: string;
  /** With a cluster bus: its name and this node's (one `natter_node_info` series). */
  node: { cluster: string; node: string } | null;
};

/**
 * What the server reports to Prometheus. Every method is cheap; on a server
 * started without `--metrics` they do nothing ({@link NO_METRICS}). One
 * object per running server, never a global: tests run several servers in
 * one process.
 */
export interface Metrics {
  readonly enabled: boolean;
  /** Handed to every connection (null when disabled). */
  readonly meter: ConnectionMeter | null;
  /**
   * A request answered: its operation (any string; names outside the table
   * count as `unknown`), its code (`ok` or an error code), its time (null for
   * a request refused before it started: undecodable params, unknown operation).
   */
  request(op: string, code: string, ms: number | null): void;
  connectionOpened(transport: Transport): void;
  connectionClosed(transport: Transport): void;
  /** A message stored (a send, or a held message approved). */
  messageStored(): void;
  /** A write batch ended: its jobs, its time, and whether it committed. */
  batch(jobs: number, ms: number, committed: boolean): void;
  /** A resume: every missed event replayed (`exact`), or more were missed than are replayed (`limited`). */
  resume(outcome: 'exact' | 'limited'): void;
  authFailure(kind: AuthFailureKind): void;
  /** What automatic moderation did to one message. */
  automod(actions: readonly string[]): void;
  /** An upload completed, of `bytes`. */
  upload(bytes: number): void;
  /** Events a cluster node read from the database because the bus did not bring them. */
  busGapFilled(events: number): void;
  /** An unexpected error logged. */
  internalError(): void;
  /** An email of `kind` handed to the mail server. */
  mailSent(kind: string): void;
  /** An email of `kind` given up on. */
  mailFailed(kind: string): void;
  /** An attempt to send an email of `kind` failed and will be retried. */
  mailRetry(kind: string): void;
  /** How to count the emails waiting in the outbox (read at scrape time). */
  setMailPending(count: () => number | Promise<number>): void;
  /** A backup ended. */
  backupDone(result: { ok: boolean; bytes?: number; durationMs: number }): void;
  /** How often scheduled backups run (ms), or null when none are scheduled (the stale-backup alert reads it). */
  backupSchedule(intervalMs: number | null): void;
  /** The state of a dependency's circuit breaker (the classifier's is read on its own). */
  breakerState(dependency: BreakerDependency, state: BreakerState): void;
  /** Where the scrape-time gauges read from. */
  attach(sources: MetricSources): void;
  /** The scrape: Prometheus text format. */
  render(): Promise<{ contentType: string; text: string }>;
  /** Stops what the metrics keep running (the event-loop delay monitor). */
  stop(): void;
}

const nothing = () => {};

/** The metrics of a server started without `--metrics`: every call does nothing. */
export const NO_METRICS: Metrics = {
  enabled: false,
  meter: null,
  request: nothing,
  connectionOpened: nothing,
  connectionClosed: nothing,
  messageStored: nothing,
  batch: nothing,
  resume: nothing,
  authFailure: nothing,
  automod: nothing,
  upload: nothing,
  busGapFilled: nothing,
  internalError: nothing,
  mailSent: nothing,
  mailFailed: nothing,
  mailRetry: nothing,
  setMailPending: nothing,
  backupDone: nothing,
  backupSchedule: nothing,
  breakerState: nothing,
  attach: nothing,
  render: () => Promise.reject(new Error('metrics are off')),
  stop: nothing,
};

/** Request durations: 1 ms to 10 s. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Commit durations: half a millisecond (SQLite, no fsync wait) to 5 s. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Jobs per write batch. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/** Gauges read from the database are read at most this often (a count on an index; a sum over the files' rows). */
const REPORTS_CACHE_MS = 5_000;
const MEDIA_CACHE_MS = 60_000;

const OPS: ReadonlySet<string> = new Set(OP_NAMES);
const CODES: ReadonlySet<string> = new Set(['ok', ...ErrorCode.options]);
const AUTOMOD_ACTIONS: ReadonlySet<string> = new Set(['block', 'hold', 'alert', 'timeout']);
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
/** Mail kinds are names the code gives; anything else is `other`, so a label never carries data. */
const MAIL_KIND = /^[a-z][a-z_]{0,31}$/;

/** Options of {@link createMetrics}. */
export type MetricsOptions = {
  version: string;
  backend: 'sqlite' | 'postgres';
};

/** The metrics of a server started with `--metrics`: its own registry, its own event-loop monitor. */
export function createMetrics(options: MetricsOptions): Metrics {
  const register = new Registry();
  const registers = [register];
  let sources: MetricSources | null = null;
  let mailPending: (() => number | Promise<number>) | null = null;
  const smtpBreaker: { state: BreakerState | null } = { state: null };

  new Gauge({ name: 'natter_up', help: 'Always 1 while natter serves metrics.', registers }).set(1);
  new Gauge({
    name: 'natter_build_info',
    help: 'The natter version running (always 1).',
    labelNames: ['version', 'backend'],
    registers,
  }).set({ version: options.version, backend: options.backend }, 1);
  const nodeInfo = new Gauge({
    name: 'natter_node_info',
    help: 'This cluster node: its cluster and its name (always 1; no series without a cluster bus).',
    labelNames: ['cluster', 'node'],
    registers,
  });

  const connectionsOpen = new Gauge({
    name: 'natter_connections_open',
    help: 'Client connections open now, by transport (http: API and media requests under way).',
    labelNames: ['transport'],
    registers,
  });
  const connectionsOpened = new Counter({
    name: 'natter_connections_opened_total',
    help: 'Client connections opened, by transport (http: API and media requests).',
    labelNames: ['transport'],
    registers,
  });
  for (const t of ['ws', 'tcp', 'http']) {
    connectionsOpen.set({ transport: t }, 0);
    connectionsOpened.inc({ transport: t }, 0);
  }
  const requests = new Counter({
    name: 'natter_requests_total',
    help: 'Requests answered, by operation and result code (ok or the error code).',
    labelNames: ['op', 'code'],
    registers,
  });
  const requestSeconds = new Histogram({
    name: 'natter_request_duration_seconds',
    help: 'Time from a request starting to its reply being ready, by operation.',
    labelNames: ['op'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const messagesStored = new Counter({
    name: 'natter_messages_stored_total',
    help: 'Messages stored (sends, and held messages approved).',
    registers,
  });
  const delivered = new Counter({
    name: 'natter_events_delivered_total',
    help: 'Server events written to connections, by transport.',
    labelNames: ['transport'],
    registers,
  });
  const bytesSent = new Counter({
    name: 'natter_sent_bytes_total',
    help: 'Bytes written to client sockets (replies and events), by transport.',
    labelNames: ['transport'],
    registers,
  });
  for (const t of ['ws', 'tcp']) {
    delivered.inc({ transport: t }, 0);
    bytesSent.inc({ transport: t }, 0);
  }
  const commits = new Counter({
    name: 'natter_writer_commits_total',
    help: 'Write batches (group commits), by outcome: committed, or lost (nothing saved).',
    labelNames: ['outcome'],
    registers,
  });
  commits.inc({ outcome: 'committed' }, 0);
  commits.inc({ outcome: 'lost' }, 0);
  const batchSize = new Histogram({
    name: 'natter_writer_batch_jobs',
    help: 'Write jobs per committed batch.',
    buckets: BATCH_BUCKETS,
    registers,
  });
  const commitSeconds = new Histogram({
    name: 'natter_writer_commit_duration_seconds',
    help: 'Time a committed write batch took, from its first job to its commit.',
    buckets: COMMIT_BUCKETS,
    registers,
  });
  const resumes = new Counter({
    name: 'natter_resumes_total',
    help: 'Resumes (auth with a cursor), by outcome: exact (every missed event replayed) or limited.',
    labelNames: ['outcome'],
    registers,
  });
  resumes.inc({ outcome: 'exact' }, 0);
  resumes.inc({ outcome: 'limited' }, 0);
  const slowConsumers = new Counter({
    name: 'natter_slow_consumer_closes_total',
    help: 'Connections closed because they did not read their events fast enough.',
    registers,
  });
  const authFailures = new Counter({
    name: 'natter_auth_failures_total',
    help: 'Failed attempts to prove who one is, by kind: password, token, upload_token, rate_limited, metrics.',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of ['password', 'token', 'upload_token', 'rate_limited', 'metrics']) authFailures.inc({ kind }, 0);
  const automodActions = new Counter({
    name: 'natter_automod_actions_total',
    help: 'What automatic moderation did to messages, by action: block, hold, alert, timeout.',
    labelNames: ['action'],
    registers,
  });
  for (const action of AUTOMOD_ACTIONS) automodActions.inc({ action }, 0);
  const uploads = new Counter({ name: 'natter_uploads_total', help: 'Uploads completed.', registers });
  const uploadBytes = new Counter({
    name: 'natter_upload_bytes_total',
    help: 'Bytes of completed uploads.',
    registers,
  });
  const gapsFilled = new Counter({
    name: 'natter_bus_gaps_filled_total',
    help: 'Times a cluster node read events the bus did not bring from the database.',
    registers,
  });
  const gapEvents = new Counter({
    name: 'natter_bus_gap_events_total',
    help: 'Events a cluster node read from the database because the bus did not bring them.',
    registers,
  });
  const internalErrors = new Counter({
    name: 'natter_internal_errors_total',
    help: 'Unexpected errors logged (every request answered internal is one).',
    registers,
  });
  const mailSent = new Counter({
    name: 'natter_mail_sent_total',
    help: 'Emails handed to the mail server, by kind.',
    labelNames: ['kind'],
    registers,
  });
  const mailFailed = new Counter({
    name: 'natter_mail_failed_total',
    help: 'Emails given up on, by kind.',
    labelNames: ['kind'],
    registers,
  });
  const mailRetries = new Counter({
    name: 'natter_mail_retries_total',
    help: 'Failed attempts to send an email that will be retried, by kind.',
    labelNames: ['kind'],
    registers,
  });
  new Gauge({
    name: 'natter_mail_outbox_pending',
    help: 'Emails waiting in the outbox.',
    registers,
    async collect() {
      this.set(mailPending ? await mailPending() : 0);
    },
  });
  const backups = new Counter({
    name: 'natter_backups_total',
    help: 'Scheduled backups, by outcome: ok or failed.',
    labelNames: ['outcome'],
    registers,
  });
  backups.inc({ outcome: 'ok' }, 0);
  backups.inc({ outcome: 'failed' }, 0);
  const backupLastSuccess = new Gauge({
    name: 'natter_backup_last_success_timestamp_seconds',
    help: 'When the last backup succeeded (Unix time; 0: none since start).',
    registers,
  });
  backupLastSuccess.set(0);
  const backupBytes = new Gauge({
    name: 'natter_backup_last_size_bytes',
    help: 'Size of the last successful backup.',
    registers,
  });
  const backupInterval = new Gauge({
    name: 'natter_backup_interval_seconds',
    help: 'How often scheduled backups run (0: none scheduled).',
    registers,
  });
  backupInterval.set(0);
  const backupSeconds = new Gauge({
    name: 'natter_backup_last_duration_seconds',
    help: 'How long the last backup took, whatever its outcome.',
    registers,
  });
  new Gauge({
    name: 'natter_breaker_state',
    help: 'Circuit breakers by dependency: 0 closed, 1 half-open, 2 open.',
    labelNames: ['dependency'],
    registers,
    collect() {
      this.reset();
      const classifier = sources?.classifierState() ?? null;
      if (classifier !== null) this.set({ dependency: 'classifier' }, BREAKER_VALUE[classifier]);
      if (smtpBreaker.state !== null) this.set({ dependency: 'smtp' }, BREAKER_VALUE[smtpBreaker.state]);
    },
  });
  const cached = (everyMs: number, read: (s: MetricSources) => Promise<number>) => {
    let value: { at: number; n: number } | null = null;
    return async (): Promise<number | null> => {
      if (!sources) return null;
      const now = performance.now();
      if (value === null || now - value.at > everyMs) value = { at: now, n: await read(sources) };
      return value.n;
    };
  };
  const reportsOpen = cached(REPORTS_CACHE_MS, (s) => s.reportsOpen());
  new Gauge({
    name: 'natter_reports_open',
    help: 'Reports waiting for a moderator or an operator (read at most every 5 s).',
    registers,
    async collect() {
      const n = await reportsOpen();
      if (n !== null) this.set(n);
    },
  });
  const mediaBytes = cached(MEDIA_CACHE_MS, (s) => s.mediaBytes());
  new Gauge({
    name: 'natter_media_stored_bytes',
    help: 'Bytes of uploaded files kept (read at most every 60 s; identical files share their bytes on disk).',
    registers,
    async collect() {
      const n = await mediaBytes();
      if (n !== null) this.set(n);
    },
  });
  const dataDirFree = new Gauge({
    name: 'natter_data_dir_free_bytes',
    help: "Bytes free for natter on the data directory's file system.",
    registers,
  });
  new Gauge({
    name: 'natter_data_dir_size_bytes',
    help: "Size of the data directory's file system.",
    registers,
    async collect() {
      const dir = sources?.dataDir;
      if (!dir) return;
      const fs = await new Promise<{ bavail: number; blocks: number; bsize: number } | null>((resolve) =>
        statfs(dir, (err, s) => resolve(err ? null : s)),
      );
      if (!fs) return;
      this.set(fs.blocks * fs.bsize);
      dataDirFree.set(fs.bavail * fs.bsize);
    },
  });

  // The process: what prom-client's default metrics give, read at scrape time. Its
  // collectDefaultMetrics is not used: it starts a GC observer and an event-loop
  // monitor that nothing can stop, and a server must leave nothing running when it stops.
  const cpuUser = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'User CPU time spent in seconds.',
    registers,
  });
  const cpuSystem = new Counter({
    name: 'process_cpu_system_seconds_total',
    help: 'System CPU time spent in seconds.',
    registers,
  });
  const cpuTotal = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers,
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
  }).set(Math.round(Date.now() / 1000 - process.uptime()));
  const rss = new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', registers });
  const heapUsed = new Gauge({
    name: 'nodejs_heap_size_used_bytes',
    help: 'Process heap size used from Node.js in bytes.',
    registers,
  });
  const heapTotal = new Gauge({
    name: 'nodejs_heap_size_total_bytes',
    help: 'Process heap size from Node.js in bytes.',
    registers,
  });
  const external = new Gauge({
    name: 'nodejs_external_memory_bytes',
    help: 'Node.js external memory size in bytes.',
    registers,
  });
  const openFds = new Gauge({ name: 'process_open_fds', help: 'Number of open file descriptors.', registers });
  const lagP99 = new Gauge({
    name: 'nodejs_eventloop_lag_p99_seconds',
    help: 'The 99th percentile of event-loop delays since the previous scrape.',
    registers,
  });
  const lagMax = new Gauge({
    name: 'nodejs_eventloop_lag_max_seconds',
    help: 'The longest event-loop delay since the previous scrape.',
    registers,
  });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let cpuBefore = { user: 0, system: 0 };
  /** Reads the process's figures, just before a scrape is rendered. */
  const sampleProcess = () => {
    const m = process.memoryUsage();
    rss.set(m.rss);
    heapUsed.set(m.heapUsed);
    heapTotal.set(m.heapTotal);
    external.set(m.external);
    const now = process.cpuUsage();
    const user = (now.user - cpuBefore.user) / 1e6;
    const system = (now.system - cpuBefore.system) / 1e6;
    cpuBefore = now;
    cpuUser.inc(user);
    cpuSystem.inc(system);
    cpuTotal.inc(user + system);
    try {
      openFds.set(readdirSync('/proc/self/fd').length);
    } catch {
      // Not Linux: no figure.
    }
    // An empty histogram reports huge numbers: no delay measured is no delay.
    const any = loop.count > 0;
    lagP99.set(any ? loop.percentile(99) / 1e9 : 0);
    lagMax.set(any ? loop.max / 1e9 : 0);
    loop.reset();
  };

  const opLabel = (op: string) => (OPS.has(op) ? op : 'unknown');
  const kindLabel = (kind: string) => (MAIL_KIND.test(kind) ? kind : 'other');
  const meter: ConnectionMeter = {
    sent: (transport, bytes) => bytesSent.inc({ transport }, bytes),
    delivered: (transport) => delivered.inc({ transport }),
    slowConsumer: () => slowConsumers.inc(),
  };
  return {
    enabled: true,
    meter,
    request(op, code, ms) {
      const label = opLabel(op);
      requests.inc({ op: label, code: CODES.has(code) ? code : 'other' });
      if (ms !== null) requestSeconds.observe({ op: label }, ms / 1000);
      // Logins refused for the password (a token refused is counted where tokens are checked).
      if (op === 'login' && code === 'invalid_credentials') authFailures.inc({ kind: 'password' });
      else if (op === 'login' && code === 'rate_limited') authFailures.inc({ kind: 'rate_limited' });
    },
    connectionOpened(transport) {
      connectionsOpened.inc({ transport });
      connectionsOpen.inc({ transport });
    },
    connectionClosed: (transport) => connectionsOpen.dec({ transport }),
    messageStored: () => messagesStored.inc(),
    batch(jobs, ms, committed) {
      commits.inc({ outcome: committed ? 'committed' : 'lost' });
      if (!committed) return;
      batchSize.observe(jobs);
      commitSeconds.observe(ms / 1000);
    },
    resume: (outcome) => resumes.inc({ outcome }),
    authFailure: (kind) => authFailures.inc({ kind }),
    automod(actions) {
      for (const action of actions) if (AUTOMOD_ACTIONS.has(action)) automodActions.inc({ action });
    },
    upload(bytes) {
      uploads.inc();
      uploadBytes.inc(bytes);
    },
    busGapFilled(events) {
      gapsFilled.inc();
      gapEvents.inc(events);
    },
    internalError: () => internalErrors.inc(),
    mailSent: (kind) => mailSent.inc({ kind: kindLabel(kind) }),
    mailFailed: (kind) => mailFailed.inc({ kind: kindLabel(kind) }),
    mailRetry: (kind) => mailRetries.inc({ kind: kindLabel(kind) }),
    setMailPending(count) {
      mailPending = count;
    },
    backupDone({ ok, bytes, durationMs }) {
      backups.inc({ outcome: ok ? 'ok' : 'failed' });
      backupSeconds.set(durationMs / 1000);
      if (!ok) return;
      backupLastSuccess.set(Date.now() / 1000);
      if (bytes !== undefined) backupBytes.set(bytes);
    },
    backupSchedule(intervalMs) {
      backupInterval.set(intervalMs === null ? 0 : intervalMs / 1000);
    },
    breakerState(dependency, state) {
      if (dependency === 'smtp') smtpBreaker.state = state;
    },
    attach(s) {
      sources = s;
      if (s.node) nodeInfo.set(s.node, 1);
    },
    async render() {
      sampleProcess();
      return { contentType: register.contentType, text: await register.metrics() };
    },
    stop() {
      loop.disable();
      register.clear();
    },
  };
}

/** `log`, counting each error it logs in `natter_internal_errors_total`. */
export function countingErrors(log: Logger, metrics: Metrics): Logger {
  if (!metrics.enabled) return log;
  // Children (a request's logger) count too.
  const counting = (l: Logger): Logger => ({
    trace: (message, extra) => l.trace(message, extra),
    debug: (message, extra) => l.debug(message, extra),
    info: (message, extra) => l.info(message, extra),
    warn: (message, extra) => l.warn(message, extra),
    error: (message, extra) => {
      metrics.internalError();
      l.error(message, extra);
    },
    child: (bindings) => counting(l.child(bindings)),
    enabled: (level) => l.enabled(level),
    flush: () => l.flush(),
    flushSync: () => l.flushSync(),
  });
  return counting(log);
}

/** The metrics settings of `natter serve` (`--metrics`, `--metrics-token`, `--metrics-listen`). */
export type MetricsConfig = {
  /** The Bearer token a scrape must carry; null: none asked. */
  token: string | null;
  /** A separate address serving only `/metrics` (then the main port does not); null: the main port. */
  listen: { host: string; port: number } | null;
};

/** Whether `host` only takes connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || host === '::ffff:127.0.0.1';
}

/**
 * Why these metrics settings cannot be used, in words, or null. Metrics on the
 * main port of a server that listens beyond this machine need a token: the
 * counters tell how busy it is and what fails, which is nobody else's business.
 */
export function metricsProblem(metrics: MetricsConfig, host: string): string | null {
  if (metrics.token !== null && metrics.token.length < 16) {
    return '--metrics-token must be at least 16 characters (use a random one: openssl rand -hex 32)';
  }
  if (metrics.token === null && metrics.listen === null && !isLoopback(host)) {
    return `--metrics on a server listening on ${host} needs --metrics-token (NATTER_METRICS_TOKEN), or --metrics-listen 127.0.0.1:9464 to serve them on an address of their own`;
  }
  return null;
}

/** `HOST:PORT` (`[::1]:9464` for IPv6) as given to `--metrics-listen`, or null when it is not one. */
export function parseListen(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: (m[1] ?? m[2]) as string, port };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Answers `GET /metrics`: 401 without the right Bearer token (when one is
 * set), 405 for other methods, else the scrape.
 */
export function serveMetrics(
  metrics: Metrics,
  token: string | null,
  req: IncomingMessage,
  res: ServerResponse,
  onError: (err: unknown) => void,
): void {
  const text = (status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume();
    text(405, 'use GET for /metrics\n', { Allow: 'GET, HEAD' });
    return;
  }
  if (token !== null) {
    const header = req.headers.authorization ?? '';
    const given = /^Bearer +(.+)$/i.exec(header)?.[1]?.trim() ?? '';
    // Digests of equal length, compared in constant time: neither the token nor its length leaks.
    if (!timingSafeEqual(digest(given), digest(token))) {
      metrics.authFailure('metrics');
      text(
        401,
        header === ''
          ? 'metrics need the header Authorization: Bearer <the --metrics-token of this natter>\n'
          : 'wrong metrics token: send the --metrics-token of this natter as Authorization: Bearer <token>\n',
        { 'WWW-Authenticate': 'Bearer realm="natter metrics"' },
      );
      return;
    }
  }
  metrics.render().then(
    ({ contentType, text: body }) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, {
        'Content-Type': contentType,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    (err: unknown) => {
      onError(err);
      text(500, 'the metrics could not be collected; see the server log\n');
    },
  );
}
