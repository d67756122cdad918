import { VERSION } from '../package-info.js';
import {
  backupInterval,
  bcryptCost,
  commitWindow,
  durationMs,
  floodLimit,
  inviteLifetime,
  list,
  niceValue,
  nodeTimeout,
  nonNegativeInt,
  port,
  positiveInt,
  reportNumber,
  score,
  serverUrl,
  slowmodeLength,
  timeoutLength,
} from './args.js';
import { Argument, Command, InvalidArgumentError, Option } from './commander.js';
import { type FieldOptions, namingOption, usageError } from './errors.js';

/**
 * The `natter` command line: every command, argument and option, so that help
 * is complete without loading any command's code. Each action imports its
 * module (src/cli/commands/) only when that command runs, and those import the
 * client (ws) only when they reach the server: `natter --version` and
 * `--help` load commander and this file. Building the program has no side
 * effects, so tests can import it.
 */

/**
 * An action whose code is imported when its command runs. `options` names the
 * command's options by the request fields they fill, so that a refusal about
 * one of them says which option to change.
 */
function lazy<M, A extends unknown[]>(
  load: () => Promise<M>,
  pick: (m: M) => (...args: A) => Promise<void>,
  options?: FieldOptions,
): (...args: A) => Promise<void> {
  if (!options) return async (...args: A) => pick(await load())(...args);
  return async (...args: A) => {
    try {
      await pick(await load())(...args);
    } catch (err) {
      throw namingOption(err, options);
    }
  };
}

const serve = () => import('./commands/serve.js');
const admin = () => import('./commands/admin.js');
const adminUsers = () => import('./commands/admin-users.js');
const account = () => import('./commands/account.js');
const backup = () => import('./commands/backup.js');
const migrateData = () => import('./commands/migrate-data.js');
const restore = () => import('./commands/restore.js');
const credentials = () => import('./credential-commands.js');
const logout = () => import('./commands/logout.js');
const whoami = () => import('./commands/whoami.js');
const passwd = () => import('./commands/passwd.js');
const email = () => import('./commands/email.js');
const passwordReset = () => import('./commands/password-reset.js');
const sessions = () => import('./commands/sessions.js');
const audit = () => import('./commands/audit.js');
const reports = () => import('./commands/report.js');
const token = () => import('./commands/token.js');
const profile = () => import('./commands/profile.js');
const rename = () => import('./commands/rename.js');
const servers = () => import('./commands/servers.js');
const server = () => import('./commands/server.js');
const members = () => import('./commands/members.js');
const online = () => import('./commands/online.js');
const unreadCommand = () => import('./commands/unread.js');
const invite = () => import('./commands/invite.js');
const join = () => import('./commands/join.js');
const leave = () => import('./commands/leave.js');
const channels = () => import('./commands/channels.js');
const channel = () => import('./commands/channel.js');
const moderation = () => import('./moderation.js');
const bans = () => import('./commands/bans.js');
const role = () => import('./commands/role.js');
const timeouts = () => import('./commands/timeout.js');
const automod = () => import('./commands/automod.js');
const groups = () => import('./commands/groups.js');
const group = () => import('./commands/group.js');
const dms = () => import('./commands/dms.js');
const social = () => import('./commands/social.js');
const send = () => import('./commands/send.js');
const upload = () => import('./commands/upload.js');
const download = () => import('./commands/download.js');
const history = () => import('./commands/history.js');
const search = () => import('./commands/search.js');
const edit = () => import('./commands/edit.js');
const del = () => import('./commands/delete.js');
const read = () => import('./commands/read.js');
const listen = () => import('./commands/listen.js');
const tui = () => import('./commands/tui.js');

/** `--data`: where natter serve keeps its SQLite database (and the commands that work on it look). */
function dataOption(description: string): Option {
  return new Option('--data <dir>', description).env('NATTER_DATA').default('./data');
}

/** `--database`: the PostgreSQL database natter serve keeps everything in, instead of SQLite in --data. */
function databaseOption(description: string): Option {
  return new Option('--database <url>', description).env('NATTER_DATABASE');
}

