import { resolve } from 'node:path';
import { emailAddressProblem } from '../protocol/email.js';
import type { RegistrationMode } from '../protocol/schemas.js';
import type { LogFormat, LogLevel } from './log.js';
import type { OutboxHooks } from './mail/outbox.js';
import type { MetricsConfig } from './metrics.js';

/**
 * A setting that cannot be used (a file that does not hold a certificate, an
 * address that is not one): the message names the option and says why.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The server cannot start because its PostgreSQL database cannot be reached (an outage, not a wrong setting). */
export class DatabaseUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnreachable';
  }
}

/** The certificate and key files natter serves TLS with. */
export type TlsFiles = { certFile: string; keyFile: string };

/** A token-bucket limit: `capacity` actions at once, one more every `refillMs`. */
export type Limit = { capacity: number; refillMs: number };

/**
 * The rate limits, by name (the names of a `--limits` file). Login failures are
 * counted three ways so that nobody can lock an account's owner out: per account
 * and address (the tight one), per address across accounts, and per account
 * from addresses the account has never used (guessing from many machines).
 */
export type Limits = {
  /** Failed logins (checked wrong passwords) for one account from one address. */
  loginFailPerAccountAddress: Limit;
  /** Failed logins for one account from addresses where it has no session (guessing from many machines). */
  loginFailPerAccount: Limit;
  /** Failed logins from one address, whatever the account (unknown usernames included). */
  loginFailPerAddress: Limit;
  /** Login attempts (whatever their outcome: each costs a password hash) for one account from one address. */
  loginPerAccountAddress: Limit;
  /** Successful logins of one account, from anywhere (only successes count: guesses cannot use it up). */
  loginPerAccount: Limit;
  /** Wrong current passwords at `password.change`, per user (a separate bucket from logins). */
  passwordChangePerUser: Limit;
  /** Accounts created per client address. */
  registerPerAddress: Limit;
  /** Token checks that failed, per client address (guessing tokens). */
  authFailPerAddress: Limit;
  /** Messages sent per user. */
  sendPerUser: Limit;
  /** Other writes (edits, deletes, creating things, moderation) per user. */
  writePerUser: Limit;
  /** History pages and lists per user. */
  readPerUser: Limit;
  /** Look-ups of other users (`users.get`) per user. */
  lookupPerUser: Limit;
  /** Failed invite-code joins per user and per address (guessing codes). */
  inviteFail: Limit;
  /** Reports made per user (`reports.create`), whatever their outcome. */
  reportPerUser: Limit;
  /** Confirmation codes mailed per user (`email.set`, `email.resend`, `register` with an address). */
  emailSendPerUser: Limit;
  /** Wrong confirmation codes per user (`email.verify`). */
  emailVerifyFailPerUser: Limit;
  /** Password reset requests per client address, whatever the account (`password.resetRequest`). */
  passwordResetPerAddress: Limit;
  /** Password reset requests per account name, and so per address it mails (unknown names included). */
  passwordResetPerAccount: Limit;
  /** Wrong reset codes per client address (`password.reset`). */
  passwordResetFailPerAddress: Limit;
};

/**
 * Mail (`natter serve --smtp-url`): where mail leaves from and as whom, and
 * whether new accounts must confirm an address. The retry and breaker
 * settings have defaults (tests shorten them).
 */
export type MailSettings = {
  /** `smtp://user:pass@host:port` or `smtps://…` (nodemailer's URL form). */
  url: string;
  /** The From address of every mail. */
  from: string;
  /** `register` needs an `email`, and the new account can do nothing else until it confirms it. */
  requireEmail: boolean;
  /** How long a new account has to confirm its address before it is removed (`--unverified-ttl`). */
  unverifiedTtlMs: number;
  /** The first retry's delay; each next one doubles, up to `retryMaxMs` (default 30 s). */
  retryBaseMs?: number;
  /** The longest delay between two tries (default 1 h). */
  retryMaxMs?: number;
  /** A mail not sent this long after it was written is given up (`failed_at`; default 24 h). */
  giveUpAfterMs?: number;
  /** Failures in a row that open the SMTP breaker (default 5). */
  breakerThreshold?: number;
  /** How long the breaker stays open before one probe (default 60 s). */
  breakerCoolDownMs?: number;
  /** How long a node may hold a claimed mail before another may take it over (default 2 min). */
  claimMs?: number;
};

