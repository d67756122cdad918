import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Named, sameNameWarning } from '../client/names.js';
import { sanitize } from '../tui/sanitize.js';
import { CliError, EXIT, usageError } from './errors.js';

// Helpers shared by the client commands. Node built-ins only: the client (ws)
// is imported lazily by session.ts, and the protocol (zod) never on this path.

export { CliError, EXIT, notFound, usageError } from './errors.js';

/** Options every client command understands (set on the root program). */
export type Globals = {
  server: string;
  configDir: string;
  json: boolean;
  /** `--ca`: a PEM file of certificate authorities for wss:// and tls:// servers. */
  ca: string | null;
};

/**
 * The certificate authorities of `--ca` (NATTER_CA), or undefined when it is
 * not set. A file that cannot be read or holds no certificate is a usage error.
 */
export function readCa(g: Globals): string | undefined {
  if (g.ca === null) return undefined;
  let pem: string;
  try {
    pem = readFileSync(g.ca, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw usageError(`cannot read --ca ${g.ca}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw usageError(`--ca ${g.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

/**
 * The client's TLS options for `url` (one URL or a comma-separated list): the
 * `--ca` authorities when it has a wss:// or tls:// URL, else none. The client
 * uses them for each wss:// and tls:// server of a list.
 */
export function tlsOptions(url: string, ca: string | undefined): { ca?: string } {
  return ca !== undefined && /(^|,)\s*(wss|tls):/i.test(url) ? { ca } : {};
}

/**
 * The CLI's error for a connection that could not be made (exit 4): the
 * server was not reached, or its certificate did not verify (then what to do).
 */
export function connectionError(url: string, err: unknown): CliError {
  const e = err as Error & { code?: string; failures?: { url: string; error: Error & { code?: string } }[] };
  if (e instanceof Error && e.name === 'ServersUnreachableError' && e.failures) {
    // Several servers: why each did not answer, the same way as for one.
    const each = e.failures.map(
      (f) => `${f.url}: ${connectionError(f.url, f.error).message.replace(/^cannot reach the server at \S+: /, '')}`,
    );
    const untrusted = e.failures.every((f) => f.error.name === 'CertificateError');
    return new CliError(
      EXIT.unreachable,
      untrusted ? 'untrusted_certificate' : 'unreachable',
      `cannot reach any of the servers: ${each.join('; ')}`,
    );
  }
  if (e instanceof Error && e.name === 'CertificateError') {
    const hint =
      e.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `connect with a name the certificate holds (--server ${url})`
        : e.code === 'CERT_HAS_EXPIRED' || e.code === 'CERT_NOT_YET_VALID'
          ? "the server's operator must renew it (or this machine's clock is wrong)"
          : 'pass --ca FILE if it is signed by your own CA';
    return new CliError(EXIT.unreachable, 'untrusted_certificate', `${e.message}; ${hint}`);
  }
  const message = e instanceof Error ? e.message : String(err);
  const why = e.code && !message.includes(e.code) ? `${e.code} ${message}` : message;
  return new CliError(EXIT.unreachable, 'unreachable', `cannot reach the server at ${url}: ${why}`);
}

/** The default config directory: $XDG_CONFIG_HOME/natter, or ~/.config/natter. */
export function defaultConfigDir(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.config'), 'natter');
}

/**
 * The key a server's credentials are stored under: the URL without a trailing
 * slash. A list (a cluster, one account on all its nodes) is one key: each URL
 * so, joined with commas, in the order given.
 */
export function serverKey(url: string): string {
  return url
    .split(',')
    .map((one) => {
      const u = one.trim();
      try {
        return new URL(u).href.replace(/\/+$/, '');
      } catch {
        return u;
      }
    })
    .join(',');
}

// ---------------------------------------------------------------- credentials

export type Credential = {
  token: string;
  username: string;
  userId: string;
  sessionId: string | null;
  savedAt: number;
};

type CredentialsFile = { version: 1; servers: Record<string, Credential> };

export function credentialsPath(configDir: string): string {
  return join(configDir, 'credentials.json');
}

export function loadCredentials(configDir: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(credentialsPath(configDir), 'utf8');
  } catch {
    return { version: 1, servers: {} };
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>;
    return { version: 1, servers: parsed.servers && typeof parsed.servers === 'object' ? parsed.servers : {} };
  } catch {
    throw new CliError(EXIT.auth, 'bad_credentials_file', `${credentialsPath(configDir)} is not valid JSON`);
  }
}

/** Stores (or with null, forgets) the credential for one server. The file is 0600, its directory 0700. */
export function saveCredential(configDir: string, url: string, cred: Credential | null): void {
  const file = loadCredentials(configDir);
  const key = serverKey(url);
  if (cred) file.servers[key] = cred;
  else if (key in file.servers) delete file.servers[key];
  else return;
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  chmodSync(configDir, 0o700);
  const path = credentialsPath(configDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The token to use: NATTER_TOKEN, else the stored one for this server. */
export function findToken(g: Globals): { token: string; source: 'env' | 'file'; cred: Credential | null } | null {
  const env = process.env.NATTER_TOKEN;
  if (env && env.trim() !== '') return { token: env.trim(), source: 'env', cred: null };
  const cred = loadCredentials(g.configDir).servers[serverKey(g.server)];
  return cred ? { token: cred.token, source: 'file', cred } : null;
}

// ---------------------------------------------------------------- input

/** All of stdin as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

let stdinLines: string[] | null = null;

/** The next line of stdin (read once, shared by the callers). */
async function stdinLine(what: string): Promise<string> {
  if (stdinLines === null) stdinLines = (await readStdin()).split(/\r?\n/);
  const line = stdinLines.shift();
  if (line === undefined || line === '') throw usageError(`no ${what} on stdin`);
  return line;
}

/** Reads a password without echo from the terminal. */
export function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    let value = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err: Error | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null);
        if (ch === '\u0003') return done(new CliError(130, 'interrupted', 'interrupted'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * Asks a yes-or-no question on the terminal (stderr), reading one line: true
 * for `y` or `yes`, false for anything else or the end of input; Ctrl-C
 * interrupts (exit 130).
 */
export async function askYes(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      rl.on('SIGINT', () => {
        process.stderr.write('\n');
        reject(new CliError(130, 'interrupted', 'interrupted'));
      });
      rl.on('close', () => resolve(false));
      rl.question(question, (answer) => resolve(/^\s*y(es)?\s*$/i.test(answer)));
    });
  } finally {
    rl.close();
  }
}

export type PasswordOptions = { passwordStdin?: boolean };

/**
 * A password from --password-stdin (one line per password asked), else
 * `envVar`, else a hidden prompt on a terminal; anything else is a usage error.
 */
export async function readPassword(
  opts: PasswordOptions,
  what: { prompt: string; envVar: string; confirm?: boolean },
): Promise<string> {
  if (opts.passwordStdin) return stdinLine('password');
  const env = process.env[what.envVar];
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) {
    throw usageError(`no password: give it with --password-stdin or ${what.envVar}, or run on a terminal`);
  }
  const pw = await promptHidden(`${what.prompt}: `);
  if (what.confirm) {
    const again = await promptHidden(`Repeat ${what.prompt.toLowerCase()}: `);
    if (again !== pw) throw usageError('the passwords do not match');
  }
  return pw;
}

// ---------------------------------------------------------------- output

/** Server text made safe for the terminal, on one line. */
export function clean(text: string | null | undefined): string {
  return text ? sanitize(text, { multiline: false }) : '';
}

/** Server text made safe for the terminal, newlines kept. */
export function cleanBlock(text: string): string {
  return sanitize(text, { multiline: true });
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A timestamp in local time: `2026-11-21 23:31`. */
export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `23:31:07` in local time. */
export function fmtClock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Columns aligned to the widest cell; cells are cleaned of control characters. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows.map((r) => r.map((c) => clean(c)))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  return all
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Warns on stderr when the caller already had a server or group named like
 * the one just made, `before` being what they had: the command succeeded, but
 * that name alone now matches several, so it says what to type for each.
 */
export function warnSameName(what: 'server' | 'group', made: Named, before: readonly Named[]): void {
  const same = sameNameWarning(what, made, before, { sigil: what === 'group' ? '+' : '', clean });
  if (same) process.stderr.write(`natter: warning: ${same.warning}; this one is ${same.name}\n`);
}

/** "10 min", "2 h", "3 days": a length of time in seconds as people say it. */
export function spanWords(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? '1 day' : `${seconds / 86_400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** `alice (Alice)` or `alice`. */
export function who(user: { username: string; displayName: string | null }): string {
  return user.displayName ? `${user.username} (${user.displayName})` : user.username;
}