function serveCommand(): Command {
  return new Command('serve')
    .description('run the natter server (HTTP + WebSocket, and NDJSON over TCP)')
    .addOption(new Option('--host <host>', 'address to listen on').env('NATTER_HOST').default('127.0.0.1'))
    .addOption(
      new Option('--port <port>', 'HTTP and WebSocket port (0 = any free port)')
        .env('NATTER_PORT')
        .default(7777)
        .argParser(port),
    )
    .addOption(
      new Option('--tcp-port <port>', 'NDJSON-over-TCP port (0 disables TCP)')
        .env('NATTER_TCP_PORT')
        .default(7778)
        .argParser(port),
    )
    .addOption(dataOption('data directory (the SQLite database lives here; unused with --database)'))
    .addOption(
      databaseOption('keep everything in PostgreSQL instead of SQLite in --data (postgres://user@host:5432/db)'),
    )
    .addOption(
      new Option(
        '--bus <nats-url>',
        'join a cluster: nodes sharing --database exchange events over NATS (nats://host:4222, comma-separated)',
      ).env('NATTER_BUS'),
    )
    .addOption(
      new Option('--cluster <name>', 'the cluster name (NATS subjects; several clusters may share one NATS)')
        .env('NATTER_CLUSTER')
        .default('natter'),
    )
    .addOption(
      new Option(
        '--node-timeout <duration>',
        'a cluster node not heard from this long is gone, its users shown offline: 10s, 1m',
      )
        .env('NATTER_NODE_TIMEOUT')
        .default(30_000, '30s')
        .argParser(nodeTimeout),
    )
    .addOption(
      new Option('--bcrypt-cost <n>', 'bcrypt cost for new password hashes')
        .env('NATTER_BCRYPT_COST')
        .default(12)
        .argParser(bcryptCost),
    )
    .addOption(
      new Option('--hash-nice <n>', 'nice value of the password-hashing threads (0-19; higher: delivery first)')
        .env('NATTER_HASH_NICE')
        .default(10)
        .argParser(niceValue),
    )
    .addOption(
      new Option(
        '--commit-window <ms>',
        'under load, writes wait up to this long to share one commit (0 = commit each batch at once)',
      )
        .env('NATTER_COMMIT_WINDOW')
        .default(10)
        .argParser(commitWindow),
    )
    .addOption(
      new Option(
        '--username-hold <duration>',
        'how long a name given up by a rename is kept for its previous owner: 30m, 12h, 30d, 2w (0d = not kept)',
      )
        .env('NATTER_USERNAME_HOLD')
        .default(30 * 86_400_000, '30d')
        .argParser(durationMs),
    )
    .addOption(
      new Option('--audit-retention <duration>', "how long servers' audit log entries are kept: 30d, 12w, 365d")
        .env('NATTER_AUDIT_RETENTION')
        .default(90 * 86_400_000, '90d')
        .argParser(durationMs),
    )
    .addOption(
      new Option(
        '--moderation-webhook <url>',
        "a message classifier to ask about every message in servers' channels (POST, JSON; docs/moderation.md)",
      ).env('NATTER_MODERATION_WEBHOOK'),
    )
    .addOption(
      new Option('--moderation-threshold <score>', 'from this score (0 to 1) a message is flagged')
        .env('NATTER_MODERATION_THRESHOLD')
        .default(0.8)
        .argParser(score),
    )
    .addOption(
      new Option('--moderation-action <action>', 'what a flagged message gets')
        .choices(['block', 'hold', 'alert'])
        .env('NATTER_MODERATION_ACTION')
        .default('hold'),
    )
    .addOption(
      new Option('--moderation-fallback <fallback>', 'what a message gets while the classifier cannot answer')
        .choices(['allow', 'hold'])
        .env('NATTER_MODERATION_FALLBACK')
        .default('allow'),
    )
    .addOption(
      new Option('--moderation-timeout <ms>', 'how long one call to the classifier may take, in milliseconds')
        .env('NATTER_MODERATION_TIMEOUT')
        .default(500)
        .argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--session-idle <duration>',
        'a login session unused this long expires (bot tokens do not): 12h, 30d, 2w',
      )
        .env('NATTER_SESSION_IDLE')
        .default(90 * 86_400_000, '90d')
        .argParser(durationMs),
    )
    .addOption(
      new Option(
        '--registration <mode>',
        'who may create an account: open (anyone), invite (only with an invite code of one of its servers, which they join) or closed (nobody)',
      )
        .env('NATTER_REGISTRATION')
        .choices(['open', 'invite', 'closed'])
        .default('open'),
    )
    .addOption(
      new Option(
        '--deleted-messages <what>',
        'the messages of a deleted account: keep (shown as written by "deleted user") or remove (deleted for everyone)',
      )
        .env('NATTER_DELETED_MESSAGES')
        .choices(['keep', 'remove'])
        .default('keep'),
    )
    .addOption(
      new Option('--allow-origin <origin...>', 'extra Origins allowed to open WebSockets (e.g. https://chat.example)')
        .env('NATTER_ALLOW_ORIGIN')
        .default([]),
    )
    .addOption(
      new Option(
        '--allow-host <name>',
        "also answer to this Host name (IP addresses, localhost, --host and the certificate's names always work); repeat it or list names with commas; * accepts any",
      )
        .env('NATTER_ALLOWED_HOSTS')
        .default([])
        .argParser(list),
    )
    .addOption(
      new Option(
        '--tls-cert <file>',
        'serve HTTPS, WSS and TLS (TCP) with this PEM certificate chain (needs --tls-key; SIGHUP reloads both)',
      ).env('NATTER_TLS_CERT'),
    )
    .addOption(new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env('NATTER_TLS_KEY'))
    .addOption(
      new Option(
        '--trust-proxy <addr>',
        'reverse proxies (IPs or CIDR ranges; repeat or use commas) whose X-Forwarded-For and PROXY protocol headers name the client',
      )
        .env('NATTER_TRUST_PROXY')
        .default([])
        .argParser(list),
    )
    .addOption(
      new Option(
        '--media-dir <dir>',
        'where uploaded files are kept (default: media/ under --data; shared by a cluster)',
      ).env('NATTER_MEDIA_DIR'),
    )
    .addOption(
      new Option(
        '--public-url <url>',
        "the address clients reach this server's HTTP side at (https://chat.example.org), told to TCP clients for files",
      ).env('NATTER_PUBLIC_URL'),
    )
    .addOption(
      new Option(
        '--smtp-url <url>',
        'send mail (email confirmation, password reset) through this SMTP server: smtp://user:password@host:587 or smtps://…:465',
      ).env('NATTER_SMTP_URL'),
    )
    .addOption(
      new Option('--mail-from <address>', 'the From address of the mail natter sends (needed with --smtp-url)').env(
        'NATTER_MAIL_FROM',
      ),
    )
    .addOption(
      new Option(
        '--require-email',
        'new accounts must give an email address and confirm it before doing anything else (needs --smtp-url)',
      ).env('NATTER_REQUIRE_EMAIL'),
    )
    .addOption(
      new Option(
        '--unverified-ttl <duration>',
        'with --require-email: how long a new account has to confirm its address before it is removed: 12h, 48h, 7d',
      )
        .env('NATTER_UNVERIFIED_TTL')
        .default(48 * 3_600_000, '48h')
        .argParser(durationMs),
    )
    .addOption(
      new Option(
        '--limits <file>',
        'JSON file of rate limits and caps to change, e.g. {"sendPerUser": {"capacity": 20, "refillMs": 100}, "quotas": {"serversOwnedPerUser": 10}}',
      ).env('NATTER_LIMITS'),
    )
    .addOption(
      new Option('--backup-every <duration>', 'take a backup (database and uploaded files) this often: 6h, 1d')
        .env('NATTER_BACKUP_EVERY')
        .argParser(backupInterval),
    )
    .addOption(
      new Option('--backup-keep <n>', 'with --backup-every: how many of the newest backups to keep (default 7)')
        .env('NATTER_BACKUP_KEEP')
        .argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--backup-dir <dir>',
        'with --backup-every: where backups go (default: backups/ under --data; better another disk)',
      ).env('NATTER_BACKUP_DIR'),
    )
    .addOption(
      new Option('--log-level <level>', 'the least important log lines written (requests are logged at debug)')
        .env('NATTER_LOG_LEVEL')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']),
    )
    .addOption(
      new Option('--log-format <format>', 'log lines as JSON, for people (pretty), or pretty on a terminal only (auto)')
        .env('NATTER_LOG_FORMAT')
        .choices(['json', 'pretty', 'auto'])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--metrics',
        'serve Prometheus metrics at GET /metrics (off by default; beyond 127.0.0.1 needs --metrics-token or --metrics-listen)',
      ).env('NATTER_METRICS'),
    )
    .addOption(
      new Option(
        '--metrics-token <token>',
        'the Bearer token a scrape of /metrics must carry (at least 16 characters; prefer NATTER_METRICS_TOKEN: arguments show in ps)',
      ).env('NATTER_METRICS_TOKEN'),
    )
    .addOption(
      new Option(
        '--metrics-listen <host:port>',
        'serve /metrics on this address of its own instead of the main port (e.g. 127.0.0.1:9464)',
      ).env('NATTER_METRICS_LISTEN'),
    )
    .option('--quiet', 'log only warnings and errors (as --log-level warn): no start and stop lines')
    .action(lazy(serve, (m) => m.serve));
}

