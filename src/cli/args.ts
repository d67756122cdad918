import { parseServerList } from '../client/servers.js';
import { InvalidArgumentError } from './commander.js';

// commander argParsers for the command definitions in program.ts. Only commander
// here: these load on every run, --help and --version included.

/** --server: a ws://, wss://, tcp:// or tls:// URL, or several separated by commas (tried in turn). */
export function serverUrl(value: string): string {
  try {
    return parseServerList(value).join(',');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A repeatable option that also takes comma-separated lists: each value adds to the ones before. */
export function list(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  ];
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** A report's number: `12` or `#12`. */
export function reportNumber(value: string): number {
  const n = Number(value.replace(/^#/, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a report number, such as 12');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
}

/** `--commit-window`: milliseconds, 0 to 1000. */
export function commitWindow(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 1000)
    throw new InvalidArgumentError('expected milliseconds from 0 to 1000');
  return n;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90s`, `30m`, `1h`, `7d`, `2w` -> seconds; `examples` go in the message for anything else. */
export function duration(value: string, examples = '30m, 1h, 7d or 2w'): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  const unit = m?.[2];
  if (!m || !unit) throw new InvalidArgumentError(`expected a duration such as ${examples}`);
  return Number(m[1]) * (UNITS[unit] ?? 1);
}

/** `invite create --expires`: a lifetime from one minute to one year, in seconds. */
export function inviteLifetime(value: string): number {
  const seconds = duration(value);
  if (seconds < 60) throw new InvalidArgumentError('an invite lives at least 1m (one minute)');
  if (seconds > 365 * 86_400) throw new InvalidArgumentError('an invite lives at most 365d (one year)');
  return seconds;
}

/** `--moderation-threshold`: a score from 0 to 1. */
export function score(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('expected a score from 0 to 1, such as 0.8');
  return n;
}

/** `automod add --flood`: `5/10s` (more than 5 messages within 10 seconds), `10/1m`. */
export function floodLimit(value: string): { messages: number; seconds: number } {
  const m = /^(\d+)\s*\/\s*(\d+\s*[smhdw]?)$/.exec(value.trim());
  if (!m?.[1] || !m[2]) throw new InvalidArgumentError('expected messages/time, such as 5/10s or 10/1m');
  const time = m[2].trim();
  const seconds = /^\d+$/.test(time) ? Number(time) : duration(time, '10s or 1m');
  return { messages: Number(m[1]), seconds };
}

/** `natter timeout`: how long, from 1s to 28d, in seconds. */
export function timeoutLength(value: string): number {
  const seconds = duration(value, '10m, 1h or 7d');
  if (seconds < 1) throw new InvalidArgumentError('a timeout lasts at least 1s');
  if (seconds > 28 * 86_400) throw new InvalidArgumentError('a timeout lasts at most 28d');
  return seconds;
}

/** `natter slowmode`: seconds between two messages (`30`, `30s`, `5m`), up to 6h; `0` or `off` turns it off. */
export function slowmodeLength(value: string): number {
  const v = value.trim().toLowerCase();
  if (v === 'off') return 0;
  const seconds = /^\d+$/.test(v) ? Number(v) : duration(v, '30 (seconds), 30s, 5m, 1h, or off');
  if (!Number.isSafeInteger(seconds) || seconds > 6 * 3600)
    throw new InvalidArgumentError('slow mode is at most 6h (21600 seconds) between two messages');
  return seconds;
}

/** `--node-timeout`: a duration from 3s to 1h, in milliseconds. */
export function nodeTimeout(value: string): number {
  const seconds = duration(value, '30s, 10s or 2m');
  if (seconds < 3) throw new InvalidArgumentError('a node timeout is at least 3s');
  if (seconds > 3600) throw new InvalidArgumentError('a node timeout is at most 1h');
  return seconds * 1000;
}

/** `--backup-every`: a duration from 1m to 365d, in milliseconds. */
export function backupInterval(value: string): number {
  const seconds = duration(value, '6h, 1d or 30m');
  if (seconds < 60) throw new InvalidArgumentError('backups are at least 1m (one minute) apart');
  if (seconds > 365 * 86_400) throw new InvalidArgumentError('backups are at most 365d apart');
  return seconds * 1000;
}

/** `--username-hold`, `--session-idle`: a duration such as `12h`, `30d` or `2w`, in milliseconds (what the server takes). */
export function durationMs(value: string): number {
  return duration(value) * 1000;
}

/** A TCP port; 0 means any free one (or, for --tcp-port, none). */
export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

export function niceValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new InvalidArgumentError('expected a nice value from 0 to 19');
  return n;
}

export function bcryptCost(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 4 || n > 31) throw new InvalidArgumentError('expected a bcrypt cost from 4 to 31');
  return n;
}
