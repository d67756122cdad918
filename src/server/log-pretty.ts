/** Fields every line has, shown in the line's head rather than after the message. */
const HEAD = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'err']);
const COLOURS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[36m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** A value as `key=value` shows it: bare when it has no spaces or quotes, JSON otherwise. */
function shown(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * One JSON log line made readable: `12:03:04.567 INFO  message key=value`,
 * then an error's stack, indented. A line that is not JSON passes unchanged.
 */
export function formatPretty(line: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const level = String(entry.level ?? '');
  const label = level.toUpperCase().padEnd(5);
  const head = colour ? `${DIM}${time}${RESET} ${COLOURS[level] ?? ''}${label}${RESET}` : `${time} ${label}`;
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD.has(key))
    .map(([key, value]) => `${key}=${shown(value)}`)
    .join(' ');
  let text = `${head} ${String(entry.msg ?? '')}${fields ? (colour ? ` ${DIM}${fields}${RESET}` : ` ${fields}`) : ''}\n`;
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const detail = typeof err.stack === 'string' ? err.stack : String(err.message ?? '');
    text += `${detail.replace(/^/gm, '    ')}\n`;
  }
  return text;
}