function backupCommand(): Command {
  return new Command('backup')
    .description(
      'back up the server, safely, even while it runs: the database to <file>, or everything --into a directory',
    )
    .argument('[file]', 'where to write a copy of the SQLite database alone (replaced only once complete and checked)')
    .addOption(
      new Option('--into <dir>', 'write a whole backup (database and uploaded files) into a new directory under <dir>'),
    )
    .addOption(dataOption('the data directory of the server'))
    .addOption(databaseOption("with --into: the server's PostgreSQL database instead (pg_dump)"))
    .addOption(
      new Option(
        '--media-dir <dir>',
        'with --into: where the server keeps uploaded files (default: media/ under --data)',
      ).env('NATTER_MEDIA_DIR'),
    )
    .action(lazy(backup, (m) => m.backup));
}

function restoreCommand(): Command {
  return new Command('restore')
    .description('restore a backup natter made into a data directory or a PostgreSQL database (the server stopped)')
    .argument('<backup>', 'a backup directory (natter-<time>), or a database file natter backup wrote')
    .addOption(dataOption('the data directory to restore into (its database is kept aside, not deleted)'))
    .addOption(databaseOption('the PostgreSQL database to restore a PostgreSQL backup into instead'))
    .addOption(
      new Option('--media-dir <dir>', 'where the server keeps uploaded files (default: media/ under --data)').env(
        'NATTER_MEDIA_DIR',
      ),
    )
    .option('--yes', 'restore into a PostgreSQL database that holds tables (dropping and replacing them)')
    .addHelpText(
      'after',
      `
Checks the backup first (the database's integrity, every file's SHA-256) and
changes nothing when it is damaged. Into a data directory: refused while a
server has its database open; the database there is kept as
natter.db.before-restore-<time>. Into PostgreSQL: refused while a natter
serves it, and when it holds tables unless --yes; pg_restore --clean in one
transaction. Exit codes: 0 restored, 1 refused or damaged, 2 usage,
4 PostgreSQL unreachable. See docs/operations.md.`,
    )
    .action(lazy(restore, (m) => m.restore));
}

/** `natter admin`: instance operators, named on the server's own database (not over the network). */
function adminCommand(): Command {
  const withDatabase = (cmd: Command): Command =>
    cmd
      .addOption(dataOption('the data directory natter serve runs with (its SQLite database)'))
      .addOption(databaseOption("natter serve's PostgreSQL database instead (postgres://user@host:5432/db)"));
  const grant = withDatabase(
    new Command('grant')
      .description('make someone an instance operator: they handle reports from DMs and groups, across the server')
      .argument('<username>'),
  ).action(lazy(admin, (m) => m.change(true)));
  const revoke = withDatabase(
    new Command('revoke').description('make an instance operator an ordinary user again').argument('<username>'),
  ).action(lazy(admin, (m) => m.change(false)));
  const list = withDatabase(new Command('list').description("the natter server's instance operators")).action(
    lazy(admin, (m) => m.list),
  );
  const users = withDatabase(
    new Command('users')
      .description('list accounts by username, or those whose username or display name holds SEARCH (any case)')
      .argument('[search]')
      .addOption(new Option('--limit <n>', 'at most this many (default 100)').argParser(positiveInt).default(100))
      .option('--after <username-key>', 'go on after this account (the next of a --json listing)')
      .option('--disabled', 'only disabled accounts'),
  ).action(lazy(adminUsers, (m) => m.users));
  const show = withDatabase(
    new Command('show')
      .description('one account: profile, email, dates, sessions, servers, messages, uploads, flags')
      .argument('<username>'),
  ).action(lazy(adminUsers, (m) => m.show));
  const disable = withDatabase(
    new Command('disable')
      .description('stop an account logging in or using its tokens; its connections close at once')
      .argument('<username>')
      .option('--reason <text>', 'why, for the output and the log of whoever runs this (not stored)'),
  ).action(lazy(adminUsers, (m) => m.disable));
  const enable = withDatabase(
    new Command('enable').description('let a disabled account log in again').argument('<username>'),
  ).action(lazy(adminUsers, (m) => m.enable));
  const remove = withDatabase(
    new Command('delete')
      .description('delete an account as natter account delete does (refused while it owns servers)')
      .argument('<username>')
      .option('--yes', 'do not ask (needed when stdin is not a terminal)')
      .addOption(
        new Option(
          '--deleted-messages <what>',
          'its messages: keep (as "deleted user") or remove; as natter serve is set',
        )
          .env('NATTER_DELETED_MESSAGES')
          .choices(['keep', 'remove'])
          .default('keep'),
      ),
  ).action(lazy(adminUsers, (m) => m.remove));
  const resetPassword = withDatabase(
    new Command('reset-password')
      .description('give an account a new random password (printed once) and end its sessions and bot tokens')
      .argument('<username>'),
  ).action(lazy(adminUsers, (m) => m.resetPassword));
  const sessionList = withDatabase(
    new Command('sessions').description("an account's login sessions and bot tokens").argument('<username>'),
  ).action(lazy(adminUsers, (m) => m.sessions));
  const end = withDatabase(
    new Command('end-sessions')
      .alias('logout')
      .description("end one of an account's sessions or bot tokens, or all of them; their connections close at once")
      .argument('<username>')
      .argument('[session-id]', 'one session or bot token (natter admin sessions lists them); all without it'),
  ).action(lazy(adminUsers, (m) => m.endSessions));
  const stats = withDatabase(
    new Command('stats')
      .description('counts of accounts, servers, channels, messages and uploads; database and media sizes')
      .addOption(
        new Option('--media-dir <dir>', 'where natter serve keeps uploaded files (default: media/ in --data)').env(
          'NATTER_MEDIA_DIR',
        ),
      ),
  ).action(lazy(adminUsers, (m) => m.stats));
  const mail = withDatabase(
    new Command('mail')
      .description('the mail outbox: mails waiting, sent and given up, and the latest failures with their errors')
      .addOption(
        new Option('--failures <n>', 'how many of the latest failures to list').default(10).argParser(positiveInt),
      ),
  ).action(lazy(admin, (m) => m.mail));
  return new Command('admin')
    .description("instance operators, named on the server's host in its own database (while it runs or not)")
    .addCommand(grant)
    .addCommand(revoke)
    .addCommand(list)
    .addCommand(users)
    .addCommand(show)
    .addCommand(disable)
    .addCommand(enable)
    .addCommand(remove)
    .addCommand(resetPassword)
    .addCommand(sessionList)
    .addCommand(end)
    .addCommand(stats)
    .addCommand(mail)
    .addHelpText(
      'after',
      `
Run these on the server's host, as the account natter serve runs as, with the
--data (or --database) it runs with: they change the server's database
directly, never over the network, and a running server sees the change at
once (disable, delete, reset-password and end-sessions close the account's
connections within a second). Every command takes --json. Exit codes: 0 done
(also when nothing needed changing), 1 refused (no such user, an owner of
servers, a database of an older natter), 2 usage (no database there), 4
PostgreSQL unreachable or the SQLite database busy. See docs/operations.md.`,
    );
}

