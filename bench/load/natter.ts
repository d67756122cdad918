/**
 * The natter adapter: real accounts (registered over the protocol), real
 * server membership through invite codes, and WebSocket clients that
 * authenticate with their session token on the upgrade request.
 */
import { request } from 'node:http';
import WebSocket from 'ws';
import type { Adapter, BenchClient } from './adapter.js';
import { pool } from './measure.js';

export const BENCH_PASSWORD = 'bench-password-12345';

/** What the fixture step saved: a token per client, a channel per room. */
export type NatterFixture = { url: string; tokens: string[]; channels: string[]; servers: string[] };

const EVENT_PREFIX = Buffer.from('{"event":"message.created"');
const BODY_KEY = Buffer.from('"body":"');

/** A WebSocket that answers requests by id; the first `hello` event is awaited on open. */
class Rpc {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      if (data[2] !== 0x69 /* {"id" */) return;
      const msg = JSON.parse(data.toString()) as {
        id: number;
        result?: unknown;
        error?: { code: string; message: string };
      };
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(`${msg.error.code}: ${msg.error.message}`));
      else w.resolve(msg.result);
    });
    ws.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('connection closed'));
      this.waiting.clear();
    });
  }

  static open(url: string, token?: string): Promise<Rpc> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        perMessageDeflate: false,
        // The generator's own CPU is the scarce thing: the bodies are ASCII, as the parser below assumes.
        skipUTF8Validation: true,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      ws.once('message', () => resolve(new Rpc(ws))); // hello
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  call<T>(op: string, params?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, op, params }));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/**
 * Registers `clients` accounts; the first of every `roomSize` creates a
 * server (its `general` channel is the room) and an invite, the others join.
 */
export async function createFixture(url: string, clients: number, roomSize: number): Promise<NatterFixture> {
  const rooms = Math.ceil(clients / roomSize);
  const tokens: string[] = new Array(clients).fill('');
  const channels: string[] = new Array(rooms).fill('');
  const servers: string[] = new Array(rooms).fill('');
  const codes: string[] = new Array(rooms).fill('');
  const register = async (i: number) => {
    const rpc = await Rpc.open(url);
    const r = await rpc.call<{ token: string }>('register', {
      username: `b${i}`,
      password: BENCH_PASSWORD,
      client: 'natter-bench',
    });
    tokens[i] = r.token;
    return rpc;
  };
  const owners = Array.from({ length: rooms }, (_, k) => k * roomSize);
  await pool(owners, 8, async (i) => {
    const k = i / roomSize;
    const rpc = await register(i);
    const s = await rpc.call<{ server: { id: string }; channels: { id: string }[] }>('servers.create', {
      name: `room ${k}`,
    });
    servers[k] = s.server.id;
    channels[k] = s.channels[0]?.id ?? '';
    const inv = await rpc.call<{ invite: { code: string } }>('invites.create', { serverId: s.server.id });
    codes[k] = inv.invite.code;
    await rpc.close();
  });
  const others = Array.from({ length: clients }, (_, i) => i).filter((i) => i % roomSize !== 0);
  await pool(others, 8, async (i) => {
    const rpc = await register(i);
    const code = codes[Math.floor(i / roomSize)];
    await rpc.call('invites.join', { code }).catch((err: Error) => {
      throw new Error(`client ${i} joining room ${Math.floor(i / roomSize)} with "${code}": ${err.message}`);
    });
    await rpc.close();
  });
  return { url, tokens, channels, servers };
}

/**
 * natter's clients for the load generator. With `urls` (a cluster's nodes),
 * client i talks to `urls[i % urls.length]`.
 */
export function natterAdapter(fx: NatterFixture & { urls?: string[] }): Adapter {
  const urlOf = (i: number) => (fx.urls?.length ? (fx.urls[i % fx.urls.length] ?? fx.url) : fx.url);
  // A nonce is an idempotency key per user: a client that reconnects must not
  // reuse one, or natter (rightly) answers with the original and stores nothing.
  let connections = 0;
  return {
    name: 'natter',
    async open(i, room, onBody) {
      const token = fx.tokens[i];
      const channel = fx.channels[room];
      if (!token || !channel) throw new Error(`no fixture for client ${i} in room ${room}`);
      const rpc = await Rpc.open(urlOf(i), token);
      const ws = rpc.ws;
      // Replies to sends are not awaited (open loop): drop the request/reply listener.
      ws.removeAllListeners('message');
      ws.on('message', (data: Buffer) => {
        // Only message.created events; replies and other events are skipped unparsed.
        if (data.compare(EVENT_PREFIX, 0, EVENT_PREFIX.length, 0, EVENT_PREFIX.length) !== 0) return;
        const at = data.indexOf(BODY_KEY);
        if (at < 0) return;
        const start = at + BODY_KEY.length;
        onBody(data.toString('latin1', start, data.indexOf(0x22, start)));
      });
      let n = 0;
      const prefix = `{"op":"messages.send","params":{"conversationId":"${channel}","nonce":"${i}-${++connections}-`;
      const client: BenchClient = {
        send(body) {
          n++;
          ws.send(`{"id":${n},${prefix.slice(1)}${n}","body":"${body}"}}`);
        },
        close() {
          ws.terminate();
        },
      };
      return client;
    },
    async reconnect(i) {
      const rpc = await Rpc.open(urlOf(i), fx.tokens[i]);
      await rpc.close();
    },
    async login(i) {
      const rpc = await Rpc.open(urlOf(i));
      await rpc.call('login', { username: `b${i}`, password: BENCH_PASSWORD, client: 'natter-bench', presence: false });
      await rpc.close();
    },
    upload: (() => {
      const conns = new Map<number, Promise<Rpc>>();
      return async (i: number, bytes: Buffer) => {
        let rpc = conns.get(i);
        if (!rpc) {
          rpc = Rpc.open(urlOf(i), fx.tokens[i]);
          conns.set(i, rpc);
        }
        const slot = await (await rpc).call<{ upload: { url: string; token: string } }>('attachments.create', {
          name: 'bench.bin',
          size: bytes.length,
        });
        await put(new URL(slot.upload.url, urlOf(i).replace(/^ws/, 'http')), slot.upload.token, bytes);
      };
    })(),
    history: (() => {
      const conns = new Map<number, Promise<Rpc>>();
      return async (i: number, room: number, beforeSeq?: number) => {
        let rpc = conns.get(i);
        if (!rpc) {
          rpc = Rpc.open(urlOf(i), fx.tokens[i]);
          conns.set(i, rpc);
        }
        const params: Record<string, unknown> = { conversationId: fx.channels[room], limit: 50 };
        if (beforeSeq !== undefined) params.before = beforeSeq;
        const r = await (await rpc).call<{ messages: { seq: number }[] }>('messages.history', params);
        return r.messages[0]?.seq ?? 0;
      };
    })(),
  };
}

/** PUTs `bytes` to an upload URL with its token; rejects unless the server answers 200. */
function put(url: URL, token: string, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-length': bytes.length },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`upload answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}