/** Checks mail settings before anything is opened: a usable SMTP URL, a From address. */
export function checkMailSettings(mail: MailSettings | null): void {
  if (mail === null) return;
  let url: URL;
  try {
    url = new URL(mail.url);
  } catch {
    throw new ConfigError('--smtp-url must be a URL like smtp://user:password@mail.example.org:587 or smtps://…');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new ConfigError(`--smtp-url must start with smtp:// or smtps://, not ${url.protocol}//`);
  }
  if (url.hostname === '') throw new ConfigError('--smtp-url names no host: smtp://user:password@HOST:587');
  if (url.port !== '' && !(Number(url.port) >= 1 && Number(url.port) <= 65535)) {
    throw new ConfigError(`--smtp-url has port ${url.port}; a port is 1 to 65535`);
  }
  const problem = emailAddressProblem(mail.from);
  if (problem !== null) throw new ConfigError(`--mail-from "${mail.from}" is not an email address: ${problem}`);
  if (!(mail.unverifiedTtlMs > 0)) throw new ConfigError('--unverified-ttl must be longer than 0');
}

/**
 * Caps on what one user (or one server) may hold, and the daily write budget.
 * Past one, the request is refused with `limit_reached` and a message saying
 * which cap and how to get under it.
 */
export type Quotas = {
  /** Servers one user may own. */
  serversOwnedPerUser: number;
  /** Servers one user may be a member of. */
  serversJoinedPerUser: number;
  /** Channels in one server. */
  channelsPerServer: number;
  /** Live invite codes of one server. */
  invitesPerServer: number;
  /** Groups one user created that still exist. */
  groupsCreatedPerUser: number;
  /** Users one user may block. */
  blocksPerUser: number;
  /** Login sessions one account may hold; a new login past it ends the least recently used one. */
  sessionsPerUser: number;
  /** Bot tokens one account may hold. */
  botTokensPerUser: number;
  /** Bytes of events one user's writes may store per day (UTC), messages included; 0 = no budget. */
  writeBytesPerDay: number;
  /** Reports one user may have open (not yet handled by moderators or operators) at once. */
  openReportsPerUser: number;
  /** Largest file one may upload, in bytes. */
  fileBytesMax: number;
  /** Bytes of files one user may ask to upload per UTC day. */
  uploadBytesPerDay: number;
  /** Bytes of files one server's channels (and its icon) may hold in all. */
  serverMediaBytes: number;
  /** Bytes per second one natter reads from all uploads together (0: no limit): uploads never crowd out delivery. */
  uploadBytesPerSecond: number;
};

