import { type DestinationStream, type Logger as Pino, pino } from 'pino';
import { formatPretty } from './log-pretty.js';

/** The log levels, quietest last; `silent` writes nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `json`: one JSON object a line; `pretty`: lines for a person; `auto`: pretty on a terminal, JSON otherwise. */
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Structured fields of a log line (`reqId`, `op`, `userId`...). */
export type LogFields = Record<string, unknown>;

/**
 * natter's logger, in front of pino. The second argument of every method is
 * optional: an `Error` (logged with its stack under `err`), a plain object of
 * fields (an `err` among them is logged as an error), or anything else
 * (logged as `detail`). Secrets never reach the output: see {@link scrub}.
 */
export type Logger = {
  trace(message: string, extra?: unknown): void;
  debug(message: string, extra?: unknown): void;
  info(message: string, extra?: unknown): void;
  /** Something the operator should fix, though the server runs. */
  warn(message: string, extra?: unknown): void;
  error(message: string, extra?: unknown): void;
  /** A logger whose every line carries `bindings` as well. */
  child(bindings: LogFields): Logger;
  /** Whether a line at `level` would be written (to skip building costly fields). */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** Resolves once every line logged so far has been handed to the operating system. */
  flush(): Promise<void>;
  /** Writes out what is buffered before the process exits (after a crash). */
  flushSync(): void;
};

export type LoggerOptions = {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go: stderr by default (tests pass their own stream). */
  stream?: DestinationStream & { isTTY?: boolean };
};

/**
 * Field paths pino censors, whatever the code that logs them: the names the
 * protocol and configuration give to secrets. {@link scrub} also censors
 * these keys at any depth and secrets inside free text.
 */
export const REDACT_PATHS = [
  'password',
  'currentPassword',
  'newPassword',
  'token',
  'code',
  'email',
  'smtp',
  'smtpUrl',
  'authorization',
  'cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.code',
  '*.email',
  '*.smtpUrl',
  '*.authorization',
  '*.cookie',
  'params.*.token',
  'params.*.password',
];

const CENSOR = '[redacted]';
/** Keys whose values are secrets or personal data, at any depth. */
const SECRET_KEY = /pass(word)?|secret|token|^code$|otp|e-?mail|authori[sz]ation|cookie|^smtp(url)?$/i;
/** `scheme://user:password@host`: the password part. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;
/** natter's own tokens (`nts_` sessions, `ntb_` bots, and any other `nt?_` secret). */
const NATTER_TOKEN = /\bnt[a-z]_[A-Za-z0-9_-]{16,}/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/** Free text with URL passwords, natter tokens and email addresses censored. */
export function scrubText(text: string): string {
  return text.replace(URL_PASSWORD, `$1${CENSOR}@`).replace(NATTER_TOKEN, CENSOR).replace(EMAIL, '[email]');
}

/**
 * A copy of `value` safe to log: secret keys censored at any depth, secrets in
 * strings censored, errors reduced to type, code, message and stack.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return errorFields(value, depth);
  if (depth >= 4) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => scrub(v, depth + 1));
  const out: LogFields = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v !== undefined && v !== null ? CENSOR : scrub(v, depth + 1);
  }
  return out;
}

function errorFields(err: Error, depth: number): LogFields {
  const out: LogFields = { type: err.name, message: scrubText(err.message) };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.stack) out.stack = scrubText(err.stack);
  if (err.cause !== undefined && depth < 3) out.cause = scrub(err.cause, depth + 1);
  return out;
}

function isPlainObject(value: unknown): value is LogFields {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The fields of a line from a method's optional second argument. */
function fieldsOf(extra: unknown): LogFields | undefined {
  if (extra === undefined) return undefined;
  if (extra instanceof Error) return { err: errorFields(extra, 0) };
  if (isPlainObject(extra)) return scrub(extra) as LogFields;
  return { detail: scrubText(String(extra)) };
}

function wrap(p: Pino): Logger {
  const at =
    (level: Exclude<LogLevel, 'silent'>) =>
    (message: string, extra?: unknown): void => {
      if (!p.isLevelEnabled(level)) return;
      const fields = fieldsOf(extra);
      if (fields) p[level](fields, scrubText(message));
      else p[level](scrubText(message));
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => wrap(p.child(scrub(bindings) as LogFields)),
    enabled: (level) => p.isLevelEnabled(level),
    flush: () => new Promise((resolve) => p.flush(() => resolve())),
    flushSync: () => {
      const stream = (p as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void };
      try {
        stream.flushSync?.();
      } catch {
        // Not open yet, or already closed: nothing is waiting.
      }
    },
  };
}

/** A logger that writes nothing (tests, `log: false`). */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
  enabled: () => false,
  flush: () => Promise.resolve(),
  flushSync() {},
};

/**
 * A logger writing one line per event to stderr: JSON objects (`time`,
 * `level`, `msg` and fields) for journald and log shippers, or, with format
 * `pretty` (or `auto` on a terminal), lines for a person.
 */
export function createLogger(options: LoggerOptions | boolean): Logger {
  const opts: LoggerOptions =
    typeof options === 'boolean' ? { level: options ? 'info' : 'silent', format: 'auto' } : options;
  if (opts.level === 'silent') return silentLogger;
  // Synchronous writes: a line is out before the next statement runs, so
  // nothing is lost when the process crashes or exits; at the default level
  // natter writes a few lines an hour, and at debug one per request.
  const out = opts.stream ?? pino.destination({ dest: 2, sync: true });
  const tty = opts.stream ? opts.stream.isTTY === true : process.stderr.isTTY === true;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && tty);
  const colour = pretty && tty && !process.env.NO_COLOR;
  const flushable = out as DestinationStream & { flush?: (cb: () => void) => void; flushSync?: () => void };
  const stream = pretty
    ? {
        write: (line: string) => out.write(formatPretty(line, colour)),
        flush: (cb: () => void) => (flushable.flush ? flushable.flush(cb) : cb()),
        flushSync: () => flushable.flushSync?.(),
      }
    : out;
  const p = pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Errors arrive already reduced to plain fields (see errorFields), secrets censored.
      serializers: { err: (err: unknown) => err },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
    },
    stream,
  );
  return wrap(p);
}

/** Whether `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * A logger made of the methods given, the others doing nothing (tests that
 * keep the lines they hear). `child` returns the same logger.
 */
export function loggerOf(parts: Partial<Pick<Logger, 'trace' | 'debug' | 'info' | 'warn' | 'error'>>): Logger {
  const logger: Logger = { ...silentLogger, ...parts, child: () => logger, enabled: () => true };
  return logger;
}