function migrateDataCommand(): Command {
  return new Command('migrate-data')
    .description('move a SQLite installation into an empty PostgreSQL database, in one transaction, checked')
    .requiredOption('--from <dir>', 'the data directory of the SQLite server (or a database file natter backup wrote)')
    .requiredOption('--to <url>', 'the empty PostgreSQL database: postgres://user@host:5432/db')
    .addHelpText(
      'after',
      `
Reads one consistent snapshot of the SQLite database (the server may run; stop
it first for the final move), applies natter's PostgreSQL migrations, refuses a
database that holds any rows, copies every table in one transaction, checks
that each holds as many rows as in SQLite, and commits; on any failure nothing
is kept. Passwords, sessions, bot tokens, histories and event cursors carry
over. Give the PostgreSQL password in PGPASSWORD or ~/.pgpass rather than in
the URL. Exit codes: 0 moved, 1 refused or failed, 2 usage, 4 PostgreSQL
unreachable. See docs/operations.md.`,
    )
    .action(lazy(migrateData, (m) => m.migrateDataCommand));
}

/** `register` and `login`: both take a password, log in and keep the token in the config dir. */
function credentialCommand(name: 'register' | 'login', description: string): Command {
  const cmd = new Command(name)
    .description(description)
    .argument('<username>')
    .option('--password-stdin', 'read the password from the first line of stdin (else NATTER_PASSWORD, else a prompt)');
  if (name === 'login') return cmd.action(lazy(credentials, (m) => m.credentialAction(name)));
  return cmd
    .option(
      '--invite <code>',
      "an invite code of one of the server's communities: the account joins it (needed where the server takes accounts by invite only)",
    )
    .option(
      '--email <address>',
      'your email address: a code is mailed to it for natter email verify (needed where the server requires one)',
    )
    .action(lazy(credentials, (m) => m.credentialAction(name), { invite: '--invite', email: '--email' }));
}

function accountCommand(): Command {
  const remove = new Command('delete')
    .description('delete your account for good (asks you to type your username, then your password)')
    .option('--yes', 'do not ask for the username (needed when stdin is not a terminal)')
    .option('--password-stdin', 'read the password from the first line of stdin (else NATTER_PASSWORD, else a prompt)')
    .action(lazy(account, (m) => m.remove));
  const exported = new Command('export')
    .description("write everything the server holds about you to a JSON file (not your uploads' bytes)")
    .requiredOption('-o, --output <file>', 'the file to write, or - for stdout')
    .option('--force', 'replace the file if it exists')
    .action(lazy(account, (m) => m.exportAccount));
  return new Command('account')
    .description('your whole account: export what the server holds about you, or delete it')
    .addCommand(exported)
    .addCommand(remove);
}

function passwdCommand(): Command {
  return new Command('passwd')
    .description('change your password (other sessions are logged out)')
    .option(
      '--password-stdin',
      'read the current password from the first line of stdin and the new one from the second',
    )
    .option('--keep-bot-tokens', 'keep bot tokens working (by default they are revoked too)')
    .addHelpText('after', '\nWithout a terminal: NATTER_PASSWORD (current) and NATTER_NEW_PASSWORD (new) also work.')
    .action(lazy(passwd, (m) => m.passwd));
}

/** `natter email`: the account's address, confirmed with a mailed code. */
function emailCommand(): Command {
  return new Command('email')
    .description('your email address: show it, or set, confirm, resend or remove it')
    .addCommand(
      new Command('set')
        .description('mail a code to a new address (it replaces the confirmed one once confirmed)')
        .argument('<address>')
        .action(lazy(email, (m) => m.set, { address: '<address>' })),
    )
    .addCommand(
      new Command('verify')
        .description('confirm the address with the code mailed to it (ABCD-EFGH; any case, dash or not)')
        .argument('<code>')
        .action(lazy(email, (m) => m.verify, { code: '<code>' })),
    )
    .addCommand(
      new Command('resend')
        .description('mail a new code to the address waiting for confirmation')
        .action(lazy(email, (m) => m.resend)),
    )
    .addCommand(
      new Command('remove')
        .description('forget your email address (password reset by mail then stops working)')
        .action(lazy(email, (m) => m.remove)),
    )
    .action(lazy(email, (m) => m.show));
}

/** `natter password reset`: a new password with a code mailed to the account's confirmed address. */
function passwordCommand(): Command {
  const reset = new Command('reset')
    .description('forgot your password? mail a reset code to your confirmed address, then set a new password with it')
    .argument('[username]', 'the account whose password to reset')
    .option('--code <code>', 'the code from the mail: sets a new password (asked for, or --password-stdin)')
    .option('--user <username>', 'with --code: the account (default: the one of the last reset asked for from here)')
    .option('--password-stdin', 'with --code: read the new password from the first line of stdin')
    .addHelpText(
      'after',
      `
Step 1: natter password reset USERNAME mails a code (the answer is the same
whether or not the account has a confirmed address). Step 2: natter password
reset --code CODE asks for the new password; every session and bot token of
the account is then revoked. Without a terminal, NATTER_NEW_PASSWORD also works.`,
    )
    .action(lazy(passwordReset, (m) => m.reset, { code: '--code', newPassword: 'the new password' }));
  return new Command('password').description('password recovery by mail').addCommand(reset);
}

