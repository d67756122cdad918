import type { MailSettings } from '../../server/config.js';
import { CliError, EXIT, usageError } from '../errors.js';

export type ServeOptions = {
  host: string;
  port: number;
  tcpPort: number;
  data: string;
  database?: string;
  bus?: string;
  cluster: string;
  nodeTimeout: number;
  bcryptCost: number;
  hashNice: number;
  commitWindow: number;
  usernameHold: number;
  auditRetention: number;
  moderationWebhook?: string;
  moderationThreshold: number;
  moderationAction: 'block' | 'hold' | 'alert';
  moderationFallback: 'allow' | 'hold';
  moderationTimeout: number;
  sessionIdle: number;
  registration: 'open' | 'invite' | 'closed';
  deletedMessages: 'keep' | 'remove';
  allowOrigin: string[];
  allowHost: string[];
  tlsCert?: string;
  tlsKey?: string;
  trustProxy: string[];
  mediaDir?: string;
  publicUrl?: string;
  limits?: string;
  backupEvery?: number;
  backupKeep?: number;
  backupDir?: string;
  metrics?: boolean;
  metricsToken?: string;
  metricsListen?: string;
  smtpUrl?: string;
  mailFrom?: string;
  requireEmail?: boolean | string;
  unverifiedTtl: number;
  quiet?: boolean;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  logFormat: 'json' | 'pretty' | 'auto';
};

/** The scheduled backups `--backup-every`, `--backup-keep` and `--backup-dir` ask for, or null. */
async function backupSettings(opts: ServeOptions): Promise<{ dir: string; everyMs: number; keep: number } | null> {
  // An empty NATTER_BACKUP_DIR is no setting.
  const dir = opts.backupDir || undefined;
  if (opts.backupEvery === undefined) {
    if (dir !== undefined || opts.backupKeep !== undefined) {
      throw usageError(
        `${dir !== undefined ? '--backup-dir' : '--backup-keep'} goes with --backup-every (NATTER_BACKUP_EVERY): how often to take a backup, such as 6h`,
      );
    }
    return null;
  }
  const { join } = await import('node:path');
  return { dir: dir ?? join(opts.data, 'backups'), everyMs: opts.backupEvery, keep: opts.backupKeep ?? 7 };
}

/**
 * The mail settings of `--smtp-url`, `--mail-from`, `--require-email` and
 * `--unverified-ttl`, or null without --smtp-url; refuses a half-given set
 * (the URL's own checks are the server's, ConfigError).
 */
function mailOf(opts: ServeOptions): MailSettings | null {
  // Empty NATTER_SMTP_URL or NATTER_MAIL_FROM: no setting. NATTER_REQUIRE_EMAIL takes true/1/yes.
  const url = opts.smtpUrl || undefined;
  const from = opts.mailFrom || undefined;
  const required =
    opts.requireEmail === true ||
    (typeof opts.requireEmail === 'string' && /^(1|true|yes|on)$/i.test(opts.requireEmail));
  if (url === undefined) {
    if (required)
      throw usageError('--require-email needs mail to send the codes with: give --smtp-url and --mail-from');
    if (from !== undefined)
      throw usageError('--mail-from goes with --smtp-url (NATTER_SMTP_URL): the server to send through');
    return null;
  }
  if (from === undefined) {
    throw usageError('--smtp-url needs --mail-from (NATTER_MAIL_FROM): the address natter sends mail as');
  }
  return { url, from, requireEmail: required, unverifiedTtlMs: opts.unverifiedTtl };
}

/** `--moderation-webhook`: an http:// or https:// URL. */
function webhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`--moderation-webhook must be an http:// or https:// URL, not "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`--moderation-webhook must be an http:// or https:// URL, not ${url.protocol}`);
  }
  return url.href;
}

/**
 * `--metrics`, `--metrics-token`, `--metrics-listen`: null when metrics are
 * off. A token or an address without `--metrics` is a mistake, not a silent no-op.
 */
async function metricsSettings(opts: ServeOptions) {
  // Empty NATTER_METRICS_TOKEN or NATTER_METRICS_LISTEN: no setting.
  const token = opts.metricsToken || null;
  const listenText = opts.metricsListen || null;
  if (!opts.metrics) {
    if (token !== null || listenText !== null) {
      throw usageError(
        `${token !== null ? '--metrics-token' : '--metrics-listen'} needs --metrics (NATTER_METRICS=1): metrics are off`,
      );
    }
    return null;
  }
  const { parseListen } = await import('../../server/metrics.js');
  const listen = listenText === null ? null : parseListen(listenText);
  if (listenText !== null && listen === null) {
    throw usageError(`--metrics-listen must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464, not "${listenText}"`);
  }
  return { token, listen };
}