/** Everything the server can be told at start. */
export type ServerConfig = {
  host: string;
  /** HTTP and WebSocket port; 0 picks a free one. */
  port: number;
  /** Raw TCP (NDJSON) port; 0 picks a free one, `null` disables TCP. */
  tcpPort: number | null;
  dataDir: string;
  /**
   * A PostgreSQL URL (`postgres://user@host:port/db`): the database natter
   * keeps everything in, instead of SQLite in `dataDir`. Null: SQLite.
   */
  database: string | null;
  /**
   * NATS servers (`nats://host:4222`, comma-separated for several): this
   * natter is one node of a cluster sharing `database`. Null: it runs alone.
   */
  bus: string | null;
  /** The cluster's name: the prefix of its NATS subjects (several clusters can share one NATS). */
  cluster: string;
  /** A cluster node not heard from this long is gone, and its users offline unless online elsewhere. */
  nodeTimeoutMs: number;
  /** bcrypt cost factor for new password hashes. */
  bcryptCost: number;
  /** Worker threads for password hashing. */
  hashThreads: number;
  /**
   * Nice value (0-19) of the hashing threads on Linux: the higher, the more
   * message delivery comes first. 10 by default: delivery gets about nine
   * tenths of a shared core, and logins are not starved by other programs
   * that keep every core busy (at 19 they waited tens of seconds).
   */
  hashNice: number;
  /** Largest WebSocket frame, HTTP body or TCP line, in bytes. */
  maxFrameBytes: number;
  /** A WebSocket or TCP connection must authenticate within this time. */
  authDeadlineMs: number;
  /** WebSocket ping interval; a connection that misses a pong is dropped. */
  heartbeatMs: number;
  /** Live connections allowed from one address. */
  maxConnectionsPerAddress: number;
  /** HTTP API requests from one address that may be under way at once. */
  maxHttpRequestsPerAddress: number;
  /** Origins (scheme://host:port) allowed on WebSocket upgrades, besides the server's own host. */
  allowedOrigins: string[];
  /**
   * Names accepted in the Host header of HTTP requests and WebSocket upgrades,
   * besides IP addresses, `localhost`, `host` and the TLS certificate's names
   * (against DNS rebinding); `*.example.com` covers one level of subdomains,
   * `*` turns the check off.
   */
  allowedHosts: string[];
  /**
   * Serve TLS: HTTPS and WSS on `port`, TLS on `tcpPort`. The files are read
   * at start and again on `reloadTls()`; null serves plain HTTP and TCP.
   */
  tls: TlsFiles | null;
  /**
   * Reverse proxies (IP addresses and CIDR ranges) whose `X-Forwarded-For`
   * (HTTP) and PROXY protocol header (TCP) name the real client.
   */
  trustProxy: string[];
  /**
   * Where uploaded files are kept (`media/` under `dataDir` when null). In a
   * cluster every node must see the same directory (a shared mount).
   */
  mediaDir: string | null;
  /**
   * The address clients reach this server's HTTP side at (`https://chat.example.org`),
   * told to TCP clients for uploads and downloads; null: the same host, `port`.
   */
  publicUrl: string | null;
  /**
   * Prometheus metrics (`--metrics`): the token a scrape must carry, and the
   * address they are served on when not on `port`. Null: off (`/metrics` is 404).
   */
  metrics: MetricsConfig | null;
  /** How long an upload slot's token works (`attachments.create` to the PUT). */
  uploadSlotMs: number;
  /** An uploaded file not put to use (attached, made an avatar or icon) this long after its slot was made is deleted. */
  unattachedMs: number;
  /** Largest image (width × height) decoded for thumbnails and pictures: bigger ones are refused (decompression bombs). */
  imageMaxPixels: number;
  /** How long a graceful shutdown waits for in-flight requests. */
  shutdownGraceMs: number;
  limits: Limits;
  quotas: Quotas;
  /** A login session unused for this long expires (bot tokens do not). */
  sessionIdleMs: number;
  /**
   * Who may create an account (`--registration`): anyone (`open`), only with
   * a live invite code of one of this natter's servers, joining it (`invite`),
   * or nobody (`closed`). The `hello` event says which.
   */
  registration: RegistrationMode;
  /**
   * What happens to the messages of a deleted account (`--deleted-messages`):
   * they stay, shown as written by "deleted user" (`keep`), or they are
   * deleted as a moderator deletes a message (`remove`).
   */
  deletedMessages: 'keep' | 'remove';
  /** Most stream events replayed on resume; past it the client is told to resync. */
  replayCap: number;
  /** Bytes queued for a connection before it is dropped as a slow consumer. */
  maxQueuedBytes: number;
  /** Stream events older than this are pruned; a cursor older than that gets `limited`. */
  eventRetentionMs: number;
  /** How long servers' audit log entries are kept (`--audit-retention`). */
  auditRetentionMs: number;
  /**
   * The external message classifier (`--moderation-webhook`): where to POST
   * each message of a server's channels, from what score it is flagged and
   * what is then done, what a message gets while it cannot answer, and how
   * long one call may take. Null: none.
   */
  moderationWebhook: {
    url: string;
    threshold: number;
    action: 'block' | 'hold' | 'alert';
    fallback: 'allow' | 'hold';
    timeoutMs: number;
  } | null;
  /**
   * A username given up by a rename is kept this long for its previous owner
   * (who may take it back); until then nobody else can take it. 0: not kept.
   */
  usernameHoldMs: number;
  /** A user whose last connection closed shows as offline only after this long (a reconnect in between is not news). */
  presenceGraceMs: number;
  /**
   * Time between two maintenance sweeps (one hour). On PostgreSQL one natter
   * of those sharing the database runs them; the others ask this often
   * whether it is still there.
   */
  maintenanceIntervalMs: number;
  /**
   * Least time between two write batches (group commits). Under steady load,
   * writes wait up to this long to share one commit and its fsync; after a
   * quiet spell a write commits at once.
   */
  commitWindowMs: number;
  /**
   * How long a write waits for a lock held by another program (a `sqlite3`
   * shell, a copy tool). better-sqlite3 waits on the event loop, so every
   * request would wait too: the default is not to wait, and answer `unavailable`.
   */
  busyTimeoutMs: number;
  /** Mail (`--smtp-url`, `--mail-from`): email addresses, confirmation, password reset. Null: this server sends none. */
  mail: MailSettings | null;
  /**
   * Scheduled backups (`--backup-every`, `--backup-keep`, `--backup-dir`):
   * where, how often, how many kept. Null: none.
   */
  backup: { dir: string; everyMs: number; keep: number } | null;
  /** Write log lines to stderr at all (false: nothing, whatever `logLevel` says). */
  log: boolean;
  /** The least level written (`--log-level`); request lines are `debug`. */
  logLevel: LogLevel;
  /** JSON lines, lines for a person, or `auto`: pretty on a terminal (`--log-format`). */
  logFormat: LogFormat;
  /**
   * Hears each SQL statement the server's database connection runs, as it
   * runs it, with its values filled in (better-sqlite3's `verbose`); null,
   * the default, hears nothing. For tests and measurements: while set, every
   * statement also costs a copy of its text.
   */
  onStatement: ((sql: string) => void) | null;
};

