import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatterClient } from '../../src/client/client.js';
import type { AnyEvent, EventData, EventName } from '../../src/protocol/index.js';
import { ServeProcess } from './serve-process.js';
import { LOOSE_LIMITS } from './server.js';
import { DEADLINE_MS, waitUntil } from './wait.js';

// Nodes of a cluster as real `natter serve` processes (dist/, built by
// `npm run pretest:cluster`) sharing one PostgreSQL database and one NATS
// server, and clients that record every event they receive.

const dirs: string[] = [];

/** A fresh directory that {@link removeClusterDirs} deletes. */
export function clusterDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-cluster-'));
  dirs.push(dir);
  return dir;
}

export function removeClusterDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A --limits file loose enough that a test's many registrations and sends from 127.0.0.1 are never throttled. */
function limitsFile(): string {
  const file = join(clusterDir(), 'limits.json');
  writeFileSync(file, JSON.stringify(LOOSE_LIMITS));
  return file;
}

export type ClusterNode = {
  proc: ServeProcess;
  port: number;
  wsUrl: string;
  httpUrl: string;
};

export type NodeOptions = {
  database: string;
  /** `host:port` of the NATS server. */
  nats: string;
  /** `--node-timeout` (default 5s, so a dead node's users go offline within the test's deadlines). */
  nodeTimeout?: string;
  /** `--media-dir`: the nodes of one cluster share it (startNodes gives them one); a fresh one by default. */
  mediaDir?: string;
  extra?: string[];
  /** More environment variables for the process (OTEL_*). */
  env?: Record<string, string>;
};

/** Starts one node and waits for its listening line. */
export async function startNode(options: NodeOptions): Promise<ClusterNode> {
  const proc = ServeProcess.spawn(
    [
      '--port',
      '0',
      '--tcp-port',
      '0',
      '--data',
      clusterDir(),
      '--database',
      options.database,
      '--bus',
      `nats://${options.nats}`,
      '--media-dir',
      options.mediaDir ?? clusterDir(),
      '--cluster',
      'test',
      '--node-timeout',
      options.nodeTimeout ?? '5s',
      '--limits',
      limitsFile(),
      ...(options.extra ?? []),
    ],
    options.env === undefined ? {} : { env: options.env },
  );
  const { port } = await proc.listening(60_000);
  return { proc, port, wsUrl: `ws://127.0.0.1:${port}`, httpUrl: `http://127.0.0.1:${port}` };
}

/** Starts `n` nodes at once on the same database and NATS. */
export function startNodes(n: number, options: NodeOptions): Promise<ClusterNode[]> {
  const shared = { ...options, mediaDir: options.mediaDir ?? clusterDir() };
  return Promise.all(Array.from({ length: n }, () => startNode(shared)));
}

/** A raw client (every event it receives is kept, duplicates included) and who it is. */
export type Peer = {
  client: NatterClient;
  events: AnyEvent[];
  userId: string;
  username: string;
  token: string;
  cursor: string;
  /** Resolves with the first event kept (now or later) that `match` accepts. */
  next<N extends EventName>(
    name: N,
    match?: (data: EventData<N>) => boolean,
    timeoutMs?: number,
  ): Promise<EventData<N>>;
};

/** Connects a raw client that records every event. */
export async function recordingClient(url: string): Promise<{ client: NatterClient; events: AnyEvent[] }> {
  const client = await NatterClient.connect(url, { timeoutMs: 30_000 });
  const events: AnyEvent[] = [];
  client.on('event', (msg) => {
    events.push(msg);
  });
  return { client, events };
}

function peerOf(client: NatterClient, events: AnyEvent[], who: Omit<Peer, 'client' | 'events' | 'next'>): Peer {
  return {
    client,
    events,
    ...who,
    next(name, match = () => true, timeoutMs = DEADLINE_MS) {
      return waitUntil(
        () => {
          const e = events.find((m) => m.event === name && match(m.data as EventData<typeof name>));
          return e ? (e.data as EventData<typeof name>) : undefined;
        },
        (wake) => client.once('event', wake),
        { what: `a ${name} event for ${who.username}`, timeoutMs, detail: () => JSON.stringify(events.slice(-5)) },
      );
    },
  };
}

/** Registers `username` on `url` and keeps the connection. */
export async function registerOn(url: string, username: string): Promise<Peer> {
  const { client, events } = await recordingClient(url);
  const res = await client.request('register', { username, password: 'correct horse battery' });
  return peerOf(client, events, { userId: res.user.id, username, token: res.token, cursor: res.cursor });
}

/** Authenticates with `token` on `url`, resuming after `cursor` when given. */
export async function authOn(url: string, who: Peer, cursor?: string): Promise<Peer> {
  const { client, events } = await recordingClient(url);
  const res = await client.request('auth', { token: who.token, ...(cursor === undefined ? {} : { cursor }) });
  return peerOf(client, events, { userId: who.userId, username: who.username, token: who.token, cursor: res.cursor });
}

/** The ids of the `message.created` events a client received, in order (duplicates kept). */
export function messageIds(events: readonly AnyEvent[]): string[] {
  const ids: string[] = [];
  for (const e of events) {
    if (e.event === 'message.created') ids.push((e.data as EventData<'message.created'>).message.id);
  }
  return ids;
}

/** Stored events' cursors a client received, as numbers, in order. */
export function cursors(events: readonly AnyEvent[]): number[] {
  return events.filter((e) => e.cursor !== undefined).map((e) => Number(e.cursor));
}

/** GET `path` on a node's HTTP side: the status (0 when the node does not answer). */
export async function httpStatus(node: ClusterNode, path: string): Promise<number> {
  try {
    const res = await fetch(`${node.httpUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