/** `natter serve`: run the server in the foreground until SIGINT/SIGTERM; SIGHUP reloads the TLS certificate (without TLS it is logged and ignored). */
export async function serve(opts: ServeOptions): Promise<void> {
  // An empty NATTER_TLS_CERT is no setting, as if it were not there.
  const cert = opts.tlsCert || undefined;
  const key = opts.tlsKey || undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw usageError(
      `--tls-cert and --tls-key go together (NATTER_TLS_CERT and NATTER_TLS_KEY): ${cert === undefined ? '--tls-cert' : '--tls-key'} is missing`,
    );
  }
  const backup = await backupSettings(opts);
  const metrics = await metricsSettings(opts);
  const mail = mailOf(opts);
  const { startServer } = await import('../../server/server.js');
  const { ConfigError, DatabaseUnreachable, parseLimits, defaultConfig } = await import('../../server/config.js');
  let limits = defaultConfig().limits;
  let quotas = defaultConfig().quotas;
  if (opts.limits) {
    const { readFileSync } = await import('node:fs');
    let text: string;
    try {
      text = readFileSync(opts.limits, 'utf8');
    } catch (err) {
      throw usageError(`cannot read --limits ${opts.limits}: ${(err as Error).message}`);
    }
    try {
      const file = parseLimits(text, opts.limits);
      limits = { ...limits, ...file.limits };
      quotas = { ...quotas, ...file.quotas };
    } catch (err) {
      throw usageError((err as Error).message);
    }
  }
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  // Signals are taken from the start: one that arrives while the server is
  // starting (after its listening line, say) stops it once it has started,
  // rather than killing it half-way.
  let signals = 0;
  let stopAfterStart = false;
  const stop = (running: NonNullable<typeof server>) => {
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`natter: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`natter: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    if (server) stop(server);
    else stopAfterStart = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // After a renewal: new connections get the new certificate, open ones keep going.
  // (During the start the files are being read anyway.) Without TLS it is logged and
  // ignored: `systemctl reload` sends it, and must not stop the server.
  process.on('SIGHUP', () => server?.reloadTls());
  try {
    server = await startServer({
      limits,
      quotas,
      sessionIdleMs: opts.sessionIdle,
      registration: opts.registration,
      deletedMessages: opts.deletedMessages,
      host: opts.host,
      port: opts.port,
      tcpPort: opts.tcpPort === 0 ? null : opts.tcpPort,
      dataDir: opts.data,
      // An empty NATTER_DATABASE or NATTER_BUS is no setting.
      database: opts.database || null,
      bus: opts.bus || null,
      cluster: opts.cluster,
      nodeTimeoutMs: opts.nodeTimeout,
      bcryptCost: opts.bcryptCost,
      hashNice: opts.hashNice,
      commitWindowMs: opts.commitWindow,
      usernameHoldMs: opts.usernameHold,
      auditRetentionMs: opts.auditRetention,
      // An empty NATTER_MODERATION_WEBHOOK is no setting.
      moderationWebhook: opts.moderationWebhook
        ? {
            url: webhookUrl(opts.moderationWebhook),
            threshold: opts.moderationThreshold,
            action: opts.moderationAction,
            fallback: opts.moderationFallback,
            timeoutMs: opts.moderationTimeout,
          }
        : null,
      allowedOrigins: typeof opts.allowOrigin === 'string' ? [opts.allowOrigin] : opts.allowOrigin,
      allowedHosts: opts.allowHost,
      tls: cert !== undefined && key !== undefined ? { certFile: cert, keyFile: key } : null,
      trustProxy: opts.trustProxy,
      // Empty NATTER_MEDIA_DIR or NATTER_PUBLIC_URL: no setting.
      mediaDir: opts.mediaDir || null,
      publicUrl: opts.publicUrl || null,
      backup,
      log: true,
      // An explicit level wins over --quiet; NATTER_LOG_LEVEL counts as explicit.
      logLevel: opts.logLevel ?? (opts.quiet ? 'warn' : 'info'),
      logFormat: opts.logFormat,
      metrics,
      mail,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw usageError(err.message);
    if (err instanceof DatabaseUnreachable) throw new CliError(EXIT.unreachable, 'unreachable', err.message);
    throw err;
  }
  // From here on, an error nothing caught is logged (with its stack) before the process exits.
  const log = server.services.log;
  const crash = (err: unknown) => {
    log.error('natter stopped on an error nothing caught', err instanceof Error ? err : { detail: String(err) });
    log.flushSync();
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  if (stopAfterStart) stop(server);
}