/** What a caller of `startServer` may change: any setting; limits and quotas one by one. */
export type ServerOverrides = Partial<Omit<ServerConfig, 'limits' | 'quotas'>> & {
  limits?: Partial<Limits>;
  quotas?: Partial<Quotas>;
  /** The server's clock (ms since the epoch); tests move it instead of waiting. Default `Date.now`. */
  clock?: () => number;
  /** Hear what becomes of mail (sent, retried, given up) and the SMTP breaker's moves (metrics). */
  mailHooks?: OutboxHooks;
};

/**
 * Checks the storage and cluster settings before anything is opened:
 * `database` a PostgreSQL URL, `bus` NATS addresses, and a bus only with a
 * shared database (nodes that each had their own SQLite file would not be a cluster).
 */
export function checkClusterSettings(config: Pick<ServerConfig, 'database' | 'bus' | 'cluster' | 'mediaDir'>): void {
  if (config.database !== null) {
    let url: URL | null = null;
    try {
      url = new URL(config.database);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.pathname.length <= 1) {
      throw new ConfigError(
        `--database takes a PostgreSQL URL such as postgres://natter@127.0.0.1:5432/natter, not "${config.database}"`,
      );
    }
  }
  if (config.bus !== null) {
    if (config.database === null) {
      throw new ConfigError(
        '--bus joins a cluster, whose nodes share one PostgreSQL database: give --database postgres://… too',
      );
    }
    for (const part of config.bus.split(',')) {
      if (!/^(nats:\/\/)?[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(part.trim())) {
        throw new ConfigError(
          `--bus takes NATS addresses such as nats://127.0.0.1:4222 (comma-separated for several), not "${part.trim()}"`,
        );
      }
    }
    // Files uploaded through one node are downloaded through any: a node's own
    // data directory would hand out 404s for every file another node took.
    if (config.mediaDir === null) {
      throw new ConfigError(
        'the nodes of a cluster keep uploaded files in one directory they all see: give every node the same --media-dir (a shared mount; docs/scaling.md)',
      );
    }
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(config.cluster)) {
    throw new ConfigError(
      `--cluster takes a name of letters, digits, "-" and "_" (at most 64), not "${config.cluster}"`,
    );
  }
}

/**
 * `publicUrl` (`--public-url`): an http:// or https:// URL with a host and
 * nothing after it but a path (no query, fragment or credentials); null is fine.
 */
export function checkPublicUrl(value: string | null): void {
  if (value === null) return;
  let url: URL | null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.hostname === '' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== '' ||
    url.password !== ''
  ) {
    throw new ConfigError(
      `--public-url takes the address clients reach this server's HTTP side at, such as https://chat.example.org, not "${value}"`,
    );
  }
}