function sessionsCommand(): Command {
  const revoke = new Command('revoke')
    .description('revoke one of your sessions')
    .argument('<id>')
    .action(lazy(sessions, (m) => m.revoke));
  return new Command('sessions')
    .description('list your login sessions')
    .addCommand(revoke)
    .action(lazy(sessions, (m) => m.list));
}

function tokenCommand(): Command {
  const create = new Command('create')
    .description('create a bot token; the secret is printed once, on stdout')
    .argument('<name>')
    .action(lazy(token, (m) => m.create));
  const list = new Command('list').description('list your bot tokens').action(lazy(token, (m) => m.list));
  const revoke = new Command('revoke')
    .description('revoke a bot token (by id or name)')
    .argument('<id>')
    .action(lazy(token, (m) => m.revoke));
  return new Command('token')
    .description('bot tokens for scripts')
    .addCommand(create)
    .addCommand(list)
    .addCommand(revoke);
}

function profileCommand(): Command {
  return new Command('profile')
    .description('show your profile, or change it ("" clears a field)')
    .option('--display-name <text>', 'display name')
    .option('--status <text>', 'status line')
    .option('--bio <text>', 'bio')
    .option('--avatar <path>', 'profile picture: an image file (PNG, JPEG, WebP, GIF, AVIF), or none to remove it')
    .action(
      lazy(profile, (m) => m.profile, {
        displayName: '--display-name',
        status: '--status',
        bio: '--bio',
        avatar: '--avatar',
      }),
    );
}

/** Collects a repeatable option's values in order. */
function repeated(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function serverCommand(): Command {
  const create = new Command('create')
    .description('create a server (you own it; it starts with #general)')
    .argument('<name>')
    .option('--description <text>', 'what it is about')
    .action(lazy(server, (m) => m.create, { description: '--description' }));
  const edit = new Command('edit')
    .description('rename a server or change its description ("" clears it)')
    .argument('<server>')
    .option('--name <name>', 'new name')
    .option('--description <text>', 'new description')
    .action(lazy(server, (m) => m.edit, { name: '--name', description: '--description' }));
  const icon = new Command('icon')
    .description("set a server's icon from an image file, or remove it with none (owner and admins)")
    .argument('<server>')
    .argument('<path>', 'an image file (PNG, JPEG, WebP, GIF, AVIF), or none')
    .action(lazy(server, (m) => m.icon));
  const remove = new Command('delete')
    .description('delete a server with its channels and messages (owner only); asks first on a terminal')
    .argument('<server>')
    .option('--yes', 'do not ask (needed when stdin is not a terminal)')
    .action(lazy(server, (m) => m.remove));
  const transfer = new Command('transfer')
    .description('give a server to another member (owner only; you become an admin); asks first on a terminal')
    .argument('<server>')
    .argument('<username>')
    .option('--yes', 'do not ask (needed when stdin is not a terminal)')
    .action(lazy(server, (m) => m.transfer));
  return new Command('server')
    .description('create, edit, delete and transfer servers, and set their icons')
    .addCommand(create)
    .addCommand(edit)
    .addCommand(icon)
    .addCommand(remove)
    .addCommand(transfer);
}

function inviteCommand(): Command {
  const create = new Command('create')
    .description('create an invite code and print it')
    .argument('<server>')
    .addOption(new Option('--max-uses <n>', 'how many people may use it').argParser(positiveInt))
    .addOption(
      new Option('--expires <duration>', 'lifetime: 30m, 1h, 7d, 2w (from 1m to 365d)').argParser(inviteLifetime),
    )
    .action(lazy(invite, (m) => m.create, { maxUses: '--max-uses', expiresInSeconds: '--expires' }));
  const list = new Command('list')
    .description("a server's live invite codes")
    .argument('<server>')
    .action(lazy(invite, (m) => m.list));
  const revoke = new Command('revoke')
    .description('revoke an invite code')
    .argument('<server>')
    .argument('<code>')
    .action(lazy(invite, (m) => m.revoke));
  return new Command('invite').description('invite codes').addCommand(create).addCommand(list).addCommand(revoke);
}

function channelCommand(): Command {
  const create = new Command('create')
    .description('create a channel (owner and admins)')
    .argument('<server>')
    .argument('<channel>')
    .option('--topic <text>', 'its topic')
    .action(lazy(channel, (m) => m.create, { topic: '--topic' }));
  const rename = new Command('rename')
    .description('rename a channel')
    .argument('<server>')
    .argument('<channel>')
    .argument('<new-name>')
    .action(lazy(channel, (m) => m.rename));
  const remove = new Command('delete')
    .description('delete a channel and its messages')
    .argument('<server>')
    .argument('<channel>')
    .action(lazy(channel, (m) => m.remove));
  const topic = new Command('topic')
    .description("show a channel's topic, or set it (--clear clears it)")
    .argument('<server>')
    .argument('<channel>')
    .argument('[topic...]')
    .option('--clear', 'clear the topic')
    .action(lazy(channel, (m) => m.topic));
  return new Command('channel')
    .description('create, rename and delete channels, and set topics')
    .addCommand(create)
    .addCommand(rename)
    .addCommand(remove)
    .addCommand(topic);
}

/** `kick`, `ban` and `unban`: one shape, three requests. */
function moderationCommand(name: 'kick' | 'ban' | 'unban', description: string): Command {
  const cmd = new Command(name).description(description).argument('<server>').argument('<username>');
  cmd.option(
    '--reason <text>',
    name === 'ban'
      ? "why (shown in the ban list and kept in the server's audit log)"
      : "why (kept in the server's audit log)",
  );
  return cmd.action(lazy(moderation, (m) => m.moderationAction(name), { reason: '--reason' }));
}

/** `report`: a message by its number, or a user. */
function reportCommand(): Command {
  return (
    new Command('report')
      .description(
        "report a message to the server's moderators (in a DM or a group: to the instance's operators), or a user",
      )
      .argument('<target>', 'server/channel, @username (a DM) or +group with a message number; or @username alone')
      .argument('[seq]', 'the number of the message')
      .addOption(
        // ReportReason's values, written out: the CLI does not load zod to print its help (test/cli/reports.test.ts checks they match).
        new Option('--reason <reason>', 'why')
          .choices(['spam', 'harassment', 'inappropriate', 'illegal', 'other'])
          .makeOptionMandatory(),
      )
      .option('--details <text>', 'more, in your own words (up to 1000 characters)')
      // Not --server: that one names the natter server to connect to, for every command.
      .option('--in <server>', "a user: report them to this server's moderators (else to the instance's operators)")
      .action(lazy(reports, (m) => m.report, { details: '--details', serverId: '--in', reason: '--reason' }))
  );
}

/** `reports`: a server's queue or the operators', and `reports resolve`. */
function reportsCommand(): Command {
  const resolve = new Command('resolve')
    .description('resolve a report: delete the message, time out, kick or ban its author, or nothing')
    .argument('<id>', 'the report number', reportNumber)
    .addOption(
      new Option('--action <action>', 'what to do')
        .choices(['delete', 'timeout', 'kick', 'ban', 'none'])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--duration <duration>', 'with --action timeout: how long, 10m, 1h, 7d (at most 28d)').argParser(
        timeoutLength,
      ),
    )
    .option('--note <text>', 'for the other moderators (the reporter is told what was done, never the note)')
    .action(lazy(reports, (m) => m.resolve, { note: '--note', seconds: '--duration', action: '--action' }));
  return new Command('reports')
    .description("a server's reports, newest first (moderators and up); --instance: the operators' queue")
    .argument('[server]')
    .option('--instance', "the instance operators' queue: reports from DMs and groups, and of users outside any server")
    .addOption(
      new Option('--status <status>', 'which: open, resolved or all')
        .choices(['open', 'resolved', 'all'])
        .default('open'),
    )
    .addOption(new Option('--limit <n>', 'at most this many (default 50)').argParser(positiveInt))
    .addCommand(resolve)
    .action(lazy(reports, (m) => m.reports));
}

