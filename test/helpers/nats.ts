import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, within } from './wait.js';

/**
 * A nats-server of a test's own (the Debian package's binary), on a port of
 * its own, that the test can stop and start again on the same port.
 * NATTER_TEST_NATS_SERVER names another binary.
 */
export type TestNats = {
  port: number;
  /** `127.0.0.1:<port>`, what a client is given. */
  url: string;
  /** Starts the server (again) on its port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills the server at once (SIGKILL: clients see the socket drop); resolves once it has exited. */
  stop(): Promise<void>;
  /** Stops it for good (its files go with it). */
  dispose(): Promise<void>;
};

/**
 * Runs the server (`$1`, with the config file in directory `$2`) under a
 * shell that kills it and removes the directory as soon as its standard input
 * closes: when `stop()` closes it, and when the test process ends however it
 * ends (a run cut short by its timeout is killed before any `after` runs).
 * An asynchronous list's input would be /dev/null, hence the copy on fd 3.
 */
const WATCHED =
  'exec 3<&0; "$1" -c "$2/nats.conf" </dev/null & s=$!; (cat <&3 >/dev/null; kill -9 "$s"; rm -rf "$2") 2>/dev/null & wait "$s"';

function binary(): string {
  const named = process.env.NATTER_TEST_NATS_SERVER;
  if (named) return named;
  // Debian installs it in /usr/sbin, which is not on every user's PATH.
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** A TCP port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A nats-server on a free port, not started until `start()` unless `started`. */
export async function testNats(options: { started?: boolean; maxPayload?: number } = {}): Promise<TestNats> {
  const port = await freePort();
  const config = `listen: 127.0.0.1:${port}\n${options.maxPayload ? `max_payload: ${options.maxPayload}\n` : ''}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const nats: TestNats = {
    port,
    url: `127.0.0.1:${port}`,
    async start() {
      if (child) return;
      let output = '';
      const dir = mkdtempSync(join(tmpdir(), 'natter-nats-'));
      writeFileSync(join(dir, 'nats.conf'), config);
      const proc = spawn('sh', ['-c', WATCHED, 'sh', binary(), dir], { stdio: ['pipe', 'ignore', 'pipe'] });
      child = proc;
      proc.stderr?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      await waitFor(
        async () => {
          if (proc.exitCode !== null) {
            throw new Error(
              `nats-server exited with ${proc.exitCode} (the cluster suite needs it: apt-get install nats-server, or NATTER_TEST_NATS_SERVER names it):\n${output}`,
            );
          }
          return accepts(port);
        },
        { what: `nats-server to accept connections on port ${port}`, detail: () => output },
      );
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      child = null;
      proc.stdin?.end();
      await within(exited, 'nats-server to exit');
    },
    dispose: () => nats.stop(),
  };
  if (options.started !== false) await nats.start();
  return nats;
}

/**
 * The NATS server a test file's natters share, started at the first call;
 * it is stopped after every other step of `cleanup` (the natters first).
 * Natters that share a database must share a bus.
 */
export function sharedBus(cleanup: (() => Promise<void>)[]): () => Promise<string> {
  let bus: Promise<TestNats> | null = null;
  return async () => {
    bus ??= testNats({ started: true }).then((nats) => {
      cleanup.unshift(() => nats.dispose());
      return nats;
    });
    return (await bus).url;
  };
}