/** The defaults, as documented in docs/operations.md. */
export function defaultConfig(): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 7777,
    tcpPort: 7778,
    dataDir: resolve('data'),
    database: null,
    bus: null,
    cluster: 'natter',
    nodeTimeoutMs: 30_000,
    bcryptCost: 12,
    hashThreads: 1,
    hashNice: 10,
    maxFrameBytes: 64 * 1024,
    authDeadlineMs: 10_000,
    heartbeatMs: 30_000,
    maxConnectionsPerAddress: 256,
    maxHttpRequestsPerAddress: 32,
    allowedOrigins: [],
    allowedHosts: [],
    tls: null,
    trustProxy: [],
    shutdownGraceMs: 5_000,
    mediaDir: null,
    publicUrl: null,
    uploadSlotMs: 15 * 60_000,
    unattachedMs: 3_600_000,
    imageMaxPixels: 40_000_000,
    limits: {
      loginFailPerAccountAddress: { capacity: 5, refillMs: 60_000 },
      loginFailPerAccount: { capacity: 30, refillMs: 120_000 },
      loginFailPerAddress: { capacity: 20, refillMs: 15_000 },
      loginPerAccountAddress: { capacity: 5, refillMs: 60_000 },
      loginPerAccount: { capacity: 20, refillMs: 60_000 },
      passwordChangePerUser: { capacity: 5, refillMs: 60_000 },
      registerPerAddress: { capacity: 5, refillMs: 60_000 },
      authFailPerAddress: { capacity: 20, refillMs: 3_000 },
      sendPerUser: { capacity: 10, refillMs: 200 },
      writePerUser: { capacity: 30, refillMs: 500 },
      readPerUser: { capacity: 200, refillMs: 100 },
      lookupPerUser: { capacity: 60, refillMs: 500 },
      inviteFail: { capacity: 5, refillMs: 12_000 },
      // 10 at once, then 10 an hour.
      reportPerUser: { capacity: 10, refillMs: 360_000 },
      // 5 at once, then one every 10 minutes (besides the minute between two codes).
      emailSendPerUser: { capacity: 5, refillMs: 600_000 },
      emailVerifyFailPerUser: { capacity: 10, refillMs: 60_000 },
      passwordResetPerAddress: { capacity: 5, refillMs: 120_000 },
      // 3 at once, then one every 20 minutes.
      passwordResetPerAccount: { capacity: 3, refillMs: 1_200_000 },
      passwordResetFailPerAddress: { capacity: 10, refillMs: 60_000 },
    },
    quotas: {
      serversOwnedPerUser: 100,
      serversJoinedPerUser: 1000,
      channelsPerServer: 500,
      invitesPerServer: 1000,
      groupsCreatedPerUser: 200,
      blocksPerUser: 1000,
      sessionsPerUser: 100,
      botTokensPerUser: 50,
      writeBytesPerDay: 50 * 1024 * 1024,
      openReportsPerUser: 50,
      fileBytesMax: 10 * 1024 * 1024,
      uploadBytesPerDay: 100 * 1024 * 1024,
      serverMediaBytes: 5 * 1024 * 1024 * 1024,
      uploadBytesPerSecond: 8 * 1024 * 1024,
    },
    sessionIdleMs: 90 * 24 * 3600 * 1000,
    registration: 'open',
    deletedMessages: 'keep',
    replayCap: 1000,
    maxQueuedBytes: 4 * 1024 * 1024,
    eventRetentionMs: 30 * 24 * 3600 * 1000,
    auditRetentionMs: 90 * 24 * 3600 * 1000,
    moderationWebhook: null,
    metrics: null,
    mail: null,
    usernameHoldMs: 30 * 24 * 3600 * 1000,
    presenceGraceMs: 5_000,
    maintenanceIntervalMs: 3_600_000,
    commitWindowMs: 10,
    busyTimeoutMs: 0,
    backup: null,
    log: true,
    logLevel: 'info',
    logFormat: 'auto',
    onStatement: null,
  };
}