/** A repeatable option whose every value is one of `choices`. */
function oneOfEach(...choices: string[]) {
  return (value: string, previous: string[]): string[] => {
    if (!choices.includes(value)) {
      throw new InvalidArgumentError(`"${value}" is not one of ${choices.join(', ')}`);
    }
    return [...previous, value];
  };
}

/** `automod list|add|remove|enable|disable`: a server's automatic moderation rules. */
function automodCommand(): Command {
  const add = new Command('add')
    .description(
      'add a rule: what it matches (one of --keyword, --regex, --preset, --mentions, --flood) and what it does',
    )
    .argument('<server>')
    .option('--name <name>', 'what to call it (default: its kind)')
    .option('--keyword <words>', 'keywords, comma-separated: word, word*, *word, *word* (repeatable)', list, [])
    .option('--allow <words>', 'words never matched, comma-separated (with --keyword or --preset)', list, [])
    .option(
      '--regex <pattern>',
      'a regular expression, RE2 syntax, case-insensitive (repeatable)',
      (v: string, p: string[]) => [...p, v],
      [],
    )
    .addOption(new Option('--preset <preset>', 'a built-in word list').choices(['profanity']))
    .option('--mentions <n>', 'messages that mention more than N different people', positiveInt)
    .option('--flood <n/time>', 'more than N messages from one person within a time: 5/10s, 10/1m', floodLimit)
    .addOption(
      new Option('--action <action>', 'what happens to a matching message: block, hold, alert, timeout (repeatable)')
        .argParser(oneOfEach('block', 'hold', 'alert', 'timeout'))
        .default([]),
    )
    .option('--message <text>', "with --action block: what the sender is told instead of the server's words")
    .option('--alert-channel <channel>', 'with --action alert: the channel the moderators read')
    .option(
      '--timeout <duration>',
      'with --action timeout: how long the sender is timed out (10m, 1h, 7d)',
      timeoutLength,
    )
    .addOption(
      new Option(
        '--exempt-role <role>',
        'a role the rule leaves alone, with the roles above it: moderator, admin, owner',
      )
        .argParser(oneOfEach('member', 'moderator', 'admin', 'owner'))
        .default([]),
    )
    .option(
      '--exempt-channel <channel>',
      'a channel the rule leaves alone (repeatable)',
      (v: string, p: string[]) => [...p, v],
      [],
    )
    .option('--reason <text>', "why (kept in the server's audit log)")
    .action(lazy(automod, (m) => m.add, { reason: '--reason' }));
  return new Command('automod')
    .description("a server's automatic moderation rules (admins add and remove them; moderators list them)")
    .addCommand(
      new Command('list')
        .description('the rules, what each matches and does')
        .argument('<server>')
        .action(lazy(automod, (m) => m.list)),
    )
    .addCommand(add)
    .addCommand(
      new Command('remove')
        .description('remove a rule')
        .argument('<server>')
        .argument('<name>')
        .option('--reason <text>', "why (kept in the server's audit log)")
        .action(lazy(automod, (m) => m.remove, { reason: '--reason' })),
    )
    .addCommand(
      new Command('enable')
        .description('turn a rule back on')
        .argument('<server>')
        .argument('<name>')
        .option('--reason <text>', "why (kept in the server's audit log)")
        .action(lazy(automod, (m) => m.toggle(true), { reason: '--reason' })),
    )
    .addCommand(
      new Command('disable')
        .description('turn a rule off, keeping it')
        .argument('<server>')
        .argument('<name>')
        .option('--reason <text>', "why (kept in the server's audit log)")
        .action(lazy(automod, (m) => m.toggle(false), { reason: '--reason' })),
    );
}

/** `hold list|approve|reject`: messages held for review. */
function holdCommand(): Command {
  const decide = (name: 'approve' | 'reject', description: string) =>
    new Command(name)
      .description(description)
      .argument('<server>')
      .argument('<id>', 'the held message: its id, or its start as `natter hold list` shows it')
      .option('--reason <text>', "why (told to its author and kept in the server's audit log)")
      .action(lazy(automod, (m) => m.holdDecide(name), { reason: '--reason' }));
  return new Command('hold')
    .description('messages held for review by the automatic moderation rules (moderators and up)')
    .addCommand(
      new Command('list')
        .description('the held messages, oldest first')
        .argument('<server>')
        .action(lazy(automod, (m) => m.holdList)),
    )
    .addCommand(decide('approve', 'post a held message, as sent now by its author'))
    .addCommand(decide('reject', 'throw a held message away; its author is told'));
}

