import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  /** Kills the server at once (no lame-duck mode: clients see the socket drop); resolves once it has exited. */
  stop(): Promise<void>;
  /** Stops it for good and removes its files. */
  dispose(): Promise<void>;
};

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
  const dir = mkdtempSync(join(tmpdir(), 'natter-nats-'));
  const config = join(dir, 'nats.conf');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\n${options.maxPayload ? `max_payload: ${options.maxPayload}\n` : ''}`,
  );
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const nats: TestNats = {
    port,
    url: `127.0.0.1:${port}`,
    async start() {
      if (child) return;
      let output = '';
      const proc = spawn(binary(), ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      proc.stderr?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      let failure: Error | null = null;
      proc.once('error', (err) => {
        failure = new Error(
          `the cluster suite needs nats-server (apt-get install nats-server, or NATTER_TEST_NATS_SERVER): ${err.message}`,
        );
      });
      exited = new Promise((resolve) => proc.once('close', () => resolve()));
      await waitFor(
        async () => {
          if (failure) throw failure;
          if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}:\n${output}`);
          return accepts(port);
        },
        { what: `nats-server to accept connections on port ${port}`, detail: () => output },
      );
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      child = null;
      proc.kill('SIGKILL');
      await within(exited, 'nats-server to exit');
    },
    async dispose() {
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.started !== false) await nats.start();
  return nats;
}