export const LIMIT_NAMES = [
  'loginFailPerAccountAddress',
  'loginFailPerAccount',
  'loginFailPerAddress',
  'loginPerAccountAddress',
  'loginPerAccount',
  'passwordChangePerUser',
  'registerPerAddress',
  'authFailPerAddress',
  'sendPerUser',
  'writePerUser',
  'readPerUser',
  'lookupPerUser',
  'inviteFail',
  'reportPerUser',
  'emailSendPerUser',
  'emailVerifyFailPerUser',
  'passwordResetPerAddress',
  'passwordResetPerAccount',
  'passwordResetFailPerAddress',
] as const satisfies readonly (keyof Limits)[];

/**
 * The limits whose tokens are given back when an attempt turns out not to
 * count (a right password, a server too busy to check, a valid invite code).
 */
export const REFUNDED_LIMITS: ReadonlySet<keyof Limits> = new Set<keyof Limits>([
  'loginFailPerAccountAddress',
  'loginFailPerAccount',
  'loginFailPerAddress',
  'loginPerAccountAddress',
  'passwordChangePerUser',
  'registerPerAddress',
  'inviteFail',
]);

export const QUOTA_NAMES = [
  'serversOwnedPerUser',
  'serversJoinedPerUser',
  'channelsPerServer',
  'invitesPerServer',
  'groupsCreatedPerUser',
  'blocksPerUser',
  'sessionsPerUser',
  'botTokensPerUser',
  'writeBytesPerDay',
  'openReportsPerUser',
  'fileBytesMax',
  'uploadBytesPerDay',
  'serverMediaBytes',
  'uploadBytesPerSecond',
] as const satisfies readonly (keyof Quotas)[];

/** What a limits file changes: rate limits, and caps under `"quotas"`. */
export type LimitsFile = { limits: Partial<Limits>; quotas: Partial<Quotas> };

/**
 * Reads a limits file (`natter serve --limits FILE`): a JSON object whose keys
 * are limit names with values `{"capacity": N, "refillMs": N}`, and optionally
 * `"quotas"`, an object of cap names with whole numbers (`writeBytesPerDay` may
 * be 0: no daily budget). Anything left out keeps its default. Throws an Error
 * that says what is wrong.
 */
export function parseLimits(text: string, source: string): LimitsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${source} must hold a JSON object`);
  const out: LimitsFile = { limits: {}, quotas: {} };
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'quotas') {
      out.quotas = parseQuotas(value, source);
      continue;
    }
    if (!(LIMIT_NAMES as readonly string[]).includes(name)) {
      throw new Error(`${source}: unknown limit "${name}" (known: ${LIMIT_NAMES.join(', ')}, and "quotas")`);
    }
    const v = value as { capacity?: unknown; refillMs?: unknown } | null;
    const ok =
      typeof v === 'object' &&
      v !== null &&
      Number.isInteger(v.capacity) &&
      (v.capacity as number) >= 1 &&
      Number.isInteger(v.refillMs) &&
      (v.refillMs as number) >= 1 &&
      Object.keys(v).length === 2;
    if (!ok) throw new Error(`${source}: "${name}" must be {"capacity": <integer >= 1>, "refillMs": <integer >= 1>}`);
    out.limits[name as keyof Limits] = { capacity: v.capacity as number, refillMs: v.refillMs as number };
  }
  return out;
}

function parseQuotas(value: unknown, source: string): Partial<Quotas> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${source}: "quotas" must be an object, e.g. {"serversOwnedPerUser": 10}`);
  }
  const out: Partial<Quotas> = {};
  for (const [name, n] of Object.entries(value)) {
    if (!(QUOTA_NAMES as readonly string[]).includes(name)) {
      throw new Error(`${source}: unknown quota "${name}" (known: ${QUOTA_NAMES.join(', ')})`);
    }
    const least = name === 'writeBytesPerDay' ? 0 : 1;
    if (!Number.isSafeInteger(n) || (n as number) < least) {
      throw new Error(`${source}: quota "${name}" must be a whole number >= ${least}`);
    }
    out[name as keyof Quotas] = n as number;
  }
  return out;
}