function groupCommand(): Command {
  const create = new Command('create')
    .description('create a private group with these people')
    .argument('<name>')
    .argument('<username...>')
    .action(lazy(group, (m) => m.create));
  const add = new Command('add')
    .description('add people to a group')
    .argument('<group>')
    .argument('<username...>')
    .action(lazy(group, (m) => m.add));
  const leave = new Command('leave')
    .description('leave a group')
    .argument('<group>')
    .action(lazy(group, (m) => m.leave));
  const invitations = new Command('invitations')
    .description('group invitations waiting for your answer')
    .action(lazy(group, (m) => m.invitations));
  const accept = new Command('accept')
    .description('accept an invitation to a group')
    .argument('<group>', 'the group, by name or id')
    .action(lazy(group, (m) => m.accept));
  const decline = new Command('decline')
    .description('decline an invitation to a group')
    .argument('<group>', 'the group, by name or id')
    .action(lazy(group, (m) => m.decline));
  return new Command('group')
    .description('private groups')
    .addCommand(create)
    .addCommand(add)
    .addCommand(leave)
    .addCommand(invitations)
    .addCommand(accept)
    .addCommand(decline);
}

function settingsCommand(): Command {
  return new Command('settings')
    .description('show your settings, or change them')
    .addOption(
      new Option(
        '--group-adds <who>',
        'who may add you to groups directly: everyone, contacts (people who share a server or group with you) or invite (nobody: every add is an invitation)',
      ).choices(['everyone', 'contacts', 'invite']),
    )
    .action(lazy(social, (m) => m.settings));
}

function historyCommand(): Command {
  return new Command('history')
    .description('print messages of a conversation, oldest first (the latest 50 by default)')
    .argument('<target>', 'server/channel, @username or +group')
    .addOption(new Option('--limit <n>', 'how many (1 to 100)').argParser(positiveInt))
    .addOption(new Option('--before <seq>', 'only messages before this number').argParser(nonNegativeInt))
    .addOption(new Option('--after <seq>', 'only messages after this number').argParser(nonNegativeInt))
    .action(lazy(history, (m) => m.history, { limit: '--limit', before: '--before', after: '--after' }));
}

function searchCommand(): Command {
  return new Command('search')
    .description(
      'find messages you can read that hold all these words (any case or accents; the last word may be the start of one), newest first',
    )
    .argument('<words...>', 'what to look for (put -- before words that start with -)')
    .addOption(new Option('--in <target>', 'only in this conversation: server/channel, @username or +group'))
    .addOption(new Option('--from <username>', 'only messages this person wrote'))
    .addOption(
      new Option('--limit <n>', 'print at most this many, newest first (default 100, at most 1000)').argParser(
        positiveInt,
      ),
    )
    .action(lazy(search, (m) => m.search, { from: '--from', conversationId: '--in' }));
}

/** Every command, in the order `natter --help` lists them. */
function commands(): Command[] {
  return [
    serveCommand(),
    backupCommand(),
    restoreCommand(),
    migrateDataCommand(),
    adminCommand(),
    credentialCommand('register', 'create an account and log in (the token is kept in the config dir)'),
    credentialCommand('login', 'log in and keep the session token in the config dir'),
    new Command('logout').description('revoke the session and forget its token').action(lazy(logout, (m) => m.logout)),
    new Command('whoami').description('show who you are logged in as').action(lazy(whoami, (m) => m.whoami)),
    passwdCommand(),
    accountCommand(),
    passwordCommand(),
    emailCommand(),
    sessionsCommand(),
    tokenCommand(),
    profileCommand(),
    new Command('rename')
      .description('change your username')
      .argument('<new-username>')
      .action(lazy(rename, (m) => m.rename)),
    new Command('servers').description('list the servers you are a member of').action(lazy(servers, (m) => m.servers)),
    serverCommand(),
    new Command('members')
      .description("a server's members, with role and presence")
      .argument('<server>')
      .action(lazy(members, (m) => m.members)),
    new Command('online')
      .description('who is online in a server right now')
      .argument('<server>')
      .action(lazy(online, (m) => m.online)),
    new Command('unread')
      .description('the conversations with unread messages and mentions, mentions first')
      .action(lazy(unreadCommand, (m) => m.unread)),
    inviteCommand(),
    new Command('join')
      .description('join a server with an invite code')
      .argument('<code>')
      .action(lazy(join, (m) => m.join)),
    new Command('leave')
      .description('leave a server')
      .argument('<server>')
      .action(lazy(leave, (m) => m.leave)),
    new Command('channels')
      .description("a server's channels")
      .argument('<server>')
      .action(lazy(channels, (m) => m.channels)),
    channelCommand(),
    automodCommand(),
    holdCommand(),
    moderationCommand('kick', 'remove a member from a server (they may rejoin)'),
    moderationCommand('ban', 'ban a user from a server'),
    moderationCommand('unban', 'lift a ban'),
    new Command('bans')
      .description("a server's bans (moderators and up)")
      .argument('<server>')
      .action(lazy(bans, (m) => m.bans)),
    new Command('role')
      .description("set a member's role: admin (owner only), moderator or member (owner and admins)")
      .argument('<server>')
      .argument('<username>')
      .addArgument(new Argument('<role>').choices(['admin', 'moderator', 'member']))
      .option('--reason <text>', "why (kept in the server's audit log)")
      .action(lazy(role, (m) => m.role, { reason: '--reason' })),
    new Command('timeout')
      .description('stop a member from sending or editing in a server for a while (moderators and up)')
      .argument('<server>')
      .argument('<username>')
      .argument('<duration>', 'how long: 10m, 1h, 7d (at most 28d)', timeoutLength)
      .option('--reason <text>', "why (shown to the server's members and kept in its audit log)")
      .action(lazy(timeouts, (m) => m.timeout, { reason: '--reason' })),
    new Command('untimeout')
      .description("lift a member's timeout early (moderators and up)")
      .argument('<server>')
      .argument('<username>')
      .option('--reason <text>', "why (kept in the server's audit log)")
      .action(lazy(timeouts, (m) => m.untimeout, { reason: '--reason' })),
    new Command('slowmode')
      .description('show or set slow mode: how long members wait between two messages in a channel (moderators and up)')
      .argument('<server/channel>')
      .argument('[seconds]', '30, 30s, 5m, 1h (at most 6h), or off', slowmodeLength)
      .option('--reason <text>', "why (kept in the server's audit log)")
      .action(lazy(timeouts, (m) => m.slowmode, { reason: '--reason' })),
    new Command('audit')
      .description("a server's audit log, newest first: who kicked, banned, deleted, changed what (moderators and up)")
      .argument('<server>')
      .addOption(
        // AuditAction's values, written out: the CLI does not load zod to print its help (test/cli/moderation.test.ts checks they match).
        new Option('--action <action>', 'only this kind of entry').choices([
          'member.kick',
          'member.ban',
          'member.unban',
          'member.role',
          'member.timeout',
          'member.untimeout',
          'message.delete',
          'channel.create',
          'channel.update',
          'channel.slowmode',
          'channel.delete',
          'invite.create',
          'invite.revoke',
          'server.update',
          'server.transfer',
          'report.resolve',
          'automod.create',
          'automod.update',
          'automod.delete',
          'automod.flag',
          'held.approve',
          'held.reject',
        ]),
      )
      .option('--actor <username>', 'only what this person did')
      .addOption(new Option('--limit <n>', 'at most this many entries (default 50)').argParser(positiveInt))
      .action(lazy(audit, (m) => m.audit, { actor: '--actor' })),
    reportCommand(),
    reportsCommand(),
    new Command('groups').description('list the groups you are in').action(lazy(groups, (m) => m.groups)),
    groupCommand(),
    new Command('dms').description('your direct-message conversations').action(lazy(dms, (m) => m.dms)),
    new Command('block')
      .description('block a user: no DMs, group adds or mention notifications between you')
      .argument('<username>')
      .action(lazy(social, (m) => m.block)),
    new Command('unblock')
      .description('unblock a user')
      .argument('<username>')
      .action(lazy(social, (m) => m.unblock)),
    new Command('blocks').description('the users you blocked').action(lazy(social, (m) => m.blocks)),
    settingsCommand(),
    new Command('send')
      .description('send one message (the text from stdin when neither text nor files are given)')
      .argument('<target>', 'server/channel, @username or +group')
      .argument('[text...]', 'the message')
      .option('--me', 'send it as an action: `natter send acme/general --me waves` shows as "* alice waves"')
      .option('--file <path>', 'attach a file (repeat for more, up to 10); the text is then optional', repeated)
      .action(lazy(send, (m) => m.send, { attachments: '--file' })),
    new Command('upload')
      .description('send a file alone as a message (what `send --file` does without text)')
      .argument('<path>', 'the file')
      .requiredOption('--to <target>', 'where: server/channel, @username or +group')
      .action(lazy(upload, (m) => m.upload)),
    new Command('download')
      .description('download a file by its id (natter history shows them), under its own name here by default')
      .argument('<id>', "the file's id (or its /media/v1/… URL)")
      .option('-o, --output <path>', 'where to: a file name, a directory (or a path ending in /), or - for stdout')
      .option('--force', 'replace a file that is there already')
      .action(lazy(download, (m) => m.download)),
    historyCommand(),
    searchCommand(),
    new Command('edit')
      .description('edit one of your messages, by its number')
      .argument('<target>')
      .argument('<seq>')
      .argument('<text...>')
      .action(lazy(edit, (m) => m.edit)),
    new Command('delete')
      .description("delete a message, by its number (moderators: someone else's, in a server's channel)")
      .argument('<target>')
      .argument('<seq>')
      .option('--reason <text>', "why, when it is someone else's message (kept in the server's audit log)")
      .action(lazy(del, (m) => m.remove, { reason: '--reason' })),
    new Command('read')
      .description('mark a conversation read (up to its latest message, or --seq)')
      .argument('<target>')
      .addOption(new Option('--seq <n>', 'read up to this message number').argParser(nonNegativeInt))
      .action(lazy(read, (m) => m.read, { seq: '--seq' })),
    new Command('listen')
      .description('print events as they happen, until interrupted (with --json: one JSON object per line)')
      .argument('[target...]', 'only these: server, server/channel, @username, +group')
      .action(lazy(listen, (m) => m.listen)),
    new Command('tui')
      .description('open the terminal app (what a bare `natter` does on a terminal)')
      .action(lazy(tui, (m) => (_opts: unknown, cmd: Command) => m.startTui(cmd))),
  ];
}

