import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './nats.js';
import { within } from './wait.js';

const run = promisify(execFile);

/**
 * A PostgreSQL server of a test's own, which the test can stop and start
 * again on the same port: a new cluster made with initdb in a temporary
 * directory, trust authentication for `postgres` on 127.0.0.1 only.
 * NATTER_TEST_PG_BIN names the directory of initdb and pg_ctl (by default
 * the newest under /usr/lib/postgresql, where Debian puts them; else PATH). PostgreSQL refuses to run as
 * root, so a root test process runs them as the `postgres` user.
 */
export type OwnPostgres = {
  port: number;
  /** A URL for `postgres` on database `name`. */
  url(name: string): string;
  /** Starts the server (again); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it at once (`immediate`: connections are cut, as in a crash); resolves once it is down. */
  stop(): Promise<void>;
  /** Stops it for good and removes its files. */
  dispose(): Promise<void>;
};

function binDir(): string {
  const named = process.env.NATTER_TEST_PG_BIN;
  if (named) return named;
  // Debian keeps each major version's server programs off PATH, in /usr/lib/postgresql/<major>/bin: the newest.
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return majors[0] === undefined ? '' : join(root, majors[0], 'bin');
}

function tool(name: string): string {
  const path = join(binDir(), name);
  return existsSync(path) ? path : name;
}

const asRoot = process.getuid?.() === 0;

/** `argv` as the postgres user when this process is root. */
function asOwner(argv: string[]): string[] {
  return asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
}

async function exec(argv: string[]): Promise<void> {
  const [cmd, ...args] = asOwner(argv);
  try {
    await run(cmd ?? '', args, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${argv.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

export async function ownPostgres(): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'natter-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  await exec([tool('initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync']);
  const stopCommand = asOwner([tool('pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
  // When the test process ends, however it ends, its end of this pipe closes: the server goes with it.
  const watchdog: ChildProcess = spawn(
    'sh',
    ['-c', 'cat >/dev/null; "$@" >/dev/null 2>&1; rm -rf "$0"', dir, ...stopCommand],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  const watchdogExited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  let running = false;
  const own: OwnPostgres = {
    port,
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    async start() {
      if (running) return;
      await exec([tool('pg_ctl'), '-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '120', 'start']);
      running = true;
    },
    async stop() {
      if (!running) return;
      running = false;
      await exec([tool('pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async dispose() {
      watchdog.stdin?.end();
      await within(watchdogExited, 'the test PostgreSQL server to stop', 120_000);
    },
  };
  return own;
}

/** Creates database `name` on `server`. */
export async function createDatabase(server: OwnPostgres, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.url('postgres') });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}