export function buildProgram(): Command {
  const program = new Command('natter')
    .description('natter: self-hosted chat for the terminal')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(
      new Option('--server <url>', 'the server: ws://, wss://, tcp:// or tls:// URL')
        .env('NATTER_SERVER')
        .default('ws://127.0.0.1:7777')
        .argParser(serverUrl),
    )
    .addOption(
      new Option(
        '--ca <file>',
        "check wss:// and tls:// servers' certificates against the CAs in this PEM file (instead of the public ones)",
      ).env('NATTER_CA'),
    )
    .addOption(
      new Option(
        '--config-dir <dir>',
        'where credentials are kept (default: $XDG_CONFIG_HOME/natter or ~/.config/natter)',
      ).env('NATTER_HOME'),
    )
    .option('--json', 'machine-readable output: one JSON document on stdout (NDJSON for listen)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nTargets: server/channel, @username (DM), +group; names or ids.\nExit codes: 0 ok, 1 refused by the server, 2 usage, 3 not logged in, 4 server unreachable (or its certificate not trusted).\nSee docs/cli.md.',
    );
  for (const cmd of commands()) program.addCommand(cmd);
  // A bare `natter` on a terminal opens the app; elsewhere (pipes, scripts) it prints help.
  // Words that are no command get here too: `help send`, `version`, a typo.
  program.allowExcessArguments(true);
  program.action(async (_opts, cmd: Command) => {
    const [first, ...rest] = cmd.args;
    if (first === undefined) {
      if (process.stdin.isTTY && process.stdout.isTTY) await (await tui()).startTui(cmd);
      else program.help();
      return;
    }
    if (first === 'help') {
      const topic = rest[0];
      const sub = topic === undefined ? undefined : findCommand(program, topic);
      if (topic !== undefined && !sub) throw unknownCommand(program, topic);
      (sub ?? program).help();
    }
    if (first === 'version' && rest.length === 0) {
      process.stdout.write(`${VERSION}\n`);
      return;
    }
    throw unknownCommand(program, first);
  });
  return program;
}

/** The command named `name` (or one of its aliases). */
function findCommand(program: Command, name: string): Command | undefined {
  return program.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/** Edit distance of two short words: letters changed, added, dropped or swapped with the next. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** "unknown command", with the nearest commands when the word looks like a typo of them. */
function unknownCommand(program: Command, word: string): Error {
  const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  const near = names
    .map((n) => ({ n, d: distance(word.toLowerCase(), n) }))
    .filter(({ n, d }) => d <= Math.max(1, Math.floor(n.length / 3)))
    .sort((x, y) => x.d - y.d)
    .map(({ n }) => n);
  const hint = near.length > 0 ? `; did you mean ${near.slice(0, 3).join(' or ')}?` : '';
  return usageError(`unknown command "${word}"${hint} (natter --help lists them)`);
}
